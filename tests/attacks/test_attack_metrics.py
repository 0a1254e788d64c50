import json
import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from lightning_snnpriv.attacks import evaluate, roc_curve, tpr_at_fpr


def _sk_tpr_at_fpr(scores: np.ndarray, members: np.ndarray, target: float) -> float:
    fpr, tpr, _ = sk_roc_curve(members, scores, drop_intermediate=False)
    return float(tpr[fpr <= target].max())


def _brute_force(scores: np.ndarray, members: np.ndarray) -> tuple[float, float]:
    """Max over all thresholds (predict member iff score >= t) of TPR - FPR and balanced acc."""
    best_adv, best_bal = -1.0, 0.0
    for t in [*np.unique(scores).tolist(), np.inf]:
        pred = scores >= t
        tpr = (pred & members).sum() / members.sum()
        fpr = (pred & ~members).sum() / (~members).sum()
        fnr = 1 - tpr
        best_adv = max(best_adv, tpr - fpr)
        best_bal = max(best_bal, 1 - (fpr + fnr) / 2)
    return float(best_adv), float(best_bal)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = 400
    members = rng.random(n) < 0.4
    # integer-valued scores (like spike counts) -> many ties; shifted for members
    scores = rng.integers(0, 12, n) + 2 * members
    scores = scores.astype(np.float64)
    m = evaluate(
        torch.from_numpy(scores), torch.from_numpy(members), fpr_targets=(0.0, 0.01, 0.1, 0.5)
    )
    assert m.auc == pytest.approx(roc_auc_score(members, scores), abs=1e-12)
    sk_fpr, sk_tpr, _ = sk_roc_curve(members, scores, drop_intermediate=False)
    np.testing.assert_allclose(m.fpr, sk_fpr, atol=1e-12)
    np.testing.assert_allclose(m.tpr, sk_tpr, atol=1e-12)
    assert len(m.fpr) == len(np.unique(scores)) + 1  # one point per distinct score + (0, 0)
    for target in (0.0, 0.01, 0.1, 0.5):
        tpr, realized = m.tpr_at_fpr[target]
        assert tpr == pytest.approx(_sk_tpr_at_fpr(scores, members, target), abs=1e-12)
        assert realized <= target
    adv, bal = _brute_force(scores, members)
    assert m.advantage == pytest.approx(adv, abs=1e-12)
    assert m.balanced_accuracy == pytest.approx(bal, abs=1e-12)
    assert m.n_members == int(members.sum())
    assert m.n_nonmembers == int((~members).sum())


def test_continuous_scores_outside_unit_interval_are_not_squashed():
    # sigmoid(30) == sigmoid(40) == 1.0 in float32: scores must not become tied
    scores = torch.tensor([40.0, 30.0, 20.0, 10.0, -50.0, -60.0])
    members = torch.tensor([True, False, True, False, True, False])
    m = evaluate(scores, members, fpr_targets=(0.0,))
    expected = roc_auc_score(members.numpy(), scores.numpy())
    assert m.auc == pytest.approx(expected)
    assert m.auc == pytest.approx(6 / 9)
    # with sigmoid squashing, 40, 30 (a non-member) and 20 would tie and TPR@0 would be 0
    assert m.tpr_at_fpr[0.0] == (pytest.approx(1 / 3), 0.0)


def test_all_ties():
    m = evaluate(torch.full((10,), 3.0), torch.arange(10) < 4, fpr_targets=(0.0, 0.5))
    assert m.auc == pytest.approx(0.5)
    assert m.fpr == [0.0, 1.0]
    assert m.tpr == [0.0, 1.0]
    assert m.tpr_at_fpr[0.0] == (0.0, 0.0)
    assert m.tpr_at_fpr[0.5] == (0.0, 0.0)
    assert m.advantage == 0.0
    assert m.balanced_accuracy == 0.5


def test_perfect_separation():
    members = torch.tensor([True] * 5 + [False] * 7)
    scores = torch.where(members, 1.0, 0.0) + torch.linspace(0, 0.1, 12)
    m = evaluate(scores, members, fpr_targets=(0.0,))
    assert m.auc == 1.0
    assert m.tpr_at_fpr[0.0] == (1.0, 0.0)
    assert m.fpr == [0.0] * 6 + [i / 7 for i in range(1, 8)]
    assert m.advantage == 1.0
    assert m.balanced_accuracy == 1.0


def test_inverted_scores():
    members = torch.tensor([True, True, False, False])
    m = evaluate(torch.tensor([0.0, 1.0, 2.0, 3.0]), members, fpr_targets=(0.0, 0.5))
    assert m.auc == 0.0
    assert m.tpr_at_fpr[0.5] == (0.0, 0.0)
    assert m.advantage == 0.0


