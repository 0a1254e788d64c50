"""Reports of a sweep: results table, summary over seeds, figures and a TensorBoard summary run.

``python -m lightning_snnpriv report --sweep logs/sweeps/<name>`` reads the sweep's manifest and
each point's ``mia_results.json``; it never runs a fit. Every report is a new directory
``<sweep dir>/report_<N>/`` (N counts up; an existing report is never overwritten) holding
``results.csv``, ``summary.csv``, ``summary.md``, ``figures/*.png``, ``curves/`` (ROC curves
re-scored from saved signals when the results lack them) and the TensorBoard event file of the
summary run.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from lightning_snnpriv.errors import UsageError
from lightning_snnpriv.io import write_json
from lightning_snnpriv.sweep import (
    MANIFEST_FILE,
    RESULTS_FILE,
    RUNS_DIR,
    attempts,
    finished_run,
    format_value,
    is_seed_key,
    key_label,
    value_label,
)

REPORT_PREFIX = "report_"
#: Full precision on a bit-width axis (TensorBoard step and figure position).
FULL_PRECISION_BITS = 32
#: Settings copied from the run's results into the table when present.
SETTING_COLUMNS = ("kind", "data", "model", "weight_bits", "act_bits", "surrogate", "num_steps")
#: Record keys that are not table cells (nested settings, curves, free-form extras).
NESTED_KEYS = frozenset({"settings", "attack_settings", "info", "fpr", "tpr"})


# ----------------------------------------------------------------------------- rows


def flatten_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """One results record as flat table cells; extra keys are kept, nested ones flattened.

    ``tpr_at_fpr`` entries become ``tpr_at_fpr_<target>`` (and ``..._<key>`` for any other
    key of an entry, e.g. a CI); a two-number list ``[low, high]`` becomes ``<key>_low`` and
    ``<key>_high``; a mapping ``<key>_<subkey>``.

    Example:
        >>> flatten_record({"attack": "loss", "auc": 0.6, "auc_ci": [0.55, 0.65],
        ...                 "tpr_at_fpr": [{"fpr_target": 0.01, "tpr": 0.02, "fpr": 0.009}],
        ...                 "settings": {"kind": "snn"}})
        {'attack': 'loss', 'auc': 0.6, 'auc_ci_low': 0.55, 'auc_ci_high': 0.65, 'tpr_at_fpr_0.01': 0.02, 'tpr_at_fpr_0.01_fpr': 0.009}
    """  # noqa: E501
    cells: dict[str, Any] = {}
    for key, value in record.items():
        if key in NESTED_KEYS:
            continue
        if key == "tpr_at_fpr" and isinstance(value, list):
            for entry in value:
                name = f"tpr_at_fpr_{entry['fpr_target']:g}"
                cells[name] = entry.get("tpr")
                for sub, sub_value in entry.items():
                    if sub not in ("fpr_target", "tpr"):
                        cells.update(_flat(f"{name}_{sub}", sub_value))
        else:
            cells.update(_flat(key, value))
    return cells


def _flat(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for sub, sub_value in value.items():
            out.update(_flat(f"{key}_{sub}", sub_value))
        return out
    if isinstance(value, list | tuple):
        if len(value) == 2 and all(isinstance(v, int | float) for v in value):
            return {f"{key}_low": value[0], f"{key}_high": value[1]}
        return {key: json.dumps(value)}
    return {key: value}


def collect_rows(sweep_dir: Path, manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per point x attack record; one row per failed or pending point."""
    rows = []
    for point in manifest["points"]:
        directory = Path(sweep_dir) / RUNS_DIR / point["name"]
        tried = attempts(directory)
        run_dir = finished_run(directory)
        base = {"point_id": point["id"], "point": point["name"]}
        base.update({k: format_value(v) for k, v in point["swept"].items()})
        if run_dir is None:
            last = tried[-1] if tried else None
            status = "failed" if last and last["status"] == "failed" else "pending"
            rows.append(
                {
                    **base,
                    "status": status,
                    "wall_s": last["wall_s"] if last else None,
                    "run_dir": last["run_dir"] if last else None,
                    "error": last["error"] if last else "",
                }
            )
            continue
        results = json.loads((run_dir / RESULTS_FILE).read_text())
        wall = next(
            (
                a["wall_s"]
                for a in tried
                if a.get("run_dir") and Path(a["run_dir"]).name == run_dir.name
            ),
            None,
        )
        settings = results.get("settings", {})
        context = {k: _cell(settings[k]) for k in SETTING_COLUMNS if k in settings}
        for record in results.get("records", []):
            rows.append(
                {
                    **base,
                    "status": "finished",
                    **context,
                    **flatten_record(record),
                    "wall_s": wall,
                    "run_dir": str(run_dir),
                    "error": "",
                }
            )
    return rows


