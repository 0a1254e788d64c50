"""The claims a study tests: which settings it compares, and which way it expects them to differ.

A sweep config may declare them under ``claims:``; ``report`` then decides each one from the
runs' results (:mod:`lightning_snnpriv.sweeps.findings`)::

    claims:
      - name: quantization lowers leakage at little accuracy cost
        baseline: {weight_bits: null}                    # a selector, or a list of them
        other: [{weight_bits: 8}, {weight_bits: 4}, {weight_bits: 2}]
        expect: lower                                    # other vs baseline: lower | higher
        by: [kind]                                       # separate findings per ANN and SNN
        accuracy_tolerance: 0.02                         # "little cost": drop < 2 points
        metrics: [auc, tpr_at_fpr_0.01]                  # default: AUC, TPR at 1% and 0.1% FPR

A *selector* maps result columns to values: a setting of the runs (``kind``, ``data``,
``weight_bits``, ``act_bits``, ``surrogate``, ``num_steps``, ``data.scheme``) or a swept key
(``model.init_args.hidden_sizes``); values as in the sweep config (``null`` is full precision).
Every ``other`` selector is compared with every ``baseline`` selector, separately for each
dataset, each value of the ``by`` columns and each attack, with runs paired by seed.

**Comparing attacks.** A selector may also name the ``attack`` whose records it takes; then
every selector of the claim names one, and the claim compares those attacks' records across
settings instead of deciding each attack on its own: its cell is per dataset and ``by``
context (its findings' ``attack`` reads ``shokri_balanced vs shokri``), and the two sides are
paired by seed as above. The source study's protocol, which attacks its ANN with a
class-balanced Shokri attack and its SNN with the plain one, is::

      - name: SNNs leak less, attacked the source's way
        baseline: {kind: ann, weight_bits: null, attack: shokri_balanced}
        other: {kind: snn, weight_bits: null, attack: shokri}
        metrics: [auc, per_class_auc_mean]

Each named attack must be one the study runs (``mia.attacks`` of its base configs or of its
overrides: :func:`check_claim_attacks`, called by ``load_spec``); ``by`` cannot hold ``attack``
in such a claim.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lightning_snnpriv.errors import ConfigError

Expect = Literal["lower", "higher"]
#: The selector key naming the attack whose records a selector takes.
ATTACK = "attack"
#: Keys of one claim.
CLAIM_KEYS = ("name", "baseline", "other", "expect", "by", "metrics", "accuracy_tolerance")
#: Leakage metrics compared when a claim names none: AUC and the TPR at 1% and 0.1% FPR.
DEFAULT_METRICS = ("auc", "tpr_at_fpr_0.01", "tpr_at_fpr_0.001")
#: The leakage metrics a claim can compare (``per_class_auc_mean``: the Shokri attack's mean of
#: per-class AUCs, the source study's metric).
METRIC_PATTERN = r"auc|per_class_auc_mean|advantage|balanced_accuracy|tpr_at_fpr_[0-9.e-]+"


@dataclass(frozen=True)
class Claim:
    """One claim of a study.

    Attributes:
        name: What is claimed, in words (the heading of its findings).
        baseline: Selectors of the settings compared against.
        other: Selectors of the settings the claim is about.
        expect: ``lower``: each ``other`` leaks less than each ``baseline``; ``higher``: more.
        by: Result columns whose values get separate findings (the dataset always does).
        metrics: Leakage metrics compared.
        accuracy_tolerance: When set, the claim also says ``other`` costs less than this much
            test accuracy (absolute, e.g. 0.02 = 2 points) against ``baseline``.
    """

    name: str
    baseline: tuple[dict[str, Any], ...]
    other: tuple[dict[str, Any], ...]
    expect: Expect = "lower"
    by: tuple[str, ...] = ()
    metrics: tuple[str, ...] = DEFAULT_METRICS
    accuracy_tolerance: float | None = None

    @property
    def attacks(self) -> tuple[str, ...]:
        """The attacks the selectors name, baseline's first (empty: decided per attack)."""
        selectors = (*self.baseline, *self.other)
        return tuple(dict.fromkeys(s[ATTACK] for s in selectors if ATTACK in s))

    @property
    def attack_label(self) -> str | None:
        """The attack label of the claim's cells when its selectors name attacks, else None.

        Example:
            >>> Claim("x", ({"kind": "ann", "attack": "a"},), ({"attack": "b"},)).attack_label
            'a vs b'
        """
        return " vs ".join(self.attacks) if self.attacks else None

    def to_dict(self) -> dict[str, Any]:
        """The claim as JSON (for the manifest)."""
        return {
            "name": self.name,
            "baseline": list(self.baseline),
            "other": list(self.other),
            "expect": self.expect,
            "by": list(self.by),
            "metrics": list(self.metrics),
            "accuracy_tolerance": self.accuracy_tolerance,
        }


@dataclass(frozen=True)
class _Where:
    path: Path
    index: int

    def error(self, key: str, text: str) -> ConfigError:
        return ConfigError(f"{self.path}: `claims[{self.index}].{key}` {text}")


def _selectors(where: _Where, key: str, value: Any) -> tuple[dict[str, Any], ...]:
    items = [value] if isinstance(value, Mapping) else value
    if not isinstance(items, list) or not items:
        raise where.error(
            key,
            "must be a selector (a mapping of result columns to values, e.g. "
            "`{weight_bits: null}`) or a non-empty list of them.",
        )
    for item in items:
        if not isinstance(item, Mapping) or not item:
            raise where.error(
                key,
                f"has {item!r}; each selector is a non-empty mapping of "
                "result columns to values, e.g. `{kind: snn}`.",
            )
        if not all(isinstance(k, str) and k for k in item):
            raise where.error(
                key,
                f"has the selector {dict(item)!r}; its keys must be column "
                "names (`kind`, `weight_bits`, `surrogate`, ...).",
            )
    return tuple(dict(item) for item in items)


