"""RunCheckpoint: checkpoints that resume a run exactly and refuse a different membership plan.

A :class:`~pytorch_lightning.callbacks.ModelCheckpoint` that keeps ``last.ckpt`` by default and
adds two things to its state in every checkpoint (plain tensors, lists and strings, so the file
still loads with ``torch.load(weights_only=True)``):

* the digest of the run's membership plan: resuming with data that build another plan stops
  before any training step, with a message naming both digests;
* the global random states (torch, numpy, Python) at the moment of saving: a single-process
  run that is killed and resumed from ``last.ckpt`` draws the same data order, Poisson spikes and
  dropout masks as a run that was never interrupted, so it ends with the same weights.

``last.ckpt`` costs no second write: with the default ``save_top_k=1`` and no ``monitor``, the
epoch checkpoint just written holds exactly the state ``last.ckpt`` would hold, so ``last.ckpt``
becomes a hard link to it (one write per epoch instead of two; a ConvNet's checkpoint is tens
of megabytes). The link replaces the old ``last.ckpt`` atomically (``os.replace``) and a hard
link keeps its data when the older epoch file is deleted, so at every moment ``last.ckpt`` is a
complete checkpoint (a run killed at any point resumes from it); where hard links fail it is a
copy.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import tempfile
from typing import Any, Literal
from weakref import proxy

import numpy as np
import torch
from lightning_fabric.utilities.cloud_io import _is_local_file_protocol
from pytorch_lightning import LightningModule, Trainer
from pytorch_lightning.callbacks import ModelCheckpoint

from lightning_snnpriv.callbacks.checkpoint_io import use_direct_io
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


def _fsync(path: str) -> None:
    """Flush a file or directory to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _rebase(state: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """The checkpoint state with every path under ``old`` moved under ``new``.

    Example:
        >>> _rebase({"dirpath": "/a/c", "last_model_path": "/a/c/last.ckpt",
        ...          "best_k_models": {"/a/c/e.ckpt": 1}, "best_model_score": None},
        ...         "/a/c", "/b/c")  # doctest: +NORMALIZE_WHITESPACE
        {'dirpath': '/b/c', 'last_model_path': '/b/c/last.ckpt',
         'best_k_models': {'/b/c/e.ckpt': 1}, 'best_model_score': None}
    """
    old = os.path.abspath(old)

    def move(path: Any) -> Any:
        if isinstance(path, str) and path and os.path.abspath(path).startswith(old + os.sep):
            return os.path.join(new, os.path.relpath(os.path.abspath(path), old))
        return path

    moved = {key: move(value) for key, value in state.items()}
    moved["dirpath"] = new
    if isinstance(state.get("best_k_models"), dict):
        moved["best_k_models"] = {move(k): v for k, v in state["best_k_models"].items()}
    return moved


class RunCheckpoint(ModelCheckpoint):
    """ModelCheckpoint into the run directory, with ``last.ckpt``, the plan digest and RNG states.

    Every argument is :class:`~pytorch_lightning.callbacks.ModelCheckpoint`'s; only the
    default of ``save_last`` differs, so that ``--ckpt_path last`` always finds a checkpoint.

    Args:
        save_last: Also keep ``last.ckpt``, the latest state (see ``ModelCheckpoint``). ``true``
            and ``link`` both make it a hard link to the newest checkpoint file (ModelCheckpoint's
            ``link`` mode, with an atomic hard link instead of a symbolic link, so it never
            dangles); with ``save_top_k: 0`` it is written as a file of its own.
        **kwargs: The other ``ModelCheckpoint`` arguments (``dirpath``, ``every_n_epochs``,
            ``monitor``, ``save_top_k``...).
    """

    def __init__(self, save_last: bool | Literal["link"] | None = True, **kwargs: Any) -> None:
        super().__init__(save_last="link" if save_last else save_last, **kwargs)
        self._plan_digest: str | None = None

    def _save_topk_checkpoint(self, trainer: Trainer, monitor_candidates: dict[str, Any]) -> None:
        """Name ``last.ckpt`` in the state before the first save: the file becomes last.ckpt."""
        if self.save_last and not self.last_model_path:
            path = self.format_checkpoint_name(monitor_candidates, self.CHECKPOINT_NAME_LAST)
            # ModelCheckpoint would pick this very name (a new run directory has no last.ckpt).
            if not self.file_exists(path, trainer):
                self.last_model_path = path
        super()._save_topk_checkpoint(trainer, monitor_candidates)

    @staticmethod
    def _link_checkpoint(trainer: Trainer, filepath: str, linkpath: str) -> None:
        """Make ``linkpath`` a hard link to ``filepath``, replacing it atomically (or a copy)."""
        if trainer.is_global_zero and os.path.abspath(filepath) != os.path.abspath(linkpath):
            if not _is_local_file_protocol(linkpath):
                ModelCheckpoint._link_checkpoint(trainer, filepath, linkpath)
                return
            folder = os.path.dirname(os.path.abspath(linkpath))
            fd, tmp = tempfile.mkstemp(prefix=".last-", suffix=".tmp", dir=folder)
            os.close(fd)
            os.remove(tmp)
            try:
                os.link(filepath, tmp)
            except OSError:  # a filesystem without hard links
                shutil.copyfile(filepath, tmp)
            os.replace(tmp, linkpath)
        trainer.strategy.barrier()

    def _save_checkpoint(self, trainer: Trainer, filepath: str) -> None:
        """Write to a temporary file in the same directory, fsync, then rename into place.

        A checkpoint file is whole or absent, whatever kills the process or fills the disk
        meanwhile; a full disk (``ENOSPC``, ``EDQUOT``) is a :class:`UsageError` naming the
        directory, with the older checkpoints untouched.
        """
        if not _is_local_file_protocol(filepath):
            super()._save_checkpoint(trainer, filepath)
            return
        folder, name = os.path.split(os.path.abspath(filepath))
        tmp = os.path.join(folder, f".{name}.tmp")  # the same name on every rank: one writes
        try:
            trainer.save_checkpoint(tmp, self.save_weights_only)
            if trainer.is_global_zero:
                _fsync(tmp)
                os.replace(tmp, filepath)
                _fsync(folder)
        except OSError as err:
            if trainer.is_global_zero and os.path.exists(tmp):
                os.remove(tmp)
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise UsageError(
                    f"checkpoint: no space left on the device of {folder} while writing {name} "
                    "(nothing half-written was kept; the older checkpoints are intact). Free "
                    "space there, or log to another disk (trainer.logger.init_args.save_dir), "
                    "then resume with --ckpt_path last."
                ) from err
            raise
        trainer.strategy.barrier()
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Remember the digest of the plan the DataModule built (``setup`` runs before restore).

        The strategy's default checkpoint writer becomes
        :class:`~lightning_snnpriv.callbacks.checkpoint_io.DirectCheckpointIO` (one write
        instead of two).
        """
        super().setup(trainer, pl_module, stage)
        use_direct_io(trainer.strategy)
        plan = getattr(trainer.datamodule, "plan", None)
        self._plan_digest = plan.digest() if plan is not None else None

    def check_plan(self, checkpoint: dict[str, Any], digest: str | None, path: Any) -> None:
        """Refuse a checkpoint trained on another membership plan than ``digest``."""
        state = checkpoint.get("callbacks", {}).get(self.state_key, {})
        saved = state.get("plan_digest") if isinstance(state, dict) else None
        if saved is not None and digest is not None and saved != digest:
            raise UsageError(
                f"--ckpt_path {path}: the checkpoint was trained on membership plan "
                f"{saved}, but this config builds plan {digest} (a different dataset, "
                "scheme, seed_everything or number of shadows). Resume with the run's own "
                "config.yaml, or start a new run without --ckpt_path."
            )

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """ModelCheckpoint's, with the saved paths re-based when the run directory moved.

        The state holds absolute paths (``dirpath``, ``last_model_path``, ``best_model_path``,
        ``best_k_models``). A run directory moved with ``mv`` and resumed from its own
        checkpoint has a new ``dirpath``: its paths are re-derived from it, so ``last.ckpt`` is
        updated in place (no ``last-v1.ckpt``) and the older epoch file is cleaned up.
        """
        old = state_dict.get("dirpath")
        resumed = getattr(self, "_resumed_from", None)
        if (
            old
            and self.dirpath
            and resumed
            and os.path.abspath(old) != os.path.abspath(self.dirpath)
            and os.path.dirname(os.path.abspath(resumed)) == os.path.abspath(self.dirpath)
        ):
            state_dict = _rebase(state_dict, old, self.dirpath)
        super().load_state_dict(state_dict)

    def state_dict(self) -> dict[str, Any]:
        """ModelCheckpoint's state plus the plan digest and the random states at saving time."""
        return {**super().state_dict(), "plan_digest": self._plan_digest, "rng": rng_states()}

    def on_load_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Refuse a checkpoint whose plan differs from this run's; restore the random states."""
        state = checkpoint.get("callbacks", {}).get(self.state_key, {})
        self.check_plan(checkpoint, self._plan_digest, trainer.ckpt_path)
        self._resumed_from = trainer.ckpt_path
        # One process only: under DDP every rank would get rank zero's states.
        if "rng" in state and trainer.world_size == 1:
            set_rng_states(state["rng"])
