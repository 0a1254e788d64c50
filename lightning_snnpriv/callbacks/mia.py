"""MembershipInferenceCallback: at the end of fit, attack the target and log the results."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.strategies import Strategy
from pytorch_lightning.utilities import rank_zero_only
from torch.utils.data import DataLoader

from lightning_snnpriv.attacks import Attack, AttackInputs, LossAttack, ShokriAttack, evaluate
from lightning_snnpriv.callbacks.gather import gather_in_pool_order, shard_loader
from lightning_snnpriv.distributed import on_global_zero
from lightning_snnpriv.errors import ConfigError
from lightning_snnpriv.io import save_tensors, write_json
from lightning_snnpriv.progress import bar_enabled, progress

RESULTS_FILE = "mia_results.json"
SIGNALS_FILE = "signals.pt"
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
    target's audited samples with each attack (higher = member), and writes
    ``mia_results.json``, TensorBoard scalars (``mia/<attack>/auc`` ...), hparams and a
    log-log ROC figure (also ``roc.png``) into the run directory, then prints a table.

    Args:
        attacks: The attacks to run; default: the loss-threshold attack and the Shokri shadow
            attack (per-class RBF SVM, the source study's).
        fpr_targets: FPRs at which the TPR is reported.
        save_signals: Save the outputs of all models on the pool, so attacks can be re-run.
        print_table: Print a table of accuracy and attack results at the end.
    """

    def __init__(
        self,
        attacks: Sequence[Attack] | None = None,
        fpr_targets: Sequence[float] = (0.01, 0.001),
        save_signals: bool = True,
        print_table: bool = True,
    ) -> None:
        self.attacks = list(attacks) if attacks is not None else [LossAttack(), ShokriAttack()]
        names = [attack.name for attack in self.attacks]
        if len(set(names)) != len(names):
            raise ConfigError(f"`mia.attacks`: attack names must be unique, got {names}.")
        if not all(0 <= f <= 1 for f in fpr_targets):
            raise ConfigError(f"`mia.fpr_targets` must lie in [0, 1], got {list(fpr_targets)}.")
        self.fpr_targets = tuple(fpr_targets)
        self.save_signals = save_signals
        self.print_table = print_table
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

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Attack the trained target; write and log the results (global rank zero)."""
        datamodule, strategy = trainer.datamodule, trainer.strategy
        # collective calls, made on every rank: the audit pass and trainer.log_dir (a broadcast)
        outputs, labels = collect_outputs(pl_module, datamodule.audit_dataloader(), strategy)
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
        keep, audit = torch.from_numpy(plan.keep), torch.from_numpy(plan.audit)
        run_dir = self._run_dir  # trainer.log_dir would broadcast from rank 0 alone
        run_dir.mkdir(parents=True, exist_ok=True)
        if self.save_signals:
            save_tensors(run_dir / SIGNALS_FILE, {"outputs": outputs, "labels": labels})
        train_acc, test_acc = accuracy_by_model(outputs, labels, keep, audit)
        settings = {
            **_settings(pl_module),
            **_settings(datamodule, prefix="data"),
            "scheme_digest": plan.digest(),
        }
        inputs = AttackInputs(logits=outputs, labels=labels, keep=keep, audit=audit)
        target = 0
        audited = audit[target]
        records, curves = [], {}
        desc = f"attacking model {target} (the target)"
        for attack in progress(self.attacks, bar_enabled(trainer), desc, lambda a: a.name):
            out = attack.score(inputs, target=target)
            metrics = evaluate(out.scores[audited], keep[target][audited], self.fpr_targets)
            curves[attack.name] = (metrics.fpr, metrics.tpr)
            records.append(
                {
                    "attack": attack.name,
                    "attack_settings": attack.settings(),
                    "target": target,
                    **metrics.to_dict(),
                    "info": out.info,
                    "target_train_acc": train_acc[target],
                    "target_test_acc": test_acc[target],
                    "settings": settings,
                }
            )
        self.results = {
            "settings": settings,
            "accuracy": {"train": train_acc, "test": test_acc},
            "records": records,
        }
        write_json(run_dir / RESULTS_FILE, self.results)
        self._log(trainer, settings, records, curves, run_dir, test_acc[target], train_acc[target])
        if self.print_table:
            print(format_table(records, train_acc[target], test_acc[target], run_dir))

    def _log(
        self,
        trainer: Trainer,
        settings: dict[str, Any],
        records: list[dict[str, Any]],
        curves: dict[str, tuple[list[float], list[float]]],
        run_dir: Path,
        test_acc: float,
        train_acc: float,
    ) -> None:
        from lightning_snnpriv.plots import roc_figure

        metrics = {"mia/target_test_acc": test_acc, "mia/target_train_acc": train_acc}
        for record in records:
            prefix = f"mia/{record['attack']}"
            metrics[f"{prefix}/auc"] = record["auc"]
            metrics[f"{prefix}/balanced_accuracy"] = record["balanced_accuracy"]
            metrics[f"{prefix}/advantage"] = record["advantage"]
            for point in record["tpr_at_fpr"]:
                metrics[f"{prefix}/tpr_at_fpr_{point['fpr_target']:g}"] = point["tpr"]
        figure = roc_figure(curves, title="membership inference on the target")
        figure.savefig(run_dir / ROC_FILE, dpi=120)
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
            if isinstance(logger, TensorBoardLogger):
                from torch.utils.tensorboard.summary import hparams

                writer = logger.experiment
                for summary in hparams(_hparam_values(settings), metrics):
                    writer._get_file_writer().add_summary(summary)
                writer.add_figure("mia/roc", figure, global_step=trainer.global_step)
            logger.save()
        import matplotlib.pyplot as plt

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


def format_table(
    records: list[dict[str, Any]], train_acc: float, test_acc: float, run_dir: Path
) -> str:
    """A plain-text table of the target's accuracy and each attack's results."""
    fprs = [point["fpr_target"] for point in records[0]["tpr_at_fpr"]] if records else []
    head = f"{'attack':<12}{'AUC':>8}" + "".join(f"{f'TPR@{f:.1%}':>12}" for f in fprs)
    lines = [
        f"target accuracy: train {train_acc:.4f}, test {test_acc:.4f}",
        head + f"{'bal. acc':>10}{'members':>9}{'non-mem.':>9}",
    ]
    for r in records:
        tprs = "".join(f"{p['tpr']:>12.4f}" for p in r["tpr_at_fpr"])
        lines.append(
            f"{r['attack']:<12}{r['auc']:>8.4f}{tprs}{r['balanced_accuracy']:>10.4f}"
            f"{r['n_members']:>9}{r['n_nonmembers']:>9}"
        )
    lines.append(f"results: {run_dir / RESULTS_FILE}")
    return "\n".join(lines)
