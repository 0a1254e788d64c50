"""DDP strategy choice, and the same collective code paths in an ordinary 1-process fit."""

import json
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import yaml
from pytorch_lightning.strategies import DDPStrategy
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from lightning_snnpriv.commands import main
from lightning_snnpriv.commands.fit import PrivacyCLI
from lightning_snnpriv.data import PrivacyDataModule
from lightning_snnpriv.distributed import (
    check_unused_parameter_detection,
    detecting_unused_parameters,
)
from lightning_snnpriv.errors import ConfigError
from lightning_snnpriv.models import PrivacyModule
from lightning_snnpriv.runs import PLAN_FILE, RESULTS_FILE, SIGNALS_FILE

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ddp", "ddp_find_unused_parameters_true"),
        ("ddp_spawn", "ddp_spawn_find_unused_parameters_true"),
        ("ddp_fork", "ddp_fork_find_unused_parameters_true"),
        ("ddp_notebook", "ddp_notebook_find_unused_parameters_true"),
        ("auto", "auto"),
        ("ddp_find_unused_parameters_false", "ddp_find_unused_parameters_false"),
    ],
)
def test_plain_ddp_names_detect_unused_parameters(given, expected):
    assert detecting_unused_parameters(given) == expected


def test_the_command_line_turns_strategy_ddp_into_detecting_unused_parameters():
    cli = PrivacyCLI(
        PrivacyModule,
        PrivacyDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        run=False,
        args=[
            "--config", str(REPO / "configs" / "iris_ann.yaml"),
            "--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.strategy=ddp",
            "--trainer.logger=false",
        ],
    )  # fmt: skip
    assert cli.config.trainer.strategy == "ddp_find_unused_parameters_true"
    assert isinstance(cli.trainer.strategy, DDPStrategy)


def test_ddp_without_unused_parameter_detection_is_refused(tmp_path):
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        with pytest.raises(ConfigError, match=r"trainer\.strategy: DDP runs here must detect"):
            check_unused_parameter_detection(DistributedDataParallel(nn.Linear(2, 2)))
        check_unused_parameter_detection(
            DistributedDataParallel(nn.Linear(2, 2), find_unused_parameters=True)
        )
    finally:
        dist.destroy_process_group()
    check_unused_parameter_detection(nn.Linear(2, 2))  # no DDP: nothing to check


def test_one_process_fit_audits_every_sample_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = yaml.safe_load((REPO / "configs" / "iris_ann.yaml").read_text())
    config["trainer"].update(max_epochs=1, enable_progress_bar=False, enable_model_summary=False)
    config["trainer"]["logger"]["init_args"]["save_dir"] = str(tmp_path / "logs")
    config["model"]["init_args"]["hidden_sizes"] = [4]
    config["mia"]["print_table"] = False
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    main(["fit", "--config", str(tmp_path / "c.yaml")])
    run = tmp_path / "logs" / "iris_ann" / "version_0"
    assert (run / PLAN_FILE).is_file()
    signals = torch.load(run / SIGNALS_FILE)
    from sklearn.datasets import load_iris

    _, y = load_iris(return_X_y=True)
    assert signals["outputs"].shape == (2, 150, 3)
    assert signals["labels"].tolist() == y.tolist()
    records = json.loads((run / RESULTS_FILE).read_text())["records"]
    assert {r["n_members"] + r["n_nonmembers"] for r in records} == {75}  # the target's half
