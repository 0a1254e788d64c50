"""Points run at once share the CPUs: each point's math libraries get its share of threads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from lightning_snnpriv.sweeps.runner import (
    THREAD_VARIABLES,
    LocalLauncher,
    point_env,
    threads_per_point,
)
from lightning_snnpriv.sweeps.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("cpus", "jobs", "threads"), [(8, 1, 8), (8, 2, 4), (8, 3, 2), (2, 4, 1)])
def test_threads_are_the_cpus_shared_out(monkeypatch, cpus, jobs, threads):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)))
    assert threads_per_point(jobs) == threads


def test_the_point_gets_its_threads_unless_the_user_set_them(monkeypatch):
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert all(point_env(3)[name] == "3" for name in THREAD_VARIABLES)
    assert not any(name in point_env() for name in THREAD_VARIABLES)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    env = point_env(3)
    assert env["OMP_NUM_THREADS"] == "7"  # the user's own setting wins
    assert env["MKL_NUM_THREADS"] == "3"


def test_the_local_launcher_gives_every_point_its_share(tmp_path, monkeypatch):
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "base": str(ROOT / "configs" / "breast_cancer_ann.yaml"),
        "grid": {"seed_everything": [0, 1, 2]},
        "output_dir": str(tmp_path / "sweeps"),
    }))  # fmt: skip
    spec = load_spec(path)
    seen = []

    def execute(command, out, err, env, cwd) -> int:  # the point's command is not run
        seen.append({name: env.get(name) for name in THREAD_VARIABLES})
        return 1

    records = LocalLauncher(jobs=2, execute=execute).launch(spec, spec.expand(), lambda _: None)
    assert [r["status"] for r in records] == ["failed"] * 3
    assert seen == [dict.fromkeys(THREAD_VARIABLES, "4")] * 3
