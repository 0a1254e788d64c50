"""The commands besides LightningCLI's own, and how each one's parser is built.

Each command is a module of :mod:`lightning_snnpriv.commands` with:

* a module docstring whose first line is the command's one-line description;
* ``add_arguments(parser)``: its options, on a jsonargparse parser (types validate them, the
  help strings document them);
* ``run(config)``: the command, given the parsed options (a ``Namespace``);
* optionally ``FIT_CONFIG = True``: its parser is the ``fit`` parser itself (the same config,
  links and validation), and ``run`` receives the instantiated LightningCLI (``describe``).

Registering a command is one entry in :data:`COMMANDS`; ``python -m lightning_snnpriv --help``
lists it with its description and ``<command> --help`` documents its options. The table and the
top-level help import no command: a description is read from the module's source, so
``--help`` costs no torch or Lightning import.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from jsonargparse import ArgumentParser

PROG = "python -m lightning_snnpriv"
#: LightningCLI's own commands (``Trainer`` methods) and what they do here.
LIGHTNING_COMMANDS = {
    "fit": "Train the target and its shadow models, then audit them with the attacks",
    "validate": "The target's loss and accuracy on its non-members (one validation epoch)",
    "test": "The target's loss and accuracy on its non-members (one test epoch)",
    "predict": "Run the models' forward pass on the prediction data",
}
DESCRIPTION = (
    "Membership-inference audits of spiking and conventional networks. Every command's --help "
    "documents its options."
)

#: Command name -> its module.
COMMANDS: dict[str, str] = {
    "attack": "lightning_snnpriv.commands.attack",
    "sweep": "lightning_snnpriv.commands.sweep",
    "report": "lightning_snnpriv.commands.report",
    "describe": "lightning_snnpriv.commands.describe",
    "calibrate": "lightning_snnpriv.commands.calibrate",
}


@dataclass(frozen=True)
class Command:
    """A registered command."""

    name: str

    @property
    def module(self) -> ModuleType:
        """The command's module (imported on first use)."""
        return importlib.import_module(COMMANDS[self.name])

    @property
    def prog(self) -> str:
        """The command as typed: ``python -m lightning_snnpriv <name>``."""
        return f"{PROG} {self.name}"

    @property
    def description(self) -> str:
        """The first line of the module's docstring (read from its source, not imported)."""
        spec = importlib.util.find_spec(COMMANDS[self.name])
        source = Path(spec.origin).read_text() if spec and spec.origin else ""
        doc = (ast.get_docstring(ast.parse(source)) or "").strip()
        return doc.splitlines()[0].rstrip(".") if doc else self.name

    @property
    def uses_fit_config(self) -> bool:
        """Whether the command's parser is the ``fit`` parser (and ``run`` gets the CLI)."""
        return bool(getattr(self.module, "FIT_CONFIG", False))

    @property
    def usage(self) -> str:
        """A one-line usage for error messages."""
        return f"{self.prog} {getattr(self.module, 'USAGE', '[OPTIONS]')} (--help)"

    def parser(self) -> ArgumentParser:
        """The parser of a command that does not use the ``fit`` config."""
        parser = ArgumentParser(
            prog=self.prog,
            description=self.description + ".",
            exit_on_error=False,
            allow_abbrev=False,
        )
        self.module.add_arguments(parser)
        return parser


def commands() -> list[Command]:
    """Every registered command, in registration order."""
    return [Command(name) for name in COMMANDS]


def help_parser() -> ArgumentParser:
    """The top-level parser, for ``--help`` alone: every command and its description.

    The commands' own parsers (LightningCLI's for ``fit`` & co.) are not built: each
    ``<command> --help`` documents its options.
    """
    parser = ArgumentParser(prog=PROG, description=DESCRIPTION, exit_on_error=False)
    subcommands = parser.add_subcommands()
    described = {**LIGHTNING_COMMANDS, **{c.name: c.description for c in commands()}}
    for name, description in described.items():
        subcommands.add_subcommand(name, ArgumentParser(), help=description)
    return parser
