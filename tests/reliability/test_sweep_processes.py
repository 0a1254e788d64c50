"""Killing a sweep kills its fit, and a point another live process holds is not started twice
(issue 18, defect 4). Before the fix, ``kill -9`` of the sweep left its ``fit`` child training
without its attempt record, and an immediate rerun trained the same point concurrently.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from cli_runs import CONFIGS, REPO, run_cli

from lightning_snnpriv.sweeps.point_lock import LOCK_FILE, PointHeld, hold_point
from lightning_snnpriv.sweeps.spec import load_spec

#: A point that trains far longer than the test lasts.
LONG = {"trainer.max_epochs": 100000, "trainer.enable_progress_bar": False,
        "model.init_args.hidden_sizes": [8]}  # fmt: skip


def _sweep_config(tmp: Path) -> Path:
    path = tmp / "long.yaml"
    spec = {"name": "long", "base": str(CONFIGS / "breast_cancer_ann.yaml"),
            "output_dir": str(tmp / "sweeps"), "fixed": LONG}  # fmt: skip
    path.write_text(yaml.safe_dump(spec))
    return path


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal: Linux prctl")
def test_kill_9_of_the_sweep_kills_its_fit_and_frees_the_point(tmp_path):
    config = _sweep_config(tmp_path)
    (point,) = load_spec(config).expand()
    lock = tmp_path / "sweeps" / "long" / "runs" / point.name / LOCK_FILE
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    sweep = subprocess.Popen(
        [sys.executable, "-m", "lightning_snnpriv", "sweep", "--config", str(config),
         "--no-report"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip

    def fit_started() -> bool:
        assert sweep.poll() is None, sweep.stderr.read().decode()[-3000:]
        return lock.is_file() and "fit_pid" in lock.read_text()

    _wait(fit_started, 240, "the sweep started no fit within 240 s")
    fit_pid = json.loads(lock.read_text())["fit_pid"]
    assert _alive(fit_pid)
    with pytest.raises(PointHeld, match=f"pid {sweep.pid}"), hold_point(lock.parent):
        pass  # held while both live
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
    sweep.stderr.close()
    _wait(lambda: not _alive(fit_pid), 30, f"fit {fit_pid} outlived its sweep")
    with hold_point(lock.parent):  # the stale lock of the dead processes is taken over
        assert json.loads(lock.read_text())["pid"] == os.getpid()


def test_a_point_held_by_a_live_process_is_not_started_again(tmp_path, capsys):
    config = _sweep_config(tmp_path)
    (point,) = load_spec(config).expand()
    point_dir = tmp_path / "sweeps" / "long" / "runs" / point.name
    with hold_point(point_dir):  # another live process runs the point
        capsys.readouterr()
        assert run_cli(["sweep", "--config", str(config), "--no-report"]) == 0
    out = capsys.readouterr().out
    assert f"is being run by pid {os.getpid()}" in out
    assert sorted(p.name for p in point_dir.iterdir()) == [LOCK_FILE]  # no attempt, no run
