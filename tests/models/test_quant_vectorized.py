"""Stacked quantizers against the library layers; quantized vectorized ensembles against the loop.

Values are compared bit for bit where the same float operations run (weights, activations,
membranes); gradients to float rounding (a stacked tensor's reductions sum in another order).
"""

from __future__ import annotations

import pytest
import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
from snntorch.functional.quant import state_quant
from torch.nn import functional as F

from lightning_snnpriv.models import quant
from lightning_snnpriv.models.ensemble import ModelEnsemble
from lightning_snnpriv.models.networks import ANN, SNN
from lightning_snnpriv.models.quant_vectorized import nearest_level, stacked_act, stacked_weight
from lightning_snnpriv.models.vectorized import (
    VectorizedQuantANN,
    VectorizedSNN,
    build_ensemble,
)

GRAD_TOL = {"rtol": 1e-5, "atol": 1e-6}
A = 3  # models in a stack
#: Bit widths checked in the default suite (the grid's 8, 4, 2, the ends, a few between); the
#: slow tests check every width the configs accept.
SOME_BITS = [1, 2, 3, 4, 5, 8, 16, 32]


def _all_bits(low: int) -> list[int]:
    return list(range(low, quant.MAX_BITS + 1))


@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
@pytest.mark.parametrize("conv", [False, True], ids=["linear", "conv"])
def test_stacked_weights_are_brevitas_weights(per_channel, conv):
    check_weights([b for b in SOME_BITS if b >= quant.MIN_WEIGHT_BITS], per_channel, conv)


@pytest.mark.slow
def test_stacked_weights_are_brevitas_weights_for_every_bit_width():
    for per_channel in (False, True):
        for conv in (False, True):
            check_weights(_all_bits(quant.MIN_WEIGHT_BITS), per_channel, conv)


def check_weights(all_bits: list[int], per_channel: bool, conv: bool) -> None:
    for bits in all_bits:
        torch.manual_seed(bits)
        if conv:
            layers = [quant.conv2d(3, 4, 3, bits, per_channel) for _ in range(A)]
        else:
            layers = [quant.linear(5, 4, bits, per_channel) for _ in range(A)]
        assert all(type(layer) in (QuantLinear, QuantConv2d) for layer in layers)
        stacked = stacked_weight(layers)
        for j, layer in enumerate(layers):
            assert torch.equal(stacked[j], layer.quant_weight().value), (bits, j)
        upstream = torch.randn_like(stacked)
        (stacked * upstream).sum().backward()
        fast = [layer.weight.grad.clone() for layer in layers]
        for layer in layers:
            layer.weight.grad = None
        for j, layer in enumerate(layers):
            (layer.quant_weight().value * upstream[j]).sum().backward()
            # the maximum's gradient holds the scale's, a sum over the whole tensor
            torch.testing.assert_close(fast[j], layer.weight.grad, rtol=1e-4, atol=1e-5)


def _act_layers(kind: str, bits: int) -> list[torch.nn.Module]:
    return [quant.relu(bits) if kind == "relu" else quant.input_quantizer(bits) for _ in range(A)]


def _scaling(module: torch.nn.Module) -> torch.nn.Module:
    return module.act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl


PHASES = ["collect", "init", "learned", "eval-collecting", "eval"]


@pytest.mark.parametrize("kind", ["relu", "identity"])
@pytest.mark.parametrize("phase", PHASES)
def test_stacked_acts_are_brevitas_acts_in_every_phase(kind, phase):
    check_acts(kind, phase, SOME_BITS)


@pytest.mark.slow
def test_stacked_acts_are_brevitas_acts_for_every_bit_width():
    for kind in ("relu", "identity"):
        for phase in PHASES:
            check_acts(kind, phase, _all_bits(1))


