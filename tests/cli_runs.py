"""Small runs of the real CLI, in-process, writing under a temporary dir (test helpers)."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"


def run_fit(config: Path | str, tmp_path: Path, *overrides: str) -> Path:
    """Run ``fit`` in-process on a shrunken version of ``config``; return the run directory."""
    from lightning_snnpriv.cli import main

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


def load_results(run_dir: Path) -> dict:
    return json.loads((run_dir / "mia_results.json").read_text())
