"""MembershipInferenceCallback: at the end of fit, attack the target and log the results."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.strategies import Strategy
from pytorch_lightning.utilities import rank_zero_only
from torch.utils.data import DataLoader

from lightning_snnpriv.attacks import (
    DEFAULT_FPR_TARGETS,
    Attack,
    AttackInputs,
    LossAttack,
    ShokriAttack,
)
from lightning_snnpriv.attacks.audit import AuditResult, resolve_targets, run_audit
from lightning_snnpriv.callbacks.gather import gather_in_pool_order, shard_loader
from lightning_snnpriv.callbacks.query import DropoutQuery
from lightning_snnpriv.distributed import on_global_zero
from lightning_snnpriv.errors import ConfigError
from lightning_snnpriv.io import save_tensors, write_json
from lightning_snnpriv.progress import bar_enabled, progress

RESULTS_FILE = "mia_results.json"
SIGNALS_FILE = "signals.pt"
SCORES_FILE = "scores.pt"
ROC_FILE = "roc.png"


@torch.no_grad()
def collect_outputs(
    pl_module: LightningModule, loader: DataLoader, strategy: Strategy | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every model's outputs on every sample of ``loader`` (which yields ``(x, y, index)``).

    With a ``strategy`` of several processes this is a collective call: each rank runs its share
    of the loader's batches on the strategy's device, and the shares are gathered to every rank
    (:mod:`lightning_snnpriv.callbacks.gather`); each sample is computed in the same batch as
    with one process.

    Returns:
        ``(outputs [num_models, N, classes], labels [N])`` in pool order, on the CPU: every
        pool sample exactly once.
    """
    num_replicas = 1 if strategy is None else strategy.world_size
    rank = 0 if strategy is None else strategy.global_rank
    share, length = shard_loader(loader, num_replicas, rank)
    was_training, home = pl_module.training, pl_module.device
    device = home if strategy is None else strategy.root_device
    pl_module.eval().to(device)
    outputs, labels, indices = [], [], []
    for x, y, index in share:
        outputs.append(pl_module(x.to(device)).float().cpu())
        labels.append(y)
        indices.append(index)
    pl_module.train(was_training).to(home)
    return gather_in_pool_order(
        strategy,
        torch.cat(outputs, dim=1),
        torch.cat(labels),
        torch.cat(indices),
        length,
        num_samples=len(loader.dataset),  # type: ignore[arg-type]
    )


def accuracy_by_model(
    outputs: torch.Tensor, labels: torch.Tensor, keep: torch.Tensor, audit: torch.Tensor
) -> tuple[list[float], list[float]]:
    """Per model: accuracy on its members (train) and on its audited non-members (test).

    Example:
        >>> out = torch.tensor([[[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]]])
        >>> keep = torch.tensor([[True, False, False]]); audit = torch.ones(1, 3, dtype=bool)
        >>> accuracy_by_model(out, torch.tensor([0, 1, 1]), keep, audit)
        ([1.0], [0.5])
    """
    correct = outputs.argmax(-1) == labels
    train = [correct[m][keep[m]].float().mean().item() for m in range(len(outputs))]
    test = [correct[m][audit[m] & ~keep[m]].float().mean().item() for m in range(len(outputs))]
    return train, test


