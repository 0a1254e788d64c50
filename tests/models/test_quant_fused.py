"""The fused quantizer nodes against the unfused ones and the library layers.

``StackedWeightQuant`` and ``ActQuant`` (``models/quant_fused.py``) and the boundary form of
``nearest_level`` (``models/membrane_quant.py``) must give the values of the nodes they replace
bit for bit, and their gradients to float rounding, in every case they take: bit widths,
per-tensor and per-channel scales, tied maxima, ReLU and identity activations, reused buffers.
"""

from __future__ import annotations

import pytest
import torch

from lightning_snnpriv.models import quant
from lightning_snnpriv.models.membrane_quant import (
    level_bounds,
    nearest_level,
    nearest_level_by_distances,
)
from lightning_snnpriv.models.quant_vectorized import stacked_act, stacked_weight

GRAD_TOL = {"rtol": 1e-5, "atol": 1e-6}
A = 3
BITS = [2, 3, 4, 8, 16, 32]


def _weights_and_grads(layers, fused: bool, upstream: torch.Tensor):
    for layer in layers:
        layer.weight.grad = None
    stacked = stacked_weight(layers, fused=fused)
    (stacked * upstream).sum().backward()
    return stacked.detach(), [layer.weight.grad.clone() for layer in layers]


def _tie(layers, kind: str) -> None:
    """Make the absolute maximum of each layer's weights tie (or vanish)."""
    with torch.no_grad():
        for layer in layers:
            w = layer.weight.view(-1)
            top = w.abs().max()
            if kind == "same-sign":
                w[:3] = top
            elif kind == "both-signs":
                w[0], w[1] = top, -top
            elif kind == "negative":
                w[0] = -2 * top
            elif kind == "zero":
                w.zero_()


@pytest.mark.parametrize("tie", ["none", "same-sign", "both-signs", "negative", "zero"])
@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
@pytest.mark.parametrize("conv", [False, True], ids=["linear", "conv"])
def test_fused_weights_equal_the_unfused_node_and_brevitas(tie, per_channel, conv):
    for bits in BITS:
        torch.manual_seed(bits)
        if conv:
            layers = [quant.conv2d(3, 4, 3, bits, per_channel) for _ in range(A)]
        else:
            layers = [quant.linear(5, 4, bits, per_channel) for _ in range(A)]
        _tie(layers, tie)
        upstream = torch.randn(A, *layers[0].weight.shape)
        fused, fused_grads = _weights_and_grads(layers, True, upstream)
        plain, plain_grads = _weights_and_grads(layers, False, upstream)
        assert torch.equal(fused, plain), bits
        for j, layer in enumerate(layers):
            assert torch.equal(fused[j], layer.quant_weight().value), (bits, j)
            torch.testing.assert_close(fused_grads[j], plain_grads[j], rtol=1e-4, atol=1e-5)
            layer.weight.grad = None
            (layer.quant_weight().value * upstream[j]).sum().backward()
            torch.testing.assert_close(fused_grads[j], layer.weight.grad, rtol=1e-4, atol=1e-5)


def test_fused_weight_gradient_holds_the_scale_term():
    """The maximum's element gets the scale's gradient: not only the straight-through one."""
    torch.manual_seed(0)
    layers = [quant.linear(6, 5, 3) for _ in range(A)]
    upstream = torch.randn(A, 5, 6)
    _, grads = _weights_and_grads(layers, True, upstream)
    for j, layer in enumerate(layers):
        top = layer.weight.abs().argmax()
        other = (grads[j] - upstream[j]).view(-1)
        assert other[top] != 0
        assert torch.equal(torch.cat([other[:top], other[top + 1 :]]), torch.zeros(29))


def _acts(kind: str, bits: int):
    return [quant.relu(bits) if kind == "relu" else quant.input_quantizer(bits) for _ in range(A)]


def _learned(modules) -> None:
    for m in modules:
        scaling = m.act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl
        scaling.counter = scaling.collect_stats_steps + 1
        with torch.no_grad():
            scaling.value.fill_(0.7)


@pytest.mark.parametrize("phase", ["collect", "learned"])
@pytest.mark.parametrize("kind", ["relu", "identity"])
def test_fused_acts_equal_the_unfused_nodes(kind, phase):
    """Values, input and scale gradients; a ReLU's zero and negative inputs pass nothing."""
    for bits in [b for b in [1, *BITS] if kind == "relu" or b >= quant.MIN_INPUT_BITS]:
        torch.manual_seed(bits)
        x = 2 * torch.randn(A, 7, 5)
        x[:, 0, :2] = 0.0  # the ReLU's derivative at 0 is 0
        upstream = torch.randn_like(x)
        results = []
        for fused in (True, False):
            modules = _acts(kind, bits)
            if phase == "learned":
                _learned(modules)
            xi = x.clone().requires_grad_()
            y = stacked_act(modules, xi, [7] * A, fused=fused)
            (y * upstream).sum().backward()
            values = [m.act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl.value
                      for m in modules]  # fmt: skip
            results.append((y.detach(), xi.grad, [v.grad for v in values]))
        (y_fused, g_fused, v_fused), (y_plain, g_plain, v_plain) = results
        assert torch.equal(y_fused, y_plain), bits
        torch.testing.assert_close(g_fused, g_plain, **GRAD_TOL)
        for a, b in zip(v_fused, v_plain, strict=True):
            assert (a is None) == (b is None)
            if a is not None:
                torch.testing.assert_close(a, b, **GRAD_TOL)
        if kind == "relu":
            assert torch.equal(g_fused[x <= 0], torch.zeros(int((x <= 0).sum())))


def _level_cases():
    for bits in [1, 2, 3, 4, 8, 12]:
        for threshold, low, high in [(1.0, 0.0, 0.2), (0.5, 0.3, 0.0), (2.0, 0.1, 0.7)]:
            yield bits, quant.MembraneQuantizer(bits, threshold, low, high).levels()


def test_level_bounds_are_snntorchs_decision_boundaries():
    """At each boundary snntorch picks the upper level; one float below it, the lower."""
    for bits, levels in _level_cases():
        bounds = level_bounds(levels)
        below = torch.nextafter(bounds, torch.tensor(-1e9))
        d = (levels[1:] - bounds).abs() < (levels[:-1] - bounds).abs()
        d_below = (levels[1:] - below).abs() < (levels[:-1] - below).abs()
        assert bool(d.all()), bits
        assert not bool(d_below.any()), bits


def test_nearest_level_equals_the_two_distance_form_and_reuses_buffers():
    for bits, levels in _level_cases():
        mid = (levels[1:] + levels[:-1]) / 2
        x = torch.cat([
            torch.randn(4000) * 3, levels, mid,
            torch.nextafter(mid, torch.tensor(-1e9)), torch.nextafter(mid, torch.tensor(1e9)),
        ])  # fmt: skip
        expected = nearest_level_by_distances(x, levels)
        assert torch.equal(nearest_level(x, levels), expected), bits
        ints = [torch.empty_like(x, dtype=torch.int32) for _ in range(2)]
        buffers = (torch.empty_like(x), torch.empty_like(x), *ints)
        out = nearest_level(x, levels, buffers)
        assert out.data_ptr() == buffers[1].data_ptr()
        assert torch.equal(out, expected), bits
        strided = x[: len(x) // 2 * 2].view(2, -1)[
            :, ::2
        ]  # a non-contiguous input (a membrane step's view)
        assert torch.equal(
            nearest_level(strided, levels), nearest_level_by_distances(strided, levels)
        )
