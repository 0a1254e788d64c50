"""Paired comparisons of a sweep on synthetic results with known effects; summary intervals.

The rows are shaped as :func:`~lightning_snnpriv.sweeps.table.collect_rows` gives them (one per
point x attack, settings as the runs record them). Each seed has its own offset shared by every
setting (the split-to-split noise a paired comparison removes), each run a small noise of its
own, and some settings a planted difference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lightning_snnpriv.sweeps.comparisons import COLUMNS, comparison_rows, markdown_comparisons
from lightning_snnpriv.sweeps.curves import mark_front
from lightning_snnpriv.sweeps.statistics import holm
from lightning_snnpriv.sweeps.table import markdown_summary, summarize

AXES = ["config", "model.init_args.weight_bits", "seed_everything"]
SEEDS = range(6)


def _rows(effects: dict[tuple[str, str], float], seeds=SEEDS, attacks=("loss", "lira_online")):
    """Rows of an ANN/SNN x full/4-bit sweep; ``effects[(kind, bits)]`` shifts AUC and TPR."""
    rng = np.random.default_rng(0)
    offset = {s: rng.normal(0, 0.05) for s in seeds}  # per-seed split noise, shared
    rows = []
    for kind in ("ann", "snn"):
        for bits in ("null", "4"):
            for s in seeds:
                for attack in attacks:
                    effect = effects.get((kind, bits), 0.0)
                    row = {
                        "status": "finished",
                        "config": f"configs/breast_cancer_{kind}.yaml",
                        "model.init_args.weight_bits": bits,
                        "seed_everything": str(s),
                        "kind": kind,
                        "weight_bits": bits,
                        "act_bits": "null",
                        "attack": attack,
                        "target": 0,
                        "target_test_acc": 0.9 + rng.normal(0, 0.01),
                        "auc": 0.6 + offset[s] + effect + rng.normal(0, 0.005),
                        "tpr_at_fpr_0.01": 0.05 + offset[s] / 5 + effect / 2 + rng.normal(0, 0.002),
                    }
                    if kind == "snn":
                        row["surrogate"] = "fast_sigmoid"
                    rows.append(row)
                    rows.append({**row, "target": "pooled", "auc": 0.99})  # not the main target
    return rows


def _find(table, factor, other, attack="loss", metric=None):
    found = [
        c
        for c in table
        if (c["factor"], c["other"], c["attack"]) == (factor, other, attack)
        and metric in (None, c["metric"])
    ]
    assert found, f"no {factor} {other} {attack} {metric} comparison in {table}"
    return found


def test_planted_differences_get_their_verdicts():
    # the SNN leaks less at full precision, 4 bits makes no difference
    table = comparison_rows(_rows({("snn", "null"): -0.03}), AXES)
    assert set(table[0]) == set(COLUMNS)
    snn_full = [c for c in _find(table, "kind", "snn") if c["context"] == "weight_bits=full"]
    (c,) = [c for c in snn_full if c["metric"] == "auc"]
    assert c["verdict"] == "lower"
    assert c["ci_high"] < 0 < -c["ci_low"]
    assert c["difference"] == pytest.approx(-0.03, abs=0.01)
    assert c["n_pairs"] == 6
    assert c["unmatched"] == 0
    (t,) = [c for c in snn_full if c["metric"] == "tpr_at_fpr_0.01"]
    assert t["verdict"] == "lower"
    # at 4 bits the two kinds leak alike
    (same,) = [
        c for c in _find(table, "kind", "snn", metric="auc") if c["context"] == "weight_bits=4"
    ]
    assert same["verdict"] == "no significant difference"
    # 4 bits vs full: the ANN nothing, the SNN higher (it loses the full-precision drop)
    bits = _find(table, "weight_bits", "4", metric="auc")
    ann_bits = [c for c in bits if "ann" in c["context"]]
    snn_bits = [c for c in bits if "snn" in c["context"]]
    assert [c["verdict"] for c in ann_bits] == ["no significant difference"]
    assert [c["verdict"] for c in snn_bits] == ["higher"]
    assert ann_bits[0]["baseline"] == "full"


def test_no_effect_no_verdict_and_holm_over_the_whole_table():
    table = comparison_rows(_rows({}), AXES)
    # 2 kind contexts + 2 bits contexts, x 2 attacks x 2 metrics
    assert len(table) == 16
    assert {c["verdict"] for c in table} == {"no significant difference"}
    p = [c["p_value"] for c in table]
    assert [c["p_holm"] for c in table] == pytest.approx(holm(p))
    order = np.argsort(p)
    adjusted = np.array([c["p_holm"] for c in table])[order]
    assert (np.diff(adjusted) >= 0).all()
    assert (adjusted >= np.sort(p)).all()


def test_a_small_effect_is_lost_in_the_family_correction():
    # significant alone, not once corrected for the 16 comparisons of the table
    table = comparison_rows(_rows({("snn", "4"): -0.01}), AXES)
    c = next(
        c
        for c in _find(table, "kind", "snn")
        if c["context"] == "weight_bits=4" and c["metric"] == "auc"
    )
    assert c["p_value"] < 0.05 < c["p_holm"]
    assert c["verdict"] == "no significant difference"


def test_pairs_are_matched_by_seed():
    rows = _rows({("snn", "null"): -0.03})
    # seed 5 of the full-precision SNN failed: one pair fewer, counted as unmatched
    rows = [
        r
        for r in rows
        if not (r["kind"] == "snn" and r["weight_bits"] == "null" and r["seed_everything"] == "5")
    ]
    table = comparison_rows(rows, AXES)
    c = next(c for c in _find(table, "kind", "snn", "loss", "auc") if "full" in c["context"])
    assert (c["n_pairs"], c["unmatched"], c["verdict"]) == (5, 1, "lower")
    # without seeds there is nothing to pair
    assert comparison_rows(rows, AXES[:-1]) == []


def test_surrogates_each_against_each_other():
    rows = [r for r in _rows({}) if r["kind"] == "snn" and r["weight_bits"] == "null"]
    rng = np.random.default_rng(1)
    table_rows = []
    for surrogate, effect in (("fast_sigmoid", 0.0), ("atan", 0.04), ("triangular", 0.0)):
        table_rows += [
            {**r, "surrogate": surrogate, "auc": r["auc"] + effect + rng.normal(0, 0.005)}
            for r in rows
        ]
    axes = ["model.init_args.surrogate", "seed_everything"]
    for r in table_rows:
        r["model.init_args.surrogate"] = r["surrogate"]
    table = [c for c in comparison_rows(table_rows, axes) if c["metric"] == "auc"]
    pairs = {(c["baseline"], c["other"]) for c in table}
    assert pairs == {
        ("fast_sigmoid", "atan"),
        ("fast_sigmoid", "triangular"),
        ("atan", "triangular"),
    }
    verdicts = {(c["baseline"], c["other"]): c["verdict"] for c in table if c["attack"] == "loss"}
    assert verdicts[("fast_sigmoid", "atan")] == "higher"
    assert verdicts[("atan", "triangular")] == "lower"
    assert verdicts[("fast_sigmoid", "triangular")] == "no significant difference"


def test_markdown_comparisons():
    table = comparison_rows(_rows({("snn", "null"): -0.03}), AXES)
    text = markdown_comparisons(table)
    assert text.count("\n| kind |") == 8
    assert "| lower |" in text
    assert "Holm" in text
    assert "no paired comparison" in markdown_comparisons([])


def test_summary_intervals_and_the_chance_floor():
    rows = _rows({("snn", "4"): -0.15})  # the SNN at 4 bits: attack AUC below chance
    summary = summarize(rows, AXES)
    mark_front(summary)
    by = {(e["config"], e["model.init_args.weight_bits"], e["attack"]): e for e in summary}
    ann = by["configs/breast_cancer_ann.yaml", "null", "loss"]
    values = [r["auc"] for r in rows if r["kind"] == "ann" and r["weight_bits"] == "null"
              and r["attack"] == "loss" and r["target"] == 0]  # fmt: skip
    half = 2.5706 * np.std(values, ddof=1) / math.sqrt(6)  # t(0.975, 5)
    assert ann["auc_ci_low"] == pytest.approx(np.mean(values) - half, rel=1e-4)
    assert ann["auc_ci_high"] == pytest.approx(np.mean(values) + half, rel=1e-4)
    assert (
        ann["tpr_at_fpr_0.01_ci_low"] < ann["tpr_at_fpr_0.01_mean"] < ann["tpr_at_fpr_0.01_ci_high"]
    )
    assert (ann["auc_front"], ann["auc_overlaps_chance"]) == (ann["auc_mean"], False)
    low = by["configs/breast_cancer_snn.yaml", "4", "loss"]
    assert low["auc_mean"] < 0.5
    assert low["auc_ci_high"] < 0.5
    assert (low["auc_front"], low["auc_overlaps_chance"], low["auc_below_chance"]) == (
        0.5,
        True,
        True,
    )
    # as accurate as the others and no leakage: on the front, and it dominates the rest
    assert low["pareto_front"]
    assert "[" in markdown_summary(summary, AXES)
