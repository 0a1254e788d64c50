"""A run killed during its audit (issue 18, defect 3) is finished into its own results.

The state after SIGKILL between ``signals.pt`` and ``mia_results.json`` is a finished run
without its audit's files (every run file is written atomically, so none is half-written).
Before the fix, ``--ckpt_path last`` said "no interrupted run" and trained a new version, and
``attack --run`` wrote ``mia_results.1.json``, so a sweep still counted the point unfinished.
"""

from __future__ import annotations

import json
import shutil

import pytest
from cli_runs import run_cli

from lightning_snnpriv.runs.resume import newest_complete

AUDIT_FILES = ("mia_results.json", "scores.pt", "roc*.png", "report*.html")


def _killed_during_audit(finished_run, tmp_path):
    logs = tmp_path / "logs"
    run = logs / finished_run.parent.name / "version_0"
    shutil.copytree(finished_run, run)
    for pattern in AUDIT_FILES:
        for file in run.glob(pattern):
            file.unlink()
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    return logs, run, before


def _same_audit(run, finished_run):
    got = json.loads((run / "mia_results.json").read_text())
    want = json.loads((finished_run / "mia_results.json").read_text())
    assert got["settings"] == want["settings"]
    assert [(r["attack"], r["auc"]) for r in got["records"]] == [
        (r["attack"], r["auc"]) for r in want["records"]
    ]


@pytest.mark.parametrize("how", ["fit --ckpt_path last", "attack --run"])
def test_a_run_killed_during_its_audit_is_finished_into_its_own_results(
    how, finished_run, tmp_path, monkeypatch
):
    logs, run, before = _killed_during_audit(finished_run, tmp_path)
    monkeypatch.chdir(tmp_path)
    if how == "attack --run":
        args = ["attack", "--run", str(run), "--print_table=false"]
    else:
        args = ["fit", "--config", str(run / "config.yaml"), "--ckpt_path", "last",
                f"--trainer.logger.init_args.save_dir={logs}"]  # fmt: skip
    assert run_cli(args) == 0
    assert sorted(p.name for p in run.parent.iterdir()) == ["version_0"]  # no new version
    assert not list(run.glob("mia_results.*.json"))
    assert (run / "scores.pt").is_file()
    _same_audit(run, finished_run)
    for name, data in before.items():  # nothing that existed changed
        assert (run / name).read_bytes() == data, name
    assert newest_complete(run.parent).path == run  # what a sweep counts as done
