"""The empirical epsilon lower bound: known values, exact intervals, chance, the audit's records."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import binomtest

from lightning_snnpriv.attacks import Audit
from lightning_snnpriv.attacks.metrics import evaluate
from lightning_snnpriv.attacks.privacy import (
    clopper_pearson,
    epsilon_from_rates,
    epsilon_lower_bound,
)


@pytest.mark.parametrize(("tpr", "fpr", "delta", "eps"), [
    (0.5, 0.05, 0.0, math.log(10)),             # TPR / FPR
    (0.95, 0.5, 0.0, math.log(10)),             # (1 - FPR) / (1 - TPR)
    (0.3, 0.01, 0.1, math.log(20)),             # (TPR - delta) / FPR
    (0.4, 0.4, 1e-5, 0.0),                      # chance
])  # fmt: skip
def test_formula_gives_the_known_value(tpr, fpr, delta, eps):
    assert float(epsilon_from_rates(tpr, fpr, delta)) == pytest.approx(eps)


def test_bound_approaches_the_known_value_from_below_as_samples_grow():
    """One threshold at TPR 0.5, FPR 0.05: epsilon log(10), the intervals shrink with n."""
    bounds = []
    for n in (1_000, 100_000, 10_000_000):
        bound = epsilon_lower_bound([0.0, 0.05, 1.0], [0.0, 0.5, 1.0], n, n, delta=0.0)
        assert bound.thresholds == 1
        assert (bound.tpr, bound.fpr) == (0.5, 0.05)
        bounds.append(bound.epsilon)
    assert bounds[0] < bounds[1] < bounds[2] < math.log(10)
    assert bounds[2] == pytest.approx(math.log(10), abs=0.01)


@pytest.mark.parametrize(("k", "n"), [(0, 50), (3, 50), (25, 50), (50, 50), (17, 1000)])
def test_clopper_pearson_matches_scipys_exact_interval(k, n):
    alpha = 0.01
    low, high = clopper_pearson(np.array([k]), n, alpha)
    ci = binomtest(k, n).proportion_ci(confidence_level=1 - 2 * alpha, method="exact")
    assert low[0] == pytest.approx(ci.low, abs=1e-12)
    assert high[0] == pytest.approx(ci.high, abs=1e-12)


def test_bonferroni_over_thresholds_lowers_the_bound():
    one = epsilon_lower_bound([0.0, 0.05, 1.0], [0.0, 0.5, 1.0], 2000, 2000, 1e-5)
    many = epsilon_lower_bound(
        [0.0, 0.05, *np.linspace(0.06, 0.99, 99), 1.0],
        [0.0, 0.5, *np.linspace(0.51, 0.995, 99), 1.0],
        2000, 2000, 1e-5,
    )  # fmt: skip
    assert many.thresholds == 100
    assert 0 < many.epsilon < one.epsilon


def test_larger_delta_gives_smaller_bound():
    args = ([0.0, 0.02, 1.0], [0.0, 0.2, 1.0], 5000, 5000)
    assert epsilon_lower_bound(*args, 0.05).epsilon < epsilon_lower_bound(*args, 1e-5).epsilon


def test_at_chance_the_bound_is_zero_in_at_least_95_percent_of_audits():
    """Scores independent of membership: a positive bound is a false detection (<= 5%)."""
    positive = []
    for seed in range(40):
        gen = torch.Generator().manual_seed(seed)
        scores = torch.rand(1000, generator=gen)
        members = torch.arange(1000) < 500
        m = evaluate(scores, members, fpr_targets=[0.01], bootstrap=0)
        bound = epsilon_lower_bound(m.fpr, m.tpr, m.n_members, m.n_nonmembers, 1e-5)
        assert bound.epsilon < 0.5
        positive.append(bound.epsilon > 0)
    assert sum(positive) <= 4


def test_audit_records_carry_the_bound_and_a_dp_runs_epsilon():
    torch.manual_seed(0)
    n = 400
    labels = torch.randint(0, 2, (n,))
    keep = (torch.arange(n) % 2 == 0).unsqueeze(0)
    # leaking outputs: members get the right class with a large margin
    logits = torch.randn(1, n, 2)
    logits[0, keep[0], :] = 0.0
    logits[0, torch.arange(n)[keep[0]], labels[keep[0]]] = 8.0
    audit = Audit(["loss"], fpr_targets=[0.01], bootstrap=0, delta=1e-4)
    plain = audit.run(logits, labels, keep, torch.ones_like(keep))
    (record,) = plain.records
    info = record["epsilon_lower_bound_info"]
    assert record["epsilon"] is None
    assert info["delta"] == 1e-4
    assert info["confidence"] == 0.95
    fpr, tpr = plain.curves["loss"][0]
    expected = epsilon_lower_bound(fpr, tpr, record["n_members"], record["n_nonmembers"], 1e-4)
    assert record["epsilon_lower_bound"] == expected.epsilon > 1.0
    dp = {"delta": 1e-3, "epsilon": [7.5]}
    (record,) = audit.run(logits, labels, keep, torch.ones_like(keep), {"dp": dp}).records
    assert record["epsilon"] == 7.5
    assert record["epsilon_lower_bound_info"]["delta"] == 1e-3
