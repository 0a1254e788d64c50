"""The robust membership-inference attack (RMIA) of Zarifzadeh et al. (2024)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

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
from lightning_snnpriv.attacks.signals import true_label_confidence
from lightning_snnpriv.errors import ConfigError

__all__ = ["RMIAAttack", "pairwise_fraction", "rmia_marginal", "rmia_scores", "tune_offline_a"]

#: Values of ``a`` tried when tuning (the authors' grid is similar: 0 to 1).
A_GRID: tuple[float, ...] = tuple(i / 10 for i in range(11))

#: Largest ``chunk x population`` block of likelihood ratios held in memory at once.
MAX_BLOCK = 1 << 22


def rmia_marginal(
    reference_p: Tensor,
    reference_keep: Tensor,
    *,
    online: bool,
    a: float,
    audited: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """``Pr(x)``, the probability of each sample averaged over the reference models.

    * online: ``(mean_IN p_y + mean_OUT p_y) / 2`` (half IN, half OUT, whatever the counts);
    * offline: ``((1 + a) * mean_OUT p_y + (1 - a)) / 2``, the authors' linear approximation of
      the unseen IN models from the OUT ones.

    Every sample's means are over the same number of IN and of OUT references
    (:func:`~lightning_snnpriv.attacks.reference.equal_reference_counts`): in a leave-one-out
    audit a member would otherwise average one IN reference fewer than a non-member, and the
    noise of ``Pr(x)``, hence the spread of its scores, would depend on its membership.

    Args:
        reference_p: ``[K, N]`` true-label probabilities of the reference models (float64).
        reference_keep: ``[K, N]`` bool, True where the reference model trained on the sample.
        online: Online (IN and OUT references) or offline (OUT only).
        a: Offline approximation parameter in ``[0, 1]``.
        audited: ``[N]`` bool, the samples whose least IN and OUT counts every sample is cut
            to (None: all samples).

    Returns:
        ``(pr_x [N], n_in [N], n_out [N])`` with the references used per sample; NaN where
        needed references are missing.

    Example:
        >>> p = torch.tensor([[0.9], [0.5]], dtype=torch.float64)
        >>> keep = torch.tensor([[True], [False]])
        >>> rmia_marginal(p, keep, online=True, a=0.3)[0].tolist()
        [0.7]
        >>> round(rmia_marginal(p, keep, online=False, a=0.3)[0].item(), 6)
        0.675
    """
    keep = reference_keep.cpu()
    if audited is None:
        audited = torch.ones(keep.shape[1], dtype=torch.bool)
    use_in, use_out, _, _ = equal_reference_counts(keep, audited, need_in=online)
    n_in, n_out = use_in.sum(0), use_out.sum(0)
    zero = torch.zeros((), dtype=reference_p.dtype)
    mean_out = torch.where(use_out, reference_p, zero).sum(0) / n_out
    if online:
        mean_in = torch.where(use_in, reference_p, zero).sum(0) / n_in
        return (mean_in + mean_out) / 2, n_in, n_out
    return ((1 + a) * mean_out + (1 - a)) / 2, n_in, n_out


def pairwise_fraction(
    ratio_x: Tensor, ratio_z: Tensor, gamma: float, left_out: Tensor | None = None
) -> Tensor:
    """For each x, the fraction of z with ``ratio_x[x] / ratio_z[z] > gamma``; ties by ratio.

    Strict, as the authors' code and LeakPro (a pair with ``LR`` exactly ``gamma`` counts one
    half, as a tie counts in the AUC). The population z are non-members of the audited model,
    so a non-member candidate is usually one of them and must not be compared with itself;
    so that members and non-members are scored alike, every candidate is compared with
    ``Z - 1`` of the z: a z candidate with the others, any other candidate with all but the
    ``left_out`` one. Under no leakage members and non-members then have the same score
    distribution, per target and pooled over targets (a member compared with all ``Z`` could
    score above every non-member, who can never beat itself: pooled over targets that adds
    about ``1/Z`` to the TPR at every FPR).

    Fractions of ``Z - 1`` tie: the most member-like non-member dominates every other z and
    would tie with a member that dominates everything (TPR at FPR 0 would be 0 however much
    the model leaks). Equal fractions are therefore ordered by the candidate's own ratio
    ``Pr(x|theta) / Pr(x)``, mapped below half a step: the score is ``(2 * hits + g) / (2 (Z
    - 1) + 1)`` with ``hits`` the (half-)count and ``g = ratio / (1 + ratio)`` in ``[0, 1)``.

    Computed block by block (at most :data:`MAX_BLOCK` ratios at once), so memory stays
    bounded for large pools.

    Args:
        ratio_x: ``[N]`` ``Pr(x|theta) / Pr(x)``.
        ratio_z: ``[Z]`` ``Pr(z|theta) / Pr(z)`` of the population samples (``Z >= 2``).
        gamma: Likelihood-ratio threshold, ``> 0``.
        left_out: ``[N]`` long: the index into z of the one z each candidate is not compared
            with (the candidate itself if it is a z); None: the last z for every candidate.

    Returns:
        ``[N]`` float64 scores in ``[0, 1)``, ordered by the fraction, then by the ratio.

    Example:
        >>> ratio = torch.tensor([1.0, 2.0, 4.0, 8.0])  # candidates; the first three are the z
        >>> scores = pairwise_fraction(ratio, ratio[:3], 1.0, torch.tensor([0, 1, 2, 2]))
        >>> [round(float(s), 3) for s in scores]  # the member (8.0) above the top z (4.0)
        [0.1, 0.533, 0.96, 0.978]
    """
    if not gamma > 0:
        raise ValueError(f"gamma must be > 0; got {gamma}")
    num_z = ratio_z.numel()
    if num_z < 2:
        raise ValueError(f"RMIA needs at least 2 population samples; got {num_z}")
    if left_out is None:
        left_out = torch.full((ratio_x.numel(),), num_z - 1, dtype=torch.long)
    chunk = max(1, MAX_BLOCK // num_z)
    halves = []
    for start in range(0, ratio_x.numel(), chunk):
        lr = ratio_x[start : start + chunk, None] / ratio_z[None, :]
        halves.append(2 * (lr > gamma).sum(1) + (lr == gamma).sum(1))
    count = torch.cat(halves).double() if halves else torch.zeros(0, dtype=torch.float64)
    lr_out = ratio_x / ratio_z[left_out]
    count = count - 2 * (lr_out > gamma).double() - (lr_out == gamma).double()
    tie_break = torch.nan_to_num(ratio_x / (1 + ratio_x), nan=0.0, posinf=1.0)
    tie_break = tie_break.clamp(max=1 - torch.finfo(torch.float64).eps)
    return (count + tie_break) / (2 * (num_z - 1) + 1)


def rmia_scores(
    target_p: Tensor,
    reference_p: Tensor,
    reference_keep: Tensor,
    population: Tensor,
    *,
    online: bool,
    a: float = 0.3,
    gamma: float = 1.0,
    audited: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """RMIA scores: for each x, the fraction of population z with ``LR(x, z) > gamma``.

    Each candidate is compared with ``Z - 1`` population samples (never with itself), and
    equal fractions are ordered by the candidate's ratio (:func:`pairwise_fraction`).

    ``LR(x, z) = (Pr(x|theta) / Pr(x)) / (Pr(z|theta) / Pr(z))`` with ``Pr(.|theta)`` the
    audited model's true-label probability and ``Pr(.)`` from :func:`rmia_marginal`; see
    :func:`pairwise_fraction` for the strict inequality and the pair of a candidate with
    itself.

    Args:
        target_p: ``[N]`` true-label probability of the audited model.
        reference_p: ``[K, N]`` true-label probabilities of the reference models.
        reference_keep: ``[K, N]`` bool, IN/OUT of each reference model.
        population: ``[Z]`` long: pool indices of the population samples z (non-members of
            the audited model), sorted; a candidate that is not among them is not compared
            with the last one.
        online: Online (IN and OUT references) or offline (OUT only, with ``a``).
        a: Offline approximation parameter in ``[0, 1]``.
        gamma: Likelihood-ratio threshold (> 0; 1 or 2 in the paper's configs).
        audited: ``[N]`` bool, the audited samples (they set the reference counts, see
            :func:`rmia_marginal`; None: all samples).

    Returns:
        ``(scores [N] float64, n_in [N], n_out [N])``.
    """
    p_target = as_float64(target_p)
    pr_x, n_in, n_out = rmia_marginal(
        as_float64(reference_p), reference_keep, online=online, a=a, audited=audited
    )
    ratio = p_target / pr_x
    population = population.cpu()
    left_out = torch.full((ratio.numel(),), population.numel() - 1, dtype=torch.long)
    left_out[population] = torch.arange(population.numel())
    scores = pairwise_fraction(ratio, ratio[population], gamma, left_out)
    return scores, n_in, n_out


def _auc(scores: Tensor, is_member: Tensor) -> float:
    """AUC from the project's exact metric (imported lazily to keep import order simple)."""
    from lightning_snnpriv.attacks.metrics import evaluate

    return evaluate(scores, is_member, fpr_targets=()).auc


def tune_offline_a(
    p: Tensor,
    keep: Tensor,
    audit: Tensor,
    references: Sequence[int],
    population_size: int | None,
    gamma: float,
    seed: int,
    grid: Sequence[float] = A_GRID,
) -> tuple[float, dict[float, float]]:
    """Tune offline RMIA's ``a`` as the authors do: attack one reference model with the others.

    The first reference model plays the target; the remaining references are its references;
    the ``a`` with the highest AUC on that model's audited samples wins (ties: the smallest).

    Args:
        p: ``[M, N]`` true-label probabilities of all models.
        keep: ``[M, N]`` IN/OUT.
        audit: ``[M, N]`` audited samples.
        references: The reference models of the real audit (the target is not among them).
        population_size: Population size (None: all non-members of the stand-in target).
        gamma: Likelihood-ratio threshold.
        seed: Seed of the population draw.
        grid: Values of ``a`` to try.

    Returns:
        ``(best a, {a: AUC})``.

    Raises:
        ConfigError: With fewer than 2 reference models.
    """
    if len(references) < 2:
        raise ConfigError(
            "RMIAAttack a='tune' needs at least 2 reference models (one plays the target); "
            "give a number for a (0.3 in the authors' configs) or train more shadows."
        )
    stand_in, others = references[0], list(references[1:])
    audited = audit[stand_in]
    population = draw_population(keep[stand_in], audited, population_size, seed)
    aucs = {}
    for a in grid:
        scores, _, n_out = rmia_scores(
            p[stand_in],
            p[others],
            keep[others],
            population,
            online=False,
            a=a,
            gamma=gamma,
            audited=audited,
        )
        usable = audited & (n_out > 0)
        aucs[float(a)] = _auc(scores[usable], keep[stand_in][usable])
    best = max(aucs, key=lambda k: (aucs[k], -k))
    return best, aucs


def draw_population(keep: Tensor, audit: Tensor, size: int | None, seed: int) -> Tensor:
    """Seeded draw of ``size`` population samples among the audited non-members of a model.

    Args:
        keep: ``[N]`` bool, the model's members.
        audit: ``[N]`` bool, the model's audited samples.
        size: How many (None or more than available: all of them, in pool order).
        seed: Seed of the draw.

    Returns:
        ``[Z]`` sorted pool indices.

    Example:
        >>> draw_population(torch.tensor([True, False, False]), torch.ones(3, dtype=torch.bool),
        ...                 None, 0).tolist()
        [1, 2]
    """
    candidates = (audit.cpu() & ~keep.cpu()).nonzero().squeeze(1)
    if size is None or size >= candidates.numel():
        return candidates
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(candidates.numel(), generator=generator)[:size]
    return candidates[chosen].sort().values


class RMIAAttack(Attack):
    """RMIA (Zarifzadeh et al. 2024): pairwise likelihood ratios against population samples.

    ``Pr(x|theta)`` is the audited model's true-label probability ``p_y``; the reference models
    are all other models. The population z is drawn (seeded) from the audited model's
    non-members in the pool; each sample's ``Pr(x)`` is averaged over the same number of IN
    and OUT references. The attack's name is ``rmia_online`` or ``rmia_offline``.

    Args:
        online: Online (references IN and OUT for each sample; the default, as for
            :class:`~lightning_snnpriv.attacks.lira.LiRAAttack`: the short names ``rmia`` and
            ``lira`` are both the online attack) or offline (OUT only).
        a: Offline only: the approximation parameter in ``[0, 1]`` (0.3 in the authors'
            configs), or ``"tune"`` to pick it from a grid by attacking one reference model
            with the others (recorded in the results' ``info``).
        gamma: Threshold on the pairwise likelihood ratio (> 0; 1 or 2 in the paper): a
            candidate counts the z it dominates by more than ``gamma``.
        num_population: Number of population samples z, >= 2 (None: all non-members of the
            target).
        seed: Seed of the population draw.

    Raises:
        ConfigError: On bad settings, or (when scoring) when an audited sample lacks OUT
            references (or IN references, online).
    """

    requires_shadows = True

    def __init__(
        self,
        online: bool = True,
        a: float | Literal["tune"] = 0.3,
        gamma: float = 1.0,
        num_population: int | None = None,
        seed: int = 0,
    ) -> None:
        if not isinstance(online, bool):
            raise ConfigError(f"RMIAAttack online must be true or false; got {online!r}")
        if a != "tune" and (
            isinstance(a, bool) or not isinstance(a, int | float) or not 0 <= a <= 1
        ):
            raise ConfigError(f"RMIAAttack a must be a number in [0, 1] or 'tune'; got {a!r}")
        if isinstance(gamma, bool) or not isinstance(gamma, int | float) or not gamma > 0:
            raise ConfigError(f"RMIAAttack gamma must be a number > 0; got {gamma!r}")
        if num_population is not None and (
            isinstance(num_population, bool)
            or not isinstance(num_population, int)
            or num_population < 2
        ):
            raise ConfigError(
                f"RMIAAttack num_population must be an int >= 2 or null; got {num_population!r}"
            )
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"RMIAAttack seed must be an int; got {seed!r}")
        self.online = online
        self.a = a if a == "tune" else float(a)
        self.gamma = float(gamma)
        self.num_population = num_population
        self.seed = seed
        self.name = f"rmia_{'online' if online else 'offline'}"

    def check_plan(self, keep: Tensor, audit: Tensor, target: int = 0) -> None:
        """Refuse a plan without OUT (and, online, IN) references for an audited sample."""
        check_reference_counts(keep, audit, target, self.name, 1, self.online)

    def score(self, inputs: AttackInputs, target: int = 0) -> AttackOutput:
        """Score every pool sample for membership in model ``target``.

        Args:
            inputs: Outputs of all models, labels, keep and audit matrices.
            target: Index of the audited model; all others are reference models.

        Returns:
            Scores ``[N]`` and ``info`` (population size, ``a`` used, tuning AUCs).

        Raises:
            ConfigError: Without reference models, or when audited samples lack IN/OUT ones.
        """
        refs = reference_models(inputs, target)
        if not refs:
            raise ConfigError(
                f"attack {self.name!r} needs reference (shadow) models; the run has one model. "
                "Set data.init_args.num_shadows >= 1."
            )
        p = true_label_confidence(inputs.logits.double(), inputs.labels).cpu()
        keep, audit = inputs.keep.cpu(), inputs.audit.cpu()
        info: dict = {"num_references": len(refs)}
        a = 0.0 if self.online else self.a
        if not self.online and self.a == "tune":
            a, aucs = tune_offline_a(
                p, keep, audit, refs, self.num_population, self.gamma, self.seed
            )
            info["tuned_a"] = a
            info["tuning_auc"] = {f"{k:g}": v for k, v in aucs.items()}
        population = draw_population(keep[target], audit[target], self.num_population, self.seed)
        scores, n_in, n_out = rmia_scores(
            p[target],
            p[refs],
            keep[refs],
            population,
            online=self.online,
            a=a,
            gamma=self.gamma,
            audited=audit[target],
        )
        require_references(n_out, 1, audit[target], self.name, "OUT", LIRA_SCHEME_FIX)
        if self.online:
            require_references(n_in, 1, audit[target], self.name, "IN", LIRA_SCHEME_FIX)
        info["num_population"] = int(population.numel())
        info["a"] = a
        return AttackOutput(scores, info)
