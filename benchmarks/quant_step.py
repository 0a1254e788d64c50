"""Quantized training at full-precision speed: one training step of M models, quantized against
full precision, side by side (and the quantized loop of separate brevitas/snntorch models).

A step is what ``PrivacyModule.training_step`` does (each model its own batch, the sum of the
cross-entropies, backward, one fused-Adam step). ``fp`` and ``quant`` are what ``ensemble:
auto`` builds for the full-precision and the quantized network (the loop for full-precision
ANN MLPs, which the vectorized ANN does not beat); ``quant_loop`` is the loop of separate
quantized models (what ``auto`` built before). brevitas' activation scales have two phases,
timed apart: ``collect`` (the first 300 training calls: a percentile of each batch) and
``learned`` (afterwards). The paths are timed in alternation (A B C A B C ...), medians of
``--repeats``; identical results are proven by ``tests/models/test_quant_vectorized.py``.

    python -m benchmarks.quant_step [--models 9] [--bits 8 4 2]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from benchmarks.common import RESULTS, interleaved, parse, parser, report
from benchmarks.ensemble import stepper
from lightning_snnpriv.models.ensemble import ModelEnsemble
from lightning_snnpriv.models.networks import ANN, SNN
from lightning_snnpriv.models.vectorized import build_ensemble

#: name -> (input shape, classes, hidden sizes, num_steps or None for an ANN, batch, extra)
CASES: dict[str, tuple[tuple[int, ...], int, list[int], int | None, int, dict[str, Any]]] = {
    "tabular ANN 30-1000-2": ((30,), 2, [1000], None, 32, {}),
    "MNIST ANN 784-512-256-10": ((1, 28, 28), 10, [512, 256], None, 128, {}),
    "tabular SNN 30-1000-2 T=10": ((30,), 2, [1000], 10, 32, {}),
    "MNIST SNN 784-128-10 T=25": ((1, 28, 28), 10, [128], 25, 128, {}),
    "MNIST hybrid SNN conv32-64-1000-10 T=10": ((1, 28, 28), 10, [1000], 10, 128,
                                                {"conv_channels": [32, 64]}),
}  # fmt: skip
DEFAULT_CASES = [name for name in CASES if "hybrid" not in name]


def default_out() -> Path:
    """``results/quant_step.json`` (the CPU model and flags are recorded inside)."""
    return RESULTS / "quant_step.json"


def _learned_phase(ensemble: nn.Module) -> None:
    """Move every brevitas activation scale past its statistics phase (the learned scale)."""
    for module in ensemble.modules():
        steps = getattr(module, "collect_stats_steps", None)
        if steps is not None and module.counter <= steps:
            module.init_scale()


def case(name: str, num_models: int, bits: int, phase: str, repeats: int, warmup: int,
         loop: bool) -> dict[str, Any]:  # fmt: skip
    shape, classes, hidden, num_steps, batch, extra = CASES[name]

    def build(quantized: bool) -> nn.Module:
        q = {"weight_bits": bits, "act_bits": bits} if quantized else {}
        if num_steps is None:
            return ANN(shape, classes, hidden, **extra, **q)
        return SNN(shape, classes, hidden, num_steps=num_steps, **extra, **q)

    torch.manual_seed(0)
    xs = [torch.rand(batch, *shape) for _ in range(num_models)]
    ys = [torch.randint(classes, (batch,)) for _ in range(num_models)]
    ensembles = {
        "fp": build_ensemble(lambda: build(False), num_models, "auto"),
        "quant": build_ensemble(lambda: build(True), num_models, "auto"),
    }
    if loop:
        ensembles["quant_loop"] = ModelEnsemble(lambda: build(True), num_models)
    if phase == "learned":
        for ensemble in ensembles.values():
            _learned_phase(ensemble)
    timed = interleaved({k: stepper(e, xs, ys) for k, e in ensembles.items()}, repeats, warmup)
    t = {k: v["median_s"] for k, v in timed.items()}
    row: dict[str, Any] = {
        "network": name, "M": num_models, "batch": batch, "bits": bits, "phase": phase,
        "fp_path": type(ensembles["fp"]).__name__, "quant_path": type(ensembles["quant"]).__name__,
        "fp_ms": 1e3 * t["fp"], "quant_ms": 1e3 * t["quant"],
        "quant_vs_fp": t["quant"] / t["fp"], "target_le_2x": t["quant"] / t["fp"] <= 2,
    }  # fmt: skip
    if loop:
        row["quant_loop_ms"] = 1e3 * t["quant_loop"]
        row["loop_vs_fp"] = t["quant_loop"] / t["fp"]
    row["times_s"] = {k: v["times_s"] for k, v in timed.items()}
    return row


def main(argv: list[str] | None = None) -> None:
    p = parser("quant_step", __doc__.splitlines()[0], repeats=5)
    p.set_defaults(out=default_out())
    p.add_argument("--models", type=int, nargs="+", default=[9])
    p.add_argument("--bits", type=int, nargs="+", default=[8, 4, 2])
    p.add_argument("--phases", nargs="+", default=["collect", "learned"],
                   choices=["collect", "learned"])  # fmt: skip
    p.add_argument("--cases", nargs="+", default=DEFAULT_CASES, choices=list(CASES))
    p.add_argument("--no-loop", action="store_true", help="skip the quantized loop (slow)")
    args = parse(p, argv)
    rows = [
        case(n, m, b, ph, args.repeats, args.warmup, loop=not args.no_loop and b == args.bits[0])
        for n in args.cases for m in args.models for b in args.bits for ph in args.phases
    ]  # fmt: skip
    columns = ["network", "M", "bits", "phase", "fp_path", "quant_path", "fp_ms", "quant_ms",
               "quant_vs_fp", "target_le_2x", "quant_loop_ms", "loop_vs_fp"]  # fmt: skip
    note = "a shared, loaded machine (load_average_1min); medians of interleaved runs"
    report("quant_step", args.out, rows, columns, note=note)


if __name__ == "__main__":
    main()
