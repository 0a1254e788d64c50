"""Calibration: every attack must be at chance on outputs that carry no membership information.

:func:`calibrate` audits outputs drawn independently of the membership plan (by default
:func:`synthetic_outputs`: a per-sample difficulty shared by all models plus per-model noise,
so that nothing in them depends on who trained on what) over many seeds, with the plan, the
attacks and the audit modes of a real run, and checks, per attack and mode, three things that
hold for any unbiased attack:

* the mean ROC AUC is 0.5 within ``z`` standard errors;
* the TPR at each FPR budget ``f`` lies in its chance interval: at least the FPR the ROC point
  actually reaches, at most ``(K + 1) / (n + 1)`` with ``K = floor(f n)`` of ``n`` non-members
  (for exchangeable continuous scores the expected TPR at the point above the ``(K + 1)``-th
  highest non-member is exactly that), within ``z`` standard errors (the larger of the spread
  over seeds and the binomial error of members and non-members);
* the most member-like sample is a member by chance only: the share of seeds with TPR > 0 at
  FPR 0 is ``n_members / n`` (at most that for attacks with few score levels, whose top level
  ties by design: :attr:`Attack.few_score_levels`). Checked per target (modes ``1`` and
  ``all``): pooled scores of one sample in different targets are dependent, so their maximum
  is not a member's with that chance even for an unbiased attack.

``z`` is at least 3 and grows with the number of checks in a call (Bonferroni: with about 200
checks, 3 standard errors would flag an unbiased attack somewhere in one call out of two; the
width used keeps that chance at ``alpha``, 1% by default), so the verdicts are reproducible
claims, not the luck of the seeds.

With ``effect > 0`` the outputs carry a planted membership signal (members' true-label logit
raised by ``effect`` noise standard deviations); :func:`rises_with_effect` checks that each
attack's AUC grows with it. :func:`format_table` prints the rows.

Audit modes: ``1`` (model 0 audited, the others its references), ``all`` (each model audited
in turn, the mean over targets) and ``pooled`` (the scores of all targets concatenated).
"""

from __future__ import annotations

import itertools
import math
import statistics
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Literal

import torch
from torch import Tensor

from lightning_snnpriv.attacks.base import Attack, AttackInputs
from lightning_snnpriv.attacks.multi_target import POOLED, run_audit
from lightning_snnpriv.errors import ConfigError

__all__ = [
    "MODES",
    "CalibrationRow",
    "calibrate",
    "format_table",
    "rises_with_effect",
    "synthetic_outputs",
]

Mode = Literal["1", "all", "pooled"]
#: The audit modes a row can describe.
MODES: tuple[Mode, ...] = ("1", "all", "pooled")

#: FPR budgets checked by default (0 is always added: it decides the top-member check).
DEFAULT_BUDGETS: tuple[float, ...] = (0.1, 0.01)


def synthetic_outputs(
    keep: Tensor,
    labels: Tensor,
    num_classes: int,
    seed: int,
    *,
    effect: float = 0.0,
    margin: float = 2.0,
    difficulty: float = 1.0,
    noise: float = 1.0,
) -> Tensor:
    """Logits ``[M, N, C]`` drawn independently of the plan, optionally with a planted effect.

    ``logits[m, i] = margin * onehot(y_i) + difficulty * d_i + noise * e_mi``, with ``d_i`` and
    ``e_mi`` standard normal ``[C]`` vectors: each sample has its own difficulty, shared by all
    models (as real models share which samples are hard), and each model its own noise. With
    ``effect > 0``, where ``keep[m, i]`` the true-label logit is raised by ``effect * noise``.

    Args:
        keep: ``[M, N]`` bool membership plan (used only for the planted effect).
        labels: ``[N]`` long true labels.
        num_classes: ``C`` (>= 2).
        seed: Seed of the draw.
        effect: Planted membership effect in noise standard deviations (0: none).
        margin: How much the true-label logit leads on average (the models' accuracy).
        difficulty: Scale of the per-sample part shared by all models.
        noise: Scale of the per-model part.

    Example:
        >>> keep = torch.tensor([[True, False], [False, True]])
        >>> synthetic_outputs(keep, torch.tensor([0, 1]), 3, seed=0).shape
        torch.Size([2, 2, 3])
    """
    num_models, num_samples = keep.shape
    generator = torch.Generator().manual_seed(seed)
    onehot = torch.nn.functional.one_hot(labels.cpu(), num_classes).to(torch.float32)
    shared = torch.randn(num_samples, num_classes, generator=generator)
    own = torch.randn(num_models, num_samples, num_classes, generator=generator)
    logits = margin * onehot + difficulty * shared + noise * own
    return logits + (effect * noise) * keep.cpu().unsqueeze(-1).float() * onehot


