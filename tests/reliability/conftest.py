"""Fixtures of the reliability tests: one finished run of the small default job."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_cli import fit_small


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete run of the small default job (seed 0)."""
    return fit_small(tmp_path_factory.mktemp("finished"))
