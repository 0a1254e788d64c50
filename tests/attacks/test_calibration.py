"""Every attack is at chance on outputs without membership information, in every scheme and mode.

The synthetic part runs in the default suite: a future attack (or a change to one) that is
biased, ties at the top, or depends on the membership it infers fails here. The checks are
shown to fail on the two defects of issue 13 (reference counts that depend on membership,
RMIA's ties at the top), reproduced here from the old code.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lightning_snnpriv.attacks import (
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
from lightning_snnpriv.attacks import lira as lira_module
from lightning_snnpriv.attacks import rmia as rmia_module
from lightning_snnpriv.attacks.base import Attack, AttackInputs, AttackOutput
from lightning_snnpriv.attacks.calibration import (
    MODES,
    calibrate,
    format_table,
    rises_with_effect,
    synthetic_outputs,
)
from lightning_snnpriv.data.membership import build_plan

NUM_SAMPLES, NUM_MODELS, SEEDS = 200, 6, 20
ONLINE = {"lira_online", "lira_online_fixvar", "rmia_online"}


def every_attack() -> list[Attack]:
    """Each attack and variant, with the settings of the shipped configs (a smaller SVM set)."""
    return [
        LossAttack(),
        ConfidenceAttack(),
        EntropyAttack(),
        ModifiedEntropyAttack(),
        GapAttack(),
        ShokriAttack(max_train_samples=300),
        ReferenceAttack(),
        LiRAAttack(online=True),
        LiRAAttack(online=True, fix_variance=True),
        LiRAAttack(online=False),
        LiRAAttack(online=False, fix_variance=True),
        RMIAAttack(online=True),
        RMIAAttack(online=False),
    ]


def plan(scheme: str, num_models: int = NUM_MODELS):
    labels = torch.from_numpy(np.random.default_rng(0).integers(0, 2, NUM_SAMPLES))
    is_train = np.arange(NUM_SAMPLES) < 0.8 * NUM_SAMPLES
    built = build_plan(scheme, num_models, labels.numpy(), is_train, seed=0)
    return torch.from_numpy(built.keep), torch.from_numpy(built.audit), labels


def run(scheme, attacks=None, **kwargs):
    keep, audit, labels = plan(scheme, kwargs.pop("num_models", NUM_MODELS))
    attacks = every_attack() if attacks is None else attacks
    return calibrate(attacks, keep, audit, labels, 2, scheme=scheme, **kwargs)


@pytest.fixture(scope="module", params=["lira", "shokri", "paper"])
def null_rows(request):
    return request.param, run(request.param, seeds=SEEDS)


def test_every_attack_is_at_chance_in_every_mode(null_rows):
    scheme, rows = null_rows
    table = format_table(rows)
    assert {(r.attack, r.mode) for r in rows} == {
        (a.name, m) for a in every_attack() for m in MODES
    }
    failed = [r for r in rows if r.skipped is None and not r.passed]
    assert not failed, f"attacks off chance on outputs without membership information:\n{table}"
    skipped = {r.attack for r in rows if r.skipped is not None}
    # what the plan cannot support: online attacks need IN references (lira scheme only);
    # with the paper scheme the target's members are IN for most shadows
    expected = {
        "lira": set(),
        "shokri": ONLINE | {"lira_offline"},
        "paper": ONLINE | {"reference", "lira_offline", "lira_offline_fixvar", "rmia_offline"},
    }[scheme]
    assert skipped == expected, table
    for r in rows:
        if r.skipped is None:
            assert r.seeds == SEEDS
            assert 0 < r.auc_se < 0.05
            assert {t[0] for t in r.tpr} == {0.1, 0.01, 0.0}


def test_auc_rises_with_a_planted_effect():
    rows = []
    for effect in (0.0, 1.0, 2.0):
        rows += run("lira", seeds=6, effect=effect, modes=("1", "pooled"))
    assert rises_with_effect(rows) == [], format_table(rows)
    strongest = [r for r in rows if r.effect == 2.0]
    # with leakage, TPR at FPR 0 is above zero for every attack whose top score can be
    # resolved (the gap attack's two levels and Attack-R's K + 1 levels tie by design)
    for r in strongest:
        tpr_at_zero = next(t[1] for t in r.tpr if t[0] == 0.0)
        assert (tpr_at_zero > 0) == (r.attack not in {"gap", "reference"}), format_table(rows)


class _Peeking(Attack):
    """An attack that reads the plan: a stand-in for a biased one (scores members higher)."""

    name = "peeking"

    def __init__(self, bias: float = 0.3) -> None:
        self.bias = bias

    def score(self, inputs: AttackInputs, target: int = 0) -> AttackOutput:
        g = torch.Generator().manual_seed(target)
        noise = torch.randn(inputs.num_samples, generator=g, dtype=torch.float64)
        return AttackOutput(noise + self.bias * inputs.keep[target].double(), {})


class _TopTies(Attack):
    """Unbiased but saturating: the upper tenth of its scores ties at 1.0."""

    name = "top_ties"

    def score(self, inputs: AttackInputs, target: int = 0) -> AttackOutput:
        g = torch.Generator().manual_seed(target)
        return AttackOutput(torch.rand(inputs.num_samples, generator=g).clamp(max=0.9).double(), {})


def test_the_checks_fail_on_a_biased_and_on_a_tied_attack():
    rows = run("lira", [_Peeking(), _TopTies()], seeds=SEEDS, modes=("1",))
    peeking, ties = rows
    assert not peeking.passed
    assert "AUC" in peeking.failures[0]
    assert not ties.passed
    assert "top score" in ties.failures[-1]
    assert "FAIL" in format_table(rows)


def _unbalanced(reference_keep, audited, need_in=True, available=None):
    """Defect 1 put back: every IN and OUT reference used, whatever the counts."""
    keep = reference_keep.cpu()
    usable = torch.ones_like(keep) if available is None else available.cpu()
    use_in = keep & usable if need_in else torch.zeros_like(keep)
    return use_in, ~keep & usable, 0, 0


def _ties_at_the_top(ratio_x, ratio_z, gamma, left_out):
    """Defect 2 put back: ``LR >= gamma`` over the z other than x itself (the old RMIA)."""
    hits = (ratio_x[:, None] / ratio_z[None, :] >= gamma).double().sum(1)
    is_z = ratio_z[left_out] == ratio_x  # the candidates among the z (the ratios are continuous)
    return (hits - is_z.double()) / (ratio_z.numel() - is_z.double())


def test_calibration_catches_reference_counts_that_depend_on_membership(monkeypatch):
    monkeypatch.setattr(lira_module, "equal_reference_counts", _unbalanced)
    rows = run("lira", [LiRAAttack(online=True)], seeds=SEEDS, modes=("all", "pooled"))
    assert all(not r.passed for r in rows), format_table(rows)
    assert all(r.auc < 0.5 - 3 * r.auc_se for r in rows)


def test_calibration_catches_ties_at_the_top(monkeypatch):
    monkeypatch.setattr(rmia_module, "pairwise_fraction", _ties_at_the_top)
    rows = run("lira", [RMIAAttack(online=True)], seeds=SEEDS, modes=("1", "all"))
    assert all(not r.passed for r in rows), format_table(rows)
    assert all(r.top_member == 0 for r in rows)


def test_synthetic_outputs_carry_no_membership_unless_planted():
    keep, _, labels = plan("lira")
    a, b = synthetic_outputs(keep, labels, 2, 3), synthetic_outputs(~keep, labels, 2, 3)
    assert torch.equal(a, b)  # without an effect the plan does not enter the draw
    planted = synthetic_outputs(keep, labels, 2, 3, effect=1.0)
    diff = (planted - a)[keep]
    torch.testing.assert_close(diff.sum(-1), torch.ones(int(keep.sum())))
    assert torch.equal(planted[~keep], a[~keep])


def test_bad_arguments():
    keep, audit, labels = plan("lira")
    with pytest.raises(ValueError, match="2 seeds"):
        calibrate([LossAttack()], keep, audit, labels, 2, seeds=1)
    with pytest.raises(ValueError, match="modes"):
        calibrate([LossAttack()], keep, audit, labels, 2, modes=("some",))
    with pytest.raises(ValueError, match="outputs"):
        calibrate([LossAttack()], keep, audit, labels, 2, outputs=lambda s: torch.zeros(1, 2, 2))


def _real_outputs(num_models: int, pool: int = NUM_SAMPLES):
    """``seed -> logits`` of small MLPs trained on 8x8 digits disjoint from the pool.

    Pool position ``i`` keeps its label ``y_i`` (the labels of the first ``pool`` digits), but
    each seed puts a different image of that class there, so a sample's difficulty is drawn
    independently of the (fixed) plan, as the synthetic outputs draw it. Each model trains
    (full-batch Adam, 60 steps) on its own random 400 of the images outside that seed's pool:
    no model has seen a pool image, so the outputs carry no membership information, but real
    per-sample difficulty and model noise.
    """
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = torch.from_numpy(x / 16.0).float()
    y = torch.from_numpy(y).long()
    labels = y[:pool]

    def outputs(seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        chosen = torch.empty(pool, dtype=torch.long)
        for c in labels.unique():
            where = (y == c).nonzero().squeeze(1)
            slots = (labels == c).nonzero().squeeze(1)
            chosen[slots] = where[torch.randperm(len(where), generator=gen)[: len(slots)]]
        rest = torch.ones(len(y), dtype=torch.bool)
        rest[chosen] = False
        rest = rest.nonzero().squeeze(1)
        logits = []
        for m in range(num_models):
            torch.manual_seed(1000 * seed + m)
            train = rest[torch.randperm(len(rest))[:400]]
            net = torch.nn.Sequential(
                torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
            )
            opt = torch.optim.Adam(net.parameters(), lr=0.01)
            for _ in range(60):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(x[train]), y[train]).backward()
                opt.step()
            with torch.no_grad():
                logits.append(net(x[chosen]))
        return torch.stack(logits)

    return outputs, labels


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["lira", "shokri", "paper"])
def test_every_attack_is_at_chance_on_real_models_trained_on_other_data(scheme):
    outputs, labels = _real_outputs(NUM_MODELS)
    is_train = np.arange(NUM_SAMPLES) < 0.8 * NUM_SAMPLES
    built = build_plan(scheme, NUM_MODELS, labels.numpy(), is_train, seed=0)
    keep, audit = torch.from_numpy(built.keep), torch.from_numpy(built.audit)
    rows = calibrate(
        every_attack(), keep, audit, labels, 10, scheme=scheme, seeds=SEEDS, outputs=outputs
    )
    failed = {r.attack for r in rows if r.skipped is None and not r.passed}
    # The paper scheme's known bias: its shadows train on the target's members (the train
    # split) and their non-members are target non-members (the test split), so the Shokri
    # attack model learns each image's outputs labelled with its target membership and scores
    # above chance on models that never saw it (about AUC 0.65 here). It is the source study's
    # protocol, kept as it is; use the lira or shokri scheme for unbiased numbers.
    assert failed == ({"shokri"} if scheme == "paper" else set()), format_table(rows)
    assert any(r.skipped is None for r in rows)
