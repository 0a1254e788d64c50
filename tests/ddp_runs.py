"""A tiny 2-process DDP fit through the real command line, however it is launched (test helpers).

``tests/distributed`` checks the run Lightning launches itself (it re-executes the command);
``tests/cluster`` launches the same config through SLURM and compares the two. A test-only
callback (``ddp_probe.TrainingProbe``) records on every rank what each model trained on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
PROBE_DIR = REPO / "tests" / "distributed"  # ddp_probe.py, loaded by the runs by class path
WORLD = 2
#: PYTHONPATH of a DDP run: this checkout (not an installed copy) and the probe.
PYTHONPATH = os.pathsep.join([str(REPO), str(PROBE_DIR)])


def ddp_config(tmp: Path, name: str, **data_args: Any) -> dict:
    """The shipped breast cancer ANN config, shrunk to a tiny 1-epoch DDP run."""
    config = yaml.safe_load((REPO / "configs" / "breast_cancer_ann.yaml").read_text())
    trainer = config["trainer"]
    trainer.update(
        max_epochs=1, accelerator="cpu", devices=WORLD, strategy="ddp",
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer["logger"]["init_args"].update(save_dir=str(tmp / "logs"), name=name)
    trainer["callbacks"] = [
        {"class_path": "ddp_probe.TrainingProbe", "init_args": {"out_dir": str(tmp / "probe")}}
    ]
    # 'paper': the shadow has fewer members than the target, so it sits out the last steps
    config["data"]["init_args"].update(scheme="paper", **data_args)
    config["model"]["init_args"]["hidden_sizes"] = [8]
    config["mia"]["print_table"] = False
    return config


def write_config(tmp: Path, config: dict) -> Path:
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def fit_command(config_path: Path, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "lightning_snnpriv", "fit", "--config", str(config_path),
            *overrides]  # fmt: skip


def fit_subprocess(
    tmp: Path, config: dict, launcher: Sequence[str] = ()
) -> subprocess.CompletedProcess:
    """Run the fit of ``config`` as ``<launcher> python -m lightning_snnpriv fit`` in ``tmp``."""
    command = [*launcher, *fit_command(write_config(tmp, config))]
    return subprocess.run(
        command, cwd=tmp, env={**os.environ, "PYTHONPATH": PYTHONPATH},
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def collect(tmp: Path, name: str) -> dict:
    """The finished run under ``tmp`` (exactly one run directory) and every rank's probe."""
    runs = sorted((tmp / "logs" / name).iterdir())
    assert [r.name for r in runs] == ["version_0"], runs  # one run directory for both ranks
    probes = [json.loads((tmp / "probe" / f"rank{r}.json").read_text()) for r in range(WORLD)]
    return {"tmp": tmp, "run": runs[0], "probes": probes}
