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
COMMANDS: dict[str, str] = {
    "attack": "lightning_snnpriv.attack_command:attack_main",
}


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
        PrivacyCLI(
            PrivacyModule,
            PrivacyDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            seed_everything_default=0,
            trainer_defaults=TRAINER_DEFAULTS,
            args=argv,
            auto_configure_optimizers=False,
        )
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
