"""The study guide's digest of a ``findings.md``: each claim's tallies and its decided rows.

``report`` writes every comparison of a study (hundreds of rows); the guide
(``docs/guide/study.md``) shows, per claim, the tally table as it is and only the rows that
decide something: leakage effects that are significant either way, and accuracy costs beyond
the claim's tolerance. The cells are copied, never recomputed.

    python -m benchmarks.findings_digest benchmarks/results/study_surrogates_strong_findings.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

#: The digest's columns, by the findings table's header names.
COLUMNS = ("dataset", "context", "attack", "record", "metric", "baseline", "other",
           "effect [95% CI]", "p (Holm)", "verdict")  # fmt: skip


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def decided(header: list[str], row: list[str]) -> bool:
    """A significant leakage effect, or an accuracy cost beyond the tolerance."""
    cell = dict(zip(header, row, strict=True))
    if "inconclusive" in cell["verdict"]:
        return False
    return not (cell["metric"].startswith("target_test_acc") and "holds" in cell["verdict"]
                and "not" not in cell["verdict"])  # fmt: skip


def digest(text: str) -> str:
    """The digest of one ``findings.md`` (its text)."""
    out: list[str] = []
    tables: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            if not tables or not tables[-1]:
                tables.append([])
            tables[-1].append(line)
            continue
        if tables and tables[-1]:
            tables.append([])  # the table ended
        if line.startswith("## "):
            tables = []
            out.append(f"\nClaim: {line[3:]}")
        if len([t for t in tables if t]) == 2 and not tables[-1]:
            tally, detail = [t for t in tables if t]
            out.extend(tally)
            header = _cells(detail[0])
            rows = [_cells(r) for r in detail[2:]]
            keep = [r for r in rows if decided(header, r)]
            out.append("\nSignificant leakage rows and accuracy costs over the tolerance:\n")
            if not keep:
                out.append("(none)")
                tables = []
                continue
            index = [header.index(c) for c in COLUMNS]
            out.append("| " + " | ".join(COLUMNS) + " |")
            out.append("|" + "---|" * len(COLUMNS))
            out.extend("| " + " | ".join(r[i] for i in index) + " |" for r in keep)
            tables = []
    return "\n".join(out).strip() + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.findings_digest",
                                description=__doc__.splitlines()[0])  # fmt: skip
    p.add_argument("findings", type=Path, help="a findings.md written by report")
    print(digest(p.parse_args(argv).findings.read_text()), end="")


if __name__ == "__main__":
    main()
