"""Completing a run that was killed during its audit (after ``signals.pt``, before results).

Training is over and every model's outputs are saved, so nothing is retrained:
``fit --ckpt_path last`` (or the run's own ``last.ckpt``) and ``attack --run`` on such a run
run the audit of the run's own config on the saved signals and write the run's own
``mia_results.json``, ``scores.pt`` and figures, with the settings a complete fit records. The
run is then complete (a sweep counts its point done).
"""

from __future__ import annotations

from typing import Any

import torch
from pytorch_lightning import LightningModule, Trainer

from lightning_snnpriv.callbacks.audit_files import write_audit_files
from lightning_snnpriv.callbacks.mia import MembershipInferenceCallback, run_settings
from lightning_snnpriv.errors import UsageError
from lightning_snnpriv.reports.tables import format_table
from lightning_snnpriv.reports.tensorboard import log_audit
from lightning_snnpriv.runs import RunDir
from lightning_snnpriv.runs.resume import read_checkpoint


def finish_audit(
    run_dir: RunDir, trainer: Trainer, model: LightningModule, datamodule: Any
) -> None:
    """Audit ``run_dir``'s saved signals with the config's audit; write the run's own results.

    Args:
        run_dir: A run whose training finished (``signals.pt``) and whose audit did not.
        trainer: The fit's trainer (its ``mia`` callback and loggers).
        model: The config's model (its settings go into the results, as in a fit).
        datamodule: The config's data; its plan must be the run's.
    """
    if trainer.global_rank != 0:
        return
    run = run_dir.load()
    if datamodule.plan is None:
        datamodule.setup("fit")
    if datamodule.plan != run.plan:
        raise UsageError(
            f"--ckpt_path: {run_dir.plan_file} is not the plan this config builds; finish the "
            "run with its own config.yaml."
        )
    callback = next(c for c in trainer.callbacks if isinstance(c, MembershipInferenceCallback))
    settings = {
        **run_settings(model),
        **run_settings(datamodule, prefix="data"),
        "scheme_digest": run.plan.digest(),
    }
    result = callback.audit.run(run.outputs, run.labels, run.keep, run.audit, settings)
    path, pngs = write_audit_files(run_dir, result, str(run_dir))
    log_audit(trainer.loggers, _step(run_dir), settings, result, pngs)
    callback.result = result
    print(f"finished the audit of {run_dir} from its saved signals (no retraining)")
    if callback.print_table:
        print(format_table(result, path, run_dir.report_file()))


def _step(run_dir: RunDir) -> int:
    """The global step the run's training ended at (for the TensorBoard points)."""
    if not run_dir.last_checkpoint.is_file():
        return 0
    step = read_checkpoint(run_dir.last_checkpoint).get("global_step", 0)
    return int(step) if isinstance(step, int | torch.Tensor) else 0
