"""The sweep's HTML page shows the findings and comparisons a report folder holds."""

from __future__ import annotations

from pathlib import Path

from chromium import rendered

from lightning_snnpriv.sweeps.report_html import sweep_report_page, tensorboard_hint

BITS = "model.init_args.weight_bits"
MANIFEST = {"name": "tiny", "axes": [BITS], "points": [{}, {}],
            "spec": {"name": "tiny", "grid": {BITS: [None, 4]}}}  # fmt: skip
ROWS = [{"point": "a", "status": "finished", "model.init_args.weight_bits": "null",
         "attack": "loss", "target_test_acc": 0.9, "auc": 0.51, "tpr_at_fpr_0.0001": 0.0},
        {"point": "b", "status": "failed", "model.init_args.weight_bits": "4",
         "error": "boom: the reason\nusage: python -m lightning_snnpriv fit ..."}]  # fmt: skip


def test_findings_and_comparisons_come_first(tmp_path: Path):
    report = tmp_path / "sweep" / "report_0"
    report.mkdir(parents=True)
    (report / "findings.md").write_text("# Findings\n\nSNN leaks **less** than ANN.\n")
    (report / "comparisons.csv").write_text(
        "a,b,n,delta_auc,p_holm\nann,snn,5,-0.012498708971419087,2.1e-05\n"
    )
    summary = "| weight_bits | attack | AUC |\n|---|---|---|\n| full | loss | 0.5100 |\n"
    hint = tensorboard_hint(tmp_path / "sweep", report, "series")
    page = report / "report.html"
    page.write_text(sweep_report_page(MANIFEST, report, summary, ROWS, [], hint))
    shown = rendered(page, tmp_path)
    assert shown["headings"][:3] == ["Findings", "Comparisons", "Summary over seeds"]
    comparisons, summary_table, runs = shown["tables"]
    # rounded for reading: 4 decimals, p-values to 2 significant figures, counts as they are
    assert comparisons == [["a", "b", "n", "delta_auc", "p_holm"],
                           ["ann", "snn", "5", "-0.0125", "2.1e-05"]]  # fmt: skip
    assert summary_table[1] == ["full", "loss", "0.5100"]
    assert runs[0] == ["status", "weight_bits", "attack", "target_test_acc", "AUC", "TPR@1e-4",
                       "wall s", "error"]  # fmt: skip
    assert runs[1][:6] == ["finished", "full", "loss", "0.9000", "0.5100", "0.0000"]
    assert runs[2][0] == "failed"
    assert runs[2][-1] == "boom: the reason"  # the usage line is left out
