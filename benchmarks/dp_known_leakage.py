"""The known-leakage case with and without DP-SGD: over-fitted digit MLPs, ``lira`` scheme.

Eight ANN MLPs (target + 7 shadows; each digit is IN for half of them) are trained long enough
to over-fit, once without DP and once with DP-SGD (Opacus) at a small target epsilon. Every
model is audited as the target in turn (``mia.targets: all``); the pooled LiRA / RMIA records
give the TPR at 1% FPR, the AUC, the empirical epsilon lower bound (95%, at the run's delta)
and, for the DP run, the accountant's epsilon; with the models' test accuracies.

    nice -n 5 python -m benchmarks.dp_known_leakage [--epochs 60] [--epsilon 1]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import REPO, RESULTS, report, run_cli
from benchmarks.dp_privacy_accuracy import cpu_model
from lightning_snnpriv.runs import RunDir

ATTACKS = ["lira_online", "lira_offline", "rmia_online", "rmia_offline", "loss"]


def fit_args(save_dir: Path, epochs: int, dp: str | None, seed: int) -> list[str]:
    return [
        "fit", "--config", str(REPO / "configs" / "breast_cancer_ann.yaml"),
        f"--seed_everything={seed}",
        "--data.class_path=lightning_snnpriv.data.DigitsDataModule",
        "--data.init_args.scheme=lira", "--data.init_args.num_shadows=7",
        "--data.init_args.batch_size=64",
        "--model.init_args.hidden_sizes=[256]",
        f"--model.init_args.dp={dp or 'null'}",
        f"--trainer.max_epochs={epochs}", "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        f"--trainer.logger.init_args.save_dir={save_dir}",
        f"--mia.attacks=[{','.join(ATTACKS)}]", "--mia.targets=all",
        "--mia.fpr_targets=[0.01,0.001]", "--mia.bootstrap=200",
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.dp_known_leakage")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--epsilon", type=float, default=1.0, help="DP-SGD target epsilon")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS / "dp_known_leakage.json")
    args = p.parse_args(argv)
    dp = f'{{"target_epsilon": {args.epsilon}, "max_grad_norm": 1.0, "delta": 1.0e-5}}'
    rows, commands = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, setting in (("no DP", None), (f"DP-SGD eps={args.epsilon:g}", dp)):
            save_dir = Path(tmp) / name.replace(" ", "_").replace("=", "")
            save_dir.mkdir()
            argv_ = fit_args(save_dir, args.epochs, setting, args.seed)
            commands[name] = "python -m lightning_snnpriv " + " ".join(
                a if " " not in a else f"'{a}'" for a in argv_
            )
            cost = run_cli(argv_, save_dir, threads=1)
            (run,) = save_dir.glob("*/version_*")
            results = RunDir(run).load_results()
            dp_info = results["settings"].get("dp") or {}
            for record in results["records"]:
                if record["target"] != "pooled":
                    continue
                tpr = {f"{t['fpr_target']:g}": t for t in record["tpr_at_fpr"]}
                rows.append({
                    "setting": name,
                    "attack": record["attack"],
                    "auc": record["auc"],
                    "auc_ci": record.get("auc_ci"),
                    "tpr_at_1pct_fpr": tpr["0.01"]["tpr"],
                    "tpr_at_1pct_fpr_ci": tpr["0.01"].get("tpr_ci"),
                    "eps_lower_bound": record["epsilon_lower_bound"],
                    "eps_accountant": record["epsilon"],
                    "noise_multiplier": dp_info.get("noise_multiplier"),
                    "train_acc": record["target_train_acc"],
                    "test_acc": record["target_test_acc"],
                    "members": record["n_members"],
                    "nonmembers": record["n_nonmembers"],
                    "wall_s": cost["wall_s"],
                })  # fmt: skip
    report("dp_known_leakage", args.out, rows,
           ["setting", "attack", "auc", "tpr_at_1pct_fpr", "eps_lower_bound", "eps_accountant",
            "train_acc", "test_acc"],
           cpu_model=cpu_model(), commands=commands, epochs=args.epochs)  # fmt: skip


if __name__ == "__main__":
    main()
