"""Self-contained HTML audit reports: one file with the tables, figures and settings.

A report opens in any browser without its directory: figures are embedded as base64 PNG, the
style is inline, nothing is fetched. :func:`page` lays out sections of :class:`Table`,
:class:`Image` and :class:`Text` blocks (Jinja2, autoescaped); :func:`run_report` is the page
of one run's audit. The sweep's page is assembled by :mod:`lightning_snnpriv.sweeps.report_html`
from the same blocks.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jinja2
import markdown as markdown_lib

from lightning_snnpriv.attacks.audit import AuditResult
from lightning_snnpriv.reports.labels import tpr_label

#: Resolution of the audit figures: rendered once as PNG, saved beside the report and embedded.
FIGURE_DPI = 120


@dataclass(frozen=True)
class Table:
    """A table: header cells and rows of cells (numbers are shown with 4 decimals)."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str = ""


@dataclass(frozen=True)
class Image:
    """A PNG figure, embedded in the page."""

    png: bytes
    alt: str

    @property
    def src(self) -> str:
        """The ``data:`` URI of the PNG."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True)
class Text:
    """A paragraph, preformatted text, or Markdown (rendered to HTML)."""

    text: str
    kind: str = "paragraph"  # "paragraph", "pre" or "markdown"

    @property
    def html(self) -> str:
        """The Markdown as HTML (only for ``kind="markdown"``)."""
        return markdown_lib.markdown(self.text, extensions=["tables"])


@dataclass(frozen=True)
class Section:
    """A heading and its blocks."""

    heading: str
    blocks: Sequence[Table | Image | Text] = field(default_factory=list)


_TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1500px;
padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;
margin-top:1.8em}
table{border-collapse:collapse;margin:.8em 0;font-size:.85em;display:block;overflow-x:auto;
max-width:100%}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
caption{caption-side:top;text-align:left;color:#555;padding-bottom:.3em}
figure{display:inline-block;vertical-align:top;margin:.5em 1em .5em 0;max-width:100%}
img{max-width:100%;height:auto;border:1px solid #eee;display:block}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.85em}
.meta{color:#666;font-size:.9em}nav a{margin-right:1em}
</style></head><body>
<h1>{{ title }}</h1>
<p class="meta">{{ subtitle }}</p>
<nav>{% for s in sections %}<a href="#s{{ loop.index }}">{{ s.heading }}</a>{% endfor %}</nav>
{% for s in sections %}<section id="s{{ loop.index }}"><h2>{{ s.heading }}</h2>
{% for b in s.blocks %}{% if b.columns is defined %}<table>
{% if b.caption %}<caption>{{ b.caption }}</caption>{% endif %}
<thead><tr>{% for c in b.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in b.rows %}<tr>{% for c in row %}<td>{{ cell(c) }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
{% elif b.png is defined %}<figure><img src="{{ b.src }}" alt="{{ b.alt }}">
<figcaption class="meta">{{ b.alt }}</figcaption></figure>
{% elif b.kind == "pre" %}<pre>{{ b.text }}</pre>
{% elif b.kind == "markdown" %}{{ b.html | safe }}
{% else %}<p>{{ b.text }}</p>{% endif %}{% endfor %}</section>
{% endfor %}</body></html>
"""
)


def cell(value: Any) -> str:
    """A table cell: floats with 4 decimals, NaN and ``None`` empty.

    Example:
        >>> cell(0.123456), cell(None), cell(float("nan")), cell(142)
        ('0.1235', '', '', '142')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def page(title: str, sections: Sequence[Section], subtitle: str = "") -> str:
    """One self-contained HTML page of ``sections``.

    Example:
        >>> html = page("audit", [Section("results", [Table(["AUC"], [[0.5]])])])
        >>> "<title>audit</title>" in html, "<td>0.5000</td>" in html
        (True, True)
    """
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return _TEMPLATE.render(
        title=title, subtitle=subtitle or f"written {made}", sections=sections, cell=cell
    )


def figure_png(figure: Any, dpi: int = FIGURE_DPI) -> bytes:
    """A matplotlib figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def figure_pngs(figures: Mapping[str, Any]) -> dict[str, bytes]:
    """Each figure (tag -> matplotlib figure) as PNG bytes, rendered once.

    The same bytes go into the run's PNG files and its report: rendering an ROC figure costs a
    good part of a second, and the audit used to render each one twice.
    """
    return {tag: figure_png(figure) for tag, figure in figures.items()}


