"""Findings: each claim of a study decided from the runs' results, with intervals and verdicts.

Pure (results rows and claims in, finding records and Markdown out), built on
:mod:`lightning_snnpriv.sweeps.statistics`. For every claim
(:mod:`~lightning_snnpriv.sweeps.claims`), dataset, value of the claim's ``by`` columns and
attack, every ``other`` selector is compared with every ``baseline`` selector on each leakage
metric: the runs of the two settings are paired by seed (each seed fixes the split, the
membership plan and the initialization on both sides), the mean difference ``other -
baseline`` gets its 95% t-interval and a paired t-test, and the p-values of one (claim,
dataset, context, attack) cell are one Holm family. A finding's verdict:

* ``holds``: the difference is significant (Holm) in the claimed direction;
* ``does not hold``: it is significant in the opposite direction;
* ``inconclusive``: no significant difference, or fewer than two seeds on both sides.

With ``accuracy_tolerance`` the claim also says the other setting costs less than that much test
accuracy: the paired difference in ``target_test_acc`` is tested against ``-tolerance`` in the
same family (``holds``: the drop is significantly smaller than the tolerance, ``does not
hold``: significantly larger). A claim whose selectors name their attacks (``{kind: ann,
attack: shokri_balanced}``) compares those attacks' records across settings: its cells are
per dataset and context only, labelled with the attacks named (``shokri_balanced vs
shokri``). Each run contributes its pooled record (every model audited as the target,
``mia.targets: all``) when it has one, else its main target's (model 0).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from lightning_snnpriv.sweeps.claims import Claim
from lightning_snnpriv.sweeps.spec import format_value, key_label, value_label
from lightning_snnpriv.sweeps.statistics import Comparison, decide, paired_comparison

__all__ = ["ACCURACY", "VERDICTS", "Finding", "findings", "markdown_findings"]

Verdict = Literal["holds", "does not hold", "inconclusive"]
#: The verdicts of a finding.
VERDICTS: tuple[Verdict, ...] = ("holds", "does not hold", "inconclusive")
#: The accuracy column a claim's ``accuracy_tolerance`` is tested on.
ACCURACY = "target_test_acc"
#: The statistics of a finding (NaN when it has fewer than two pairs).
STATS = ("difference", "ci_low", "ci_high", "p_value", "p_holm")
#: Pooled records' ``target`` value.
POOLED = "pooled"


@dataclass(frozen=True)
class Finding:
    """One compared pair of settings on one metric, decided.

    Attributes:
        claim: The claim's name.
        data: The dataset (datamodule name without ``DataModule``).
        context: The values of the claim's ``by`` columns (``kind=ann``), or empty.
        scheme: The membership scheme of the runs (``paper``, ``lira``, ...), or empty.
        attack: The attack, or the attacks compared (``shokri_balanced vs shokri``) when the
            claim's selectors name them.
        record: ``pooled`` (every model audited) or ``target 0``.
        metric: The metric compared.
        baseline: The baseline setting, in words.
        other: The other setting.
        n_pairs: Seeds present on both sides.
        baseline_mean: Mean of the metric over the paired seeds, baseline side.
        other_mean: The same, other side.
        difference: Mean of ``other - baseline`` over the pairs.
        ci_low: Lower end of its 95% t-interval.
        ci_high: Upper end.
        p_value: Two-sided p-value of the paired t-test (against ``-tolerance`` for accuracy).
        p_holm: Holm-adjusted within its family (claim, dataset, context, attack).
        verdict: ``holds``, ``does not hold`` or ``inconclusive``.
        expected: What the claim says: ``lower``, ``higher`` or ``drop < <tolerance>``.
    """

    claim: str
    data: str
    context: str
    scheme: str
    attack: str
    record: str
    metric: str
    baseline: str
    other: str
    n_pairs: int
    baseline_mean: float
    other_mean: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    p_holm: float
    verdict: Verdict
    expected: str


def _cell(value: Any) -> str:
    """A result cell or selector value as the rows hold it (``null``, ``4``, ``snn``)."""
    if isinstance(value, str):
        return value
    return format_value(value)


def selected(row: Mapping[str, Any], selector: Mapping[str, Any]) -> bool:
    return all(k in row and _cell(row[k]) == _cell(v) for k, v in selector.items())


def selector_label(selector: Mapping[str, Any]) -> str:
    return ", ".join(f"{key_label(k)}={value_label(k, v)}" for k, v in selector.items())


def _data_label(row: Mapping[str, Any]) -> str:
    return str(row.get("data", "")).removesuffix("DataModule")


def study_records(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Per finished point and attack: the pooled record if the point has one, else model 0's."""
    finished = [r for r in rows if r.get("status", "finished") == "finished"]
    pooled = {(r.get("point_id"), r["attack"]) for r in finished if r.get("target") == POOLED}
    return [
        r
        for r in finished
        if (r.get("target") == POOLED)
        or ((r.get("point_id"), r["attack"]) not in pooled and r.get("target", 0) in (0, "0"))
    ]


