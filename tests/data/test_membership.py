import numpy as np
import pytest

from lightning_snnpriv.data.membership import MembershipPlan, build_plan
from lightning_snnpriv.errors import ConfigError, UsageError


def pool(n=200, classes=3, train_fraction=0.8, seed=1):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    is_train = rng.random(n) < train_fraction
    return labels, is_train


@pytest.mark.parametrize("scheme", ["paper", "shokri", "lira"])
def test_plan_is_seeded_and_keep_implies_audit(scheme):
    labels, is_train = pool()
    a = build_plan(scheme, 4, labels, is_train, seed=3)
    b = build_plan(scheme, 4, labels, is_train, seed=3)
    c = build_plan(scheme, 4, labels, is_train, seed=4)
    assert a == b
    assert a.digest() == b.digest()
    assert np.array_equal(a.keep, b.keep)
    assert np.array_equal(a.audit, b.audit)
    assert not np.array_equal(a.keep[1:], c.keep[1:])
    assert not (a.keep & ~a.audit).any()
    assert a.keep.shape == (4, labels.size)


def test_shokri_shadows_never_see_target_samples():
    labels, is_train = pool()
    plan = build_plan("shokri", 5, labels, is_train, seed=0)
    target_half = plan.audit[0]
    assert not (plan.keep[1:] & target_half).any()
    assert not (plan.audit[1:] & target_half).any()
    # halves of halves, stratified by class
    assert abs(target_half.sum() - labels.size / 2) <= 3
    assert abs(plan.keep[0].sum() - target_half.sum() / 2) <= 3
    for c in range(3):
        in_class = labels == c
        assert abs((target_half & in_class).sum() - in_class.sum() / 2) <= 1


def test_lira_each_sample_in_for_exactly_half_the_models():
    labels, is_train = pool()
    plan = build_plan("lira", 8, labels, is_train, seed=0)
    assert (plan.keep.sum(axis=0) == 4).all()
    assert plan.audit.all()
    with pytest.raises(ConfigError, match="even number of models"):
        build_plan("lira", 5, labels, is_train, seed=0)


def test_paper_scheme_is_the_source_study_protocol():
    labels, is_train = pool(n=500)
    plan = build_plan("paper", 2, labels, is_train, seed=0)
    assert np.array_equal(plan.keep[0], is_train)  # target members = train split
    assert np.array_equal(plan.nonmembers(0), np.flatnonzero(~is_train))
    shadow_members = plan.members(1)
    assert is_train[shadow_members].all()  # shadow trains inside the target's data
    assert shadow_members.size == round(0.8 * is_train.sum())
    shadow_out = plan.nonmembers(1)
    assert (~is_train[shadow_out]).all()
    assert shadow_out.size == round(0.2 * (~is_train).sum())


def test_pool_too_small_is_a_config_error():
    labels, is_train = pool(n=3)
    with pytest.raises(ConfigError, match="too small"):
        build_plan("shokri", 3, labels, is_train, seed=0)


