"""Run a sweep: a grid of fits (one process each), skipping finished points, then a report.

``python -m lightning_snnpriv sweep --config configs/sweeps/<name>.yaml [--jobs N]`` expands the
sweep config into points, runs every unfinished one as its own ``fit`` process (by default
forked from a worker that did the imports once: ``--launcher pool``), then writes a
report (results table, summary over seeds, figures, TensorBoard summary run). Exits with code 1
when a point failed (the others still run), 2 on a bad sweep config.

With ``--launcher slurm`` (or ``launcher: {kind: slurm}`` in the sweep config) the unfinished
points are submitted as SLURM jobs and the command returns; ``--wait [SECONDS]`` instead waits
for them (at most that long) and then writes the report. Rerunning attaches to the queued and
running jobs instead of submitting them again; ``--status`` shows every point's state.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Literal

from jsonargparse import ArgumentParser, Namespace
from jsonargparse.typing import PositiveFloat, PositiveInt

from lightning_snnpriv.errors import UsageError
from lightning_snnpriv.sweeps.layout import SweepDir
from lightning_snnpriv.sweeps.pool_launcher import PoolLauncher
from lightning_snnpriv.sweeps.runner import LocalLauncher, worker_command
from lightning_snnpriv.sweeps.slurm_launcher import SlurmLauncher
from lightning_snnpriv.sweeps.spec import Point, SweepSpec, key_label, load_spec, value_label
from lightning_snnpriv.sweeps.status import LIVE, point_states, status_lines

USAGE = (
    "--config SWEEP_YAML [--launcher pool|local|slurm] [--jobs N] [--wait [SECONDS]] "
    "[--status | --dry-run | --print-commands] [--only ID ...]"
)
#: How long a bare ``--wait`` waits for the SLURM jobs (seconds).
DEFAULT_WAIT_S = 24 * 3600.0


def add_arguments(parser: ArgumentParser) -> None:
    """The sweep config, how many points run at once, and which points."""
    parser.add_argument(
        "--config", type=str, required=True, help="The sweep YAML (configs/sweeps/<name>.yaml)."
    )
    parser.add_argument(
        "--launcher",
        type=Literal["local", "pool", "slurm"] | None,
        default=None,
        metavar="{local,pool,slurm}",
        help="Where the points run: `local` subprocesses, `pool` (each point forked from a "
        "worker process that did the imports once: no start-up per point, the same results; "
        "POSIX only) or `slurm` jobs (default: the sweep config's launcher.kind, else local).",
    )
    parser.add_argument(
        "--jobs",
        type=PositiveInt | None,
        default=None,
        help="Local launcher: points run at once (default: launcher.jobs, else 1).",
    )
    parser.add_argument(
        "--wait",
        type=PositiveFloat | None,
        nargs="?",
        const=DEFAULT_WAIT_S,
        default=None,
        metavar="SECONDS",
        help="SLURM launcher: wait for the jobs (at most SECONDS; bare: "
        f"{DEFAULT_WAIT_S:.0f}), then write the report. Without it, sweep returns once the "
        "jobs are submitted (rerun it, or `report`, when they are done).",
    )
    parser.add_argument(
        "--status",
        action="store_true",
        help="Show each point's state (done, pending, running, failed with its stderr file, "
        "to run) from the run directories and the SLURM scheduler; run nothing.",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="List the points and their state; run nothing."
    )
    parser.add_argument(
        "--print-commands",
        action="store_true",
        help="Print one shell command per unfinished point (for a SLURM array or any "
        "scheduler: each runs that point with `--only ID --no-report`); run nothing.",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        type=str,
        default=None,
        help="Run only these point ids (listed by --dry-run).",
    )
    parser.add_argument(
        "--output-dir", type=str | None, default=None, help="Replaces the config's output_dir."
    )
    parser.add_argument("--no-report", action="store_true", help="Do not write a report.")


def run(parser: ArgumentParser, argv: Sequence[str]) -> None:
    """Run (or list) the points of a sweep, then report."""
    args = parser.parse_args(list(argv))
    spec = load_spec(args.config, args.output_dir)
    slurm = (args.launcher or spec.launcher.kind) == "slurm"
    if args.wait is not None and not slurm:
        raise UsageError("sweep: --wait is for the SLURM launcher; a local sweep always waits.")
    sweep = SweepDir(spec.sweep_dir)
    points = every_point = sweep.with_saved_names(spec.expand())
    if args.only:
        unknown = sorted(set(args.only) - {p.id for p in points})
        if unknown:
            raise UsageError(f"sweep: --only {unknown}: no such point ids (see --dry-run).")
        points = [p for p in points if p.id in args.only]
    if args.status:
        print("\n".join(status_lines(spec.name, spec.sweep_dir, point_states(sweep, points))))
        return
    done = {p.id: sweep.finished_run(p.name) for p in points}
    if args.dry_run:
        print(f"sweep {spec.name}: {len(points)} points, directory {spec.sweep_dir}")
        for i, p in enumerate(points):
            state = f"finished ({done[p.id]})" if done[p.id] else "to run"
            swept = ", ".join(f"{key_label(k)}={value_label(k, v)}" for k, v in p.swept().items())
            print(f"{i:>4}  {p.id}  {swept or '(no swept keys)'}  [{state}]")
        return
    if args.print_commands:
        for p in points:
            if not done[p.id]:
                print(worker_command(spec, p))
        return
    sweep.write_manifest(spec, every_point)
    todo = [p for p in points if not done[p.id]]
    if slurm:
        _slurm(args, spec, sweep, points, todo)
        return
    if sweep.submissions():  # points that SLURM runs now are not run here too
        live = {s.point.id for s in point_states(sweep, todo) if s.state in LIVE}
        todo = [p for p in todo if p.id not in live]
        if live:
            print(f"{len(live)} point(s) queued or running on SLURM: not run here")
    jobs = args.jobs or spec.launcher.jobs
    print(
        f"sweep {spec.name}: {len(points)} points, {len(points) - len(todo)} finished already "
        f"(skipped), {len(todo)} to run with {jobs} job(s); directory {spec.sweep_dir}"
    )
    launcher = PoolLauncher(jobs) if args.launcher == "pool" else LocalLauncher(jobs)
    records = launcher.launch(spec, todo, lambda line: print(line, flush=True))
    failed = [record for record in records if record["status"] == "failed"]  # not: held
    if not args.no_report and (todo or not sweep.reports()):
        from lightning_snnpriv.sweeps.report import write_report  # matplotlib, torch: only here

        write_report(spec.sweep_dir)
    for record in failed:
        print(
            f"FAILED {record['point']}: {record['error'].splitlines()[-1]}\n"
            f"  full log: {record['stderr']}",
            file=sys.stderr,
        )
    if failed:
        raise SystemExit(1)


def _slurm(
    args: Namespace, spec: SweepSpec, sweep: SweepDir, points: list[Point], todo: list[Point]
) -> None:
    """Submit (or attach to) the unfinished points' jobs; with ``--wait``, wait and report."""
    launcher = SlurmLauncher(spec.launcher)
    print(
        f"sweep {spec.name}: {len(points)} points, {len(points) - len(todo)} finished already, "
        f"{len(todo)} on SLURM; directory {spec.sweep_dir}",
        flush=True,
    )
    records = launcher.launch(spec, todo, lambda line: print(line, flush=True))
    new = sum(r["status"] == "submitted" for r in records)
    print(f"{new} job(s) submitted, {len(records) - new} attached to", flush=True)
    if args.wait is None:
        print(f"not waiting: `sweep --config {args.config} --status` shows their state")
        return
    states = launcher.wait(spec, points, args.wait)
    running = [s for s in states if s.state in LIVE]
    if running:
        print(
            f"{len(running)} point(s) still queued or running after {args.wait:.0f} s; their "
            "jobs go on: rerun the sweep (it attaches) or `sweep --status` later.",
            file=sys.stderr,
        )
        raise SystemExit(1)
    if not args.no_report:
        from lightning_snnpriv.sweeps.report import write_report

        write_report(spec.sweep_dir)
    failed = [s for s in states if s.state != "done"]
    for s in failed:
        print(f"FAILED {s.point.name} ({s.slurm_state})\n  full log: {s.stderr}", file=sys.stderr)
    if failed:
        raise SystemExit(1)
