"""Attack names and presets: short names mean the online attacks, presets and their schemes."""

from __future__ import annotations

import pytest
import torch

from lightning_snnpriv.attacks import Audit, LiRAAttack, RMIAAttack, build_attacks
from lightning_snnpriv.attacks.registry import PRESET_SCHEMES, PRESETS, check_preset_schemes
from lightning_snnpriv.commands.attack import attack_specs
from lightning_snnpriv.data.membership import build_plan
from lightning_snnpriv.errors import ConfigError


def test_short_names_are_the_online_attacks_as_the_bare_classes():
    # `attack --attacks lira,rmia` used to give lira_online but rmia_offline
    names = [a.name for a in build_attacks(attack_specs("lira,rmia"))]
    assert names == ["lira_online", "rmia_online"]
    assert [LiRAAttack().name, RMIAAttack().name] == names
    offline = build_attacks(["lira_offline", "rmia_offline"])
    assert [a.online for a in offline] == [False, False]


def test_presets():
    assert [a.name for a in build_attacks(["paper"])] == ["shokri"]
    (shokri,) = build_attacks(["paper"])
    assert (shokri.classifier, shokri.per_class) == ("svm", True)  # the source study's
    assert [a.name for a in build_attacks(["strong"])] == ["lira_online", "rmia_online"]
    assert [a.name for a in build_attacks(["loss", "strong"])] == [
        "loss",
        "lira_online",
        "rmia_online",
    ]
    assert set(PRESETS) == {"default", "paper", "strong"}
    assert PRESET_SCHEMES["strong"][0] == "lira"


def _plan(scheme: str, models: int):
    labels = torch.arange(200) % 2
    built = build_plan(scheme, models, labels.numpy(), (torch.arange(200) < 160).numpy(), seed=0)
    return torch.from_numpy(built.keep), torch.from_numpy(built.audit)


def test_the_strong_preset_needs_the_lira_scheme():
    audit = Audit(["strong"])
    keep, audited = _plan("lira", 8)
    audit.check_plan(keep, audited, "lira")  # accepted
    keep, audited = _plan("shokri", 8)
    with pytest.raises(ConfigError) as err:
        audit.check_plan(keep, audited, "shokri")
    message = str(err.value)
    assert "preset 'strong'" in message
    assert "data.init_args.scheme: lira" in message
    assert "this run's scheme is 'shokri'" in message
    check_preset_schemes(["default", "paper", "loss"], "paper")  # no scheme needed


def test_fit_refuses_the_strong_preset_with_another_scheme(tmp_path, capsys):
    from cli_runs import CONFIGS

    from lightning_snnpriv.commands import main

    with pytest.raises(SystemExit) as exc:
        main(
            [
                "fit",
                "--config", str(CONFIGS / "iris_ann.yaml"),
                "--data.init_args.scheme=shokri",
                "--data.init_args.num_shadows=3",
                "--mia.attacks=[loss, strong]",
                f"--trainer.logger.init_args.save_dir={tmp_path}",
            ]
        )  # fmt: skip
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "data.init_args.scheme: lira" in err
    assert "Traceback" not in err
    assert not list(tmp_path.glob("*/version_*/checkpoints/*.ckpt"))  # nothing trained