def _cell(value: Any) -> Any:
    return format_value(value) if value is None or isinstance(value, list | dict) else value


def columns(rows: Sequence[Mapping[str, Any]], first: Sequence[str]) -> list[str]:
    """All keys of the rows: ``first`` (those present), then others in first-seen order.

    ``wall_s``, ``run_dir`` and ``error`` go last.

    Example:
        >>> columns([{"b": 1, "error": ""}, {"a": 2, "c": 3}], first=["a"])
        ['a', 'b', 'c', 'error']
    """
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    last = [k for k in ("wall_s", "run_dir", "error") if k in seen]
    head = [k for k in first if k in seen]
    return head + [k for k in seen if k not in head and k not in last] + last


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]], fieldnames: Sequence[str]) -> Path:
    """Write rows to a new CSV file (refuses to overwrite)."""
    with open(path, "x", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(fieldnames), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in fieldnames})
    return path


# ----------------------------------------------------------------------------- summary


def _metric_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    names = ["target_test_acc", "target_train_acc", "auc"]
    names += sorted(
        {k for r in rows for k in r if re.fullmatch(r"tpr_at_fpr_[0-9.e-]+", k)},
        key=lambda k: -float(k.removeprefix("tpr_at_fpr_")),
    )
    names += ["advantage"]
    return [n for n in names if any(n in r for r in rows)]


def is_main_target(row: Mapping[str, Any]) -> bool:
    """Rows of the run's main target (model 0); rows without ``target`` count as model 0."""
    return row.get("target", 0) in (0, "0", None)


