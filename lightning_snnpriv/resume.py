"""Resuming a fit: find the checkpoint, check it matches the config, continue in its run directory.

``fit --ckpt_path PATH`` where PATH is ``<run>/checkpoints/<file>.ckpt`` resumes into ``<run>``
(the logger is pointed at that version directory), so the run keeps one directory: one plan
(``membership.npz``, checked against the rebuilt one by the DataModule), its checkpoints and,
at the end, its attack results. ``fit --ckpt_path last`` does the same with the newest run of
the config's logger (``<save_dir>/<name>/version_N``, highest N that has
``checkpoints/last.ckpt``); when that run is complete or there is none, it starts a new run
(so a preemptible job can always pass ``--ckpt_path last``).

Before anything is built the checkpoint is read with ``torch.load(weights_only=True)`` and its
saved model and data hyper-parameters are compared with the config's: a checkpoint from a
different config is refused with the fields that differ. A config that names an existing
version directory without ``--ckpt_path`` is refused too: a run directory is never reused.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from pytorch_lightning import LightningModule, Trainer
from pytorch_lightning.cli import SaveConfigCallback
from pytorch_lightning.utilities import rank_zero_info

from lightning_snnpriv.callbacks.mia import RESULTS_FILE, SIGNALS_FILE
from lightning_snnpriv.data.base import PLAN_FILE
from lightning_snnpriv.errors import ConfigError, UsageError
from lightning_snnpriv.io import load_tensors

LAST = "last.ckpt"
#: Model arguments linked from the data by the CLI: compared through the data's settings.
LINKED_MODEL_KEYS = ("num_models", "num_classes", "input_shape")
#: Settings that may change between a run and its resumption.
FREE_DATA_KEYS = ("num_workers",)
_VERSION = re.compile(r"version_(\d+)")


def prepare_fit(cfg: Namespace) -> None:
    """Resolve ``cfg.ckpt_path`` and point the logger at the run it resumes (edits ``cfg``).

    Args:
        cfg: The parsed ``fit`` config (``trainer``, ``model``, ``data``, ``ckpt_path``...).

    Raises:
        UsageError: For a missing, unreadable or foreign checkpoint, a run that cannot be
            resumed, or a logger version directory that already holds a run.
    """
    logger = _logger_args(cfg)
    ckpt = cfg.get("ckpt_path")
    if ckpt is None:
        if logger is not None:
            _refuse_existing_version(logger)
        return
    if ckpt == "last":
        if logger is None or cfg.get("checkpoint.dirpath"):
            return  # Lightning's own rules: the checkpoint callbacks' directories
        found = find_last(logger)
        if found is None:
            rank_zero_info(
                f"--ckpt_path last: no interrupted run under {_root(logger)}; starting a new run."
            )
            cfg.ckpt_path = None
            return
        ckpt = str(found)
    elif ckpt in ("best", "hpc") or "://" in ckpt:
        return  # not a local file: Lightning resolves it
    path = Path(ckpt)
    if not path.is_file():
        raise ConfigError(
            f"--ckpt_path {path}: no such checkpoint file. Pass a .ckpt file of a run "
            "(logs/<name>/version_N/checkpoints/last.ckpt) or `last` for the newest run."
        )
    checkpoint = read_checkpoint(path)
    run_dir = run_dir_of(path)
    check_same_config(checkpoint, cfg, path, run_dir)
    if run_dir is not None:
        check_resumable(run_dir)
        if logger is not None:
            version = _VERSION.fullmatch(run_dir.name)
            logger.save_dir = str(run_dir.parent.parent)
            logger.name = run_dir.parent.name
            logger.version = int(version.group(1)) if version else run_dir.name
        rank_zero_info(f"resuming run {run_dir} from {path}")
    cfg.ckpt_path = str(path)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load a Lightning checkpoint safely (``weights_only=True``), or raise :class:`UsageError`."""
    checkpoint = load_tensors(
        path, "checkpoint", f"Pass another checkpoint from {path.parent}, or start a new run "
        "without --ckpt_path.", field="--ckpt_path",
    )  # fmt: skip
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise UsageError(f"--ckpt_path {path}: not a Lightning checkpoint (no 'state_dict').")
    return checkpoint


def run_dir_of(path: Path) -> Path | None:
    """The run directory of a checkpoint at ``<run>/checkpoints/x.ckpt``, if it holds a plan.

    The path keeps the form it was given in (relative or absolute), as the logger's
    ``save_dir`` did, so the checkpoint callback finds its own directory again.
    """
    run_dir = path.absolute().parent.parent
    if path.absolute().parent.name == "checkpoints" and (run_dir / PLAN_FILE).is_file():
        return path.parent.parent
    return None


def check_resumable(run_dir: Path) -> None:
    """Refuse a run whose training already finished (its results or signals exist)."""
    if (run_dir / RESULTS_FILE).exists():
        raise ConfigError(
            f"--ckpt_path: run {run_dir} is complete ({RESULTS_FILE} exists); there is nothing "
            "to resume and its files are never overwritten. Start a new run without --ckpt_path."
        )
    if (run_dir / SIGNALS_FILE).exists():
        raise ConfigError(
            f"--ckpt_path: run {run_dir} finished training ({SIGNALS_FILE} exists) but has no "
            f"{RESULTS_FILE}; re-run its attacks from the saved signals "
            f"(`python -m lightning_snnpriv attack --run {run_dir}`) instead of resuming."
        )


