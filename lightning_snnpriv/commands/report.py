"""Write a new report of a sweep from its saved results (runs nothing).

``python -m lightning_snnpriv report --sweep logs/sweeps/<name>`` reads the sweep's manifest and
each point's results and writes ``<sweep dir>/report_<N>/`` with the next free ``N``: tables,
the summary over seeds, figures and a TensorBoard summary run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from jsonargparse import ArgumentParser

from lightning_snnpriv.sweeps.report import write_report

USAGE = "--sweep SWEEP_DIR"


def add_arguments(parser: ArgumentParser) -> None:
    """The sweep directory."""
    parser.add_argument(
        "--sweep", type=str, required=True, help="The sweep directory (logs/sweeps/<name>)."
    )


def run(parser: ArgumentParser, argv: Sequence[str]) -> None:
    """Write the report."""
    write_report(Path(parser.parse_args(list(argv)).sweep))
