"""Run files load without executing code, are never overwritten, and are checked when re-used."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from jsonargparse import Namespace

from lightning_snnpriv.data.membership import MembershipPlan
from lightning_snnpriv.errors import UsageError
from lightning_snnpriv.io import save_tensors, write_json
from lightning_snnpriv.progress import progress
from lightning_snnpriv.resume import find_last
from lightning_snnpriv.run_dir import load_run


def test_checkpoints_and_signals_load_weights_only(finished_run):
    plan = MembershipPlan.load(finished_run / "membership.npz")
    for path in (finished_run / "checkpoints").glob("*.ckpt"):
        ckpt = torch.load(path, weights_only=True)
        (state,) = [v for k, v in ckpt["callbacks"].items() if k.startswith("RunCheckpoint")]
        assert state["plan_digest"] == plan.digest()
        assert isinstance(state["rng"]["torch"], torch.Tensor)
    signals = torch.load(finished_run / "signals.pt", weights_only=True)
    assert signals["outputs"].shape[:2] == (plan.num_models, plan.num_samples)


def test_last_ckpt_is_the_newest_epoch_file_itself_written_once(finished_run):
    """One file per epoch: last.ckpt is a hard link to it and names itself as the last path."""
    folder = finished_run / "checkpoints"
    last = folder / "last.ckpt"
    (epoch_file,) = [p for p in folder.iterdir() if p.name != "last.ckpt"]
    assert not last.is_symlink()
    assert last.samefile(epoch_file)
    ckpt = torch.load(last, weights_only=True)
    (state,) = [v for k, v in ckpt["callbacks"].items() if k.startswith("RunCheckpoint")]
    assert state["last_model_path"] == str(last)
    assert state["best_model_path"] == str(epoch_file)


def test_load_run_accepts_a_finished_run(finished_run):
    run = load_run(finished_run)
    assert run.outputs.shape == (2, run.plan.num_samples, 2)
    assert run.labels.shape == (run.plan.num_samples,)
    assert run.results_path.exists()
    assert run.config["model"]["class_path"].endswith("SNNClassifier")


def _copy(run, tmp_path):
    return shutil.copytree(run, tmp_path / "copy", ignore=shutil.ignore_patterns("*.ckpt"))


def test_load_run_refuses_what_is_not_a_run(finished_run, tmp_path):
    with pytest.raises(UsageError, match="no such directory"):
        load_run(tmp_path / "absent")
    with pytest.raises(UsageError, match=r"config.yaml, membership.npz, signals.pt missing"):
        load_run(tmp_path)
    copy = _copy(finished_run, tmp_path)
    (copy / "signals.pt").unlink()
    with pytest.raises(UsageError, match=r"signals\.pt missing.*--ckpt_path last"):
        load_run(copy)


def test_load_run_refuses_signals_that_do_not_match_the_plan(finished_run, tmp_path):
    copy = _copy(finished_run, tmp_path)
    signals = torch.load(copy / "signals.pt", weights_only=True)
    (copy / "signals.pt").unlink()
    save_tensors(copy / "signals.pt", {"outputs": signals["outputs"][:, :-3],
                                       "labels": signals["labels"][:-3]})  # fmt: skip
    with pytest.raises(UsageError, match="different runs"):
        load_run(copy)


def test_load_run_refuses_nan_outputs(finished_run, tmp_path):
    copy = _copy(finished_run, tmp_path)
    signals = torch.load(copy / "signals.pt", weights_only=True)
    signals["outputs"][1, 5, 0] = float("nan")
    (copy / "signals.pt").unlink()
    save_tensors(copy / "signals.pt", signals)
    with pytest.raises(UsageError, match=r"1 NaN or infinite outputs \(the first from model 1"):
        load_run(copy)


def test_load_run_refuses_corrupt_files(finished_run, tmp_path):
    copy = _copy(finished_run, tmp_path)
    (copy / "signals.pt").write_bytes(b"\x80\x04truncated")
    with pytest.raises(UsageError, match=r"signals\.pt: not a readable signals file"):
        load_run(copy)
    shutil.copy(finished_run / "signals.pt", copy / "signals.pt")
    with np.load(copy / "membership.npz") as f:
        arrays = dict(f)
    arrays["keep"] = ~arrays["keep"]  # contents no longer match the stored digest
    (copy / "membership.npz").unlink()
    np.savez(copy / "membership.npz", **arrays)
    with pytest.raises(UsageError, match=r"membership\.npz: the plan's contents do not match"):
        load_run(copy)


def test_results_and_signals_are_never_overwritten(tmp_path):
    save_tensors(tmp_path / "s.pt", {"x": torch.zeros(1)})
    write_json(tmp_path / "r.json", {"auc": 0.5})
    with pytest.raises(UsageError, match="never overwritten"):
        save_tensors(tmp_path / "s.pt", {"x": torch.ones(1)})
    with pytest.raises(UsageError, match="never overwritten"):
        write_json(tmp_path / "r.json", {"auc": 0.9})
    assert torch.load(tmp_path / "s.pt", weights_only=True)["x"].item() == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "s.pt"]  # no temp files


def test_progress_bar_names_the_item_only_when_enabled(capsys):
    assert list(progress(["loss", "shokri"], enabled=True, desc="attacking", label=str)) == [
        "loss",
        "shokri",
    ]
    shown = capsys.readouterr().err
    assert "attacking" in shown
    assert "shokri" in shown
    list(progress(["loss"], enabled=False, desc="attacking", label=str))
    assert capsys.readouterr().err == ""


def _fake_run(root, version, *files):
    run = root / "exp" / f"version_{version}"
    (run / "checkpoints").mkdir(parents=True)
    for name in files:
        (run / name).write_text("x")
    return run


def test_ckpt_path_last_picks_the_newest_interrupted_run(tmp_path):
    logger = Namespace(save_dir=str(tmp_path), name="exp", version=None)
    assert find_last(logger) is None  # nothing yet: a new run starts
    _fake_run(tmp_path, 0, "checkpoints/last.ckpt", "mia_results.json")
    assert find_last(logger) is None  # newest run is complete: a new run starts
    interrupted = _fake_run(tmp_path, 2, "checkpoints/last.ckpt")
    _fake_run(tmp_path, 10)  # started, killed before its first checkpoint
    assert find_last(logger) == interrupted / "checkpoints" / "last.ckpt"
    _fake_run(tmp_path, 11, "checkpoints/last.ckpt", "signals.pt")
    assert find_last(logger) is None  # finished training: `attack --run`, not resume
    assert find_last(Namespace(save_dir=str(tmp_path), name="exp", version=2)) == (
        interrupted / "checkpoints" / "last.ckpt"
    )


def test_report_rescore_reads_the_run_through_load_run(finished_run, tmp_path):
    """The report re-scores a run's own attacks on its signals: the AUCs the run recorded."""
    import json

    from lightning_snnpriv.report import rescore

    results = json.loads((finished_run / "mia_results.json").read_text())
    recorded = {r["attack"]: r["auc"] for r in results["records"] if r.get("target", 0) == 0}
    again = rescore(finished_run)
    assert set(again) == set(recorded)
    for name, auc in recorded.items():
        assert again[name]["auc"] == pytest.approx(auc, abs=1e-9)
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    (copy / "signals.pt").write_bytes(b"\x80\x04truncated")
    with pytest.raises(UsageError, match=r"signals\.pt: not a readable signals file"):
        rescore(copy)