def test_tiny_set():
    m = evaluate(torch.tensor([0.2, 0.1]), torch.tensor([True, False]), fpr_targets=(0.0,))
    assert m.auc == 1.0
    assert m.tpr_at_fpr[0.0] == (1.0, 0.0)
    assert (m.n_members, m.n_nonmembers) == (1, 1)


def test_tpr_at_fpr_uses_less_or_equal_and_reports_lowest_fpr():
    fpr = torch.tensor([0.0, 0.0, 0.25, 0.5, 0.5, 1.0])
    tpr = torch.tensor([0.0, 0.4, 0.6, 0.6, 0.9, 1.0])
    assert tpr_at_fpr(fpr, tpr, 0.0) == pytest.approx((0.4, 0.0))
    assert tpr_at_fpr(fpr, tpr, 0.25) == pytest.approx((0.6, 0.25))
    assert tpr_at_fpr(fpr, tpr, 0.49) == pytest.approx((0.6, 0.25))
    assert tpr_at_fpr(fpr, tpr, 0.5) == pytest.approx((0.9, 0.5))
    assert tpr_at_fpr(fpr, tpr, 1.0) == pytest.approx((1.0, 1.0))
    with pytest.raises(ValueError, match="FPR target"):
        tpr_at_fpr(fpr, tpr, 1.5)


def test_roc_curve_helper():
    fpr, tpr = roc_curve(torch.tensor([5.0, 5.0, 1.0]), torch.tensor([True, False, True]))
    assert fpr.tolist() == [0.0, 1.0, 1.0]
    assert tpr.tolist() == [0.0, 0.5, 1.0]


def test_errors():
    with pytest.raises(ValueError, match="0 members"):
        evaluate(torch.rand(5), torch.zeros(5, dtype=torch.bool))
    with pytest.raises(ValueError, match="0 non-members"):
        evaluate(torch.rand(5), torch.ones(5, dtype=torch.bool))
    with pytest.raises(ValueError, match="NaN"):
        evaluate(torch.tensor([0.1, float("nan")]), torch.tensor([True, False]))
    with pytest.raises(ValueError, match="is_member"):
        evaluate(torch.rand(3), torch.tensor([1, 0, 1]))
    with pytest.raises(ValueError, match="1-D"):
        evaluate(torch.rand(2, 3), torch.ones(2, 3, dtype=torch.bool))


def test_warns_below_measurable_fpr():
    members = torch.arange(20) < 10  # 10 non-members: smallest measurable FPR 0.1
    scores = torch.rand(20, generator=torch.Generator().manual_seed(0))
    with pytest.warns(UserWarning, match="cannot be measured"):
        evaluate(scores, members, fpr_targets=(0.01,))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate(scores, members, fpr_targets=(0.0, 0.1, 0.5))


def test_to_dict_is_json_serializable():
    m = evaluate(
        torch.tensor([0.9, 0.8, 0.3, 0.1]),
        torch.tensor([True, False, True, False]),
        fpr_targets=(0.0, 0.5),
    )
    d = m.to_dict()
    assert "fpr" not in d
    assert "tpr" not in d
    assert d["tpr_at_fpr"] == [
        {"fpr_target": 0.0, "tpr": 0.5, "fpr": 0.0},
        {"fpr_target": 0.5, "tpr": 1.0, "fpr": 0.5},
    ]
    assert d["auc"] == pytest.approx(0.75)
    full = json.loads(json.dumps(m.to_dict(include_curve=True)))
    assert full["fpr"] == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert full["tpr"] == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert (full["n_members"], full["n_nonmembers"]) == (2, 2)


def test_fpr_budget_reached_exactly():
    # 100 non-members scored 0..99, 10 members above the 2nd-best non-member only
    nonmember_scores = torch.arange(100, dtype=torch.float64)
    member_scores = torch.full((10,), 97.5, dtype=torch.float64)
    scores = torch.cat([member_scores, nonmember_scores])
    members = torch.arange(110) < 10
    m = evaluate(scores, members, fpr_targets=(0.01, 0.02, 0.019))
    assert m.tpr_at_fpr[0.01] == (0.0, 0.0)  # non-member 99 alone is FPR 0.01, members below
    assert m.tpr_at_fpr[0.02] == (1.0, 0.02)
    assert m.tpr_at_fpr[0.019] == (0.0, 0.0)
    assert m.auc == pytest.approx(roc_auc_score(members.numpy(), scores.numpy()), abs=1e-12)
