"""Run files load without executing code, are never overwritten, and are checked when re-used."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from lightning_snnpriv.data.membership import build_plan
from lightning_snnpriv.errors import UsageError
from lightning_snnpriv.runs import RunDir, load_plan, save_plan
from lightning_snnpriv.runs.files import save_tensors, write_json
from lightning_snnpriv.runs.run_dir import settings_digest


def load_run(path):
    return RunDir(path).load()


def test_load_run_accepts_a_finished_run(finished_run):
    run = load_run(finished_run)
    assert run.outputs.shape == (2, run.plan.num_samples, 2)
    assert run.labels.shape == (run.plan.num_samples,)
    assert run.results["records"][0]["attack"] == "loss"
    assert run.config["model"]["class_path"].endswith("SNNClassifier")
    assert run.dir.is_complete
    assert run.dir.finished_training


def _copy(run, tmp_path):
    return shutil.copytree(run, tmp_path / "copy", ignore=shutil.ignore_patterns("*.ckpt"))


def test_load_run_refuses_what_is_not_a_run(finished_run, tmp_path):
    with pytest.raises(UsageError, match="no such directory"):
        load_run(tmp_path / "absent")
    with pytest.raises(UsageError, match=r"config.yaml, membership.npz, signals.pt missing"):
        load_run(tmp_path)
    copy = _copy(finished_run, tmp_path)
    (copy / "signals.pt").unlink()
    with pytest.raises(UsageError, match=r"signals\.pt missing \(the run is complete"):
        load_run(copy)  # defect 10: not "--ckpt_path last", which would start a new run
    (copy / "mia_results.json").unlink()
    with pytest.raises(UsageError, match=r"signals\.pt missing.*interrupted.*--ckpt_path last"):
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


def test_load_run_refuses_results_whose_settings_were_changed(finished_run, tmp_path):
    """``attack --run`` copies the results' settings: a changed copy is refused, not copied."""
    copy = _copy(finished_run, tmp_path)
    results = json.loads((copy / "mia_results.json").read_text())
    assert results["settings_digest"] == settings_digest(results["settings"])
    results["settings"]["num_models"] += 1
    (copy / "mia_results.json").write_text(json.dumps(results))
    with pytest.raises(UsageError, match=r"mia_results\.json was changed after the audit"):
        load_run(copy)
    del results["settings_digest"]  # a file written before the digest existed
    (copy / "mia_results.json").write_text(json.dumps(results))
    assert load_run(copy).results["settings"]["num_models"] == results["settings"]["num_models"]


def test_results_and_signals_are_never_overwritten(tmp_path):
    save_tensors(tmp_path / "s.pt", {"x": torch.zeros(1)})
    write_json(tmp_path / "r.json", {"auc": 0.5})
    with pytest.raises(UsageError, match="never overwritten"):
        save_tensors(tmp_path / "s.pt", {"x": torch.ones(1)})
    with pytest.raises(UsageError, match="never overwritten"):
        write_json(tmp_path / "r.json", {"auc": 0.9})
    assert torch.load(tmp_path / "s.pt", weights_only=True)["x"].item() == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "s.pt"]  # no temp files


def test_plan_save_load_round_trip_and_no_overwrite(tmp_path):
    labels, is_train = np.repeat([0, 1], 20), np.arange(40) < 30
    plan = build_plan("lira", 4, labels, is_train, seed=0)
    path = tmp_path / "membership.npz"
    save_plan(path, plan)
    assert load_plan(path) == plan
    with pytest.raises(UsageError, match="never overwritten"):
        save_plan(path, plan)


def test_plan_is_saved_once_then_only_compared(tmp_path):
    labels, is_train = np.repeat([0, 1], 20), np.arange(40) < 30
    run = RunDir(tmp_path)
    plan = build_plan("shokri", 2, labels, is_train, seed=0)
    run.save_or_check_plan(plan)
    saved = run.plan_file.read_bytes()
    run.save_or_check_plan(build_plan("shokri", 2, labels, is_train, seed=0))  # the same plan
    assert run.plan_file.read_bytes() == saved
    with pytest.raises(UsageError, match="differs from the one this config builds"):
        run.save_or_check_plan(build_plan("shokri", 2, labels, is_train, seed=1))
    assert run.plan_file.read_bytes() == saved


def test_names_suffixes_and_config_files(tmp_path):
    run = RunDir(tmp_path)
    assert run.free_suffix() == ".1"
    assert run.new_config_file().name == "config.yaml"
    run.config_file.write_text("{}")
    assert run.new_config_file().name == "config.resume-1.yaml"
    write_json(run.results_file(".1"), {})
    (tmp_path / "roc.2.png").write_bytes(b"")
    assert run.free_suffix() == ".3"
    assert run.figure_file("mia/roc_linear", ".3").name == "roc_linear.3.png"