def check_same_config(
    checkpoint: dict[str, Any], cfg: Namespace, path: Path, run_dir: Path | None
) -> None:
    """Refuse a checkpoint whose saved model or data settings differ from the config's."""
    diffs = _diff("model", checkpoint.get("hyper_parameters"), cfg.get("model"), LINKED_MODEL_KEYS)
    diffs += _diff("data", checkpoint.get("datamodule_hyper_parameters"), cfg.get("data"),
                   FREE_DATA_KEYS)  # fmt: skip
    if diffs:
        own = f"{run_dir / 'config.yaml'}" if run_dir is not None else "the config it was made with"
        raise ConfigError(
            f"--ckpt_path {path}: the checkpoint comes from a different config: "
            f"{'; '.join(diffs)}. Resume with the run's own config ({own}), or start a new run "
            "without --ckpt_path."
        )


def find_last(logger: Namespace) -> Path | None:
    """``last.ckpt`` of the newest run under the logger's directory, unless that run is complete.

    With ``logger.version`` set, only that version directory is considered.
    """
    root = _root(logger)
    if logger.get("version") is not None:
        runs = [root / _version_dir(logger.version)]
    else:
        numbered = [(int(m.group(1)), d) for d in _subdirs(root)
                    if (m := _VERSION.fullmatch(d.name))]  # fmt: skip
        runs = [d for _, d in sorted(numbered, reverse=True)]
    for run in runs:
        last = run / "checkpoints" / LAST
        if last.is_file():
            complete = (run / RESULTS_FILE).exists() or (run / SIGNALS_FILE).exists()
            return None if complete else last
    return None


class RunConfigSaver(SaveConfigCallback):
    """Saves the config as ``config.yaml``; a resumed run adds ``config.resume-K.yaml`` beside it.

    Lightning's callback refuses to start when ``config.yaml`` exists; a resumed run continues an
    existing directory, so its config (which may differ only in trainer settings such as
    ``max_epochs``) is kept next to the original instead of overwriting it.
    """

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Choose a free file name in the run directory, then save as Lightning does."""
        log_dir = trainer.log_dir
        if not self.already_saved and log_dir and trainer.is_global_zero:
            base = "config.yaml"
            k = 0
            name = base
            while os.path.exists(os.path.join(log_dir, name)):
                k += 1
                name = f"config.resume-{k}.yaml"
            self.config_filename = name
        super().setup(trainer, pl_module, stage)


def _logger_args(cfg: Namespace) -> Namespace | None:
    """Init args of the logger if it has ``save_dir``, ``name``, ``version`` (TensorBoard, CSV)."""
    logger = cfg.get("trainer.logger")
    if not isinstance(logger, Namespace):
        return None
    args = logger.get("init_args")
    if not isinstance(args, Namespace) or not all(k in args for k in ("save_dir", "name")):
        return None
    return args


def _root(logger: Namespace) -> Path:
    return Path(logger.save_dir) / (logger.name or "")


def _version_dir(version: int | str) -> str:
    return version if isinstance(version, str) else f"version_{version}"


def _subdirs(path: Path) -> list[Path]:
    return [d for d in path.iterdir() if d.is_dir()] if path.is_dir() else []


def _refuse_existing_version(logger: Namespace) -> None:
    if logger.get("version") is None:
        return
    run_dir = _root(logger) / _version_dir(logger.version)
    if run_dir.is_dir() and any(run_dir.iterdir()):
        raise ConfigError(
            f"trainer.logger.init_args.version: {run_dir} exists already and holds a run; a new "
            "run never writes into it. Leave the version unset (a new version_N is chosen), pick "
            f"an unused one, or resume that run with --ckpt_path {run_dir}/checkpoints/{LAST}."
        )


def _diff(section: str, saved: Any, current: Any, skip: tuple[str, ...]) -> list[str]:
    """``section.init_args.key is A there and B here`` for each saved setting that differs."""
    if not isinstance(saved, dict) or not isinstance(current, Namespace):
        return []
    saved = dict(saved)
    saved_class, current_class = saved.pop("_class_path", None), current.get("class_path")
    if saved_class and current_class and saved_class != current_class:
        return [f"{section}.class_path is {saved_class} there and {current_class} here"]
    init = _plain(current.get("init_args") or Namespace())
    return [
        f"{section}.init_args.{key} is {_plain(value)!r} there and {init[key]!r} here"
        for key, value in saved.items()
        if not key.startswith("_")
        and key not in skip
        and key in init
        and _plain(value) != init[key]
    ]


def _plain(value: Any) -> Any:
    """Namespaces as dicts and tuples as lists, recursively, to compare config values.

    Example:
        >>> _plain(Namespace(a=(1, 2), b={"c": (3,)}))
        {'a': [1, 2], 'b': {'c': [3]}}
    """
    if isinstance(value, Namespace):
        value = value.as_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
