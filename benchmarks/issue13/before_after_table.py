"""Issue 13 closing note, measurement (a): the table of every attack before and after the fixes.

Reads the four runs of ``before_after.sh`` (``OUT/{before,after}/breast_cancer_{ann,snn}``) and
prints, per network and attack, the pooled record of the 16 targets (``mia.targets: all``):
AUC and TPR at 1% / 0.1% / 0 FPR with their 95% bootstrap intervals, the bootstrap unit, and the
mean +- sd of the AUC over the 16 targets. Writes ``benchmarks/results/issue13_before_after.json``.

    python benchmarks/issue13/before_after_table.py /tmp/issue13_runs
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results" / "issue13_before_after.json"
FPRS = (0.01, 0.001, 0.0)


def _cpu() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    return next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if "Model name" in ln),
                platform.processor())  # fmt: skip


def _pooled(path: Path) -> dict[str, dict]:
    results = json.loads(path.read_text())
    out = {}
    for r in results["records"]:
        if r["target"] != "pooled":
            continue
        points = {p["fpr_target"]: p for p in r["tpr_at_fpr"]}
        out[r["attack"]] = {
            "auc": r["auc"],
            "auc_ci": r.get("auc_ci"),
            "auc_over_targets": r["across_targets"]["auc"],
            "tpr": {f: points[f]["tpr"] for f in FPRS},
            "tpr_ci": {f: points[f].get("tpr_ci") for f in FPRS},
            "bootstrap_unit": r.get("bootstrap", {}).get("unit", "(not stated: target x sample)"),
            "test_acc": r.get("target_test_acc"),
        }
    return out


def _ci(ci) -> str:
    return f"[{ci[0]:.3f},{ci[1]:.3f}]" if ci else ""


def main(root: Path) -> None:
    table: dict = {"cpu": _cpu(), "runs": {}}
    for kind in ("ann", "snn"):
        sides = {s: _pooled(next((root / s / f"breast_cancer_{kind}").glob("version_*"))
                            / "mia_results.json") for s in ("before", "after")}  # fmt: skip
        table["runs"][kind] = sides
        units = {s: next(iter(v.values()))["bootstrap_unit"] for s, v in sides.items()}
        print(f"\n### breast cancer {kind.upper()}, 16 models, lira scheme, pooled over 16 targets "
              f"(bootstrap unit before: {units['before']}; after: {units['after']})\n")  # fmt: skip
        head = ["attack", "side", "AUC [95% CI]", "AUC over targets",
                *(f"TPR@{f:g} [95% CI]" for f in FPRS)]  # fmt: skip
        print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
        for attack in sides["after"]:
            for side in ("before", "after"):
                r = sides[side].get(attack)
                if r is None:
                    continue
                over = r["auc_over_targets"]
                cells = [attack, side, f"{r['auc']:.4f} {_ci(r['auc_ci'])}",
                         f"{over['mean']:.4f} ± {over['std']:.4f}",
                         *(f"{r['tpr'][f]:.4f} {_ci(r['tpr_ci'][f])}" for f in FPRS)]  # fmt: skip
                print("| " + " | ".join(cells) + " |")
    RESULTS.write_text(json.dumps(table, indent=1))
    print(f"\ncpu: {table['cpu']}; written {RESULTS}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/issue13_runs"))
