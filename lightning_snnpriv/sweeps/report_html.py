"""The HTML page of a sweep report, and where to look at the report in TensorBoard.

``report_<N>/report.html`` holds, in one self-contained file: the findings and comparisons
when the report folder has them (``findings.md``, ``comparisons.csv``), the summary over seeds,
every figure of the report, one row per point x attack, the sweep's definition and the
TensorBoard command. Built from the blocks of :mod:`lightning_snnpriv.reports.html`.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from lightning_snnpriv.reports.html import Image, Section, Table, Text, cell, page
from lightning_snnpriv.reports.labels import metric_label
from lightning_snnpriv.sweeps.axes import cell_label
from lightning_snnpriv.sweeps.spec import key_label

#: Files another step of the report may leave in its folder; shown first when present.
FINDINGS_FILE = "findings.md"
COMPARISONS_FILE = "comparisons.csv"
#: TensorBoard's default address.
TENSORBOARD_URL = "http://localhost:6006"


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute."""
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)


def tensorboard_hint(sweep_dir: Path, report_dir: Path, series_dir: str) -> tuple[str, str]:
    """The command that serves a sweep in TensorBoard and the link to this report's charts.

    The link opens Custom Scalars filtered to this report's series runs (``report_<N>/<series
    dir>/...``), so another report of the same sweep does not show in its charts, with no
    smoothing (a sweep's curves have a few points each).

    Example:
        >>> tensorboard_hint(Path("/x/demo"), Path("/x/demo/report_1"), "series")
        ('tensorboard --logdir /x/demo', 'http://localhost:6006/#custom_scalars&regexInput=%5Ereport_1%2Fseries%2F&_smoothingWeight=0')
    """
    runs = quote(f"^{report_dir.relative_to(sweep_dir).as_posix()}/{series_dir}/", safe="")
    return (
        f"tensorboard --logdir {shown_path(sweep_dir)}",
        f"{TENSORBOARD_URL}/#custom_scalars&regexInput={runs}&_smoothingWeight=0",
    )


def number(text: str) -> str:
    """A CSV cell as a reader wants it: tiny decimals (p-values) to 2 significant figures.

    Other decimals as :func:`~lightning_snnpriv.reports.html.cell` writes them (4 places);
    integers and text as they are.

    Example:
        >>> number("0.00037235598143561257"), number("2.1e-05"), number("5"), number("t")
        ('0.00037', '2.1e-05', '5', 't')
    """
    try:
        value = float(text)
    except ValueError:
        return text
    if text.lstrip("-").isdigit() or not math.isfinite(value):
        return text
    return f"{value:.2g}" if 0 < abs(value) < 1e-3 else cell(value)


def _csv_table(path: Path, caption: str) -> Table:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    body = [[number(c) for c in row] for row in rows[1:]]
    return Table([metric_label(c) for c in rows[0]] if rows else [], body, caption)


def _runs_table(rows: Sequence[Mapping[str, Any]], axes: Sequence[str]) -> Table:
    """One row per point x attack: status, swept values, accuracy, AUC, TPRs, time, error."""
    budgets = sorted({k for r in rows for k in r if re.fullmatch(r"tpr_at_fpr_[0-9.e-]+", k)},
                     key=lambda k: -float(k.removeprefix("tpr_at_fpr_")))  # fmt: skip
    metrics = ["target_test_acc", "auc", *budgets]
    columns = ["status", *(key_label(a) for a in axes), "attack",
               *(metric_label(m) for m in metrics), "wall s", "error"]  # fmt: skip
    table = []
    for r in rows:
        error = [line for line in (r.get("error") or "").strip().splitlines()
                 if line.strip() and not line.startswith("usage:")]  # fmt: skip
        table.append([
            r["status"], *(cell_label(a, r[a]) if r.get(a) else "" for a in axes),
            r.get("attack", ""), *(r.get(m) for m in metrics), r.get("wall_s"),
            " ".join(error)[-400:],
        ])  # fmt: skip
    return Table(columns, table, "one row per point x attack (main target)")


def sweep_report_page(
    manifest: Mapping[str, Any],
    report_dir: Path,
    summary_markdown: str,
    rows: Sequence[Mapping[str, Any]],
    figures: Sequence[Path],
    tensorboard: tuple[str, str],
) -> str:
    """The sweep report as one HTML page.

    Args:
        manifest: The sweep's manifest (name, spec, axes, points).
        report_dir: The report's folder (read for ``findings.md`` and ``comparisons.csv``).
        summary_markdown: The summary over seeds, as the report's ``summary.md`` table.
        rows: The results rows (:func:`~lightning_snnpriv.sweeps.table.collect_rows`).
        figures: The report's PNG figures, embedded in this order.
        tensorboard: The command and link of :func:`tensorboard_hint`.
    """
    sections = []
    if (report_dir / FINDINGS_FILE).is_file():
        findings = (report_dir / FINDINGS_FILE).read_text()
        sections.append(Section("Findings", [Text(findings, "markdown")]))
    if (report_dir / COMPARISONS_FILE).is_file():
        table = _csv_table(report_dir / COMPARISONS_FILE, "paired comparisons")
        sections.append(Section("Comparisons", [table]))
    finished = len({r["point"] for r in rows if r["status"] == "finished"})
    sections += [
        Section("Summary over seeds", [Text(summary_markdown, "markdown")]),
        Section("Figures", [Image(p.read_bytes(), p.stem) for p in figures]),
        Section("Runs", [_runs_table(rows, manifest["axes"])]),
        Section(
            "Sweep definition", [Text(yaml.safe_dump(manifest["spec"], sort_keys=False), "pre")]
        ),
        Section("TensorBoard", [Text(f"{tensorboard[0]}\n# then open {tensorboard[1]}", "pre")]),
    ]
    subtitle = f"{len(manifest['points'])} points, {finished} finished; report folder {report_dir}"
    return page(f"Sweep {manifest['name']}: membership-inference report", sections, subtitle)
