"""The study guide's digest of findings.md keeps each claim's tallies and only its decided rows."""

from __future__ import annotations

from benchmarks.findings_digest import digest

HEADER = ("| dataset | context | scheme | attack | record | metric | baseline | other | n | "
          "baseline mean | other mean | effect [95% CI] | p | p (Holm) | verdict |")  # fmt: skip


def row(metric: str, verdict: str, effect: str = "-0.01 [-0.02, -0.005]") -> str:
    return (
        f"| Digits | – | lira | rmia_online | pooled | {metric} | surrogate=atan | "
        f"surrogate=triangular | 5 | 0.6 | 0.59 | {effect} | 0.001 | 0.01 | **{verdict}** |"
    )


FINDINGS = "\n".join([
    "# Findings of sweep s", "", "Every number ...", "", "## claim one", "", "Claimed: ...", "",
    "| dataset | context | scheme | attack | holds | does not hold | inconclusive |",
    "|---|---|---|---|---|---|---|", "| Digits | – | lira | rmia_online | 2 | 1 | 1 |", "",
    HEADER, "|" + "---|" * 15,
    row("auc (lower)", "holds"), row("tpr_at_fpr_0.01 (lower)", "inconclusive", "0.5 [X]"),
    row("target_test_acc (drop < 0.02)", "holds", "0.001 [A]"),
    row("target_test_acc (drop < 0.02)", "does not hold", "-0.03 [B]"), "",
    "## claim two", "",
    "| dataset | context | scheme | attack | holds | does not hold | inconclusive |",
    "|---|---|---|---|---|---|---|", "| Iris | – | lira | rmia_online | 0 | 0 | 1 |", "",
    HEADER, "|" + "---|" * 15, row("auc (lower)", "inconclusive"), "",
])  # fmt: skip


def test_digest_keeps_tallies_and_decided_rows() -> None:
    text = digest(FINDINGS)
    one, two = text.split("Claim: claim two")
    assert "Claim: claim one" in one
    assert "| Digits | – | lira | rmia_online | 2 | 1 | 1 |" in one
    assert "-0.01 [-0.02, -0.005]" in one  # a significant leakage effect
    assert "-0.03 [B]" in one  # an accuracy cost beyond the tolerance
    assert "0.5 [X]" not in one
    assert "0.001 [A]" not in one
    assert "| Iris | – | lira | rmia_online | 0 | 0 | 1 |" in two
    assert "(none)" in two
    # the digest's columns, copied (not recomputed) from the findings table
    assert "| Digits | – | rmia_online | pooled | auc (lower) | surrogate=atan |" in one
