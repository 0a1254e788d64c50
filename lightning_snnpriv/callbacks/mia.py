"""MembershipInferenceCallback: at the end of fit, audit the trained models and report it.

A thin adapter: it gathers the outputs of every model on the pool (the audit pass), hands them
with the membership plan to :class:`~lightning_snnpriv.attacks.Audit`, and gives the results to
the run directory (:class:`~lightning_snnpriv.runs.RunDir`) and the loggers.
"""

from __future__ import annotations

from typing import Any

import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.utilities import rank_zero_only

from lightning_snnpriv.attacks.audit import Audit, AuditResult
from lightning_snnpriv.callbacks.audit_files import write_audit_files
from lightning_snnpriv.callbacks.gather import collect_outputs
from lightning_snnpriv.callbacks.progress import bar_enabled, progress
from lightning_snnpriv.callbacks.query import DropoutQuery
from lightning_snnpriv.distributed import on_global_zero
from lightning_snnpriv.reports.tables import format_table
from lightning_snnpriv.reports.tensorboard import log_audit
from lightning_snnpriv.runs import RunDir


class MembershipInferenceCallback(Callback):
    """Runs membership-inference attacks on the target when fit ends, and logs the results.

    It computes every model's outputs on the whole pool (saved as ``signals.pt``), runs the
    audit (every attack on every audited target; higher score = member), and writes
    ``mia_results.json``, ``scores.pt`` and the ROC figures into the run directory, logs the
    ``mia/...`` scalars, hparams and figures, then prints a table.

    Args:
        save_signals: Save the outputs of all models on the pool, so attacks can be re-run.
        print_table: Print a table of accuracy and attack results at the end.
        **kwargs: The audit's settings: ``attacks``, ``fpr_targets``, ``targets``,
            ``bootstrap``, ``seed``, ``query_dropout``, ``query_repeats``, ``query_seed``
            (see :class:`~lightning_snnpriv.attacks.Audit`).
    """

    def __init__(self, save_signals: bool = True, print_table: bool = True, **kwargs: Any) -> None:
        self.audit = Audit(**kwargs)
        self.save_signals = save_signals
        self.print_table = print_table
        self.result: AuditResult | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Check the audit against the models and plan; save the plan (or check the saved one).

        Both before any training: an impossible audit fails early, and a resumed run must
        rebuild the plan it was started with (``membership.npz`` in the run directory).
        """
        self.audit.check_models(getattr(pl_module, "num_models", 1))
        plan = getattr(getattr(trainer, "datamodule", None), "plan", None)
        if plan is None:
            return
        self.audit.check_plan(
            torch.from_numpy(plan.keep), torch.from_numpy(plan.audit), plan.scheme
        )
        log_dir = trainer.log_dir  # on every rank: a collective call
        if log_dir is not None:
            # only global rank 0 reads or writes the file; the ranks' plans agree (checked)
            on_global_zero(trainer.strategy, _save_or_check_plan, RunDir(log_dir), plan)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Audit the trained models; write and log the results (global rank zero)."""
        datamodule, strategy = trainer.datamodule, trainer.strategy
        # collective calls, made on every rank: the audit pass and trainer.log_dir (a broadcast)
        outputs, labels = collect_outputs(
            self.query_module(pl_module), datamodule.audit_dataloader(), strategy
        )
        run = RunDir(trainer.log_dir or trainer.default_root_dir)
        on_global_zero(strategy, self._audit, trainer, pl_module, datamodule, run, outputs, labels)

    @rank_zero_only
    def _audit(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        datamodule: Any,
        run: RunDir,
        outputs: torch.Tensor,
        labels: torch.Tensor,
    ) -> None:
        plan = datamodule.plan
        run.path.mkdir(parents=True, exist_ok=True)
        if self.save_signals:
            run.save_signals(outputs, labels)
        settings = {
            **run_settings(pl_module),
            **run_settings(datamodule, prefix="data"),
            "scheme_digest": plan.digest(),
        }
        show = bar_enabled(trainer)
        self.result = result = self.audit.run(
            outputs,
            labels,
            torch.from_numpy(plan.keep),
            torch.from_numpy(plan.audit),
            settings,
            each=lambda attacks: progress(attacks, show, "attacking", lambda a: a.name),
        )
        path, pngs = write_audit_files(run, result, str(run))
        log_audit(trainer.loggers, trainer.global_step, settings, result, pngs)
        if self.print_table:
            print(format_table(result, path, run.report_file()))

    def query_module(self, pl_module: LightningModule) -> Any:
        """The module to query: ``pl_module`` itself, or wrapped in input dropout."""
        audit = self.audit
        if audit.query_dropout == 0.0:
            return pl_module
        return DropoutQuery(pl_module, audit.query_dropout, audit.query_repeats, audit.query_seed)


def _save_or_check_plan(run: RunDir, plan: Any) -> None:
    run.path.mkdir(parents=True, exist_ok=True)
    run.save_or_check_plan(plan)


def run_settings(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Settings of a module or datamodule for results files (``settings()`` or ``hparams``)."""
    values = obj.settings() if hasattr(obj, "settings") else dict(getattr(obj, "hparams", {}))
    values = {k: v for k, v in values.items() if not k.startswith("_")}
    if prefix:
        values = {f"{prefix}.{k}": v for k, v in values.items()}
        values[prefix] = type(obj).__name__
    return values
