"""Attack-side input dropout: seeded, inverted dropout averaged over masks."""

import torch
from torch import nn

from lightning_snnpriv.callbacks.query import DropoutQuery


def test_dropout_query_is_seeded_inverted_dropout():
    net = nn.Linear(6, 3)
    x = torch.randn(5, 6)
    a = DropoutQuery(net, p=0.5, repeats=4, seed=7)(x)
    b = DropoutQuery(net, p=0.5, repeats=4, seed=7)(x)
    assert torch.equal(a, b)
    g = torch.Generator().manual_seed(7)
    manual = sum(net(x * (torch.rand(x.shape, generator=g) >= 0.5) / 0.5) for _ in range(4)) / 4
    torch.testing.assert_close(a, manual)
    assert not torch.allclose(a, net(x))
