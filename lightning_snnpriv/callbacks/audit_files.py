"""An audit's files in its run directory: the figures rendered once, the report page, the results.

A fit's audit (:class:`~lightning_snnpriv.callbacks.mia.MembershipInferenceCallback`), an
audit finished from saved signals (``fit --ckpt_path`` after a kill) and an ``attack`` re-run
write the same set of files the same way; the PNG bytes are returned for the loggers
(:func:`~lightning_snnpriv.reports.tensorboard.log_audit`), so no figure is drawn twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning_snnpriv.attacks.audit import AuditResult
from lightning_snnpriv.reports.figures import audit_figures, close_all
from lightning_snnpriv.reports.html import figure_pngs, run_report
from lightning_snnpriv.runs import RunDir


def write_audit_files(
    run: RunDir,
    result: AuditResult,
    title: str,
    results: Mapping[str, Any] | None = None,
    suffix: str = "",
) -> tuple[Path, dict[str, bytes]]:
    """Render the audit's figures, write its results, scores, PNGs and HTML page into ``run``.

    Args:
        run: The run directory.
        result: The audit.
        title: The report page's title (the run, and what wrote it).
        results: The results file's contents (default: ``result.results``).
        suffix: The files' name suffix (``.1`` for the first ``attack`` re-run).

    Returns:
        The results file written and the figures as PNG bytes (tag -> bytes).
    """
    figures = audit_figures(result)
    try:
        pngs = figure_pngs(figures)
    finally:
        close_all(figures)
    report = run_report(result, pngs, title)
    scores = result.score_tensors()
    path = run.write_audit(result.results if results is None else results, scores, pngs,
                           suffix, report)  # fmt: skip
    return path, pngs
