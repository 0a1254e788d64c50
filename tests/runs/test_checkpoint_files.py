"""Checkpoints survive a moved run directory and a full disk (issue 18, defects 5 and 6).

Before the fixes: after ``mv`` of a run directory, resuming wrote ``last-v1.ckpt`` beside a
``last.ckpt`` left at the old epoch and never deleted the old epoch file; a full disk left a
half-written ``epoch=...ckpt`` and ended in a traceback.
"""

from __future__ import annotations

import shutil

import pytest
import torch
from cli_runs import DEFAULT_CONFIG, SMALL, run_cli
from mounts import tiny_tmpfs

from lightning_snnpriv.runs import RunDir

AUDIT_FILES = ("signals.pt", "mia_results.json", "scores.pt", "roc*.png", "report*.html")


def _fit(save_dir, *extra):
    return run_cli(["fit", "--config", str(DEFAULT_CONFIG), *SMALL,
                    f"--trainer.logger.init_args.save_dir={save_dir}", *extra])  # fmt: skip


def test_resume_after_moving_the_run_directory(tmp_path, monkeypatch):
    assert _fit(tmp_path / "old", "--trainer.max_epochs=1") == 0
    (run,) = (tmp_path / "old").glob("*/version_0")
    for pattern in AUDIT_FILES:  # interrupted after the first epoch's checkpoint
        for file in run.glob(pattern):
            file.unlink()
    moved = tmp_path / "new" / "elsewhere" / "version_0"
    moved.parent.mkdir(parents=True)
    shutil.move(run, moved)
    shutil.rmtree(tmp_path / "old")
    monkeypatch.chdir(tmp_path)
    last = moved / "checkpoints" / "last.ckpt"
    assert _fit(tmp_path / "ignored", "--trainer.max_epochs=3", "--ckpt_path", str(last)) == 0
    names = sorted(p.name for p in (moved / "checkpoints").iterdir())
    assert len(names) == 2, names  # no last-v1.ckpt, the epoch-0 file cleaned up
    assert names[0].startswith("epoch=2-"), names
    assert names[1] == "last.ckpt"
    assert torch.load(last, weights_only=True)["epoch"] == 2
    assert RunDir(moved).is_complete
    assert not (tmp_path / "ignored").exists()
    assert not (tmp_path / "old").exists()


@pytest.fixture
def full_disk(tmp_path):
    with tiny_tmpfs(tmp_path / "disk", "160k") as mounted:
        if not mounted:
            pytest.skip("cannot mount a small tmpfs here (needs root): the ENOSPC path is not run")
        yield tmp_path / "disk"


def test_disk_full_while_checkpointing_is_one_paragraph_and_leaves_no_partial_file(
    full_disk, capsys
):
    capsys.readouterr()
    code = _fit(full_disk, "--model.init_args.hidden_sizes=[400]")  # ~300 KB checkpoints
    err = capsys.readouterr().err
    assert code == 2, err[-3000:]
    assert "Traceback" not in err
    message = err[err.index("error: ") :]
    assert "no space left" in message
    assert "checkpoints" in message
    assert err.count("error: ") == 1
    (run,) = full_disk.glob("*/version_0")
    assert list((run / "checkpoints").iterdir()) == []  # nothing half-written
    RunDir(run).load_plan()  # what was written before is intact
