"""The command line: a LightningCLI with the datasets and networks in subclass mode."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from pytorch_lightning.cli import LightningArgumentParser, LightningCLI

from lightning_snnpriv.callbacks import MembershipInferenceCallback
from lightning_snnpriv.data import PrivacyDataModule
from lightning_snnpriv.errors import UsageError
from lightning_snnpriv.models import PrivacyModule

#: Trainer settings every run starts from; configs override them.
TRAINER_DEFAULTS = {
    "logger": {
        "class_path": "pytorch_lightning.loggers.TensorBoardLogger",
        "init_args": {"save_dir": "logs", "name": "default", "default_hp_metric": False},
    },
}


#: Subcommands besides LightningCLI's own (fit, validate, test, predict):
#: name -> "module:function", the function taking the remaining arguments.
COMMANDS: dict[str, str] = {"describe": "lightning_snnpriv.describe:main"}


class PrivacyCLI(LightningCLI):
    """LightningCLI that links the data's shape and model count into the model.

    ``num_models``, ``num_classes`` and ``input_shape`` come from the DataModule and are never
    written in configs; the data's ``seed`` follows ``seed_everything``; the membership-inference
    callback is always present under the ``mia`` key.
    """

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Add the ``mia`` callback and the links data -> model."""
        parser.add_lightning_class_args(MembershipInferenceCallback, "mia")
        for key in ("num_models", "num_classes", "input_shape"):
            parser.link_arguments(f"data.{key}", f"model.init_args.{key}", apply_on="instantiate")
        parser.link_arguments("seed_everything", "data.init_args.seed", compute_fn=_seed)


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
    except (UsageError, ValueError) as err:
        usage = _usage_error(err)
        if usage is None:
            raise
        print(f"error: {usage}", file=sys.stderr)
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
    )


def _usage_error(err: BaseException | None) -> UsageError | None:
    """The :class:`UsageError` behind ``err``, if any.

    jsonargparse re-raises an error of a class's ``__init__`` as a ``ValueError`` caused by it.
    """
    while err is not None and not isinstance(err, UsageError):
        err = err.__cause__ or err.__context__
    return err


if __name__ == "__main__":
    main()
