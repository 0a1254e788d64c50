"""``fit``, ``validate``, ``test``, ``predict``: the LightningCLI, and the one top-level parser.

The datasets and networks are in subclass mode; ``num_models``, ``num_classes`` and
``input_shape`` are linked from the data into the model and the data's ``seed`` follows
``seed_everything``; the ``mia``, ``checkpoint`` and ``guard`` callbacks are always present.
``fit --ckpt_path`` is resolved here against the run directories (:mod:`lightning_snnpriv.runs`).
The top-level parser also lists the commands of :mod:`lightning_snnpriv.commands.registry`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from jsonargparse import Namespace
from lightning_fabric.utilities.exceptions import MisconfigurationException
from pytorch_lightning import LightningModule, Trainer
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from pytorch_lightning.utilities import rank_zero_info

from lightning_snnpriv.callbacks.checkpoint import RunCheckpoint
from lightning_snnpriv.callbacks.guard import NonFiniteLossGuard
from lightning_snnpriv.callbacks.mia import MembershipInferenceCallback
from lightning_snnpriv.callbacks.progress import terminal_output
from lightning_snnpriv.commands.finish_audit import finish_audit
from lightning_snnpriv.commands.fit_checks import check_fit_config
from lightning_snnpriv.commands.registry import (
    DESCRIPTION,
    LIGHTNING_COMMANDS,
    PROG,
    Command,
    commands,
)
from lightning_snnpriv.commands.run_names import logger_args, name_run
from lightning_snnpriv.data import PrivacyDataModule
from lightning_snnpriv.distributed import detecting_unused_parameters
from lightning_snnpriv.errors import ConfigError, find_usage_error
from lightning_snnpriv.models import PrivacyModule
from lightning_snnpriv.runs import RunDir, yaml_files
from lightning_snnpriv.runs.resume import (
    check_new_version,
    check_resumable,
    check_same_config,
    find_last,
    read_checkpoint,
    run_of_checkpoint,
    version_dir,
    version_number,
)

#: Trainer settings every run starts from; configs override them.
TRAINER_DEFAULTS = {
    "logger": {
        "class_path": "pytorch_lightning.loggers.TensorBoardLogger",
        "init_args": {"save_dir": "logs", "name": "default", "default_hp_metric": False},
    },
}


class PrivacyCLI(LightningCLI):
    """LightningCLI that links the data's shape and model count into the model.

    ``num_models``, ``num_classes`` and ``input_shape`` come from the DataModule and are never
    written in configs; the data's ``seed`` follows ``seed_everything``; the membership-inference
    callback is always present under the ``mia`` key.

    Args:
        *args: LightningCLI's arguments.
        command: A command that uses the ``fit`` config (``describe``): its own arguments are
            added to the parser (which has no subcommands then).
        **kwargs: LightningCLI's keyword arguments.
    """

    def __init__(self, *args: Any, command: Command | None = None, **kwargs: Any) -> None:
        self.command = command
        super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Add the ``mia``, ``checkpoint`` and ``guard`` callbacks and the links data -> model."""
        parser.add_lightning_class_args(MembershipInferenceCallback, "mia")
        parser.add_lightning_class_args(RunCheckpoint, "checkpoint")
        parser.add_lightning_class_args(NonFiniteLossGuard, "guard")
        for key in ("num_models", "num_classes", "input_shape"):
            parser.link_arguments(f"data.{key}", f"model.init_args.{key}", apply_on="instantiate")
        parser.link_arguments("seed_everything", "data.init_args.seed", compute_fn=_seed)
        if self.command is not None:
            self.command.module.add_arguments(parser)

    def _add_subcommands(self, parser: LightningArgumentParser, **kwargs: Any) -> None:
        """LightningCLI's subcommands, then every registered command (one top-level parser).

        As LightningCLI's own method, with this project's one-line descriptions.
        """
        self._subcommand_parsers: dict[str, LightningArgumentParser] = {}
        subcommands = parser.add_subcommands()
        for name, description in LIGHTNING_COMMANDS.items():
            sub_kwargs = {"description": description + ".", **kwargs.get(name, {})}
            sub = self._prepare_subcommand_parser(self.trainer_class, name, **sub_kwargs)
            self._subcommand_parsers[name] = sub
            subcommands.add_subcommand(name, sub, help=description)
        for command in commands():
            if command.uses_fit_config:
                sub = self.init_parser(prog=command.prog, description=command.description + ".")
                self._add_arguments(sub)
                command.module.add_arguments(sub)
            else:
                sub = command.parser()
            subcommands.add_subcommand(command.name, sub, help=command.description)

    def before_instantiate_classes(self) -> None:
        """``strategy: ddp`` (and its spawn/fork variants) detect unused parameters here."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        config.trainer.strategy = detecting_unused_parameters(config.trainer.strategy)

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """Lightning's, with the Trainer's refusal of a setting as a ``trainer:`` error.

        The Trainer checks its arguments when it is built (``accelerator: null``,
        ``devices: 0``, ...) and raises ``ValueError`` or ``MisconfigurationException``.
        """
        try:
            return super().instantiate_trainer(**kwargs)
        except (ValueError, TypeError, MisconfigurationException) as err:
            if find_usage_error(err) is not None:
                raise
            raise ConfigError(f"trainer: {str(err).strip()}") from err

    def fit(self, model: LightningModule, **kwargs: Any) -> None:
        """``Trainer.fit``, or only the audit of a run whose training is over (no retraining)."""
        if getattr(self, "finish_run", None) is not None:
            finish_audit(self.finish_run, self.trainer, model, kwargs.get("datamodule"))
            return
        self.trainer.fit(model, **kwargs)

    def before_fit(self) -> None:
        """Build the data's pool and plan before the run directory exists (one process only).

        Lightning creates the logger's ``version_N`` before it sets the data up; a plan the data
        cannot make (a LiRA scheme with an odd number of models, a pool too small for the
        split) would leave an empty run behind. Under several processes Lightning's order holds.
        """
        trainer, data = self.trainer, self.datamodule
        if trainer.num_devices * trainer.num_nodes != 1 or getattr(data, "plan", 1) is not None:
            return
        data.prepare_data()
        data.setup("fit")
        for callback in trainer.callbacks:
            if isinstance(callback, MembershipInferenceCallback):
                callback.audit.check_models(data.num_models)
                keep, audit = (torch.from_numpy(m) for m in (data.plan.keep, data.plan.audit))
                callback.audit.check_plan(keep, audit, data.plan.scheme)
        ckpt = self.config.fit.get("ckpt_path")
        if ckpt is not None and Path(ckpt).is_file():
            checkpoint = read_checkpoint(Path(ckpt))
            for callback in trainer.callbacks:
                if isinstance(callback, RunCheckpoint):
                    callback.check_plan(checkpoint, data.plan.digest(), ckpt)

    def parse_arguments(self, parser: LightningArgumentParser, args: object) -> None:
        """Parse, then resolve ``fit --ckpt_path`` to a checked checkpoint and its run directory."""
        super().parse_arguments(parser, args)  # type: ignore[arg-type]
        subcommand = self.config.get("subcommand")
        if subcommand is not None and subcommand not in LIGHTNING_COMMANDS:
            raise ConfigError(
                f"{PROG}: give the command {subcommand!r} first: `{PROG} {subcommand} ...`."
            )
        if subcommand == "fit":
            name_run(parser, args, self.config)  # type: ignore[arg-type]
            self.finish_run = prepare_fit(self.config.fit)
            check_fit_config(self.config.fit)


def _seed(seed: int | bool) -> int:
    """The data seed from ``seed_everything`` (``true``/``false`` there mean 0 here)."""
    return 0 if isinstance(seed, bool) else int(seed)


#: Parse errors are raised (not printed with a 60-line usage block) and explained by ``main``;
#: no abbreviations, so a misspelt ``--trainer.max_epoch`` is an error, not ``max_epochs``.
_STRICT = {"exit_on_error": False, "allow_abbrev": False}


def build_cli(
    args: Sequence[str] | None, run: bool = True, command: Command | None = None
) -> PrivacyCLI:
    """The LightningCLI of ``fit`` & co. (``run=False``: parse and instantiate, don't run).

    Args:
        args: The arguments after the program name; ``None`` reads ``sys.argv``, as
            LightningCLI does.
        run: Run the subcommand; ``False`` parses the ``fit`` config alone and instantiates it.
        command: With ``run=False``, the command whose parser this is (``describe``).
    """
    yaml_files.install()
    if run:
        parser_kwargs: dict[str, Any] = {"prog": PROG, "description": DESCRIPTION, **_STRICT}
        parser_kwargs.update({name: dict(_STRICT) for name in LIGHTNING_COMMANDS})
    else:
        prog, about = (command.prog, command.description + ".") if command else (PROG, None)
        parser_kwargs = {"prog": prog, "description": about, **_STRICT}
    return PrivacyCLI(
        PrivacyModule,
        PrivacyDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        seed_everything_default=0,
        trainer_defaults={**TRAINER_DEFAULTS, "enable_progress_bar": terminal_output()},
        args=None if args is None else list(args),
        run=run,
        auto_configure_optimizers=False,
        save_config_callback=RunConfigSaver,
        parser_kwargs=parser_kwargs,
        command=command,
    )


def prepare_fit(cfg: Namespace) -> RunDir | None:
    """Resolve ``cfg.ckpt_path`` and point the logger at the run it resumes (edits ``cfg``).

    Returns the run when its training is over but its audit is not (killed after
    ``signals.pt``): the fit then only finishes the audit (:mod:`.finish_audit`).

    ``--ckpt_path <run>/checkpoints/<file>.ckpt`` resumes into ``<run>`` (the logger is pointed
    at that version directory), so the run keeps one directory; ``--ckpt_path last`` does the
    same with the newest run of the config's logger and starts a new run when that run is
    complete or there is none. A config naming an existing version directory without
    ``--ckpt_path`` is refused: a run directory is never reused.

    Raises:
        UsageError: For a missing, unreadable or foreign checkpoint, a run that cannot be
            resumed, or a logger version directory that already holds a run.
    """
    logger = logger_args(cfg)
    ckpt = cfg.get("ckpt_path")
    if ckpt is None:
        if logger is not None and logger.get("version") is not None:
            check_new_version(RunDir(_root(logger) / version_dir(logger.version)))
        return None
    if ckpt == "last":
        if logger is None or cfg.get("checkpoint.dirpath"):
            return None  # Lightning's own rules: the checkpoint callbacks' directories
        found = find_last(_root(logger), logger.get("version"))
        if found is None:
            rank_zero_info(
                f"--ckpt_path last: no interrupted run under {_root(logger)}; starting a new run."
            )
            cfg.ckpt_path = None
            return None
        ckpt = str(found)
    elif ckpt in ("best", "hpc") or "://" in ckpt:
        return None  # not a local file: Lightning resolves it
    path = Path(ckpt)
    if not path.is_file():
        raise ConfigError(
            f"--ckpt_path {path}: no such checkpoint file. Pass a .ckpt file of a run "
            "(logs/<name>/version_N/checkpoints/last.ckpt) or `last` for the newest run."
        )
    checkpoint = read_checkpoint(path)
    run = run_of_checkpoint(path)
    check_same_config(checkpoint, _plain(cfg.get("model")), _plain(cfg.get("data")), path, run)
    audit_only = False
    if run is not None:
        audit_only = check_resumable(run)
        if logger is not None:
            logger.save_dir = str(run.path.parent.parent)
            logger.name = run.path.parent.name
            logger.version = version_number(run.path)
        rank_zero_info(f"resuming run {run} from {path}")
    cfg.ckpt_path = str(path)
    return run if audit_only else None


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
            self.config_filename = RunDir(log_dir).new_config_file().name
        super().setup(trainer, pl_module, stage)


def _root(logger: Namespace) -> Path:
    return Path(logger.save_dir) / (logger.name or "")


def _plain(section: Any) -> Any:
    """A config section as plain dicts and lists."""
    return section.as_dict() if isinstance(section, Namespace) else section
