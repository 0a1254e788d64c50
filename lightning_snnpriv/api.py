"""The Python API: train and audit from Python, or audit saved outputs, in a few lines.

Three functions, each returning the records the command line writes to ``mia_results.json``:

- :func:`fit` trains the target and its shadows and audits them, exactly as ``python -m
  lightning_snnpriv fit`` does (the same parser, links, callbacks and run directory), from a
  config file or a config dict plus overrides.
- :func:`audit_run` audits a finished run again from its saved ``signals.pt`` and
  ``membership.npz`` (what ``attack --run`` does, without writing files).
- :func:`audit` audits your own tensors: the outputs (logits) of one or more models on a pool
  of samples, the labels and who was a member of which model's training set.

All three go through :class:`~lightning_snnpriv.attacks.Audit` (and :func:`fit` through the
``fit`` command itself), so the records are those of the command line, field for field.

Example:
    >>> import torch
    >>> from lightning_snnpriv import api
    >>> logits = torch.tensor([[4.0, 0.0], [0.0, 4.0], [1.0, 0.0], [0.0, 0.5]])
    >>> labels = torch.tensor([0, 1, 0, 1])
    >>> is_member = torch.tensor([True, True, False, False])
    >>> result = api.audit(logits, labels, is_member, attacks=["loss"], bootstrap=0)
    >>> [(r["attack"], r["auc"]) for r in result.records]
    [('loss', 1.0)]
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from jsonargparse import ArgumentError

from lightning_snnpriv.attacks.audit import Audit, AuditResult
from lightning_snnpriv.callbacks.mia import MembershipInferenceCallback
from lightning_snnpriv.commands.errors import explain_parse_error, explain_usage_error
from lightning_snnpriv.commands.fit import build_cli
from lightning_snnpriv.errors import ConfigError, UsageError, find_usage_error
from lightning_snnpriv.runs import RunDir, yaml_files

__all__ = ["FitResult", "audit", "audit_run", "fit", "load_config"]

#: Overrides :func:`fit` adds with ``quiet=True``: no table, progress bar or model summary.
QUIET = {
    "mia.print_table": False,
    "trainer.enable_progress_bar": False,
    "trainer.enable_model_summary": False,
}


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit` returns: the run directory and the audit's result.

    Args:
        run_dir: The run's directory (``config.yaml``, ``membership.npz``, ``signals.pt``,
            ``mia_results.json``, ...); :meth:`~lightning_snnpriv.runs.RunDir.load` reads it.
        result: The audit: records, scores, ROC curves, accuracies.
    """

    run_dir: RunDir
    result: AuditResult

    @property
    def records(self) -> list[dict[str, Any]]:
        """The records, as the run wrote them to ``mia_results.json`` (plain JSON values)."""
        return self.results["records"]

    @property
    def results(self) -> dict[str, Any]:
        """The whole contents of ``mia_results.json``, read from the run directory."""
        return self.run_dir.load_results()


def _option(key: str, value: Any) -> str:
    """``--key=value`` with the value written as the command line reads it (YAML/JSON)."""
    text = value if isinstance(value, str) else json.dumps(value)
    return f"--{key}={text}"


def fit_argv(
    config: str | Path | Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    quiet: bool = True,
) -> list[str]:
    """The ``fit`` command line that :func:`fit` runs.

    Args:
        config: A config file, a config as a dict (the YAML file's contents), or ``None``
            (every default).
        overrides: Dotted keys and values, as on the command line (``{"trainer.max_epochs":
            3}`` is ``--trainer.max_epochs=3``).
        quiet: Add :data:`QUIET` (no table, progress bar or summary) before ``overrides``.

    Example:
        >>> fit_argv({"trainer": {"max_epochs": 2}}, {"model.init_args.weight_bits": None},
        ...          quiet=False)
        ['fit', '--config={"trainer": {"max_epochs": 2}}', '--model.init_args.weight_bits=null']
    """
    argv = ["fit"]
    if isinstance(config, Mapping):
        argv.append(f"--config={json.dumps(dict(config))}")
    elif config is not None:
        argv += ["--config", str(config)]
    options = {**(QUIET if quiet else {}), **dict(overrides or {})}
    return argv + [_option(key, value) for key, value in options.items()]


def fit(
    config: str | Path | Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    quiet: bool = True,
) -> FitResult:
    """Train a target and its shadows and audit them: the ``fit`` command, from Python.

    Args:
        config: A config file (``configs/breast_cancer_snn.yaml``), a config as a dict (the
            YAML file's contents; unknown keys are refused as on the command line), or
            ``None`` for every default.
        overrides: Dotted keys and values applied after the config, as on the command line:
            ``{"trainer.max_epochs": 3, "model.init_args.weight_bits": 4}``.
        quiet: Print no table, progress bar or model summary.

    Returns:
        The run directory and the audit (``.records`` are ``mia_results.json``'s records).

    Raises:
        ConfigError: A key, type or value the ``fit`` command refuses, with its message
            naming the field and the fix (the command line exits with code 2 instead).
    """
    argv = fit_argv(config, overrides, quiet)
    try:
        with warnings.catch_warnings():  # args given while sys.argv holds the caller's: meant
            warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
            cli = build_cli(argv)
    except ArgumentError as err:
        files = [str(config)] if isinstance(config, str | Path) else []
        message = explain_parse_error(str(err), "lightning_snnpriv.api.fit", config_files=files)
        raise ConfigError(message) from None
    except Exception as err:  # a UsageError, possibly wrapped by jsonargparse's instantiation
        usage_error = find_usage_error(err)
        if usage_error is None or usage_error is err:
            raise
        raise type(usage_error)(explain_usage_error(err, usage_error)) from err
    callback = next(c for c in cli.trainer.callbacks if isinstance(c, MembershipInferenceCallback))
    assert callback.result is not None, "the fit ended without an audit"
    return FitResult(RunDir(cli.trainer.log_dir), callback.result)


