"""The findings part of a sweep report: ``findings.md`` / ``findings.csv`` and their text tab.

Called by :func:`~lightning_snnpriv.sweeps.report.write_report` for a sweep whose config
declares ``claims:``. The claims are read from the sweep config file when it still exists (a
claim changes no point, so claims can be added or edited after the runs), else from the
manifest the sweep wrote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning_snnpriv.errors import ConfigError
from lightning_snnpriv.runs.files import save_figure, write_text
from lightning_snnpriv.sweeps.claims import Claim, parse_claims
from lightning_snnpriv.sweeps.findings import Finding, finding_rows, findings, markdown_findings
from lightning_snnpriv.sweeps.table import columns, write_csv


def sweep_claims(manifest: Mapping[str, Any]) -> tuple[Claim, ...]:
    """The claims of a sweep: from its config file if it is still there, else its manifest."""
    import yaml

    spec = manifest.get("spec", {})
    path = Path(spec.get("path", "manifest.json"))
    if path.is_file():
        try:
            raw = yaml.safe_load(path.read_text()) or {}
            return parse_claims(raw.get("claims"), path)
        except (ConfigError, yaml.YAMLError, AttributeError) as err:
            print(f"note: the claims of {path} do not parse ({err}); using the manifest's.")
    return parse_claims(spec.get("claims"), path)


def _figures(out: Path, rows: Sequence[Mapping[str, Any]], claims: Sequence[Claim], writer: Any):
    """``figures/claim_<i>_<attack>.png`` (and the TensorBoard images) of every claim."""
    import matplotlib.pyplot as plt

    from lightning_snnpriv.sweeps.claim_figures import claim_figures

    (out / "figures").mkdir(exist_ok=True)
    for i, claim in enumerate(claims):
        for attack, fig in claim_figures(rows, claim).items():
            save_figure(out / "figures" / f"claim_{i}_{attack}.png", fig, dpi=110)
            writer.add_figure(f"sweep_findings/claim_{i}_{attack}", fig)
            plt.close(fig)


def write_findings(
    out: Path, rows: Sequence[Mapping[str, Any]], manifest: Mapping[str, Any], writer: Any
) -> list[Finding]:
    """Decide the sweep's claims: ``findings.md``, ``findings.csv``, text tab and figures.

    One figure per claim and attack (:mod:`~lightning_snnpriv.sweeps.claim_figures`).

    Returns:
        The findings (empty, and nothing written, when the sweep declares no claims).
    """
    claims = sweep_claims(manifest)
    if not claims:
        return []
    found = findings(rows, claims, manifest.get("seed_axes", []))
    text = markdown_findings(found, claims, f"sweep {manifest['name']}")
    write_text(out / "findings.md", text)
    table = finding_rows(found)
    write_csv(out / "findings.csv", table, columns(table, []))
    writer.add_text("sweep/findings", text)
    _figures(out, rows, claims, writer)
    print(f"{text}\nfindings: {out / 'findings.md'} (and findings.csv)")
    return found
