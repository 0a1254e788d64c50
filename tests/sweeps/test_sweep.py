"""A real 3-point sweep through the CLI: results table, summary, figures, TensorBoard, resuming.

The real sweep (two tiny 1-epoch fits and one point with a bad override, each a subprocess of
``python -m lightning_snnpriv fit``) runs once per module and is shared by the tests below it.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from chromium import assert_decoded, rendered
from cli_runs import REPO
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2

from lightning_snnpriv.commands import main
from lightning_snnpriv.runs.names import MAX_READABLE, is_safe_name
from lightning_snnpriv.sweeps.layout import SweepDir
from lightning_snnpriv.sweeps.spec import key_label, load_spec, value_label

ROOT = REPO
SNN_CONFIG = ROOT / "configs" / "breast_cancer_snn.yaml"
SWEEP_CONFIGS = sorted((ROOT / "configs" / "sweeps").glob("*.yaml"))


def write_sweep(path: Path, **spec) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


# ----------------------------------------------------------------------------- real sweep


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Run a 3-point sweep through the real CLI: two tiny fits and one bad override."""
    tmp = tmp_path_factory.mktemp("sweep")
    path = write_sweep(
        tmp / "tiny.yaml",
        name="tiny",
        base=str(SNN_CONFIG),
        fixed={
            "trainer.max_epochs": 1,
            "trainer.enable_progress_bar": False,
            "trainer.enable_model_summary": False,
            "model.init_args.hidden_sizes": [8],
            "model.init_args.num_steps": 2,
        },
        points=[
            {"model.init_args.weight_bits": None},
            {"model.init_args.weight_bits": 4},
            {"model.init_args.surrogate": "not_a_surrogate"},
        ],
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)
        with pytest.raises(SystemExit) as exc:
            main(["sweep", "--config", str(path), "--jobs", "3"])
    spec = load_spec(path)
    sweep_dir = tmp / "logs" / "sweeps" / "tiny"
    return {"tmp": tmp, "path": path, "spec": spec, "dir": sweep_dir, "exit": exc.value.code}


def _report(sweep_dir: Path, n: int) -> Path:
    return sweep_dir / f"report_{n}"


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_failed_point_makes_the_sweep_exit_1(sweep):
    assert sweep["exit"] == 1


def test_results_csv(sweep):
    rows = _csv(_report(sweep["dir"], 0) / "results.csv")
    failed = [r for r in rows if r["status"] == "failed"]
    finished = [r for r in rows if r["status"] == "finished"]
    assert len(failed) == 1
    assert failed[0]["model.init_args.surrogate"] == "not_a_surrogate"
    assert "not_a_surrogate" in failed[0]["error"]
    assert {r["model.init_args.weight_bits"] for r in finished} == {"null", "4"}
    assert {r["weight_bits"] for r in finished} == {"null", "4"}  # as the runs recorded it
    assert sorted(r["attack"] for r in finished) == ["loss", "loss", "shokri", "shokri"]
    for row in finished:  # every number is the run's own result
        results = json.loads((Path(row["run_dir"]) / "mia_results.json").read_text())
        record = next(r for r in results["records"] if r["attack"] == row["attack"])
        assert float(row["auc"]) == pytest.approx(record["auc"], abs=0)
        assert float(row["target_test_acc"]) == pytest.approx(record["target_test_acc"], abs=0)
        tprs = {p["fpr_target"]: p["tpr"] for p in record["tpr_at_fpr"]}
        assert float(row["tpr_at_fpr_0.01"]) == tprs[0.01]
        assert float(row["tpr_at_fpr_0.001"]) == tprs[0.001]
        assert float(row["wall_s"]) > 0
        assert Path(row["run_dir"]).parent.parent == SweepDir(sweep["dir"]).runs_dir
        assert (Path(row["run_dir"]) / "config.yaml").is_file()
    summary = _csv(_report(sweep["dir"], 0) / "summary.csv")
    assert len(summary) == 4
    assert {s["n"] for s in summary} == {"1"}
    assert {s["auc_ci_low"] for s in summary} == {"nan"}  # one seed: no interval
    # one seed per setting: nothing to pair, the comparisons table says so
    report = _report(sweep["dir"], 0)
    assert (report / "comparisons.csv").read_text().startswith("factor,attack,metric,")
    assert "no paired comparison" in (report / "comparisons.md").read_text()


