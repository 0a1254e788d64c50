"""Attack metrics from membership scores: ROC AUC, TPR at low FPR, advantage."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torchmetrics.functional.classification import binary_roc

__all__ = ["AttackMetrics", "evaluate", "roc_curve", "tpr_at_fpr"]


@dataclass(frozen=True)
class AttackMetrics:
    """Metrics of one attack on one target.

    Attributes:
        auc: Area under the ROC curve (trapezoidal, so ties count one half), computed in
            float64 on the curve of torchmetrics' ``binary_roc`` (its ``binary_auroc`` is
            float32: a perfect attack would score 0.99999994).
        tpr_at_fpr: Target FPR -> (TPR, FPR actually reached) at the best threshold whose FPR
            does not exceed the target.
        balanced_accuracy: Max over thresholds of ``1 - (FPR + FNR) / 2``.
        advantage: Max over thresholds of ``TPR - FPR`` (membership advantage).
        n_members: Number of members scored.
        n_nonmembers: Number of non-members scored.
        fpr: ROC curve FPRs, one point per distinct score plus ``(0, 0)``.
        tpr: ROC curve TPRs, matching ``fpr``.
    """

    auc: float
    tpr_at_fpr: dict[float, tuple[float, float]]
    balanced_accuracy: float
    advantage: float
    n_members: int
    n_nonmembers: int
    fpr: list[float] = field(repr=False)
    tpr: list[float] = field(repr=False)

    def to_dict(self, include_curve: bool = False) -> dict[str, Any]:
        """Return a JSON-friendly dict.

        Args:
            include_curve: Also include the ROC curve (``fpr`` and ``tpr`` lists).

        Returns:
            The metrics; ``tpr_at_fpr`` as a list of ``{"fpr_target", "tpr", "fpr"}`` records.
        """
        out: dict[str, Any] = {
            "auc": self.auc,
            "tpr_at_fpr": [
                {"fpr_target": target, "tpr": tpr, "fpr": fpr}
                for target, (tpr, fpr) in self.tpr_at_fpr.items()
            ],
            "balanced_accuracy": self.balanced_accuracy,
            "advantage": self.advantage,
            "n_members": self.n_members,
            "n_nonmembers": self.n_nonmembers,
        }
        if include_curve:
            out["fpr"] = list(self.fpr)
            out["tpr"] = list(self.tpr)
        return out


def _check(scores: Tensor, is_member: Tensor) -> tuple[int, int]:
    """Validate scores and membership labels; return (n_members, n_nonmembers)."""
    if scores.dim() != 1 or not torch.is_floating_point(scores):
        raise ValueError(
            f"scores must be a 1-D floating tensor; got shape {tuple(scores.shape)}, "
            f"dtype {scores.dtype}"
        )
    if is_member.dtype != torch.bool or is_member.shape != scores.shape:
        raise ValueError(
            f"is_member must be a bool tensor shaped like scores {tuple(scores.shape)}; got "
            f"shape {tuple(is_member.shape)}, dtype {is_member.dtype}"
        )
    if torch.isnan(scores).any():
        raise ValueError(f"scores contain {int(torch.isnan(scores).sum())} NaN values")
    n_members = int(is_member.sum())
    n_nonmembers = is_member.numel() - n_members
    if n_members == 0 or n_nonmembers == 0:
        raise ValueError(
            "attack metrics need both members and non-members; got "
            f"{n_members} members and {n_nonmembers} non-members"
        )
    return n_members, n_nonmembers


def _ranks(scores: Tensor) -> Tensor:
    """Dense ranks scaled to [0, 1] (float64): same order and ties as ``scores``.

    torchmetrics applies a sigmoid to scores outside [0, 1], which would merge large scores
    into artificial ties in float32; ranks avoid that.
    """
    distinct, inverse = torch.unique(scores, return_inverse=True)
    return inverse.double() / max(len(distinct) - 1, 1)


def roc_curve(scores: Tensor, is_member: Tensor) -> tuple[Tensor, Tensor]:
    """ROC curve with one point per distinct score, starting at ``(0, 0)``.

    Args:
        scores: Membership scores ``[n]``, higher = more likely a member.
        is_member: ``[n]`` bool.

    Returns:
        ``(fpr, tpr)``, float64 tensors, non-decreasing, ending at ``(1, 1)``.

    Example:
        >>> fpr, tpr = roc_curve(torch.tensor([0.9, 0.5, 0.5, 0.1]),
        ...                      torch.tensor([True, True, False, False]))
        >>> fpr.tolist(), tpr.tolist()
        ([0.0, 0.0, 0.5, 1.0], [0.0, 0.5, 1.0, 1.0])
    """
    return _exact_roc(scores, is_member, *_check(scores, is_member))


def _exact_roc(
    scores: Tensor, is_member: Tensor, n_members: int, n_nonmembers: int
) -> tuple[Tensor, Tensor]:
    """ROC points of torchmetrics' ``binary_roc``, as exact float64 count ratios on the CPU.

    ``binary_roc`` returns float32 rates; they are turned back into the integer counts of
    true and false positives (exact below 2**23 samples) and divided in float64, so that a
    perfect attack has AUC exactly 1 and an FPR of 1/100 compares ``<=`` 0.01.
    """
    fpr32, tpr32, _ = binary_roc(_ranks(scores.detach()), is_member.long())
    false_pos = torch.round(fpr32.double().cpu() * n_nonmembers)
    true_pos = torch.round(tpr32.double().cpu() * n_members)
    return false_pos / n_nonmembers, true_pos / n_members


def tpr_at_fpr(fpr: Tensor, tpr: Tensor, target: float) -> tuple[float, float]:
    """Highest TPR among ROC points whose FPR is at most ``target``.

    Uses ``<=``, so ``target = 0`` gives the TPR reached without any false positive.

    Args:
        fpr: ROC FPRs ``[P]``.
        tpr: ROC TPRs ``[P]``.
        target: FPR budget in ``[0, 1]``.

    Returns:
        ``(tpr, realized_fpr)``: the realized FPR is the lowest FPR at which that TPR is
        reached; ``(0.0, 0.0)`` if no point qualifies.

    Example:
        >>> tpr_at_fpr(torch.tensor([0.0, 0.0, 0.5, 1.0]), torch.tensor([0.0, 0.5, 1.0, 1.0]), 0.0)
        (0.5, 0.0)
    """
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"FPR target must lie in [0, 1]; got {target}")
    ok = fpr <= target
    if not ok.any():
        return 0.0, 0.0
    best = tpr[ok].max()
    realized = fpr[ok & (tpr == best)].min()
    return float(best), float(realized)


def evaluate(
    scores: Tensor,
    is_member: Tensor,
    fpr_targets: Sequence[float] = (1e-2, 1e-3),
) -> AttackMetrics:
    """Metrics of membership scores against the truth.

    Args:
        scores: Membership scores ``[n]`` of the audited samples, higher = more likely a member.
        is_member: ``[n]`` bool, True for members.
        fpr_targets: FPR budgets for the TPR-at-low-FPR metrics. A budget in ``(0, 1/n_out)``
            cannot be resolved with ``n_out`` non-members: a warning is issued (the value
            reported equals the TPR at 0 FPR).

    Returns:
        The metrics, including the ROC curve.

    Raises:
        ValueError: On NaN scores, wrong shapes or dtypes, or without members or non-members.

    Example:
        >>> m = evaluate(torch.tensor([3.0, 2.0, 2.0, 0.0]),
        ...              torch.tensor([True, True, False, False]), fpr_targets=(0.5,))
        >>> m.auc, m.tpr_at_fpr, m.advantage
        (0.875, {0.5: (1.0, 0.5)}, 0.5)
    """
    n_members, n_nonmembers = _check(scores, is_member)
    fpr, tpr = _exact_roc(scores, is_member, n_members, n_nonmembers)
    auc = float(torch.trapezoid(tpr, fpr))
    at_fpr: dict[float, tuple[float, float]] = {}
    for budget in fpr_targets:
        budget = float(budget)
        if 0.0 < budget < 1.0 / n_nonmembers:
            warnings.warn(
                f"FPR target {budget:g} is below 1/{n_nonmembers} non-members and cannot be "
                "measured; the TPR reported is the TPR at 0 FPR",
                stacklevel=2,
            )
        at_fpr[budget] = tpr_at_fpr(fpr, tpr, budget)
    advantage = float((tpr - fpr).max())
    return AttackMetrics(
        auc=auc,
        tpr_at_fpr=at_fpr,
        balanced_accuracy=(1.0 + advantage) / 2.0,
        advantage=advantage,
        n_members=n_members,
        n_nonmembers=n_nonmembers,
        fpr=fpr.tolist(),
        tpr=tpr.tolist(),
    )
