"""The HTML audit report of a run, opened in real headless Chromium."""

from __future__ import annotations

import base64
import json
import re
import shutil

import pytest
from chromium import assert_decoded, rendered, screenshot
from cli_runs import run_cli

from lightning_snnpriv.reports.html import Image, Section, Table, Text, page
from lightning_snnpriv.reports.labels import tpr_label
from lightning_snnpriv.runs import RunDir


def test_run_report_renders_results_figures_and_settings(finished_run, tmp_path):
    run = RunDir(finished_run)
    shown = rendered(run.report_file(), tmp_path)
    assert shown["title"] == f"Membership-inference audit: {finished_run}"
    assert shown["headings"] == ["Results", "ROC curves", "Settings"]
    assert shown["external"] == []  # self-contained: nothing is fetched
    results = json.loads(run.results_file().read_text())
    table = shown["tables"][0]
    budgets = [p["fpr_target"] for p in results["records"][0]["tpr_at_fpr"]]
    assert table[0][:2] == ["attack", "AUC"]
    assert [tpr_label(f) for f in budgets] == [c for c in table[0] if c.startswith("TPR@")]
    for record in results["records"]:  # every number is the run's own result
        row = next(r for r in table[1:] if r[0] == record["attack"])
        assert float(row[1]) == pytest.approx(record["auc"], abs=5e-5)
    # one figure per file the run wrote, each decoded by the browser
    pngs = sorted(finished_run.glob("roc*.png"))
    assert len(shown["images"]) == len(pngs) >= 3
    assert_decoded(shown["images"])
    settings = {row[0]: row[1] for row in shown["tables"][2][1:]}
    assert settings["kind"] == results["settings"]["kind"]
    shot = screenshot(run.report_file(), tmp_path / "run.png", tmp_path / "profile")
    assert shot.stat().st_size > 10_000


def test_report_embeds_the_png_files_the_run_wrote(finished_run):
    # each figure is rendered once: the page's images are the run's PNG files, byte for byte
    html = RunDir(finished_run).report_file().read_text()
    embedded = sorted(
        base64.b64decode(s) for s in re.findall(r"data:image/png;base64,([^\"]+)", html)
    )
    assert embedded == sorted(p.read_bytes() for p in finished_run.glob("roc*.png"))


def test_page_escapes_text_and_renders_markdown(tmp_path):
    html = page(
        "a <b> & c",
        [Section("notes", [Text("**bold** | x", "markdown"), Text("<script>x</script>")]),
         Section("t", [Table(["k"], [["<i>"]])]), Section("i", [Image(b"", "empty")])],
    )  # fmt: skip
    assert "<title>a &lt;b&gt; &amp; c</title>" in html
    assert "<strong>bold</strong>" in html
    assert "<script>x</script>" not in html
    assert "<td>&lt;i&gt;</td>" in html


def test_attack_rerun_writes_its_own_report(finished_run, tmp_path, capsys):
    run = RunDir(shutil.copytree(finished_run, tmp_path / "run"))
    before = run.report_file().read_bytes()
    assert run_cli(["attack", "--run", str(run), "--attacks", "loss"]) == 0
    assert f"report: {run.report_file('.1')}" in capsys.readouterr().out
    assert run.report_file().read_bytes() == before  # the fit's page is kept
    shown = rendered(run.report_file(".1"), tmp_path)
    assert shown["title"] == f"Membership-inference audit: {run} (attack re-run 1)"
    assert [row[0] for row in shown["tables"][0][1:]] == ["loss"]
    assert_decoded(shown["images"])