def test_figures(sweep):
    figures = _report(sweep["dir"], 0) / "figures"
    names = {p.name for p in figures.glob("*.png")}
    expected = {"tradeoff_loss.png", "tradeoff_shokri.png", "vs_weight_bits.png",
                "vs_weight_bits_tpr.png", "roc_loss.png", "roc_shokri.png"}  # fmt: skip
    assert expected <= names
    for name in expected:
        assert (figures / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tensorboard_summary_run(sweep):
    report = _report(sweep["dir"], 0)
    assert list(report.glob("events.out.tfevents.*"))
    acc = EventAccumulator(str(report), size_guidance={"tensors": 0, "images": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    # the charts' series are runs of their own (TensorBoard colours by run): one here, "all"
    assert [p.name for p in (report / "series").iterdir()] == ["all"]
    series = EventAccumulator(str(report / "series" / "all"), size_guidance={"scalars": 0})
    series.Reload()
    auc_tags = [t for t in series.Tags()["scalars"] if t.startswith("sweep/shokri/auc/")]
    assert auc_tags == ["sweep/shokri/auc/vs_weight_bits"]
    # the swept value is the step: 4 bits at step 4, full precision at step 32
    events = series.Scalars(auc_tags[0])
    assert sorted(e.step for e in events) == [4, 32]
    rows = _csv(report / "results.csv")
    by_bits = {
        r["model.init_args.weight_bits"]: float(r["auc"]) for r in rows if r["attack"] == "shokri"
    }
    steps = {e.step: e.value for e in events}
    assert steps[4] == pytest.approx(by_bits["4"], rel=1e-6)
    assert steps[32] == pytest.approx(by_bits["null"], rel=1e-6)
    assert "sweep/target_test_acc/vs_weight_bits" in series.Tags()["scalars"]
    assert {"sweep_figures/tradeoff_shokri", "sweep_figures/roc_loss"} <= set(tags["images"])
    assert "custom_scalars__config__" in tags["tensors"]
    layout = layout_pb2.Layout()
    proto = acc.Tensors("custom_scalars__config__")[0].tensor_proto
    layout.ParseFromString(proto.string_val[0])
    charts = {c.title: list(c.multiline.tag) for cat in layout.category for c in cat.chart}
    assert [cat.title for cat in layout.category] == ["vs weight_bits"]
    assert charts["shokri AUC"] == [re.escape("sweep/shokri/auc/vs_weight_bits") + "$"]
    assert "test accuracy" in charts


def test_every_run_logs_hparams(sweep):
    for row in _csv(_report(sweep["dir"], 0) / "results.csv"):
        if row["status"] != "finished":
            continue
        acc = EventAccumulator(row["run_dir"])
        acc.Reload()
        content = acc.PluginTagToContent("hparams")
        assert "_hparams_/session_start_info" in content


def test_html_report_renders_in_chromium(sweep, tmp_path):
    report = _report(sweep["dir"], 0)
    shown = rendered(report / "report.html", tmp_path)
    assert shown["title"] == "Sweep tiny: membership-inference report"
    assert shown["headings"] == ["Comparisons", "Summary over seeds", "Figures", "Runs",
                                 "Sweep definition", "TensorBoard"]  # fmt: skip
    assert shown["external"] == []
    figures = sorted((report / "figures").glob("*.png"))
    assert sorted(i["alt"] for i in shown["images"]) == [p.stem for p in figures]
    assert_decoded(shown["images"])
    comparisons, summary, runs = shown["tables"]
    assert len(comparisons) == 1 + len(_csv(report / "comparisons.csv"))
    assert len(summary) == 1 + len(_csv(report / "summary.csv"))
    results = _csv(report / "results.csv")
    assert len(runs) == 1 + len(results)
    head = runs[0]
    assert {"TPR@1e-2", "TPR@1e-3"} <= set(head)
    for row, cells in zip(results, runs[1:], strict=True):
        assert cells[0] == row["status"]
        if row["status"] == "finished":
            assert float(cells[head.index("AUC")]) == pytest.approx(float(row["auc"]), abs=5e-5)
        else:
            assert "not_a_surrogate" in cells[head.index("error")]


def test_report_never_overwrites(sweep, capsys):
    first = _report(sweep["dir"], 0)
    before = {p: p.read_bytes() for p in first.rglob("*") if p.is_file()}
    main(["report", "--sweep", str(sweep["dir"])])
    printed = capsys.readouterr().out
    # the TensorBoard command and the link to this report's own charts (report_1, not report_0)
    assert f"tensorboard --logdir {sweep['dir']}" in printed
    assert "#custom_scalars&regexInput=%5Ereport_1%2Fseries%2F" in printed
    second = _report(sweep["dir"], 1)
    assert (second / "results.csv").read_text() == (first / "results.csv").read_text()
    assert {p: p.read_bytes() for p in first.rglob("*") if p.is_file()} == before


def test_report_on_a_non_sweep_dir_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", "--sweep", str(tmp_path)])
    assert exc.value.code == 2
    assert "not a sweep directory" in capsys.readouterr().err


def test_rerun_skips_finished_and_redoes_a_deleted_point(sweep, monkeypatch, capsys):
    spec = sweep["spec"]
    good = [p for p in spec.expand() if "model.init_args.surrogate" not in p.overrides]
    kept, redone = good
    layout = SweepDir(sweep["dir"])
    kept_dir, redone_dir = (p.name for p in good)
    kept_run = layout.finished_run(kept_dir)
    layout.finished_run(redone_dir).results_file().unlink()
    monkeypatch.chdir(sweep["tmp"])
    main(["sweep", "--config", str(sweep["path"]), "--only", kept.id, redone.id, "--no-report"])
    out = capsys.readouterr().out
    assert "1 finished already (skipped), 1 to run" in out
    assert len(layout.attempts(kept_dir)) == 1
    assert layout.finished_run(kept_dir) == kept_run
    assert len(layout.attempts(redone_dir)) == 2
    assert layout.finished_run(redone_dir).path.name == "version_1"  # new; version_0 kept
    assert (layout.point_dir(redone_dir) / "version_0" / "config.yaml").is_file()
    main(["sweep", "--config", str(sweep["path"]), "--dry-run"])
    listed = capsys.readouterr().out
    assert listed.count("[finished") == 2
    assert listed.count("[to run]") == 1


def test_point_dirs_are_short_shell_safe_and_the_manifest_maps_them_to_settings(sweep):
    layout = SweepDir(sweep["dir"])
    manifest = layout.load_manifest()
    dirs = sorted(d.name for d in layout.runs_dir.iterdir())
    assert dirs == sorted(p["name"] for p in manifest["points"])
    for point, expected in zip(manifest["points"], sweep["spec"].expand(), strict=True):
        assert is_safe_name(point["name"])
        assert len(point["name"]) <= MAX_READABLE + 11
        assert point["name"].endswith(f"-{point['id']}")
        assert point["overrides"] == expected.overrides  # the full settings stay in the manifest
    assert sorted(d.split("-")[0] for d in dirs) == ["not_a_surrogate", "w4", "wfull"]
    run = layout.finished_run(manifest["points"][1]["name"])
    assert run.load_config()["model"]["init_args"]["weight_bits"] == 4  # and in the run's config


def _legacy_name(point) -> str:
    """The point directory names of sweeps written before the short names."""
    slug = ",".join(f"{key_label(k)}={value_label(k, v)}" for k, v in point.swept().items())
    slug = slug.replace("/", "_").replace(" ", "")[:100]
    return f"{slug}-{point.id}" if slug else point.id


def test_a_sweep_with_the_old_long_names_is_found_through_its_manifest(sweep, tmp_path, capsys):
    """An existing sweep keeps its `config=...,weight_bits=...` directories: nothing is re-run,
    --dry-run/--only see its finished points, the report reads them, the manifest stays."""
    old = tmp_path / "sweeps" / "tiny"
    shutil.copytree(sweep["dir"], old, ignore=shutil.ignore_patterns("report_*"))
    manifest = json.loads((old / "manifest.json").read_text())
    points = sweep["spec"].expand()
    for entry, point in zip(manifest["points"], points, strict=True):
        (old / "runs" / entry["name"]).rename(old / "runs" / _legacy_name(point))
        entry.update(name=_legacy_name(point), dir=str(old / "runs" / _legacy_name(point)))
    (old / "manifest.json").write_text(json.dumps(manifest))
    before = sorted(d.name for d in (old / "runs").iterdir())
    assert any("weight_bits=4" in d for d in before)
    args = ["sweep", "--config", str(sweep["path"]), "--output-dir", str(old.parent)]
    main([*args, "--dry-run"])
    listed = capsys.readouterr().out
    assert listed.count("[finished") == 2
    assert listed.count("[to run]") == 1
    good = [p.id for p in points if "model.init_args.surrogate" not in p.overrides]
    main([*args, "--only", *good])
    assert "2 finished already (skipped), 0 to run" in capsys.readouterr().out
    assert sorted(d.name for d in (old / "runs").iterdir()) == before  # no new directory
    assert json.loads((old / "manifest.json").read_text()) == manifest  # kept, not replaced
    assert not list(old.glob("manifest.*.json"))
    rows = _csv(old / "report_0" / "results.csv")
    assert sorted({r["point"] for r in rows if r["status"] == "finished"}) == sorted(
        _legacy_name(p) for p in points if p.id in good
    )
