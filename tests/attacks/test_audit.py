"""The audit as a library: attacks by name, one set of defaults, validated settings, records."""

from __future__ import annotations

import pytest
import torch

from lightning_snnpriv.attacks import (
    AttackInputs,
    Audit,
    LiRAAttack,
    LossAttack,
    RMIAAttack,
    ShokriAttack,
    build_attacks,
)
from lightning_snnpriv.attacks.audit import run_audit
from lightning_snnpriv.attacks.registry import NAMED_ATTACKS, PRESETS
from lightning_snnpriv.errors import ConfigError


def test_every_name_builds_the_attack_of_that_name():
    for name, (cls, _) in NAMED_ATTACKS.items():
        (attack,) = build_attacks([name])
        assert isinstance(attack, cls)
        if name not in ("lira", "rmia"):  # class short names: the class with its defaults
            assert attack.name == name
    assert build_attacks(["lira"])[0].name == LiRAAttack().name
    assert build_attacks(["rmia"])[0].name == RMIAAttack().name


def test_the_default_preset_is_every_command_s_default():
    default = build_attacks()
    assert [type(a) for a in default] == [LossAttack, ShokriAttack]
    assert [a.settings() for a in default] == [LossAttack().settings(), ShokriAttack().settings()]
    assert [a.name for a in Audit().attacks] == [a.name for a in default]
    assert [a.name for a in build_attacks([next(iter(PRESETS))])] == ["loss", "shokri"]
    # the attack command's default is the run's own, and a run without any is the same preset
    assert [a.name for a in Audit.from_config({}).attacks] == [a.name for a in default]


def test_unknown_and_repeated_names_are_config_errors():
    with pytest.raises(ConfigError, match="unknown attack 'nope'"):
        build_attacks(["nope"])
    with pytest.raises(ConfigError, match="unique"):
        build_attacks(["loss", LossAttack()])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"fpr_targets": [2.0]}, "fpr_targets"),
        ({"bootstrap": -1}, "bootstrap"),
        ({"bootstrap": True}, "bootstrap"),
        ({"query_dropout": 1.0}, "query_dropout"),
        ({"query_repeats": 0}, "query_repeats"),
        ({"targets": 0}, "targets"),
    ],
)
def test_settings_given_from_python_are_checked_like_the_command_line(kwargs, field):
    with pytest.raises(ConfigError, match=f"`mia.{field}`"):
        Audit(**kwargs)


def test_from_config_ignores_the_callback_s_keys_and_applies_overrides():
    section = {
        "attacks": ["loss", {"class_path": "lightning_snnpriv.attacks.RMIAAttack",
                             "init_args": {"online": True}}],
        "save_signals": True,
        "print_table": False,
        "bootstrap": 7,
    }  # fmt: skip
    audit = Audit.from_config(section, targets="all")
    assert [a.name for a in audit.attacks] == ["loss", "rmia_online"]
    assert audit.bootstrap == 7
    assert audit.targets == "all"
    assert audit.settings()["fpr_targets"] == list(Audit().fpr_targets)


def test_run_is_run_audit_with_accuracy_and_settings():
    g = torch.Generator().manual_seed(0)
    outputs, labels = torch.randn(4, 40, 3, generator=g), torch.randint(3, (40,), generator=g)
    keep = torch.rand(4, 40, generator=g) < 0.5
    audit_mask = torch.ones_like(keep)
    audit = Audit(["loss", "gap"], fpr_targets=[0.1], targets="all", bootstrap=0)
    result = audit.run(outputs, labels, keep, audit_mask, settings={"kind": "x"})
    inputs = AttackInputs(outputs, labels, keep, audit_mask)
    extra = {"settings": {"kind": "x"}}
    direct = run_audit(inputs, audit.attacks, [0, 1, 2, 3], (0.1,), extra=extra)
    assert [r["auc"] for r in result.records] == [r["auc"] for r in direct.records]
    assert list(result.results) == ["settings", "mia", "accuracy", "records", "timing"]
    assert result.results["mia"] == audit.settings()
    assert len(result.accuracy["train"]) == 4
    assert torch.equal(result.score_tensors()["scores"], direct.scores)
