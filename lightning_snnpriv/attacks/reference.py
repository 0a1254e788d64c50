"""Helpers shared by the reference-model attacks (LiRA, RMIA, Attack-R): who is IN or OUT."""

from __future__ import annotations

import torch
from torch import Tensor

from lightning_snnpriv.attacks.base import AttackInputs
from lightning_snnpriv.errors import ConfigError

__all__ = [
    "check_reference_counts",
    "equal_reference_counts",
    "reference_models",
    "require_references",
]


def reference_models(inputs: AttackInputs, target: int) -> list[int]:
    """Every model except ``target``: the reference (shadow) models of a leave-one-out audit.

    Example:
        >>> flags = torch.zeros(3, 1, dtype=torch.bool)
        >>> inputs = AttackInputs(torch.zeros(3, 1, 2), torch.zeros(1, dtype=torch.long),
        ...                       flags, ~flags)
        >>> reference_models(inputs, 1)
        [0, 2]
    """
    inputs.check_target(target)
    return [m for m in range(inputs.num_models) if m != target]


def equal_reference_counts(
    reference_keep: Tensor,
    audited: Tensor,
    need_in: bool = True,
    available: Tensor | None = None,
) -> tuple[Tensor, Tensor, int, int]:
    """Select the same number of IN and of OUT reference models for every sample.

    In a leave-one-out audit with the ``lira`` scheme each sample is IN for half of all
    models, so among the other models a member of the audited model has one IN reference fewer
    and one OUT more than a non-member: any per-sample statistic of the references (LiRA's
    Gaussians, RMIA's ``Pr(x)``, Attack-R's fraction, the Shokri attack's training pairs) would
    then differ between members and non-members for a reason that has nothing to do with
    leakage. As LiRA's reference code does, every sample keeps its first ``n_in`` IN and first
    ``n_out`` OUT references (in model order), with ``n_in`` and ``n_out`` the least counts over
    the audited samples; the models are exchangeable, so which ones are dropped carries no
    information.

    Args:
        reference_keep: ``[K, N]`` bool, True where the reference model trained on the sample.
        audited: ``[N]`` bool, the samples whose scores are evaluated (they set the counts).
        need_in: Keep IN references too (online attacks); False keeps none (offline).
        available: ``[K, N]`` bool, the (reference, sample) pairs that may be used (None: all;
            the Shokri attack uses only the pairs each shadow audits).

    Returns:
        ``(use_in [K, N], use_out [K, N], n_in, n_out)``: the selected IN and OUT references
        and their counts (every audited sample has exactly ``n_in`` and ``n_out``; unaudited
        samples at most that many).

    Example:
        >>> keep = torch.tensor([[True, False], [True, True], [False, True], [False, False]])
        >>> use_in, use_out, n_in, n_out = equal_reference_counts(keep, torch.ones(2, dtype=bool))
        >>> use_in.sum(0).tolist(), use_out.sum(0).tolist(), n_in, n_out
        ([2, 2], [2, 2], 2, 2)
        >>> keep = torch.tensor([[True, False], [False, True], [False, True]])  # 1 IN / 2 IN
        >>> use_in, use_out, _, _ = equal_reference_counts(keep, torch.ones(2, dtype=bool))
        >>> use_in.int().tolist(), use_out.int().tolist()
        ([[1, 0], [0, 1], [0, 0]], [[0, 1], [1, 0], [0, 0]])
    """
    keep = reference_keep.cpu()
    audited = audited.cpu()
    usable = torch.ones_like(keep) if available is None else available.cpu()

    def first(mask: Tensor) -> tuple[Tensor, int]:
        counts = mask.sum(0)
        n = int(counts[audited].min()) if audited.any() else 0
        return mask & (mask.cumsum(0) <= n), n

    use_out, n_out = first(~keep & usable)
    if not need_in:
        return torch.zeros_like(keep), use_out, 0, n_out
    use_in, n_in = first(keep & usable)
    return use_in, use_out, n_in, n_out


def require_references(
    count: Tensor, needed: int, audited: Tensor, attack: str, what: str, fix: str
) -> None:
    """Raise :class:`ConfigError` unless every audited sample has ``needed`` reference models.

    Args:
        count: ``[N]`` number of reference models of the right kind (IN or OUT) per sample.
        needed: Minimum count.
        audited: ``[N]`` bool: the samples whose scores are evaluated.
        attack: Attack name for the message.
        what: ``"IN"`` or ``"OUT"``.
        fix: What the user can do about it.
    """
    short = audited & (count < needed)
    if short.any():
        first = int(short.nonzero()[0])
        raise ConfigError(
            f"attack {attack!r} needs at least {needed} reference model(s) with each audited "
            f"sample {what}, but {int(short.sum())} audited samples have fewer (the first is "
            f"pool sample {first}, {what} for {int(count[first])}). {fix}"
        )


def check_reference_counts(
    keep: Tensor, audit: Tensor, target: int, attack: str, needed: int, need_in: bool
) -> None:
    """Raise :class:`ConfigError` unless each audited sample of ``target`` has ``needed`` OUT
    (and, if ``need_in``, IN) reference models among the other models of the plan.
    """  # noqa: D205
    others = [m for m in range(keep.shape[0]) if m != target]
    if not others:
        raise ConfigError(
            f"attack {attack!r} needs reference (shadow) models; the run has one model. "
            "Set data.init_args.num_shadows >= 1."
        )
    ref_keep = keep[others]
    audited = audit[target]
    require_references((~ref_keep).sum(0), needed, audited, attack, "OUT", LIRA_SCHEME_FIX)
    if need_in:
        require_references(ref_keep.sum(0), needed, audited, attack, "IN", LIRA_SCHEME_FIX)


#: The fix to suggest when reference models lack IN or OUT samples.
LIRA_SCHEME_FIX = (
    "Use data.init_args.scheme=lira (each sample IN for half of the models) with enough models "
    "(data.init_args.num_shadows), or an offline attack (online needs IN references, which the "
    "shokri and paper schemes never give for the target's samples)."
)


def as_float64(values: Tensor) -> Tensor:
    """``values`` as float64 on the CPU (reference statistics are computed in double)."""
    return values.detach().to(device="cpu", dtype=torch.float64)
