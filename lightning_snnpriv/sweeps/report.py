"""Reports of a sweep: results table, summary over seeds, figures and a TensorBoard summary run.

``python -m lightning_snnpriv report --sweep logs/sweeps/<name>`` reads the sweep's manifest and
each point's ``mia_results.json``; it never runs a fit. Every report is a new directory
``<sweep dir>/report_<N>/`` (N counts up; an existing report is never overwritten) holding
``results.csv``, ``summary.csv``, ``summary.md``, ``figures/*.png``, ``curves/`` (ROC curves
re-scored from saved signals when the results lack them) and the TensorBoard event file of the
summary run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning_snnpriv.reports.figures import roc_figure
from lightning_snnpriv.runs import RunDir
from lightning_snnpriv.runs.files import save_figure, write_text
from lightning_snnpriv.sweeps.axes import (
    axis_positions,
    is_numeric_axis,
    series_label,
    tied_axes,
)
from lightning_snnpriv.sweeps.curves import run_curves
from lightning_snnpriv.sweeps.figures import metrics_vs_axis_figure, tradeoff_figure
from lightning_snnpriv.sweeps.layout import SweepDir
from lightning_snnpriv.sweeps.spec import format_value, is_seed_key, key_label, value_label
from lightning_snnpriv.sweeps.table import (
    SETTING_COLUMNS,
    collect_rows,
    columns,
    markdown_summary,
    results_table,
    summarize,
    write_csv,
)

#: Resolution of the report's PNG figures.
FIGURE_DPI = 110


class _Figures:
    """Saves each figure as a PNG and adds it to the TensorBoard summary run."""

    def __init__(self, directory: Path, writer: Any) -> None:
        self.directory, self.writer, self.saved = directory, writer, []

    def __call__(self, fig: Any, name: str) -> None:
        import matplotlib.pyplot as plt

        save_figure(self.directory / f"{name}.png", fig, dpi=FIGURE_DPI)
        self.writer.add_figure(f"sweep_figures/{name}", fig)
        plt.close(fig)
        self.saved.append(self.directory / f"{name}.png")


def _axis_metrics(summary: Sequence[Mapping[str, Any]], attacks: Sequence[str]) -> list[tuple]:
    """(metric column, panel title, attack or None) for the curves against an axis."""
    metrics: list[tuple] = [("target_test_acc", "test accuracy", None)]
    fprs = [m[: -len("_mean")] for m in summary[0] if re.fullmatch(r"tpr_at_fpr_.*_mean", m)]
    for attack in attacks:
        metrics.append(("auc", f"{attack} AUC", attack))
        metrics += [(m, f"{attack} TPR@{float(m[11:]):.1%} FPR", attack) for m in fprs]
    return metrics


def _curves_against_axis(
    summary: Sequence[Mapping[str, Any]],
    axis: str,
    axis_values: Sequence[Any],
    series_keys: Sequence[str],
    tied: Sequence[str],
    attacks: Sequence[str],
    writer: Any,
    save: _Figures,
) -> dict[str, list]:
    """Figures and TensorBoard scalars of the metrics against one swept axis.

    The swept value is the scalar's step; one series per setting of ``series_keys``.

    Returns:
        The custom-scalars charts (title -> ``["Multiline", [tag regex]]``).
    """
    positions, labels, log2 = axis_positions(axis, axis_values)
    by_label = {value_label(axis, v): format_value(v) for v in axis_values}
    order = [by_label[label] for label in labels]
    charts: dict[str, list] = {}
    panels: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    for metric, title, attack in _axis_metrics(summary, attacks):
        panel: dict[str, tuple[list[float], list[float]]] = {}
        for entry in summary:
            if entry["attack"] != (attack or attacks[0]) or entry.get(axis) is None:
                continue  # accuracy: from one attack's rows; skip points without this axis
            nan = [math.nan] * len(order)
            mean, std = panel.setdefault(series_label(entry, series_keys), (nan, list(nan)))
            i = order.index(entry[axis])
            mean[i], std[i] = entry[f"{metric}_mean"], entry[f"{metric}_std"]
        panels[title] = panel
        tag = f"sweep/{metric if attack is None else f'{attack}/{metric}'}/vs_{key_label(axis)}"
        for series, (mean, _) in panel.items():
            for step, value in zip(positions, mean, strict=True):
                if not math.isnan(value):
                    writer.add_scalar(f"{tag}/{series.replace(', ', ',')}", value, int(step))
        charts[title] = ["Multiline", [re.escape(tag) + "/.*"]]
    xlabel = " = ".join(key_label(k) for k in (axis, *tied))
    legend = ", ".join(key_label(k) for k in series_keys)
    for suffix, chosen in (("", False), ("_tpr", True)):
        shown = {t: p for t, p in panels.items() if ("TPR" in t) == chosen}
        if shown:
            fig = metrics_vs_axis_figure(xlabel, labels, positions, shown, log2, legend)
            save(fig, f"vs_{key_label(axis)}{suffix}")
    return charts


def write_report(sweep_dir: str | Path) -> Path:
    """Write a new report of a sweep from its results; run nothing. Returns its directory."""
    from torch.utils.tensorboard import SummaryWriter

    sweep = SweepDir(Path(sweep_dir).resolve())
    manifest = sweep.load_manifest()
    axes = manifest["axes"]
    rows = collect_rows(sweep, manifest)
    out = sweep.new_report_dir()
    (out / "figures").mkdir()
    first = ["point_id", "point", "status", *axes, *SETTING_COLUMNS, "attack", "target",
             "target_test_acc", "target_train_acc", "auc"]  # fmt: skip
    write_csv(out / "results.csv", rows, columns(rows, first))
    summary = summarize(rows, axes)
    write_csv(out / "summary.csv", summary, columns(summary, []))
    table = markdown_summary(summary, axes)
    write_text(out / "summary.md", f"# Sweep {manifest['name']}: mean ± std over seeds\n\n{table}")

    values: dict[str, list[Any]] = {k: [] for k in axes}  # each axis's values, in sweep order
    for p in manifest["points"]:
        for k, v in p["swept"].items():
            if v not in values[k]:
                values[k].append(v)
    attacks = list(dict.fromkeys(e["attack"] for e in summary))
    group_keys = [a for a in axes if not is_seed_key(a)]
    ties = tied_axes([p["swept"] for p in manifest["points"]], group_keys)
    # label with one key of each tied group (weight_bits = act_bits: weight_bits only)
    shown_keys = [k for i, k in enumerate(group_keys) if not set(ties[k]) & set(group_keys[:i])]
    writer = SummaryWriter(log_dir=str(out))
    save = _Figures(out / "figures", writer)

    for attack in attacks:
        entries = [e for e in summary if e["attack"] == attack]
        fig = tradeoff_figure(
            [series_label(e, shown_keys) for e in entries],
            [e["target_test_acc_mean"] for e in entries],
            [e["auc_mean"] for e in entries],
            [e["target_test_acc_std"] for e in entries],
            [e["auc_std"] for e in entries],
            title=f"{manifest['name']}: {attack} attack (mean ± std over seeds)",
            legend_title=", ".join(key_label(k) for k in shown_keys),
        )
        save(fig, f"tradeoff_{attack}")

    layout: dict[str, dict[str, list]] = {}
    # numeric axes (bits) first: their charts are the privacy-accuracy curves
    for axis in sorted(shown_keys, key=lambda k: not is_numeric_axis(k, values[k])):
        if len(values[axis]) >= 2 and summary:
            series_keys = [k for k in shown_keys if k != axis and k not in ties[axis]]
            layout[f"vs {key_label(axis)}"] = _curves_against_axis(
                summary, axis, values[axis], series_keys, ties[axis], attacks, writer, save
            )

    legend_keys = [*shown_keys, *(a for a in axes if is_seed_key(a))]
    curves: dict[str, dict[str, tuple]] = {}
    runs = {r["run_dir"]: r for r in rows if r["status"] == "finished"}
    for run_dir, row in runs.items():
        curves[series_label(row, legend_keys)] = run_curves(RunDir(run_dir), out / "curves")
    for attack in attacks:
        lines = {p: c[attack] for p, c in curves.items() if attack in c}
        fig = roc_figure(lines, title=f"{manifest['name']}: {attack} attack")
        fig.set_size_inches(6, 6)
        fig.axes[0].legend(fontsize="x-small", loc="lower right",
                           title=", ".join(key_label(k) for k in legend_keys),
                           title_fontsize="x-small")  # fmt: skip
        save(fig, f"roc_{attack}")

    if layout:
        writer.add_custom_scalars(layout)
    writer.add_text("sweep/summary", table)
    steps = "\n".join(
        f"- {key_label(k)}: "
        + ", ".join(
            f"{lab} → step {pos}"
            for pos, lab in zip(*axis_positions(k, values[k])[:2], strict=True)
        )
        for k in shown_keys
    )
    writer.add_text("sweep/axes", f"Swept values and their TensorBoard steps:\n\n{steps}")
    from lightning_snnpriv.sweeps.claim_report import write_findings  # a study's claims

    write_findings(out, rows, manifest, writer)  # findings.md, findings.csv, text tab
    writer.close()

    failed = [r for r in rows if r["status"] != "finished"]
    print(results_table(rows, axes))
    print(f"\nsummary over seeds:\n{table}")
    print(
        f"report: {out} (results.csv, summary.csv, summary.md, {len(save.saved)} figures, "
        f"TensorBoard summary run); {len(failed)} point(s) not finished"
    )
    return out


