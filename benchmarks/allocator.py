"""glibc's allocator as it comes against the tuned one (``commands/allocator.py``): one
training step of the same ensembles, side by side.

Each measurement is a new process (the allocator's thresholds are set once per process and its
heap state carries over), started in alternation (default, tuned, default, tuned, ...) for every
network, ``--repeats`` times. A process builds the ensemble ``ensemble: auto`` picks, runs
``--warmup`` steps (each model its own batch, fused Adam, as ``benchmarks.ensemble``), then
times ``--steps`` steps and counts the minor page faults they caused (``getrusage``). The values
computed are the same either way; only where the memory comes from changes.

    python -m benchmarks.allocator [--repeats 3] [--steps 20]
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import torch

from benchmarks.common import REPO, parse, parser, report
from benchmarks.ensemble import stepper
from lightning_snnpriv.commands.allocator import OPT_OUT
from lightning_snnpriv.models.networks import ANN, SNN
from lightning_snnpriv.models.vectorized import build_ensemble

#: name -> (input shape, classes, hidden sizes, num_steps or None for an ANN, batch, M, extra)
CASES: dict[str, tuple[tuple[int, ...], int, list[int], int | None, int, int, dict[str, Any]]] = {
    "paper MNIST ConvNet ANN": ((1, 28, 28), 10, [1000], None, 128, 2, {"conv_channels": [32, 64]}),
    "paper MNIST hybrid SNN T=10": ((1, 28, 28), 10, [1000], 10, 128, 2,
                                    {"conv_channels": [32, 64], "surrogate": "atan"}),
    "tabular ANN 30-1000-2": ((30,), 2, [1000], None, 32, 9, {}),
    "tabular ANN 30-1000-2 4-bit": ((30,), 2, [1000], None, 32, 9,
                                    {"weight_bits": 4, "act_bits": 4}),
    "MNIST ANN 784-512-256-10 4-bit": ((1, 28, 28), 10, [512, 256], None, 128, 9,
                                       {"weight_bits": 4, "act_bits": 4}),
    "tabular SNN 30-1000-2 T=10 4-bit": ((30,), 2, [1000], 10, 32, 9,
                                         {"weight_bits": 4, "act_bits": 4}),
    "MNIST SNN 784-128-10 T=25 4-bit": ((1, 28, 28), 10, [128], 25, 128, 9,
                                        {"weight_bits": 4, "act_bits": 4}),
}  # fmt: skip
ALLOCATORS = ("default", "tuned")


def measure(name: str, steps: int, warmup: int) -> dict[str, float]:
    """In this process: ``steps`` training steps of case ``name``, ms per step and faults."""
    from lightning_snnpriv.models.surrogates import Surrogate

    shape, classes, hidden, num_steps, batch, models, extra = CASES[name]
    extra = {k: Surrogate(v) if k == "surrogate" else v for k, v in extra.items()}

    def build() -> torch.nn.Module:
        if num_steps is None:
            return ANN(shape, classes, hidden, **extra)
        return SNN(shape, classes, hidden, num_steps=num_steps, **extra)

    torch.manual_seed(0)
    ensemble = build_ensemble(build, models, "auto")
    xs = [torch.rand(batch, *shape) for _ in range(models)]
    ys = [torch.randint(classes, (batch,)) for _ in range(models)]
    step = stepper(ensemble, xs, ys)
    for _ in range(warmup):
        step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = (time.perf_counter() - start) / steps
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps
    return {"ms": 1e3 * seconds, "faults": faults, "path": type(ensemble).__name__}


def child(name: str, allocator: str, steps: int, warmup: int, threads: int) -> dict[str, Any]:
    """:func:`measure` in a new process with ``allocator``."""
    env = {**os.environ, OPT_OUT: allocator}
    code = (
        "import json, sys, torch; torch.set_num_threads(int(sys.argv[5]));"
        "from benchmarks import allocator as a;"
        "from lightning_snnpriv.commands.allocator import keep_freed_memory as keep;"
        "keep() if sys.argv[2] == 'tuned' else None;"
        "print(json.dumps(a.measure(sys.argv[1], int(sys.argv[3]), int(sys.argv[4]))))"
    )
    argv = [sys.executable, "-c", code, name, allocator, str(steps), str(warmup), str(threads)]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    p = parser("allocator", __doc__.splitlines()[0], repeats=3)
    p.add_argument("--steps", type=int, default=20, help="timed steps per process")
    p.add_argument("--warmup-steps", type=int, default=5)
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    args = parse(p, argv)
    rows = []
    for name in args.cases:
        runs: dict[str, list[dict[str, Any]]] = {a: [] for a in ALLOCATORS}
        for _ in range(args.repeats):
            for allocator in ALLOCATORS:
                runs[allocator].append(
                    child(name, allocator, args.steps, args.warmup_steps, args.threads)
                )
        ms = {a: statistics.median(r["ms"] for r in runs[a]) for a in ALLOCATORS}
        faults = {a: statistics.median(r["faults"] for r in runs[a]) for a in ALLOCATORS}
        rows.append({
            "network": name, "M": CASES[name][5], "path": runs["tuned"][0]["path"],
            "default_ms": ms["default"], "tuned_ms": ms["tuned"],
            "default_vs_tuned": ms["default"] / ms["tuned"],
            "default_faults_per_step": faults["default"], "tuned_faults_per_step": faults["tuned"],
            "runs": [{"allocator": a, **r} for a in ALLOCATORS for r in runs[a]],
        })  # fmt: skip
        print(rows[-1]["network"], f"{rows[-1]['default_vs_tuned']:.2f}x", flush=True)
    columns = ["network", "M", "path", "default_ms", "tuned_ms", "default_vs_tuned",
               "default_faults_per_step", "tuned_faults_per_step"]  # fmt: skip
    report("allocator", args.out, rows, columns, steps=args.steps)


if __name__ == "__main__":
    main()
