"""The vectorized ensemble gives the loop's outputs, gradients and training trajectories."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.nn import functional as F

from lightning_snnpriv.errors import ConfigError
from lightning_snnpriv.models import ANNClassifier, SNNClassifier
from lightning_snnpriv.models.ensemble import ModelEnsemble
from lightning_snnpriv.models.networks import ANN, SNN
from lightning_snnpriv.models.surrogates import Surrogate
from lightning_snnpriv.models.vectorized import (
    VectorizedANN,
    VectorizedEnsemble,
    VectorizedQuantANN,
    VectorizedSNN,
    build_ensemble,
)

TOL = {"rtol": 1e-5, "atol": 1e-6}


def ann() -> ANN:
    return ANN((2, 3), 4, [16, 8])


def snn_builder(**kwargs):
    def build() -> SNN:
        return SNN((6,), 4, [16, 8], num_steps=5, **kwargs)

    return build


def hybrid() -> SNN:
    """The source study's hybrid SNN in small: a conv front end (computed once), LIF FC layers."""
    return SNN((1, 6, 6), 4, [8], num_steps=4, conv_channels=[3])


SNN_SETTINGS = [
    {},
    {"reset_mechanism": "zero", "readout": "membrane_mean", "beta": 0.8},
    {"reset_mechanism": "none", "readout": "spike_count", "threshold": 0.5},
    {"surrogate": Surrogate("atan", {"alpha": 3.0})},
    {"surrogate": Surrogate("spike_rate_escape")},
    {"surrogate": Surrogate("triangular")},
    {"surrogate": Surrogate("straight_through_estimator")},
]


def pair(build, num_models: int = 3) -> tuple[ModelEnsemble, VectorizedEnsemble]:
    """A loop ensemble and a vectorized one holding an exact copy of its weights."""
    torch.manual_seed(0)
    loop = ModelEnsemble(build, num_models)
    fast = build_ensemble(build, num_models, "vectorized")
    fast.load_state_dict(loop.state_dict())
    return loop, fast


def inputs(sizes, shape, scale=2.0):
    gen = torch.Generator().manual_seed(1)
    return [None if n is None else scale * torch.rand(n, *shape, generator=gen) for n in sizes]


def grads(ensemble) -> list[torch.Tensor | None]:
    return [p.grad for p in ensemble.parameters()]


def assert_same_grads(loop, fast, tol=TOL) -> None:
    for g_loop, g_fast in zip(grads(loop), grads(fast), strict=True):
        assert (g_loop is None) == (g_fast is None)
        if g_loop is not None:
            torch.testing.assert_close(g_fast, g_loop, **tol)


@pytest.mark.parametrize(
    ("build", "shape"),
    [(ann, (2, 3)), (hybrid, (1, 6, 6))] + [(snn_builder(**s), (6,)) for s in SNN_SETTINGS],
    ids=["ann", "hybrid"] + [f"snn{i}" for i in range(len(SNN_SETTINGS))],
)
def test_forward_and_gradients_match_loop(build, shape):
    loop, fast = pair(build)
    x = inputs([7], shape)[0]
    out_loop, out_fast = loop(x), fast(x)
    assert out_fast.shape == out_loop.shape == (3, 7, 4)
    torch.testing.assert_close(out_fast, out_loop, **TOL)
    (out_loop**2).sum().backward()
    (out_fast**2).sum().backward()
    assert all(g.abs().sum() > 0 for g in grads(loop))  # every layer takes part
    # a convolution's weight gradient sums over every position: more rounding to differ in
    assert_same_grads(loop, fast, {"rtol": 1e-4, "atol": 1e-5} if build is hybrid else TOL)


@pytest.mark.parametrize(
    ("build", "shape"),
    [(ann, (2, 3)), (snn_builder(), (6,)), (hybrid, (1, 6, 6))],
    ids=["ann", "snn", "hybrid"],
)
def test_forward_each_unequal_batches_and_none(build, shape):
    loop, fast = pair(build, num_models=4)
    xs = inputs([5, None, 2, 5], shape)
    ys = [None if x is None else torch.arange(len(x)) % 4 for x in xs]
    for ensemble in (loop, fast):
        outs = ensemble.forward_each(xs)
        assert outs[1] is None
        assert [None if o is None else o.shape[0] for o in outs] == [5, None, 2, 5]
        losses = [F.cross_entropy(o, y) for o, y in zip(outs, ys, strict=True) if o is not None]
        sum(losses).backward()
    for o_loop, o_fast in zip(loop.forward_each(xs), fast.forward_each(xs), strict=True):
        if o_loop is not None:
            torch.testing.assert_close(o_fast, o_loop, **TOL)
    assert all(p.grad is None for p in fast.members[1].parameters())  # no batch, no gradient
    assert_same_grads(loop, fast)