def settings_table(settings: Mapping[str, Any], caption: str = "") -> Table:
    """Key/value rows of a mapping (nested values as their text).

    Example:
        >>> settings_table({"kind": "snn", "bits": None}).rows
        [['kind', 'snn'], ['bits', 'null']]
    """
    rows = [[str(k), "null" if v is None else str(v)] for k, v in settings.items()]
    return Table(["setting", "value"], rows, caption)


def results_table(result: AuditResult) -> Table:
    """Each attack's summary: AUC with its interval, TPR at each FPR budget, advantage, sizes."""
    records = result.summary()
    budgets = [p["fpr_target"] for p in records[0]["tpr_at_fpr"]] if records else []
    interval = any("auc_ci" in r for r in records)
    columns = ["attack", "AUC", *(["AUC 95% CI"] if interval else [])]
    columns += [tpr_label(f) for f in budgets]
    columns += ["bal. acc", "advantage", "members", "non-members", "time s"]
    rows = []
    for r in records:
        ci = r.get("auc_ci")
        row = [r["attack"], r["auc"], *([f"{ci[0]:.4f} – {ci[1]:.4f}" if ci else ""]
               if interval else [])]  # fmt: skip
        row += [p["tpr"] for p in r["tpr_at_fpr"]]
        row += [r["balanced_accuracy"], r["advantage"], r["n_members"], r["n_nonmembers"]]
        rows.append([*row, result.timing[r["attack"]]])
    what = "pooled over targets" if len(result.targets) > 1 else "target model"
    return Table(columns, rows, f"membership inference ({what}); AUC 0.5 = chance")


def figure_caption(tag: str) -> str:
    """What an audit figure shows, from its tag (:func:`~.figures.audit_figures`).

    Example:
        >>> figure_caption("mia/roc"), figure_caption("mia/roc/loss")
        ('every attack, log-log axes from 1/n (n non-members)', 'loss: each target and pooled')
    """
    if tag == "mia/roc":
        return "every attack, log-log axes from 1/n (n non-members)"
    if tag == "mia/roc_linear":
        return "every attack, linear axes"
    if tag.startswith("mia/roc/"):
        return f"{tag.removeprefix('mia/roc/')}: each target and pooled"
    return tag


def run_report(result: AuditResult, pngs: Mapping[str, bytes], title: str) -> str:
    """The HTML page of one run's audit: results, accuracy, ROC figures, settings.

    Args:
        result: The audit.
        pngs: Figure tag -> PNG bytes (:func:`figure_pngs` of :func:`~.figures.audit_figures`).
        title: The page's title (the run directory).
    """
    records = result.summary()
    accuracy = Table(
        ["model", "train accuracy", "test accuracy"],
        [["target" if len(result.targets) == 1 else "targets (mean)",
          records[0]["target_train_acc"], records[0]["target_test_acc"]]] if records else [],
    )  # fmt: skip
    images = [Image(png, figure_caption(tag)) for tag, png in pngs.items()]
    sections = [
        Section("Results", [results_table(result), accuracy]),
        Section("ROC curves", images),
        Section(
            "Settings",
            [
                settings_table(result.settings or {}, "model and data"),
                settings_table(result.config or {}, "audit"),
            ],
        ),
    ]
    return page(f"Membership-inference audit: {title}", sections)
