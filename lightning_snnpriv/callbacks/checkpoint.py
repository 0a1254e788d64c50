"""RunCheckpoint: checkpoints that resume a run exactly and refuse a different membership plan.

A :class:`~pytorch_lightning.callbacks.ModelCheckpoint` that keeps ``last.ckpt`` by default and
adds two things to its state in every checkpoint (plain tensors, lists and strings, so the file
still loads with ``torch.load(weights_only=True)``):

* the digest of the run's membership plan: resuming with data that build another plan stops
  before any training step, with a message naming both digests;
* the global random states (torch, numpy, Python) at the moment of saving: a single-process
  run that is killed and resumed from ``last.ckpt`` draws the same data order, Poisson spikes and
  dropout masks as a run that was never interrupted, so it ends with the same weights.
"""

from __future__ import annotations

import random
from typing import Any, Literal

import numpy as np
import torch
from pytorch_lightning import LightningModule, Trainer
from pytorch_lightning.callbacks import ModelCheckpoint

from lightning_snnpriv.errors import UsageError


def rng_states() -> dict[str, Any]:
    """The global random states of torch, numpy and Python as weights-only-loadable values.

    Example:
        >>> state = rng_states(); a = torch.rand(1)
        >>> set_rng_states(state); bool(torch.rand(1) == a)
        True
    """
    name, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 (the global state)
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [name, torch.from_numpy(np.array(keys, dtype=np.int64)), pos, has_gauss, cached],
        "python": [version, list(internal), gauss],
    }


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore the global random states saved by :func:`rng_states`."""
    torch.set_rng_state(states["torch"])
    name, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))  # noqa: NPY002
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


class RunCheckpoint(ModelCheckpoint):
    """ModelCheckpoint into the run directory, with ``last.ckpt``, the plan digest and RNG states.

    Every argument is :class:`~pytorch_lightning.callbacks.ModelCheckpoint`'s; only the
    default of ``save_last`` differs, so that ``--ckpt_path last`` always finds a checkpoint.

    Args:
        save_last: Also keep ``last.ckpt``, the latest state (see ``ModelCheckpoint``).
        **kwargs: The other ``ModelCheckpoint`` arguments (``dirpath``, ``every_n_epochs``,
            ``monitor``, ``save_top_k``...).
    """

    def __init__(self, save_last: bool | Literal["link"] | None = True, **kwargs: Any) -> None:
        super().__init__(save_last=save_last, **kwargs)
        self._plan_digest: str | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Remember the digest of the plan the DataModule built (``setup`` runs before restore)."""
        super().setup(trainer, pl_module, stage)
        plan = getattr(trainer.datamodule, "plan", None)
        self._plan_digest = plan.digest() if plan is not None else None

    def state_dict(self) -> dict[str, Any]:
        """ModelCheckpoint's state plus the plan digest and the random states at saving time."""
        return {**super().state_dict(), "plan_digest": self._plan_digest, "rng": rng_states()}

    def on_load_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Refuse a checkpoint whose plan differs from this run's; restore the random states."""
        state = checkpoint.get("callbacks", {}).get(self.state_key, {})
        saved = state.get("plan_digest")
        if saved is not None and self._plan_digest is not None and saved != self._plan_digest:
            raise UsageError(
                f"--ckpt_path {trainer.ckpt_path}: the checkpoint was trained on membership plan "
                f"{saved}, but this config builds plan {self._plan_digest} (a different dataset, "
                "scheme, seed_everything or number of shadows). Resume with the run's own "
                "config.yaml, or start a new run without --ckpt_path."
            )
        # One process only: under DDP every rank would get rank zero's states.
        if "rng" in state and trainer.world_size == 1:
            set_rng_states(state["rng"])
