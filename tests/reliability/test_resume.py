"""A fit killed with SIGKILL mid-training resumes with --ckpt_path last into the same run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import torch
from cli_runs import REPO, run_cli

CONFIG = REPO / "configs" / "breast_cancer_ann.yaml"
EPOCHS = 12
#: The run's name: the config's, with the settings ARGS change (``fit`` names it so).
NAME = f"breast_cancer_ann-hidden_sizes8-max_epochs{EPOCHS}"
#: A tiny network and many short epochs: a checkpoint appears early and the kill lands mid-way.
ARGS = [
    "fit", "--config", str(CONFIG),
    "--model.init_args.hidden_sizes=[8]",
    f"--trainer.max_epochs={EPOCHS}",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--mia.print_table=false",
]  # fmt: skip


def test_sigkill_then_resume_last_continues_the_same_run(tmp_path, monkeypatch):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lightning_snnpriv", *ARGS],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    run_dir = tmp_path / "logs" / NAME / "version_0"
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not last.exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint within 300 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    killed_at = torch.load(last, weights_only=True)["epoch"]
    assert killed_at < EPOCHS - 1
    assert not (run_dir / "mia_results.json").exists()
    plan_before = (run_dir / "membership.npz").read_bytes()

    monkeypatch.chdir(tmp_path)
    assert run_cli([*ARGS, "--ckpt_path", "last"]) == 0

    assert sorted(p.name for p in (tmp_path / "logs" / NAME).iterdir()) == ["version_0"]
    assert (run_dir / "membership.npz").read_bytes() == plan_before
    assert (run_dir / "config.yaml").exists()
    assert (run_dir / "config.resume-1.yaml").exists()
    resumed = torch.load(last, weights_only=True)
    assert resumed["epoch"] == EPOCHS - 1
    results = json.loads((run_dir / "mia_results.json").read_text())
    assert [r["attack"] for r in results["records"]] == ["loss", "shokri"]
    assert all(np.isfinite(r["auc"]) for r in results["records"])

    # The resumed run restored the random state of the interrupted one: it ends with exactly
    # the weights and results of a run that was never interrupted.
    reference = tmp_path / "reference"
    assert run_cli([*ARGS, f"--trainer.logger.init_args.save_dir={reference}"]) == 0
    ref_dir = reference / NAME / "version_0"
    expected = torch.load(ref_dir / "checkpoints" / "last.ckpt", weights_only=True)
    for key, value in expected["state_dict"].items():
        assert torch.equal(resumed["state_dict"][key], value), key
    ref_results = json.loads((ref_dir / "mia_results.json").read_text())
    assert [r["auc"] for r in results["records"]] == [r["auc"] for r in ref_results["records"]]
