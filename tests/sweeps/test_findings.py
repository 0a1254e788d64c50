"""Findings: claims decided from results with planted effects (holds / inconclusive / not).

The pure part is tested on synthetic rows; the report part on a synthetic sweep directory
(manifest + ``mia_results.json`` files, no training) through the ``report`` command.
"""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import yaml
from cli_runs import REPO

from lightning_snnpriv.commands import main
from lightning_snnpriv.errors import ConfigError
from lightning_snnpriv.sweeps.claims import parse_claims
from lightning_snnpriv.sweeps.findings import findings, markdown_findings
from lightning_snnpriv.sweeps.layout import SweepDir
from lightning_snnpriv.sweeps.spec import load_spec

SEEDS = range(5)
#: Planted effects on the AUC (other - full precision): none, opposite to the claim, the claim.
PLANTED = {8: 0.0, 4: +0.04, 2: -0.05}


def synthetic_rows(planted=PLANTED, noise=0.004, acc_drop=None, pooled=True, seed=0):
    """Rows as the report collects them: one ANN per bit width and seed, AUC planted."""
    rng = np.random.default_rng(seed)
    acc_drop = acc_drop or {}
    rows = []
    for s in SEEDS:
        base_auc = 0.6 + 0.02 * rng.standard_normal()  # seed-to-seed spread, shared by a pair
        for bits in (None, *planted):
            auc = base_auc + (planted.get(bits, 0.0) if bits else 0.0)
            auc += noise * rng.standard_normal()
            acc = 0.95 - acc_drop.get(bits, 0.0) + 0.002 * rng.standard_normal()
            common = {
                "status": "finished", "point_id": f"{bits}-{s}", "seed_everything": s,
                "kind": "ann", "data": "DigitsDataModule", "data.scheme": "lira",
                "weight_bits": json.dumps(bits), "attack": "rmia_online",
                "target_test_acc": acc, "tpr_at_fpr_0.01": 0.03 + (auc - 0.6) / 4,
            }  # fmt: skip
            rows.append({**common, "target": 0, "auc": 0.5})  # model 0: no effect
            if pooled:
                rows.append({**common, "target": "pooled", "auc": auc})
    return rows


def claim(**extra):
    raw = {"name": "quantization lowers leakage", "baseline": {"weight_bits": None},
           "other": [{"weight_bits": b} for b in PLANTED], "expect": "lower",
           "metrics": ["auc"], **extra}  # fmt: skip
    return parse_claims([raw], REPO / "x.yaml")


def verdicts(found, metric="auc"):
    return {f.other: f.verdict for f in found if f.metric == metric}


def test_planted_effects_give_their_verdicts():
    found = findings(synthetic_rows(), claim(), ["seed_everything"])
    assert verdicts(found) == {
        "weight_bits=8": "inconclusive",
        "weight_bits=4": "does not hold",
        "weight_bits=2": "holds",
    }
    two = next(f for f in found if f.other == "weight_bits=2")
    assert (two.record, two.n_pairs, two.scheme) == ("pooled", 5, "lira")
    assert two.ci_low < -0.05 < two.ci_high
    assert two.p_holm < 0.05
    assert two.p_holm >= two.p_value  # Holm never lowers a p-value


def test_expect_higher_swaps_the_verdicts():
    found = findings(synthetic_rows(), claim(expect="higher"), ["seed_everything"])
    assert verdicts(found)["weight_bits=4"] == "holds"
    assert verdicts(found)["weight_bits=2"] == "does not hold"


def test_without_pooled_records_model_0_is_used():
    found = findings(synthetic_rows(pooled=False), claim(), ["seed_everything"])
    assert {f.record for f in found} == {"target 0"}
    assert set(verdicts(found).values()) == {"inconclusive"}  # model 0 carries no effect


def test_accuracy_tolerance():
    rows = synthetic_rows(acc_drop={8: 0.001, 4: 0.05, 2: 0.019})
    found = findings(rows, claim(accuracy_tolerance=0.02), ["seed_everything"])
    acc = verdicts(found, "target_test_acc")
    # 8 bits: drop far below the tolerance; 4 bits: far above; 2 bits: at it, undecidable
    assert acc == {"weight_bits=8": "holds", "weight_bits=4": "does not hold",
                   "weight_bits=2": "inconclusive"}  # fmt: skip
    eight = next(f for f in found if f.metric == "target_test_acc" and f.other == "weight_bits=8")
    assert eight.difference == pytest.approx(eight.other_mean - eight.baseline_mean)
    assert eight.expected == "drop < 0.02"


def test_one_seed_is_inconclusive():
    rows = [r for r in synthetic_rows() if r["seed_everything"] == 0]
    found = findings(rows, claim(), ["seed_everything"])
    assert {f.verdict for f in found} == {"inconclusive"}
    assert all(f.n_pairs == 1 and math.isnan(f.p_holm) for f in found)


