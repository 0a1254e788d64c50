"""``python -m lightning_snnpriv``: the entry point, dispatching to the commands."""

from __future__ import annotations

import itertools
import sys
import warnings
from collections.abc import Sequence

from jsonargparse import ArgumentError

from lightning_snnpriv.commands.allocator import keep_freed_memory
from lightning_snnpriv.commands.errors import exit_with, explain_parse_error, explain_usage_error
from lightning_snnpriv.commands.quiet import quiet_output
from lightning_snnpriv.commands.registry import (
    COMMANDS,
    LIGHTNING_COMMANDS,
    PROG,
    Command,
    help_parser,
)
from lightning_snnpriv.errors import find_usage_error
from lightning_snnpriv.runs.yaml_files import check_config_files

#: Lightning's configuration error, by module and name: checked without importing Lightning
#: (a command that did not import it cannot have raised it).
_MISCONFIGURATION = ("lightning_fabric.utilities.exceptions", "MisconfigurationException")


def main(args: Sequence[str] | None = None) -> None:
    """Run a command; bad input exits with code 2 and one paragraph naming the field and fix.

    ``fit``, ``validate``, ``test``, ``predict`` and the top-level ``--help`` go to the
    LightningCLI (whose parser lists every command); a registered command is parsed by its own
    parser (the same one that parser lists). The command runs inside
    :func:`~lightning_snnpriv.commands.quiet.quiet_output` (no third-party tips, each warning
    of ours once); the networks and Lightning are imported inside it too, so import-time notes
    of other libraries are dropped as well. First the C allocator is told to reuse the memory
    that training steps free (:func:`~lightning_snnpriv.commands.allocator.keep_freed_memory`).

    Args:
        args: The arguments after the program name; ``None`` reads ``sys.argv``.
    """
    keep_freed_memory()
    with quiet_output():
        _main(args)


def _main(args: Sequence[str] | None) -> None:
    """:func:`main`, without the output filters."""
    argv = list(sys.argv[1:] if args is None else args)
    command = Command(argv[0]) if argv and argv[0] in COMMANDS else None
    typed = " ".join([PROG, *argv[:1]])
    try:
        check_config_files(_config_files(argv))
        if argv in (["--help"], ["-h"]):  # the command list alone: no command is imported
            help_parser().parse_args(argv)
        elif command is None:
            from lightning_snnpriv.commands.fit import build_cli

            build_cli(argv if args is not None else None)
        elif command.uses_fit_config:
            from lightning_snnpriv.commands.fit import build_cli

            with warnings.catch_warnings():  # args given while sys.argv holds them too: meant
                warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
                cli = build_cli(argv[1:], run=False, command=command)
            command.module.run(cli)
        else:
            command.module.run(command.parser(), argv[1:])
    except ArgumentError as err:
        plain = command is not None and not command.uses_fit_config
        message = explain_parse_error(
            str(err), typed, config_files=_config_files(argv), option_prefix="--" if plain else ""
        )
        if command is not None:
            usage = command.usage
        elif argv and argv[0] in LIGHTNING_COMMANDS:
            usage = f"{typed} --config CONFIG [--SECTION.KEY=VALUE ...] (--help)"
        else:
            usage = f"{PROG} {{{','.join([*LIGHTNING_COMMANDS, *COMMANDS])}}} ... (--help)"
        exit_with(message, usage=usage)
    except Exception as err:  # a UsageError, possibly wrapped by jsonargparse's instantiation
        if _is_misconfiguration(err):
            exit_with(f"trainer: {err}")
        usage_error = find_usage_error(err)
        if usage_error is None:
            raise
        exit_with(explain_usage_error(err, usage_error))


def _config_files(argv: list[str]) -> list[str]:
    """The files given with ``--config``/``-c`` in ``argv``."""
    files = [b for a, b in itertools.pairwise(argv) if a in ("--config", "-c")]
    return files + [a.split("=", 1)[1] for a in argv if a.startswith("--config=")]


def _is_misconfiguration(err: Exception) -> bool:
    """Whether ``err`` is Lightning's ``MisconfigurationException`` (a trainer setting)."""
    module, name = _MISCONFIGURATION
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(err, getattr(loaded, name))
