"""The paper ConvNets of M models in one training step: conv front ends grouped, per model
(vectorized FC / LIF layers) and the loop of M separate models, side by side.

A step is what ``PrivacyModule.training_step`` does: each model its own batch, the sum of the
cross-entropies, backward, one step of the default optimizer (fused Adam) over all parameters.
The networks are those of ``configs/paper/{mnist,cifar10}_{ann,snn}.yaml`` (conv 32 -> pool ->
conv 64 -> pool -> FC 1000 -> 10; the SNN hybrid, T = 10, atan surrogate), batch 128, inputs
generated in memory. Identical per-model results: ``tests/models/test_conv_group.py``.
``--layers`` times each conv block alone instead (forward + backward of M models, one
convolution per model against one grouped convolution and against ``torch.func.vmap`` of
one block over the stacked parameters; the input's gradient where a block before it needs
it), to show where the difference comes from.

    python -m benchmarks.conv_ensemble
    python -m benchmarks.conv_ensemble --layers --out benchmarks/results/conv_layers.json
"""

from __future__ import annotations

import copy
import subprocess
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from benchmarks.common import interleaved, parse, parser, report
from benchmarks.ensemble import stepper
from lightning_snnpriv.models.conv_group import conv_modules, grouped_front
from lightning_snnpriv.models.ensemble import ModelEnsemble
from lightning_snnpriv.models.networks import ANN, SNN
from lightning_snnpriv.models.surrogates import Surrogate
from lightning_snnpriv.models.vectorized import build_ensemble

#: name -> (input shape, SNN or not)
CASES: dict[str, tuple[tuple[int, int, int], bool]] = {
    "MNIST ANN conv32-64-1000-10": ((1, 28, 28), False),
    "MNIST hybrid SNN conv32-64-1000-10 T=10": ((1, 28, 28), True),
    "CIFAR-10 ANN conv32-64-1000-10": ((3, 32, 32), False),
    "CIFAR-10 hybrid SNN conv32-64-1000-10 T=10": ((3, 32, 32), True),
}


def lscpu_model() -> str:
    """``Model name`` as ``lscpu`` prints it (``unknown`` where there is no lscpu)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    lines = [line.split(":", 1)[1].strip() for line in out.splitlines()
             if line.startswith("Model name")]  # fmt: skip
    return lines[0] if lines else "unknown"


def case(name: str, num_models: int, batch: int, repeats: int, warmup: int) -> dict[str, Any]:
    shape, spiking = CASES[name]

    def build() -> nn.Module:
        if spiking:
            return SNN(shape, 10, [1000], num_steps=10, surrogate=Surrogate("atan"),
                       conv_channels=[32, 64])  # fmt: skip
        return ANN(shape, 10, [1000], conv_channels=[32, 64])

    torch.manual_seed(0)
    loop = ModelEnsemble(build, num_models)
    xs = [torch.rand(batch, *shape) for _ in range(num_models)]
    ys = [torch.randint(10, (batch,)) for _ in range(num_models)]
    paths = {"loop": stepper(loop, xs, ys)}
    for front in ("per_model", "grouped"):
        fast = build_ensemble(build, num_models, "vectorized", front)
        fast.load_state_dict(loop.state_dict())
        paths[front] = stepper(fast, xs, ys)
    t = {k: v["median_s"] for k, v in interleaved(paths, repeats, warmup).items()}
    return {
        "network": name, "M": num_models, "batch": batch,
        **{f"{k}_ms": 1e3 * v for k, v in t.items()},
        "loop_over_per_model": t["loop"] / t["per_model"],
        "loop_over_grouped": t["loop"] / t["grouped"],
        "per_model_over_grouped": t["per_model"] / t["grouped"],
    }  # fmt: skip


def layers(name: str, num_models: int, batch: int, repeats: int, warmup: int) -> list[dict]:
    """One row per conv block of ``name``'s network: per-model and grouped forward + backward."""
    shape, _ = CASES[name]
    torch.manual_seed(0)
    stacks = [conv_modules(ANN(shape, 10, [1000], conv_channels=[32, 64]))
              for _ in range(num_models)]  # fmt: skip
    rows, size = [], shape
    for k in range(0, len(stacks[0]), 3):  # conv, pool, ReLU
        blocks = [nn.Sequential(*stack[k : k + 3]) for stack in stacks]
        x = torch.rand(num_models, batch, *size, requires_grad=k > 0)

        def per_model(blocks=blocks, x=x) -> None:
            outs = [b(x[m].contiguous(memory_format=torch.channels_last))
                    for m, b in enumerate(blocks)]  # fmt: skip
            torch.stack(outs).sum().backward()

        def grouped(blocks=blocks, x=x) -> None:
            grouped_front(blocks, x).sum().backward()

        params, buffers = stack_module_state(blocks)  # torch.func: one vmapped block
        base = copy.deepcopy(blocks[0]).to("meta")

        def one(p: dict, b: dict, xm: torch.Tensor, base: nn.Module = base) -> torch.Tensor:
            return functional_call(base, (p, b), (xm,))  # NCHW: vmap cannot ask channels_last

        def vmapped(params=params, buffers=buffers, x=x) -> None:
            vmap(one)(params, buffers, x).sum().backward()

        paths = {"per_model": per_model, "grouped": grouped, "vmap": vmapped}
        t = {n: v["median_s"] for n, v in interleaved(paths, repeats, warmup).items()}
        conv = blocks[0][0]
        # multiply-adds of the convolution: forward, weight gradient, input gradient (k > 0)
        flops = 2 * batch * size[1] * size[2] * conv.in_channels * conv.out_channels * 9
        flops *= num_models * (3 if k else 2)
        rows.append({
            "network": name, "block": f"conv {conv.in_channels}->{conv.out_channels} "
            f"at {size[1]}x{size[2]}, pool, ReLU", "M": num_models, "batch": batch,
            "per_model_ms": 1e3 * t["per_model"], "grouped_ms": 1e3 * t["grouped"],
            "vmap_ms": 1e3 * t["vmap"],
            "per_model_over_grouped": t["per_model"] / t["grouped"],
            "per_model_over_vmap": t["per_model"] / t["vmap"],
            "per_model_conv_gflop_s": flops / t["per_model"] / 1e9,
        })  # fmt: skip
        size = (conv.out_channels, size[1] // 2, size[2] // 2)
    return rows


def main(argv: list[str] | None = None) -> None:
    p = parser("conv_ensemble", __doc__.splitlines()[0], repeats=5)
    p.add_argument("--models", type=int, nargs="+", default=[16])
    p.add_argument("--batch", type=int, default=128, help="per model (the paper configs')")
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    p.add_argument("--layers", action="store_true", help="time each conv block alone")
    args = parse(p, argv)
    if args.layers:
        cases = [n for n in args.cases if "ANN" in n]  # the SNNs' front ends are the same
        rows = [row for n in cases for m in args.models
                for row in layers(n, m, args.batch, args.repeats, args.warmup)]  # fmt: skip
    else:
        rows = [case(n, m, args.batch, args.repeats, args.warmup)
                for n in args.cases for m in args.models]  # fmt: skip
    report("conv_ensemble", args.out, rows, list(rows[0]), cpu_model=lscpu_model())


if __name__ == "__main__":
    main()