def _by_seed(
    rows: Sequence[Mapping[str, Any]], seed_keys: Sequence[str], metric: str, where: str
) -> dict[tuple, float]:
    values: dict[tuple, float] = {}
    for row in rows:
        key = tuple(_cell(row.get(k)) for k in seed_keys)
        if key in values:
            raise ValueError(
                f"{where}: two runs share the seed {dict(zip(seed_keys, key, strict=True))} on one "
                "side of the comparison; add the column that tells them apart to the claim's `by`, "
                "or narrow its selectors."
            )
        value = row.get(metric)
        if value is not None and value != "" and math.isfinite(float(value)):
            values[key] = float(value)
    return values


def _verdict(c: Comparison, expected: str) -> Verdict:
    if c.verdict == "no significant difference" or c.verdict is None:
        return "inconclusive"
    return "holds" if c.verdict == expected else "does not hold"


def _cell_findings(
    claim: Claim,
    rows: Sequence[Mapping[str, Any]],
    seed_keys: Sequence[str],
    head: dict[str, str],
    alpha: float,
) -> list[Finding]:
    """The findings of one (claim, dataset, context, attack) cell: one Holm family."""
    metrics = [m for m in claim.metrics if any(r.get(m) not in (None, "") for r in rows)]
    tolerance = claim.accuracy_tolerance
    if tolerance is not None:
        metrics.append(ACCURACY)
    where = f"claim {claim.name!r}, {head['data']} {head['context']} {head['attack']}".strip()
    compared: list[tuple[Comparison | None, dict[str, Any]]] = []
    for base_sel in claim.baseline:
        base_rows = [r for r in rows if selected(r, base_sel)]
        for other_sel in claim.other:
            other_rows = [r for r in rows if selected(r, other_sel)]
            if not base_rows or not other_rows:
                continue  # a setting this dataset / context has no runs of
            for metric in metrics:
                shift = tolerance if metric == ACCURACY else 0.0
                a = _by_seed(base_rows, seed_keys, metric, where)
                b = _by_seed(other_rows, seed_keys, metric, where)
                keys = [k for k in a if k in b]
                info = {
                    "metric": metric,
                    "baseline": selector_label(base_sel),
                    "other": selector_label(other_sel),
                    "n_pairs": len(keys),
                    "baseline_mean": _mean([a[k] for k in keys]),
                    "other_mean": _mean([b[k] for k in keys]),
                    "shift": shift,
                    "expected": claim.expect if metric != ACCURACY else f"drop < {tolerance:g}",
                    "direction": claim.expect if metric != ACCURACY else "higher",
                }
                comparison = None
                if len(keys) >= 2:
                    comparison = paired_comparison(
                        {k: a[k] - shift for k in keys}, {k: b[k] for k in keys}, metric=metric
                    )
                compared.append((comparison, info))
    decided = iter(decide([c for c, _ in compared if c is not None], alpha))
    out = []
    for comparison, info in compared:
        shift = info.pop("shift")
        direction = info.pop("direction")
        if comparison is None:
            stats = dict.fromkeys(STATS, math.nan)
            verdict: Verdict = "inconclusive"
        else:
            c = next(decided)
            stats = {
                "difference": c.difference.mean - shift,
                "ci_low": c.difference.low - shift,
                "ci_high": c.difference.high - shift,
                "p_value": c.p_value,
                "p_holm": float(c.p_adjusted),
            }
            verdict = _verdict(c, direction)
        out.append(Finding(claim=claim.name, **head, **info, **stats, verdict=verdict))
    return out


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def findings(
    rows: Sequence[Mapping[str, Any]],
    claims: Sequence[Claim],
    seed_keys: Sequence[str],
    alpha: float = 0.05,
) -> list[Finding]:
    """Decide every claim from a sweep's results rows.

    Args:
        rows: The report's rows (one per point x attack x target record; see
            :func:`~lightning_snnpriv.sweeps.table.collect_rows`).
        claims: The study's claims.
        seed_keys: The seed axes runs are paired on.
        alpha: Family-wise level of each Holm family.

    Returns:
        One :class:`Finding` per claim x dataset x context x attack x compared pair x metric.

    Raises:
        ValueError: When two runs on one side of a comparison share a seed (the claim's
            selectors and ``by`` do not single out one run per seed).
    """
    records = study_records(rows)
    out: list[Finding] = []
    for claim in claims:
        cells: dict[tuple, list[Mapping[str, Any]]] = {}
        for row in records:
            key = (
                _data_label(row),
                ", ".join(f"{key_label(k)}={value_label(k, _value(row.get(k)))}" for k in claim.by),
                str(row.get("data.scheme") or ""),
                claim.attack_label or row["attack"],
                "pooled" if row.get("target") == POOLED else "target 0",
            )
            cells.setdefault(key, []).append(row)
        for (data, context, scheme, attack, record), members in cells.items():
            head = {
                "data": data,
                "context": context,
                "scheme": scheme,
                "attack": attack,
                "record": record,
            }
            out += _cell_findings(claim, members, seed_keys, head, alpha)
    return out


