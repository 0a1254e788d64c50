"""Every attack against every audited target, per target and pooled: the audit's functional core.

With the ``lira`` scheme every model can be the target in turn, the others its reference
models (leave-one-out). The scores of all targets are also concatenated into one "pooled"
set, as LiRA's and ML Privacy Meter's code do: with ``T`` targets there are ``T`` times more
non-members, which is what measuring the TPR at FPR 1e-3 or 1e-4 needs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from lightning_snnpriv.attacks.base import Attack, AttackInputs
from lightning_snnpriv.attacks.metrics import DEFAULT_FPR_TARGETS, evaluate

__all__ = ["POOLED", "AuditResult", "resolve_targets", "run_audit"]

#: The ``target`` value of records computed on the scores of all targets concatenated.
POOLED = "pooled"

Targets = int | Sequence[int] | Literal["all"]


def resolve_targets(targets: Targets, num_models: int) -> list[int]:
    """The model indices to audit.

    Args:
        targets: ``"all"`` (every model), an int ``k`` (models ``0 .. k-1``; 1 = the target
            alone), or a list of model indices.
        num_models: Models in the run.

    Returns:
        Sorted, distinct model indices.

    Raises:
        ValueError: On an index out of range, a count outside ``[1, num_models]``, or an
            empty list.

    Example:
        >>> resolve_targets("all", 3), resolve_targets(2, 3), resolve_targets([2, 0], 3)
        ([0, 1, 2], [0, 1], [0, 2])
    """
    if targets == "all":
        return list(range(num_models))
    if isinstance(targets, bool):
        raise ValueError(
            f"targets must be 'all', a count or a list of model indices; got {targets!r}"
        )
    if isinstance(targets, int):
        if not 1 <= targets <= num_models:
            raise ValueError(f"targets count must lie in [1, {num_models}] (models); got {targets}")
        return list(range(targets))
    chosen = sorted({int(t) for t in targets})
    if not chosen or chosen[0] < 0 or chosen[-1] >= num_models:
        raise ValueError(
            f"targets must be model indices in [0, {num_models - 1}]; got {list(targets)}"
        )
    return chosen


@dataclass
class AuditResult:
    """Everything an audit produced.

    Attributes:
        records: One record per (attack, target), then one ``target = "pooled"`` record per
            attack when more than one target was audited (see :func:`run_audit`).
        scores: ``[attacks, targets, N]`` float64 scores of every pool sample.
        targets: The audited model indices (the second axis of ``scores``).
        attack_names: The attacks' names (the first axis of ``scores``).
        curves: Attack -> target (int or ``"pooled"``) -> ``(fpr, tpr)`` ROC points.
        timing: Attack -> wall-clock seconds spent scoring all targets.
        is_member: ``[targets, N]`` bool, the membership of each sample in each target.
        audited: ``[targets, N]`` bool, the samples audited for each target.
        accuracy: ``{"train": [...], "test": [...]}``: each model's accuracy on its members and
            on its audited non-members (``None`` when not given).
        settings: The run's settings (recorded in every record and in the results).
        config: The audit's own settings (:meth:`Audit.settings`; the results' ``mia``).
    """

    records: list[dict[str, Any]]
    scores: Tensor
    targets: list[int]
    attack_names: list[str]
    curves: dict[str, dict[int | str, tuple[list[float], list[float]]]]
    timing: dict[str, float]
    is_member: Tensor
    audited: Tensor
    accuracy: dict[str, list[float] | None] | None = None
    settings: dict[str, Any] | None = None
    config: dict[str, Any] | None = None

    def summary(self) -> list[dict[str, Any]]:
        """One record per attack: the pooled one with several targets, else the only one."""
        pooled = [r for r in self.records if r["target"] == POOLED]
        return pooled if pooled else list(self.records)

    @property
    def results(self) -> dict[str, Any]:
        """The contents of ``mia_results.json``: settings, audit settings, accuracy, records."""
        return {
            "settings": self.settings,
            "mia": self.config,
            "accuracy": self.accuracy,
            "records": self.records,
            "timing": self.timing,
        }

    def score_tensors(self) -> dict[str, Any]:
        """The contents of ``scores.pt``: attack x target x sample scores and the labels."""
        return {
            "attacks": self.attack_names,
            "targets": self.targets,
            "scores": self.scores,
            "is_member": self.is_member,
            "audit": self.audited,
        }


def _mean_std(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std}


def run_audit(
    inputs: AttackInputs,
    attacks: Sequence[Attack],
    targets: Sequence[int],
    fpr_targets: Sequence[float] = DEFAULT_FPR_TARGETS,
    bootstrap: int = 0,
    seed: int = 0,
    train_acc: Sequence[float] | None = None,
    test_acc: Sequence[float] | None = None,
    extra: dict[str, Any] | None = None,
    each: Callable[[Sequence[Attack]], Iterable[Attack]] = iter,
) -> AuditResult:
    """Run every attack against every target; compute metrics per target and pooled.

    Args:
        inputs: Outputs of all models, labels, keep and audit matrices.
        attacks: The attacks (names must be distinct).
        targets: Audited model indices.
        fpr_targets: FPR budgets for the TPR-at-FPR metrics.
        bootstrap: Bootstrap replicates for confidence intervals (0: none).
        seed: Seed of the bootstrap.
        train_acc: Per-model accuracy on its members (recorded as ``target_train_acc``).
        test_acc: Per-model accuracy on its non-members (``target_test_acc``).
        extra: Keys added to every record (e.g. ``{"settings": ...}``).
        each: Iterates over the attacks (a progress bar can wrap them).

    Returns:
        The :class:`AuditResult`. Each record has ``attack``, ``attack_settings``, ``target``,
        the metrics of :meth:`AttackMetrics.to_dict`, ``info``, ``target_train_acc``,
        ``target_test_acc`` and ``extra``'s keys. The pooled record (only with more than one
        target) also has ``targets`` and ``across_targets``: the mean and sample standard
        deviation over targets of ``auc``, ``advantage`` and each TPR at FPR; its accuracies
        are the means over targets, and it holds the ROC curve (``fpr``, ``tpr``); its
        bootstrap resamples targets and pool samples as clusters (``bootstrap.unit`` is
        ``"target x sample"``), a single target's resamples its scores stratified by
        membership. With a single target its record holds the curve.
    """
    extra = extra or {}
    names = [attack.name for attack in attacks]
    if len(set(names)) != len(names):
        raise ValueError(f"attack names must be distinct; got {names}")
    num_samples = inputs.num_samples
    scores = torch.zeros(len(attacks), len(targets), num_samples, dtype=torch.float64)
    records: list[dict[str, Any]] = []
    curves: dict[str, dict[int | str, tuple[list[float], list[float]]]] = {}
    timing: dict[str, float] = {}
    keep, audit = inputs.keep.cpu(), inputs.audit.cpu()
    pooled = len(targets) > 1
    # pooled scores reuse every pool sample in each target and share each target's training
    # randomness: the bootstrap resamples targets and pool samples as clusters
    pooled_clusters = {
        "target": torch.cat([torch.full((int(audit[m].sum()),), m) for m in targets]),
        "sample": torch.cat([audit[m].nonzero().squeeze(1) for m in targets]),
    }

    def acc(values: Sequence[float] | None, models: Sequence[int]) -> float | None:
        return None if values is None else statistics.fmean(values[m] for m in models)

    for a, attack in enumerate(each(attacks)):
        start = time.perf_counter()
        outputs = []
        for t, target in enumerate(targets):
            out = attack.score(inputs, target=target)
            scores[a, t] = out.scores.detach().cpu().double()
            outputs.append(out)
        timing[attack.name] = time.perf_counter() - start
        curves[attack.name] = {}
        per_target = []
        for t, target in enumerate(targets):
            audited = audit[target]
            metrics = evaluate(
                scores[a, t][audited], keep[target][audited], fpr_targets, bootstrap, seed
            )
            per_target.append(metrics)
            curves[attack.name][target] = (metrics.fpr, metrics.tpr)
            records.append(
                {
                    "attack": attack.name,
                    "attack_settings": attack.settings(),
                    "target": target,
                    **metrics.to_dict(include_curve=not pooled),
                    "info": outputs[t].info,
                    "target_train_acc": acc(train_acc, [target]),
                    "target_test_acc": acc(test_acc, [target]),
                    **extra,
                }
            )
        if pooled:
            all_scores = torch.cat([scores[a, t][audit[m]] for t, m in enumerate(targets)])
            all_members = torch.cat([keep[m][audit[m]] for m in targets])
            metrics = evaluate(
                all_scores, all_members, fpr_targets, bootstrap, seed, clusters=pooled_clusters
            )
            curves[attack.name][POOLED] = (metrics.fpr, metrics.tpr)
            budgets = list(per_target[0].tpr_at_fpr)
            records.append(
                {
                    "attack": attack.name,
                    "attack_settings": attack.settings(),
                    "target": POOLED,
                    "targets": list(targets),
                    **metrics.to_dict(include_curve=True),
                    "across_targets": {
                        "auc": _mean_std([m.auc for m in per_target]),
                        "advantage": _mean_std([m.advantage for m in per_target]),
                        "tpr_at_fpr": [
                            {"fpr_target": b, **_mean_std([m.tpr_at_fpr[b][0] for m in per_target])}
                            for b in budgets
                        ],
                    },
                    "info": {},
                    "target_train_acc": acc(train_acc, targets),
                    "target_test_acc": acc(test_acc, targets),
                    **extra,
                }
            )
    accuracy = None
    if train_acc is not None or test_acc is not None:
        accuracy = {"train": _list(train_acc), "test": _list(test_acc)}
    return AuditResult(
        records,
        scores,
        list(targets),
        names,
        curves,
        timing,
        keep[targets],
        audit[targets],
        accuracy=accuracy,
        settings=extra.get("settings"),
    )


def _list(values: Sequence[float] | None) -> list[float] | None:
    return None if values is None else list(values)
