"""Quantizers are really active: levels of weights, activations and membranes; own scales."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from lightning_snnpriv.errors import ConfigError
from lightning_snnpriv.models import quant
from lightning_snnpriv.models.module import ANNClassifier, SNNClassifier
from lightning_snnpriv.models.networks import ANN, SNN


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_weights_have_at_most_2_pow_n_integer_levels_and_forward_uses_them(bits, per_channel):
    torch.manual_seed(0)
    layer = quant.linear(64, 32, bits, per_channel)
    qweight = layer.quant_weight()
    levels = qweight.int().unique()
    assert len(levels) <= 2**bits
    assert len(levels) >= 2 ** (bits - 1)  # the range is used, not a handful of values
    scale = qweight.scale
    assert scale.shape == ((32, 1) if per_channel else ())
    # The dequantized weight is int * scale, and the layer's forward uses exactly it.
    torch.testing.assert_close(qweight.value, qweight.int().float() * scale)
    x = torch.randn(5, 64)
    torch.testing.assert_close(layer(x), F.linear(x, qweight.value, layer.bias))
    assert len(layer.weight.unique()) > 1000  # the float weights it quantizes


def test_full_precision_is_plain_pytorch_with_many_values():
    assert type(quant.linear(4, 4, None)) is nn.Linear
    assert type(quant.relu(None)) is nn.ReLU
    assert type(quant.input_quantizer(None)) is nn.Identity
    net = ANN((6,), 3, hidden_sizes=[64])
    assert not any("brevitas" in type(m).__module__ for m in net.modules())


def _hidden_activations(net: ANN, x: torch.Tensor) -> torch.Tensor:
    seen = []
    handle = net.layers[3].register_forward_hook(lambda _m, _i, out: seen.append(out))
    net(x)
    handle.remove()
    return seen[0]


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_quant_relu_output_has_at_most_2_pow_n_values_inside_an_ann(bits):
    torch.manual_seed(0)
    x = torch.randn(256, 6) * 3
    out = _hidden_activations(ANN((6,), 3, hidden_sizes=[64], act_bits=bits), x)
    assert len(out.unique()) <= 2**bits
    assert len(out.unique()) > 1
    full = _hidden_activations(ANN((6,), 3, hidden_sizes=[64]), x)
    assert len(full.unique()) > 1000


def _membranes(net: SNN, x: torch.Tensor) -> list[torch.Tensor]:
    """Every membrane value the LIF layers return in one forward pass."""
    seen: list[torch.Tensor] = []
    handles = [
        lif.register_forward_hook(lambda _m, _i, out: seen.append(out[1].detach()))
        for lif in net.lifs
    ]
    net(x)
    for handle in handles:
        handle.remove()
    return seen


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_membrane_under_state_quant_takes_at_most_2_pow_n_values(bits):
    """With reset 'none' the membrane a LIF returns is the quantized state itself."""
    torch.manual_seed(0)
    kwargs = {"hidden_sizes": [64], "num_steps": 8, "reset_mechanism": "none"}
    x = torch.randn(64, 6) * 2
    quantized = torch.cat(
        [m.flatten() for m in _membranes(SNN((6,), 3, act_bits=bits, **kwargs), x)]
    )
    levels = torch.linspace(-1.0, 1.2, 2**bits)  # snntorch's defaults, threshold 1
    assert len(quantized.unique()) <= 2**bits
    assert torch.isin(quantized, levels).all()
    full = torch.cat([m.flatten() for m in _membranes(SNN((6,), 3, **kwargs), x)])
    assert len(full.unique()) > 1000


class _Recorder:
    """Wraps a LIF's membrane quantizer and keeps what it returns."""

    def __init__(self, quantizer: quant.MembraneQuantizer) -> None:
        self.quantizer, self.outputs = quantizer, []

    def __call__(self, mem: torch.Tensor) -> torch.Tensor:
        out = self.quantizer(mem)
        self.outputs.append(out.detach().flatten())
        return out


def test_membrane_state_is_quantized_with_reset_by_subtraction():
    """With the default reset the quantized state is the one the spikes are computed from."""
    torch.manual_seed(0)
    net = SNN((6,), 3, hidden_sizes=[64], num_steps=8, act_bits=3)
    recorders = []
    for lif in net.lifs:
        recorders.append(_Recorder(lif.neuron.state_quant))
        lif.neuron.state_quant = recorders[-1]
    spikes = []
    handle = net.lifs[0].register_forward_hook(lambda _m, _i, out: spikes.append(out[0]))
    net(torch.randn(64, 6) * 2)
    handle.remove()
    assert torch.cat(spikes).sum() > 0  # the reset really happened
    states = torch.cat([o for r in recorders for o in r.outputs])
    assert len(states.unique()) <= 2**3
    assert torch.isin(states, torch.linspace(-1.0, 1.2, 8)).all()


def test_membrane_quantizer_pickles_and_uses_snntorchs_levels():
    q = quant.MembraneQuantizer(2, threshold=2.0, lower_limit=0.5, upper_limit=0.0)
    q(torch.zeros(1))  # builds snntorch's closure; pickling must drop it
    again = pickle.loads(pickle.dumps(q))
    x = torch.linspace(-5, 5, 101)
    torch.testing.assert_close(again(x), q(x))
    assert set(q(x).tolist()) == set(torch.linspace(-3.0, 2.0, 4).tolist())


def _act_scales(net: nn.Module) -> list[torch.Tensor]:
    """Brevitas activation / input scales: the learned ``value`` and the statistics ``buffer``.

    For its first 300 training calls (brevitas' ``collect_stats_steps``) a brevitas activation
    quantizer scales by the batch's 99.999th percentile and keeps their running average in
    ``buffer`` (used in eval); afterwards the parameter ``value``, initialized from it, is
    learned.
    """
    return [
        t
        for name, t in [*net.named_parameters(), *net.named_buffers()]
        if "scaling_impl.value" in name or "scaling_impl.buffer" in name
    ]


