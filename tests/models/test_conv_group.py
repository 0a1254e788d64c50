"""M models' conv front ends grouped in one call: the loop's values, gradients and steps."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from lightning_snnpriv.models import conv_group
from lightning_snnpriv.models.conv_group import conv_modules, grouped_front, grouped_reason
from lightning_snnpriv.models.ensemble import ModelEnsemble
from lightning_snnpriv.models.networks import ANN, SNN
from lightning_snnpriv.models.vectorized import (
    VectorizedConvANN,
    VectorizedSNN,
    build_ensemble,
)

#: A convolution's weight gradient sums over every position and row: more rounding to differ in.
TOL = {"rtol": 1e-4, "atol": 1e-5}


def conv_ann(shape=(1, 8, 8)):
    return lambda: ANN(shape, 4, [12], conv_channels=[3, 5])


def conv_snn(shape=(1, 8, 8), **kwargs):
    return lambda: SNN(shape, 4, [12], num_steps=4, conv_channels=[3, 5], threshold=0.3, **kwargs)


BUILDS = {
    "ann-mnist": (conv_ann(), (1, 8, 8)),
    "ann-cifar": (conv_ann((3, 8, 8)), (3, 8, 8)),
    "snn-mnist": (conv_snn(), (1, 8, 8)),
    "snn-cifar": (conv_snn((3, 8, 8)), (3, 8, 8)),
    "snn-4bit-weights": (conv_snn(weight_bits=4), (1, 8, 8)),
    "ann-no-hidden": (lambda: ANN((1, 6, 6), 4, [], conv_channels=[2]), (1, 6, 6)),
}


def pair(build, num_models=3):
    """The loop, and the vectorized ensemble with grouped conv front ends, on the same weights."""
    torch.manual_seed(0)
    loop = ModelEnsemble(build, num_models)
    fast = build_ensemble(build, num_models, "vectorized", "grouped")
    fast.load_state_dict(loop.state_dict())
    assert fast.grouped
    return loop, fast


def images(sizes, shape, step=0):
    """Random images whose top rows are constant (MNIST's background): max-pooling ties."""
    gen = torch.Generator().manual_seed(1 + step)
    out = []
    for n in sizes:
        if n is None:
            out.append(None)
            continue
        x = 3 * torch.rand(n, *shape, generator=gen)
        x[:, :, :3] = 0.0
        out.append(x)
    return out


def assert_same_grads(loop, fast):
    for (name, p_loop), p_fast in zip(loop.named_parameters(), fast.parameters(), strict=True):
        assert (p_loop.grad is None) == (p_fast.grad is None), name
        if p_loop.grad is not None:
            torch.testing.assert_close(p_fast.grad, p_loop.grad, **TOL, msg=name)


@pytest.mark.parametrize("name", list(BUILDS))
def test_grouped_forward_and_gradients_match_loop(name):
    build, shape = BUILDS[name]
    loop, fast = pair(build)
    x = images([7], shape)[0]
    out_loop, out_fast = loop(x), fast(x)
    assert out_fast.shape == out_loop.shape == (3, 7, 4)
    torch.testing.assert_close(out_fast, out_loop, rtol=1e-5, atol=1e-5)
    (out_loop**2).sum().backward()
    (out_fast**2).sum().backward()
    assert all(p.grad.abs().sum() > 0 for p in loop.parameters())  # every layer takes part
    assert_same_grads(loop, fast)


@pytest.mark.parametrize("name", ["ann-mnist", "snn-cifar"])
def test_grouped_unequal_and_missing_batches(name):
    build, shape = BUILDS[name]
    loop, fast = pair(build, num_models=4)
    xs = images([5, None, 2, 5], shape)
    ys = [None if x is None else torch.arange(len(x)) % 4 for x in xs]
    outs = {}
    for key, ensemble in (("loop", loop), ("fast", fast)):
        outs[key] = ensemble.forward_each(xs)
        pairs = zip(outs[key], ys, strict=True)
        sum(F.cross_entropy(o, y) for o, y in pairs if y is not None).backward()
    assert outs["fast"][1] is None
    for o_loop, o_fast in zip(outs["loop"], outs["fast"], strict=True):
        if o_loop is not None:
            torch.testing.assert_close(o_fast, o_loop, rtol=1e-5, atol=1e-5)
    assert all(p.grad is None for p in fast.members[1].parameters())  # no batch, no gradient
    assert_same_grads(loop, fast)


@pytest.mark.parametrize("name", ["ann-mnist", "snn-mnist", "ann-cifar"])
def test_grouped_adam_steps_and_checkpoint_match_loop(name, tmp_path):
    build, shape = BUILDS[name]
    loop, fast = pair(build)
    optimizers = [torch.optim.Adam(e.parameters(), lr=1e-2) for e in (loop, fast)]
    for step, sizes in enumerate([[6, 6, 6], [6, 4, None], [3, None, 1]]):
        xs = images(sizes, shape, step)
        ys = [None if x is None else torch.arange(len(x)) % 4 for x in xs]
        for ensemble, optimizer in zip((loop, fast), optimizers, strict=True):
            optimizer.zero_grad()
            outs = ensemble.forward_each(xs)
            sum(F.cross_entropy(o, y) for o, y in zip(outs, ys, strict=True) if y is not None
                ).backward()  # fmt: skip
            optimizer.step()
    for p_loop, p_fast in zip(loop.parameters(), fast.parameters(), strict=True):
        torch.testing.assert_close(p_fast, p_loop, **TOL)
    # the grouped path keeps the per-model modules: the loop's state_dict layout, both ways
    assert list(fast.state_dict()) == list(loop.state_dict())
    torch.save(fast.state_dict(), tmp_path / "fast.pt")
    x = images([4], shape, 9)[0]
    for mode in ("loop", "vectorized"):
        restored = build_ensemble(build, 3, mode, "grouped")
        restored.load_state_dict(torch.load(tmp_path / "fast.pt"))
        torch.testing.assert_close(restored(x), loop(x), rtol=1e-5, atol=1e-5)


def test_grouped_front_is_each_models_own_features():
    torch.manual_seed(0)
    stacks = [conv_modules(SNN((3, 8, 8), 4, [6], conv_channels=[4, 2])) for _ in range(3)]
    x = torch.randn(3, 5, 3, 8, 8)
    out = grouped_front(stacks, x)
    for m, stack in enumerate(stacks):
        expected = stack(x[m].contiguous(memory_format=torch.channels_last)).flatten(1)
        torch.testing.assert_close(out[m], expected, rtol=1e-5, atol=1e-6)


def test_front_modes_and_reasons():
    ann = conv_ann()()
    assert grouped_reason(conv_modules(ann)) is None
    assert grouped_reason(conv_modules(ANN((4,), 3, [8]))) == "no convolutions"
    assert "mixes rows" in grouped_reason(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)))
    quantized_acts = conv_snn(weight_bits=4, act_bits=4)
    assert "QuantReLU" in grouped_reason(conv_modules(quantized_acts()))
    with pytest.raises(ValueError, match="QuantReLU"):
        build_ensemble(quantized_acts, 2, "vectorized", "grouped")
    # where it cannot group, the front ends run per model, still vectorized after them
    fallback = build_ensemble(quantized_acts, 2, "vectorized")
    assert type(fallback) is VectorizedSNN
    assert not fallback.grouped
    assert not build_ensemble(conv_ann(), 2, "vectorized", "per_model").grouped
    with pytest.raises(ValueError, match="front"):
        build_ensemble(conv_ann(), 2, "vectorized", "fast")  # type: ignore[arg-type]


@pytest.mark.parametrize("faster", [False, True])
def test_auto_follows_the_measurement(monkeypatch, faster):
    monkeypatch.setattr(conv_group, "GROUPED_IS_FASTER", faster)
    assert build_ensemble(conv_snn(), 2).grouped is faster
    assert isinstance(build_ensemble(conv_ann(), 2, "vectorized"), VectorizedConvANN)
    assert build_ensemble(conv_ann(), 2, "vectorized").grouped is faster
    expected = VectorizedConvANN if VectorizedConvANN.faster_than_loop else ModelEnsemble
    assert type(build_ensemble(conv_ann(), 2)) is expected
