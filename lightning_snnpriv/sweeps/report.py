"""Reports of a sweep: results table, summary over seeds, figures and a TensorBoard summary run.

``python -m lightning_snnpriv report --sweep logs/sweeps/<name>`` reads the sweep's manifest and
each point's ``mia_results.json``; it never runs a fit. Every report is a new directory
``<sweep dir>/report_<N>/`` (N counts up; an existing report is never overwritten) holding
``report.html`` (everything below in one self-contained page), ``results.csv``,
``summary.csv``, ``summary.md`` (mean and 95% interval over seeds), ``comparisons.csv`` and
``comparisons.md`` (paired comparisons with verdicts, see
:mod:`lightning_snnpriv.sweeps.comparisons`), ``figures/*.png``, ``curves/`` (ROC curves
re-scored from saved signals when the results lack them), the TensorBoard event file of the
summary run and ``series/<label>/``, one TensorBoard run per series of the charts against an axis
(TensorBoard colours by run: one colour per series).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning_snnpriv.reports.figures import roc_figure
from lightning_snnpriv.reports.labels import tpr_label
from lightning_snnpriv.runs import RunDir
from lightning_snnpriv.runs.files import save_figure, write_text
from lightning_snnpriv.runs.run_dir import REPORT_FILE as REPORT_PAGE  # same name as a run's
from lightning_snnpriv.sweeps.axes import (
    axis_positions,
    cell_label,
    is_numeric_axis,
    series_label,
    tied_axes,
)
from lightning_snnpriv.sweeps.comparisons import COLUMNS, comparison_rows, markdown_comparisons
from lightning_snnpriv.sweeps.curves import mark_front, run_curves
from lightning_snnpriv.sweeps.figures import metrics_vs_axis_figure, tradeoff_figure
from lightning_snnpriv.sweeps.layout import SweepDir
from lightning_snnpriv.sweeps.report_html import shown_path, sweep_report_page, tensorboard_hint
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
#: The report's folder of per-series TensorBoard runs (one colour per series).
SERIES_DIR = "series"


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
        metrics += [(m, f"{attack} {tpr_label(float(m[11:]))}", attack) for m in fprs]
    return metrics


def _spread(entry: Mapping[str, Any], metric: str) -> tuple[float, ...]:
    """``(low, high)`` of the interval over seeds when the summary has it, else ``(std,)``."""
    if entry.get(f"{metric}_ci_low") is not None and entry.get(f"{metric}_ci_high") is not None:
        return float(entry[f"{metric}_ci_low"]), float(entry[f"{metric}_ci_high"])
    return (float(entry[f"{metric}_std"]),)


def _curves_against_axis(
    summary: Sequence[Mapping[str, Any]],
    axis: str,
    axis_values: Sequence[Any],
    series_keys: Sequence[str],
    tied: Sequence[str],
    attacks: Sequence[str],
    series_writer: Callable[[str], Any],
    save: _Figures,
) -> dict[str, list]:
    """Figures and TensorBoard scalars of the metrics against one swept axis.

    The swept value is the scalar's step; one series per setting of ``series_keys``, each in
    its own TensorBoard run (``series_writer(label)``), so that TensorBoard, which colours by
    run, gives every series of a chart its own colour.

    Returns:
        The custom-scalars charts (title -> ``["Multiline", [tag regex]]``).
    """
    positions, labels, log2 = axis_positions(axis, axis_values)
    by_label = {value_label(axis, v): format_value(v) for v in axis_values}
    order = [by_label[label] for label in labels]
    charts: dict[str, list] = {}
    panels: dict[str, dict[str, tuple[list[float], ...]]] = {}
    intervals = False
    runs: dict[str, str] = {}  # series label -> its TensorBoard run (key=value,...)
    for metric, title, attack in _axis_metrics(summary, attacks):
        panel: dict[str, tuple[list[float], ...]] = {}
        ci = False
        for entry in summary:
            if entry["attack"] != (attack or attacks[0]) or entry.get(axis) is None:
                continue  # accuracy: from one attack's rows; skip points without this axis
            spread = _spread(entry, metric)
            ci |= len(spread) == 2
            nan = [math.nan] * len(order)
            label = series_label(entry, series_keys)
            lines = panel.setdefault(label, tuple(list(nan) for _ in range(3)))
            runs[label] = ",".join(f"{key_label(k)}={cell_label(k, entry[k])}"
                                   for k in series_keys if entry.get(k) is not None)  # fmt: skip
            i = order.index(entry[axis])
            lines[0][i] = entry[f"{metric}_mean"]
            for line, value in zip(lines[1:], spread, strict=False):
                line[i] = value
        panels[title] = {k: v if ci else v[:2] for k, v in panel.items()}
        intervals |= ci
        tag = f"sweep/{metric if attack is None else f'{attack}/{metric}'}/vs_{key_label(axis)}"
        for series, (mean, *_) in panel.items():
            for step, value in zip(positions, mean, strict=True):
                if not math.isnan(value):
                    series_writer(runs[series]).add_scalar(tag, value, int(step))
        charts[title] = ["Multiline", [re.escape(tag) + "$"]]
    xlabel = " = ".join(key_label(k) for k in (axis, *tied))
    legend = ", ".join(key_label(k) for k in series_keys)
    categorical = not is_numeric_axis(axis, axis_values)
    spread = "with 95% CI" if intervals else "± std"
    for suffix, chosen in (("", False), ("_tpr", True)):
        shown = {t: p for t, p in panels.items() if ("TPR" in t) == chosen}
        if shown:
            fig = metrics_vs_axis_figure(xlabel, labels, positions, shown, log2, legend,
                                         categorical, spread)  # fmt: skip
            save(fig, f"vs_{key_label(axis)}{suffix}")
    return charts


class _SeriesWriters:
    """One TensorBoard run per series: ``<report>/series/<key=value,...>/`` (``all``: none)."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.writers = directory, {}

    def __call__(self, label: str) -> Any:
        from torch.utils.tensorboard import SummaryWriter

        name = re.sub(r"[^\w.=+-]+", "_", label.replace(", ", ",")).strip("_") or "all"
        if name not in self.writers:
            self.writers[name] = SummaryWriter(log_dir=str(self.directory / name))
        return self.writers[name]

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


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
    mark_front(summary)
    write_csv(out / "summary.csv", summary, columns(summary, []))
    table = markdown_summary(summary, axes)
    title = f"# Sweep {manifest['name']}: mean [95% t-interval] over seeds"
    write_text(out / "summary.md", f"{title}\n\n{table}")
    compared = comparison_rows(rows, axes)
    write_csv(out / "comparisons.csv", compared, COLUMNS)
    verdicts = markdown_comparisons(compared)
    write_text(
        out / "comparisons.md", f"# Sweep {manifest['name']}: paired comparisons\n\n{verdicts}"
    )

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
    series_writers = _SeriesWriters(out / SERIES_DIR)
    save = _Figures(out / "figures", writer)

    for attack in attacks:
        entries = [e for e in summary if e["attack"] == attack]
        fig = tradeoff_figure(
            [series_label(e, shown_keys) for e in entries],
            [e["target_test_acc_mean"] for e in entries],
            [e["auc_front"] for e in entries],  # below chance counts as chance
            [e["target_test_acc_std"] for e in entries],
            [_spread(e, "auc") if len(_spread(e, "auc")) == 2 else e["auc_std"] for e in entries],
            title=f"{manifest['name']}: {attack} attack (mean"
            + (" with 95% CI" if "auc_ci_low" in entries[0] else " ± std")
            + " over seeds)",
            legend_title=", ".join(key_label(k) for k in shown_keys),
        )
        save(fig, f"tradeoff_{attack}")

    layout: dict[str, dict[str, list]] = {}
    # numeric axes (bits) first: their charts are the privacy-accuracy curves
    for axis in sorted(shown_keys, key=lambda k: not is_numeric_axis(k, values[k])):
        if len(values[axis]) >= 2 and summary:
            series_keys = [k for k in shown_keys if k != axis and k not in ties[axis]]
            layout[f"vs {key_label(axis)}"] = _curves_against_axis(
                summary, axis, values[axis], series_keys, ties[axis], attacks, series_writers, save
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
    series_writers.close()

    hint = tensorboard_hint(sweep.path, out, SERIES_DIR)
    html = sweep_report_page(manifest, out, table, rows, save.saved, hint)
    write_text(out / REPORT_PAGE, html)
    failed = [r for r in rows if r["status"] != "finished"]
    print(results_table(rows, axes))
    print(f"\nsummary over seeds:\n{table}")
    print(f"paired comparisons:\n{verdicts}")
    print(
        f"report: {shown_path(out)} ({REPORT_PAGE}, results.csv, summary.csv, summary.md, "
        f"comparisons.csv, comparisons.md, {len(save.saved)} figures, TensorBoard summary run); "
        f"{len(failed)} point(s) not finished\nTensorBoard: {hint[0]}\n"
        f"  this report's charts: {hint[1]}"
    )
    return out
