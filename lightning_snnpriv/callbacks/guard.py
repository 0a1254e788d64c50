"""NonFiniteLossGuard: stop training when a model's loss turns NaN or infinite, naming the model."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from torch.nn import functional as F

from lightning_snnpriv.errors import UsageError


class TrainingDivergedError(UsageError):
    """A model's training loss became NaN or infinite: attack numbers from it would be garbage."""


def model_name(index: int) -> str:
    """``target`` for model 0, ``shadow i`` for the others.

    Example:
        >>> model_name(0), model_name(2)
        ('target', 'shadow 2')
    """
    return "target" if index == 0 else f"shadow {index}"


def per_model_losses(pl_module: LightningModule, batch: Sequence[Any]) -> list[float | None]:
    """Each model's cross-entropy on its own part of a training batch (``None``: no batch).

    ``batch`` holds one ``(x, y)`` or ``None`` per model, as the training loaders yield it.
    """
    inputs = [None if part is None else part[0] for part in batch]
    with torch.no_grad():
        outputs = pl_module.ensemble.forward_each(inputs)
    return [
        None if out is None else float(F.cross_entropy(out.float(), part[1]))
        for out, part in zip(outputs, batch, strict=True)
    ]


def nonfinite_parameters(pl_module: LightningModule) -> list[int]:
    """Indices of the models with a NaN or infinite parameter."""
    return [
        i
        for i, member in enumerate(pl_module.ensemble.members)
        if not all(torch.isfinite(p).all() for p in member.parameters())
    ]


class NonFiniteLossGuard(Callback):
    """Stops training when the loss is NaN or infinite, naming the model and the epoch.

    Checked before each backward pass (one ``isfinite`` on the summed loss per step; under DDP
    the ranks agree on it, so all of them stop). When it fails, each model's loss on the step's
    batch is recomputed to find the culprits, and :class:`TrainingDivergedError` is raised: the
    command line prints it and exits with code 2, and the membership-inference callback never
    audits the broken models.
    """

    def __init__(self) -> None:
        self._batch: Sequence[Any] | None = None

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Keep the batch, to find which model's loss is not finite."""
        self._batch = batch

    def on_before_backward(
        self, trainer: Trainer, pl_module: LightningModule, loss: torch.Tensor
    ) -> None:
        """Raise :class:`TrainingDivergedError` if ``loss`` is NaN or infinite (on any rank)."""
        finite = bool(torch.isfinite(loss).all())
        if trainer.world_size > 1:  # every rank stops together, none waits in backward's all-reduce
            finite = trainer.strategy.reduce_boolean_decision(finite, all=True)
        if finite:
            return
        culprits = self._culprits(pl_module)
        where = f"epoch {trainer.current_epoch} (global step {trainer.global_step})"
        raise TrainingDivergedError(
            f"training diverged at {where}: the loss of {culprits} is not finite "
            f"(summed loss {float(loss.detach().sum())}). Attack results from such a model would "
            "be meaningless, so the run stops here. Lower the learning rate "
            "(model.init_args.optimizer.init_args.lr), check the data for NaN or infinite "
            "values, or change the quantization bits / surrogate settings that caused it."
        )

    def _culprits(self, pl_module: LightningModule) -> str:
        """``'shadow 2 (nan)'``... or a generic phrase when the models cannot be told apart."""
        if self._batch is None or not hasattr(pl_module, "ensemble"):
            return "one of the models"
        losses = per_model_losses(pl_module, self._batch)
        bad = [f"{model_name(i)} ({v})" for i, v in enumerate(losses)
               if v is not None and not math.isfinite(v)]  # fmt: skip
        if not bad:
            bad = [f"{model_name(i)} (non-finite weights)" for i in nonfinite_parameters(pl_module)]
        return ", ".join(bad) if bad else "one of the models"
