import numpy as np
import pytest
import torch

from lightning_snnpriv.attacks import (
    AttackInputs,
    RMIAAttack,
    draw_population,
    evaluate,
    rmia_scores,
    true_label_confidence,
)
from lightning_snnpriv.attacks import rmia as rmia_module
from lightning_snnpriv.attacks.attack_r import ReferenceAttack
from lightning_snnpriv.errors import ConfigError


def _case(seed=0, num_models=7, n=30, c=3):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(num_models, n, c, generator=g) * 2
    labels = torch.randint(c, (n,), generator=g)
    pattern = torch.tensor([True, False]).repeat(n // 2)
    keep = torch.stack([pattern if m % 2 else ~pattern for m in range(num_models)])
    keep = keep ^ (torch.rand(num_models, n, generator=g) < 0.2)
    keep[1], keep[2] = pattern, ~pattern  # every sample IN and OUT for some reference
    return logits, labels, keep


def _first(keep, refs, inside):
    """Per sample, its references with ``keep == inside``, cut to the least count (model order)."""
    lists = [[m for m in refs if keep[m][i] == inside] for i in range(len(keep[0]))]
    n = min(len(x) for x in lists)
    return [x[:n] for x in lists]


def _direct(p, keep, target, population, online, a, gamma):
    """Plain Python loop over x and z, as the paper writes it (strict ``>``, as its code),
    each candidate compared with the Z - 1 z other than itself (or than the last z)."""
    refs = [m for m in range(len(p)) if m != target]
    ins, outs = _first(keep, refs, True), _first(keep, refs, False)

    def pr(i):
        mean_in = sum(p[m][i] for m in ins[i]) / len(ins[i]) if ins[i] else 0.0
        mean_out = sum(p[m][i] for m in outs[i]) / len(outs[i])
        if online:
            return (mean_in + mean_out) / 2
        return ((1 + a) * mean_out + (1 - a)) / 2

    scores = []
    for x in range(len(p[0])):
        left_out = x if x in population else population[-1]  # never compared with itself
        hits = 0.0
        others = [z for z in population if z != left_out]
        for z in others:
            lr = (p[target][x] / pr(x)) / (p[target][z] / pr(z))
            hits += 1.0 if lr > gamma else 0.5 if lr == gamma else 0.0
        ratio = p[target][x] / pr(x)
        # equal fractions ordered by the candidate's own ratio, below half a step
        scores.append((2 * hits + ratio / (1 + ratio)) / (2 * len(others) + 1))
    return np.array(scores)


@pytest.mark.parametrize(
    ("online", "a", "gamma"),
    [(True, 0.0, 1.0), (False, 0.3, 1.0), (False, 0.7, 2.0), (True, 0.0, 0.5)],
)
def test_rmia_matches_loop_over_z(online, a, gamma, monkeypatch):
    monkeypatch.setattr(rmia_module, "MAX_BLOCK", 37)  # force many small chunks
    logits, labels, keep = _case()
    p = true_label_confidence(logits.double(), labels)
    target = 3
    audit = torch.ones_like(keep)
    population = draw_population(keep[target], audit[target], 9, seed=1)
    assert population.numel() == 9
    assert not keep[target][population].any()  # z are non-members of the target
    refs = [m for m in range(7) if m != target]
    scores, _, _ = rmia_scores(
        p[target], p[refs], keep[refs], population, online=online, a=a, gamma=gamma
    )
    expected = _direct(p.tolist(), keep.tolist(), target, population.tolist(), online, a, gamma)
    np.testing.assert_allclose(scores.numpy(), expected, rtol=0, atol=1e-15)


def test_attack_population_and_tuning():
    logits, labels, keep = _case(n=40)
    inputs = AttackInputs(logits, labels, keep, torch.ones_like(keep))
    fixed = RMIAAttack(online=False, a=0.3, num_population=10, seed=3)
    out = fixed.score(inputs, target=0)
    assert out.info["num_population"] == 10
    assert out.info["a"] == 0.3
    assert fixed.name == "rmia_offline"
    assert RMIAAttack(online=True).name == "rmia_online"
    tuned = RMIAAttack(online=False, a="tune").score(inputs, target=0)
    aucs = {float(k): v for k, v in tuned.info["tuning_auc"].items()}
    assert tuned.info["a"] == tuned.info["tuned_a"] == max(aucs, key=lambda k: (aucs[k], -k))
    # the tuning AUCs are the offline attack on reference 1 with references 2.. as its refs
    sub = AttackInputs(logits[1:], labels, keep[1:], torch.ones_like(keep[1:]))
    check = RMIAAttack(online=False, a=0.5).score(sub, target=0).scores
    assert evaluate(check, keep[1], fpr_targets=()).auc == pytest.approx(aucs[0.5], abs=1e-12)


def test_rmia_needs_out_references():
    logits, labels, _ = _case()
    keep = torch.zeros(7, 30, dtype=torch.bool)
    keep[:, :10] = True  # samples 0..9 IN for every reference: no OUT model
    inputs = AttackInputs(logits, labels, keep, torch.ones_like(keep))
    with pytest.raises(ConfigError, match="OUT"):
        RMIAAttack(online=False).score(inputs)


@pytest.mark.parametrize("kwargs", [{"a": 1.5}, {"a": "auto"}, {"gamma": 0}, {"num_population": 1}])
def test_bad_settings(kwargs):
    with pytest.raises(ConfigError):
        RMIAAttack(**kwargs)


def test_reference_attack_matches_loop():
    logits, labels, keep = _case()
    inputs = AttackInputs(logits, labels, keep, torch.ones_like(keep))
    out = ReferenceAttack().score(inputs, target=2)
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, 3).double(), labels.repeat(7), reduction="none"
    ).reshape(7, -1)
    outs = _first(keep.tolist(), [m for m in range(7) if m != 2], False)
    assert len({len(x) for x in outs}) == 1 < len(set((~keep[[0, 1, 3, 4, 5, 6]]).sum(0).tolist()))
    expected = [
        np.mean([float(loss[m, i]) >= float(loss[2, i]) - 1e-6 for m in outs[i]]) for i in range(30)
    ]
    np.testing.assert_allclose(out.scores.numpy(), expected)


