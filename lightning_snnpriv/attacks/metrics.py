"""Attack metrics from membership scores: ROC AUC, TPR at low FPR, advantage, bootstrap CIs.

One ROC path: scores are binned by distinct value (:func:`torch.unique`), members and
non-members are counted (or weighted, for bootstrap replicates) per bin, and the curve is
the cumulative counts from the highest score down, divided in float64. The metrics of the
scores themselves are the same computation with unit weights; ``tests/attacks`` checks it
against scikit-learn's ``roc_curve`` and ``roc_auc_score``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "DEFAULT_FPR_TARGETS",
    "AttackMetrics",
    "bootstrap_metrics",
    "evaluate",
    "roc_curve",
    "tpr_at_fpr",
]

#: FPR budgets reported by default (Carlini et al. 2022 ask for the low-FPR regime).
DEFAULT_FPR_TARGETS: tuple[float, ...] = (1e-2, 1e-3, 1e-4, 0.0)

#: Largest ``replicates x samples`` block the bootstrap holds in memory at once.
_MAX_BLOCK = 1 << 22

#: The resampling unit of the stratified bootstrap (no clusters given).
STRATIFIED_UNIT = "sample (stratified by membership)"


@dataclass(frozen=True)
class AttackMetrics:
    """Metrics of one attack on one target.

    Attributes:
        auc: Area under the ROC curve (trapezoidal, so ties count one half), in float64.
        tpr_at_fpr: Target FPR -> (TPR, FPR actually reached) at the best threshold whose FPR
            does not exceed the target.
        balanced_accuracy: Max over thresholds of ``1 - (FPR + FNR) / 2``.
        advantage: Max over thresholds of ``TPR - FPR`` (membership advantage).
        n_members: Number of members scored.
        n_nonmembers: Number of non-members scored.
        fpr: ROC curve FPRs, one point per distinct score plus ``(0, 0)``.
        tpr: ROC curve TPRs, matching ``fpr``.
        ci: Bootstrap confidence intervals, or None without bootstrap: ``{"auc": (low, high),
            "tpr_at_fpr": {target: (low, high)}, "size": replicates, "confidence": level,
            "seed": seed, "unit": what was resampled}``.
    """

    auc: float
    tpr_at_fpr: dict[float, tuple[float, float]]
    balanced_accuracy: float
    advantage: float
    n_members: int
    n_nonmembers: int
    fpr: list[float] = field(repr=False)
    tpr: list[float] = field(repr=False)
    ci: dict[str, Any] | None = None

    def to_dict(self, include_curve: bool = False) -> dict[str, Any]:
        """Return a JSON-friendly dict.

        Args:
            include_curve: Also include the ROC curve (``fpr`` and ``tpr`` lists).

        Returns:
            The metrics; ``tpr_at_fpr`` as a list of ``{"fpr_target", "tpr", "fpr"}`` records
            (with ``"tpr_ci": [low, high]`` under bootstrap, and ``"auc_ci"`` and
            ``"bootstrap"`` (size, confidence, seed, unit) at the top level).
        """
        points = []
        for target, (tpr, fpr) in self.tpr_at_fpr.items():
            point: dict[str, Any] = {"fpr_target": target, "tpr": tpr, "fpr": fpr}
            if self.ci is not None:
                point["tpr_ci"] = list(self.ci["tpr_at_fpr"][target])
            points.append(point)
        out: dict[str, Any] = {
            "auc": self.auc,
            "tpr_at_fpr": points,
            "balanced_accuracy": self.balanced_accuracy,
            "advantage": self.advantage,
            "n_members": self.n_members,
            "n_nonmembers": self.n_nonmembers,
        }
        if self.ci is not None:
            out["auc_ci"] = list(self.ci["auc"])
            out["bootstrap"] = {k: self.ci[k] for k in ("size", "confidence", "seed", "unit")}
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


def _bins(scores: Tensor) -> tuple[Tensor, int]:
    """Index of each score's distinct value, in ascending order, and the number of values."""
    distinct, inverse = torch.unique(scores.detach().cpu(), return_inverse=True)
    return inverse, len(distinct)


def _counts(bins: Tensor, num_bins: int, weights: Tensor) -> Tensor:
    """``[B, num_bins]`` sum of each replicate's ``weights [B, n]`` per score bin."""
    out = torch.zeros(weights.shape[0], num_bins, dtype=torch.float64)
    return out.scatter_add_(1, bins.expand_as(weights), weights)


