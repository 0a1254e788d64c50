"""Shared fixtures: small runs of the real CLI, in-process, writing under a temporary dir."""

from pathlib import Path

import pytest
import torch
from cli_runs import run_fit

# The tests' networks are tiny: one thread avoids oversubscribing a small, shared machine.
torch.set_num_threads(1)


@pytest.fixture
def fit(tmp_path: Path):
    """``fit(config, *overrides) -> run_dir``."""
    return lambda config, *overrides: run_fit(config, tmp_path, *overrides)
