"""The paired comparisons a sweep's study asks for: ANN vs SNN, bits vs full precision, surrogates.

Pure (rows in, rows out), built on :mod:`lightning_snnpriv.sweeps.statistics`. Each finished
run contributes its main target's records (model 0, as the summary). A *factor* is a setting
column of the runs (:data:`FACTORS`): ``kind`` (ANN vs SNN: ``snn`` against the ``ann``
baseline), ``weight_bits`` and ``act_bits`` (each bit width against full precision) and
``surrogate`` (each surrogate against each other). For a factor, two runs are compared when
they agree on every other setting that applies to both sides (the *context*: the other setting
columns and swept axes, leaving out the axes tied one-to-one to the factor, such as a ``config``
axis that is the ANN or the SNN file, and settings that only one side has, such as an SNN's
surrogate), and pairs are matched by seed (the seed axes: each seed fixes the data split,
membership plan and initialization on both sides). For every attack, the difference
``other - baseline`` of the AUC and of the TPR at 1% FPR (:data:`METRICS`) gets its interval and
p-value (paired t-test by default: with 5 seeds the smallest two-sided Wilcoxon p-value is
0.0625, so it could never decide), and the whole table is one Holm family: a verdict
``lower`` / ``higher`` means ``other`` leaks significantly less / more than ``baseline`` at
family-wise level ``alpha``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from lightning_snnpriv.sweeps.curves import is_main_target
from lightning_snnpriv.sweeps.spec import is_seed_key, key_label, value_label
from lightning_snnpriv.sweeps.statistics import Comparison, Test, decide, paired_comparison

__all__ = ["COLUMNS", "FACTORS", "METRICS", "comparison_rows", "markdown_comparisons"]

#: Factor column -> how its values are paired: ``baseline:<value>`` (each other value against
#: that one; skipped when no run has it) or ``all_pairs`` (each value against each other).
FACTORS: dict[str, str] = {
    "kind": "baseline:ann",
    "weight_bits": "baseline:null",
    "act_bits": "baseline:null",
    "surrogate": "all_pairs",
}

#: Metrics compared (those present in the rows): the AUC and the TPR at 1% FPR.
METRICS: tuple[str, ...] = ("auc", "tpr_at_fpr_0.01")

#: Setting columns never used as context (they name the model class, which the factor changes).
_NOT_CONTEXT = frozenset({"model"})

#: The columns of ``comparisons.csv``, in order.
COLUMNS: tuple[str, ...] = (
    "factor", "attack", "metric", "context", "baseline", "other", "n_pairs", "unmatched",
    "baseline_mean", "other_mean", "difference", "ci_low", "ci_high", "test", "p_value",
    "p_holm", "verdict",
)  # fmt: skip


def _key(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _label(column: str, value: str) -> str:
    """``null`` on a bits column is full precision; other cells as the CSV holds them."""
    try:
        return value_label(column, json.loads(value))
    except (TypeError, ValueError):
        return value_label(column, value)


def _tied(rows: Sequence[Mapping[str, Any]], factor: str, column: str) -> bool:
    """Whether ``column`` is a function of ``factor`` and the reverse, over the rows."""
    pairs = {(_key(r.get(factor)), _key(r.get(column))) for r in rows}
    return len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})


def _pairs(values: Sequence[str], rule: str) -> list[tuple[str, str]]:
    if rule == "all_pairs":
        return list(itertools.combinations(values, 2))
    baseline = rule.removeprefix("baseline:")
    return [(baseline, v) for v in values if v != baseline] if baseline in values else []


def _factor_comparisons(
    rows: Sequence[Mapping[str, Any]],
    factor: str,
    descriptive: Sequence[str],
    seed_keys: Sequence[str],
    metrics: Sequence[str],
    test: Test,
) -> list[tuple[dict[str, Any], Comparison]]:
    """The comparisons of one factor: (row cells, unadjusted comparison) per pair and metric."""
    rows = [r for r in rows if r.get(factor) is not None]
    values = list(dict.fromkeys(_key(r[factor]) for r in rows))
    pairs = _pairs(values, FACTORS[factor])
    if not pairs:
        return []
    others = [c for c in descriptive if c != factor and not _tied(rows, factor, c)]
    by_value = {v: [r for r in rows if _key(r[factor]) == v] for v in values}
    out = []
    for base, other in pairs:
        # context: the columns that every run on both sides has
        shared = [c for c in others if all(r.get(c) is not None for v in (base, other)
                                           for r in by_value[v])]  # fmt: skip
        extra = [c for c in others if c not in shared]

        def setting(r: Mapping[str, Any], shared=shared, extra=extra) -> tuple:
            return tuple(_key(r.get(c)) for c in shared), tuple(_key(r.get(c)) for c in extra)

        sides: dict[str, dict[tuple, dict[tuple, dict[str, Mapping[str, Any]]]]] = {}
        for v in (base, other):
            for r in by_value[v]:
                context, own = setting(r)
                seed = tuple(_key(r.get(k)) for k in seed_keys)
                slot = sides.setdefault(v, {}).setdefault(context, {}).setdefault(own, {})
                slot.setdefault(r["attack"], {})[seed] = r  # type: ignore[index]
        for context, base_settings in sides.get(base, {}).items():
            for (b_own, b_runs), (o_own, o_runs) in itertools.product(
                base_settings.items(), sides.get(other, {}).get(context, {}).items()
            ):
                label = ", ".join(
                    f"{key_label(c)}={_label(c, x)}" for c, x in zip(shared, context, strict=True)
                )
                for attack in b_runs:
                    if attack not in o_runs:
                        continue
                    for metric in metrics:
                        a = _metric(b_runs[attack], metric)
                        b = _metric(o_runs[attack], metric)
                        if len(a.keys() & b.keys()) < 2:
                            continue
                        names = (_side(factor, base, extra, b_own),
                                 _side(factor, other, extra, o_own))  # fmt: skip
                        c = paired_comparison(a, b, test=test, name=factor, metric=metric,
                                              labels=names)  # fmt: skip
                        cells = {
                            "factor": factor,
                            "attack": attack,
                            "metric": metric,
                            "context": label,
                            "baseline_mean": sum(a[k] for k in a.keys() & b.keys()) / c.n_pairs,
                            "other_mean": sum(b[k] for k in a.keys() & b.keys()) / c.n_pairs,
                        }
                        out.append((cells, c))
    return out


def _metric(runs: Mapping[tuple, Mapping[str, Any]], metric: str) -> dict[tuple, float]:
    return {seed: float(r[metric]) for seed, r in runs.items() if r.get(metric) is not None}


def _side(factor: str, value: str, extra: Sequence[str], own: tuple) -> str:
    parts = [_label(factor, value)]
    parts += [
        f"{key_label(c)}={_label(c, x)}" for c, x in zip(extra, own, strict=True) if x != "null"
    ]
    return " ".join(parts)


def comparison_rows(
    rows: Sequence[Mapping[str, Any]],
    axes: Sequence[str],
    *,
    metrics: Sequence[str] = METRICS,
    test: Test = "t",
    alpha: float = 0.05,
) -> list[dict[str, Any]]:
    """Every paired comparison of a sweep's results, Holm-corrected as one family.

    Args:
        rows: The sweep's result rows (:func:`~lightning_snnpriv.sweeps.table.collect_rows`:
            flat cells, one per point x attack record).
        axes: The swept keys (seed axes are the matching keys).
        metrics: Metric columns to compare.
        test: ``t`` (paired t-test) or ``wilcoxon`` (signed-rank).
        alpha: Family-wise level of the verdicts.

    Returns:
        One dict per comparison with the :data:`COLUMNS` (``difference`` is ``other -
        baseline``; ``verdict`` says whether ``other`` is ``lower`` or ``higher``).

    Example:
        >>> rows = [{"status": "finished", "kind": k, "seed_everything": s, "attack": "loss",
        ...          "auc": 0.6 + 0.01 * s - (0.05 if k == "snn" else 0) + 0.001 * (s % 2)}
        ...         for k in ("ann", "snn") for s in range(5)]
        >>> [(c["baseline"], c["other"], c["verdict"]) for c in comparison_rows(rows, ["seed_everything"])]
        [('ann', 'snn', 'lower')]
    """  # noqa: E501
    finished = [r for r in rows if r.get("status") == "finished" and is_main_target(r)]
    seed_keys = [a for a in axes if is_seed_key(a)]
    if not seed_keys:
        return []
    factors = []
    for f in FACTORS:  # a factor tied to an earlier one (act_bits = weight_bits) adds nothing
        present = [r for r in finished if r.get(f) is not None]
        if len({_key(r[f]) for r in present}) >= 2 and not any(
            _tied(present, g, f) for g in factors
        ):
            factors.append(f)
    descriptive: list[str] = []  # what tells settings apart: once each, constants left out
    for c in [a for a in axes if not is_seed_key(a)] + [*FACTORS, "data", "num_steps"]:
        varies = len({_key(r.get(c)) for r in finished}) > 1
        if varies and c not in _NOT_CONTEXT and not any(_tied(finished, d, c) for d in descriptive):
            descriptive.append(c)
    found = []
    for f in factors:
        found += _factor_comparisons(finished, f, descriptive, seed_keys, metrics, test)
    if not found:
        return []
    decided = decide([c for _, c in found], alpha)
    return [
        {
            **cells,
            "baseline": c.baseline,
            "other": c.other,
            "n_pairs": c.n_pairs,
            "unmatched": c.unmatched,
            "difference": c.difference.mean,
            "ci_low": c.difference.low,
            "ci_high": c.difference.high,
            "test": c.test,
            "p_value": c.p_value,
            "p_holm": c.p_adjusted,
            "verdict": c.verdict,
        }
        for (cells, _), c in zip(found, decided, strict=True)
    ]


def markdown_comparisons(comparisons: Sequence[Mapping[str, Any]], alpha: float = 0.05) -> str:
    """The comparisons as a Markdown table (differences with their 95% interval)."""
    if not comparisons:
        return (
            "(no paired comparison: the sweep needs >= 2 values of kind, bits or surrogate, "
            "each with >= 2 seeds on both sides)\n"
        )
    head = ["factor", "context", "baseline", "other", "attack", "metric", "pairs",
            "difference [95% CI]", "p", "p (Holm)", "verdict"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in comparisons:
        cells = [
            c["factor"], c["context"] or "-", c["baseline"], c["other"], c["attack"],
            c["metric"], str(c["n_pairs"]),
            f"{c['difference']:+.4f} [{c['ci_low']:+.4f}, {c['ci_high']:+.4f}]",
            f"{c['p_value']:.3g}", f"{c['p_holm']:.3g}", c["verdict"],
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    note = (
        f"\n`difference` is other - baseline (mean over matched seeds); `verdict` compares "
        f"other with baseline at family-wise level {alpha:g} (Holm over the whole table).\n"
    )
    return "\n".join(lines) + "\n" + note
