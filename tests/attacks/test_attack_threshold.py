import math

import torch

from lightning_snnpriv.attacks import AttackInputs, LossAttack, evaluate, loss_threshold_scores


def test_scores_are_negative_loss():
    logits = torch.tensor([[3.0, 1.0], [0.0, 0.0], [-2.0, 2.0]])
    labels = torch.tensor([0, 1, 0])
    expected = [-math.log1p(math.exp(-2.0)), -math.log(2.0), -(4.0 + math.log1p(math.exp(-4.0)))]
    torch.testing.assert_close(loss_threshold_scores(logits, labels), torch.tensor(expected))


def _synthetic(member_margin: float, nonmember_margin: float, n: int = 4000, seed: int = 0):
    """Two models, 10 classes; the true-class logit is raised by a margin depending on keep[0]."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=gen)
    keep = torch.rand(2, n, generator=gen) < 0.5
    logits = torch.randn(2, n, 10, generator=gen)
    margin = torch.where(keep, member_margin, nonmember_margin)
    logits[:, torch.arange(n), labels] += margin
    return AttackInputs(logits, labels, keep, torch.ones(2, n, dtype=torch.bool))


def test_loss_attack_separates_members():
    inputs = _synthetic(member_margin=4.0, nonmember_margin=1.0)
    out = LossAttack().score(inputs)
    assert out.scores.shape == (4000,)
    assert out.info == {}
    auc = evaluate(out.scores, inputs.keep[0], fpr_targets=(0.01,)).auc
    assert auc > 0.85
    # independent check of the direction: members' mean score is higher
    assert out.scores[inputs.keep[0]].mean() > out.scores[~inputs.keep[0]].mean() + 1.0


def test_loss_attack_uses_requested_target():
    inputs = _synthetic(member_margin=4.0, nonmember_margin=1.0)
    scores = LossAttack().score(inputs, target=1).scores
    expected = loss_threshold_scores(inputs.logits[1].double(), inputs.labels)  # float64 signal
    torch.testing.assert_close(scores, expected)
    assert LossAttack.name == "loss"
    assert LossAttack.requires_shadows is False
