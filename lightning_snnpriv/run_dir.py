"""Load and check a finished run directory: its config, membership plan and saved signals.

Commands that re-use a run (``attack --run DIR``, reports) call :func:`load_run`: it never
unpickles code (``torch.load(weights_only=True)``, ``np.load(allow_pickle=False)``) and turns
every problem into a :class:`~lightning_snnpriv.errors.UsageError` naming the file and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from lightning_snnpriv.callbacks.mia import RESULTS_FILE, SIGNALS_FILE
from lightning_snnpriv.data.base import PLAN_FILE
from lightning_snnpriv.data.membership import MembershipPlan
from lightning_snnpriv.errors import UsageError
from lightning_snnpriv.io import load_tensors

CONFIG_FILE = "config.yaml"


@dataclass(frozen=True)
class Run:
    """A checked run directory.

    Args:
        path: The run directory.
        config: Its ``config.yaml`` (the fit command's full config).
        plan: Its membership plan.
        outputs: ``[num_models, N, num_classes]`` float outputs of every model on the pool.
        labels: ``[N]`` long labels of the pool.
    """

    path: Path
    config: dict[str, Any]
    plan: MembershipPlan
    outputs: torch.Tensor
    labels: torch.Tensor

    @property
    def results_path(self) -> Path:
        """Where the fit wrote its attack results (``mia_results.json``)."""
        return self.path / RESULTS_FILE


def load_run(run_dir: str | Path) -> Run:
    """Load ``run_dir`` and check that its plan and signals belong together.

    Args:
        run_dir: A directory written by ``fit`` (``logs/<name>/version_N``).

    Raises:
        UsageError: If the directory or one of ``config.yaml``, ``membership.npz`` and
            ``signals.pt`` is missing or unreadable, the signals' shapes disagree with the
            plan (number of models, number of pool samples) or with each other, or an output
            is NaN or infinite.
    """
    path = Path(run_dir)
    hint = "pass a directory written by `fit`, such as logs/<name>/version_N"
    if not path.is_dir():
        raise UsageError(f"--run {path}: no such directory; {hint}.")
    needed = (CONFIG_FILE, PLAN_FILE, SIGNALS_FILE)
    missing = [name for name in needed if not (path / name).is_file()]
    if missing:
        why = (
            " (signals.pt is written when fit ends: was the run interrupted, or run with "
            "mia.save_signals false? Resume it with --ckpt_path last)"
            if missing == [SIGNALS_FILE]
            else ""
        )
        raise UsageError(f"--run {path}: not a finished run, {', '.join(missing)} missing{why}; "
                         f"{hint}.")  # fmt: skip
    config = _load_config(path / CONFIG_FILE)
    plan = MembershipPlan.load(path / PLAN_FILE)
    outputs, labels = _load_signals(path / SIGNALS_FILE)
    expected = (plan.num_models, plan.num_samples)
    if tuple(outputs.shape[:2]) != expected or tuple(labels.shape) != (plan.num_samples,):
        raise UsageError(
            f"--run {path}: {SIGNALS_FILE} holds outputs of shape {tuple(outputs.shape)} and "
            f"labels of shape {tuple(labels.shape)}, but {PLAN_FILE} is a plan of "
            f"{plan.num_models} models x {plan.num_samples} samples: the files come from "
            "different runs. Use an unmodified run directory, or re-run fit."
        )
    bad = ~torch.isfinite(outputs)
    if bad.any():
        model = int(bad.nonzero()[0, 0])
        raise UsageError(
            f"--run {path}: {SIGNALS_FILE} has {int(bad.sum())} NaN or infinite outputs (the first "
            f"from model {model}, 0 = the target): a diverged model cannot be audited. Re-run fit "
            "with a lower learning rate."
        )
    return Run(path=path, config=config, plan=plan, outputs=outputs, labels=labels)


def _load_config(path: Path) -> dict[str, Any]:
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise UsageError(f"{path}: not a readable YAML config ({_first_line(err)}).") from err
    if not isinstance(config, dict):
        raise UsageError(f"{path}: expected a mapping of config sections, got {type(config)}.")
    return config


def _load_signals(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    signals = load_tensors(path, "signals file", "Re-run fit to produce it.")
    outputs = signals.get("outputs") if isinstance(signals, dict) else None
    labels = signals.get("labels") if isinstance(signals, dict) else None
    if not isinstance(outputs, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise UsageError(f"{path}: expected a dict with tensors 'outputs' and 'labels'.")
    if outputs.dim() != 3 or not torch.is_floating_point(outputs):
        raise UsageError(
            f"{path}: 'outputs' must be a float tensor [models, samples, classes], got shape "
            f"{tuple(outputs.shape)} and dtype {outputs.dtype}."
        )
    if labels.dim() != 1 or labels.dtype != torch.long:
        raise UsageError(f"{path}: 'labels' must be a long tensor [samples], got {labels.dtype} "
                         f"of shape {tuple(labels.shape)}.")  # fmt: skip
    return outputs, labels


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")
