"""Start-up of the light commands: ``--help``, ``sweep --dry-run``, ``describe --help`` and
``fit --help``, each a new process, this tree against another checkout (``--baseline``).

Every command runs ``--repeats`` times per tree, interleaved (A B A B), in a new interpreter
(``python -m lightning_snnpriv ...`` with that tree first on ``PYTHONPATH``); the wall time
is the whole process, imports included. ``heavy`` lists which of torch, Lightning, snntorch and
brevitas the command imported (``python -X importtime``'s log).

    python -m benchmarks.cli_startup --baseline /work/main [--repeats 5]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from benchmarks.common import REPO, parse, parser, report
from benchmarks.sweep_overhead import cpu

HEAVY = ("torch", "pytorch_lightning", "snntorch", "brevitas")
COMMANDS = {
    "help": ["--help"],
    "sweep --dry-run": ["sweep", "--config", "configs/sweeps/demo.yaml", "--dry-run"],
    "describe --help": ["describe", "--help"],
    "fit --help": ["fit", "--help"],
}


def run(tree: Path, argv: list[str], cwd: Path, threads: int) -> tuple[float, list[str]]:
    """Wall time of ``python -X importtime -m lightning_snnpriv <argv>`` and the heavy imports."""
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": str(threads)}
    argv = [str(tree / a) if a.startswith("configs/") else a for a in argv]
    args = [sys.executable, "-X", "importtime", "-m", "lightning_snnpriv", *argv]
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    return wall, sorted(name for name in HEAVY if name in imported)


def main(argv: list[str] | None = None) -> None:
    p = parser("cli_startup", __doc__.splitlines()[0], repeats=5)
    p.add_argument("--baseline", type=Path, required=True, help="another checkout (main)")
    p.add_argument("--commands", nargs="+", choices=list(COMMANDS), default=list(COMMANDS),
                   help="the commands to time (all by default)")  # fmt: skip
    args = parse(p, argv)
    commands = {name: COMMANDS[name] for name in args.commands}
    trees = {"this": REPO, "baseline": args.baseline.resolve()}
    cwd = Path(tempfile.mkdtemp(prefix="bench-cli-startup-"))
    times = {(c, t): [] for c in commands for t in trees}
    heavy: dict[tuple[str, str], list[str]] = {}
    for k in range(args.warmup + args.repeats):
        for command, command_argv in commands.items():
            for name, tree in trees.items():  # interleaved: load changes hit both alike
                wall, imported = run(tree, command_argv, cwd, args.threads)
                heavy[command, name] = imported
                if k >= args.warmup:
                    times[command, name].append(wall)
    rows = [
        {
            "command": command,
            "this_s": median(times[command, "this"]),
            "baseline_s": median(times[command, "baseline"]),
            "speedup": median(times[command, "baseline"]) / median(times[command, "this"]),
            "this_heavy": " ".join(heavy[command, "this"]) or "-",
            "baseline_heavy": " ".join(heavy[command, "baseline"]) or "-",
            "this_times_s": times[command, "this"],
            "baseline_times_s": times[command, "baseline"],
        }
        for command in commands
    ]
    columns = ["command", "this_s", "baseline_s", "speedup", "this_heavy", "baseline_heavy"]
    report("cli_startup", args.out, rows, columns, **cpu(), baseline=str(trees["baseline"]))


if __name__ == "__main__":
    main()
