"""bf16 mixed precision: one training step in float32 against the same step under bf16
autocast (what ``trainer.precision: bf16-mixed`` runs), side by side, for the paper networks.

A step as in ``benchmarks.ensemble`` (target + shadows, each its own batch, fused Adam), on the
path ``ensemble: auto`` builds. Timed in alternation, medians of ``--repeats``. The CPU's
bf16 units decide the outcome: with AVX-512 BF16 / AMX (``cpu_flags`` in the result) oneDNN
runs bf16 products faster; without them bf16 is emulated and slower. Results agree with
float32 only to bf16's precision (``tests/models/test_bf16.py``).

    python -m benchmarks.bf16_step [--models 2]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from benchmarks.common import interleaved, parse, parser, report
from lightning_snnpriv.models.module import _adam as default_optimizer
from lightning_snnpriv.models.networks import ANN, SNN
from lightning_snnpriv.models.surrogates import Surrogate
from lightning_snnpriv.models.vectorized import build_ensemble

#: name -> (builder of one network, input shape, classes, batch)
CASES: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], int, int]] = {
    "paper MNIST ConvNet ANN": (lambda: ANN((1, 28, 28), 10, [1000], conv_channels=[32, 64]),
                                (1, 28, 28), 10, 128),
    "paper MNIST hybrid SNN T=10": (lambda: SNN((1, 28, 28), 10, [1000], num_steps=10,
                                                conv_channels=[32, 64],
                                                surrogate=Surrogate("atan")),
                                    (1, 28, 28), 10, 128),
    "MNIST SNN 784-128-10 T=25": (lambda: SNN((1, 28, 28), 10, [128], num_steps=25),
                                  (1, 28, 28), 10, 128),
    "MNIST SNN 784-128-10 T=25 4-bit": (lambda: SNN((1, 28, 28), 10, [128], num_steps=25,
                                                    weight_bits=4, act_bits=4),
                                        (1, 28, 28), 10, 128),
}  # fmt: skip


def stepper(ensemble: nn.Module, xs: list, ys: list, bf16: bool) -> Callable[[], None]:
    optimizer = default_optimizer(ensemble.parameters())

    def step() -> None:
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            outs = ensemble.forward_each(xs)
            loss = torch.stack([F.cross_entropy(o, y) for o, y in zip(outs, ys, strict=True)])
        loss.sum().backward()
        optimizer.step()

    return step


def case(name: str, num_models: int, repeats: int, warmup: int) -> dict[str, Any]:
    build, shape, classes, batch = CASES[name]
    torch.manual_seed(0)
    xs = [torch.rand(batch, *shape) for _ in range(num_models)]
    ys = [torch.randint(classes, (batch,)) for _ in range(num_models)]
    ensembles = {}
    for key in ("fp32", "bf16"):
        torch.manual_seed(0)
        ensembles[key] = build_ensemble(build, num_models, "auto")
    timed = interleaved(
        {k: stepper(e, xs, ys, bf16=k == "bf16") for k, e in ensembles.items()}, repeats, warmup
    )
    t = {k: v["median_s"] for k, v in timed.items()}
    return {
        "network": name, "M": num_models, "batch": batch,
        "path": type(ensembles["fp32"]).__name__,
        "fp32_ms": 1e3 * t["fp32"], "bf16_ms": 1e3 * t["bf16"],
        "fp32_vs_bf16": t["fp32"] / t["bf16"],
        "times_s": {k: v["times_s"] for k, v in timed.items()},
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    p = parser("bf16_step", __doc__.splitlines()[0], repeats=5)
    p.add_argument("--models", type=int, nargs="+", default=[2])
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    args = parse(p, argv)
    rows = [case(n, m, args.repeats, args.warmup) for n in args.cases for m in args.models]
    columns = ["network", "M", "batch", "path", "fp32_ms", "bf16_ms", "fp32_vs_bf16"]
    note = "a shared, loaded machine (load_average_1min); medians of interleaved runs"
    report("bf16_step", args.out, rows, columns, note=note)


if __name__ == "__main__":
    main()