class MembershipInferenceCallback(Callback):
    """Runs membership-inference attacks on the target when fit ends, and logs the results.

    It computes every model's outputs on the whole pool (saved as ``signals.pt``), scores the
    audited samples of each target with each attack (higher = member), and writes
    ``mia_results.json``, ``scores.pt`` (attack x target x sample), TensorBoard scalars
    (``mia/<attack>/auc`` ...), hparams and ROC figures (log-log and linear: ``roc.png``,
    ``roc_linear.png`` and ``roc_<attack>.png``) into the run directory, then prints a table.

    Args:
        attacks: The attacks to run; default: the loss-threshold attack and the Shokri shadow
            attack (per-class RBF SVM, the source study's).
        fpr_targets: FPRs at which the TPR is reported.
        save_signals: Save the outputs of all models on the pool, so attacks can be re-run.
        print_table: Print a table of accuracy and attack results at the end.
        targets: Models audited as the target, each with all other models as its reference
            models (leave-one-out): ``1`` (model 0 only), a count ``k`` (models ``0..k-1``),
            a list of model indices, or ``"all"``. With more than one, the results also hold
            one ``target: "pooled"`` record per attack (scores of all targets concatenated,
            with the mean and std over targets). Meant for the ``lira`` scheme.
        bootstrap: Stratified bootstrap replicates for 95% confidence intervals of the AUC
            and each TPR at FPR (0: none).
        seed: Seed of the bootstrap.
        query_dropout: Attack-side input dropout (Guan et al. 2025): each query's input is
            multiplied by a random keep mask (inverted dropout, rate ``query_dropout``); the
            outputs (logits, or the SNN readout) of ``query_repeats`` masks are averaged
            (in logit space) before any signal is computed. The same masks are used for all
            models. 0 disables it.
        query_repeats: Number of dropout masks averaged per sample (>= 1).
        query_seed: Seed of the dropout masks.
    """

    def __init__(
        self,
        attacks: Sequence[Attack] | None = None,
        fpr_targets: Sequence[float] = DEFAULT_FPR_TARGETS,
        save_signals: bool = True,
        print_table: bool = True,
        targets: int | list[int] | Literal["all"] = 1,
        bootstrap: int = 200,
        seed: int = 0,
        query_dropout: float = 0.0,
        query_repeats: int = 1,
        query_seed: int = 0,
    ) -> None:
        self.attacks = list(attacks) if attacks is not None else [LossAttack(), ShokriAttack()]
        names = [attack.name for attack in self.attacks]
        if len(set(names)) != len(names):
            raise ConfigError(f"`mia.attacks`: attack names must be unique, got {names}.")
        if not all(0 <= f <= 1 for f in fpr_targets):
            raise ConfigError(f"`mia.fpr_targets` must lie in [0, 1], got {list(fpr_targets)}.")
        if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 0:
            raise ConfigError(f"`mia.bootstrap` must be an integer >= 0, got {bootstrap!r}.")
        if not 0.0 <= query_dropout < 1.0:
            raise ConfigError(f"`mia.query_dropout` must lie in [0, 1), got {query_dropout}.")
        if query_repeats < 1:
            raise ConfigError(f"`mia.query_repeats` must be >= 1, got {query_repeats}.")
        if targets != "all" and isinstance(targets, int) and targets < 1:
            raise ConfigError(f"`mia.targets` must be >= 1, a list or 'all', got {targets}.")
        self.fpr_targets = tuple(fpr_targets)
        self.save_signals = save_signals
        self.print_table = print_table
        self._show_progress = False
        self.targets = targets
        self.bootstrap = bootstrap
        self.seed = seed
        self.query_dropout = query_dropout
        self.query_repeats = query_repeats
        self.query_seed = query_seed
        self.results: dict[str, Any] | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Refuse a shadow attack without shadows before any training is done."""
        num_models = getattr(pl_module, "num_models", 1)
        for attack in self.attacks:
            if attack.requires_shadows and num_models < 2:
                raise ConfigError(
                    f"attack {attack.name!r} needs shadow models, but the run has none: set "
                    "data.init_args.num_shadows >= 1, or remove the attack from mia.attacks."
                )
        self._check_plan(trainer)

    def _check_plan(self, trainer: Trainer) -> None:
        """Check targets and each attack against the data's membership plan, if it is built."""
        plan = getattr(getattr(trainer, "datamodule", None), "plan", None)
        if plan is None:
            return
        try:
            targets = resolve_targets(self.targets, plan.num_models)
        except ValueError as err:
            raise ConfigError(f"`mia.targets`: {err}.") from err
        keep, audit = torch.from_numpy(plan.keep), torch.from_numpy(plan.audit)
        for attack in self.attacks:
            for target in targets:
                attack.check_plan(keep, audit, target)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Attack the trained target; write and log the results (global rank zero)."""
        datamodule, strategy = trainer.datamodule, trainer.strategy
        # collective calls, made on every rank: the audit pass and trainer.log_dir (a broadcast)
        outputs, labels = collect_outputs(
            self.query_module(pl_module), datamodule.audit_dataloader(), strategy
        )
        self._run_dir = Path(trainer.log_dir or trainer.default_root_dir)
        on_global_zero(
            strategy, self._attack_and_report, trainer, pl_module, datamodule, outputs, labels
        )

    @rank_zero_only
    def _attack_and_report(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        datamodule: Any,
        outputs: torch.Tensor,
        labels: torch.Tensor,
    ) -> None:
        plan = datamodule.plan
        self._show_progress = bar_enabled(trainer)
        run_dir = self._run_dir  # trainer.log_dir would broadcast from rank 0 alone
        run_dir.mkdir(parents=True, exist_ok=True)
        if self.save_signals:
            save_tensors(run_dir / SIGNALS_FILE, {"outputs": outputs, "labels": labels})
        settings = {
            **_settings(pl_module),
            **_settings(datamodule, prefix="data"),
            "scheme_digest": plan.digest(),
        }
        self.results, audit = self.audit(
            outputs, labels, torch.from_numpy(plan.keep), torch.from_numpy(plan.audit), settings
        )
        write_audit(run_dir, self.results, audit)
        self._log(trainer, settings, audit, self.results["accuracy"])
        if self.print_table:
            print(format_table(audit, run_dir / RESULTS_FILE))

    def query_module(self, pl_module: LightningModule) -> Any:
        """The module to query: ``pl_module`` itself, or wrapped in input dropout."""
        if self.query_dropout == 0.0:
            return pl_module
        return DropoutQuery(pl_module, self.query_dropout, self.query_repeats, self.query_seed)

    def mia_settings(self) -> dict[str, Any]:
        """This callback's settings (recorded in the results under ``mia``)."""
        return {
            "fpr_targets": list(self.fpr_targets),
            "targets": self.targets,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "query_dropout": self.query_dropout,
            "query_repeats": self.query_repeats,
            "query_seed": self.query_seed,
        }

    def audit(
        self,
        outputs: torch.Tensor,
        labels: torch.Tensor,
        keep: torch.Tensor,
        audit: torch.Tensor,
        settings: dict[str, Any],
    ) -> tuple[dict[str, Any], AuditResult]:
        """Run every attack on every target; return the results dict and the audit.

        Also used by the ``attack`` command on a saved run, so that both give the same bits.
        """
        train_acc, test_acc = accuracy_by_model(outputs, labels, keep, audit)
        inputs = AttackInputs(logits=outputs, labels=labels, keep=keep, audit=audit)
        try:
            targets = resolve_targets(self.targets, inputs.num_models)
        except ValueError as err:
            raise ConfigError(f"`mia.targets`: {err}.") from err
        result = run_audit(
            inputs,
            self.attacks,
            targets,
            self.fpr_targets,
            self.bootstrap,
            self.seed,
            train_acc,
            test_acc,
            extra={"settings": settings},
            each=lambda attacks: progress(
                attacks, self._show_progress, "attacking", lambda attack: attack.name
            ),
        )
        results = {
            "settings": settings,
            "mia": self.mia_settings(),
            "accuracy": {"train": train_acc, "test": test_acc},
            "records": result.records,
            "timing": result.timing,
        }
        return results, result

    def _log(
        self,
        trainer: Trainer,
        settings: dict[str, Any],
        audit: AuditResult,
        accuracy: dict[str, list[float]],
    ) -> None:
        targets = audit.targets
        metrics = {
            "mia/target_test_acc": sum(accuracy["test"][t] for t in targets) / len(targets),
            "mia/target_train_acc": sum(accuracy["train"][t] for t in targets) / len(targets),
        }
        for record in audit.summary():
            prefix = f"mia/{record['attack']}"
            metrics[f"{prefix}/auc"] = record["auc"]
            metrics[f"{prefix}/balanced_accuracy"] = record["balanced_accuracy"]
            metrics[f"{prefix}/advantage"] = record["advantage"]
            metrics[f"{prefix}/time_s"] = audit.timing[record["attack"]]
            if "auc_ci" in record:
                metrics[f"{prefix}/auc_ci_low"], metrics[f"{prefix}/auc_ci_high"] = record["auc_ci"]
            if "across_targets" in record:
                metrics[f"{prefix}/auc_std_over_targets"] = record["across_targets"]["auc"]["std"]
            for point in record["tpr_at_fpr"]:
                metrics[f"{prefix}/tpr_at_fpr_{point['fpr_target']:g}"] = point["tpr"]
                if "tpr_ci" in point:
                    low, high = point["tpr_ci"]
                    metrics[f"{prefix}/tpr_at_fpr_{point['fpr_target']:g}_ci_low"] = low
                    metrics[f"{prefix}/tpr_at_fpr_{point['fpr_target']:g}_ci_high"] = high
        figures = audit_figures(audit)
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
            if isinstance(logger, TensorBoardLogger):
                from torch.utils.tensorboard.summary import hparams

                writer = logger.experiment
                for summary in hparams(_hparam_values(settings), metrics):
                    writer._get_file_writer().add_summary(summary)
                for tag, figure in figures.items():
                    writer.add_figure(tag, figure, global_step=trainer.global_step, close=False)
            logger.save()
        import matplotlib.pyplot as plt

        for figure in figures.values():
            plt.close(figure)


