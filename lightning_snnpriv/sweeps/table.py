"""The tables of a sweep report: one row per point x attack, the summary over seeds."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning_snnpriv.reports.labels import metric_label, tpr_label
from lightning_snnpriv.runs.files import write_text
from lightning_snnpriv.sweeps.axes import cell_label
from lightning_snnpriv.sweeps.curves import is_main_target
from lightning_snnpriv.sweeps.layout import SweepDir
from lightning_snnpriv.sweeps.spec import format_value, is_seed_key, key_label
from lightning_snnpriv.sweeps.statistics import Interval, chance_floor, mean_interval

#: Settings copied from the run's results into the table when present.
SETTING_COLUMNS = (
    "kind", "data", "data.scheme", "model", "weight_bits", "act_bits", "surrogate", "num_steps"
)  # fmt: skip
#: Record keys that are not table cells (nested settings, curves, free-form extras).
NESTED_KEYS = frozenset({"settings", "attack_settings", "info", "fpr", "tpr"})
#: Metrics an attack reports in its ``info`` that become table cells (the Shokri attack's mean
#: per-class AUC, the source study's metric).
INFO_METRICS = ("per_class_auc_mean",)


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
        if key == "info" and isinstance(value, Mapping):
            cells.update({k: value[k] for k in INFO_METRICS if k in value})
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


def collect_rows(sweep: SweepDir, manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per point x attack record; one row per failed or pending point."""
    rows = []
    for point in manifest["points"]:
        tried = sweep.attempts(point["name"])
        run = sweep.finished_run(point["name"])
        base = {"point_id": point["id"], "point": point["name"]}
        base.update({k: format_value(v) for k, v in point["swept"].items()})
        if run is None:
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
        results = run.load_results()
        wall = next(
            (
                a["wall_s"]
                for a in tried
                if a.get("run_dir") and Path(a["run_dir"]).name == run.path.name
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
                    "run_dir": str(run),
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
    """Write rows to a new CSV file (atomically; refuses to overwrite)."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(fieldnames), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in fieldnames})
    return write_text(path, text.getvalue())


def _metric_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    names = ["target_test_acc", "target_train_acc", "auc", *INFO_METRICS]
    names += sorted(
        {k for r in rows for k in r if re.fullmatch(r"tpr_at_fpr_[0-9.e-]+", k)},
        key=lambda k: -float(k.removeprefix("tpr_at_fpr_")),
    )
    names += ["advantage", "epsilon", "epsilon_lower_bound"]
    return [n for n in names if any(n in r for r in rows)]


#: Metrics whose range is not [0, 1] (the others: accuracies, AUC, TPRs).
_RANGES = {"advantage": (-1.0, 1.0)}


def summarize(rows: Sequence[Mapping[str, Any]], axes: Sequence[str]) -> list[dict[str, Any]]:
    """Mean, std (ddof 1) and 95% interval over the seed axes, per setting x attack.

    Uses the finished rows of the main target (model 0). Each metric ``m`` gets ``m_mean``,
    ``m_std``, ``m_ci_low`` and ``m_ci_high``: a Student-t interval of the mean over seeds
    (:func:`~lightning_snnpriv.sweeps.statistics.mean_interval`, cut to the metric's range:
    ``[0, 1]``, ``[-1, 1]`` for the advantage; a bootstrap interval is not
    used: with the usual 3-10 seeds BCa covers less than its level, see
    ``docs/guide/attacks.md``), NaN with one seed. The AUC also gets the chance-floored value a
    Pareto front uses (``auc_front``: below chance counts as chance) and the flags
    ``auc_overlaps_chance`` (the interval reaches 0.5: not shown to leak) and
    ``auc_below_chance`` (the whole interval is below 0.5: a biased attack, not privacy).

    Example:
        >>> rows = [{"status": "finished", "w": "4", "seed_everything": s, "attack": "loss",
        ...          "auc": a, "target_test_acc": 0.9} for s, a in ((0, 0.6), (1, 0.7))]
        >>> out = summarize(rows, ["w", "seed_everything"])
        >>> out[0]["w"], out[0]["n"], round(out[0]["auc_mean"], 3), round(out[0]["auc_std"], 4)
        ('4', 2, 0.65, 0.0707)
        >>> round(out[0]["auc_ci_low"], 3), round(out[0]["auc_ci_high"], 3)
        (0.015, 1.0)
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
            values = [float(r[metric]) for r in members if r.get(metric) is not None]
            nan = Interval(math.nan, math.nan, math.nan, 0, math.nan, "t", 0.95)
            interval = mean_interval(values) if values else nan
            entry[f"{metric}_mean"] = interval.mean
            entry[f"{metric}_std"] = interval.sd
            low, high = _RANGES.get(metric, (0.0, 1.0))  # the t-interval, within the range
            entry[f"{metric}_ci_low"] = max(interval.low, low) if values else math.nan
            entry[f"{metric}_ci_high"] = min(interval.high, high) if values else math.nan
            if metric == "auc":
                point = chance_floor(interval)
                entry["auc_front"] = point.value
                entry["auc_overlaps_chance"] = point.overlaps_chance
                entry["auc_below_chance"] = point.below_chance
        out.append(entry)
    return out


def markdown_summary(summary: Sequence[Mapping[str, Any]], axes: Sequence[str]) -> str:
    """The summary as a Markdown table with ``mean [95% CI]`` cells (``mean`` with one seed)."""
    if not summary:
        return "(no finished points)\n"
    group_keys = [a for a in axes if not is_seed_key(a)] + ["attack", "n"]
    metrics = [k.removesuffix("_mean") for k in summary[0] if k.endswith("_mean")]
    head = [key_label(k) for k in group_keys] + [metric_label(m) for m in metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for entry in summary:
        cells = [cell_label(k, entry[k]) if k in axes else str(entry[k]) for k in group_keys]
        for m in metrics:
            mean, low, high = entry[f"{m}_mean"], entry[f"{m}_ci_low"], entry[f"{m}_ci_high"]
            cells.append(f"{mean:.4f}" + ("" if math.isnan(low) else f" [{low:.4f}, {high:.4f}]"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


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
        *(tpr_label(float(k[11:])) for k in fprs),
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
