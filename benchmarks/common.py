"""Shared benchmark plumbing: timing (warm-up + median of repeats), the table, the JSON file."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from lightning_snnpriv.commands.allocator import OPT_OUT, keep_freed_memory

RESULTS = Path(__file__).resolve().parent / "results"
#: ``--allocator`` choices; the one in effect is recorded with every result.
ALLOCATORS = ("tuned", "default")
_allocator = "default"


def parser(name: str, description: str, repeats: int = 5) -> argparse.ArgumentParser:
    """An argument parser with ``--out``, ``--repeats`` and ``--warmup``."""
    p = argparse.ArgumentParser(prog=f"python -m benchmarks.{name}", description=description)
    p.add_argument("--out", type=Path, default=RESULTS / f"{name}.json", help="JSON results file")
    p.add_argument("--repeats", type=int, default=repeats, help="timed repeats (median taken)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs before timing")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1 by default: on a shared, loaded machine more threads spin and "
        "make timings erratic)",
    )
    p.add_argument(
        "--allocator",
        choices=ALLOCATORS,
        default="tuned",
        help="tuned: glibc reuses freed memory, as the commands set it "
        "(lightning_snnpriv.commands.allocator); default: glibc's own thresholds",
    )
    return p


def parse(p: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv`` and apply ``--threads`` and ``--allocator``."""
    global _allocator
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.allocator == "default":  # the fits this benchmark starts leave it alone too
        os.environ[OPT_OUT] = "default"
    elif keep_freed_memory():
        _allocator = "tuned"
    return args


def median_time(fn: Callable[[], Any], repeats: int, warmup: int) -> dict[str, Any]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times: seconds per run."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "times_s": times}


def interleaved(
    fns: dict[str, Callable[[], Any]], repeats: int, warmup: int
) -> dict[str, dict[str, Any]]:
    """Time several functions in alternation (A B A B ...), so load changes hit all alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {n: {"median_s": statistics.median(t), "times_s": t} for n, t in times.items()}


#: CPU flags that decide the arithmetic's speed (recorded with every result).
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def cpu() -> dict[str, Any]:
    """The CPU model and which of :data:`CPU_FLAGS` it has (Linux ``/proc/cpuinfo``)."""
    model, flags = platform.processor() or "unknown", set()
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    return {"cpu_model": model, "cpu_flags": [f for f in CPU_FLAGS if f in flags]}


def machine() -> dict[str, Any]:
    """Where and when the numbers were measured."""
    return {
        "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        **cpu(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "allocator": _allocator,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_1min": os.getloadavg()[0],
    }


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A Markdown table of ``rows`` (floats with 3 significant figures)."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def report(name: str, out: Path, rows: list[dict[str, Any]], columns: Sequence[str],
           **extra: Any) -> None:  # fmt: skip
    """Print the table and write rows + machine info to ``out`` (a new file, or a new name)."""
    info = machine()
    print(f"\n{name} ({info['date_utc']} UTC, {info['cpu_model']}, {info['cpus']} CPUs, "
          f"torch {info['torch']}, load {info['load_average_1min']:.1f})")  # fmt: skip
    print(table(rows, columns))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():  # never overwrite a measurement: keep the old one beside the new
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out.rename(out.with_name(f"{out.stem}.{stamp}{out.suffix}"))
    out.write_text(json.dumps({"benchmark": name, "machine": info, "rows": rows, **extra},
                              indent=2) + "\n")  # fmt: skip
    print(f"wrote {out}")


REPO = Path(__file__).resolve().parent.parent


def run_cli(argv: Sequence[str], cwd: Path, threads: int) -> dict[str, Any]:
    """Run ``python -m lightning_snnpriv <argv>`` in a new process (imports included).

    Returns its wall time, CPU time (user + system) and peak resident memory (``ru_maxrss``),
    all of that process; raises if it fails.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(threads)}
    log = (cwd / "output.log").open("w")
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "lightning_snnpriv", *argv], cwd=cwd, env=env,
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    log.close()
    if proc.returncode:
        tail = (cwd / "output.log").read_text()[-3000:]
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{tail}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,
    }