def audit_figures(audit: AuditResult) -> dict[str, Any]:
    """ROC figures of an audit, by TensorBoard tag.

    ``mia/roc`` (log-log) and ``mia/roc_linear``: every attack's summary curve (pooled over
    targets when there are several); ``mia/roc/<attack>``: one attack, log-log and linear
    panels, one thin curve per target and the pooled curve.
    """
    from lightning_snnpriv.plots import roc_figure, roc_panels

    summary = {
        name: curves.get("pooled", next(iter(curves.values())))
        for name, curves in audit.curves.items()
    }
    what = "pooled over targets" if len(audit.targets) > 1 else f"target {audit.targets[0]}"
    figures = {
        "mia/roc": roc_figure(summary, title=f"membership inference ({what})"),
        "mia/roc_linear": roc_figure(
            summary, title=f"membership inference ({what})", log_scale=False
        ),
    }
    for name, curves in audit.curves.items():
        figures[f"mia/roc/{name}"] = roc_panels(
            {str(k) if k == "pooled" else f"target {k}": v for k, v in curves.items()}, title=name
        )
    return figures


def figure_file(tag: str) -> str:
    """The PNG file name of a figure tag: ``mia/roc`` -> ``roc``, ``mia/roc/x`` -> ``roc_x``."""
    return tag.removeprefix("mia/").replace("/", "_")


