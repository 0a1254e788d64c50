"""The likelihood-ratio attack (LiRA) of Carlini et al. (2022), online and offline."""

from __future__ import annotations

import math
from typing import Literal, get_args

import torch
from torch import Tensor

from lightning_snnpriv.attacks.base import Attack, AttackInputs, AttackOutput
from lightning_snnpriv.attacks.reference import (
    LIRA_SCHEME_FIX,
    as_float64,
    check_reference_counts,
    equal_reference_counts,
    reference_models,
    require_references,
)
from lightning_snnpriv.attacks.signals import logit_scaled_confidence
from lightning_snnpriv.errors import ConfigError

__all__ = ["LiRAAttack", "gaussian_stats", "lira_scores"]

Center = Literal["mean", "median"]

#: Variance floor: a constant phi across reference models would otherwise divide by zero.
MIN_VARIANCE = 1e-12


def gaussian_stats(
    phi: Tensor, mask: Tensor, fix_variance: bool, center: Center = "median"
) -> tuple[Tensor, Tensor, Tensor]:
    """Per-sample Gaussian fit of ``phi`` over the reference models selected by ``mask``.

    Args:
        phi: ``[K, N]`` signal of the ``K`` reference models on the ``N`` samples (float64).
        mask: ``[K, N]`` bool: which (model, sample) values enter the fit.
        fix_variance: One variance for all samples: the pooled within-sample variance
            ``sum (phi - mu_x)^2 / sum count`` over all selected values (Carlini et al.'s
            "global variance"), instead of each sample's own variance.
        center: ``mean`` or ``median`` (as LiRA's reference code) of each sample's values;
            the variance is always around the mean (``ddof = 0``, as ``np.std``).

    Returns:
        ``(mu [N], var [N], count [N])``; NaN where a sample has no selected value.

    Example:
        >>> phi = torch.tensor([[1.0, 0.0], [3.0, 2.0], [5.0, 9.0]], dtype=torch.float64)
        >>> mu, var, n = gaussian_stats(phi, torch.ones(3, 2, dtype=torch.bool), False, "mean")
        >>> mu.tolist(), [round(v, 4) for v in var.tolist()], n.tolist()
        ([3.0, 3.6666666666666665], [2.6667, 14.8889], [3, 3])
    """
    count = mask.sum(0)
    denom = count.clamp(min=1).to(phi.dtype)
    masked = torch.where(mask, phi, torch.zeros((), dtype=phi.dtype))
    mean = masked.sum(0) / denom
    if center == "median":
        # median of the selected values: sort with NaN for unselected (NaNs sort last)
        values = torch.where(mask, phi, torch.full((), math.nan, dtype=phi.dtype))
        ordered = values.sort(0).values
        lo = ((count - 1).clamp(min=0) // 2).unsqueeze(0)
        hi = (count // 2).clamp(max=phi.shape[0] - 1).unsqueeze(0)
        mu = (ordered.gather(0, lo) + ordered.gather(0, hi)).squeeze(0) / 2
    elif center == "mean":
        mu = mean
    else:
        raise ValueError(f"center must be one of {get_args(Center)}; got {center!r}")
    sq = torch.where(mask, (phi - mean) ** 2, torch.zeros((), dtype=phi.dtype))
    if fix_variance:
        var = (sq.sum() / count.sum().clamp(min=1)).expand_as(mean).clone()
    else:
        var = sq.sum(0) / denom
    var = var.clamp(min=MIN_VARIANCE)
    empty = count == 0
    mu = mu.masked_fill(empty, math.nan)
    var = var.masked_fill(empty, math.nan)
    return mu, var, count


def _log_normal_pdf(x: Tensor, mu: Tensor, var: Tensor) -> Tensor:
    """``log N(x; mu, var)``."""
    return -0.5 * (math.log(2 * math.pi) + torch.log(var) + (x - mu) ** 2 / var)


def lira_scores(
    target_phi: Tensor,
    reference_phi: Tensor,
    reference_keep: Tensor,
    *,
    online: bool = True,
    fix_variance: bool = False,
    center: Center = "median",
    audited: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """LiRA membership scores from the logit-scaled confidence phi.

    * online: ``log N(phi; mu_in, s_in^2) - log N(phi; mu_out, s_out^2)``, the log likelihood
      ratio of the IN and OUT Gaussians of each sample.
    * offline: the paper's one-sided test ``P[Z < phi]``, ``Z ~ N(mu_out, s_out^2)``, returned
      as ``-log P[Z >= phi] = -log_ndtr(-(phi - mu_out) / s_out)``: the same order as
      ``P[Z < phi]``, but it does not saturate at 1.0 (ties) for the most member-like samples,
      which are the ones that decide the TPR at low FPR.

    Every sample's Gaussians are fitted on the same number of IN and of OUT references
    (:func:`~lightning_snnpriv.attacks.reference.equal_reference_counts`, as LiRA's reference
    code): with unequal counts the fit's quality, hence the score, would depend on the very
    membership being inferred (in a leave-one-out audit a member has one IN reference fewer).

    Args:
        target_phi: ``[N]`` phi of the audited model.
        reference_phi: ``[K, N]`` phi of the reference models.
        reference_keep: ``[K, N]`` bool: True where the reference model trained on the sample
            (IN); False is OUT.
        online: Use IN and OUT references (online) or OUT only (offline).
        fix_variance: One global variance per Gaussian instead of one per sample.
        center: Estimate each Gaussian's mean by the ``mean`` or the ``median``.
        audited: ``[N]`` bool, the samples whose scores count; their least IN and OUT counts
            are the counts every sample is cut to (None: all samples).

    Returns:
        ``(scores [N] float64, n_in [N], n_out [N])``: the IN and OUT references used per
        sample; NaN where a sample lacks references.

    Example:
        >>> phi_ref = torch.tensor([[4.0, 0.0], [5.0, 0.5], [0.0, 4.0], [1.0, 5.0]])
        >>> keep = torch.tensor([[True, False], [True, False], [False, True], [False, True]])
        >>> s, _, _ = lira_scores(torch.tensor([4.5, 0.25]), phi_ref, keep, center="mean")
        >>> bool(s[0] > 0), bool(s[1] < 0)  # like its IN models, like its OUT models
        (True, True)
    """
    phi = as_float64(reference_phi)
    x = as_float64(target_phi)
    keep = reference_keep.cpu()
    if audited is None:
        audited = torch.ones(keep.shape[1], dtype=torch.bool)
    use_in, use_out, _, _ = equal_reference_counts(keep, audited, need_in=online)
    mu_out, var_out, n_out = gaussian_stats(phi, use_out, fix_variance, center)
    if online:
        mu_in, var_in, n_in = gaussian_stats(phi, use_in, fix_variance, center)
        scores = _log_normal_pdf(x, mu_in, var_in) - _log_normal_pdf(x, mu_out, var_out)
    else:
        n_in = use_in.sum(0)
        scores = -torch.special.log_ndtr(-(x - mu_out) / var_out.sqrt())
    return scores, n_in, n_out


class LiRAAttack(Attack):
    """Likelihood-ratio attack of Carlini et al. (2022) on phi = logit-scaled confidence.

    Every model except the audited one is a reference model; for each sample, the reference
    models that trained on it (IN) and those that did not (OUT) give two Gaussians of phi,
    each fitted on the same number of references for every sample.
    See :func:`lira_scores` for the scores. The attack's name is ``lira_online`` or
    ``lira_offline``, with ``_fixvar`` appended for a fixed variance.

    Args:
        online: Online (IN and OUT Gaussians) or offline (OUT only).
        fix_variance: One global variance per Gaussian (better with few, < 64, references).
        center: Each Gaussian's mean: ``median`` (as LiRA's reference code) or ``mean``.
        min_references: Minimum IN (online) and OUT references per audited sample; at least 2
            for a per-sample variance.

    Raises:
        ConfigError: On bad settings, or (when scoring) when an audited sample lacks IN or OUT
            references: online LiRA needs a plan in which every sample is IN for some reference
            models and OUT for others (the ``lira`` scheme); with the ``shokri`` scheme the
            references never see the target's samples, so only offline LiRA works.
    """

    requires_shadows = True

    def __init__(
        self,
        online: bool = True,
        fix_variance: bool = False,
        center: Center = "median",
        min_references: int = 1,
    ) -> None:
        for key, value in (("online", online), ("fix_variance", fix_variance)):
            if not isinstance(value, bool):
                raise ConfigError(f"LiRAAttack {key} must be true or false; got {value!r}")
        if center not in get_args(Center):
            raise ConfigError(
                f"LiRAAttack center must be one of {list(get_args(Center))}; got {center!r}"
            )
        if isinstance(min_references, bool) or not isinstance(min_references, int):
            raise ConfigError(f"LiRAAttack min_references must be an int; got {min_references!r}")
        if min_references < 1:
            raise ConfigError(f"LiRAAttack min_references must be >= 1; got {min_references}")
        self.online = online
        self.fix_variance = fix_variance
        self.center: Center = center
        self.min_references = min_references
        mode = "online" if online else "offline"
        self.name = f"lira_{mode}" + ("_fixvar" if fix_variance else "")

    def check_plan(self, keep: Tensor, audit: Tensor, target: int = 0) -> None:
        """Refuse a plan without enough IN (online) and OUT references per audited sample."""
        needed = max(self.min_references, 1 if self.fix_variance else 2)
        check_reference_counts(keep, audit, target, self.name, needed, self.online)

    def score(self, inputs: AttackInputs, target: int = 0) -> AttackOutput:
        """Score every pool sample for membership in model ``target``.

        Args:
            inputs: Outputs of all models, labels, keep and audit matrices.
            target: Index of the audited model; all others are reference models.

        Returns:
            Scores ``[N]`` (float64; NaN only for unaudited samples without references) and
            ``info`` with the number of reference models and the IN/OUT counts every audited
            sample's fit uses (``min_in``, ``min_out``: the least counts over audited samples,
            to which every sample is cut).

        Raises:
            ConfigError: When there is no reference model, or an audited sample has fewer
                IN (online) or OUT references than needed (``min_references``, and 2 for a
                per-sample variance).
        """
        refs = reference_models(inputs, target)
        if not refs:
            raise ConfigError(
                f"attack {self.name!r} needs reference (shadow) models; the run has one model. "
                "Set data.init_args.num_shadows >= 1 (the lira scheme with >= 15 is typical)."
            )
        # float64 like the other signals: phi of confident samples keeps its precision
        phi = logit_scaled_confidence(as_float64(inputs.logits), inputs.labels)
        audited = inputs.audit[target].cpu()
        scores, n_in, n_out = lira_scores(
            phi[target],
            phi[refs],
            inputs.keep[refs],
            online=self.online,
            fix_variance=self.fix_variance,
            center=self.center,
            audited=audited,
        )
        needed = max(self.min_references, 1 if self.fix_variance else 2)
        require_references(n_out, needed, audited, self.name, "OUT", LIRA_SCHEME_FIX)
        if self.online:
            require_references(n_in, needed, audited, self.name, "IN", LIRA_SCHEME_FIX)
        info = {
            "num_references": len(refs),
            "min_out": int(n_out[audited].min()) if audited.any() else 0,
        }
        if self.online:
            info["min_in"] = int(n_in[audited].min()) if audited.any() else 0
        return AttackOutput(scores, info)
