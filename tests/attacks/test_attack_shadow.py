import numpy as np
import pytest
import torch
from sklearn.svm import SVC

from lightning_snnpriv.attacks import AttackInputs, ShokriAttack, evaluate, shokri_scores
from lightning_snnpriv.attacks.shadow import stratified_subsample
from lightning_snnpriv.errors import ConfigError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

NUM_CLASSES = 3


def _separable(num_models: int = 3, n: int = 240, seed: int = 0) -> AttackInputs:
    """Members get a large true-class margin (6), non-members a small one (1)."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % NUM_CLASSES
    keep = torch.rand(num_models, n, generator=gen) < 0.5
    logits = torch.randn(num_models, n, NUM_CLASSES, generator=gen)
    logits[:, torch.arange(n), labels] += torch.where(keep, 6.0, 1.0)
    return AttackInputs(logits, labels, keep, torch.ones(num_models, n, dtype=torch.bool))


@pytest.mark.parametrize("classifier", ["svm", "logistic", "mlp"])
@pytest.mark.parametrize("per_class", [True, False])
def test_separable_shadows_give_high_auc(classifier, per_class):
    inputs = _separable()
    attack = ShokriAttack(classifier=classifier, per_class=per_class, features="raw")
    out = attack.score(inputs)
    assert out.scores.shape == (240,)
    assert out.scores.dtype == torch.float64
    assert out.info["fallback_classes"] == []
    assert out.info["n_train"] == 2 * 240  # two shadows, every sample audited
    assert out.info["per_class_models"] == ([0, 1, 2] if per_class else [])
    assert evaluate(out.scores, inputs.keep[0], fpr_targets=(0.01,)).auc > 0.95


def test_svm_scores_are_continuous_and_softmax_features_work():
    inputs = _separable()
    out = ShokriAttack(classifier="svm", features="softmax").score(inputs)
    assert len(torch.unique(out.scores)) > 200  # decision_function, not 0/1 predictions
    assert evaluate(out.scores, inputs.keep[0], fpr_targets=(0.01,)).auc > 0.95


def test_other_target_uses_other_models_as_shadows():
    inputs = _separable()
    out = ShokriAttack(classifier="logistic", per_class=False).score(inputs, target=2)
    direct = shokri_scores(
        inputs.logits[[0, 1]],
        inputs.keep[[0, 1]],
        inputs.audit[[0, 1]],
        inputs.logits[2],
        inputs.labels,
        classifier="logistic",
        per_class=False,
        features="raw",
        min_samples_per_class=2,
        max_train_samples=5000,
        seed=0,
    )
    torch.testing.assert_close(out.scores, direct.scores)
    assert evaluate(out.scores, inputs.keep[2], fpr_targets=(0.01,)).auc > 0.95


def test_per_class_fallback_when_a_class_lacks_nonmembers():
    inputs = _separable(num_models=2)
    shadow_keep = inputs.keep[1].clone()
    shadow_audit = inputs.audit[1].clone()
    # class 2: the shadow audits only its members -> no non-members for class 2
    cls2 = inputs.labels == 2
    shadow_audit[cls2 & ~shadow_keep] = False
    out = shokri_scores(
        inputs.logits[1:],
        shadow_keep[None],
        shadow_audit[None],
        inputs.logits[0],
        inputs.labels,
        classifier="svm",
        per_class=True,
        features="raw",
        min_samples_per_class=2,
        max_train_samples=None,
        seed=0,
    )
    assert out.info["fallback_classes"] == [2]
    assert out.info["per_class_models"] == [0, 1]
    assert out.info["n_train"] == int(shadow_audit.sum())

    # independent oracle: class 0 and 1 use their own SVM, class 2 the global SVM
    x = inputs.logits[1][shadow_audit].double().numpy()
    y = shadow_keep[shadow_audit].numpy().astype(int)
    c = inputs.labels[shadow_audit].numpy()
    target_x = inputs.logits[0].double().numpy()
    target_c = inputs.labels.numpy()
    for cls in (0, 1):
        own = SVC(kernel="rbf").fit(x[c == cls], y[c == cls])
        np.testing.assert_allclose(
            out.scores[target_c == cls].numpy(), own.decision_function(target_x[target_c == cls])
        )
    global_model = SVC(kernel="rbf").fit(x, y)
    np.testing.assert_allclose(
        out.scores[target_c == 2].numpy(), global_model.decision_function(target_x[target_c == 2])
    )


def test_min_samples_per_class_threshold():
    inputs = _separable(num_models=2, n=60)
    n_out_class0 = int(((inputs.labels == 0) & ~inputs.keep[1]).sum())
    n_in_class0 = int(((inputs.labels == 0) & inputs.keep[1]).sum())
    smallest = min(n_out_class0, n_in_class0)
    kwargs = {"classifier": "logistic", "per_class": True, "max_train_samples": None}
    at = ShokriAttack(min_samples_per_class=smallest, **kwargs).score(inputs)
    above = ShokriAttack(min_samples_per_class=smallest + 1, **kwargs).score(inputs)
    assert 0 not in at.info["fallback_classes"]
    assert 0 in above.info["fallback_classes"]


def test_max_train_samples_is_honoured_and_stratified():
    inputs = _separable(num_models=4, n=300)  # 3 shadows x 300 = 900 training pairs
    out = ShokriAttack(classifier="svm", max_train_samples=150, seed=3).score(inputs)
    assert out.info["n_train"] == 150
    shadow_keep = inputs.keep[1:]
    member_share = float(shadow_keep.float().mean())
    assert abs(out.info["n_train_members"] - 150 * member_share) <= NUM_CLASSES  # +-1 per class
    uncapped = ShokriAttack(classifier="svm", max_train_samples=None).score(inputs)
    assert uncapped.info["n_train"] == 900


def test_stratified_subsample():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 6, 1000)
    counts = np.bincount(groups, minlength=6)
    chosen = stratified_subsample(groups, 100, seed=1)
    assert len(chosen) == 100
    assert len(np.unique(chosen)) == 100
    sub_counts = np.bincount(groups[chosen], minlength=6)
    assert np.all(np.abs(sub_counts - 100 * counts / 1000) < 1)
    np.testing.assert_array_equal(chosen, stratified_subsample(groups, 100, seed=1))
    assert not np.array_equal(chosen, stratified_subsample(groups, 100, seed=2))
    np.testing.assert_array_equal(stratified_subsample(groups, 5000, seed=1), np.arange(1000))


def test_no_shadow_error():
    inputs = _separable(num_models=1)
    with pytest.raises(ConfigError, match="at least one shadow"):
        ShokriAttack().score(inputs)
    assert ShokriAttack.requires_shadows is True
    assert ShokriAttack.name == "shokri"


def test_shadows_without_nonmembers_error():
    inputs = _separable(num_models=2)
    keep = inputs.keep.clone()
    keep[1] = True
    inputs = AttackInputs(inputs.logits, inputs.labels, keep, inputs.audit)
    with pytest.raises(ValueError, match=r"needs shadow members and non-members.*0 non-members"):
        ShokriAttack().score(inputs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"classifier": "forest"}, "classifier must be one of.*'forest'"),
        ({"features": "logits"}, "features must be one of.*'logits'"),
        ({"min_samples_per_class": 0}, "min_samples_per_class must be an integer >= 1; got 0"),
        ({"max_train_samples": 1}, "max_train_samples must be an integer >= 2 or null.*got 1"),
        ({"per_class": "yes"}, "per_class must be true or false"),
        ({"seed": 1.5}, "seed must be an integer"),
    ],
)
def test_config_validation(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ShokriAttack(**kwargs)


def test_leave_one_out_pairs_are_balanced_per_sample():
    """lira-like plan: every sample has as many IN as OUT training pairs, whatever the target."""
    from lightning_snnpriv.attacks.shadow import balanced_pairs

    gen = torch.Generator().manual_seed(0)
    keep = torch.rand(6, 50, generator=gen).argsort(0) < 3  # each sample IN for 3 of 6
    audit = torch.ones_like(keep)
    for target in range(6):
        others = [m for m in range(6) if m != target]
        pairs, balanced = balanced_pairs(keep[others], audit[others], audit[target])
        assert balanced
        n_in, n_out = (pairs & keep[others]).sum(0), (pairs & ~keep[others]).sum(0)
        assert n_in.unique().tolist() == [2]  # a member of the target has 2 IN among the rest
        assert n_out.unique().tolist() == [2]
    # shokri-like (the shadows never audit a target sample) and paper-like (each target sample
    # only IN or only OUT for the shadows): nothing to balance, the pairs are kept
    shokri_audit = torch.zeros_like(keep)
    shokri_audit[1:, 25:] = True
    shadow_keep = keep[1:] & shokri_audit[1:]
    pairs, balanced = balanced_pairs(shadow_keep, shokri_audit[1:], ~shokri_audit[1])
    assert not balanced
    assert torch.equal(pairs, shokri_audit[1:])
    paper_keep = torch.zeros(5, 50, dtype=torch.bool)
    paper_keep[:, :40] = True
    pairs, balanced = balanced_pairs(paper_keep, torch.ones_like(paper_keep), audit[0])
    assert not balanced
    assert pairs.all()


def test_attack_records_whether_pairs_were_balanced():
    inputs = _separable(num_models=3)
    assert ShokriAttack().score(inputs).info["balanced_pairs"] is False  # random keep: 0 IN
