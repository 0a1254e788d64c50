"""Small runs of the real CLI, in-process, writing under a temporary dir (test helpers)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
DEFAULT_CONFIG = CONFIGS / "breast_cancer_snn.yaml"  # the README's default job
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
    """``commands.main(args)``; the exit code (0 when it returns)."""
    from lightning_snnpriv.commands import main

    try:
        main(args)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def run_fit(config: Path | str, tmp_path: Path, *overrides: str) -> Path:
    """Run ``fit`` in-process on a shrunken version of ``config``; return the run directory."""
    from lightning_snnpriv.commands import main

    save_dir = tmp_path / "logs"
    main(
        [
            "fit",
            "--config",
            str(config),
            "--trainer.max_epochs=1",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            f"--trainer.logger.init_args.save_dir={save_dir}",
            *overrides,
        ]
    )
    runs = sorted(save_dir.glob("*/version_*"), key=lambda p: p.stat().st_mtime)
    assert runs, f"no run directory under {save_dir}"
    return runs[-1]


def fit_small(save_dir: Path, *extra: str) -> Path:
    """Fit the small default job into ``save_dir``; the run directory."""
    before = set(save_dir.glob("*/version_*"))
    code = run_cli(["fit", "--config", str(DEFAULT_CONFIG), *SMALL,
                    f"--trainer.logger.init_args.save_dir={save_dir}", *extra])  # fmt: skip
    assert code == 0
    (run_dir,) = set(save_dir.glob("*/version_*")) - before
    return run_dir


def load_results(run_dir: Path, suffix: str = "") -> dict:
    """A run's results, read through the run directory type."""
    from lightning_snnpriv.runs import RunDir

    return RunDir(run_dir).load_results(suffix)