def _roc_from_counts(members: Tensor, nonmembers: Tensor) -> tuple[Tensor, Tensor]:
    """ROC points from per-bin member and non-member counts: the one ROC path.

    Args:
        members: ``[B, K]`` members (or their bootstrap weight) per distinct score, scores in
            ascending order.
        nonmembers: ``[B, K]`` the same for non-members.

    Returns:
        ``(fpr, tpr)``, ``[B, K + 1]`` float64, from ``(0, 0)`` (above the highest score) to
        ``(1, 1)``; integer counts stay exact, so a perfect attack has AUC exactly 1.
    """
    zero = torch.zeros(members.shape[0], 1, dtype=torch.float64)
    true_pos = torch.cat([zero, members.flip(1).cumsum(1)], dim=1)
    false_pos = torch.cat([zero, nonmembers.flip(1).cumsum(1)], dim=1)
    return false_pos / false_pos[:, -1:], true_pos / true_pos[:, -1:]


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
    _check(scores, is_member)
    bins, num_bins = _bins(scores)
    member = is_member.cpu().double().unsqueeze(0)
    fpr, tpr = _roc_from_counts(
        _counts(bins, num_bins, member), _counts(bins, num_bins, 1.0 - member)
    )
    return fpr[0], tpr[0]


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


def _multiplicities(num: int, size: int, generator: torch.Generator) -> Tensor:
    """``[size, num]``: how often each of ``num`` units is drawn in each of ``size`` resamples."""
    draw = torch.randint(num, (size, num), generator=generator)
    return torch.zeros(size, num, dtype=torch.float64).scatter_add_(
        1, draw, torch.ones(size, num, dtype=torch.float64)
    )


def _cluster_ids(clusters: Mapping[str, Tensor], n: int) -> list[tuple[Tensor, int]]:
    """Each factor's cluster ids as ``0 .. C - 1`` with its number of clusters ``C``."""
    if not clusters:
        raise ValueError("clusters must name at least one factor, e.g. {'sample': ids}")
    out = []
    for name, ids in clusters.items():
        ids = torch.as_tensor(ids).cpu()
        if ids.shape != (n,) or ids.dtype not in (torch.int32, torch.int64):
            raise ValueError(
                f"clusters[{name!r}] must be an integer tensor of shape [{n}] (one id per "
                f"score); got shape {tuple(ids.shape)}, dtype {ids.dtype}"
            )
        distinct, inverse = torch.unique(ids, return_inverse=True)
        out.append((inverse, len(distinct)))
    return out


