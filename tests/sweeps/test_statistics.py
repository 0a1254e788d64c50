"""Intervals, paired comparisons, Holm and verdicts: right with planted effects and with none."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from lightning_snnpriv.sweeps.statistics import (
    VERDICTS,
    chance_floor,
    decide,
    holm,
    mean_interval,
    paired_comparison,
)


def _binomial_ok(hits: int, trials: int, p: float, z: float = 4.0) -> bool:
    return abs(hits - trials * p) <= z * math.sqrt(trials * p * (1 - p))


def test_t_interval_is_scipys_and_covers_at_its_level():
    values = [0.61, 0.58, 0.64, 0.60, 0.59]
    i = mean_interval(values)
    low, high = stats.t.interval(0.95, 4, loc=np.mean(values), scale=stats.sem(values))
    assert (i.low, i.high) == (pytest.approx(low), pytest.approx(high))
    assert (i.n, i.method, i.confidence) == (5, "t", 0.95)
    rng = np.random.default_rng(0)
    covered = sum(
        (lambda x: x.low <= 0.55 <= x.high)(mean_interval(rng.normal(0.55, 0.02, 5)))
        for _ in range(2000)
    )
    assert _binomial_ok(covered, 2000, 0.95)


def test_bootstrap_interval_on_skewed_values():
    rng = np.random.default_rng(1)
    covered = 0
    for seed in range(200):  # TPR at low FPR over 10 seeds: skewed, bounded at 0
        values = rng.exponential(0.01, 10)
        i = mean_interval(values, method="bootstrap", resamples=999, seed=seed)
        assert i.low <= i.mean <= i.high
        covered += i.low <= 0.01 <= i.high
    assert covered >= 0.85 * 200  # BCa with 10 values: close to, a little under, 95%


def test_degenerate_intervals():
    assert math.isnan(mean_interval([0.5]).low)
    same = mean_interval([0.5, 0.5, 0.5], method="bootstrap")
    assert (same.low, same.high) == (0.5, 0.5)
    with pytest.raises(ValueError, match="non-empty"):
        mean_interval([])
    with pytest.raises(ValueError, match="finite"):
        mean_interval([0.5, float("nan")])
    with pytest.raises(ValueError, match="method"):
        mean_interval([0.5, 0.6], method="jackknife")


def _sweep(rng, effect, seeds=5, split_sd=0.04, noise_sd=0.005):
    """Two settings on the same seeds: each seed's split moves both AUCs alike."""
    split = rng.normal(0, split_sd, seeds)
    ann = 0.60 + split + rng.normal(0, noise_sd, seeds)
    snn = 0.60 + effect + split + rng.normal(0, noise_sd, seeds)
    return dict(enumerate(ann)), dict(enumerate(snn))


@pytest.mark.parametrize("test", ["t", "wilcoxon"])
def test_a_planted_difference_is_found_by_pairing(test):
    rng = np.random.default_rng(2)
    ann, snn = _sweep(rng, effect=-0.02, seeds=8)
    c = paired_comparison(ann, snn, test=test, name="SNN vs ANN", metric="auc")
    assert c.p_value < 0.05
    assert c.difference.high < 0
    assert c.difference.low < -0.02 < c.difference.high
    assert decide([c])[0].verdict == "lower"
    # the same numbers compared as if unpaired: the split-to-split spread hides the effect
    assert stats.ttest_ind(list(snn.values()), list(ann.values())).pvalue > 0.05
    reverse = paired_comparison(snn, ann, test=test)
    assert decide([reverse])[0].verdict == "higher"


def test_without_an_effect_false_positives_are_at_alpha():
    rng = np.random.default_rng(3)
    p = [paired_comparison(*_sweep(rng, effect=0.0)).p_value for _ in range(1000)]
    assert _binomial_ok(sum(x < 0.05 for x in p), 1000, 0.05)
    assert stats.kstest(p, "uniform").pvalue > 0.001  # p-values uniform under the null


def test_holm_is_the_step_down_definition_and_controls_the_family():
    rng = np.random.default_rng(4)
    for _ in range(50):
        p = rng.uniform(0, 0.2, 6)
        order = np.argsort(p)
        expected = np.empty(6)
        running = 0.0
        for rank, i in enumerate(order):
            running = max(running, (6 - rank) * p[i])
            expected[i] = min(running, 1.0)
        np.testing.assert_allclose(holm(p), expected)
    # 10 comparisons without effects: any false "lower/higher" in at most ~5% of the sweeps
    raw = corrected = 0
    for _ in range(300):
        family = [paired_comparison(*_sweep(rng, effect=0.0)) for _ in range(10)]
        raw += any(c.p_value < 0.05 for c in family)
        corrected += any(c.verdict != "no significant difference" for c in decide(family))
    assert corrected <= 0.05 * 300 + 4 * math.sqrt(300 * 0.05 * 0.95)
    assert raw > 0.25 * 300  # uncorrected, about 40% of such sweeps claim a difference
    assert holm([]) == []
    with pytest.raises(ValueError, match="p-values"):
        holm([0.2, 1.5])


def test_holm_keeps_a_real_effect_among_nulls():
    rng = np.random.default_rng(5)
    family = [paired_comparison(*_sweep(rng, effect=0.03, seeds=8))]
    family += [paired_comparison(*_sweep(rng, effect=0.0, seeds=8)) for _ in range(4)]
    verdicts = [c.verdict for c in decide(family)]
    assert verdicts[0] == "higher"
    assert set(verdicts) <= set(VERDICTS)
    assert all(c.p_adjusted >= c.p_value for c in decide(family))


def test_pairs_are_matched_by_key_and_mismatches_counted():
    a = {(0, "split0"): 0.6, (1, "split1"): 0.7, (2, "split2"): 0.65}
    b = {(1, "split1"): 0.6, (0, "split0"): 0.55, (3, "split3"): 0.1}
    c = paired_comparison(a, b, labels=("ANN", "SNN"))
    assert (c.n_pairs, c.unmatched) == (2, 2)
    assert c.difference.mean == pytest.approx(-0.075)  # (0.55 - 0.6 + 0.6 - 0.7) / 2
    assert (c.baseline, c.other) == ("ANN", "SNN")
    with pytest.raises(ValueError, match=">= 2"):
        paired_comparison({0: 0.5}, {0: 0.6})
    with pytest.raises(ValueError, match="test"):
        paired_comparison(a, b, test="sign")


def test_identical_and_constant_differences():
    a = {s: 0.6 + 0.01 * s for s in range(4)}
    same = paired_comparison(a, a)
    assert same.p_value == 1.0
    assert decide([same])[0].verdict == "no significant difference"
    shifted = paired_comparison(a, {s: v + 0.01 for s, v in a.items()})
    assert shifted.p_value == 0.0
    assert decide([shifted])[0].verdict == "higher"


def test_chance_floor():
    noise = chance_floor(mean_interval([0.48, 0.49, 0.47, 0.48, 0.49]))
    assert noise.value == 0.5
    assert noise.below_chance
    assert noise.overlaps_chance
    near = chance_floor(mean_interval([0.50, 0.53, 0.49, 0.52]))
    assert near.value == pytest.approx(0.51)
    assert near.overlaps_chance
    assert not near.below_chance
    leaks = chance_floor(mean_interval([0.60, 0.62, 0.61]))
    assert (leaks.overlaps_chance, leaks.below_chance) == (False, False)
    one_seed = chance_floor(mean_interval([0.7]))
    assert one_seed.overlaps_chance  # one seed shows nothing