@pytest.mark.parametrize("cls", [ANNClassifier, SNNClassifier])
def test_each_model_copy_owns_its_scales(cls):
    torch.manual_seed(0)
    extra = {"num_steps": 3} if cls is SNNClassifier else {}
    module = cls(
        hidden_sizes=[16], weight_bits=4, act_bits=4, input_bits=8, num_models=3,
        input_shape=(6,), num_classes=3, **extra,
    )  # fmt: skip
    members = list(module.ensemble.members)
    # Weight scales: each copy's from its own weights (absmax / (2**(4-1) - 1), per tensor).
    for member in members:
        for layer in (m for m in member.modules() if hasattr(m, "quant_weight")):
            torch.testing.assert_close(layer.quant_weight().scale, layer.weight.abs().max() / 7)
    firsts = [next(m for m in mb.modules() if hasattr(m, "quant_weight")) for mb in members]
    assert len({f.quant_weight().scale.item() for f in firsts}) == 3
    # Activation / input scales: each copy collects statistics of its own data only.
    module.train()
    module.ensemble.forward_each([torch.randn(8, 6) * (k + 1) for k in range(3)])
    scales = [_act_scales(member) for member in members]
    assert all(scales)
    pointers = [t.data_ptr() for ts in scales for t in ts]
    assert len(set(pointers)) == len(pointers)
    buffers = [[t.item() for t in ts if t.ndim == 0] for ts in scales]
    assert buffers[0] != buffers[1] != buffers[2]
    # Moving copy 0's scales changes copy 0's outputs only.
    x = torch.randn(8, 6) * 2
    module.eval()
    before = module(x)
    with torch.no_grad():
        for t in scales[0]:
            t.mul_(3.0)
    after = module(x)
    assert not torch.equal(before[0], after[0])
    torch.testing.assert_close(before[1:], after[1:], rtol=0, atol=0)


def test_quantized_models_deepcopy_but_do_not_pickle():
    """Documented limitation of brevitas 0.13.4 (see models/quant.py); full precision pickles."""
    torch.manual_seed(0)
    module = ANNClassifier(hidden_sizes=[8], weight_bits=4, act_bits=4, input_shape=(6,))
    module.eval()
    x = torch.randn(4, 6)
    torch.testing.assert_close(copy.deepcopy(module)(x), module(x))
    with pytest.raises(pickle.PicklingError, match="brevitas"):
        pickle.dumps(module.ensemble)
    plain = ANNClassifier(hidden_sizes=[8], input_shape=(6,))
    pickle.loads(pickle.dumps(plain.ensemble))
    pickle.loads(pickle.dumps(SNNClassifier(hidden_sizes=[8], act_bits=4).ensemble))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"weight_bits": 0}, "weight_bits"),
        ({"weight_bits": 1}, "weight_bits"),
        ({"weight_bits": 33}, "weight_bits"),
        ({"act_bits": 0}, "act_bits"),
        ({"act_bits": 33}, "act_bits"),
        ({"input_bits": 1}, "input_bits"),
        ({"act_bits": 2.5}, "act_bits"),
    ],
)
@pytest.mark.parametrize("cls", [ANNClassifier, SNNClassifier])
def test_bad_bits_name_the_field(cls, kwargs, field):
    with pytest.raises(ConfigError, match=rf"`model\.init_args\.{field}`"):
        cls(hidden_sizes=[4], **kwargs)


def test_snn_membrane_bits_limit_and_state_quant_limits_need_act_bits():
    SNNClassifier(hidden_sizes=[4], act_bits=16)
    with pytest.raises(ConfigError, match=r"`model\.init_args\.act_bits`.*1 to 16"):
        SNNClassifier(hidden_sizes=[4], act_bits=17)
    ANNClassifier(hidden_sizes=[4], act_bits=32)  # brevitas' QuantReLU takes it
    with pytest.raises(ConfigError, match=r"state_quant_upper_limit`.*act_bits` is null"):
        SNNClassifier(hidden_sizes=[4], state_quant_upper_limit=0.5)
    with pytest.raises(ConfigError, match=r"must be > -2"):
        SNNClassifier(hidden_sizes=[4], act_bits=2, state_quant_lower_limit=-1.5,
                      state_quant_upper_limit=-0.5)  # fmt: skip


def test_weight_bits_1_would_be_nan_in_brevitas():
    """Why ``weight_bits`` >= 2: brevitas' 1-bit narrow-range weight quantizer gives NaN."""
    from brevitas.nn import QuantLinear

    layer = QuantLinear(4, 4, bias=True, weight_bit_width=1, return_quant_tensor=False)
    assert torch.isnan(layer.quant_weight().value).all()


def test_settings_resolve_quantization_and_surrogate():
    snn = SNNClassifier(
        hidden_sizes=[4], surrogate="atan", weight_bits=4, act_bits=3, input_bits=8,
        state_quant_upper_limit=0.5, per_channel_scaling=True,
    )  # fmt: skip
    s = snn.settings()
    assert (s["weight_bits"], s["act_bits"], s["input_bits"]) == (4, 3, 8)
    assert (s["surrogate"], s["surrogate_params"]) == ("atan", {"alpha": 2.0})
    assert (s["state_quant_lower_limit"], s["state_quant_upper_limit"]) == (0.0, 0.5)
    assert s["per_channel_scaling"] is True
    plain = SNNClassifier(hidden_sizes=[4]).settings()
    assert plain["state_quant_lower_limit"] is None
    assert plain["surrogate_params"] == {"slope": 25.0}
