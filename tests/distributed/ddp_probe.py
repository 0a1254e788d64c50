"""Test-only helpers that DDP subprocess runs load by class path (``ddp_probe.<Name>``).

``TrainingProbe`` records, on every rank, what each model actually trained on (pool indices,
recovered from the batch's feature rows), whether each model had a gradient and whether its
parameters moved in each step, and which cluster environment started the process (Lightning's
own launcher or SLURM), and writes it to ``<out_dir>/rank<global rank>.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning import Callback

from lightning_snnpriv.data import BreastCancerDataModule

#: Environment variables that tell who started a process and as which task.
LAUNCH_VARIABLES = ("SLURM_JOB_ID", "SLURM_STEP_ID", "SLURM_PROCID", "SLURM_NTASKS_PER_NODE")


class TrainingProbe(Callback):
    """Record per rank and step: pool indices each model saw, None gradients, parameter moves.

    Args:
        out_dir: Where ``rank<r>.json`` is written at the end of training.
    """

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir
        self.steps: list[dict[str, Any]] = []
        self._step: dict[str, Any] = {}

    def on_train_start(self, trainer, pl_module) -> None:
        pool = trainer.datamodule.pool
        features = pool.dataset.tensors[0]
        self.row_to_index = {row.numpy().tobytes(): i for i, row in enumerate(features)}
        if len(self.row_to_index) != len(features):
            raise RuntimeError("probe needs distinct feature rows to recover pool indices")
        self.loaders = [
            {"sampler": type(dl.sampler).__name__, "batches": len(dl), "samples": len(dl.sampler)}
            for dl in trainer.train_dataloader
        ]

    def _members(self, pl_module) -> list[list[torch.nn.Parameter]]:
        return [list(member.parameters()) for member in pl_module.ensemble.members]

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        seen = []
        for item in batch:
            if item is None:
                seen.append(None)
            else:
                seen.append([self.row_to_index[row.numpy().tobytes()] for row in item[0].cpu()])
        self._step = {
            "epoch": trainer.current_epoch,
            "seen": seen,
            "before": [[p.detach().clone() for p in ps] for ps in self._members(pl_module)],
        }

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        grads = self._members(pl_module)
        self._step["grad_none"] = [all(p.grad is None for p in ps) for ps in grads]
        self._step["grad_sum"] = [
            None if none else float(sum(p.grad.double().sum() for p in ps))
            for none, ps in zip(self._step["grad_none"], grads, strict=True)
        ]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        before = self._step.pop("before")
        self._step["moved"] = [
            any(not torch.equal(b, p.detach()) for b, p in zip(bs, ps, strict=True))
            for bs, ps in zip(before, self._members(pl_module), strict=True)
        ]
        self.steps.append(self._step)

    def on_train_end(self, trainer, pl_module) -> None:
        out = Path(self.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        record = {
            "global_rank": trainer.global_rank,
            "world_size": trainer.world_size,
            "strategy": type(trainer.strategy).__name__,
            "cluster_environment": type(trainer.strategy.cluster_environment).__name__,
            "launched_by": {k: os.environ.get(k) for k in LAUNCH_VARIABLES},
            "find_unused": getattr(trainer.strategy.model, "find_unused_parameters", None),
            "digest": trainer.datamodule.plan.digest(),
            "loaders": self.loaders,
            "steps": self.steps,
        }
        (out / f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


class RankSeededBreastCancer(BreastCancerDataModule):
    """Breast cancer whose plan seed differs on every rank: a plan that must be refused."""

    def setup(self, stage: str) -> None:
        """Shift the seed by the global rank, then set up as usual."""
        if self.pool is None:
            self.hparams.seed += self.trainer.global_rank
        super().setup(stage)
