"""ConvNets run in channels_last memory format: the same outputs, gradients and checkpoints.

Full-precision ReLU also runs after the max pooling instead of before (max pooling commutes
with a non-decreasing function); the ANN is compared with a plain functional forward in the
textbook order (convolution, ReLU, pooling) on contiguous NCHW tensors.
"""

from __future__ import annotations

import copy
import io

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from lightning_snnpriv.models import networks
from lightning_snnpriv.models.networks import ANN, SNN

SHAPE = (2, 12, 12)
CL = torch.channels_last


def _inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(8, *SHAPE, generator=g), torch.randint(0, 3, (8,), generator=g)


def _nchw_copy(net: nn.Module) -> nn.Module:
    """The same network with every parameter in the default contiguous (NCHW) layout."""
    return copy.deepcopy(net).to(memory_format=torch.contiguous_format)


def _run(net: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int = 1):
    net.zero_grad()
    torch.manual_seed(seed)  # the same Poisson spikes for rate-coded SNNs
    out = net(x)
    F.cross_entropy(out, y).backward()
    return out.detach(), {k: p.grad.clone() for k, p in net.named_parameters()}


def _textbook_ann(net: ANN, x: torch.Tensor) -> torch.Tensor:
    """conv -> ReLU -> pool per block, then the FC layers, on contiguous tensors."""
    convs = [m for m in net.layers if isinstance(m, nn.Conv2d)]
    fcs = [m for m in net.layers if isinstance(m, nn.Linear)]
    h = x
    for conv in convs:
        weight = conv.weight.contiguous()
        h = F.max_pool2d(F.relu(F.conv2d(h, weight, conv.bias, padding=1)), 2)
    h = h.flatten(1)
    for k, fc in enumerate(fcs):
        h = fc(h)
        if k < len(fcs) - 1:
            h = F.relu(h)
    return h


def _assert_close_grads(grads, reference):
    assert grads.keys() == reference.keys()
    for key, grad in grads.items():
        scale = reference[key].abs().max().clamp_min(1e-12)
        torch.testing.assert_close(grad / scale, reference[key] / scale, atol=1e-5, rtol=0)


NETWORKS = {
    "ann": lambda: ANN(SHAPE, 3, [16], conv_channels=[4, 8]),
    "ann_quantized": lambda: ANN(SHAPE, 3, [16], weight_bits=4, act_bits=4, conv_channels=[4, 8]),
    "snn_hybrid": lambda: SNN(SHAPE, 3, [16], num_steps=4, conv_channels=[4, 8]),
    "snn_spiking_conv": lambda: SNN(
        SHAPE, 3, [16], num_steps=4, conv_channels=[4, 8], spiking_conv=True
    ),
    "snn_rate": lambda: SNN(SHAPE, 3, [16], num_steps=4, conv_channels=[4, 8], encoding="rate"),
    "snn_quantized": lambda: SNN(
        SHAPE, 3, [16], num_steps=4, conv_channels=[4, 8], weight_bits=4, act_bits=4
    ),
}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_conv_weights_are_channels_last_and_results_match_nchw(name, monkeypatch):
    torch.manual_seed(0)
    net = NETWORKS[name]()
    conv_weights = [p for p in net.parameters() if p.dim() == 4]
    assert len(conv_weights) == 2
    assert all(p.is_contiguous(memory_format=CL) and not p.is_contiguous() for p in conv_weights)
    x, y = _inputs()
    out, grads = _run(net, x, y)
    reference = _nchw_copy(net)
    assert all(p.is_contiguous() for p in reference.parameters())
    monkeypatch.setattr(networks, "channels_last", lambda t: t)  # inputs stay NCHW too
    ref_out, ref_grads = _run(reference, x, y)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    _assert_close_grads(grads, ref_grads)


def test_ann_matches_the_textbook_order_and_layout():
    torch.manual_seed(0)
    net = NETWORKS["ann"]()
    x, y = _inputs()
    out, grads = _run(net, x, y)
    reference = _nchw_copy(net)
    reference.zero_grad()
    ref_out = _textbook_ann(reference, x)
    F.cross_entropy(ref_out, y).backward()
    torch.testing.assert_close(out, ref_out.detach(), atol=1e-5, rtol=1e-5)
    _assert_close_grads(grads, {k: p.grad for k, p in reference.named_parameters()})


@pytest.mark.parametrize("name", ["ann", "snn_hybrid", "ann_quantized"])
def test_state_dict_loads_both_ways_and_keeps_each_models_layout(name):
    torch.manual_seed(0)
    net = NETWORKS[name]()
    x, _ = _inputs()
    net(x)  # brevitas creates its learned activation scales on the first forward
    contiguous = {k: v.contiguous() for k, v in net.state_dict().items()}
    torch.manual_seed(1)
    other = NETWORKS[name]()
    other(x)
    other.load_state_dict(contiguous)  # a checkpoint written in NCHW
    assert all(p.is_contiguous(memory_format=CL) for p in other.parameters() if p.dim() == 4)
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)  # a channels_last checkpoint into an NCHW network
    buffer.seek(0)
    nchw = _nchw_copy(other)
    nchw.load_state_dict(torch.load(buffer, weights_only=True))
    assert all(p.is_contiguous() for p in nchw.parameters())
    for model in (other, nchw):
        for key, value in model.state_dict().items():
            torch.testing.assert_close(value, net.state_dict()[key], atol=0, rtol=0)
    net.eval()
    other.eval()
    torch.testing.assert_close(other(x), net(x), atol=0, rtol=0)


@pytest.mark.parametrize(
    ("build", "shape"),
    [
        (lambda: ANN((4,), 3, [8]), (4,)),
        (lambda: SNN((4,), 3, [8], num_steps=2), (4,)),
        (lambda: ANN(SHAPE, 3, [8]), SHAPE),  # an MLP on images: flattened, no layout change
    ],
)
def test_mlps_keep_the_default_layout(build, shape):
    net = build()
    assert all(p.is_contiguous() for p in net.parameters())
    assert net(torch.rand(2, *shape)).shape == (2, 3)
