"""Privacy-accuracy table of breast cancer (ANN, SNN): full precision, 4 bits, DP-SGD at three
epsilons; AUC, TPR at 1% FPR, empirical epsilon lower bound, accountant epsilon and test
accuracy per attack, mean over seeds with 95% t-intervals (``sweeps.statistics.mean_interval``).

Runs the sweep ``configs/sweeps/dp_breast_cancer.yaml`` (points already finished are skipped)
unless ``--no-run``, then reads its results:

    nice -n 5 python -m benchmarks.dp_privacy_accuracy            # run + table
    python -m benchmarks.dp_privacy_accuracy --no-run             # table of what has finished
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import REPO, RESULTS, report
from lightning_snnpriv.sweeps.layout import SweepDir
from lightning_snnpriv.sweeps.statistics import mean_interval
from lightning_snnpriv.sweeps.table import collect_rows

SWEEP = REPO / "configs" / "sweeps" / "dp_breast_cancer.yaml"
METRICS = {
    "AUC": "auc",
    "TPR@1%FPR": "tpr_at_fpr_0.01",
    "eps_lower_bound": "epsilon_lower_bound",
    "eps_accountant": "epsilon",
    "test_acc": "target_test_acc",
}


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def setting(row: dict) -> str:
    """The row's privacy setting: full precision, 4 bits or DP-SGD at its target epsilon."""
    dp = row.get("model.init_args.dp", "null")
    if dp not in (None, "null"):
        return f"DP eps={json.loads(dp)['target_epsilon']:g}"
    return "4 bits" if str(row.get("model.init_args.weight_bits")) == "4" else "full precision"


def cell(values: Sequence[float]) -> str:
    if not values:
        return ""
    i = mean_interval(values)
    return f"{i.mean:.3f} [{i.low:.3f}, {i.high:.3f}]"


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.dp_privacy_accuracy")
    p.add_argument("--no-run", action="store_true", help="only tabulate finished points")
    p.add_argument("--sweep-dir", type=Path, default=REPO / "logs" / "sweeps" / "dp_breast_cancer")
    p.add_argument("--out", type=Path, default=RESULTS / "dp_privacy_accuracy.json")
    args = p.parse_args(argv)
    if not args.no_run:
        subprocess.run([sys.executable, "-m", "lightning_snnpriv", "sweep", "--config", str(SWEEP),
                        "--jobs", "1"], check=True, cwd=REPO)  # fmt: skip
    sweep = SweepDir(args.sweep_dir)
    rows = [r for r in collect_rows(sweep, sweep.load_manifest()) if r["status"] == "finished"]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["kind"], setting(r), r["attack"]), []).append(r)
    table = []
    for (kind, name, attack), members in sorted(groups.items()):
        entry = {"kind": kind, "setting": name, "attack": attack, "seeds": len(members)}
        for label, key in METRICS.items():
            values = [float(m[key]) for m in members if m.get(key) not in (None, "")]
            entry[label] = cell(values)
            entry[f"{label}_values"] = values
        table.append(entry)
    report("dp_privacy_accuracy", args.out, table,
           ["kind", "setting", "attack", "seeds", *METRICS],
           cpu_model=cpu_model(), sweep=str(SWEEP.relative_to(REPO)),
           interval="95% t-interval over seeds (sweeps.statistics.mean_interval)")  # fmt: skip


if __name__ == "__main__":
    main()
