"""Per-point overhead of a sweep: a new process per point (``--launcher local``) against points
forked from workers that did the imports once (``--launcher pool``), on the demo sweep.

Each repeat runs, interleaved: the whole sweep with each launcher (``python -m lightning_snnpriv
sweep --config <sweep> --no-report`` in a new process, timed from outside), and ``inprocess``:
every point's own ``fit`` command run with ``main([...])`` in this already-warm process, one
after another (the work alone: parsing, training, auditing, writing). Then

* ``overhead_per_point_s`` = (sweep wall - the in-process work of all points) / points: what a
  point costs beyond its work, the sweep process's start-up and the workers' start shared out;
* ``point_overhead_s`` = median over points of (the point's attempt ``wall_s`` - its in-process
  fit wall): the cost of starting one point once the sweep runs;
* ``cpu_overhead_per_point_s``: as the first, in CPU time (user + system of the sweep's whole
  process tree against this process's CPU time for the work), which a loaded machine disturbs
  far less than wall time.

    python -m benchmarks.sweep_overhead [--repeats 3] [--config configs/sweeps/demo.yaml]
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from benchmarks.common import REPO, parse, parser, report, run_cli
from lightning_snnpriv.commands import main as cli_main
from lightning_snnpriv.sweeps.layout import SweepDir
from lightning_snnpriv.sweeps.runner import fit_command
from lightning_snnpriv.sweeps.spec import load_spec

LAUNCHERS = ("local", "pool")


def cpu() -> dict[str, Any]:
    """``cpu_model`` and ``cpu_flags`` as ``lscpu`` reports them (the docs' tables name it)."""
    text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {
        "cpu_model": fields.get("Model name", "unknown").strip(),
        "cpu_flags": fields.get("Flags", "").split(),
    }


def sweep_wall(config: Path, launcher: str, out: Path, threads: int) -> dict[str, Any]:
    """Run the whole sweep in a new process; its wall time and the points' attempt records."""
    out.mkdir(parents=True)
    argv = ["sweep", "--config", str(config), "--output-dir", str(out), "--no-report",
            "--launcher", launcher]  # fmt: skip
    timed = run_cli(argv, cwd=out, threads=threads)
    spec = load_spec(config, str(out))
    sweep = SweepDir(spec.sweep_dir)
    attempts = {p.name: sweep.attempts(p.name)[-1] for p in spec.expand()}
    assert all(a["status"] == "finished" for a in attempts.values()), attempts
    points = {k: a["wall_s"] for k, a in attempts.items()}
    return {"wall_s": timed["wall_s"], "cpu_s": timed["cpu_s"], "points": points}


def in_process(config: Path, out: Path, limit: int | None = None) -> dict[str, Any]:
    """Every point's own ``fit`` command (the first ``limit``), run in this process in turn."""
    spec = load_spec(config, str(out))
    points: dict[str, float] = {}
    cpu_start = time.process_time()
    for point in spec.expand()[:limit]:
        argv = fit_command(spec, point)[3:]  # after `python -m lightning_snnpriv`
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # a point's stdout goes to a file too
            cli_main(argv)
        points[point.name] = time.perf_counter() - start
    cpu_s = time.process_time() - cpu_start
    return {"wall_s": sum(points.values()), "cpu_s": cpu_s, "points": points}


def main(argv: list[str] | None = None) -> None:
    p = parser("sweep_overhead", __doc__.splitlines()[0], repeats=3)
    p.add_argument("--config", type=Path, default=REPO / "configs" / "sweeps" / "demo.yaml")
    p.add_argument("--launchers", nargs="+", choices=LAUNCHERS, default=list(LAUNCHERS))
    args = parse(p, argv)
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-overhead-"))
    try:
        for k in range(args.warmup):  # this process's imports: one point, untimed
            in_process(args.config, work / f"warmup_{k}", limit=1)
        names = (*args.launchers, "inprocess")
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for k in range(args.repeats):  # interleaved: load changes hit every variant alike
            for launcher in args.launchers:
                runs[launcher].append(
                    sweep_wall(args.config, launcher, work / f"{launcher}_{k}", args.threads)
                )
            runs["inprocess"].append(in_process(args.config, work / f"inprocess_{k}"))
            print(
                f"repeat {k}: "
                + ", ".join(f"{name} {r[-1]['wall_s']:.1f} s" for name, r in runs.items()),
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = len(runs["inprocess"][0]["points"])
    rows = []
    for name, timed in runs.items():
        walls = [r["wall_s"] for r in timed]
        extra = [r["wall_s"] - w["wall_s"] for r, w in zip(timed, runs["inprocess"], strict=True)]
        extra_cpu = [r["cpu_s"] - w["cpu_s"] for r, w in zip(timed, runs["inprocess"], strict=True)]
        per_point = [
            r["points"][point] - w["points"][point]
            for r, w in zip(timed, runs["inprocess"], strict=True)
            for point in r["points"]
        ]
        rows.append({
            "variant": name,
            "points": n,
            "sweep_wall_s": median(walls),
            "overhead_per_point_s": median(extra) / n,
            "point_wall_s": median(v for r in timed for v in r["points"].values()),
            "point_overhead_s": median(per_point),
            "sweep_cpu_s": median(r["cpu_s"] for r in timed),
            "cpu_overhead_per_point_s": median(extra_cpu) / n,
            "sweep_walls_s": walls,
        })  # fmt: skip
    columns = ["variant", "points", "sweep_wall_s", "overhead_per_point_s", "point_wall_s",
               "point_overhead_s", "sweep_cpu_s", "cpu_overhead_per_point_s"]  # fmt: skip
    report("sweep_overhead", args.out, rows, columns, **cpu(), config=str(args.config),
           repeats=args.repeats, runs=runs)  # fmt: skip


if __name__ == "__main__":
    main()
