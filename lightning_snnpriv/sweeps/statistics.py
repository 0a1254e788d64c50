"""Claims decided by statistics: intervals over seeds, paired comparisons, Holm, verdicts.

Pure numpy/scipy. A sweep trains every setting with several seeds (each seed fixes the data
split, the membership plan and the initialization); these functions turn the per-seed metrics
into the numbers a claim needs:

* :func:`mean_interval`: the mean over seeds with a 95% t-interval (or a BCa bootstrap
  interval, better for skewed, bounded metrics such as TPR at low FPR over few seeds);
* :func:`paired_comparison`: the difference between two settings matched by seed and split
  (the same data and plan on both sides, so the difference is free of split-to-split noise),
  with its interval and the p-value of a paired t-test or a Wilcoxon signed-rank test;
* :func:`holm`: Holm's step-down correction over a family of comparisons (ANN vs SNN, each
  bit width vs full precision, ...) and :func:`decide`: each comparison's verdict ``lower``,
  ``higher`` or ``no significant difference`` at the corrected level;
* :func:`chance_floor`: an attack AUC below chance counts as chance on a Pareto front (a model
  does not become more private by an attack scoring 0.48 on noise), and points whose interval
  reaches chance are flagged.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from scipy import stats

__all__ = [
    "VERDICTS",
    "Comparison",
    "FrontPoint",
    "Interval",
    "chance_floor",
    "decide",
    "holm",
    "mean_interval",
    "paired_comparison",
]

Method = Literal["t", "bootstrap"]
Test = Literal["t", "wilcoxon"]
Verdict = Literal["lower", "higher", "no significant difference"]
#: The verdicts of :func:`decide`.
VERDICTS: tuple[Verdict, ...] = ("lower", "higher", "no significant difference")


@dataclass(frozen=True)
class Interval:
    """A mean over seeds with its confidence interval.

    Attributes:
        mean: The mean.
        low: Lower end (NaN with fewer than 2 values).
        high: Upper end.
        n: Number of values.
        sd: Sample standard deviation (``ddof = 1``; NaN for one value).
        method: ``t`` or ``bootstrap``.
        confidence: Level of the interval.
    """

    mean: float
    low: float
    high: float
    n: int
    sd: float
    method: Method
    confidence: float


def _values(values: Sequence[float], name: str = "values") -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence; got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite; got {array.tolist()}")
    return array


def mean_interval(
    values: Sequence[float],
    confidence: float = 0.95,
    method: Method = "t",
    resamples: int = 9999,
    seed: int = 0,
) -> Interval:
    """Mean of per-seed values with a t-interval or a BCa bootstrap interval.

    Args:
        values: One value per seed (e.g. the AUC of each seed's run).
        confidence: Level in ``(0, 1)``.
        method: ``t`` (Student's t, ``n - 1`` degrees of freedom) or ``bootstrap``
            (``scipy.stats.bootstrap``, BCa, of the mean).
        resamples: Bootstrap resamples.
        seed: Seed of the bootstrap.

    Returns:
        The :class:`Interval`; with one value its ends are NaN, with identical values both
        ends are the mean.

    Example:
        >>> i = mean_interval([0.52, 0.55, 0.50, 0.53, 0.54])
        >>> round(i.mean, 3), round(i.low, 3), round(i.high, 3)
        (0.528, 0.504, 0.552)
    """
    array = _values(values)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence}")
    n, mean = array.size, float(array.mean())
    sd = float(array.std(ddof=1)) if n > 1 else math.nan
    if n < 2:
        low = high = math.nan
    elif np.ptp(array) <= 1e-12 * max(np.abs(array).max(), 1e-300):
        low = high = mean  # identical values (up to rounding): no spread
    elif method == "t":
        half = stats.t.ppf((1 + confidence) / 2, n - 1) * sd / math.sqrt(n)
        low, high = mean - half, mean + half
    elif method == "bootstrap":
        result = stats.bootstrap(
            (array,),
            np.mean,
            confidence_level=confidence,
            n_resamples=resamples,
            method="BCa",
            random_state=np.random.default_rng(seed),
        )
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    else:
        raise ValueError(f"method must be 't' or 'bootstrap'; got {method!r}")
    return Interval(mean, float(low), float(high), n, sd, method, confidence)


@dataclass(frozen=True)
class Comparison:
    """One paired comparison: ``other`` minus ``baseline`` over matched seeds and splits.

    Attributes:
        name: What is compared (e.g. ``"SNN vs ANN"``).
        metric: The metric (e.g. ``"auc"``).
        baseline: Label of the baseline setting.
        other: Label of the other setting.
        n_pairs: Matched pairs.
        unmatched: Keys present on one side only (left out).
        difference: The mean difference ``other - baseline``, with its interval (unadjusted).
        p_value: Two-sided p-value of the test.
        test: ``t`` (paired t-test) or ``wilcoxon`` (signed-rank).
        p_adjusted: Holm-adjusted p-value within its family (None before :func:`decide`).
        verdict: ``lower``, ``higher`` or ``no significant difference`` (None before
            :func:`decide`): ``other`` compared with ``baseline``.
    """

    name: str
    metric: str
    baseline: str
    other: str
    n_pairs: int
    unmatched: int
    difference: Interval
    p_value: float
    test: Test
    p_adjusted: float | None = None
    verdict: Verdict | None = None


def paired_comparison(
    baseline: Mapping[Hashable, float],
    other: Mapping[Hashable, float],
    *,
    test: Test = "t",
    confidence: float = 0.95,
    name: str = "",
    metric: str = "",
    labels: tuple[str, str] = ("baseline", "other"),
) -> Comparison:
    """Compare two settings on the seeds (and data splits) they share.

    Args:
        baseline: Match key (e.g. ``(seed, split)``) -> metric of the baseline setting.
        other: The same for the other setting.
        test: ``t``: paired t-test (``scipy.stats.ttest_rel``) with its t-interval of the mean
            difference; ``wilcoxon``: signed-rank test (``scipy.stats.wilcoxon``) with a BCa
            bootstrap interval of the mean difference (no normality assumed).
        confidence: Level of the interval.
        name: What is compared, for tables.
        metric: The metric's name, for tables.
        labels: Names of the baseline and the other setting.

    Returns:
        The :class:`Comparison` (``p_adjusted`` and ``verdict`` are set by :func:`decide`).
        Identical pairs (every difference 0) give p-value 1, the same nonzero difference on
        every pair p-value 0.

    Raises:
        ValueError: With fewer than 2 matched pairs, or an unknown test.

    Example:
        >>> ann = {0: 0.60, 1: 0.58, 2: 0.63, 3: 0.61}
        >>> snn = {0: 0.55, 1: 0.54, 2: 0.57, 3: 0.56, 4: 0.50}  # seed 4 only on one side
        >>> c = paired_comparison(ann, snn, name="SNN vs ANN", metric="auc")
        >>> c.n_pairs, c.unmatched, round(c.difference.mean, 3), c.p_value < 0.01
        (4, 1, -0.05, True)
    """
    keys = [k for k in baseline if k in other]
    unmatched = len(set(baseline) ^ set(other))
    if len(keys) < 2:
        raise ValueError(
            f"a paired comparison needs >= 2 seeds/splits present on both sides; got {keys} "
            f"(baseline has {sorted(map(str, baseline))}, other {sorted(map(str, other))})"
        )
    a = _values([baseline[k] for k in keys], "baseline")
    b = _values([other[k] for k in keys], "other")
    diff = b - a
    if np.all(diff == 0):
        p = 1.0
        interval = mean_interval(diff, confidence)
    elif np.ptp(diff) <= 1e-12 * np.abs(diff).max():
        p = 0.0  # the same nonzero difference on every pair: the t statistic is infinite
        interval = mean_interval(diff, confidence)
    elif test == "t":
        p = float(stats.ttest_rel(b, a).pvalue)
        interval = mean_interval(diff, confidence, "t")
    elif test == "wilcoxon":
        p = float(stats.wilcoxon(diff).pvalue)
        interval = mean_interval(diff, confidence, "bootstrap")
    else:
        raise ValueError(f"test must be 't' or 'wilcoxon'; got {test!r}")
    return Comparison(
        name=name,
        metric=metric,
        baseline=labels[0],
        other=labels[1],
        n_pairs=len(keys),
        unmatched=unmatched,
        difference=interval,
        p_value=p,
        test=test,
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control, any dependence).

    The ``i``-th smallest p-value is multiplied by ``m - i`` (``i`` from 0), the running
    maximum is taken so the order is kept, and the result is capped at 1.

    Example:
        >>> [round(p, 6) for p in holm([0.01, 0.04, 0.03, 0.5])]
        [0.04, 0.09, 0.09, 0.5]
    """
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return []
    if ((p < 0) | (p > 1) | ~np.isfinite(p)).any():
        raise ValueError(f"p-values must lie in [0, 1]; got {p.tolist()}")
    order = np.argsort(p, kind="stable")
    scaled = np.maximum.accumulate(p[order] * (p.size - np.arange(p.size)))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(scaled, 1.0)
    return [float(x) for x in adjusted]


def decide(comparisons: Sequence[Comparison], alpha: float = 0.05) -> list[Comparison]:
    """Holm-correct a family of comparisons and give each its verdict.

    Args:
        comparisons: The family (e.g. every comparison a sweep's question asks, per metric).
        alpha: Family-wise significance level.

    Returns:
        The comparisons with ``p_adjusted`` and ``verdict``: ``lower`` / ``higher`` when the
        adjusted p-value is below ``alpha`` (by the sign of the mean difference ``other -
        baseline``), else ``no significant difference``.

    Example:
        >>> a = {s: 0.60 + 0.01 * s for s in range(5)}
        >>> far = paired_comparison(a, {s: v - 0.05 + 0.002 * (-1) ** s for s, v in a.items()})
        >>> same = paired_comparison(a, {s: v + 0.003 * (-1) ** s for s, v in a.items()})
        >>> [c.verdict for c in decide([far, same])]
        ['lower', 'no significant difference']
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha}")
    adjusted = holm([c.p_value for c in comparisons])
    out = []
    for c, p in zip(comparisons, adjusted, strict=True):
        if p < alpha and c.difference.mean != 0:
            verdict: Verdict = "higher" if c.difference.mean > 0 else "lower"
        else:
            verdict = "no significant difference"
        out.append(replace(c, p_adjusted=p, verdict=verdict))
    return out


@dataclass(frozen=True)
class FrontPoint:
    """An attack's leakage as a Pareto front uses it.

    Attributes:
        value: The mean AUC, or chance where the mean is below it.
        overlaps_chance: The interval reaches chance (``low <= chance``), or there is no
            interval (one seed): not shown to leak.
        below_chance: The whole interval lies below chance: the attack is worse than guessing,
            a sign of a biased attack or a mislabelled plan, not of privacy.
    """

    value: float
    overlaps_chance: bool
    below_chance: bool


def chance_floor(interval: Interval, chance: float = 0.5) -> FrontPoint:
    """Leakage of one setting for a Pareto front: an AUC below chance counts as chance.

    Example:
        >>> chance_floor(mean_interval([0.47, 0.48, 0.47, 0.48]))  # worse than guessing
        FrontPoint(value=0.5, overlaps_chance=True, below_chance=True)
        >>> chance_floor(mean_interval([0.60, 0.62, 0.61]))
        FrontPoint(value=0.61, overlaps_chance=False, below_chance=False)
    """
    known = math.isfinite(interval.low) and math.isfinite(interval.high)
    return FrontPoint(
        value=max(interval.mean, chance),
        overlaps_chance=not known or interval.low <= chance,
        below_chance=known and interval.high < chance,
    )
