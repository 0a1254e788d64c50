"""The reference implementations the benchmarks (and tests) compare against.

:class:`NaiveSNN` is the straightforward snntorch loop of the source study: a ``Leaky`` neuron
per layer, every layer (the input layer too) recomputed at every time step. :func:`plain_fit`
is a hand-written PyTorch training loop with no Lightning.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import snntorch as snn
import torch
from torch import nn
from torch.nn import functional as F

from lightning_snnpriv.models.networks import READOUTS, SNN


class NaiveSNN(nn.Module):
    """The source study's SNN loop with the weights and neuron settings of one of our ``SNN``.

    Args:
        net: The (full-precision) network to copy.
    """

    def __init__(self, net: SNN) -> None:
        super().__init__()
        first = net.lifs[0].neuron
        self.num_steps, self.readout = net.num_steps, net.readout
        self.fcs = nn.ModuleList(nn.Linear(fc.in_features, fc.out_features) for fc in net.fcs)
        self.fcs.load_state_dict(net.fcs.state_dict())
        self.lifs = nn.ModuleList(
            snn.Leaky(
                beta=float(first.beta),
                threshold=float(first.threshold),
                spike_grad=first.spike_grad,
                reset_mechanism=first.reset_mechanism,
            )
            for _ in net.fcs
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Readout ``[batch, classes]`` after ``num_steps`` steps."""
        x = x.flatten(1)
        mems = [lif.init_leaky() for lif in self.lifs]
        spk_rec, mem_rec = [], []
        for _ in range(self.num_steps):
            cur = x
            for k, (fc, lif) in enumerate(zip(self.fcs, self.lifs, strict=True)):
                cur, mems[k] = lif(fc(cur), mems[k])
            spk_rec.append(cur)
            mem_rec.append(mems[-1])
        return READOUTS[self.readout](torch.stack(mem_rec), torch.stack(spk_rec))


def plain_fit(
    model: nn.Module,
    loader: torch.utils.data.DataLoader,
    epochs: int,
    optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer] | None = None,
) -> list[float]:
    """Train ``model`` on cross-entropy (the textbook PyTorch loop): epoch times.

    ``optimizer`` builds the optimizer from the parameters (Adam, lr 1e-3, if ``None``).
    """
    model.train()
    opt = (optimizer or (lambda p: torch.optim.Adam(p, lr=1e-3)))(model.parameters())
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for x, y in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return times
