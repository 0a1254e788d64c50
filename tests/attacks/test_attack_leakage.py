"""Known leakage: over-fitted MLPs on a small pool with 16 models (the lira scheme)."""

import warnings

import pytest
import torch
from torch import nn

from lightning_snnpriv.attacks import (
    ATTACK_CLASSES,
    AttackInputs,
    ConfidenceAttack,
    EntropyAttack,
    GapAttack,
    LiRAAttack,
    LossAttack,
    ModifiedEntropyAttack,
    ReferenceAttack,
    RMIAAttack,
    ShokriAttack,
)
from lightning_snnpriv.attacks.audit import POOLED, run_audit
from lightning_snnpriv.data.membership import build_plan

NUM_MODELS, N, D, C = 16, 400, 10, 4


def _data(generator, n):
    x = torch.randn(n, D, generator=generator)
    w = torch.randn(D, C, generator=generator.manual_seed(123))  # one fixed labelling rule
    y = (x @ w).argmax(1)
    flip = torch.rand(n, generator=generator) < 0.2  # hard examples: memorized, never learned
    y[flip] = torch.randint(C, (int(flip.sum()),), generator=generator)
    return x, y


def _fit(x, y, seed):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(D, 128), nn.ReLU(), nn.Linear(128, C))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(300):  # full batch, long enough to memorize the members
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return net


@pytest.fixture(scope="module")
def leaky():
    g = torch.Generator().manual_seed(0)
    x, y = _data(g, N)
    plan = build_plan("lira", NUM_MODELS, y.numpy(), torch.ones(N).bool().numpy(), seed=0)
    keep = torch.from_numpy(plan.keep)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matmuls: extra threads only contend (20x slower on 2 cores)
    try:
        nets = [_fit(x[keep[m]], y[keep[m]], m) for m in range(NUM_MODELS)]
        x_out, y_out = _data(torch.Generator().manual_seed(99), N // 2)
        outsider = _fit(x_out, y_out, 1000)  # trained on nothing of the pool
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        return torch.stack([net(x) for net in nets]), y, keep, outsider(x)


def _tpr_at_1pct(record):
    return next(p["tpr"] for p in record["tpr_at_fpr"] if p["fpr_target"] == 0.01)


def test_lira_and_rmia_beat_loss_at_low_fpr(leaky):
    logits, labels, keep, _ = leaky
    inputs = AttackInputs(logits, labels, keep, torch.ones_like(keep))
    attacks = [
        LossAttack(),
        LiRAAttack(online=True),
        LiRAAttack(online=True, fix_variance=True),
        LiRAAttack(online=False, fix_variance=True),
        RMIAAttack(online=True),
        RMIAAttack(online=False, a=0.3),
    ]
    result = run_audit(inputs, attacks, list(range(NUM_MODELS)), fpr_targets=(0.01,))
    pooled = {r["attack"]: r for r in result.records if r["target"] == POOLED}
    assert all(r["n_nonmembers"] == NUM_MODELS * N // 2 for r in pooled.values())
    loss = _tpr_at_1pct(pooled["loss"])
    for name in (
        "lira_online",
        "lira_online_fixvar",
        "lira_offline_fixvar",
        "rmia_online",
        "rmia_offline",
    ):
        assert _tpr_at_1pct(pooled[name]) > loss, (name, _tpr_at_1pct(pooled[name]), loss)
    assert pooled["loss"]["auc"] > 0.6  # the models do leak


def test_model_trained_on_none_of_the_pool_gives_chance(leaky):
    logits, labels, keep, outsider = leaky
    logits = logits.clone()
    logits[0] = outsider  # "members" of model 0 per the plan were never seen by it
    inputs = AttackInputs(logits, labels, keep, torch.ones_like(keep))
    attacks = [
        cls()
        for cls in (
            LossAttack,
            ConfidenceAttack,
            EntropyAttack,
            ModifiedEntropyAttack,
            GapAttack,
            ReferenceAttack,
        )
    ]
    attacks += [
        ShokriAttack(classifier="logistic", per_class=False),
        LiRAAttack(online=True),
        LiRAAttack(online=False),
        RMIAAttack(online=True),
        RMIAAttack(online=False),
    ]
    assert {type(a) for a in attacks} == set(ATTACK_CLASSES.values())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_audit(inputs, attacks, [0], fpr_targets=(0.01,))
    for record in result.records:
        # 200 members vs 200 non-members: the AUC's standard error is about 0.03
        assert abs(record["auc"] - 0.5) < 0.1, (record["attack"], record["auc"])