@dataclass(frozen=True)
class CalibrationRow:
    """One attack in one audit mode over all seeds.

    Attributes:
        attack: The attack's name.
        scheme: The plan's name (whatever the caller calls it).
        mode: ``1``, ``all`` or ``pooled``.
        effect: The planted effect (0: outputs without membership information).
        seeds: Seeds audited.
        auc: Mean AUC over seeds.
        auc_se: Its standard error.
        tpr: Per FPR budget: ``(budget, mean TPR, chance low, chance high, standard error)``.
        top_member: Share of seeds whose highest score is a member's (TPR > 0 at FPR 0).
        top_expected: Its chance value ``n_members / n`` (an upper bound for
            ``few_score_levels`` attacks).
        top_se: Its standard error.
        z: The width of the acceptance intervals used, in standard errors.
        failures: What is off, one line each (empty: calibrated); only checked at effect 0.
        skipped: Why the attack does not apply to this plan (its ``ConfigError``), or None.
    """

    attack: str
    scheme: str
    mode: Mode
    effect: float
    seeds: int
    auc: float = math.nan
    auc_se: float = math.nan
    tpr: tuple[tuple[float, float, float, float, float], ...] = ()
    top_member: float = math.nan
    top_expected: float = math.nan
    top_se: float = math.nan
    z: float = math.nan
    failures: tuple[str, ...] = field(default=())
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        """True when the attack applies and no check failed."""
        return self.skipped is None and not self.failures


def _mean_se(values: Sequence[float], floor: float) -> tuple[float, float]:
    """Mean and standard error over seeds, at least ``floor`` (the independent-case error)."""
    spread = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return statistics.fmean(values), max(spread, floor)


def _per_seed(records: list[dict], budgets: Sequence[float]) -> dict[str, float]:
    """Mean over ``records`` (one per target, or the pooled one) of each checked quantity."""
    out: dict[str, list[float]] = {"auc": [], "top": [], "p0": [], "nm": [], "nn": []}
    for record in records:
        n_m, n_n = record["n_members"], record["n_nonmembers"]
        points = {p["fpr_target"]: p for p in record["tpr_at_fpr"]}
        out["auc"].append(record["auc"])
        out["top"].append(float(points[0.0]["tpr"] > 0))
        out["p0"].append(n_m / (n_m + n_n))
        out["nm"].append(n_m)
        out["nn"].append(n_n)
        for f in budgets:
            k = math.floor(f * n_n + 1e-9)
            out.setdefault(f"tpr{f}", []).append(points[f]["tpr"])
            out.setdefault(f"low{f}", []).append(points[f]["fpr"])
            out.setdefault(f"high{f}", []).append((k + 1) / (n_n + 1))
    means = {key: statistics.fmean(values) for key, values in out.items()}
    means["count"] = len(records)
    return means


