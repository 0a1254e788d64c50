"""The command line: a LightningCLI with the datasets and networks in subclass mode."""

from __future__ import annotations

import importlib
import itertools
import sys
from collections.abc import Sequence

from jsonargparse import ArgumentError
from lightning_fabric.utilities.exceptions import MisconfigurationException
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI

from lightning_snnpriv.callbacks import MembershipInferenceCallback
from lightning_snnpriv.callbacks.checkpoint import RunCheckpoint
from lightning_snnpriv.callbacks.guard import NonFiniteLossGuard
from lightning_snnpriv.cli_errors import explain_parse_error, explain_usage_error
from lightning_snnpriv.data import PrivacyDataModule
from lightning_snnpriv.distributed import detecting_unused_parameters
from lightning_snnpriv.errors import find_usage_error
from lightning_snnpriv.models import PrivacyModule
from lightning_snnpriv.resume import RunConfigSaver, prepare_fit

#: Trainer settings every run starts from; configs override them.
TRAINER_DEFAULTS = {
    "logger": {
        "class_path": "pytorch_lightning.loggers.TensorBoardLogger",
        "init_args": {"save_dir": "logs", "name": "default", "default_hp_metric": False},
    },
}


#: Subcommands besides LightningCLI's own (fit, validate, test, predict):
#: name -> "module:function", the function taking the remaining arguments.
COMMANDS: dict[str, str] = {
    "describe": "lightning_snnpriv.describe:main",
    "sweep": "lightning_snnpriv.sweep:main",
    "report": "lightning_snnpriv.report:main",

    "attack": "lightning_snnpriv.attack_command:attack_main",
}


class PrivacyCLI(LightningCLI):
    """LightningCLI that links the data's shape and model count into the model.

    ``num_models``, ``num_classes`` and ``input_shape`` come from the DataModule and are never
    written in configs; the data's ``seed`` follows ``seed_everything``; the membership-inference
    callback is always present under the ``mia`` key.
    """

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Add the ``mia``, ``checkpoint`` and ``guard`` callbacks and the links data -> model."""
        parser.add_lightning_class_args(MembershipInferenceCallback, "mia")
        parser.add_lightning_class_args(RunCheckpoint, "checkpoint")
        parser.add_lightning_class_args(NonFiniteLossGuard, "guard")
        for key in ("num_models", "num_classes", "input_shape"):
            parser.link_arguments(f"data.{key}", f"model.init_args.{key}", apply_on="instantiate")
        parser.link_arguments("seed_everything", "data.init_args.seed", compute_fn=_seed)

    def before_instantiate_classes(self) -> None:
        """``strategy: ddp`` (and its spawn/fork variants) detect unused parameters here."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        config.trainer.strategy = detecting_unused_parameters(config.trainer.strategy)

    def parse_arguments(self, parser: LightningArgumentParser, args: object) -> None:
        """Parse, then resolve ``fit --ckpt_path`` to a checked checkpoint and its run directory."""
        super().parse_arguments(parser, args)  # type: ignore[arg-type]
        if self.config.get("subcommand") == "fit":
            prepare_fit(self.config.fit)


def _seed(seed: int | bool) -> int:
    """The data seed from ``seed_everything`` (``true``/``false`` there mean 0 here)."""
    return 0 if isinstance(seed, bool) else int(seed)


def main(args: Sequence[str] | None = None) -> None:
    """Run the command line; a :class:`UsageError` exits with code 2 and a one-line message."""
    argv = list(sys.argv[1:] if args is None else args)
    try:
        if argv and argv[0] in COMMANDS:
            module, function = COMMANDS[argv[0]].split(":")
            getattr(importlib.import_module(module), function)(argv[1:])
            return
        build_cli(argv if args is not None else None)
    except ArgumentError as err:
        command = " ".join(["python -m lightning_snnpriv", *argv[:1]])
        message = explain_parse_error(str(err), command, config_files=_config_files(argv))
        _exit_with(message, usage=command)
    except MisconfigurationException as err:
        _exit_with(f"trainer: {err}")
    except Exception as err:  # a UsageError, possibly wrapped by jsonargparse's instantiation
        usage_error = find_usage_error(err)
        if usage_error is None:
            raise
        _exit_with(explain_usage_error(err, usage_error))


#: Parse errors are raised (not printed with a 60-line usage block) and explained by ``main``;
#: no abbreviations, so a misspelt ``--trainer.max_epoch`` is an error, not ``max_epochs``.
_PARSER_KWARGS = {
    "exit_on_error": False,
    "allow_abbrev": False,
    **{
        name: {"exit_on_error": False, "allow_abbrev": False}
        for name in ("fit", "validate", "test", "predict")
    },
}


def _config_files(argv: list[str]) -> list[str]:
    """The files given with ``--config``/``-c`` in ``argv``."""
    files = [b for a, b in itertools.pairwise(argv) if a in ("--config", "-c")]
    return files + [a.split("=", 1)[1] for a in argv if a.startswith("--config=")]


def _exit_with(message: str, usage: str | None = None) -> None:
    """Print ``error: message`` (and a one-line usage) on stderr; exit with code 2."""
    print(f"error: {message}", file=sys.stderr)
    if usage:
        print(f"usage: {usage} --config CONFIG [--SECTION.KEY=VALUE ...] (--help)", file=sys.stderr)
    raise SystemExit(2) from None


def build_cli(args: Sequence[str] | None, run: bool = True) -> PrivacyCLI:
    """The LightningCLI of ``fit`` & co. (``run=False``: parse and instantiate, don't run).

    ``args`` ``None`` reads ``sys.argv``, as LightningCLI does.
    """
    return PrivacyCLI(
        PrivacyModule,
        PrivacyDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        seed_everything_default=0,
        trainer_defaults=TRAINER_DEFAULTS,
        args=None if args is None else list(args),
        run=run,
        auto_configure_optimizers=False,
        save_config_callback=RunConfigSaver,
        parser_kwargs=_PARSER_KWARGS,
    )


if __name__ == "__main__":
    main()
