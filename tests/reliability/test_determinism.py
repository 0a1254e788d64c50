"""Same config and seed -> same plan, same trained weights and same attack numbers (CPU)."""

from __future__ import annotations

import json

import numpy as np
import torch
from cli_runs import fit_small


def _state(run_dir):
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    return ckpt["state_dict"]


def _numbers(run_dir):
    results = json.loads((run_dir / "mia_results.json").read_text())
    return results["accuracy"], [
        {k: r[k] for k in ("attack", "auc", "tpr_at_fpr", "balanced_accuracy", "advantage")}
        for r in results["records"]
    ]


def test_same_seed_same_plan_weights_and_results(finished_run, tmp_path):
    again = fit_small(tmp_path)
    with np.load(finished_run / "membership.npz") as a, np.load(again / "membership.npz") as b:
        assert np.array_equal(a["keep"], b["keep"])
        assert np.array_equal(a["audit"], b["audit"])
    first, second = _state(finished_run), _state(again)
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key
    s1 = torch.load(finished_run / "signals.pt", weights_only=True)
    s2 = torch.load(again / "signals.pt", weights_only=True)
    assert torch.equal(s1["outputs"], s2["outputs"])
    assert _numbers(finished_run) == _numbers(again)


def test_other_seed_other_plan_and_weights(finished_run, tmp_path):
    other = fit_small(tmp_path, "--seed_everything=1")
    with np.load(finished_run / "membership.npz") as a, np.load(other / "membership.npz") as b:
        assert not np.array_equal(a["keep"], b["keep"])
    first, second = _state(finished_run), _state(other)
    assert any(not torch.equal(first[k], second[k]) for k in first)