def audit_run(run: str | Path | RunDir, **settings: Any) -> AuditResult:
    """Audit a finished run again from its saved outputs and plan (``attack --run``'s audit).

    The run's own audit settings (the ``mia:`` section of its ``config.yaml``) are the
    defaults; ``settings`` replaces them. With none given the records equal the run's
    ``mia_results.json`` records. Nothing is written (``attack --run`` writes the files).

    Args:
        run: A run directory written by ``fit`` (``logs/<name>/version_N``).
        **settings: :class:`~lightning_snnpriv.attacks.Audit` settings: ``attacks`` (names
            such as ``["loss", "lira_offline"]`` or attack objects), ``targets``,
            ``fpr_targets``, ``bootstrap``, ``seed``. The query settings cannot change (the
            outputs were collected with them).

    Raises:
        UsageError: A directory that is not a finished run, or a changed query setting.
    """
    loaded = (run if isinstance(run, RunDir) else RunDir(run)).load()
    saved = loaded.mia_config
    changed = [k for k in Audit.QUERY_SETTINGS if k in settings and settings[k] != saved.get(k)]
    if changed:
        raise UsageError(
            f"{', '.join(changed)}: the signals of {loaded.dir} were collected with the run's "
            "query settings; changing them needs the trained models (run fit again)."
        )
    audit_ = Audit.from_config(saved, **settings)
    recorded = (loaded.results or {}).get("settings")
    run_settings = recorded or {"scheme_digest": loaded.plan.digest()}
    return audit_.run(loaded.outputs, loaded.labels, loaded.keep, loaded.audit, run_settings)


def _tensor(name: str, value: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
    try:
        return torch.as_tensor(value, dtype=dtype)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ConfigError(f"`{name}`: expected a tensor or array, got {type(value)}.") from err


def audit(
    outputs: Any,
    labels: Any,
    membership: Any,
    audited: Any = None,
    **settings: Any,
) -> AuditResult:
    """Audit your own outputs: the logits of one or more models and who was a member.

    Args:
        outputs: Logits (or any outputs the signals treat as logits), ``[N, classes]`` of
            the target alone, or ``[models, N, classes]`` of the target (model 0) and its
            reference models (shadows) on the same ``N`` samples.
        labels: ``[N]`` class labels.
        membership: ``[N]`` (one model) or ``[models, N]`` bool: True where the sample was
            in that model's training set.
        audited: ``[models, N]`` (or ``[N]``) bool: the samples each model's audit scores;
            default: all of them.
        **settings: :class:`~lightning_snnpriv.attacks.Audit` settings: ``attacks`` (names
            or attack objects; default: the ``default`` preset, which needs a shadow model),
            ``fpr_targets``, ``targets``, ``bootstrap``, ``seed``.

    Returns:
        The :class:`~lightning_snnpriv.attacks.AuditResult`; its ``records`` are those the
        command line writes for the same outputs and plan.

    Raises:
        ConfigError: Shapes that disagree, or an attack the models cannot support (a shadow
            attack with one model).
    """
    logits = _tensor("outputs", outputs, torch.float32)
    keep = _tensor("membership", membership, torch.bool)
    labels_ = _tensor("labels", labels, torch.long)
    if logits.dim() == 2:
        logits = logits.unsqueeze(0)
    if keep.dim() == 1:
        keep = keep.unsqueeze(0)
    audit_mask = (
        torch.ones_like(keep) if audited is None else _tensor("audited", audited, torch.bool)
    )
    if audit_mask.dim() == 1:
        audit_mask = audit_mask.expand_as(keep)
    if logits.dim() != 3 or labels_.dim() != 1:
        raise ConfigError(
            f"`outputs` must be [N, classes] or [models, N, classes] and `labels` [N], got "
            f"{tuple(logits.shape)} and {tuple(labels_.shape)}."
        )
    expected = tuple(logits.shape[:2])
    for name, value in (("membership", keep), ("audited", audit_mask)):
        if tuple(value.shape) != expected:
            raise ConfigError(
                f"`{name}` must be [models, N] = {list(expected)} like `outputs`, got "
                f"{list(value.shape)}."
            )
    if len(labels_) != expected[1]:
        raise ConfigError(f"`labels` must hold N = {expected[1]} labels, got {len(labels_)}.")
    audit_ = Audit(**settings)
    audit_.check_models(expected[0])
    audit_.check_plan(keep, audit_mask)
    return audit_.run(logits, labels_, keep, audit_mask)


def load_config(path: str | Path) -> dict[str, Any]:
    """A YAML config file as a dict, to edit before :func:`fit` (``fit(config=...)``)."""
    return yaml_files.read(path, "config")
