import numpy as np
import pytest
import torch

from lightning_snnpriv.attacks import bootstrap_metrics, evaluate


def _data(seed=0, n=300):
    rng = np.random.default_rng(seed)
    members = rng.random(n) < 0.4
    scores = rng.integers(0, 15, n) + 3.0 * members  # ties, like spike counts
    return torch.from_numpy(scores.astype(np.float64)), torch.from_numpy(members)


def test_vectorized_bootstrap_matches_loop_over_resamples():
    scores, members = _data()
    budgets = (0.0, 0.01, 0.1)
    auc, tpr = bootstrap_metrics(scores, members, budgets, size=30, seed=5)
    # replay the same draws: one chunk, members then non-members
    g = torch.Generator().manual_seed(5)
    mem_idx, non_idx = members.nonzero().squeeze(1), (~members).nonzero().squeeze(1)
    draw_m = torch.randint(len(mem_idx), (30, len(mem_idx)), generator=g)
    draw_n = torch.randint(len(non_idx), (30, len(non_idx)), generator=g)
    for b in range(30):
        idx = torch.cat([mem_idx[draw_m[b]], non_idx[draw_n[b]]])
        m = evaluate(scores[idx], members[idx], fpr_targets=budgets)
        assert auc[b].item() == pytest.approx(m.auc, abs=1e-12)
        for i, f in enumerate(budgets):
            assert tpr[b, i].item() == pytest.approx(m.tpr_at_fpr[f][0], abs=1e-12)


def test_ci_is_seeded_and_brackets_the_estimate():
    scores, members = _data(1)
    a = evaluate(scores, members, fpr_targets=(0.1,), bootstrap=200, seed=0)
    b = evaluate(scores, members, fpr_targets=(0.1,), bootstrap=200, seed=0)
    c = evaluate(scores, members, fpr_targets=(0.1,), bootstrap=200, seed=1)
    assert a.ci == b.ci
    assert a.ci != c.ci
    low, high = a.ci["auc"]
    assert low < a.auc < high
    assert high - low < 0.2
    low, high = a.ci["tpr_at_fpr"][0.1]
    assert low <= a.tpr_at_fpr[0.1][0] <= high
    d = a.to_dict()
    assert d["auc_ci"] == list(a.ci["auc"])
    assert d["tpr_at_fpr"][0]["tpr_ci"] == list(a.ci["tpr_at_fpr"][0.1])
    assert d["bootstrap"] == {
        "size": 200,
        "confidence": 0.95,
        "seed": 0,
        "unit": "sample (stratified by membership)",
    }
    assert evaluate(scores, members, fpr_targets=(0.1,)).ci is None


def test_perfect_separation_has_degenerate_ci():
    scores = torch.tensor([5.0, 4.0, 3.0, 1.0, 0.0])
    members = torch.tensor([True, True, True, False, False])
    m = evaluate(scores, members, fpr_targets=(0.0,), bootstrap=50)
    assert m.ci["auc"] == (1.0, 1.0)
    assert m.ci["tpr_at_fpr"][0.0] == (1.0, 1.0)


def test_bad_bootstrap_arguments():
    scores, members = _data()
    with pytest.raises(ValueError, match="size"):
        bootstrap_metrics(scores, members, (0.1,), size=0)
    with pytest.raises(ValueError, match="confidence"):
        evaluate(scores, members, bootstrap=10, confidence=1.0)
