"""Our SNN (input layer computed once per forward) equals the source study's snntorch loop."""

from __future__ import annotations

import pytest
import torch

from benchmarks.reference import NaiveSNN
from lightning_snnpriv.models.networks import SNN
from lightning_snnpriv.models.surrogates import Surrogate


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"reset_mechanism": "zero", "readout": "membrane_mean"},
        {"reset_mechanism": "none", "readout": "spike_count", "surrogate": Surrogate("atan")},
    ],
)
def test_hoisted_input_layer_matches_naive_snntorch_loop(kwargs):
    torch.manual_seed(0)
    ours = SNN((10,), 3, [12, 6], num_steps=8, **kwargs)
    with torch.no_grad():  # stronger weights: every layer spikes, so every gradient is tested
        for fc in ours.fcs:
            fc.weight.mul_(3).add_(0.2)
    naive = NaiveSNN(ours)
    x = 2 * torch.rand(5, 10)
    out_ours, out_naive = ours(x), naive(x)
    torch.testing.assert_close(out_ours, out_naive, rtol=0, atol=0)  # forward: bitwise
    assert out_naive.abs().sum() > 0
    (out_ours**2).sum().backward()
    (out_naive**2).sum().backward()
    for fc_ours, fc_naive in zip(ours.fcs, naive.fcs, strict=True):
        torch.testing.assert_close(fc_ours.weight.grad, fc_naive.weight.grad, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(fc_ours.bias.grad, fc_naive.bias.grad, rtol=1e-5, atol=1e-6)
        assert fc_naive.weight.grad.abs().sum() > 0
