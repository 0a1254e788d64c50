"""The report re-scores a run's own attacks on its saved signals, through the run and the audit."""

from __future__ import annotations

import shutil

import pytest

from lightning_snnpriv.errors import UsageError
from lightning_snnpriv.runs import RunDir
from lightning_snnpriv.sweeps.curves import rescore


def test_rescore_reads_the_run_through_the_run_directory(finished_run, tmp_path):
    """The AUCs the run recorded, with the run's own attacks; a corrupt run is refused."""
    results = RunDir(finished_run).load_results()
    recorded = {r["attack"]: r["auc"] for r in results["records"] if r.get("target", 0) == 0}
    again = rescore(RunDir(finished_run))
    assert set(again) == set(recorded)
    for name, auc in recorded.items():
        assert again[name]["auc"] == pytest.approx(auc, abs=1e-9)
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    RunDir(copy).signals_file.write_bytes(b"\x80\x04truncated")
    with pytest.raises(UsageError, match=r"signals\.pt: not a readable signals file"):
        rescore(RunDir(copy))
