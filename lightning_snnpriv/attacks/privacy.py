"""An empirical lower bound on epsilon from an attack's ROC curve (pure functions).

An (epsilon, delta)-DP training algorithm bounds every membership test (Kairouz et al. 2015):
at any threshold, ``TPR <= exp(eps) * FPR + delta`` and ``1 - FPR <= exp(eps) * (1 - TPR) +
delta``. An attack that reaches ``(TPR, FPR)`` therefore shows

    eps >= max(log((TPR - delta) / FPR), log((1 - FPR - delta) / (1 - TPR))).

The rates are estimates from finitely many members and non-members, so (as Jagielski et al.
2020 and Nasr et al. 2021) they are replaced by one-sided Clopper-Pearson bounds: the lower
bound of the TPR and the upper bound of the FPR. Every ROC threshold is tried, and the
threshold giving the largest bound is chosen on the same scores, so the confidence is
Bonferroni-corrected over the thresholds tried: each of the ``2 K`` one-sided bounds (TPR and
FPR at ``K`` thresholds) has level ``alpha / (2 K)``, and with probability at least
``1 - alpha`` all hold at once, so the reported bound holds at ``1 - alpha`` (95% by default).

The trials are the audited samples of a model; they share that model's training run, which a
strict audit (one canary per training run) would not. The bound is therefore an estimate of
the leakage the attack demonstrates, not a certificate; on DP runs it must stay below the
accountant's epsilon (``tests/attacks/test_privacy.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import beta

#: Confidence of the reported bound.
CONFIDENCE = 0.95


def clopper_pearson(
    successes: np.ndarray, trials: int, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided exact binomial bounds, each at level ``alpha``: ``(lower, upper)``.

    ``lower`` is 0 where there are no successes, ``upper`` is 1 where all trials succeed.

    Example:
        >>> low, high = clopper_pearson(np.array([0, 5, 10]), 10, 0.025)
        >>> low.round(4).tolist(), high.round(4).tolist()
        ([0.0, 0.1871, 0.6915], [0.3085, 0.8129, 1.0])
    """
    k = np.asarray(successes, dtype=float)
    with np.errstate(invalid="ignore"):
        lower = np.where(k > 0, beta.ppf(alpha, k, trials - k + 1), 0.0)
        upper = np.where(k < trials, beta.ppf(1 - alpha, k + 1, trials - k), 1.0)
    return lower, upper


def epsilon_from_rates(tpr: Any, fpr: Any, delta: float) -> np.ndarray:
    """The largest epsilon that rates ``(tpr, fpr)`` rule out at ``delta`` (0 if none).

    Both inequalities of (epsilon, delta)-DP are used: ``log((TPR - delta) / FPR)`` and
    ``log((1 - FPR - delta) / (1 - TPR))``; a ratio that is not positive bounds nothing.

    Example:
        >>> epsilon_from_rates([0.5, 0.9], [0.05, 0.5], 0.0).round(4).tolist()
        [2.3026, 1.6094]
        >>> float(epsilon_from_rates(0.3, 0.3, 1e-5))
        0.0
    """
    tpr, fpr = np.asarray(tpr, dtype=float), np.asarray(fpr, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = np.where(tpr - delta > 0, np.log((tpr - delta) / fpr), 0.0)
        mirror = np.where(1 - fpr - delta > 0, np.log((1 - fpr - delta) / (1 - tpr)), 0.0)
    return np.maximum(np.maximum(direct, mirror), 0.0)


@dataclass(frozen=True)
class EpsilonBound:
    """The empirical epsilon lower bound of one ROC curve, and where it was reached.

    Attributes:
        epsilon: The lower bound (0 when the attack demonstrates nothing).
        delta: The delta it is computed at.
        confidence: Its confidence level.
        thresholds: Number of thresholds tried (the Bonferroni factor).
        tpr: TPR of the threshold that gives the bound.
        fpr: FPR of that threshold.
        tpr_low: The TPR's Clopper-Pearson lower bound used.
        fpr_high: The FPR's Clopper-Pearson upper bound used.
        method: How the intervals were corrected for the threshold choice.
    """

    epsilon: float
    delta: float
    confidence: float
    thresholds: int
    tpr: float
    fpr: float
    tpr_low: float
    fpr_high: float
    method: str = "clopper-pearson, bonferroni over thresholds"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return asdict(self)


def epsilon_lower_bound(
    fpr: Sequence[float],
    tpr: Sequence[float],
    n_members: int,
    n_nonmembers: int,
    delta: float,
    confidence: float = CONFIDENCE,
) -> EpsilonBound:
    """The largest epsilon an attack's ROC curve demonstrates at ``confidence``.

    Args:
        fpr: ROC curve FPRs (one point per threshold; ``(0, 0)`` and ``(1, 1)`` included or
            not: they bound nothing and are not counted as thresholds).
        tpr: The matching TPRs.
        n_members: Members scored (the TPR's denominator).
        n_nonmembers: Non-members scored (the FPR's denominator).
        delta: The delta of the guarantee tested.
        confidence: Probability that the bound holds (all intervals at once).

    Example:
        >>> bound = epsilon_lower_bound([0.0, 0.0, 1.0], [0.0, 1.0, 1.0], 1000, 1000, 1e-5)
        >>> round(bound.epsilon, 2), bound.thresholds
        (5.6, 1)
    """
    tp = np.rint(np.asarray(tpr, dtype=float) * n_members)
    fp = np.rint(np.asarray(fpr, dtype=float) * n_nonmembers)
    inner = ~(((tp == 0) & (fp == 0)) | ((tp == n_members) & (fp == n_nonmembers)))
    tp, fp = tp[inner], fp[inner]
    thresholds = max(len(tp), 1)
    alpha = (1 - confidence) / (2 * thresholds)
    tpr_low, _ = clopper_pearson(tp, n_members, alpha)
    _, fpr_high = clopper_pearson(fp, n_nonmembers, alpha)
    eps = epsilon_from_rates(tpr_low, fpr_high, delta)
    if not len(eps):
        return EpsilonBound(0.0, delta, confidence, thresholds, 0.0, 0.0, 0.0, 1.0)
    best = int(np.argmax(eps))
    return EpsilonBound(
        epsilon=float(eps[best]),
        delta=delta,
        confidence=confidence,
        thresholds=thresholds,
        tpr=float(tp[best] / n_members),
        fpr=float(fp[best] / n_nonmembers),
        tpr_low=float(tpr_low[best]),
        fpr_high=float(fpr_high[best]),
    )
