"""The source study's ANN attack as an option: class-balanced Shokri training, per-class AUC."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from lightning_snnpriv.attacks import AttackInputs, ShokriAttack, evaluate
from lightning_snnpriv.attacks.audit import Audit
from lightning_snnpriv.attacks.per_class import class_balanced_subsample, mean_class_auc
from lightning_snnpriv.data.membership import build_plan
from lightning_snnpriv.errors import ConfigError

NUM_CLASSES = 3


def _inputs(n=300, num_models=2, margin=(6.0, 1.0), member_rate=(0.8, 0.3, 0.5), seed=0):
    """Per-class member rates differ (unbalanced); members get a larger true-class margin."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % NUM_CLASSES
    keep = torch.rand(num_models, n, generator=gen) < torch.tensor(member_rate)[labels]
    logits = torch.randn(num_models, n, NUM_CLASSES, generator=gen)
    logits[:, torch.arange(n), labels] += torch.where(keep, *margin)
    return AttackInputs(logits, labels, keep, torch.ones(num_models, n, dtype=torch.bool))


def test_class_balanced_subsample_is_balanced_and_seeded():
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 4, 500)
    members = rng.random(500) < np.array([0.9, 0.5, 0.2, 0.7])[classes]
    kept = class_balanced_subsample(classes, members, seed=1)
    for cls in range(4):
        inside = classes[kept] == cls
        n_in = int(members[kept][inside].sum())
        assert (
            n_in
            == int(inside.sum()) - n_in
            == min(
                int((members & (classes == cls)).sum()), int((~members & (classes == cls)).sum())
            )
        )
    assert len(set(kept.tolist())) == len(kept)
    assert np.array_equal(kept, class_balanced_subsample(classes, members, seed=1))
    assert not np.array_equal(kept, class_balanced_subsample(classes, members, seed=2))


def test_balanced_attack_trains_on_equal_members_and_non_members():
    inputs = _inputs()
    plain = ShokriAttack(classifier="svm").score(inputs)
    balanced = ShokriAttack(classifier="svm", balance_per_class=True).score(inputs)
    assert plain.info["n_train_members"] * 2 != plain.info["n_train"]
    assert balanced.info["n_train_members"] * 2 == balanced.info["n_train"]
    assert balanced.info["n_train"] < plain.info["n_train"]
    assert evaluate(balanced.scores, inputs.keep[0], fpr_targets=(0.01,)).auc > 0.9
    again = ShokriAttack(classifier="svm", balance_per_class=True).score(inputs)
    assert torch.equal(balanced.scores, again.scores)  # seeded


def test_per_class_auc_is_reported_beside_the_pooled_auc():
    inputs = _inputs(margin=(2.0, 1.0))
    out = ShokriAttack(classifier="logistic").score(inputs)
    member, labels = inputs.keep[0].numpy(), inputs.labels.numpy()
    expected = {
        str(c): roc_auc_score(member[labels == c], out.scores.numpy()[labels == c])
        for c in range(NUM_CLASSES)
    }
    assert out.info["per_class_auc"] == pytest.approx(expected)
    assert out.info["per_class_auc_mean"] == pytest.approx(np.mean(list(expected.values())))


def test_mean_class_auc_skips_classes_without_both_sides():
    scores = torch.tensor([0.9, 0.1, 0.5, 0.4])
    out = mean_class_auc(
        scores, torch.tensor([True, False, True, True]), torch.tensor([0, 0, 1, 1])
    )
    assert out == {"per_class_auc": {"0": 1.0}, "per_class_auc_mean": 1.0}


def test_balanced_attack_is_at_chance_when_nothing_leaks():
    """Paper-like split, outputs independent of membership: the mean AUC over seeds is 0.5."""
    aucs = []
    for seed in range(12):
        labels = np.arange(240) % NUM_CLASSES
        plan = build_plan("shokri", 2, labels, np.ones(240, bool), seed=seed)
        gen = torch.Generator().manual_seed(seed)
        logits = torch.randn(2, 240, NUM_CLASSES, generator=gen)
        keep, audit = torch.from_numpy(plan.keep), torch.from_numpy(plan.audit)
        inputs = AttackInputs(logits, torch.from_numpy(labels), keep, audit)
        out = ShokriAttack(classifier="svm", balance_per_class=True, seed=seed).score(inputs)
        aucs.append(evaluate(out.scores[audit[0]], keep[0][audit[0]], fpr_targets=(0.1,)).auc)
    mean, se = np.mean(aucs), np.std(aucs, ddof=1) / np.sqrt(len(aucs))
    assert abs(mean - 0.5) < 3 * se + 0.01


def test_option_from_a_config_and_its_errors():
    section = {"attacks": [{"class_path": "lightning_snnpriv.attacks.ShokriAttack",
                            "init_args": {"balance_per_class": True}}]}  # fmt: skip
    (attack,) = Audit.from_config(section).attacks
    assert attack.balance_per_class is True
    assert attack.settings()["balance_per_class"] is True
    with pytest.raises(ConfigError, match="balance_per_class must be true or false"):
        ShokriAttack(balance_per_class="yes")


def test_both_variants_run_in_one_audit_under_their_own_names():
    """``shokri`` and ``shokri_balanced`` in one list: distinct records, each its own training."""
    inputs = _inputs()
    audit = Audit(["shokri", "shokri_balanced"], fpr_targets=[0.1], bootstrap=0)
    assert [a.balance_per_class for a in audit.attacks] == [False, True]
    result = audit.run(inputs.logits, inputs.labels, inputs.keep, inputs.audit)
    records = {r["attack"]: r for r in result.records}
    assert set(records) == {"shokri", "shokri_balanced"}
    plain, balanced = records["shokri"]["info"], records["shokri_balanced"]["info"]
    assert balanced["n_train_members"] * 2 == balanced["n_train"] < plain["n_train"]
    assert {"per_class_auc_mean"} <= set(plain) & set(balanced)
    section = {"attacks": [{"class_path": "lightning_snnpriv.attacks.ShokriAttack",
                            "init_args": {"balance_per_class": True}}, "shokri"]}  # fmt: skip
    assert [a.name for a in Audit.from_config(section).attacks] == ["shokri_balanced", "shokri"]


def test_two_attacks_sharing_a_name_are_a_config_error():
    with pytest.raises(ConfigError, match=r"'shokri_balanced' is given more than once"):
        Audit(["shokri_balanced", ShokriAttack(classifier="logistic", balance_per_class=True)])
    with pytest.raises(ConfigError, match="run the other in a separate run"):
        Audit(["shokri", ShokriAttack(max_train_samples=None)])
