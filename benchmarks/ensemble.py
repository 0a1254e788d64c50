"""All shadows at once: one training step of M = 1 + K copies, vectorized against the loop of
M separate models (and, for SNNs, against M sequential naive snntorch models).

A step is what ``PrivacyModule.training_step`` does: each model its own batch, the sum of the
cross-entropies, backward, one step of the default optimizer (fused Adam) over all parameters.
Identical per-model results are proven by ``tests/models/test_vectorized.py``.

    python -m benchmarks.ensemble
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from benchmarks.common import interleaved, parse, parser, report
from benchmarks.reference import NaiveSNN
from lightning_snnpriv.models.ensemble import ModelEnsemble
from lightning_snnpriv.models.module import _adam as default_optimizer
from lightning_snnpriv.models.networks import ANN, SNN
from lightning_snnpriv.models.vectorized import build_ensemble, vectorized_class

#: name -> (input shape, classes, hidden sizes, num_steps or None for an ANN, batch size,
#: other network settings: quantization, conv front end)
CASES: dict[str, tuple[tuple[int, ...], int, list[int], int | None, int, dict[str, int]]] = {
    "tabular ANN 30-1000-2": ((30,), 2, [1000], None, 32, {}),
    "tabular SNN 30-1000-2 T=10": ((30,), 2, [1000], 10, 32, {}),
    "MNIST ANN 784-512-256-10": ((1, 28, 28), 10, [512, 256], None, 128, {}),
    "MNIST SNN 784-128-10 T=25": ((1, 28, 28), 10, [128], 25, 128, {}),
    # the source study's hybrid MNIST SNN (conv front end per model, LIF FC layers stacked)
    "MNIST hybrid SNN conv32-64-1000-10 T=10": ((1, 28, 28), 10, [1000], 10, 128,
                                                {"conv_channels": [32, 64]}),
    # brevitas weights / snntorch membrane quantization: per-model scales, the loop only
    "tabular ANN 30-1000-2 4-bit w+act": ((30,), 2, [1000], None, 32,
                                          {"weight_bits": 4, "act_bits": 4}),
    "MNIST SNN 784-128-10 T=25 4-bit w+mem": ((1, 28, 28), 10, [128], 25, 128,
                                              {"weight_bits": 4, "act_bits": 4}),
}  # fmt: skip
DEFAULT_CASES = [name for name, spec in CASES.items() if not spec[-1]]  # MLPs, full precision


class NaiveEnsemble(nn.Module):
    """M naive snntorch SNNs (the source study's loop) run one after another."""

    def __init__(self, loop: ModelEnsemble) -> None:
        super().__init__()
        self.members = nn.ModuleList(NaiveSNN(net) for net in loop.members)

    def forward_each(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [net(x) for net, x in zip(self.members, inputs, strict=True)]


def stepper(ensemble: nn.Module, xs: list[torch.Tensor], ys: list[torch.Tensor]) -> Callable:
    optimizer = default_optimizer(ensemble.parameters())  # what a fit uses by default

    def step() -> None:
        optimizer.zero_grad()
        outs = ensemble.forward_each(xs)
        torch.stack([F.cross_entropy(o, y) for o, y in zip(outs, ys, strict=True)]).sum().backward()
        optimizer.step()

    return step


def case(name: str, num_models: int, repeats: int, warmup: int) -> dict[str, Any]:
    shape, classes, hidden, num_steps, batch, extra = CASES[name]

    def build() -> nn.Module:
        if num_steps is None:
            return ANN(shape, classes, hidden, **extra)
        return SNN(shape, classes, hidden, num_steps=num_steps, **extra)

    torch.manual_seed(0)
    loop = ModelEnsemble(build, num_models)
    xs = [torch.rand(batch, *shape) for _ in range(num_models)]
    ys = [torch.randint(classes, (batch,)) for _ in range(num_models)]
    paths = {"loop": stepper(loop, xs, ys)}
    if vectorized_class(loop.members[0]) is not None:
        fast = build_ensemble(build, num_models, "vectorized")
        fast.load_state_dict(loop.state_dict())
        paths["vectorized"] = stepper(fast, xs, ys)
    if num_steps is not None and not extra:  # the naive SNN is an MLP
        paths["naive"] = stepper(NaiveEnsemble(loop), xs, ys)
    timed = interleaved(paths, repeats, warmup)
    t = {k: v["median_s"] for k, v in timed.items()}
    row: dict[str, Any] = {"network": name, "M": num_models, "batch": batch}
    row.update({f"{k}_ms": 1e3 * t[k] if k in t else "" for k in ("loop", "vectorized", "naive")})
    if "vectorized" in t:
        row["vs_loop"] = t["loop"] / t["vectorized"]
        row["vs_naive"] = t["naive"] / t["vectorized"] if "naive" in t else ""
    else:
        row["vs_loop"] = row["vs_naive"] = "n/a (loop only)"
    return row


def main(argv: list[str] | None = None) -> None:
    p = parser("ensemble", __doc__.splitlines()[0], repeats=5)
    p.add_argument("--models", type=int, nargs="+", default=[1, 9, 17])
    p.add_argument("--cases", nargs="+", default=DEFAULT_CASES, choices=list(CASES))
    args = parse(p, argv)
    rows = [case(n, m, args.repeats, args.warmup) for n in args.cases for m in args.models]
    report("ensemble", args.out, rows, list(rows[0]))


if __name__ == "__main__":
    main()