def summarize(rows: Sequence[Mapping[str, Any]], axes: Sequence[str]) -> list[dict[str, Any]]:
    """Mean and sample std (ddof 1) over the seed axes, per setting of the other axes x attack.

    Uses the finished rows of the main target (model 0).

    Example:
        >>> rows = [{"status": "finished", "w": "4", "seed_everything": s, "attack": "loss",
        ...          "auc": a, "target_test_acc": 0.9} for s, a in ((0, 0.6), (1, 0.7))]
        >>> out = summarize(rows, ["w", "seed_everything"])
        >>> out[0]["w"], out[0]["n"], round(out[0]["auc_mean"], 3), round(out[0]["auc_std"], 4)
        ('4', 2, 0.65, 0.0707)
    """
    keep = [r for r in rows if r.get("status") == "finished" and is_main_target(r)]
    group_keys = [a for a in axes if not is_seed_key(a)]
    metrics = _metric_columns(keep)
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in keep:
        groups.setdefault((*(row.get(k) for k in group_keys), row["attack"]), []).append(row)
    out = []
    for key, members in groups.items():
        entry: dict[str, Any] = dict(zip([*group_keys, "attack"], key, strict=True))
        entry["n"] = len(members)
        for metric in metrics:
            values = np.array([float(r[metric]) for r in members if r.get(metric) is not None])
            entry[f"{metric}_mean"] = float(values.mean()) if len(values) else math.nan
            entry[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        out.append(entry)
    return out


def markdown_summary(summary: Sequence[Mapping[str, Any]], axes: Sequence[str]) -> str:
    """The summary as a Markdown table with ``mean ± std`` cells."""
    if not summary:
        return "(no finished points)\n"
    group_keys = [a for a in axes if not is_seed_key(a)] + ["attack", "n"]
    metrics = [k.removesuffix("_mean") for k in summary[0] if k.endswith("_mean")]
    head = [key_label(k) for k in group_keys] + metrics
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for entry in summary:
        cells = [cell_label(k, entry[k]) if k in axes else str(entry[k]) for k in group_keys]
        for m in metrics:
            mean, std = entry[f"{m}_mean"], entry[f"{m}_std"]
            cells.append(f"{mean:.4f}" + ("" if math.isnan(std) else f" ± {std:.4f}"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- curves


def run_curves(run_dir: Path, cache_dir: Path) -> dict[str, tuple[list[float], list[float]]]:
    """ROC curves (attack -> (fpr, tpr)) of a run's main target.

    Taken from the results when the records carry ``fpr``/``tpr``; otherwise re-scored with
    the run's own attacks (its ``config.yaml``) on its saved ``signals.pt`` and
    ``membership.npz``, through :func:`lightning_snnpriv.attacks.evaluate`, and cached in
    ``cache_dir``. A re-scored AUC that differs from the recorded one is reported.
    """
    results = json.loads((run_dir / RESULTS_FILE).read_text())
    records = [r for r in results.get("records", []) if is_main_target(r)]
    if records and all("fpr" in r and "tpr" in r for r in records):
        return {r["attack"]: (r["fpr"], r["tpr"]) for r in records}
    cache = cache_dir / f"{run_dir.parent.name}.{run_dir.name}.json"
    if cache.is_file():
        stored = json.loads(cache.read_text())
    else:
        stored = rescore(run_dir)
        write_json(cache, stored)
    for r in records:
        again = stored.get(r["attack"], {}).get("auc")
        if again is not None and abs(again - r["auc"]) > 1e-9:
            print(
                f"note: {run_dir}: attack {r['attack']!r} re-scored from the saved signals has "
                f"AUC {again:.6f}, the run recorded {r['auc']:.6f}; the ROC figure shows the "
                "re-scored curve."
            )
    return {name: (c["fpr"], c["tpr"]) for name, c in stored.items()}


def rescore(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Re-run a finished run's attacks on its saved signals; ROC curve and AUC per attack."""
    import torch

    from lightning_snnpriv.attacks import AttackInputs, evaluate
    from lightning_snnpriv.run_dir import CONFIG_FILE, PLAN_FILE, SIGNALS_FILE, load_run

    missing = [f for f in (CONFIG_FILE, SIGNALS_FILE, PLAN_FILE) if not (run_dir / f).is_file()]
    if missing:
        raise UsageError(
            f"{run_dir}: cannot draw its ROC curve: the results have no curve points and "
            f"{missing} are missing (run fits with mia.save_signals: true)."
        )
    run = load_run(run_dir)  # checked: safe loading, shapes agree with the plan, finite
    mia = run.config.get("mia") or {}
    keep, audit = torch.from_numpy(run.plan.keep), torch.from_numpy(run.plan.audit)
    inputs = AttackInputs(logits=run.outputs, labels=run.labels, keep=keep, audit=audit)
    if mia.get("attacks"):
        attacks = [_instantiate(spec) for spec in mia["attacks"]]
    else:
        from lightning_snnpriv.callbacks import MembershipInferenceCallback

        attacks = MembershipInferenceCallback().attacks
    audited = audit[0]
    out = {}
    for attack in attacks:
        with warnings.catch_warnings():  # the run warned about unmeasurable FPR targets already
            warnings.simplefilter("ignore", UserWarning)
            metrics = evaluate(
                attack.score(inputs, target=0).scores[audited],
                keep[0][audited],
                mia.get("fpr_targets") or (0.01, 0.001),
            )
        out[attack.name] = {"fpr": metrics.fpr, "tpr": metrics.tpr, "auc": metrics.auc}
    return out


def _instantiate(spec: Mapping[str, Any]) -> Any:
    module, _, name = spec["class_path"].rpartition(".")
    return getattr(importlib.import_module(module), name)(**(spec.get("init_args") or {}))


# ----------------------------------------------------------------------------- axes


def is_numeric_axis(key: str, values: Sequence[Any]) -> bool:
    """Integer values (``null`` too on a ``*bits`` axis: full precision).

    Example:
        >>> is_numeric_axis("weight_bits", [None, 4]), is_numeric_axis("surrogate", ["atan"])
        (True, False)
    """
    bits = key.endswith("bits")
    return all(
        (isinstance(v, int) and not isinstance(v, bool)) or (v is None and bits) for v in values
    )


def axis_positions(key: str, values: Sequence[Any]) -> tuple[list[float], list[str], bool]:
    """Positions, labels and scale of a swept axis's values.

    Integer axes sit at their value (a ``*bits`` axis puts full precision, ``null``, at 32,
    on a log2 scale); other axes at their index, in the sweep's order.

    Example:
        >>> axis_positions("model.init_args.weight_bits", [None, 8, 2])
        ([2, 8, 32], ['2', '8', 'full'], True)
        >>> axis_positions("model.init_args.surrogate", ["atan", "triangular"])
        ([0, 1], ['atan', 'triangular'], False)
    """
    bits = key.endswith("bits")
    if is_numeric_axis(key, values):
        ordered = sorted(values, key=lambda v: FULL_PRECISION_BITS if v is None else v)
        positions = [FULL_PRECISION_BITS if v is None else v for v in ordered]
        return positions, [value_label(key, v) for v in ordered], bits
    return list(range(len(values))), [value_label(key, v) for v in values], False


def tied_axes(points: Sequence[Mapping[str, Any]], axes: Sequence[str]) -> dict[str, list[str]]:
    """For each axis, the other axes that move with it (one-to-one over the points).

    Explicit points such as ``{weight_bits: 4, act_bits: 4}`` tie two keys: plotted against
    one, the other is not a separate series.

    Example:
        >>> pts = [{"w": w, "a": w, "s": s} for w in (2, 4) for s in (0, 1)]
        >>> tied_axes(pts, ["w", "a", "s"])
        {'w': ['a'], 'a': ['w'], 's': []}
    """

    def key(point: Mapping[str, Any], axis: str) -> str:
        return json.dumps(point[axis], sort_keys=True) if axis in point else "<unset>"

    ties: dict[str, list[str]] = {}
    for a in axes:
        ties[a] = []
        for b in axes:
            if a == b:
                continue
            pairs = {(key(p, a), key(p, b)) for p in points}
            if len(pairs) == len({x for x, _ in pairs}) == len({y for _, y in pairs}):
                ties[a].append(b)
    return ties


# ----------------------------------------------------------------------------- report


def load_manifest(sweep_dir: Path) -> dict[str, Any]:
    """The sweep's manifest (raises :class:`UsageError` when ``sweep_dir`` is not a sweep)."""
    path = Path(sweep_dir) / MANIFEST_FILE
    if not path.is_file():
        raise UsageError(
            f"{sweep_dir} is not a sweep directory (no {MANIFEST_FILE}); pass the directory a "
            "`sweep` command created, e.g. logs/sweeps/<name>."
        )
    return json.loads(path.read_text())


def new_report_dir(sweep_dir: Path) -> Path:
    """Create ``report_<N>`` with the next free N."""
    n = 1 + max(
        (
            int(p.name.removeprefix(REPORT_PREFIX))
            for p in Path(sweep_dir).glob(f"{REPORT_PREFIX}*")
            if p.name.removeprefix(REPORT_PREFIX).isdigit()
        ),
        default=-1,
    )
    while True:
        path = Path(sweep_dir) / f"{REPORT_PREFIX}{n}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1


def cell_label(key: str, cell: Any) -> str:
    """A short label of a table cell of a swept key (the value as the CSV holds it).

    Example:
        >>> cell_label("config", "../breast_cancer_snn.yaml"), cell_label("x.weight_bits", "null")
        ('breast_cancer_snn', 'full')
    """
    return value_label(key, yaml.safe_load(cell) if isinstance(cell, str) else cell)


def series_label(entry: Mapping[str, Any], keys: Sequence[str]) -> str:
    """The values of ``keys`` in a summary entry, as short labels (``all`` without keys).

    Example:
        >>> series_label({"config": "a/b_snn.yaml", "w": "4"}, ["config", "w"])
        'b_snn, 4'
    """
    parts = [cell_label(k, entry[k]) for k in keys if entry.get(k) is not None]
    return ", ".join(parts) or "all"


class _Figures:
    """Saves each figure as a PNG and adds it to the TensorBoard summary run."""

    def __init__(self, directory: Path, writer: Any) -> None:
        self.directory, self.writer, self.saved = directory, writer, []

    def __call__(self, fig: Any, name: str) -> None:
        import matplotlib.pyplot as plt

        fig.savefig(self.directory / f"{name}.png", dpi=110)
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
    from lightning_snnpriv.sweep_plots import metrics_vs_axis_figure

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

    from lightning_snnpriv.plots import roc_figure
    from lightning_snnpriv.sweep_plots import tradeoff_figure

    sweep_dir = Path(sweep_dir).resolve()
    manifest = load_manifest(sweep_dir)
    axes = manifest["axes"]
    rows = collect_rows(sweep_dir, manifest)
    out = new_report_dir(sweep_dir)
    (out / "figures").mkdir()
    first = ["point_id", "point", "status", *axes, *SETTING_COLUMNS, "attack", "target",
             "target_test_acc", "target_train_acc", "auc"]  # fmt: skip
    write_csv(out / "results.csv", rows, columns(rows, first))
    summary = summarize(rows, axes)
    write_csv(out / "summary.csv", summary, columns(summary, []))
    table = markdown_summary(summary, axes)
    with open(out / "summary.md", "x") as f:
        f.write(f"# Sweep {manifest['name']}: mean ± std over seeds\n\n{table}")

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
        curves[series_label(row, legend_keys)] = run_curves(Path(run_dir), out / "curves")
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
    writer.close()

    failed = [r for r in rows if r["status"] != "finished"]
    print(results_table(rows, axes))
    print(f"\nsummary over seeds:\n{table}")
    print(
        f"report: {out} (results.csv, summary.csv, summary.md, {len(save.saved)} figures, "
        f"TensorBoard summary run); {len(failed)} point(s) not finished"
    )
    return out


def results_table(rows: Sequence[Mapping[str, Any]], axes: Sequence[str]) -> str:
    """A plain-text table: one line per point x attack (failed points with their error)."""
    fprs = sorted(
        {k for r in rows for k in r if re.fullmatch(r"tpr_at_fpr_[0-9.e-]+", k)},
        key=lambda k: -float(k.removeprefix("tpr_at_fpr_")),
    )
    head = [
        "status",
        *(key_label(a) for a in axes),
        "attack",
        "test_acc",
        "AUC",
        *(f"TPR@{float(k[11:]):.1%}" for k in fprs),
        "wall_s",
    ]
    lines, errors = [head], [""]
    for r in rows:
        cells = [r["status"], *(cell_label(a, r[a]) if r.get(a) else "" for a in axes)]
        if r["status"] != "finished":
            error = (r.get("error") or "").splitlines()
            lines.append(cells)
            errors.append(error[-1] if error else "")
            continue
        lines.append([
            *cells, r["attack"], f"{r['target_test_acc']:.4f}", f"{r['auc']:.4f}",
            *(f"{r[k]:.4f}" if r.get(k) is not None else "" for k in fprs),
            "" if r.get("wall_s") is None else f"{r['wall_s']:.0f}",
        ])  # fmt: skip
        errors.append("")
    widths = [max(len(line[i]) for line in lines if i < len(line)) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=False)).rstrip()
        + (f"  error: {error}" if error else "")
        for line, error in zip(lines, errors, strict=True)
    )


def main(argv: Sequence[str]) -> None:
    """``report --sweep <dir>``: write a new report of a sweep from its saved results."""
    parser = argparse.ArgumentParser(
        prog="python -m lightning_snnpriv report",
        description="Regenerate a sweep's tables and figures from its results (runs nothing); "
        "each report is a new <sweep dir>/report_<N>/.",
    )
    parser.add_argument("--sweep", required=True, help="sweep directory (logs/sweeps/<name>)")
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        if exc.code in (0, None):
            raise
        raise UsageError("report: invalid arguments (see the usage line above).") from None
    write_report(Path(args.sweep))
