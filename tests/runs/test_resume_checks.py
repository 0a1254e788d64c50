"""Checkpoints: loadable without code, one file per epoch, and found by `--ckpt_path last`."""

from __future__ import annotations

import torch

from lightning_snnpriv.runs import RunDir
from lightning_snnpriv.runs.resume import find_last


def test_checkpoints_and_signals_load_weights_only(finished_run):
    run = RunDir(finished_run)
    plan = run.load_plan()
    for path in run.checkpoint_dir.glob("*.ckpt"):
        ckpt = torch.load(path, weights_only=True)
        (state,) = [v for k, v in ckpt["callbacks"].items() if k.startswith("RunCheckpoint")]
        assert state["plan_digest"] == plan.digest()
        assert isinstance(state["rng"]["torch"], torch.Tensor)
    signals = torch.load(run.signals_file, weights_only=True)
    assert signals["outputs"].shape[:2] == (plan.num_models, plan.num_samples)


def test_last_ckpt_is_the_newest_epoch_file_itself_written_once(finished_run):
    """One file per epoch: last.ckpt is a hard link to it and names itself as the last path."""
    folder, last = RunDir(finished_run).checkpoint_dir, RunDir(finished_run).last_checkpoint
    (epoch_file,) = [p for p in folder.iterdir() if p.name != "last.ckpt"]
    assert not last.is_symlink()
    assert last.samefile(epoch_file)
    ckpt = torch.load(last, weights_only=True)
    (state,) = [v for k, v in ckpt["callbacks"].items() if k.startswith("RunCheckpoint")]
    assert state["last_model_path"] == str(last)
    assert state["best_model_path"] == str(epoch_file)


def _fake_run(root, version, *files):
    run = root / "exp" / f"version_{version}"
    (run / "checkpoints").mkdir(parents=True)
    for name in files:
        (run / name).write_text("x")
    return run


def test_ckpt_path_last_picks_the_newest_interrupted_run(tmp_path):
    root = tmp_path / "exp"
    assert find_last(root) is None  # nothing yet: a new run starts
    _fake_run(tmp_path, 0, "checkpoints/last.ckpt", "mia_results.json")
    assert find_last(root) is None  # newest run is complete: a new run starts
    interrupted = _fake_run(tmp_path, 2, "checkpoints/last.ckpt")
    _fake_run(tmp_path, 10)  # started, killed before its first checkpoint
    assert find_last(root) == interrupted / "checkpoints" / "last.ckpt"
    audit_left = _fake_run(tmp_path, 11, "checkpoints/last.ckpt", "signals.pt")
    # finished training, killed during the audit: resuming it finishes the audit (defect 3)
    assert find_last(root) == audit_left / "checkpoints" / "last.ckpt"
    assert find_last(root, version=2) == interrupted / "checkpoints" / "last.ckpt"