def check_acts(kind: str, phase: str, all_bits: list[int]) -> None:
    """Values, gradients (input and learned scale) and statistics, brevitas' against ours.

    ``collect``: the first training calls (percentile statistics, running buffer); ``init``:
    the call that turns the buffer into the learned scale; ``learned``: after it; eval while
    collecting (the buffer) and after (the learned scale). Rows past a model's size are
    padding and must not enter its statistics.
    """
    low = 1 if kind == "relu" else quant.MIN_INPUT_BITS
    sizes = [6, 4, 6]
    for bits in [b for b in all_bits if b >= low]:
        torch.manual_seed(bits)
        loop, fast = _act_layers(kind, bits), _act_layers(kind, bits)
        steps = _scaling(loop[0]).collect_stats_steps
        counter = {"collect": 0, "init": steps, "learned": steps + 1}.get(phase, 0)
        for a, b in zip(loop, fast, strict=True):
            sa, sb = _scaling(a), _scaling(b)
            sa.counter = sb.counter = counter if phase != "eval" else steps + 1
            with torch.no_grad():  # a running buffer and a learned value to read
                sa.buffer.fill_(1.5), sb.buffer.fill_(1.5)
                sa.value.fill_(0.8 + bits / 100), sb.value.fill_(0.8 + bits / 100)
            if phase.startswith("eval"):
                a.eval(), b.eval()
        x = 2 * torch.randn(A, 6, 5)
        xs = [x[j, :n].clone().requires_grad_() for j, n in enumerate(sizes)]
        x_fast = x.clone().requires_grad_()
        outs = [layer(xj) for layer, xj in zip(loop, xs, strict=True)]
        stacked = stacked_act(fast, x_fast, sizes)
        upstream = torch.randn_like(x)
        for j, n in enumerate(sizes):
            assert torch.equal(stacked[j, :n], outs[j]), (bits, j)
        sum((o * upstream[j, : len(o)]).sum() for j, o in enumerate(outs)).backward()
        sum((stacked[j, :n] * upstream[j, :n]).sum() for j, n in enumerate(sizes)).backward()
        for j, n in enumerate(sizes):
            torch.testing.assert_close(x_fast.grad[j, :n], xs[j].grad, **GRAD_TOL)
            sa, sb = _scaling(loop[j]), _scaling(fast[j])
            assert sa.counter == sb.counter
            assert torch.equal(sa.buffer, sb.buffer)
            assert torch.equal(sa.value, sb.value)
            assert (sa.value.grad is None) == (sb.value.grad is None)
            if sa.value.grad is not None:
                torch.testing.assert_close(sb.value.grad, sa.value.grad, **GRAD_TOL)


def test_nearest_level_is_snntorchs_state_quant():
    check_levels([*range(1, 9), 12, quant.MAX_STATE_BITS])


@pytest.mark.slow
def test_nearest_level_is_snntorchs_state_quant_for_every_bit_width():
    check_levels(list(range(1, quant.MAX_STATE_BITS + 1)))


def check_levels(all_bits: list[int]) -> None:
    """Random values, every level, every midpoint and its float neighbours, beyond the range.

    Up to 10 thresholds beyond the range: much further out (|x| ~ 2**23 level spacings),
    float32 rounds the distances of neighbouring levels to the same number and snntorch's
    ``argmin`` takes the first of them, a lower level than the nearest.
    """
    for bits in all_bits:
        for threshold, low, high in [(1.0, 0.0, 0.2), (0.5, 0.3, 0.0), (2.0, 0.1, 0.7)]:
            q = quant.MembraneQuantizer(bits, threshold, low, high)
            levels = q.levels()
            mid = (levels[1:] + levels[:-1]) / 2
            if bits > 8:  # snntorch's reference holds [values, 2**bits]: a sample of them
                pick = torch.randperm(len(mid), generator=torch.Generator().manual_seed(bits))
                mid, levels_in = mid[pick[:256]], levels[pick[:256]]
            else:
                levels_in = levels
            x = torch.cat([
                torch.randn(1000 if bits <= 8 else 200) * 2 * threshold, levels_in, mid,
                torch.nextafter(mid, torch.tensor(-1e9)), torch.nextafter(mid, torch.tensor(1e9)),
                torch.tensor([-10 * threshold, 10 * threshold]),
                torch.stack([levels[0] - 1e-3, levels[-1] + 1e-3]),
            ])  # fmt: skip
            snntorch_q = state_quant(bits, True, threshold=threshold, lower_limit=low,
                                     upper_limit=high)  # fmt: skip
            chunk = max(1, 2**22 >> bits)  # bounded memory for snntorch's comparison
            reference = torch.cat([snntorch_q(part) for part in x.split(chunk)])
            assert torch.equal(nearest_level(x, levels), reference), (bits, threshold)


ANN_CASES = {
    "w4a4": {"weight_bits": 4, "act_bits": 4},
    "w2-per-channel": {"weight_bits": 2, "per_channel": True},
    "a1-in3": {"act_bits": 1, "input_bits": 3},  # 1-bit activations: ties in the statistics
    "w8a8-in8": {"weight_bits": 8, "act_bits": 8, "input_bits": 8},
}
SNN_CASES = {
    "w4a4": {"weight_bits": 4, "act_bits": 4},
    "a2-zero-reset": {"act_bits": 2, "reset_mechanism": "zero", "readout": "membrane_mean"},
    "w2-per-channel-a8": {"weight_bits": 2, "act_bits": 8, "per_channel": True},
    "a10-in4-none": {"act_bits": 10, "input_bits": 4, "reset_mechanism": "none"},
}


