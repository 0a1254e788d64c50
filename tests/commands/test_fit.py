"""The real command line, in-process: every shipped config, the outputs of a run, bad input."""

import os
import subprocess
import sys

import pytest
import yaml
from cli_runs import CONFIGS, REPO, load_results

from lightning_snnpriv.commands import main

# the image configs need dataset files: tests/test_image_configs.py runs them on fake ones
TABULAR = sorted(CONFIGS.glob("iris_*.yaml")) + sorted(CONFIGS.glob("breast_cancer_*.yaml"))


def event_tags(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    return acc


@pytest.mark.parametrize("config", TABULAR, ids=lambda p: p.stem)
def test_every_config_runs_end_to_end(config, fit, capsys):
    run = fit(config, "--model.init_args.hidden_sizes=[32]")
    results = load_results(run)
    names = [r["attack"] for r in results["records"]]
    assert names == ["loss", "shokri"]
    for record in results["records"]:
        assert 0 <= record["auc"] <= 1
        assert record["n_members"] > 0
        assert record["n_nonmembers"] > 0
        assert record["settings"]["data"] in config.read_text()
    for name in ("config.yaml", "membership.npz", "signals.pt", "roc.png", "hparams.yaml"):
        assert (run / name).is_file(), name
    out = capsys.readouterr().out
    assert "target accuracy" in out
    assert "shokri" in out


def test_run_outputs_tensorboard_scalars_hparams_and_roc(fit):
    run = fit(CONFIGS / "iris_ann.yaml", "--model.init_args.hidden_sizes=[16]")
    acc = event_tags(run)
    scalars = set(acc.Tags()["scalars"])
    for attack in ("loss", "shokri"):
        for metric in ("auc", "tpr_at_fpr_0.01", "tpr_at_fpr_0.001", "balanced_accuracy"):
            assert f"mia/{attack}/{metric}" in scalars
    assert {"mia/target_test_acc", "train/loss", "val/acc"} <= scalars
    assert "mia/roc" in acc.Tags()["images"]
    results = load_results(run)
    logged = acc.Scalars("mia/loss/auc")[-1].value
    assert logged == pytest.approx(results["records"][0]["auc"], abs=1e-6)
    # one hparams session, written at the end with the metrics it relates to
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = acc.PluginTagToContent("hparams")
    assert set(content) == {
        "_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"
    }
    data = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"])
    metric_tags = {m.name.tag for m in data.experiment.metric_infos}
    assert {"mia/loss/auc", "mia/shokri/auc", "mia/target_test_acc"} <= metric_tags
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    assert start.session_start_info.hparams["kind"].string_value == "ann"
    assert start.session_start_info.hparams["data.scheme"].string_value == "shokri"


def test_links_come_from_the_data(fit):
    run = fit(CONFIGS / "iris_snn.yaml", "--model.init_args.hidden_sizes=[8]",
              "--model.init_args.num_steps=2", "--data.init_args.num_shadows=2")
    settings = load_results(run)["settings"]
    assert settings["num_classes"] == 3
    assert list(settings["input_shape"]) == [4]
    assert settings["num_models"] == 3
    assert settings["data.seed"] == 0


def test_runs_are_versioned_and_never_overwritten(fit):
    first = fit(CONFIGS / "iris_ann.yaml", "--model.init_args.hidden_sizes=[8]")
    before = (first / "mia_results.json").read_bytes()
    second = fit(CONFIGS / "iris_ann.yaml", "--model.init_args.hidden_sizes=[8]")
    assert first != second
    assert first.parent == second.parent
    assert (first / "mia_results.json").read_bytes() == before


def test_print_config_and_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", str(CONFIGS / "breast_cancer_snn.yaml"), "--print_config"])
    assert exit_.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["class_path"] == "lightning_snnpriv.models.SNNClassifier"
    assert printed["mia"]["attacks"][1]["class_path"] == "lightning_snnpriv.attacks.ShokriAttack"
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--help"])
    assert exit_.value.code == 0
    assert "--mia.attacks" in capsys.readouterr().out


@pytest.mark.parametrize("subcommand", ["validate", "test"])
def test_validate_and_test_subcommands(subcommand, tmp_path, capsys):
    main([subcommand, "--config", str(CONFIGS / "iris_ann.yaml"),
          "--model.init_args.hidden_sizes=[8]", "--trainer.enable_progress_bar=false",
          f"--trainer.logger.init_args.save_dir={tmp_path}"])
    stage = "val" if subcommand == "validate" else "test"
    assert f"{stage}/acc" in capsys.readouterr().out


# The full table of bad inputs is tests/reliability/bad_input_cases.py; these two are not in it.
BAD = [
    (["--model.init_args.hidden_sizes=wide"], "hidden_sizes"),
    (["--data.class_path=lightning_snnpriv.data.NoSuchData"], "NoSuchData"),
]


@pytest.mark.parametrize(("overrides", "field"), BAD, ids=[b[1] for b in BAD])
def test_bad_input_exits_2_with_a_message_naming_the_field(overrides, field, tmp_path, capsys):
    save_dir = tmp_path / "logs"
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", str(CONFIGS / "iris_snn.yaml"), *overrides,
              f"--trainer.logger.init_args.save_dir={save_dir}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert field in err
    assert "Traceback" not in err
    assert not list(save_dir.glob("*/*/mia_results.json"))


def test_pool_too_small_for_the_scheme(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", str(CONFIGS / "iris_ann.yaml"), "--data.init_args.scheme=paper",
              "--data.init_args.test_fraction=0.02",
              "--data.init_args.shadow_nonmember_fraction=0.1",
              f"--trainer.logger.init_args.save_dir={tmp_path}"])
    assert exit_.value.code == 2
    assert "too small" in capsys.readouterr().err


def test_python_dash_m_entry_point(tmp_path):
    """The one subprocess test: ``python -m lightning_snnpriv`` is the same command line."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "lightning_snnpriv", "fit", "--config",
         str(CONFIGS / "iris_ann.yaml"), "--data.init_args.scheme=nope"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    assert "scheme" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_online_lira_on_shokri_scheme_fails_before_training(tmp_path, capsys):
    attacks = "[{class_path: lightning_snnpriv.attacks.LiRAAttack, init_args: {online: true}}]"
    with pytest.raises(SystemExit) as err:
        main(
            [
                "fit",
                "--config", str(CONFIGS / "iris_ann.yaml"),
                "--data.init_args.scheme=shokri",
                "--data.init_args.num_shadows=3",
                f"--mia.attacks={attacks}",
                f"--trainer.logger.init_args.save_dir={tmp_path}",
            ]
        )  # fmt: skip
    assert err.value.code == 2
    message = capsys.readouterr().err
    assert "lira_online" in message
    assert "IN" in message
    assert not list(tmp_path.glob("*/version_*/checkpoints/*.ckpt"))  # nothing trained
