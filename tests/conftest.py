"""Shared fixtures: small runs of the real CLI, in-process, writing under a temporary dir."""

from pathlib import Path

import pytest
import torch
from cli_runs import fit_small, run_fit

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