def _row(
    attack: Attack, scheme: str, mode: Mode, effect: float, seeds: list[dict], z: float
) -> CalibrationRow:
    """Summarize one attack and mode over seeds and run the checks (at effect 0)."""
    s, n_t = len(seeds), seeds[0]["count"]
    n_m, n_n = statistics.fmean(x["nm"] for x in seeds), statistics.fmean(x["nn"] for x in seeds)
    # errors if every target and seed were independent: floors for the spread over seeds
    auc_floor = math.sqrt((n_m + n_n + 1) / (12 * n_m * n_n) / (s * n_t))
    auc, auc_se = _mean_se([x["auc"] for x in seeds], auc_floor)
    failures = []
    if abs(auc - 0.5) > z * auc_se:
        failures.append(f"AUC {auc:.4f} is not 0.5 +- {z:.2f} x {auc_se:.4f}")
    tpr = []
    for f in sorted({float(k[3:]) for k in seeds[0] if k.startswith("tpr")}, reverse=True):
        low = statistics.fmean(x[f"low{f}"] for x in seeds)
        high = statistics.fmean(x[f"high{f}"] for x in seeds)
        floor = math.sqrt(high * (1 - high) * (1 / n_m + 1 / n_n) / (s * n_t))
        mean, se = _mean_se([x[f"tpr{f}"] for x in seeds], floor)
        tpr.append((f, mean, low, high, se))
        if not low - z * se <= mean <= high + z * se:
            failures.append(
                f"TPR at FPR {f:g} is {mean:.4f}, chance is [{low:.4f}, {high:.4f}] +- {z:.2f} x "
                f"{se:.4f}"
            )
    top_expected = statistics.fmean(x["p0"] for x in seeds)
    floor = math.sqrt(top_expected * (1 - top_expected) / (s * n_t))
    top, top_se = _mean_se([x["top"] for x in seeds], floor)
    top_low = 0.0 if attack.few_score_levels else top_expected
    # pooled, each sample appears in every target with references shared between its
    # appearances, so its scores are dependent and extremes come in clusters: the share of
    # top members is then below n_members / n even for an unbiased attack (online LiRA: 0.31)
    if mode != "pooled" and not top_low - z * top_se <= top <= top_expected + z * top_se:
        failures.append(
            f"the top score is a member's in {top:.2f} of the seeds, chance is "
            f"{top_expected:.2f} +- {z:.2f} x {top_se:.2f} (ties at the top?)"
        )
    return CalibrationRow(
        attack=attack.name,
        scheme=scheme,
        mode=mode,
        effect=effect,
        seeds=s,
        auc=auc,
        auc_se=auc_se,
        tpr=tuple(tpr),
        top_member=top,
        top_expected=top_expected,
        top_se=top_se,
        z=z,
        failures=tuple(failures) if effect == 0 else (),
    )


def calibrate(
    attacks: Sequence[Attack],
    keep: Tensor,
    audit: Tensor,
    labels: Tensor,
    num_classes: int,
    *,
    scheme: str = "",
    seeds: int | Sequence[int] = 20,
    effect: float = 0.0,
    modes: Sequence[Mode] = MODES,
    fpr_targets: Sequence[float] = DEFAULT_BUDGETS,
    z: float = 3.0,
    alpha: float = 0.01,
    outputs: Callable[[int], Tensor] | None = None,
) -> list[CalibrationRow]:
    """Audit outputs without membership information with every attack; check chance levels.

    Args:
        attacks: The attacks, configured as in the run to calibrate.
        keep: ``[M, N]`` bool membership plan (the run's ``membership.npz``).
        audit: ``[M, N]`` bool audited samples.
        labels: ``[N]`` long true labels.
        num_classes: Classes ``C`` of the outputs.
        scheme: Name of the plan, for the rows.
        seeds: Number of seeds (``0 .. seeds-1``), or the seeds themselves (>= 2).
        effect: Planted membership effect of :func:`synthetic_outputs` (0: none, checked).
        modes: Audit modes to summarize (``1``, ``all``, ``pooled``).
        fpr_targets: FPR budgets whose TPR is checked (0 is always checked).
        z: Least width of the acceptance intervals in standard errors.
        alpha: Chance that an unbiased attack fails any check of the call: the width is the
            larger of ``z`` and the Bonferroni width for the number of checks.
        outputs: ``seed -> [M, N, C]`` logits to audit instead of :func:`synthetic_outputs`
            (e.g. real models trained on data disjoint from the pool).

    Returns:
        One :class:`CalibrationRow` per attack and mode; an attack that the plan cannot support
        (e.g. online LiRA without IN references) is a row with ``skipped`` set.

    Raises:
        ValueError: On fewer than 2 seeds, an unknown mode, or outputs of the wrong shape.
    """
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if len(seed_list) < 2:
        raise ValueError(f"calibration needs >= 2 seeds for a standard error; got {seed_list}")
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        raise ValueError(f"modes must be among {list(MODES)}; got {unknown}")
    keep, audit, labels = keep.cpu(), audit.cpu(), labels.cpu()
    num_models = keep.shape[0]
    targets = list(range(num_models)) if set(modes) - {"1"} else [0]
    budgets = sorted({0.0, *map(float, fpr_targets)}, reverse=True)

    def draw(seed: int) -> Tensor:
        if outputs is None:
            return synthetic_outputs(keep, labels, num_classes, seed, effect=effect)
        logits = outputs(seed)
        if tuple(logits.shape) != (*keep.shape, num_classes):
            raise ValueError(
                f"outputs({seed}) must be [{num_models}, {keep.shape[1]}, {num_classes}] "
                f"logits; got {tuple(logits.shape)}"
            )
        return logits

    rows: list[CalibrationRow] = []
    applicable = []
    for attack in attacks:
        try:
            for target in targets:
                attack.check_plan(keep, audit, target)
            applicable.append(attack)
        except ConfigError as err:
            rows += [
                CalibrationRow(attack.name, scheme, m, effect, len(seed_list), skipped=str(err))
                for m in modes
            ]
    per_seed: dict[tuple[str, Mode], list[dict]] = {}
    for seed in seed_list:
        inputs = AttackInputs(draw(seed), labels, keep, audit)
        with warnings.catch_warnings():  # FPR budgets below 1/n are expected here
            warnings.simplefilter("ignore", UserWarning)
            result = run_audit(inputs, applicable, targets, budgets)
        for attack in applicable:
            records = [r for r in result.records if r["attack"] == attack.name]
            by_mode = {
                "1": [r for r in records if r["target"] == 0],
                "all": [r for r in records if r["target"] != POOLED],
                "pooled": [r for r in records if r["target"] == POOLED] or records,
            }
            for mode in modes:
                per_seed.setdefault((attack.name, mode), []).append(
                    _per_seed(by_mode[mode], budgets)
                )
    checks = len(applicable) * len(modes) * (len(budgets) + 2)  # AUC, TPRs, top member
    width = max(z, NormalDist().inv_cdf(1 - alpha / (2 * max(checks, 1))))
    for attack in applicable:
        for mode in modes:
            rows.append(_row(attack, scheme, mode, effect, per_seed[attack.name, mode], width))
    return rows