def _check_attack_selectors(where: _Where, selectors: dict[str, tuple], by: list[str]) -> None:
    """All or none of a claim's selectors name an ``attack``, as text; ``by`` then has none."""
    naming = [ATTACK in s for side in selectors.values() for s in side]
    if not any(naming):
        return
    for key, side in selectors.items():
        for i, selector in enumerate(side):
            field = f"{key}[{i}]" if len(side) > 1 else key
            value = selector.get(ATTACK)
            if not isinstance(value, str) or not value:
                raise where.error(
                    f"{field}.{ATTACK}",
                    f"must name an attack (`shokri`, `shokri_balanced`, ...), got {value!r}: "
                    "once one selector of a claim names the attack whose records it takes, "
                    "every selector does.",
                )
    if ATTACK in by:
        raise where.error(
            "by",
            "holds `attack`, but the claim's selectors name their attacks; remove it from `by`.",
        )


def parse_claim(raw: Any, path: Path, index: int) -> Claim:
    """One claim of a sweep config, validated.

    Raises:
        ConfigError: Naming the field and what it takes.
    """
    where = _Where(path, index)
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{path}: `claims[{index}]` must be a mapping with keys {', '.join(CLAIM_KEYS)}."
        )
    unknown = sorted(set(raw) - set(CLAIM_KEYS))
    if unknown:
        raise ConfigError(
            f"{path}: `claims[{index}]` has unknown key(s) {unknown}; a claim "
            f"takes {', '.join(CLAIM_KEYS)}."
        )
    missing = [k for k in ("name", "baseline", "other") if k not in raw]
    if missing:
        raise ConfigError(
            f"{path}: `claims[{index}]` needs {missing} (the claim's name and the "
            "selectors of the settings compared)."
        )
    name = raw["name"]
    if not isinstance(name, str) or not name.strip():
        raise where.error("name", "must be a non-empty text saying what is claimed.")
    expect = raw.get("expect", "lower")
    if expect not in ("lower", "higher"):
        raise where.error(
            "expect",
            f"must be `lower` or `higher` (how `other` compares with `baseline`), got {expect!r}.",
        )
    by = raw.get("by") or []
    if not isinstance(by, list) or not all(isinstance(b, str) and b for b in by):
        raise where.error("by", f"must be a list of result column names, got {by!r}.")
    metrics = raw.get("metrics") or list(DEFAULT_METRICS)
    if not isinstance(metrics, list) or not all(
        isinstance(m, str) and re.fullmatch(METRIC_PATTERN, m) for m in metrics
    ):
        raise where.error(
            "metrics",
            f"must be a list of leakage metrics (auc, advantage, "
            f"tpr_at_fpr_<fpr> such as tpr_at_fpr_0.01), got "
            f"{metrics!r}.",
        )
    tolerance = raw.get("accuracy_tolerance")
    if tolerance is not None and (
        isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0
    ):
        raise where.error(
            "accuracy_tolerance",
            f"must be a number >= 0 (an absolute drop in "
            f"test accuracy, e.g. 0.02), got {tolerance!r}.",
        )
    selectors = {key: _selectors(where, key, raw[key]) for key in ("baseline", "other")}
    _check_attack_selectors(where, selectors, by)
    return Claim(
        name=name.strip(),
        baseline=selectors["baseline"],
        other=selectors["other"],
        expect=expect,
        by=tuple(by),
        metrics=tuple(dict.fromkeys(metrics)),
        accuracy_tolerance=None if tolerance is None else float(tolerance),
    )


def parse_claims(raw: Any, path: Path) -> tuple[Claim, ...]:
    """The ``claims:`` section of a sweep config (``None``: no claims).

    Raises:
        ConfigError: On a malformed claim, or two claims with the same name.
    """
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(
            f"{path}: `claims` must be a list of claims, each with {', '.join(CLAIM_KEYS)}."
        )
    claims = tuple(parse_claim(item, path, i) for i, item in enumerate(raw))
    names = [c.name for c in claims]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: `claims` names a claim twice; give each a distinct `name`.")
    return claims


def check_claim_attacks(claims: Iterable[Claim], run: Iterable[str], path: Path) -> None:
    """Refuse a claim whose selector names an attack that no point of the study runs.

    Args:
        claims: The study's claims, in the order of its ``claims:`` list.
        run: The names of the attacks the study's points run.
        path: The sweep config (for the message).

    Raises:
        ConfigError: Naming the claim, the field and the attacks the study runs.
    """
    run = sorted(set(run))
    for index, claim in enumerate(claims):
        for key in ("baseline", "other"):
            side = getattr(claim, key)
            for i, selector in enumerate(side):
                attack = selector.get(ATTACK)
                if attack is not None and attack not in run:
                    field = f"{key}[{i}]" if len(side) > 1 else key
                    raise ConfigError(
                        f"{path}: `claims[{index}].{field}.{ATTACK}` of the claim "
                        f"{claim.name!r} names {attack!r}, which the study does not run; its "
                        f"points run {run}. Name one of them, or add {attack!r} to "
                        "`mia.attacks` (in `fixed`, or in the base configs)."
                    )
