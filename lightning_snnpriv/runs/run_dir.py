"""The run directory as a type: the one place that names, writes and loads the files of a run.

A fit writes into ``<save_dir>/<name>/version_N/`` (the TensorBoard logger picks ``N``):

============================  ===========================================================
``config.yaml``               the resolved config (a resumed fit adds ``config.resume-K.yaml``)
``membership.npz``            the membership plan (keep/audit matrices, scheme, seed, digest)
``checkpoints/``              the epoch checkpoint and ``last.ckpt`` (Lightning's names)
``signals.pt``                every model's outputs on the pool and the labels
``mia_results.json``          the audit's results (:attr:`AuditResult.results`)
``scores.pt``                 attack x target x sample scores
``roc*.png``                  ROC figures
``report.html``               the audit as one self-contained page (tables, figures, settings)
============================  ===========================================================

``attack --run`` adds ``mia_results.K.json``, ``scores.K.pt``, ``roc*.K.png`` and
``report.K.html`` with the first
free ``K``. Every file is written once, atomically (:mod:`lightning_snnpriv.runs.files`), and
loaded without unpickling code; every problem is a :class:`UsageError` naming the file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_snnpriv.errors import UsageError
from lightning_snnpriv.runs import yaml_files
from lightning_snnpriv.runs.files import (
    first_line,
    load_tensors,
    save_tensors,
    write_json,
    write_new,
    write_text,
)
from lightning_snnpriv.runs.plan_file import load_plan, save_plan

if TYPE_CHECKING:  # imported where used: reading a sweep's state (`sweep --dry-run`) needs neither
    import torch

    from lightning_snnpriv.data.membership import MembershipPlan

CONFIG_FILE = "config.yaml"
PLAN_FILE = "membership.npz"
SIGNALS_FILE = "signals.pt"
RESULTS_FILE = "mia_results.json"
SCORES_FILE = "scores.pt"
REPORT_FILE = "report.html"
#: Lightning's checkpoint folder and ``ModelCheckpoint``'s name of the latest checkpoint.
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
_HINT = "pass a directory written by `fit`, such as logs/<name>/version_N"


@dataclass(frozen=True)
class RunDir:
    """A run directory (which need not exist yet): its files' names, writing and loading.

    Args:
        path: The directory, as given (relative paths stay relative).

    Example:
        >>> run = RunDir("logs/x/version_0")
        >>> run.results_file(".1").name, run.figure_file("mia/roc/loss").name
        ('mia_results.1.json', 'roc_loss.png')
    """

    path: Path

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    def __str__(self) -> str:
        return str(self.path)

    # --- names ---------------------------------------------------------------------------------

    @property
    def config_file(self) -> Path:
        """``config.yaml``: the config the run was started with."""
        return self.path / CONFIG_FILE

    @property
    def plan_file(self) -> Path:
        """``membership.npz``."""
        return self.path / PLAN_FILE

    @property
    def signals_file(self) -> Path:
        """``signals.pt``."""
        return self.path / SIGNALS_FILE

    @property
    def checkpoint_dir(self) -> Path:
        """``checkpoints/``."""
        return self.path / CHECKPOINT_DIR

    @property
    def last_checkpoint(self) -> Path:
        """``checkpoints/last.ckpt``."""
        return self.checkpoint_dir / LAST_CHECKPOINT

    def results_file(self, suffix: str = "") -> Path:
        """``mia_results<suffix>.json``."""
        return self.path / RESULTS_FILE.replace(".json", f"{suffix}.json")

    def scores_file(self, suffix: str = "") -> Path:
        """``scores<suffix>.pt``."""
        return self.path / SCORES_FILE.replace(".pt", f"{suffix}.pt")

    def report_file(self, suffix: str = "") -> Path:
        """``report<suffix>.html``: the audit's HTML page."""
        return self.path / REPORT_FILE.replace(".html", f"{suffix}.html")

    def figure_file(self, tag: str, suffix: str = "") -> Path:
        """The PNG of a figure tag: ``mia/roc`` -> ``roc.png``, ``mia/roc/x`` -> ``roc_x.png``."""
        return self.path / f"{tag.removeprefix('mia/').replace('/', '_')}{suffix}.png"

    def new_config_file(self) -> Path:
        """``config.yaml``, or ``config.resume-K.yaml`` with the first free ``K`` (a resumption)."""
        k, path = 0, self.config_file
        while path.exists():
            k += 1
            path = self.path / f"config.resume-{k}.yaml"
        return path

    def free_suffix(self) -> str:
        """``".K"``, the smallest ``K >= 1`` no results, scores or figure file uses yet."""
        k = 1
        while any(self.path.glob(f"*.{k}.json")) or any(self.path.glob(f"*.{k}.[ph][nt]*")):
            k += 1
        return f".{k}"

    # --- state ---------------------------------------------------------------------------------

    @property
    def is_complete(self) -> bool:
        """The audit's results are written: nothing is left to do (or to resume)."""
        return self.results_file().exists()

    @property
    def finished_training(self) -> bool:
        """The models' outputs are saved: training is over, the audit can be re-run."""
        return self.signals_file.exists()

    @property
    def holds_files(self) -> bool:
        """The directory exists and is not empty (a new run never writes into it)."""
        return self.path.is_dir() and any(self.path.iterdir())

    # --- writing -------------------------------------------------------------------------------

    def save_or_check_plan(self, plan: MembershipPlan) -> None:
        """Save ``plan`` as ``membership.npz``, or check that the saved one is this plan."""
        if self.plan_file.exists():
            saved = self.load_plan()
            if saved != plan:
                raise UsageError(
                    f"{self.plan_file}: the saved membership plan ({saved.scheme}, seed "
                    f"{saved.seed}, {saved.digest()}) differs from the one this config builds "
                    f"({plan.scheme}, seed {plan.seed}, {plan.digest()}). Resume with the run's "
                    "own config, or start a new run."
                )
        else:
            save_plan(self.plan_file, plan)

    def save_signals(self, outputs: torch.Tensor, labels: torch.Tensor) -> Path:
        """Save every model's outputs on the pool and the labels as ``signals.pt``."""
        return save_tensors(self.signals_file, {"outputs": outputs, "labels": labels})

    def write_audit(
        self,
        results: Mapping[str, Any],
        scores: Mapping[str, Any],
        pngs: Mapping[str, bytes],
        suffix: str = "",
        report: str | None = None,
    ) -> Path:
        """Write an audit's results, scores, figures (tag -> PNG bytes) and HTML page.

        Args:
            results: ``mia_results<suffix>.json``; the digest of its ``settings`` is added
                (:func:`settings_digest`: a re-run takes the settings from this file).
            scores: ``scores<suffix>.pt`` (tensors and plain values).
            pngs: Figure tag -> PNG bytes (:func:`~lightning_snnpriv.reports.html.figure_pngs`),
                each saved as ``<name><suffix>.png``.
            suffix: Inserted before each file's extension (``".1"`` for a re-run).
            report: The HTML page, saved as ``report<suffix>.html``.

        Returns:
            The results file.
        """
        results = dict(results)
        if isinstance(results.get("settings"), Mapping):
            results[SETTINGS_DIGEST] = settings_digest(results["settings"])
        path = write_json(self.results_file(suffix), results)
        save_tensors(self.scores_file(suffix), dict(scores))
        for tag, png in pngs.items():
            write_new(self.figure_file(tag, suffix), lambda f, png=png: f.write(png))
        if report is not None:
            write_text(self.report_file(suffix), report)
        return path

    # --- loading -------------------------------------------------------------------------------

    def load_config(self) -> dict[str, Any]:
        """``config.yaml`` as a mapping of config sections (read strictly: :mod:`yaml_files`)."""
        return yaml_files.read(self.config_file)

    def load_plan(self) -> MembershipPlan:
        """``membership.npz``, checked against its digest."""
        return load_plan(self.plan_file)

    def load_signals(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``signals.pt``: ``(outputs [models, N, classes] float, labels [N] long)``."""
        import torch

        path = self.signals_file
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
            raise UsageError(
                f"{path}: 'labels' must be a long tensor [samples], got {labels.dtype} of shape "
                f"{tuple(labels.shape)}."
            )
        classes = outputs.shape[-1]
        if labels.numel() and not (int(labels.min()) >= 0 and int(labels.max()) < classes):
            raise UsageError(
                f"{path}: 'labels' must lie in [0, {classes - 1}] (the outputs have {classes} "
                f"classes), got values in [{int(labels.min())}, {int(labels.max())}]. Use an "
                "unmodified run directory, or re-run fit."
            )
        return outputs, labels

    def load_results(self, suffix: str = "") -> dict[str, Any]:
        """``mia_results<suffix>.json``."""
        path = self.results_file(suffix)
        try:
            results = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise UsageError(f"{path}: not a readable results file ({first_line(err)}).") from err
        if not isinstance(results, dict) or not isinstance(results.get("records"), list):
            raise UsageError(
                f"{path}: not a results file of fit or attack (expected a JSON object with a "
                f"'records' list, got {type(results).__name__}). Move it away and re-run "
                f"`attack --run {self.path}`."
            )
        return results

    def load(self) -> Run:
        """Load the run and check that its plan, signals and results belong together.

        Raises:
            UsageError: If the directory or one of ``config.yaml``, ``membership.npz`` and
                ``signals.pt`` is missing or unreadable, the signals' shapes disagree with the
                plan (number of models, number of pool samples) or with each other, an output
                is NaN or infinite, or the results were computed on another plan.
        """
        path = self.path
        if not path.is_dir():
            raise UsageError(f"--run {path}: no such directory; {_HINT}.")
        needed = (self.config_file, self.plan_file, self.signals_file)
        missing = [file.name for file in needed if not file.is_file()]
        if missing:
            why = ""
            if missing == [SIGNALS_FILE] and self.is_complete:
                why = (
                    f" (the run is complete, but its {SIGNALS_FILE} is gone or it ran with "
                    "mia.save_signals false: its attacks cannot be re-run without it; train "
                    "a new run with fit)"
                )
            elif missing == [SIGNALS_FILE]:
                why = (
                    f" ({SIGNALS_FILE} is written when training ends: the run was interrupted; "
                    "resume it with fit --ckpt_path last and its own config)"
                )
            raise UsageError(
                f"--run {path}: not a finished run, {', '.join(missing)} missing{why}; {_HINT}."
            )
        config, plan = self.load_config(), self.load_plan()
        outputs, labels = self.load_signals()
        expected = (plan.num_models, plan.num_samples)
        if tuple(outputs.shape[:2]) != expected or tuple(labels.shape) != (plan.num_samples,):
            raise UsageError(
                f"--run {path}: {SIGNALS_FILE} holds outputs of shape {tuple(outputs.shape)} and "
                f"labels of shape {tuple(labels.shape)}, but {PLAN_FILE} is a plan of "
                f"{plan.num_models} models x {plan.num_samples} samples: the files come from "
                "different runs. Use an unmodified run directory, or re-run fit."
            )
        bad = ~outputs.isfinite()
        if bad.any():
            model = int(bad.nonzero()[0, 0])
            raise UsageError(
                f"--run {path}: {SIGNALS_FILE} has {int(bad.sum())} NaN or infinite outputs (the "
                f"first from model {model}, 0 = the target): a diverged model cannot be audited. "
                "Re-run fit with a lower learning rate."
            )
        results = self.load_results() if self.is_complete else None
        _check_settings(self.results_file(), results)
        digest = (results or {}).get("settings", {}).get("scheme_digest")
        if digest is not None and digest != plan.digest():
            raise UsageError(
                f"--run: {self.plan_file} (digest {plan.digest()}) is not the plan the run's "
                f"results were computed on (digest {digest})."
            )
        return Run(self, config, plan, outputs, labels, results)


#: The key of ``mia_results.json`` that holds :func:`settings_digest` of its ``settings``.
SETTINGS_DIGEST = "settings_digest"


def settings_digest(settings: Mapping[str, Any]) -> str:
    """SHA-256 (hex, 16 digits) of ``settings`` as canonical JSON (sorted keys).

    ``attack --run`` copies the model's and data's settings of the run's results file into the
    new one; the digest makes a changed copy an error instead of results that describe another
    run.
    """
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_settings(path: Path, results: Mapping[str, Any] | None) -> None:
    """Refuse results whose ``settings`` are not those their digest was computed from.

    Results written before the digest existed (no key) are taken as they are.
    """
    if not results or SETTINGS_DIGEST not in results:
        return
    settings = results.get("settings")
    if not isinstance(settings, Mapping) or results[SETTINGS_DIGEST] != settings_digest(settings):
        raise UsageError(
            f"--run: {path} was changed after the audit wrote it (its 'settings' do not match "
            f"'{SETTINGS_DIGEST}'), so the run they describe is unknown. Restore the file, or "
            "move it away and re-run `attack --run` (the new results then record the plan's "
            "digest alone as their settings)."
        )


@dataclass(frozen=True)
class Run:
    """A loaded, checked run.

    Args:
        dir: Its directory.
        config: Its ``config.yaml`` (the fit command's full config).
        plan: Its membership plan.
        outputs: ``[num_models, N, num_classes]`` float outputs of every model on the pool.
        labels: ``[N]`` long labels of the pool.
        results: Its ``mia_results.json``, if the audit ran.
    """

    dir: RunDir
    config: dict[str, Any]
    plan: MembershipPlan
    outputs: torch.Tensor
    labels: torch.Tensor
    results: dict[str, Any] | None = None

    @property
    def keep(self) -> torch.Tensor:
        """``[models, N]`` bool: the plan's training sets."""
        import torch

        return torch.from_numpy(self.plan.keep)

    @property
    def audit(self) -> torch.Tensor:
        """``[models, N]`` bool: the plan's audited samples."""
        import torch

        return torch.from_numpy(self.plan.audit)

    @property
    def mia_config(self) -> dict[str, Any]:
        """The ``mia:`` section of its config (the audit's settings)."""
        mia = self.config.get("mia") or {}
        if not isinstance(mia, Mapping):
            raise UsageError(
                f"{self.dir.config_file}: `mia:` must be a mapping of audit settings, got a "
                f"{type(mia).__name__}. Use the run's unmodified config.yaml."
            )
        return dict(mia)
