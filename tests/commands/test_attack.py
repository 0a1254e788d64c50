"""The MIA callback with several targets, and `attack --run` on the finished run."""

import json
import shutil

import pytest
import torch
from cli_runs import REPO

from lightning_snnpriv.commands import main

MIA = """
mia:
  targets: all
  bootstrap: 20
  fpr_targets: [0.01, 0.001, 0.0001, 0.0]
  query_dropout: 0.1
  query_repeats: 2
  attacks:  # by name, and as class_path entries
    - loss
    - lira_offline_fixvar
    - class_path: lightning_snnpriv.attacks.RMIAAttack
      init_args: {online: true, num_population: 50}
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attack_command")
    (tmp / "mia.yaml").write_text(MIA)
    main(
        [
            "fit",
            "--config", str(REPO / "configs" / "iris_ann.yaml"),
            "--config", str(tmp / "mia.yaml"),
            "--data.init_args.scheme=lira",
            "--data.init_args.num_shadows=3",
            "--model.init_args.hidden_sizes=[8]",
            "--trainer.max_epochs=1",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            f"--trainer.logger.init_args.save_dir={tmp / 'logs'}",
        ]
    )  # fmt: skip
    (run,) = (tmp / "logs").glob("*/version_*")
    return run


def _load(path):
    return json.loads(path.read_text())


def test_fit_writes_per_target_and_pooled_results(run_dir):
    results = _load(run_dir / "mia_results.json")
    names = ["loss", "lira_offline_fixvar", "rmia_online"]
    assert [r["attack"] for r in results["records"] if r["target"] == "pooled"] == names
    per_target = [(r["attack"], r["target"]) for r in results["records"] if r["target"] != "pooled"]
    assert per_target == [(a, t) for a in names for t in range(4)]
    pooled = results["records"][4]
    n = len(results["accuracy"]["train"])
    assert n == 4
    assert pooled["n_members"] == sum(r["n_members"] for r in results["records"][:4])
    assert pooled["targets"] == [0, 1, 2, 3]
    aucs = [r["auc"] for r in results["records"][:4]]
    assert pooled["across_targets"]["auc"]["mean"] == pytest.approx(sum(aucs) / 4)
    assert len(pooled["fpr"]) == len(pooled["tpr"]) > 2
    assert [p["fpr_target"] for p in pooled["tpr_at_fpr"]] == [0.01, 0.001, 0.0001, 0.0]
    assert all(len(p["tpr_ci"]) == 2 for p in pooled["tpr_at_fpr"])
    assert pooled["auc_ci"][0] <= pooled["auc"] <= pooled["auc_ci"][1]
    assert set(results["timing"]) == set(names)
    scores = torch.load(run_dir / "scores.pt", weights_only=True)
    assert scores["attacks"] == names
    assert scores["scores"].shape == (3, 4, 150)
    assert scores["is_member"].sum(0).eq(2).all()  # lira: each sample IN for half the models
    for name in ("roc", "roc_linear", *(f"roc_{a}" for a in names)):
        assert (run_dir / f"{name}.png").is_file()


def test_attack_rerun_reproduces_results_bit_for_bit(run_dir):
    main(["attack", "--run", str(run_dir)])
    old, new = _load(run_dir / "mia_results.json"), _load(run_dir / "mia_results.1.json")
    for key in ("records", "accuracy", "settings", "mia"):
        assert new[key] == old[key], key
    s_old = torch.load(run_dir / "scores.pt", weights_only=True)
    s_new = torch.load(run_dir / "scores.1.pt", weights_only=True)
    assert torch.equal(s_old["scores"], s_new["scores"])
    # other attacks and targets: a new file again, nothing overwritten
    main(["attack", "--run", str(run_dir), "--attacks", "gap,reference", "--targets", "[1]"])
    third = _load(run_dir / "mia_results.2.json")
    assert [(r["attack"], r["target"]) for r in third["records"]] == [("gap", 1), ("reference", 1)]
    assert _load(run_dir / "mia_results.1.json") == new


def _exit_code(capsys, *argv):
    with pytest.raises(SystemExit) as err:
        main(["attack", *argv])
    return err.value.code, capsys.readouterr().err


def test_attack_refuses_bad_runs(run_dir, tmp_path, capsys):
    code, err = _exit_code(capsys, "--run", str(tmp_path))
    assert code == 2
    assert "not a finished run" in err
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    signals = torch.load(broken / "signals.pt", weights_only=True)
    (broken / "signals.pt").unlink()
    torch.save(
        {"outputs": signals["outputs"][:, :-1], "labels": signals["labels"][:-1]},
        broken / "signals.pt",
    )
    code, err = _exit_code(capsys, "--run", str(broken))
    assert code == 2
    assert "membership.npz" in err
    assert "different runs" in err
    code, err = _exit_code(capsys, "--run", str(run_dir), "--mia.query_dropout=0.0")
    assert code == 2
    assert "query_dropout" in err
    code, err = _exit_code(capsys, "--run", str(run_dir), "--attacks", "nonsense")
    assert code == 2
    assert "unknown attack" in err