def _lira_inputs(n=60, num_models=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    keep = torch.rand(num_models, n, generator=g).argsort(0) < num_models // 2
    logits = torch.randn(num_models, n, 2, generator=g)
    labels = torch.zeros(n, dtype=torch.long)
    return logits, labels, keep


@pytest.mark.parametrize("online", [True, False])
def test_a_separated_member_is_found_at_fpr_zero(online):
    """One member far more confident on the target than on its references: it must score
    above every non-member (with ``>=`` it tied with the top non-member: TPR at FPR 0 was 0)."""
    logits, labels, keep = _lira_inputs()
    member = int(keep[0].nonzero()[0])
    logits[0, member] = torch.tensor([12.0, 0.0])
    logits[1:, member] = torch.tensor([-6.0, 0.0])  # the references find it hard
    inputs = AttackInputs(logits, labels, keep, torch.ones_like(keep))
    scores = RMIAAttack(online=online).score(inputs, target=0).scores
    assert scores[member] > scores[~keep[0]].max()
    m = evaluate(scores, keep[0], fpr_targets=(0.0,))
    assert m.tpr_at_fpr[0.0][0] >= 1 / int(keep[0].sum())
    assert m.tpr_at_fpr[0.0][1] == 0.0


def test_members_and_nonmembers_are_compared_with_as_many_z():
    """Every candidate is compared with Z - 1 population samples, never with itself."""
    ratio = torch.tensor([3.0, 1.0, 2.0, 5.0, 0.5], dtype=torch.float64)
    population = torch.tensor([1, 2, 4])  # candidates 0 and 3 are members
    left_out = torch.tensor([2, 0, 1, 2, 2])  # itself if a z, else the last z
    scores = rmia_module.pairwise_fraction(ratio, ratio[population], 1.0, left_out)
    # e.g. candidate 2 (ratio 2, a z) is compared with the z 1.0 and 0.5, not with itself
    counts = (scores * (2 * 2 + 1)).floor() / 2  # the score is (2 hits + g) / (2 (Z - 1) + 1)
    assert counts.tolist() == [2.0, 1.0, 2.0, 2.0, 0.0]
    order = scores.argsort().tolist()
    assert order == [4, 1, 2, 0, 3]  # equal fractions ordered by the candidates' ratios
