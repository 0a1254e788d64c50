"""Shared fixtures: small runs of the real CLI, in-process, writing under a temporary dir."""

from pathlib import Path

import pytest
import torch
from cli_runs import fit_small, run_fit
from ddp_runs import collect, ddp_config, fit_subprocess
from slurm_cluster import require_slurm

# The tests' networks are tiny: one thread avoids oversubscribing a small, shared machine.
torch.set_num_threads(1)


@pytest.fixture
def fit(tmp_path: Path):
    """``fit(config, *overrides) -> run_dir``."""
    return lambda config, *overrides: run_fit(config, tmp_path, *overrides)


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete run of the small default job (seed 0), shared by the tests that read one."""
    return fit_small(tmp_path_factory.mktemp("finished"))


@pytest.fixture(scope="session")
def ddp_run(tmp_path_factory):
    """A tiny 2-process DDP fit launched by Lightning (checked in tests/distributed, compared
    with the same run launched by SLURM in tests/cluster)."""
    tmp = tmp_path_factory.mktemp("ddp")
    config = ddp_config(tmp, "ddp")
    proc = fit_subprocess(tmp, config)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return {**collect(tmp, "ddp"), "config": config, "proc": proc}


@pytest.fixture(scope="session")
def slurm() -> None:
    """A usable SLURM cluster (tests/cluster): skipped without one, failed if one is required."""
    require_slurm()