def test_by_splits_the_findings_and_an_ambiguous_pairing_is_an_error():
    rows = synthetic_rows()
    rows += [{**r, "kind": "snn", "point_id": "snn" + r["point_id"]} for r in synthetic_rows()]
    with pytest.raises(ValueError, match="add the column that tells them apart"):
        findings(rows, claim(), ["seed_everything"])
    found = findings(rows, claim(by=["kind"]), ["seed_everything"])
    assert {f.context for f in found} == {"kind=ann", "kind=snn"}


def test_markdown_lists_every_finding_with_its_interval():
    claims = claim()
    found = findings(synthetic_rows(), claims, ["seed_everything"])
    text = markdown_findings(found, claims, "sweep demo")
    assert (text.count("**holds**"), text.count("**inconclusive**")) == (1, 1)
    assert "| Digits | – | lira | rmia_online | 1 | 1 | 1 |" in text
    two = next(f for f in found if f.other == "weight_bits=2")
    assert f"{two.difference:.4f} [{two.ci_low:.4f}, {two.ci_high:.4f}]" in text


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"baseline": {"kind": "ann"}, "other": {"kind": "snn"}}, r"needs \['name'\]"),
        ({"name": "x", "baseline": {}, "other": {"kind": "snn"}}, r"claims\[0\]\.baseline"),
        ({"name": "x", "baseline": {"kind": "ann"}, "other": {"kind": "snn"}, "expect": "less"},
         r"claims\[0\]\.expect"),
        ({"name": "x", "baseline": {"kind": "ann"}, "other": {"kind": "snn"},
          "metrics": ["auroc"]}, r"claims\[0\]\.metrics"),
        ({"name": "x", "baseline": {"kind": "ann"}, "other": {"kind": "snn"},
          "accuracy_tolerance": -1}, "accuracy_tolerance"),
        ({"name": "x", "baseline": {"kind": "ann"}, "other": {"kind": "snn"}, "vs": 1},
         "unknown key"),
    ],
)  # fmt: skip
def test_bad_claims_are_config_errors(tmp_path, raw, message):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"base": str(REPO / "configs/digits_ann.yaml"),
                                    "claims": [raw]}))  # fmt: skip
    with pytest.raises(ConfigError, match=message):
        load_spec(path)


def _write_synthetic_sweep(tmp_path):
    """A sweep directory as `sweep` leaves it, with synthetic results (no training)."""
    path = tmp_path / "study.yaml"
    spec = {
        "name": "planted", "base": str(REPO / "configs/digits_ann.yaml"),
        "points": [{"model.init_args.weight_bits": b} for b in (None, *PLANTED)],
        "grid": {"seed_everything": list(SEEDS)}, "output_dir": str(tmp_path / "sweeps"),
        "claims": [{"name": "quantization lowers leakage", "baseline": {"weight_bits": None},
                    "other": [{"weight_bits": b} for b in PLANTED], "metrics": ["auc"]}],
    }  # fmt: skip
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    spec = load_spec(path)
    points = spec.expand()
    sweep = SweepDir(spec.sweep_dir)
    sweep.write_manifest(spec, points)
    rows = {(r["weight_bits"], r["seed_everything"]): r for r in synthetic_rows()
            if r["target"] == "pooled"}  # fmt: skip
    for point in points:
        bits = point.overrides["model.init_args.weight_bits"]
        seed = point.overrides["seed_everything"]
        row = rows[(json.dumps(bits), seed)]
        settings = {"kind": "ann", "data": "DigitsDataModule", "data.scheme": "lira",
                    "weight_bits": bits, "act_bits": None}  # fmt: skip
        record = {"attack": "rmia_online", "target": "pooled", "auc": row["auc"],
                  "fpr": [0.0, 1.0], "tpr": [0.0, 1.0], "tpr_at_fpr": [],
                  "target_test_acc": row["target_test_acc"], "target_train_acc": 1.0}  # fmt: skip
        run = sweep.point_dir(point.name) / "version_0"
        run.mkdir(parents=True)
        results = {"settings": settings, "records": [record, {**record, "target": 0}]}
        (run / "mia_results.json").write_text(json.dumps(results))
    return spec.sweep_dir


def test_report_writes_findings_from_results_files(tmp_path, capsys):
    sweep_dir = _write_synthetic_sweep(tmp_path)
    main(["report", "--sweep", str(sweep_dir)])
    report = sweep_dir / "report_0"
    text = (report / "findings.md").read_text()
    assert "## quantization lowers leakage" in text
    with (report / "findings.csv").open() as f:
        got = {r["other"]: r["verdict"] for r in csv.DictReader(f)}
    assert got == {"weight_bits=8": "inconclusive", "weight_bits=4": "does not hold",
                   "weight_bits=2": "holds"}  # fmt: skip
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(report), size_guidance={"tensors": 0}).Reload()
    assert "sweep/findings/text_summary" in events.Tags()["tensors"]
    assert "findings.md" in capsys.readouterr().out
    assert (report / "figures" / "claim_0_rmia_online.png").stat().st_size > 0
