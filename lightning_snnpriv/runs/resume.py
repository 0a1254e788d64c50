"""Resuming a run: finding its checkpoint, reading it safely, checking it matches the config.

A checkpoint at ``<run>/checkpoints/<file>.ckpt`` belongs to ``<run>``; the newest run of a
logger directory (``<save_dir>/<name>/version_N``, highest ``N`` with ``checkpoints/last.ckpt``)
is what ``--ckpt_path last`` continues, unless its training is over. The fit command
(:mod:`lightning_snnpriv.commands.fit`) points the logger at the run these functions find.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning_snnpriv.errors import ConfigError, UsageError
from lightning_snnpriv.runs.files import load_tensors
from lightning_snnpriv.runs.run_dir import CHECKPOINT_DIR, RESULTS_FILE, RunDir

#: Model arguments linked from the data by the CLI: compared through the data's settings.
LINKED_MODEL_KEYS = ("num_models", "num_classes", "input_shape")
#: Settings that may change between a run and its resumption.
FREE_DATA_KEYS = ("num_workers",)
_VERSION = re.compile(r"version_(\d+)")


def version_dir(version: int | str) -> str:
    """The directory name of a logger version: ``3`` -> ``version_3``, a string as it is."""
    return version if isinstance(version, str) else f"version_{version}"


def version_number(run: Path) -> int | str:
    """The logger version of a run directory: ``version_3`` -> ``3``, other names as they are."""
    match = _VERSION.fullmatch(Path(run).name)
    return int(match.group(1)) if match else Path(run).name


def versions(root: str | Path) -> list[RunDir]:
    """The ``version_N`` run directories under a logger directory, newest (highest N) first."""
    root = Path(root)
    if not root.is_dir():
        return []
    numbered = [(int(m.group(1)), d) for d in root.iterdir()
                if d.is_dir() and (m := _VERSION.fullmatch(d.name))]  # fmt: skip
    return [RunDir(d) for _, d in sorted(numbered, key=lambda pair: pair[0], reverse=True)]


def newest_complete(root: str | Path) -> RunDir | None:
    """The newest run under a logger directory whose audit results are written."""
    return next((run for run in versions(root) if run.is_complete), None)


def find_last(root: str | Path, version: int | str | None = None) -> Path | None:
    """``last.ckpt`` of the newest run under ``root``, unless that run is complete.

    A run that finished training but not its audit (killed after ``signals.pt``) is returned:
    resuming it finishes the audit (:func:`check_resumable`).

    Args:
        root: The logger directory (``<save_dir>/<name>``).
        version: Consider only this version directory.
    """
    runs = versions(root) if version is None else [RunDir(Path(root) / version_dir(version))]
    for run in runs:
        if run.last_checkpoint.is_file():
            return None if run.is_complete else run.last_checkpoint
    return None


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load a Lightning checkpoint safely (``weights_only=True``), or raise :class:`UsageError`."""
    checkpoint = load_tensors(
        path, "checkpoint", f"Pass another checkpoint from {path.parent}, or start a new run "
        "without --ckpt_path.", field="--ckpt_path",
    )  # fmt: skip
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise UsageError(f"--ckpt_path {path}: not a Lightning checkpoint (no 'state_dict').")
    return checkpoint


def run_of_checkpoint(path: Path) -> RunDir | None:
    """The run of a checkpoint at ``<run>/checkpoints/x.ckpt``, if that directory holds a plan.

    The path keeps the form it was given in (relative or absolute), as the logger's
    ``save_dir`` did, so the checkpoint callback finds its own directory again.
    """
    folder = path.absolute().parent
    if folder.name == CHECKPOINT_DIR and RunDir(folder.parent).plan_file.is_file():
        return RunDir(path.parent.parent)
    return None


def check_resumable(run: RunDir) -> bool:
    """Refuse a complete run; ``True`` if only its audit is left (``signals.pt``, no results)."""
    if run.is_complete:
        raise ConfigError(
            f"--ckpt_path: run {run} is complete ({RESULTS_FILE} exists); there is nothing "
            "to resume and its files are never overwritten. Start a new run without --ckpt_path."
        )
    return run.finished_training


def check_new_version(run: RunDir) -> None:
    """Refuse to start a new run in a version directory that already holds one."""
    if run.holds_files:
        raise ConfigError(
            f"trainer.logger.init_args.version: {run} exists already and holds a run; a new "
            "run never writes into it. Leave the version unset (a new version_N is chosen), pick "
            f"an unused one, or resume that run with --ckpt_path {run.last_checkpoint}."
        )


def check_same_config(
    checkpoint: Mapping[str, Any],
    model: Mapping[str, Any] | None,
    data: Mapping[str, Any] | None,
    path: Path,
    run: RunDir | None,
) -> None:
    """Refuse a checkpoint whose saved model or data settings differ from the config's.

    Args:
        checkpoint: The loaded checkpoint.
        model: The config's ``model`` section (``class_path`` and ``init_args``), plain values.
        data: The config's ``data`` section.
        path: The checkpoint file (for the message).
        run: The checkpoint's run, if it has one (its config is named as the fix).
    """
    diffs = _diff("model", checkpoint.get("hyper_parameters"), model, LINKED_MODEL_KEYS)
    diffs += _diff("data", checkpoint.get("datamodule_hyper_parameters"), data, FREE_DATA_KEYS)
    if diffs:
        own = run.config_file if run is not None else "the config it was made with"
        raise ConfigError(
            f"--ckpt_path {path}: the checkpoint comes from a different config: "
            f"{'; '.join(diffs)}. Resume with the run's own config ({own}), or start a new run "
            "without --ckpt_path."
        )


def _diff(
    section: str, saved: Any, current: Mapping[str, Any] | None, skip: tuple[str, ...]
) -> list[str]:
    """``section.init_args.key is A there and B here`` for each saved setting that differs."""
    if not isinstance(saved, Mapping) or not isinstance(current, Mapping):
        return []
    saved = dict(saved)
    saved_class, current_class = saved.pop("_class_path", None), current.get("class_path")
    if saved_class and current_class and saved_class != current_class:
        return [f"{section}.class_path is {saved_class} there and {current_class} here"]
    init = _plain(current.get("init_args") or {})
    return [
        f"{section}.init_args.{key} is {_plain(value)!r} there and {init[key]!r} here"
        for key, value in saved.items()
        if not key.startswith("_")
        and key not in skip
        and key in init
        and _plain(value) != init[key]
    ]


def _plain(value: Any) -> Any:
    """Mappings as dicts and tuples as lists, recursively, to compare config values.

    Example:
        >>> _plain({"a": (1, 2), "b": {"c": (3,)}})
        {'a': [1, 2], 'b': {'c': [3]}}
    """
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