def _value(cell: Any) -> Any:
    """A row cell back as a value (``"null"`` -> None, ``"4"`` -> 4) for labels."""
    if isinstance(cell, str):
        try:
            return json.loads(cell)
        except ValueError:
            return cell
    return cell


def finding_rows(found: Sequence[Finding]) -> list[dict[str, Any]]:
    """The findings as flat dicts (for ``findings.csv``)."""
    return [asdict(f) for f in found]


#: Columns of a claim's detail table in ``findings.md``.
DETAIL_COLUMNS = (
    "dataset",
    "context",
    "scheme",
    "attack",
    "record",
    "metric",
    "baseline",
    "other",
    "n",
    "baseline mean",
    "other mean",
    "effect [95% CI]",
    "p",
    "p (Holm)",
    "verdict",
)


def _number(x: float, digits: int = 4) -> str:
    return "–" if math.isnan(x) else f"{x:.{digits}f}"


def _p(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.2g}" if x >= 1e-4 else f"{x:.1e}"


def markdown_findings(
    found: Sequence[Finding], claims: Sequence[Claim], title: str, alpha: float = 0.05
) -> str:
    """``findings.md``: per claim, a tally per dataset and attack, then every finding."""
    lines = [
        f"# Findings of {title}",
        "",
        "Every number below is computed from the runs' results. Runs are paired by seed; the "
        "effect is the mean of `other − baseline` over the pairs with its 95% t-interval; "
        "p: paired t-test, Holm-corrected within each claim × dataset × context × attack "
        f"(α = {alpha:g}). Verdict `holds`: significant in the claimed direction; `does not "
        "hold`: significant the other way; `inconclusive`: neither. Records: `pooled` = every "
        "model audited as the target (`mia.targets: all`), else model 0.",
        "",
    ]
    for claim in claims:
        mine = [f for f in found if f.claim == claim.name]
        lines += [f"## {claim.name}", ""]
        said = "leaks less" if claim.expect == "lower" else "leaks more"
        others = "; ".join(selector_label(s) for s in claim.other)
        bases = "; ".join(selector_label(s) for s in claim.baseline)
        lines.append(
            f"Claimed: {others} {said} than {bases}"
            + (
                f", at a test-accuracy cost below {claim.accuracy_tolerance:g}"
                if claim.accuracy_tolerance is not None
                else ""
            )
            + "."
        )
        lines.append("")
        if not mine:
            lines += ["(no finished runs match the claim's selectors)", ""]
            continue
        lines += [
            "| dataset | context | scheme | attack | holds | does not hold | inconclusive |",
            "|---|---|---|---|---|---|---|",
        ]
        tally: dict[tuple, dict[str, int]] = {}
        for f in mine:
            cell = (f.data, f.context, f.scheme, f.attack)
            tally.setdefault(cell, dict.fromkeys(VERDICTS, 0))[f.verdict] += 1
        for (data, context, scheme, attack), counts in tally.items():
            lines.append(
                f"| {data} | {context or '–'} | {scheme or '–'} | {attack} | "
                + " | ".join(str(counts[v]) for v in VERDICTS)
                + " |"
            )
        lines += ["", "| " + " | ".join(DETAIL_COLUMNS) + " |", "|---" * len(DETAIL_COLUMNS) + "|"]
        for f in mine:
            effect = (
                f"{_number(f.difference)} [{_number(f.ci_low)}, {_number(f.ci_high)}]"
                if not math.isnan(f.difference)
                else "–"
            )
            lines.append(
                f"| {f.data} | {f.context or '–'} | {f.scheme or '–'} | {f.attack} | {f.record} | "
                f"{f.metric} "
                f"({f.expected}) | {f.baseline} | {f.other} | {f.n_pairs} | "
                f"{_number(f.baseline_mean)} | {_number(f.other_mean)} | {effect} | "
                f"{_p(f.p_value)} | {_p(f.p_holm)} | **{f.verdict}** |"
            )
        lines.append("")
    return "\n".join(lines)
