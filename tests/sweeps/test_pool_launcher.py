"""The pool launcher gives the results of one process per point, bit for bit.

One tiny 3-point sweep (a good point, a point with a bad override, another good point) runs
twice through the real CLI: ``--launcher local`` (a new process per point) and ``--launcher
pool`` with one worker, so the three points run one after another forked from the same worker
and the failed point comes between the two good ones.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
import yaml
from cli_runs import CONFIGS

from lightning_snnpriv.commands import main
from lightning_snnpriv.runs import RunDir
from lightning_snnpriv.sweeps.layout import SweepDir

#: Columns of the results table that differ between two runs of the same points.
WHERE_AND_WHEN = {"run_dir", "wall_s", "started", "command", "stdout", "stderr"}


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The same sweep run by each launcher: ``{launcher: (exit code, sweep dir)}``."""
    tmp = tmp_path_factory.mktemp("pool")
    spec = tmp / "tiny.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "tiny",
        "base": str(CONFIGS / "breast_cancer_snn.yaml"),
        "fixed": {"trainer.max_epochs": 1, "trainer.enable_progress_bar": False,
                  "trainer.enable_model_summary": False, "model.init_args.hidden_sizes": [8],
                  "model.init_args.num_steps": 2},
        "points": [{"model.init_args.weight_bits": None, "seed_everything": 3},
                   {"model.init_args.surrogate": "not_a_surrogate"},
                   {"model.init_args.weight_bits": 4, "seed_everything": 5}],
    }))  # fmt: skip
    out = {}
    for launcher, jobs in (("local", "3"), ("pool", "1")):
        with pytest.raises(SystemExit) as exit_:
            main(["sweep", "--config", str(spec), "--output-dir", str(tmp / launcher),
                  "--jobs", jobs, "--launcher", launcher])  # fmt: skip
        out[launcher] = (exit_.value.code, tmp / launcher / "tiny")
    return out


def _rows(sweep_dir: Path) -> list[dict[str, str]]:
    with open(sweep_dir / "report_0" / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def _attempts(sweep_dir: Path) -> dict[str, dict]:
    sweep = SweepDir(sweep_dir)
    manifest = sweep.load_manifest()
    return {p["name"]: sweep.attempts(p["name"]) for p in manifest["points"]}


def test_both_exit_1_for_the_failed_point(both):
    assert both["local"][0] == both["pool"][0] == 1


def test_the_results_table_is_the_same(both):
    local, pool = (_rows(both[k][1]) for k in ("local", "pool"))
    assert len(local) == len(pool) == 5  # two attacks of two points, one failed point
    assert [r["status"] for r in pool].count("failed") == 1
    for a, b in zip(local, pool, strict=True):
        assert {k: v for k, v in a.items() if k not in WHERE_AND_WHEN} == {
            k: v for k, v in b.items() if k not in WHERE_AND_WHEN
        }


def test_every_record_and_signal_is_bit_for_bit_the_same(both):
    local, pool = (_attempts(both[k][1]) for k in ("local", "pool"))
    assert local.keys() == pool.keys()
    finished = 0
    for name in local:
        (a,), (b,) = local[name], pool[name]
        assert (a["status"], a["returncode"], a["error"]) == (
            b["status"], b["returncode"], b["error"])  # fmt: skip
        assert b["command"] == a["command"].replace("/local/", "/pool/")
        if a["status"] != "finished":
            assert a["returncode"] == 2
            assert "not_a_surrogate" in Path(b["stderr"]).read_text()
            assert "Traceback" not in Path(b["stderr"]).read_text()
            continue
        finished += 1
        run_a, run_b = RunDir(a["run_dir"]), RunDir(b["run_dir"])
        assert run_a.load_results()["records"] == run_b.load_results()["records"]
        for x, y in zip(run_a.load_signals(), run_b.load_signals(), strict=True):
            assert torch.equal(x, y)
        assert (run_a.path / "config.yaml").read_text().replace("/local/", "/pool/") == (
            run_b.path / "config.yaml"
        ).read_text()
        # the point's own output went to its attempt files, as with a process of its own
        assert Path(b["stdout"]).read_text().strip()
    assert finished == 2


def test_points_of_different_seeds_differ(both):
    """The two finished points are not copies of one another (seeds took effect)."""
    runs = [a["run_dir"] for (a,) in _attempts(both["pool"][1]).values() if a["run_dir"]]
    first, second = (json.loads(json.dumps(RunDir(r).load_results()["records"])) for r in runs)
    assert first != second
