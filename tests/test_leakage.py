"""The loss attack finds real leakage from an over-fitted model, and none where there is none."""

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from lightning_snnpriv.attacks import AttackInputs, LossAttack, evaluate
from lightning_snnpriv.models import ANN


def overfit_model():
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    x = torch.as_tensor(StandardScaler().fit_transform(x), dtype=torch.float32)[order]
    y = torch.as_tensor(y)[order]
    members = torch.zeros(len(y), dtype=torch.bool)
    members[:100] = True
    torch.manual_seed(0)
    net = ANN((64,), 10, hidden_sizes=[256])
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(200):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x[members]), y[members]).backward()
        opt.step()
    with torch.no_grad():
        logits = net(x)
    return logits, y, members


def audit(logits, labels, keep, audit_mask):
    inputs = AttackInputs(
        logits=logits[None], labels=labels, keep=keep[None], audit=audit_mask[None]
    )
    scores = LossAttack().score(inputs).scores
    return evaluate(scores[audit_mask], keep[audit_mask])


def test_loss_attack_on_an_overfit_model_is_clearly_above_chance():
    logits, labels, members = overfit_model()
    result = audit(logits, labels, members, torch.ones_like(members))
    assert result.auc > 0.7
    assert result.advantage > 0.3


def test_loss_attack_gives_chance_when_members_are_unseen_samples_of_the_same_distribution():
    logits, labels, members = overfit_model()
    unseen = torch.nonzero(~members).squeeze(1)
    fake = torch.zeros_like(members)
    fake[unseen[::2]] = True  # "members" the model never saw
    audit_mask = torch.zeros_like(members)
    audit_mask[unseen] = True
    result = audit(logits, labels, fake, audit_mask)
    assert abs(result.auc - 0.5) < 0.1