def rises_with_effect(rows: Sequence[CalibrationRow], z: float = 3.0) -> list[str]:
    """Check that each attack's mean AUC grows with the planted effect.

    Args:
        rows: Rows of :func:`calibrate` runs with different ``effect`` (same attacks, plan).
        z: The largest effect's AUC must exceed the smallest's by ``z`` combined errors.

    Returns:
        One line per attack and mode whose AUC does not rise (empty: all rise).
    """
    problems = []
    groups: dict[tuple[str, str, str], list[CalibrationRow]] = {}
    for row in rows:
        if row.skipped is None:
            groups.setdefault((row.attack, row.scheme, row.mode), []).append(row)
    for (attack, scheme, mode), group in groups.items():
        group = sorted(group, key=lambda r: r.effect)
        aucs = [r.auc for r in group]
        gap = math.hypot(group[0].auc_se, group[-1].auc_se)
        if any(b <= a for a, b in itertools.pairwise(aucs)) or (aucs[-1] - aucs[0] <= z * gap):
            trend = ", ".join(f"{r.effect:g}: {r.auc:.3f}" for r in group)
            problems.append(f"{attack} ({scheme}, mode {mode}): AUC by effect {trend}")
    return problems


def format_table(rows: Sequence[CalibrationRow]) -> str:
    """The rows as a fixed-width text table (one line per attack, scheme and mode)."""
    budgets = sorted({t[0] for r in rows for t in r.tpr}, reverse=True)
    head = f"{'attack':<20} {'scheme':<7} {'mode':<6} {'effect':>6} {'AUC':>13}"
    head += "".join(f" {'TPR@' + format(b, 'g'):>21}" for b in budgets)
    head += f" {'top member':>13}  verdict"
    lines = [head]
    for r in rows:
        line = f"{r.attack:<20} {r.scheme:<7} {r.mode:<6} {r.effect:>6g}"
        if r.skipped is not None:
            lines.append(f"{line} {'n/a: ' + r.skipped.split('. ')[0]}")
            continue
        line += f" {r.auc:>6.4f}+-{r.auc_se:.4f}"
        by_budget = {t[0]: t for t in r.tpr}
        for b in budgets:
            _, mean, low, high, _ = by_budget[b]
            line += f" {mean:.4f} [{low:.3f},{high:.3f}]"
        line += f" {r.top_member:>5.2f} ({r.top_expected:.2f})"
        verdict = "ok" if r.effect == 0 and r.passed else ("-" if r.effect else "FAIL")
        lines.append(f"{line}  {verdict}")
        lines += [f"    {failure}" for failure in r.failures]
    return "\n".join(lines)