def write_audit(
    run_dir: Path, results: dict[str, Any], audit: AuditResult, suffix: str = ""
) -> None:
    """Write the results JSON, the scores and the ROC PNGs of an audit into ``run_dir``.

    Args:
        run_dir: The run directory.
        results: The results dict (``mia_results<suffix>.json``).
        audit: The audit (``scores<suffix>.pt``, ``roc*<suffix>.png``).
        suffix: Inserted before each file's extension (``".1"`` for a re-run); nothing
            existing is overwritten.
    """
    import matplotlib.pyplot as plt

    write_json(run_dir / RESULTS_FILE.replace(".json", f"{suffix}.json"), results)
    save_tensors(
        run_dir / SCORES_FILE.replace(".pt", f"{suffix}.pt"),
        {
            "attacks": audit.attack_names,
            "targets": audit.targets,
            "scores": audit.scores,
            "is_member": audit.is_member,
            "audit": audit.audited,
        },
    )
    for tag, figure in audit_figures(audit).items():
        figure.savefig(run_dir / f"{figure_file(tag)}{suffix}.png", dpi=120)
        plt.close(figure)


def _settings(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Settings of a module or datamodule for results files (``settings()`` or ``hparams``)."""
    values = obj.settings() if hasattr(obj, "settings") else dict(getattr(obj, "hparams", {}))
    values = {k: v for k, v in values.items() if not k.startswith("_")}
    if prefix:
        values = {f"{prefix}.{k}": v for k, v in values.items()}
        values[prefix] = type(obj).__name__
    return values


def _hparam_values(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as TensorBoard hparams take them: numbers, strings and booleans."""
    flat = {}
    for key, value in settings.items():
        if isinstance(value, bool | int | float | str):
            flat[key] = value
        elif isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = "none" if value is None else str(value)
    return flat


def format_table(audit: AuditResult, results_path: Path) -> str:
    """A plain-text table of each attack's summary results (pooled over targets if several)."""
    records = audit.summary()
    fprs = [point["fpr_target"] for point in records[0]["tpr_at_fpr"]] if records else []
    head = f"{'attack':<22}{'AUC':>8}" + "".join(f"{f'TPR@{f:.2%}':>12}" for f in fprs)
    what = "pooled over targets " + str(audit.targets) if len(audit.targets) > 1 else "target"
    lines = [
        f"membership inference ({what})",
        head + f"{'bal. acc':>10}{'members':>9}{'non-mem.':>9}{'time s':>9}",
    ]
    for r in records:
        tprs = "".join(f"{p['tpr']:>12.4f}" for p in r["tpr_at_fpr"])
        lines.append(
            f"{r['attack']:<22}{r['auc']:>8.4f}{tprs}{r['balanced_accuracy']:>10.4f}"
            f"{r['n_members']:>9}{r['n_nonmembers']:>9}{audit.timing[r['attack']]:>9.2f}"
        )
    lines.append(
        f"target accuracy: train {records[0]['target_train_acc']:.4f}, "
        f"test {records[0]['target_test_acc']:.4f}"
    )
    lines.append(f"results: {results_path}")
    return "\n".join(lines)
