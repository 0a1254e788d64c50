"""Surrogate gradients: snntorch 1.0.0's formulas as documented, and training signal in an SNN."""

from __future__ import annotations

import copy
import math
import pickle

import pytest
import torch
from snntorch import surrogate as sn_surrogate
from torch.nn import functional as F

from lightning_snnpriv.errors import ConfigError
from lightning_snnpriv.models.networks import SNN
from lightning_snnpriv.models.surrogates import SURROGATES, Surrogate

NAMES = list(SURROGATES)
U = [-2.0, -0.7, -0.1, 0.0, 0.05, 0.5, 1.0, 1.5, 3.0]


def expected_gradient(name: str, u: float, p: dict[str, float]) -> float:
    """dS/dU as the module docstring writes it, computed independently of torch/snntorch."""
    if name == "fast_sigmoid":
        return 1.0 / (1.0 + p["slope"] * abs(u)) ** 2
    if name == "straight_through_estimator":
        return 1.0
    if name == "atan":
        return (p["alpha"] / 2) / (1 + (math.pi / 2 * p["alpha"] * u) ** 2)
    if name == "spike_rate_escape":
        return p["slope"] * math.exp(-p["beta"] * abs(u - 1))
    if name == "triangular":
        return p["threshold"] if u < 0 else -p["threshold"]
    raise AssertionError(name)


#: Non-default hyper-parameters, so the test shows they reach snntorch's Function.
PARAMS = {
    "fast_sigmoid": {"slope": 5.0},
    "straight_through_estimator": {},
    "atan": {"alpha": 3.0},
    "spike_rate_escape": {"beta": 2.0, "slope": 4.0},
    "triangular": {"threshold": 0.5},
}


def gradient(spike: Surrogate, u: torch.Tensor) -> torch.Tensor:
    u = u.clone().requires_grad_(True)
    spike(u).sum().backward()
    assert u.grad is not None
    return u.grad


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("params", ["defaults", "custom"])
def test_gradient_matches_documented_formula(name, params):
    p = SURROGATES[name][1] if params == "defaults" else PARAMS[name]
    spike = Surrogate(name, p)
    u = torch.tensor(U)
    assert torch.equal(spike(u), (u > 0).float())  # strictly above the threshold spikes
    want = torch.tensor([expected_gradient(name, x, spike.params) for x in U])
    torch.testing.assert_close(gradient(spike, u), want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_defaults_are_snntorchs_own(name):
    """Surrogate(name) with no params computes what snntorch's own factory closure computes."""
    u = torch.linspace(-3, 3, 61)
    ours = gradient(Surrogate(name), u)
    theirs = u.clone().requires_grad_(True)
    getattr(sn_surrogate, name)()(theirs).sum().backward()
    torch.testing.assert_close(ours, theirs.grad)


def test_documented_peaks_and_quirks():
    u = torch.linspace(-3, 3, 601)  # step 0.01
    for name in ("fast_sigmoid", "atan"):
        grad = gradient(Surrogate(name), u)
        assert u[grad.argmax()].item() == pytest.approx(0.0, abs=1e-6)
    escape = gradient(Surrogate("spike_rate_escape"), u)
    assert u[escape.argmax()].item() == pytest.approx(1.0, abs=1e-6)  # mem = threshold + 1
    assert escape.max().item() == pytest.approx(25.0)
    at_threshold = gradient(Surrogate("spike_rate_escape"), torch.tensor([0.0]))
    assert at_threshold.item() == pytest.approx(25 * math.exp(-1))
    tri = gradient(Surrogate("triangular"), u)
    assert set(tri[u < 0].tolist()) == {1.0}
    assert set(tri[u >= 0].tolist()) == {-1.0}
    ste = gradient(Surrogate("straight_through_estimator"), u)
    assert set(ste.tolist()) == {1.0}
    # snntorch's `sigmoid` (not offered): NaN gradient below about U = -3.4 at slope 25.
    x = torch.tensor([-4.0, -3.0], requires_grad=True)
    sn_surrogate.Sigmoid.apply(x, 25).sum().backward()
    assert torch.isnan(x.grad[0])
    assert torch.isfinite(x.grad[1])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bits", [None, 4])
def test_backward_through_snn_reaches_every_weight(name, bits):
    torch.manual_seed(0)
    net = SNN(
        (6,), 3, hidden_sizes=[32], num_steps=6, surrogate=Surrogate(name),
        weight_bits=bits, act_bits=bits,
    )  # fmt: skip
    x, y = torch.randn(16, 6) * 3, torch.randint(0, 3, (16,))
    F.cross_entropy(net(x), y).backward()
    for key, param in net.named_parameters():
        assert param.grad is not None, key
        assert torch.isfinite(param.grad).all(), key
        assert param.grad.abs().sum() > 0, key


def test_surrogate_pickles_and_compares_by_value():
    spike = Surrogate("spike_rate_escape", {"slope": 3})
    again = pickle.loads(pickle.dumps(spike))
    assert again == spike
    assert again.params == {"beta": 1.0, "slope": 3.0}
    u = torch.linspace(-2, 2, 9)
    torch.testing.assert_close(gradient(again, u), gradient(spike, u))
    net = SNN((4,), 2, hidden_sizes=[8], num_steps=3, surrogate=spike)
    net(torch.randn(2, 4))
    pickle.loads(pickle.dumps(net))
    copy.deepcopy(net)


def test_unknown_surrogate_and_wrong_hyper_parameter_are_config_errors():
    with pytest.raises(ConfigError, match=r"`model.init_args.surrogate`: unknown .*'sigmoid'"):
        Surrogate("sigmoid", field="model.init_args.")
    with pytest.raises(ConfigError, match=r"surrogate_params`: alpha .*'fast_sigmoid'.*slope"):
        Surrogate("fast_sigmoid", {"alpha": 2.0}, field="model.init_args.")
    with pytest.raises(ConfigError, match=r"it takes: none"):
        Surrogate("straight_through_estimator", {"slope": 2.0})


@pytest.mark.parametrize("name", NAMES)
def test_written_out_gradient_is_snntorchs_bit_for_bit(name):
    """``Surrogate.grad`` (the fused LIF loop's) is backward through snntorch's Function."""
    spike = Surrogate(name, PARAMS[name])
    gen = torch.Generator().manual_seed(0)
    edge = torch.tensor([*U, -0.0, 1e-30])
    u = torch.cat([3 * torch.randn(4000, generator=gen), edge])
    grad_spikes = torch.randn(u.shape, generator=gen)
    leaf = u.clone().requires_grad_()
    (expected,) = torch.autograd.grad(spike(leaf), leaf, grad_spikes)
    out = torch.full_like(u, float("nan"))
    result = spike.grad(u, grad_spikes, out=out)
    assert result is out  # written into the caller's buffer
    assert torch.equal(result, expected)
    assert torch.equal(spike.grad(u, grad_spikes), expected)