def bootstrap_metrics(
    scores: Tensor,
    is_member: Tensor,
    fpr_targets: Sequence[float],
    size: int = 200,
    seed: int = 0,
    clusters: Mapping[str, Tensor] | None = None,
) -> tuple[Tensor, Tensor]:
    """AUC and TPR at FPR of ``size`` bootstrap replicates, vectorized.

    Without ``clusters`` each replicate draws the members and the non-members with
    replacement, each group keeping its size (so every replicate has both): right when the
    scores are independent given the model (one target). With ``clusters`` (e.g. ``{"target":
    t, "sample": i}`` for scores pooled over targets) the units of every factor are drawn with
    replacement independently and each score weighs the product of its units' multiplicities
    (the two-way "pigeonhole" bootstrap of Owen 2007, mildly conservative): pooled scores reuse
    the same pool samples in every target and share each target's training randomness, so a
    bootstrap over scores as if independent gives intervals that are too narrow. A replicate
    that draws no member or no non-member is left out of the intervals.

    Args:
        scores: Membership scores ``[n]``.
        is_member: ``[n]`` bool.
        fpr_targets: FPR budgets.
        size: Number of replicates (>= 1).
        seed: Seed of the resampling (a ``torch.Generator``).
        clusters: Factor name -> ``[n]`` integer cluster id of every score, or None.

    Returns:
        ``(auc [size], tpr [size, len(fpr_targets)])``, float64; NaN for a replicate without
        members or non-members.

    Example:
        >>> auc, tpr = bootstrap_metrics(torch.tensor([3.0, 2.0, 1.0, 0.0]),
        ...                              torch.tensor([True, True, False, False]), (0.0,), size=5)
        >>> auc.tolist(), tpr[:, 0].tolist()
        ([1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0])
    """
    n_members, n_nonmembers = _check(scores, is_member)
    if size < 1:
        raise ValueError(f"bootstrap size must be >= 1; got {size}")
    bins, num_bins = _bins(scores)
    member = is_member.cpu()
    factors = None if clusters is None else _cluster_ids(clusters, member.numel())
    generator = torch.Generator().manual_seed(seed)
    budgets = torch.tensor([float(f) for f in fpr_targets], dtype=torch.float64)
    chunk = max(1, _MAX_BLOCK // max(num_bins, member.numel()))
    aucs, tprs = [], []
    for start in range(0, size, chunk):
        b = min(chunk, size - start)
        if factors is None:  # stratified: count the draws of each group per score bin
            counts = []
            for group, n in ((bins[member], n_members), (bins[~member], n_nonmembers)):
                draw = group[torch.randint(n, (b, n), generator=generator)]
                counts.append(_counts(draw, num_bins, torch.ones(b, n, dtype=torch.float64)))
        else:
            weight = torch.ones(b, member.numel(), dtype=torch.float64)
            for ids, num in factors:
                weight = weight * _multiplicities(num, b, generator)[:, ids]
            counts = [
                _counts(bins, num_bins, weight * member),
                _counts(bins, num_bins, weight * ~member),
            ]
        fpr, tpr = _roc_from_counts(*counts)
        aucs.append(torch.trapezoid(tpr, fpr, dim=1))
        ok = fpr.unsqueeze(1) <= budgets[None, :, None]  # [b, targets, K + 1]
        best = torch.where(ok, tpr.unsqueeze(1), -1.0).amax(2).clamp(min=0.0)
        empty = ~(torch.isfinite(fpr[:, -1]) & torch.isfinite(tpr[:, -1]))
        tprs.append(best.masked_fill(empty.unsqueeze(1), torch.nan))
    return torch.cat(aucs), torch.cat(tprs).reshape(size, len(budgets))


def _interval(values: Tensor, confidence: float) -> tuple[float, float]:
    """Percentile interval of bootstrap ``values`` (linear interpolation, as numpy).

    Replicates without members or non-members (NaN) are left out.
    """
    alpha = (1.0 - confidence) / 2.0
    q = torch.nanquantile(values, torch.tensor([alpha, 1.0 - alpha], dtype=values.dtype))
    return float(q[0]), float(q[1])


def evaluate(
    scores: Tensor,
    is_member: Tensor,
    fpr_targets: Sequence[float] = DEFAULT_FPR_TARGETS,
    bootstrap: int = 0,
    seed: int = 0,
    confidence: float = 0.95,
    clusters: Mapping[str, Tensor] | None = None,
) -> AttackMetrics:
    """Metrics of membership scores against the truth.

    Args:
        scores: Membership scores ``[n]`` of the audited samples, higher = more likely a member.
        is_member: ``[n]`` bool, True for members.
        fpr_targets: FPR budgets for the TPR-at-low-FPR metrics. A budget in ``(0, 1/n_out)``
            cannot be resolved with ``n_out`` non-members: a warning is issued (the value
            reported equals the TPR at 0 FPR).
        bootstrap: Number of bootstrap replicates for confidence intervals on the AUC and
            each TPR at FPR (0: none); see :func:`bootstrap_metrics`.
        seed: Seed of the bootstrap.
        confidence: Level of the percentile intervals, in ``(0, 1)``.
        clusters: The resampling units of the bootstrap when the scores are not independent:
            factor name -> ``[n]`` integer cluster id of each score (e.g. ``{"target": t,
            "sample": i}`` for scores pooled over targets); None: the stratified bootstrap
            over scores. The record's ``ci["unit"]`` says which (``"target x sample"``).

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
    fpr, tpr = roc_curve(scores, is_member)
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
    ci = None
    if bootstrap:
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must lie in (0, 1); got {confidence}")
        boot_auc, boot_tpr = bootstrap_metrics(
            scores, is_member, list(at_fpr), bootstrap, seed, clusters
        )
        if torch.isnan(boot_auc).all():
            raise ValueError("no bootstrap replicate drew both members and non-members")
        ci = {
            "auc": _interval(boot_auc, confidence),
            "tpr_at_fpr": {
                budget: _interval(boot_tpr[:, i], confidence) for i, budget in enumerate(at_fpr)
            },
            "size": bootstrap,
            "confidence": confidence,
            "seed": seed,
            "unit": STRATIFIED_UNIT if clusters is None else " x ".join(clusters),
        }
    return AttackMetrics(
        auc=auc,
        tpr_at_fpr=at_fpr,
        balanced_accuracy=(1.0 + advantage) / 2.0,
        advantage=advantage,
        n_members=n_members,
        n_nonmembers=n_nonmembers,
        fpr=fpr.tolist(),
        tpr=tpr.tolist(),
        ci=ci,
    )
