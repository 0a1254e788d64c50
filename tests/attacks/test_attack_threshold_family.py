import numpy as np
import pytest
import torch

from lightning_snnpriv.attacks import (
    AttackInputs,
    ConfidenceAttack,
    EntropyAttack,
    GapAttack,
    LossAttack,
    ModifiedEntropyAttack,
    evaluate,
)


def _inputs(seed=0, n=50, c=4):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, n, c, generator=g, dtype=torch.float64) * 3
    labels = torch.randint(c, (n,), generator=g)
    keep = torch.rand(2, n, generator=g) < 0.5
    return AttackInputs(logits, labels, keep, torch.ones_like(keep))


def _numpy_probs(inputs, target):
    z = inputs.logits[target].numpy()
    p = np.exp(z - z.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True), inputs.labels.numpy()


def test_signal_attacks_match_numpy_formulas():
    inputs = _inputs()
    p, y = _numpy_probs(inputs, 1)
    rows = np.arange(len(y))
    py = p[rows, y]
    other = p.copy()
    other[rows, y] = 0.0
    mentr = -(1 - py) * np.log(py) - (other * np.log(1 - other)).sum(1)
    expected = {
        ConfidenceAttack: py,
        EntropyAttack: (p * np.log(p)).sum(1),
        ModifiedEntropyAttack: -mentr,
    }
    for cls, want in expected.items():
        got = cls().score(inputs, target=1).scores.numpy()
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_gap_attack_has_three_point_roc():
    inputs = _inputs(n=200)
    out = GapAttack().score(inputs, target=0)
    correct = (inputs.logits[0].argmax(-1) == inputs.labels).double()
    assert torch.equal(out.scores, correct)
    m = evaluate(out.scores, inputs.keep[0], fpr_targets=(0.0,))
    assert len(m.fpr) == 3  # (0,0), ("correct" -> member), (1,1): ties are not broken
    members = inputs.keep[0]
    tpr = float(correct[members].mean())
    fpr = float(correct[~members].mean())
    assert m.fpr[1] == pytest.approx(fpr)
    assert m.tpr[1] == pytest.approx(tpr)
    assert m.auc == pytest.approx((1 + tpr - fpr) / 2)


def test_names_are_distinct():
    names = [c.name for c in (ConfidenceAttack, EntropyAttack, ModifiedEntropyAttack, GapAttack)]
    assert len(set(names)) == 4


def test_confident_losses_do_not_tie_at_zero():
    # float32 logsumexp([20, -20]) - 20 == 0 exactly; the attack ranks in float64
    logits = torch.tensor([[[20.0, -20.0], [25.0, -25.0], [15.0, -15.0]]])
    keep = torch.tensor([[True, False, True]])
    inputs = AttackInputs(logits, torch.zeros(3, dtype=torch.long), keep, torch.ones_like(keep))
    scores = LossAttack().score(inputs).scores
    assert scores.unique().numel() == 3
    assert scores.argsort().tolist() == [2, 0, 1]
