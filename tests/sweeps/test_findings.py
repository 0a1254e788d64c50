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


#: Planted AUC shift of the class-balanced Shokri attack, per kind (the source's ANN-only gain).
BALANCING_GAIN = {"ann": 0.05, "snn": 0.0}
ATTACKS = ("shokri", "shokri_balanced")


def attack_rows(noise=0.003, seed=0):
    """Paper-scheme rows: ANN and SNN, both Shokri variants in every run; ANN = SNN per attack."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in SEEDS:
        base_auc = 0.58 + 0.02 * rng.standard_normal()  # shared by the seed's runs
        for kind in ("ann", "snn"):
            for attack in ATTACKS:
                auc = base_auc + noise * rng.standard_normal()
                auc += BALANCING_GAIN[kind] if attack == "shokri_balanced" else 0.0
                rows.append({
                    "status": "finished", "point_id": f"{kind}-{s}", "seed_everything": s,
                    "kind": kind, "data": "IrisDataModule", "data.scheme": "paper",
                    "weight_bits": "null", "attack": attack, "target": 0, "auc": auc,
                    "per_class_auc_mean": auc - 0.01, "target_test_acc": 0.9,
                })  # fmt: skip
    return rows


def attack_claims(**extra):
    def sel(kind, attack):
        return {"kind": kind, "attack": attack}

    raw = [
        {"name": "same unbalanced attack", "baseline": sel("ann", "shokri"),
         "other": sel("snn", "shokri")},
        {"name": "balanced on both", "baseline": sel("ann", "shokri_balanced"),
         "other": sel("snn", "shokri_balanced")},
        {"name": "the source's way", "baseline": sel("ann", "shokri_balanced"),
         "other": sel("snn", "shokri")},
        {"name": "per attack", "baseline": {"kind": "ann"}, "other": {"kind": "snn"}},
    ]  # fmt: skip
    return parse_claims([{**c, "metrics": ["auc", "per_class_auc_mean"], **extra} for c in raw],
                        REPO / "x.yaml")  # fmt: skip


def test_claims_naming_attacks_compare_the_named_attacks_records():
    found = findings(attack_rows(), attack_claims(), ["seed_everything"])
    by_cell = {}
    for f in found:
        by_cell.setdefault((f.claim, f.attack), set()).add(f.verdict)
    assert by_cell == {
        ("same unbalanced attack", "shokri"): {"inconclusive"},
        ("balanced on both", "shokri_balanced"): {"holds"},
        ("the source's way", "shokri_balanced vs shokri"): {"holds"},
        ("per attack", "shokri"): {"inconclusive"},  # no attack named: decided per attack
        ("per attack", "shokri_balanced"): {"holds"},
    }
    source = next(f for f in found if f.claim == "the source's way" and f.metric == "auc")
    assert (source.baseline, source.other) == (
        "kind=ann, attack=shokri_balanced", "kind=snn, attack=shokri")  # fmt: skip
    assert source.n_pairs == 5
    assert source.ci_low < -BALANCING_GAIN["ann"] < source.ci_high
    rows = attack_rows()
    ann = [r["auc"] for r in rows if (r["kind"], r["attack"]) == ("ann", "shokri_balanced")]
    assert source.baseline_mean == pytest.approx(np.mean(ann))  # the balanced ANN records


def test_no_planted_balancing_gain_leaves_the_source_s_way_inconclusive(monkeypatch):
    monkeypatch.setitem(BALANCING_GAIN, "ann", 0.0)
    found = findings(attack_rows(), attack_claims(), ["seed_everything"])
    assert {f.verdict for f in found} == {"inconclusive"}


def _spec_with(tmp_path, claim, fixed=None):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "base": [str(REPO / "configs/paper/iris_ann.yaml"),
                 str(REPO / "configs/paper/iris_snn.yaml")],
        "fixed": fixed or {}, "grid": {"seed_everything": [0, 1]},
        "claims": [{"name": "first", "baseline": {"kind": "ann"}, "other": {"kind": "snn"}},
                   {"name": "source", **claim}]}))  # fmt: skip
    return load_spec(path)


BOTH = {"mia.attacks": ["shokri", "shokri_balanced"]}
SOURCE_WAY = {"baseline": {"kind": "ann", "attack": "shokri_balanced"},
              "other": {"kind": "snn", "attack": "shokri"}}  # fmt: skip


def test_a_claim_may_name_the_attacks_the_study_runs(tmp_path):
    spec = _spec_with(tmp_path, SOURCE_WAY, BOTH)
    assert spec.claims[1].attacks == ("shokri_balanced", "shokri")
    assert spec.claims[0].attacks == ()


@pytest.mark.parametrize(
    ("claim", "fixed", "message"),
    [
        (SOURCE_WAY, None, r"`claims\[1\]\.baseline\.attack` of the claim 'source' names "
         r"'shokri_balanced', which the study does not run; its points run \['shokri'\]"),
        ({**SOURCE_WAY, "other": [{"kind": "snn", "attack": "shokri"}, {"kind": "snn"}]}, BOTH,
         r"`claims\[1\]\.other\[1\]\.attack` must name an attack"),
        ({**SOURCE_WAY, "other": {"kind": "snn"}}, BOTH, r"claims\[1\]\.other\.attack"),
        ({**SOURCE_WAY, "by": ["attack"]}, BOTH, r"claims\[1\]\.by` holds `attack`"),
        (SOURCE_WAY, {"mia.attacks": ["shokri", {"class_path": "lightning_snnpriv.attacks."
         "ShokriAttack", "init_args": {"classifier": "logistic"}}]}, "given more than once"),
    ],
)  # fmt: skip
def test_bad_attack_selectors_are_config_errors(tmp_path, claim, fixed, message):
    with pytest.raises(ConfigError, match=message):
        _spec_with(tmp_path, claim, fixed)


def test_report_decides_a_claim_across_attacks_from_results_files(tmp_path):
    path = tmp_path / "study.yaml"
    spec = {
        "name": "balancing", "base": [str(REPO / "configs/paper/iris_ann.yaml"),
                                      str(REPO / "configs/paper/iris_snn.yaml")],
        "fixed": BOTH, "grid": {"seed_everything": list(SEEDS)},
        "output_dir": str(tmp_path / "sweeps"), "claims": [{"name": "source", **SOURCE_WAY}],
    }  # fmt: skip
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    spec = load_spec(path)
    sweep = SweepDir(spec.sweep_dir)
    points = spec.expand()
    sweep.write_manifest(spec, points)
    rows = attack_rows()
    for point in points:
        kind = "snn" if "snn" in point.overrides["config"] else "ann"
        seed = point.overrides["seed_everything"]
        mine = [r for r in rows if r["point_id"] == f"{kind}-{seed}"]
        records = [{"attack": r["attack"], "target": 0, "auc": r["auc"], "fpr": [0.0, 1.0],
                    "tpr": [0.0, 1.0], "tpr_at_fpr": [], "target_test_acc": 0.9,
                    "target_train_acc": 1.0, "info": {"per_class_auc_mean": r["auc"]}}
                   for r in mine]  # fmt: skip
        settings = {"kind": kind, "data": "IrisDataModule", "data.scheme": "paper",
                    "weight_bits": None, "act_bits": None}  # fmt: skip
        run = sweep.point_dir(point.name) / "version_0"
        run.mkdir(parents=True)
        (run / "mia_results.json").write_text(json.dumps({"settings": settings,
                                                          "records": records}))  # fmt: skip
    main(["report", "--sweep", str(spec.sweep_dir)])
    report = spec.sweep_dir / "report_0"
    with (report / "findings.csv").open() as f:
        got = {(r["attack"], r["metric"]): r["verdict"] for r in csv.DictReader(f)}
    assert got == {("shokri_balanced vs shokri", "auc"): "holds"}  # the records have no TPR
    text = (report / "findings.md").read_text()
    assert "| Iris | – | paper | shokri_balanced vs shokri |" in text
    assert (report / "figures" / "claim_0_shokri_balanced_vs_shokri.png").stat().st_size > 0