def _pair(build):
    torch.manual_seed(0)
    loop = ModelEnsemble(build, A)
    torch.manual_seed(0)
    return loop, build_ensemble(build, A, "auto")


def _train(ensembles, shape, sizes_per_step, lr=1e-2):
    """Adam steps with unequal and missing batches; outputs and gradients compared each step."""
    optimizers = [torch.optim.Adam(e.parameters(), lr=lr) for e in ensembles]
    gen = torch.Generator().manual_seed(1)
    dtype = next(ensembles[0].parameters()).dtype
    for sizes in sizes_per_step:
        xs = [None if n is None else 2 * torch.rand(n, *shape, generator=gen, dtype=dtype)
              for n in sizes]  # fmt: skip
        ys = [None if x is None else torch.arange(len(x)) % 4 for x in xs]
        outs = []
        for ensemble, optimizer in zip(ensembles, optimizers, strict=True):
            optimizer.zero_grad()
            outs.append(ensemble.forward_each(xs))
            sum(F.cross_entropy(o, y) for o, y in zip(outs[-1], ys, strict=True)
                if y is not None).backward()  # fmt: skip
        for o_loop, o_fast in zip(*outs, strict=True):
            assert (o_loop is None) == (o_fast is None)
            if o_loop is not None:
                torch.testing.assert_close(o_fast, o_loop, **GRAD_TOL)
        loop, fast = ensembles
        for p, q in zip(loop.parameters(), fast.parameters(), strict=True):
            assert (p.grad is None) == (q.grad is None)
            if p.grad is not None:
                torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-5)
        for optimizer in optimizers:
            optimizer.step()


STEPS = [[6, 6, 6], [6, 4, None], [3, None, 1], [6, 6, 6], [5, 5, 5]]


@pytest.mark.parametrize("kwargs", ANN_CASES.values(), ids=ANN_CASES.keys())
def test_quantized_ann_trains_as_the_loop(kwargs):
    """In float64: in float32 a gradient summed in another order moves a weight by rounding,
    which after a few Adam steps can flip a value across a rounding boundary of a quantizer,
    in the loop as much as here; float64 keeps such flips out of a few steps.
    """
    torch.set_default_dtype(torch.float64)
    try:
        loop, fast = _pair(lambda: ANN((2, 3), 4, [16, 8], **kwargs))
        assert type(fast) is VectorizedQuantANN  # auto picks it
        _train((loop, fast), (2, 3), STEPS)
        loop.eval(), fast.eval()
        x = torch.rand(4, 2, 3)
        torch.testing.assert_close(fast(x), loop(x), **GRAD_TOL)
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("kwargs", SNN_CASES.values(), ids=SNN_CASES.keys())
def test_quantized_snn_trains_as_the_loop(kwargs):
    loop, fast = _pair(lambda: SNN((6,), 4, [16, 8], num_steps=5, **kwargs))
    assert type(fast) is VectorizedSNN
    _train((loop, fast), (6,), STEPS)
    loop.eval(), fast.eval()
    x = torch.rand(4, 6)
    torch.testing.assert_close(fast(x), loop(x), **GRAD_TOL)


def test_quantized_hybrid_snn_trains_as_the_loop():
    """The hybrid: each model's brevitas conv front end, stacked quantized FC layers."""
    loop, fast = _pair(
        lambda: SNN((1, 6, 6), 4, [8], num_steps=4, conv_channels=[3], weight_bits=4, act_bits=4)
    )
    assert type(fast) is VectorizedSNN
    _train((loop, fast), (1, 6, 6), STEPS[:3])


def test_learned_scales_after_the_statistics_phase_train_as_the_loop():
    """Past brevitas' 300 statistics steps (counter set forward), the learned scales train."""
    torch.set_default_dtype(torch.float64)
    try:
        loop, fast = _pair(lambda: ANN((4,), 4, [8], weight_bits=3, act_bits=3, input_bits=4))
        for ensemble in (loop, fast):
            for module in ensemble.modules():
                if isinstance(module, (QuantReLU, QuantIdentity)):
                    _scaling(module).counter = _scaling(module).collect_stats_steps - 1
        _train((loop, fast), (4,), STEPS)
        values = [p for n, p in fast.named_parameters() if n.endswith("scaling_impl.value")]
        assert values
        assert all(v.grad is not None and v.grad.abs().sum() > 0 for v in values)
    finally:
        torch.set_default_dtype(torch.float32)
