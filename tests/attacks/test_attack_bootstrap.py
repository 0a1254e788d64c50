import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score, roc_curve

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


def _pooled(seed, targets=8, samples=150):
    """Scores pooled over targets of a leave-one-out audit: each target has its own score
    offset and leakage, each sample its own difficulty (shared by every target)."""
    g = torch.Generator().manual_seed(seed)
    keep = torch.rand(targets, samples, generator=g).argsort(0) < targets // 2
    offset = torch.randn(targets, 1, generator=g)
    difficulty = torch.randn(1, samples, generator=g)
    leak = 0.3 + 0.3 * torch.randn(targets, 1, generator=g)
    scores = offset + difficulty + torch.randn(targets, samples, generator=g) + leak * keep
    clusters = {
        "target": torch.arange(targets)[:, None].expand(targets, samples).reshape(-1),
        "sample": torch.arange(samples)[None].expand(targets, samples).reshape(-1),
    }
    return scores.reshape(-1).double(), keep.reshape(-1), clusters


def test_cluster_bootstrap_matches_weighted_sklearn_roc():
    scores, members, clusters = _pooled(0, targets=4, samples=40)
    budgets = (0.0, 0.05)
    auc, tpr = bootstrap_metrics(scores, members, budgets, size=20, seed=3, clusters=clusters)
    g = torch.Generator().manual_seed(3)  # replay: multiplicities of targets, then samples
    for_targets = torch.randint(4, (20, 4), generator=g)
    for_samples = torch.randint(40, (20, 40), generator=g)
    for b in range(20):
        weight = (
            torch.bincount(for_targets[b], minlength=4)[clusters["target"]]
            * torch.bincount(for_samples[b], minlength=40)[clusters["sample"]]
        ).numpy()
        assert auc[b].item() == pytest.approx(
            roc_auc_score(members.numpy(), scores.numpy(), sample_weight=weight), abs=1e-12
        )
        fpr, sk_tpr, _ = roc_curve(
            members.numpy(), scores.numpy(), sample_weight=weight, drop_intermediate=False
        )
        for i, f in enumerate(budgets):
            assert tpr[b, i].item() == pytest.approx(sk_tpr[fpr <= f + 1e-12].max(), abs=1e-12)


def test_pooled_intervals_cover_with_clusters_and_not_as_independent_scores():
    """Coverage of the expected pooled AUC and TPR at 5% FPR over training randomness."""
    truth = [evaluate(*_pooled(seed)[:2], fpr_targets=(0.05,)) for seed in range(1000, 1300)]
    auc = np.mean([m.auc for m in truth])
    tpr = np.mean([m.tpr_at_fpr[0.05][0] for m in truth])
    covered = {"pairs": [0, 0], "clusters": [0, 0]}
    width = {"pairs": [], "clusters": []}
    for seed in range(40):
        scores, members, clusters = _pooled(seed)
        for name, units in (("pairs", None), ("clusters", clusters)):
            m = evaluate(scores, members, (0.05,), bootstrap=200, seed=seed, clusters=units)
            covered[name][0] += m.ci["auc"][0] <= auc <= m.ci["auc"][1]
            covered[name][1] += m.ci["tpr_at_fpr"][0.05][0] <= tpr <= m.ci["tpr_at_fpr"][0.05][1]
            width[name].append(m.ci["auc"][1] - m.ci["auc"][0])
            unit = "target x sample" if units else "sample (stratified by membership)"
            assert m.ci["unit"] == unit
    assert min(covered["clusters"]) >= 0.9 * 40, covered
    assert covered["pairs"][0] < covered["clusters"][0], covered
    assert np.mean(width["clusters"]) > 1.3 * np.mean(width["pairs"])
