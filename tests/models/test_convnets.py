"""ConvNet ANN and SNN: shapes, the exactness of computing step-invariant parts once, encodings."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from lightning_snnpriv.errors import ConfigError
from lightning_snnpriv.models import ANN, SNN, ANNClassifier, SNNClassifier
from lightning_snnpriv.models.networks import READOUTS


def naive_snn_forward(net: SNN, step_inputs: list[torch.Tensor]) -> torch.Tensor:
    """Reference: every layer recomputed at every step from that step's input (no caching)."""
    layers = [(c, lif, True) for c, lif in zip(net.convs, net.conv_lifs, strict=True)]
    layers += [(fc, lif, False) for fc, lif in zip(net.fcs, net.lifs, strict=True)]
    mems = [None] * len(layers)
    out_mem, out_spk = [], []
    for x in step_inputs:
        h = net.features(net.input_quant(x))
        for k, (synapse, lif, is_conv) in enumerate(layers):
            current = synapse(h if is_conv else h.flatten(1))
            mem = mems[k] if mems[k] is not None else torch.zeros_like(current)
            h, mems[k] = lif(current, mem)
            if is_conv:
                h = F.max_pool2d(h, 2)
        out_mem.append(mems[-1])
        out_spk.append(h)
    return READOUTS[net.readout](torch.stack(out_mem), torch.stack(out_spk))


def _grads(net: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in net.parameters()]


@pytest.mark.parametrize("spiking_conv", [False, True])
def test_direct_input_computed_once_is_exact(spiking_conv: bool) -> None:
    torch.manual_seed(0)
    net = SNN((3, 8, 8), 4, hidden_sizes=[12], num_steps=4, conv_channels=[5, 6],
              spiking_conv=spiking_conv, threshold=0.3)  # fmt: skip
    x = torch.randn(3, 3, 8, 8) * 3
    first = net.convs[0] if spiking_conv else net.fcs[0]
    calls = []
    hook = first.register_forward_hook(lambda *_: calls.append(1))
    out = net(x)
    hook.remove()
    assert len(calls) == 1  # the step-invariant first current is computed once, not per step
    out.square().sum().backward()
    fast = _grads(net)
    net.zero_grad()
    ref = naive_snn_forward(net, [x] * net.num_steps)
    ref.square().sum().backward()
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    for a, b in zip(fast, _grads(net), strict=True):
        torch.testing.assert_close(a, b)
    assert out.abs().sum() > 0


@pytest.mark.parametrize("spiking_conv", [False, True])
def test_rate_encoding_is_bernoulli_spikes_per_step_and_seeded(spiking_conv: bool) -> None:
    from snntorch import spikegen

    torch.manual_seed(0)
    net = SNN((1, 8, 8), 3, hidden_sizes=[10], num_steps=5, conv_channels=[4],
              spiking_conv=spiking_conv, encoding="rate", threshold=0.2)  # fmt: skip
    x = torch.rand(4, 1, 8, 8)
    torch.manual_seed(1)
    out = net(x)
    torch.manual_seed(1)
    spikes = spikegen.rate(x, num_steps=5)
    assert set(spikes.unique().tolist()) == {0.0, 1.0}
    ref = naive_snn_forward(net, list(spikes))
    torch.testing.assert_close(out, ref)
    torch.manual_seed(1)
    torch.testing.assert_close(net(x), out)  # seeded: same seed, same spikes
    torch.manual_seed(2)
    assert not torch.equal(net(x), out)


def test_rate_encoding_refuses_inputs_outside_unit_interval() -> None:
    net = SNN((1, 4, 4), 2, hidden_sizes=[4], num_steps=2, encoding="rate")
    with pytest.raises(ConfigError, match=r"normalization: none"):
        net(torch.randn(2, 1, 4, 4) * 3)


def test_mlp_path_unchanged_for_flat_inputs() -> None:
    torch.manual_seed(0)
    net = SNN((6,), 3, hidden_sizes=[8], num_steps=3, threshold=0.2)
    assert len(net.features) == 0
    assert len(net.convs) == 0
    x = torch.randn(5, 6)
    torch.testing.assert_close(net(x), naive_snn_forward(net, [x] * 3), rtol=0, atol=0)


def _count(*layers: tuple[str, int, int]) -> int:
    """Parameters (weights + biases) of 3x3 convs and FC layers: ("conv"|"fc", in, out)."""
    return sum(i * o * (9 if kind == "conv" else 1) + o for kind, i, o in layers)


@pytest.mark.parametrize("cls", [ANNClassifier, SNNClassifier])
def test_convnet_parameter_count(cls: type) -> None:
    module = cls(hidden_sizes=[20], conv_channels=[3, 5], input_shape=(2, 12, 12),
                 num_classes=4, num_models=2)  # fmt: skip
    expected = _count(("conv", 2, 3), ("conv", 3, 5), ("fc", 5 * 3 * 3, 20), ("fc", 20, 4))
    for net in module.ensemble.members:
        assert sum(p.numel() for p in net.parameters()) == expected
    assert module(torch.zeros(7, 2, 12, 12)).shape == (2, 7, 4)


def test_quantized_convnet_uses_brevitas_convs() -> None:
    from brevitas.nn import QuantConv2d, QuantReLU

    ann = ANN((1, 8, 8), 3, hidden_sizes=[6], conv_channels=[4], weight_bits=4, act_bits=4)
    snn = SNN((1, 8, 8), 3, hidden_sizes=[6], conv_channels=[4], weight_bits=4, act_bits=4,
              num_steps=2)  # fmt: skip
    for net in (ann, snn):
        assert any(isinstance(m, QuantConv2d) for m in net.modules())
        assert any(isinstance(m, QuantReLU) for m in net.modules())
        assert net(torch.rand(2, 1, 8, 8)).shape == (2, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"conv_channels": [8], "input_shape": (4,)}, "needs image inputs"),
        ({"conv_channels": [8] * 5, "input_shape": (1, 8, 8)}, "use fewer blocks"),
        ({"conv_channels": [0], "input_shape": (1, 8, 8)}, "must be positive"),
    ],
)
@pytest.mark.parametrize("cls", [ANNClassifier, SNNClassifier])
def test_bad_conv_settings_are_config_errors(cls: type, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        cls(hidden_sizes=[4], **kwargs)


def test_spiking_conv_needs_conv_channels() -> None:
    with pytest.raises(ConfigError, match="spiking_conv"):
        SNNClassifier(hidden_sizes=[4], spiking_conv=True, input_shape=(1, 8, 8))
