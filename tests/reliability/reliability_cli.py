"""Helpers of the reliability tests: drive the real CLI in-process."""

from __future__ import annotations

from pathlib import Path

from lightning_snnpriv.cli import main

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO / "configs" / "breast_cancer_snn.yaml"  # the README's default job
#: The default job, made small: same data, scheme, attacks and recipe, tiny network.
SMALL = [
    "--model.init_args.hidden_sizes=[16]",
    "--model.init_args.num_steps=3",
    "--trainer.max_epochs=2",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--mia.print_table=false",
]


def run_cli(args: list[str]) -> int:
    """``cli.main(args)``; the exit code (0 when it returns)."""
    try:
        main(args)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def fit_small(save_dir: Path, *extra: str) -> Path:
    """Fit the small default job into ``save_dir``; the run directory."""
    before = set(save_dir.glob("*/version_*"))
    code = run_cli(["fit", "--config", str(DEFAULT_CONFIG), *SMALL,
                    f"--trainer.logger.init_args.save_dir={save_dir}", *extra])  # fmt: skip
    assert code == 0
    (run_dir,) = set(save_dir.glob("*/version_*")) - before
    return run_dir
