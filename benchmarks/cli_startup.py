"""Start-up of the light commands: ``--help``, ``sweep --dry-run``, ``describe --help`` and
``fit --help``, each a new process, this tree against another checkout (``--baseline``).

Every command runs ``--repeats`` times per tree, interleaved (A B A B), in a new interpreter
(``python -m lightning_snnpriv ...`` with that tree first on ``PYTHONPATH``); the wall time
is the whole process, imports included, and so is the CPU time (user + system, which a loaded
machine disturbs far less). ``heavy`` lists which of torch, Lightning, snntorch and
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


def run(tree: Path, argv: list[str], cwd: Path, threads: int) -> tuple[float, float, list[str]]:
    """Wall and CPU time of ``python -X importtime -m lightning_snnpriv <argv>``, heavy imports."""
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": str(threads)}
    argv = [str(tree / a) if a.startswith("configs/") else a for a in argv]
    args = [sys.executable, "-X", "importtime", "-m", "lightning_snnpriv", *argv]
    with tempfile.TemporaryFile("w+") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        log.seek(0)
        stderr = log.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv} failed ({status}):\n{stderr[-2000:]}")
    imported = {line.split("|")[-1].strip() for line in stderr.splitlines() if "|" in line}
    return wall, usage.ru_utime + usage.ru_stime, sorted(n for n in HEAVY if n in imported)


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
    cpu_times = {(c, t): [] for c in commands for t in trees}
    heavy: dict[tuple[str, str], list[str]] = {}
    for k in range(args.warmup + args.repeats):
        for command, command_argv in commands.items():
            for name, tree in trees.items():  # interleaved: load changes hit both alike
                wall, cpu_s, imported = run(tree, command_argv, cwd, args.threads)
                heavy[command, name] = imported
                if k >= args.warmup:
                    times[command, name].append(wall)
                    cpu_times[command, name].append(cpu_s)
    rows = [
        {
            "command": command,
            "this_s": median(times[command, "this"]),
            "baseline_s": median(times[command, "baseline"]),
            "speedup": median(times[command, "baseline"]) / median(times[command, "this"]),
            "this_cpu_s": median(cpu_times[command, "this"]),
            "baseline_cpu_s": median(cpu_times[command, "baseline"]),
            "this_heavy": " ".join(heavy[command, "this"]) or "-",
            "baseline_heavy": " ".join(heavy[command, "baseline"]) or "-",
            "this_times_s": times[command, "this"],
            "baseline_times_s": times[command, "baseline"],
        }
        for command in commands
    ]
    columns = ["command", "this_s", "baseline_s", "speedup", "this_cpu_s", "baseline_cpu_s",
               "this_heavy", "baseline_heavy"]  # fmt: skip
    report("cli_startup", args.out, rows, columns, **cpu(), baseline=str(trees["baseline"]))


if __name__ == "__main__":
    main()
