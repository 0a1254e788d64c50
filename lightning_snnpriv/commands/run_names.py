r"""``fit``'s run name when the user gave none: the config's name, then what the command changed.

A run logs into ``<save_dir>/<name>/version_N``. ``name`` is the config file's logger name
(``breast_cancer_snn``) when the command line only gives config files, so a plain run of a
config keeps its obvious name. When the command line changes settings that change what is
measured, their tokens (:mod:`lightning_snnpriv.runs.names`) follow that name::

    fit --config configs/breast_cancer_snn.yaml --data.init_args.scheme lira \
        --data.init_args.num_shadows 15
    -> logs/breast_cancer_snn-lira-m16/version_0

"Changed" means: the value differs from the one the config files alone give (they are parsed
a second time without the other options). Settings that count: ``seed_everything``, every
``data``, ``model`` and ``mia`` setting but :data:`IGNORED_KEYS`, and the trainer's
:data:`RESULT_TRAINER_KEYS`; devices, strategies, logging and checkpointing do not. A name the
user gives always wins: ``--trainer.logger.init_args.name`` or ``...version`` on the command
line (or a logger whose name or version differs from the config file's, or any set version)
keeps the logger as it is. Resuming (``--ckpt_path``) then finds the run under the same name.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from jsonargparse import Namespace

from lightning_snnpriv.runs.names import run_name

#: Trainer settings that change what a run measures.
RESULT_TRAINER_KEYS = (
    "max_epochs",
    "max_steps",
    "precision",
    "accumulate_grad_batches",
    "gradient_clip_val",
)
#: Settings of the counted sections that change nothing measured (``data.init_args.seed``
#: follows ``seed_everything``).
IGNORED_KEYS = frozenset(
    {
        "data.init_args.seed",
        "data.init_args.num_workers",
        "data.init_args.data_dir",
        "data.init_args.download",
        "data.init_args.verify_checksums",
        "mia.save_signals",
        "mia.print_table",
    }
)
#: Sections whose every setting counts.
SECTIONS = ("seed_everything", "data", "model", "mia")
_CONFIG_OPTIONS = ("--config", "-c")
_NAMING_OPTION = re.compile(r"--trainer\.logger(?:(?:\.init_args)?\.(?:name|version))?(?:=.*)?")


def config_only_args(args: Sequence[str]) -> list[str] | None:
    """``args`` with only the commands and ``--config`` files (``None``: nothing else, or named).

    ``None`` when the command line holds nothing but those, or when an option names the run
    (the logger's name or version, or the whole logger).

    Example:
        >>> config_only_args(["fit", "--config", "a.yaml", "--data.init_args.scheme", "lira"])
        ['fit', '--config', 'a.yaml']
        >>> config_only_args(["fit", "--config=a.yaml"]) is None
        True
        >>> config_only_args(["fit", "-c", "a.yaml", "--trainer.logger.init_args.name=x"]) is None
        True
    """
    kept: list[str] = []
    other = False
    i = 0
    while i < len(args):
        token = args[i]
        if token.startswith("--") and _NAMING_OPTION.fullmatch(token):
            return None
        value = "=" not in token and i + 1 < len(args) and not args[i + 1].startswith("--")
        step = 2 if token.startswith("-") and value else 1
        if token.split("=", 1)[0] in _CONFIG_OPTIONS or not token.startswith("-"):
            kept += args[i : i + step]  # a config file, or a command (``fit``)
        else:
            other = True
        i += step
    return kept if other else None


def flat_settings(section: Any, prefix: str = "") -> dict[str, Any]:
    """A config as dotted keys (``model.init_args.weight_bits``) -> values (lists are values).

    Example:
        >>> flat_settings({"model": {"init_args": {"hidden_sizes": [8], "beta": 0.9}}})
        {'model.init_args.hidden_sizes': [8], 'model.init_args.beta': 0.9}
    """
    if isinstance(section, Namespace):
        section = section.as_dict()
    if not isinstance(section, Mapping) or (prefix and not section):
        return {prefix.removesuffix("."): section} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in section.items():
        out.update(flat_settings(value, f"{prefix}{key}."))
    return out


def counted(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that name a run (see the module's docstring)."""
    trainer = {f"trainer.{k}" for k in RESULT_TRAINER_KEYS}
    return {
        key: value
        for key, value in settings.items()
        if key not in IGNORED_KEYS and (key in trainer or key.split(".", 1)[0] in SECTIONS)
    }


def changed_settings(base: Mapping[str, Any], final: Mapping[str, Any]) -> dict[str, Any]:
    """The counted settings of ``final`` that ``base`` does not have or has another value of.

    A section whose ``class_path`` changed drops the ``init_args`` only one class has.

    Example:
        >>> base = {"model.class_path": "A", "model.init_args.beta": 0.9, "seed_everything": 0}
        >>> changed_settings(base, {"model.class_path": "B", "model.init_args.lr": 1.0,
        ...                         "model.init_args.beta": 0.9, "seed_everything": 1})
        {'model.class_path': 'B', 'seed_everything': 1}
    """
    base, final = counted(base), counted(final)
    swapped = [
        key.removesuffix("class_path")
        for key, value in final.items()
        if key.endswith("class_path") and key in base and base[key] != value
    ]
    changed = {}
    for key, value in final.items():
        if key in base and base[key] == value:
            continue
        if key not in base and any(key.startswith(f"{section}init_args.") for section in swapped):
            continue
        changed[key] = value
    return changed


def name_run(parser: Any, args: Sequence[str] | None, config: Namespace) -> str | None:
    """Rename the ``fit`` run's logger after the settings the command line changed (edits it).

    Args:
        parser: The parser that parsed ``args`` (its ``fit`` subcommand).
        args: The command line (``None``: ``sys.argv``).
        config: The parsed config (``config.fit`` is edited).

    Returns:
        The new name, or ``None`` when the logger keeps its name.
    """
    args = list(sys.argv[1:] if args is None else args)
    base_args = config_only_args(args)
    logger = logger_args(config.fit)
    if base_args is None or logger is None or logger.get("version") is not None:
        return None
    try:
        base = parser.parse_args(base_args).fit
    except Exception:  # the config files alone are incomplete: the name stays as given
        return None
    base_logger = logger_args(base)
    if base_logger is None or base_logger.get("name") != logger.get("name"):
        return None
    changed = changed_settings(flat_settings(base), flat_settings(config.fit))
    if not changed:
        return None
    logger.name = run_name(str(logger.get("name") or "default"), changed)
    return logger.name


def logger_args(cfg: Namespace) -> Namespace | None:
    """Init args of a logger with ``save_dir`` and ``name`` (TensorBoard, CSV), else None."""
    logger = cfg.get("trainer.logger")
    if not isinstance(logger, Namespace):
        return None
    args = logger.get("init_args")
    if not isinstance(args, Namespace) or not all(k in args for k in ("save_dir", "name")):
        return None
    return args
