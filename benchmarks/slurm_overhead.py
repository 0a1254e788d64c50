"""What SLURM adds to a fit: submit -> done through the scheduler vs the same fit run directly.

Four ways to run one tiny fit (breast cancer ANN, 1 epoch), timed in alternation so that load
changes hit all alike: a direct subprocess; a submitit job (``lightning_snnpriv.sweeps.cluster``,
submit -> ``completed``, as the sweep launcher will run a point); a 2-process DDP fit started
by Lightning; the same DDP fit as ``sbatch --wait configs/slurm/fit.sbatch`` (srun, one task per
process). Needs a SLURM cluster (``.ci/slurm.sh up``).

    python -m benchmarks.slurm_overhead [--repeats 3]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import REPO, interleaved, parse, parser, report
from lightning_snnpriv.sweeps import cluster

CONFIG = REPO / "configs" / "breast_cancer_ann.yaml"
TEMPLATE = REPO / "configs" / "slurm" / "fit.sbatch"
DDP = ["--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.strategy=ddp"]


def _fit_options(save_dir: Path) -> list[str]:
    return ["--config", str(CONFIG), "--trainer.max_epochs=1",
            "--trainer.enable_progress_bar=false", "--model.init_args.hidden_sizes=[8]",
            f"--trainer.logger.init_args.save_dir={save_dir}"]  # fmt: skip


def _cpu_model() -> str:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    names = [line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line]
    return names[0] if names else "unknown"


def _runners(tmp: Path) -> dict[str, Callable[[], None]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    python = [sys.executable, "-m", "lightning_snnpriv", "fit"]
    counter = iter(range(10**6))

    def fresh() -> Path:
        return tmp / f"r{next(counter)}"

    def direct() -> None:
        subprocess.run([*python, *_fit_options(fresh())], env=env, check=True,
                       capture_output=True)  # fmt: skip

    def submitit_job() -> None:
        out = fresh()
        parameters = {"timeout_min": 30, "cpus_per_task": 1}
        records = cluster.submit([[*python, *_fit_options(out)]], out / "jobs", cwd=tmp,
                                 parameters=parameters, env=env)  # fmt: skip
        (status,) = cluster.wait(records, timeout_s=1800, poll_s=0.2)
        if status.state != "completed":
            raise RuntimeError(status.stderr.read_text()[-3000:])

    def ddp_lightning() -> None:
        subprocess.run([*python, *_fit_options(fresh()), *DDP], env=env, check=True,
                       capture_output=True)  # fmt: skip

    def ddp_sbatch_template() -> None:
        out = fresh()
        out.mkdir()
        subprocess.run(
            ["sbatch", "--wait", "--ntasks-per-node=2", "--cpus-per-task=1", "--time=30",
             f"--output={out}/slurm-%j.out",
             f"--export=ALL,PYTHON={sys.executable},PYTHONPATH={REPO}",
             str(TEMPLATE), *_fit_options(out)[1:], *DDP],
            cwd=tmp, check=True, capture_output=True,
        )  # fmt: skip

    return {"direct": direct, "submitit_job": submitit_job, "ddp_lightning": ddp_lightning,
            "ddp_sbatch_template": ddp_sbatch_template}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Time the four ways side by side and report the SLURM ones relative to the direct ones."""
    args = parse(parser("slurm_overhead", __doc__.splitlines()[0], repeats=3), argv)
    problem = cluster.slurm_unavailable()
    if problem:
        sys.exit(f"error: no SLURM cluster here ({problem}); .ci/slurm.sh up starts one")
    with tempfile.TemporaryDirectory() as tmp:
        timings = interleaved(_runners(Path(tmp)), args.repeats, args.warmup)
    base = {"submitit_job": "direct", "ddp_sbatch_template": "ddp_lightning"}
    rows = [
        {"way": name, "median_s": t["median_s"],
         "vs": base.get(name, ""),
         "ratio": t["median_s"] / timings[base[name]]["median_s"] if name in base else "",
         "times_s": ", ".join(f"{x:.1f}" for x in t["times_s"])}
        for name, t in timings.items()
    ]  # fmt: skip
    report("slurm_overhead", args.out, rows, ["way", "median_s", "vs", "ratio", "times_s"],
           cpu_model=_cpu_model(), slurm_nodes=subprocess.run(
               ["sinfo", "--noheader", "--format=%N %c %T"], capture_output=True, text=True
           ).stdout.strip())  # fmt: skip


if __name__ == "__main__":
    main()
