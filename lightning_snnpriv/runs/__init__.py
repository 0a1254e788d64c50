"""Runs: the run directory as a type, the one module that names, writes and loads run files."""

from lightning_snnpriv.runs.plan_file import load_plan, save_plan
from lightning_snnpriv.runs.run_dir import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    LAST_CHECKPOINT,
    PLAN_FILE,
    RESULTS_FILE,
    SCORES_FILE,
    SIGNALS_FILE,
    Run,
    RunDir,
)

__all__ = [
    "CHECKPOINT_DIR",
    "CONFIG_FILE",
    "LAST_CHECKPOINT",
    "PLAN_FILE",
    "RESULTS_FILE",
    "SCORES_FILE",
    "SIGNALS_FILE",
    "Run",
    "RunDir",
    "load_plan",
    "save_plan",
]
