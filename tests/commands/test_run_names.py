"""``fit`` names a run after the settings its command line changed, unless the user named it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cli_runs import DEFAULT_CONFIG, run_cli

from lightning_snnpriv.commands.run_names import changed_settings, config_only_args
from lightning_snnpriv.runs import RunDir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A small copy of the default config (its logger name kept) and the runs made from it."""
    tmp = tmp_path_factory.mktemp("names")
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["trainer"].update(max_epochs=1, enable_progress_bar=False, enable_model_summary=False)
    config["trainer"]["logger"]["init_args"]["save_dir"] = str(tmp / "logs")
    config["model"]["init_args"].update(hidden_sizes=[8], num_steps=2)
    config["mia"]["print_table"] = False
    path = tmp / "small.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    lira = ["--data.init_args.scheme=lira", "--data.init_args.num_shadows", "3"]
    fits = {
        "plain": [],
        "same_values": ["--data.init_args.scheme=shokri", "--trainer.devices=1"],
        "lira": [*lira, "--trainer.accelerator=cpu"],
        "lira_again": [*lira, "--ckpt_path", "last"],
        "named": [*lira, "--trainer.logger.init_args.name=mine"],
    }
    codes = {key: run_cli(["fit", "--config", str(path), *args]) for key, args in fits.items()}
    return {"logs": tmp / "logs", "codes": codes}


def _tree(logs: Path) -> dict[str, list[str]]:
    return {d.name: sorted(v.name for v in d.iterdir()) for d in sorted(logs.iterdir())}


def test_every_fit_succeeded(runs):
    assert set(runs["codes"].values()) == {0}, runs["codes"]


def test_a_default_run_keeps_its_name_and_a_changed_one_gets_its_own(runs):
    assert _tree(runs["logs"]) == {
        "breast_cancer_snn": ["version_0", "version_1"],  # plain, and the config's own values
        "breast_cancer_snn-lira-m4": ["version_0", "version_1"],  # a second run: a new version
        "mine": ["version_0"],  # the user's name wins
    }


def test_the_run_config_holds_its_name_and_every_setting(runs):
    run = RunDir(runs["logs"] / "breast_cancer_snn-lira-m4" / "version_0")
    config = run.load_config()
    assert config["trainer"]["logger"]["init_args"]["name"] == "breast_cancer_snn-lira-m4"
    assert config["data"]["init_args"]["scheme"] == "lira"
    assert config["data"]["init_args"]["num_shadows"] == 3
    assert run.load_plan().num_models == 4
    assert run.is_complete


def test_only_config_files_is_no_change():
    assert config_only_args(["fit", "--config", "a.yaml", "-c", "b.yaml"]) is None
    assert config_only_args(["fit", "--config", "a.yaml", "--trainer.max_epochs", "-1"]) == [
        "fit", "--config", "a.yaml",
    ]  # fmt: skip
    for naming in ("--trainer.logger.init_args.version=3", "--trainer.logger=false"):
        assert config_only_args(["fit", "--config", "a.yaml", naming]) is None


def test_settings_that_measure_nothing_do_not_rename():
    base = {"trainer.devices": 1, "data.init_args.num_workers": 0, "trainer.max_epochs": 5}
    final = {"trainer.devices": 2, "data.init_args.num_workers": 4, "trainer.max_epochs": 6}
    assert changed_settings(base, final) == {"trainer.max_epochs": 6}


class _Parsed(Exception):
    """Raised instead of running the fit: the parsed config is in ``args[0]``."""


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ([], "breast_cancer_snn"),
        (["--data.init_args.scheme=lira", "--data.init_args.num_shadows=15"],
         "breast_cancer_snn-lira-m16"),
        (["--model.init_args.weight_bits=4", "--model.init_args.act_bits=4"],
         "breast_cancer_snn-w4-a4"),
        (["--model.init_args.surrogate=atan", "--seed_everything=1"], "breast_cancer_snn-atan-s1"),
        (["--trainer.max_epochs=3"], "breast_cancer_snn-max_epochs3"),
        (["--trainer.devices=1", "--data.init_args.num_workers=4"], "breast_cancer_snn"),
        (["--trainer.logger.init_args.name=mine", "--seed_everything=1"], "mine"),
        (["--data.init_args.scheme=lira", "--data.init_args.num_shadows=15",
          "--mia.attacks=[loss, lira_online, rmia_online]", "--mia.targets=all"],
         "breast_cancer_snn-lira-m16-attacks_a39956-targets_all"),  # the tutorial's
    ],
)  # fmt: skip
def test_the_names_the_docs_show(args, name, monkeypatch):
    """The examples of docs/guide/configuration.md (Run names) and docs/tutorial.md."""
    import lightning_snnpriv.commands.fit as fit

    def parsed(cfg):
        raise _Parsed(cfg)

    monkeypatch.setattr(fit, "prepare_fit", parsed)
    with pytest.raises(_Parsed) as got:
        fit.build_cli(["fit", "--config", str(DEFAULT_CONFIG), *args])
    assert got.value.args[0].trainer.logger.init_args.name == name
