"""Run a sweep: a grid of fits (one process each), skipping finished points, then a report.

``python -m lightning_snnpriv sweep --config configs/sweeps/<name>.yaml [--jobs N]`` expands the
sweep config into points, runs every unfinished one as its own ``fit`` process (by default
forked from a worker that did the imports once: ``--launcher pool``), then writes a
report (results table, summary over seeds, figures, TensorBoard summary run). Exits with code 1
when a point failed (the others still run), 2 on a bad sweep config.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Literal

from jsonargparse import ArgumentParser
from jsonargparse.typing import PositiveInt

from lightning_snnpriv.errors import UsageError
from lightning_snnpriv.sweeps.layout import SweepDir
from lightning_snnpriv.sweeps.pool_launcher import PoolLauncher
from lightning_snnpriv.sweeps.runner import LocalLauncher, worker_command
from lightning_snnpriv.sweeps.spec import key_label, load_spec, value_label

USAGE = (
    "--config SWEEP_YAML [--jobs N] [--launcher pool|local] [--dry-run | --print-commands] "
    "[--only ID ...]"
)


def add_arguments(parser: ArgumentParser) -> None:
    """The sweep config, how many points run at once, and which points."""
    parser.add_argument(
        "--config", type=str, required=True, help="The sweep YAML (configs/sweeps/<name>.yaml)."
    )
    parser.add_argument("--jobs", type=PositiveInt, default=1, help="Points run at once.")
    parser.add_argument(
        "--launcher",
        type=Literal["local", "pool"],
        default="pool" if hasattr(os, "fork") else "local",
        help="How points run: `pool` forks each point from a worker process that did the "
        "imports once (no start-up per point; the same results; POSIX only, the default "
        "there); `local` starts a new process per point.",
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
    sweep = SweepDir(spec.sweep_dir)
    points = every_point = spec.expand()
    if args.only:
        unknown = sorted(set(args.only) - {p.id for p in points})
        if unknown:
            raise UsageError(f"sweep: --only {unknown}: no such point ids (see --dry-run).")
        points = [p for p in points if p.id in args.only]
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
    print(
        f"sweep {spec.name}: {len(points)} points, {len(points) - len(todo)} finished already "
        f"(skipped), {len(todo)} to run with {args.jobs} job(s); directory {spec.sweep_dir}"
    )
    launcher = PoolLauncher(args.jobs) if args.launcher == "pool" else LocalLauncher(args.jobs)
    records = launcher.launch(spec, todo, lambda line: print(line, flush=True))
    failed = [record for record in records if record["status"] != "finished"]
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
