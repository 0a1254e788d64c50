"""SNN time loop: our ``SNN`` (input layer computed once per forward) against the source
study's snntorch loop (``Leaky`` per step, input layer recomputed every step).

Forward + cross-entropy + backward of one batch, the same weights, interleaved repeats. Also
timed: the same network through ``VectorizedSNN`` with one model (what ``ensemble: auto``
runs; it also reuses each step's spikes as the next step's reset). Identical results are
proven by ``tests/models/test_snn_time_loop.py`` and ``tests/models/test_vectorized.py``.

    python -m benchmarks.timeloop
"""

from __future__ import annotations

import copy

import torch
from torch.nn import functional as F

from benchmarks.common import interleaved, parse, parser, report
from benchmarks.reference import NaiveSNN
from lightning_snnpriv.models.networks import SNN
from lightning_snnpriv.models.vectorized import build_ensemble


class OneOfEnsemble(torch.nn.Module):
    """A one-model ensemble as a network: ``x -> forward_each([x])[0]``."""

    def __init__(self, ensemble: torch.nn.Module) -> None:
        super().__init__()
        self.ensemble = ensemble

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ensemble.forward_each([x])[0]


def main(argv: list[str] | None = None) -> None:
    p = parser("timeloop", __doc__.splitlines()[0], repeats=5)
    p.add_argument("--hidden", type=int, nargs="+", default=[512, 256])
    p.add_argument("--num-steps", type=int, default=25)
    p.add_argument("--batch-size", type=int, default=128)
    args = parse(p, argv)
    torch.manual_seed(0)
    ours = SNN((1, 28, 28), 10, args.hidden, num_steps=args.num_steps)
    naive = NaiveSNN(ours)
    fast = OneOfEnsemble(build_ensemble(lambda: copy.deepcopy(ours), 1, "vectorized"))
    x = torch.rand(args.batch_size, 1, 28, 28)
    y = torch.randint(10, (args.batch_size,))

    def step(net: torch.nn.Module):
        def run() -> None:
            net.zero_grad()
            F.cross_entropy(net(x), y).backward()

        return run

    paths = {"naive": step(naive), "ours": step(ours), "vectorized": step(fast)}
    timed = interleaved(paths, args.repeats, args.warmup)
    n = args.batch_size
    t = {k: v["median_s"] for k, v in timed.items()}
    rows = [{
        "network": f"SNN 784-{'-'.join(map(str, args.hidden))}-10 T={args.num_steps}",
        "batch": n,
        "naive_samples_per_s": n / t["naive"],
        "ours_samples_per_s": n / t["ours"],
        "vectorized_M1_samples_per_s": n / t["vectorized"],
        "speedup_ours": t["naive"] / t["ours"],
        "speedup_vectorized_M1": t["naive"] / t["vectorized"],
    }]  # fmt: skip
    report("timeloop", args.out, rows, list(rows[0]), timings=timed)


if __name__ == "__main__":
    main()
