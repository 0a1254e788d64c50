"""MkDocs hook: performance tables generated from ``benchmarks/results/*.json`` at build time.

A page asks for a table with a marker line ``<!-- benchmark: NAME.json [NAME2.json ...] -->``
and gets the rows of those result files as one Markdown table (the columns in the order the
benchmark wrote them), followed by where and when they were measured. The numbers are never
copied into a page by hand, so a re-run benchmark updates the docs on the next build; a marker
naming a missing file fails the build.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # the benchmarks are not installed: import them from the checkout

from benchmarks.common import RESULTS, table  # noqa: E402

MARKER = re.compile(r"^<!-- benchmark: (?P<files>[\w .,-]+?) -->$", re.MULTILINE)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """Every key of the rows, in the order of first appearance, but list-valued ones.

    A list in a row is raw data (e.g. one value per seed, summarised in the column beside it):
    it stays in the JSON file and is not a table cell.
    """
    lists = {key for row in rows for key, value in row.items() if isinstance(value, list)}
    return [key for key in dict.fromkeys(k for row in rows for k in row) if key not in lists]


def _measured(name: str, result: dict[str, Any]) -> str:
    """One line: the file, date, CPUs (model where recorded), torch, threads and load."""
    info = result.get("machine", {})
    cpu = result.get("cpu_model") or info.get("cpu_model")
    cpus = f"{info.get('cpus', '?')} CPUs" + (f" ({cpu})" if cpu else "")
    return (
        f"`benchmarks/results/{name}`: {info.get('date_utc', '?')} UTC, {cpus}, torch "
        f"{info.get('torch', '?')}, {info.get('torch_threads', '?')} torch thread(s), "
        f"1-minute load {info.get('load_average_1min', float('nan')):.1f}"
        + (f", allocator {info['allocator']}" if "allocator" in info else "")
    )


def benchmark_table(names: list[str], results: Path = RESULTS) -> str:
    """The Markdown table of the rows of the result files ``names``, and their provenance.

    Raises:
        FileNotFoundError: A result file that does not exist (the build fails).
    """
    loaded = {name: json.loads((results / name).read_text()) for name in names}
    rows = [row for result in loaded.values() for row in result["rows"]]
    notes = [f"{name}: {r['note']}" for name, r in loaded.items() if r.get("note")]
    lines = [table(rows, _columns(rows)), "", "Measured: " + "; ".join(
        _measured(name, result) for name, result in loaded.items()
    ) + "."]  # fmt: skip
    if notes:
        lines += ["", "Notes: " + "; ".join(notes) + "."]
    return "\n".join(lines)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace every benchmark marker of a page with its generated table."""
    return MARKER.sub(lambda m: benchmark_table(m["files"].split()), markdown)
