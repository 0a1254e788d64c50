"""CPU seconds of one study point, for pricing the studies (docs/guide/study.md).

For each dataset given: ANN and SNN, full precision and 2 bits, the ``source`` (paper recipe)
and ``strong`` (lira scheme, 8 models, LiRA + RMIA, all targets) settings; one in-process fit
at 2 and at 12 epochs (``resource.getrusage``; imports excluded and reported once), the
per-epoch slope and the fixed part, projected to the recipes' 20 epochs. Writes
``benchmarks/results/study_cost_<datasets>.json`` with the CPU model and the load average.

    python benchmarks/study_cost.py digits
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STRONG = [
    "--data.init_args.scheme=lira",
    "--data.init_args.num_shadows=7",
    "--mia.attacks=[lira_online, lira_offline_fixvar, rmia_online]",
    "--mia.targets=all",
    "--mia.bootstrap=0",
]
ROOT = Path(__file__).resolve().parents[1]


def cpu() -> float:
    """CPU seconds (user + system) of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(datasets: list[str]) -> None:
    """Measure every point of the datasets; print each and write the results JSON."""
    from lightning_snnpriv.commands import main as cli

    model = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((x.split(":", 1)[1].strip() for x in model.splitlines() if "Model name" in x), "")
    out = {"cpu_model": model, "import_cpu_s": cpu(), "load_start": os.getloadavg(), "points": []}
    save = tempfile.mkdtemp(prefix="study_cost_")
    for data in datasets:
        for kind in ("ann", "snn"):
            for bits in ("null", "2"):
                for setting, extra in (("source", []), ("strong", STRONG)):
                    res = {}
                    for epochs in (2, 12):
                        c0, w0 = cpu(), time.time()
                        cli([
                            "fit", "--config", str(ROOT / f"configs/paper/{data}_{kind}.yaml"),
                            f"--trainer.max_epochs={epochs}", "--trainer.enable_progress_bar=false",
                            "--trainer.enable_model_summary=false", "--mia.print_table=false",
                            f"--trainer.logger.init_args.save_dir={save}/{data}",
                            f"--model.init_args.weight_bits={bits}",
                            f"--model.init_args.act_bits={bits}", *extra,
                        ])  # fmt: skip
                        res[epochs] = (cpu() - c0, time.time() - w0)
                    per_epoch = (res[12][0] - res[2][0]) / 10
                    fixed = res[2][0] - 2 * per_epoch
                    point = {
                        "data": data, "kind": kind, "bits": bits, "setting": setting,
                        "cpu_2ep": res[2][0], "cpu_12ep": res[12][0], "wall_2ep": res[2][1],
                        "wall_12ep": res[12][1], "cpu_per_epoch": per_epoch, "cpu_fixed": fixed,
                        "cpu_20ep_projected": fixed + 20 * per_epoch,
                    }  # fmt: skip
                    out["points"].append(point)
                    print(json.dumps(point), flush=True)
    out["load_end"] = os.getloadavg()
    path = ROOT / "benchmarks" / "results" / f"study_cost_{'_'.join(datasets)}.json"
    path.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:] or ["digits"])
