"""``calibrate``: the attacks of a fit config checked at chance on its own plan, in-process."""

from __future__ import annotations

import pytest
from cli_runs import CONFIGS

from lightning_snnpriv.attacks import rmia as rmia_module
from lightning_snnpriv.commands import main

ANN = str(CONFIGS / "breast_cancer_ann.yaml")
#: The lira scheme with 6 models (2 IN and 2 OUT references per sample at least), every model
#: audited, three attacks by name.
LIRA6 = [
    "--data.init_args.scheme=lira",
    "--data.init_args.num_shadows=5",
    "--mia.targets=all",
    "--mia.attacks=[loss, lira_online, rmia_online]",
    "--mia.fpr_targets=[0.1, 0.01]",
]


def _table(out: str) -> dict[tuple[str, str], str]:
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[1] == "lira" and parts[2] in ("1", "all", "pooled"):
            rows[parts[0], parts[2]] = line
    return rows


def test_every_attack_of_the_config_is_at_chance(capsys):
    main(["calibrate", "--config", ANN, *LIRA6])  # returns: exit status 0
    out = capsys.readouterr().out
    assert "scheme 'lira': 6 models, 569 pool samples, 2 classes, 20 seeds" in out
    rows = _table(out)
    assert set(rows) == {(a, m) for a in ("loss", "lira_online", "rmia_online")
                         for m in ("1", "all", "pooled")}  # fmt: skip
    assert all(line.endswith("ok") for line in rows.values()), out
    assert "TPR@0.1" in out
    assert "TPR@0.01" in out
    assert "every attack is at chance on this plan" in out


def test_a_biased_attack_exits_1(capsys, monkeypatch):
    # issue 13's defect 2 put back: RMIA's `>=` ties the top non-member with the members
    def ties_at_the_top(ratio_x, ratio_z, gamma, left_out):
        hits = (ratio_x[:, None] / ratio_z[None, :] >= gamma).double().sum(1)
        is_z = ratio_z[left_out] == ratio_x
        return (hits - is_z.double()) / (ratio_z.numel() - is_z.double())

    monkeypatch.setattr(rmia_module, "pairwise_fraction", ties_at_the_top)
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", "--config", ANN, *LIRA6, "--modes=1", "--seeds=20"])
    assert exc.value.code == 1
    out = capsys.readouterr().out
    rows = _table(out)
    assert rows["rmia_online", "1"].endswith("FAIL")
    assert rows["loss", "1"].endswith("ok")
    assert "FAILED: rmia_online off chance" in out


def test_a_finished_run_s_config(tmp_path, capsys):
    main(
        [
            "fit",
            "--config", str(CONFIGS / "iris_ann.yaml"),
            "--data.init_args.scheme=lira",
            "--data.init_args.num_shadows=5",
            "--mia.attacks=[loss, rmia]",
            "--model.init_args.hidden_sizes=[4]",
            "--trainer.max_epochs=1",
            "--trainer.enable_progress_bar=false",
            f"--trainer.logger.init_args.save_dir={tmp_path}",
        ]
    )  # fmt: skip
    (config,) = tmp_path.glob("*/version_*/config.yaml")
    capsys.readouterr()
    main(["calibrate", "--config", str(config), "--seeds=10"])
    out = capsys.readouterr().out
    assert "2 attack(s) on scheme 'lira': 6 models, 150 pool samples, 3 classes, 10 seeds" in out
    assert set(_table(out)) == {("loss", "1"), ("rmia_online", "1")}


def test_unsupported_attack_is_listed_not_failed(capsys):
    # the shokri scheme gives no IN references: online LiRA cannot run (fit refuses it too)
    main(["calibrate", "--config", ANN, "--mia.attacks=[loss, lira_online]", "--seeds=4"])
    out = capsys.readouterr().out
    assert "modes 1 " in out
    assert "n/a: attack 'lira_online' needs" in out
    assert "not applicable to this plan (fit refuses them too): lira_online" in out


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--seeds=1"], "--seeds must be >= 2"),
        (["--modes=1,some"], "--modes must be among"),
        (["--alpha=2"], "--alpha must lie in (0, 1)"),
        (["--mia.attacks=[nope]"], "unknown attack 'nope'"),
    ],
)
def test_bad_input_exits_2(capsys, argv, field):
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", "--config", ANN, *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert field in err
    assert "Traceback" not in err


def test_help_documents_the_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--seeds", "--effect", "--modes", "--alpha", "--config"):
        assert option in out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "calibrate" in capsys.readouterr().out
