"""The study configs (configs/studies/): they dry-run, their claims select settings the study
runs, and a tiny real run of one of them (epochs, seeds, models and grid cut down) ends with a
``findings.md`` decided from its results.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from cli_runs import CONFIGS, run_cli

from lightning_snnpriv.sweeps.spec import key_label, load_spec
from lightning_snnpriv.sweeps.study_attacks import study_attacks

STUDIES = sorted((CONFIGS / "studies").glob("*.yaml"))
KINDS = {"ANNClassifier": "ann", "SNNClassifier": "snn"}


def test_there_is_a_study_per_claim_set_and_attack_setting():
    names = {p.stem for p in STUDIES}
    for study in ("quantization", "surrogates"):
        for setting in ("source", "strong"):
            assert f"{study}_{setting}" in names


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.stem)
def test_study_dry_runs_and_its_claims_select_its_points(path, tmp_path, capsys):
    assert (
        run_cli(["sweep", "--config", str(path), "--dry-run", "--output-dir", str(tmp_path)]) == 0
    )
    assert not any(tmp_path.iterdir())  # a dry run writes nothing
    spec = load_spec(path)
    assert spec.claims
    assert spec.grid["seed_everything"] == (0, 1, 2, 3, 4)  # >= 5 seeds
    offered: dict[str, set] = {}
    for point in spec.expand():
        for key, value in point.overrides.items():
            offered.setdefault(key_label(key), set()).add(yaml.safe_dump(value))
        base = yaml.safe_load(spec.base_path(point.overrides["config"]).read_text())
        kind = KINDS[base["model"]["class_path"].rsplit(".", 1)[-1]]
        offered.setdefault("kind", set()).add(yaml.safe_dump(kind))
    for names in study_attacks(spec).values():
        offered.setdefault("attack", set()).update(yaml.safe_dump(name) for name in names)
    for claim in spec.claims:
        for selector in (*claim.baseline, *claim.other):
            for key, value in selector.items():
                assert yaml.safe_dump(value) in offered.get(key, set()), (claim.name, key, value)
    if path.stem.endswith("_strong"):
        assert spec.fixed["data.init_args.scheme"] == "lira"
        assert spec.fixed["mia.targets"] == "all"
    else:
        for base in spec.base:
            config = yaml.safe_load(spec.base_path(base).read_text())
            assert config["data"]["init_args"]["scheme"] == "paper"
            attacks = config["mia"]["attacks"]
            assert [a["class_path"].rsplit(".", 1)[-1] for a in attacks] == ["ShokriAttack"]


def test_the_balancing_study_runs_both_shokri_variants_on_full_precision_ann_and_snn():
    spec = load_spec(CONFIGS / "studies" / "source_balancing.yaml")
    assert set(study_attacks(spec).values()) == {("shokri", "shokri_balanced")}
    assert spec.fixed["model.init_args.weight_bits"] is None
    assert spec.fixed["model.init_args.act_bits"] is None
    recipe = yaml.safe_load((CONFIGS / "paper" / "iris_ann.yaml").read_text())["mia"]["attacks"][0]
    plain, balanced = spec.fixed["mia.attacks"]
    assert plain == recipe  # the paper recipes' own attack, and the same balanced
    assert balanced == {**recipe, "init_args": {**recipe["init_args"], "balance_per_class": True}}
    named = {(c.baseline[0]["attack"], c.other[0]["attack"]) for c in spec.claims}
    assert named == {("shokri", "shokri"), ("shokri_balanced", "shokri_balanced"),
                     ("shokri_balanced", "shokri"), ("shokri", "shokri_balanced")}  # fmt: skip


@pytest.mark.parametrize(
    "seeds",
    [pytest.param([0], id="1-seed"), pytest.param([0, 1], id="2-seeds", marks=pytest.mark.slow)],
)
def test_tiny_real_run_of_a_study_writes_its_findings(tmp_path, monkeypatch, seeds):
    """``quantization_strong`` cut to Iris ANN, full precision vs 2 bits, 4 models, 1-2 seeds.

    One seed (the default suite: two fits) leaves every finding inconclusive with no p-value;
    two seeds (slow) give a paired test.
    """
    study = yaml.safe_load((CONFIGS / "studies" / "quantization_strong.yaml").read_text())
    study["base"] = str(CONFIGS / "paper" / "iris_ann.yaml")
    study["fixed"].update({
        "trainer.max_epochs": 2, "model.init_args.hidden_sizes": [16],
        "data.init_args.num_shadows": 3, "mia.attacks": ["rmia_online"],
    })  # fmt: skip
    study["points"] = [p for p in study["points"] if p["model.init_args.weight_bits"] in (None, 2)]
    study["grid"]["seed_everything"] = seeds
    study["output_dir"] = str(tmp_path / "studies")
    path = tmp_path / "tiny_study.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    assert run_cli(["sweep", "--config", str(path), "--jobs", "2"]) == 0
    report = tmp_path / "studies" / "quantization_strong" / "report_0"
    text = (report / "findings.md").read_text()
    assert "## quantization lowers leakage at little accuracy cost" in text
    assert "(no finished runs match the claim's selectors)" in text  # no SNN: claim 2 untested
    with (report / "findings.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {(r["metric"], r["other"], r["context"], r["record"]) for r in rows} == {
        (m, "weight_bits=2", "kind=ann", "pooled")
        for m in ("auc", "tpr_at_fpr_0.01", "tpr_at_fpr_0.001", "target_test_acc")
    }
    assert {r["n_pairs"] for r in rows} == {str(len(seeds))}
    if len(seeds) == 1:
        assert {(r["verdict"], r["p_holm"]) for r in rows} == {("inconclusive", "nan")}
    else:
        assert {r["verdict"] for r in rows} <= {"holds", "does not hold", "inconclusive"}
        assert all(0 <= float(r["p_value"]) <= float(r["p_holm"]) <= 1 for r in rows)
    results = {r["point"]: r for r in _csv(report / "results.csv") if r["target"] == "pooled"}
    for row in rows:  # every number comes from the runs' results
        if row["metric"] == "auc":
            means = [float(r["auc"]) for r in results.values() if r["weight_bits"] == "2"]
            assert float(row["other_mean"]) == pytest.approx(sum(means) / len(means))


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_tiny_real_run_of_the_balancing_study_decides_claims_across_attacks(tmp_path, monkeypatch):
    """``source_balancing`` cut to Iris, ANN and SNN, 2 epochs, 1 seed: two fits, both Shokri
    variants in each; the source's-way claim pairs the ANN's balanced records with the SNN's
    plain ones (one seed: inconclusive)."""
    study = yaml.safe_load((CONFIGS / "studies" / "source_balancing.yaml").read_text())
    study["base"] = [str(CONFIGS / "paper" / f"iris_{kind}.yaml") for kind in ("ann", "snn")]
    study["fixed"].update({"trainer.max_epochs": 2, "model.init_args.hidden_sizes": [16]})
    study["points"] = [{}]
    study["grid"]["seed_everything"] = [0]
    study["output_dir"] = str(tmp_path / "studies")
    path = tmp_path / "tiny_balancing.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    assert run_cli(["sweep", "--config", str(path), "--jobs", "2"]) == 0
    report = tmp_path / "studies" / "source_balancing" / "report_0"
    results = _csv(report / "results.csv")
    assert {(r["kind"], r["attack"]) for r in results} == {
        (k, a) for k in ("ann", "snn") for a in ("shokri", "shokri_balanced")
    }
    found = _csv(report / "findings.csv")
    source = [f for f in found if f["claim"].startswith("(c)")]
    assert {(f["attack"], f["metric"]) for f in source} == {
        ("shokri_balanced vs shokri", m) for m in ("auc", "per_class_auc_mean")
    }
    ann = next(r for r in results if (r["kind"], r["attack"]) == ("ann", "shokri_balanced"))
    auc = next(f for f in source if f["metric"] == "auc")
    assert float(auc["baseline_mean"]) == pytest.approx(float(ann["auc"]))
    assert {(f["n_pairs"], f["verdict"]) for f in found} == {("1", "inconclusive")}
