"""Checks of a parsed ``fit`` config that must hold before anything is written.

The classes check their own arguments when they are built; these are the settings no class of
ours owns (the trainer's length, ``seed_everything``, the logger's directory, the optimizer's
arguments) and the values YAML can spell but no setting means (``.nan``, ``.inf``). They run
right after parsing, so a bad config never leaves a ``version_N`` directory behind.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import tempfile
import types
import typing
from pathlib import Path
from typing import Any

import torch
from jsonargparse import Namespace

from lightning_snnpriv.errors import ConfigError

#: ``seed_everything`` is a numpy seed: ``[0, 2**32)``.
SEED_RANGE = (0, 2**32)
#: Longest file name most filesystems take (bytes).
NAME_MAX = 255


def check_fit_config(cfg: Namespace) -> None:
    """Refuse a ``fit`` config that would hang, write outside its logger directory, or fail late.

    Raises:
        ConfigError: Naming the field and the fix.
    """
    check_length(cfg.get("trainer"))
    check_seed(cfg.get("seed_everything"))
    for section in ("model", "data", "mia"):
        check_finite(_plain(cfg.get(section)), section)
    for section in ("model", "data"):
        check_nulls(cfg.get(section), section)
    check_optimizer(cfg.get("model.init_args.optimizer"))
    logger = cfg.get("trainer.logger")
    if isinstance(logger, Namespace) and isinstance(logger.get("init_args"), Namespace):
        check_logger(logger.init_args)


def check_length(trainer: Namespace | None) -> None:
    """``max_epochs`` of 0 (trains nothing) or -1 (forever, unless steps or time bound it)."""
    if trainer is None:
        return
    epochs, steps, time = (trainer.get(k) for k in ("max_epochs", "max_steps", "max_time"))
    if epochs == 0:
        raise ConfigError(
            "trainer.max_epochs: 0 trains nothing, and the audit would measure untrained "
            "models. Set trainer.max_epochs >= 1."
        )
    bounded = (steps is not None and steps > 0) or time is not None
    if epochs is not None and epochs < 0 and not bounded:
        raise ConfigError(
            f"trainer.max_epochs: {epochs} trains forever. Set trainer.max_epochs >= 1, or bound "
            "the run with trainer.max_steps or trainer.max_time."
        )


def check_seed(seed: Any) -> None:
    """``seed_everything`` in ``[0, 2**32)`` (``true``/``false`` are allowed, as Lightning's)."""
    if isinstance(seed, bool) or seed is None:
        return
    low, high = SEED_RANGE
    if not low <= seed < high:
        raise ConfigError(f"seed_everything: must be in [0, 2**32 - 1], got {seed}.")


def check_finite(value: Any, field: str) -> None:
    """No NaN or infinite float anywhere under a section (YAML's ``.nan``, ``.inf``).

    Example:
        >>> check_finite({"init_args": {"threshold": float("inf")}}, "model")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lightning_snnpriv.errors.ConfigError: model.init_args.threshold: must be a finite number...
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{field}: must be a finite number, got {value}.")
    if isinstance(value, dict):
        for key, item in value.items():
            check_finite(item, f"{field}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_finite(item, f"{field}[{i}]")


def check_nulls(section: Any, field: str) -> None:
    """``key: null`` for a setting whose type has no ``None`` (jsonargparse passes it on).

    Example:
        >>> from jsonargparse import Namespace
        >>> section = Namespace(class_path="lightning_snnpriv.data.IrisDataModule",
        ...                     init_args=Namespace(num_shadows=None))
        >>> check_nulls(section, "data")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lightning_snnpriv.errors.ConfigError: data.init_args.num_shadows: null is not a value...
    """
    if not isinstance(section, Namespace) or not isinstance(section.get("class_path"), str):
        return
    module, _, name = section.class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
        hints: dict[str, Any] = {}
        defaults: dict[str, Any] = {}
        for base in reversed(cls.__mro__):  # subclasses pass settings on as **kwargs
            if "__init__" in vars(base) and base is not object:
                hints.update(typing.get_type_hints(base.__init__))
                params = inspect.signature(base.__init__).parameters.items()
                defaults.update({k: p.default for k, p in params})
    except Exception:  # an unknown class is the parser's error; odd annotations: no check
        return
    for key, value in (_plain(section.get("init_args")) or {}).items():
        hint = hints.get(key)
        if value is None and hint is not None and not _allows_none(hint):
            default = defaults.get(key, inspect.Parameter.empty)
            fix = "remove the line" + (
                f" (the default is {default!r})" if default is not inspect.Parameter.empty else ""
            )
            raise ConfigError(
                f"{field}.init_args.{key}: null is not a value of this setting (it takes "
                f"{getattr(hint, '__name__', hint)}); {fix} or give a value."
            )


def _allows_none(hint: Any) -> bool:
    if hint is Any or hint is type(None):
        return True
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_allows_none(a) for a in args)
    if typing.get_origin(hint) is typing.Annotated:
        return _allows_none(args[0])
    return False


def check_optimizer(optimizer: Any) -> None:
    """Build the optimizer once on a dummy parameter: torch's own checks, named as our field."""
    if not isinstance(optimizer, Namespace) or not isinstance(optimizer.get("class_path"), str):
        return
    field = "model.init_args.optimizer.init_args"
    args = _plain(optimizer.get("init_args")) or {}
    lr = args.get("lr")
    if isinstance(lr, int | float) and not lr >= 0:
        raise ConfigError(f"{field}.lr: the learning rate must be >= 0, got {lr}.")
    module, _, name = optimizer.class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
        cls([torch.nn.Parameter(torch.zeros(1))], **args)
    except (ValueError, TypeError, RuntimeError) as err:
        raise ConfigError(
            f"{field}: {optimizer.class_path} refuses these settings ({err}). Fix them in the "
            "config file or on the command line."
        ) from err


def check_logger(args: Namespace) -> None:
    """The run stays inside ``save_dir``, and ``save_dir`` is a directory we can write in."""
    if "save_dir" not in args:
        return
    for key in ("name", "version", "sub_dir"):
        value = args.get(key)
        if isinstance(value, str) and value:
            _check_component(f"trainer.logger.init_args.{key}", value)
    save_dir = Path(str(args.save_dir))
    root = save_dir / (args.get("name") or "")
    field = "trainer.logger.init_args.save_dir"
    for parent in [save_dir, *save_dir.parents]:
        if parent.exists() and not parent.is_dir():
            raise ConfigError(
                f"{field}: {parent} is a file, not a directory; pass a directory for the runs."
            )
    existing = next(p for p in [root, *root.parents] if p.exists())  # nothing is created here
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".write-check-")
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        raise ConfigError(
            f"{field}: cannot write runs into {root} ({err.strerror or err}); pass a writable "
            "directory."
        ) from err


def _check_component(field: str, value: str) -> None:
    """A logger name or version is one plain directory name: no separators, no ``..``."""
    if value in (".", "..") or "/" in value or os.sep in value or (os.altsep or "/") in value:
        raise ConfigError(
            f"{field}: {value!r} is not a plain directory name (a path would put the run "
            "outside save_dir); use letters, digits, '_', '-' and '.', and set the directory "
            "with trainer.logger.init_args.save_dir."
        )
    if "\0" in value or len(value.encode()) > NAME_MAX:
        raise ConfigError(
            f"{field}: {len(value.encode())} bytes long ({value[:20]}...); a directory name "
            f"takes at most {NAME_MAX}. Use a shorter name."
        )


def _plain(section: Any) -> Any:
    """A config section as plain dicts and lists."""
    if isinstance(section, Namespace):
        return _plain(section.as_dict())
    if isinstance(section, dict):
        return {k: _plain(v) for k, v in section.items()}
    if isinstance(section, list | tuple):
        return [_plain(v) for v in section]
    return section