@pytest.mark.parametrize(
    ("build", "shape"),
    [(ann, (2, 3)), (snn_builder(), (6,)), (hybrid, (1, 6, 6))],
    ids=["ann", "snn", "hybrid"],
)
def test_training_steps_match_separate_models(build, shape):
    """A few Adam steps with unequal and missing batches: the same weights as the loop."""
    loop, fast = pair(build)
    sizes_per_step = [[6, 6, 6], [6, 4, None], [3, None, 1], [6, 6, 6]]
    optimizers = [torch.optim.Adam(e.parameters(), lr=1e-2) for e in (loop, fast)]
    for step, sizes in enumerate(sizes_per_step):
        xs = inputs(sizes, shape, scale=2.0 + step)
        ys = [None if x is None else torch.arange(len(x)) % 4 for x in xs]
        for ensemble, optimizer in zip((loop, fast), optimizers, strict=True):
            optimizer.zero_grad()
            outs = ensemble.forward_each(xs)
            losses = [F.cross_entropy(o, y) for o, y in zip(outs, ys, strict=True) if y is not None]
            sum(losses).backward()
            optimizer.step()
    for p_loop, p_fast in zip(loop.parameters(), fast.parameters(), strict=True):
        torch.testing.assert_close(p_fast, p_loop, rtol=1e-4, atol=1e-5)
    initial = pair(build)[0].parameters()
    moved = [not torch.equal(p, q) for p, q in zip(loop.parameters(), initial, strict=True)]
    assert all(moved)  # the comparison is not between untrained models


def test_checkpoint_round_trip_and_cross_loading(tmp_path):
    loop, fast = pair(snn_builder())
    path = tmp_path / "fast.pt"
    torch.save(fast.state_dict(), path)
    x = inputs([4], (6,))[0]
    for mode in ("vectorized", "loop"):
        restored = build_ensemble(snn_builder(), 3, mode)
        restored.load_state_dict(torch.load(path))
        torch.testing.assert_close(restored(x), fast(x), **TOL)
    clone = copy.deepcopy(fast)
    torch.testing.assert_close(clone(x), loop(x), **TOL)


def test_auto_mode_choices():
    assert isinstance(build_ensemble(snn_builder(), 2), VectorizedSNN)
    assert isinstance(build_ensemble(snn_builder(), 1), VectorizedSNN)
    assert type(build_ensemble(snn_builder(), 2, "loop")) is ModelEnsemble
    assert type(build_ensemble(ann, 2)) is ModelEnsemble  # not measured faster for ANNs
    assert isinstance(build_ensemble(ann, 2, "vectorized"), VectorizedANN)

    def quantized_ann():
        return ANN((4,), 3, [8], weight_bits=4)

    def quantized_snn():
        return SNN((4,), 3, [8], num_steps=2, act_bits=4)

    # per-model brevitas scales and snntorch membrane levels, batched (test_quant_vectorized.py)
    assert type(build_ensemble(quantized_ann, 2)) is VectorizedQuantANN
    assert type(build_ensemble(quantized_snn, 2)) is VectorizedSNN
    with pytest.raises(ConfigError, match=r"model\.init_args\.ensemble"):
        build_ensemble(lambda: ANN((1, 4, 4), 3, [8], conv_channels=[2], weight_bits=4), 2,
                       "vectorized")  # fmt: skip
    with pytest.raises(ConfigError, match=r"model\.init_args\.ensemble"):
        build_ensemble(ann, 2, "fast")  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [ANNClassifier, SNNClassifier])
def test_module_training_step_matches_loop(cls):
    kwargs = {"hidden_sizes": [8], "num_models": 3, "num_classes": 3, "input_shape": (4,)}
    if cls is SNNClassifier:
        kwargs["num_steps"] = 3
    loop = cls(**kwargs, ensemble="loop")
    fast = cls(**kwargs, ensemble="vectorized")
    assert isinstance(fast.ensemble, VectorizedEnsemble)
    fast.load_state_dict(loop.state_dict())
    gen = torch.Generator().manual_seed(0)
    batch = [
        (2 * torch.rand(5, 4, generator=gen), torch.tensor([0, 1, 2, 0, 1])),
        None,
        (2 * torch.rand(2, 4, generator=gen), torch.tensor([2, 2])),
    ]
    losses = []
    for module in (loop, fast):
        loss = module.training_step(batch, 0)
        loss.backward()
        losses.append(loss)
    torch.testing.assert_close(losses[1], losses[0], **TOL)
    assert_same_grads(loop, fast)
    x = torch.rand(6, 4, generator=gen)
    torch.testing.assert_close(fast(x), loop(x), **TOL)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"conv_channels": [4], "spiking_conv": True},
        {"encoding": "rate"},
    ],
    ids=["spiking-conv", "rate"],
)
def test_auto_keeps_the_loop_for_snns_the_vectorized_path_cannot_run(kwargs):
    from lightning_snnpriv.models.networks import SNN
    from lightning_snnpriv.models.vectorized import build_ensemble

    shape = (1, 8, 8) if "conv_channels" in kwargs else (4,)
    ensemble = build_ensemble(lambda: SNN(shape, 3, [8], num_steps=2, **kwargs), 2)
    assert type(ensemble).__name__ == "ModelEnsemble"
