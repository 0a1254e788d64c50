"""The fused spiking-MLP loop (``snn_mlp_scan``) against autograd through the step loop."""

from __future__ import annotations

import itertools

import pytest
import torch

from lightning_snnpriv.models.lif_scan import snn_mlp_scan
from lightning_snnpriv.models.surrogates import SURROGATES, Surrogate
from lightning_snnpriv.models.vectorized import _linear, lif_step

TOL = {"rtol": 1e-5, "atol": 1e-5}
NUM_STEPS = 6


def step_loop(current, weights, biases, beta, threshold, reset, spike):
    """The reference: per step, per layer, ``lif_step`` and a stacked linear layer (autograd)."""
    mems = [None] * (len(weights) + 1)
    fired = [None] * (len(weights) + 1)
    out_spk, out_mem = [], []
    for _ in range(NUM_STEPS):
        cur = current
        for k in range(len(weights) + 1):
            if k:
                cur = _linear(spikes, weights[k - 1], biases[k - 1])  # noqa: F821
            mem = mems[k] if mems[k] is not None else torch.zeros_like(cur)
            spikes, mems[k] = lif_step(cur, mem, beta, threshold, reset, spike, fired[k])
            fired[k] = spikes
        out_spk.append(spikes)
        out_mem.append(mems[-1])
    return torch.stack(out_spk, 1), torch.stack(out_mem, 1)


def tensors(widths, num_models=2, batch=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    current = 1.5 * torch.rand(num_models, batch, widths[0], generator=gen)
    weights = [torch.randn(num_models, n_out, n_in, generator=gen) / n_in**0.5 * 2
               for n_in, n_out in itertools.pairwise(widths)]  # fmt: skip
    biases = [0.1 * torch.randn(num_models, n_out, generator=gen) for n_out in widths[1:]]
    return [t.requires_grad_() for t in (current, *weights, *biases)]


def run_both(widths, reset, spike, beta=0.9, threshold=1.0, outputs="both"):
    leaves = tensors(widths)
    n = len(widths) - 1
    beta_t, thr_t = torch.tensor(beta), torch.tensor(threshold)
    results = []
    for fn in (snn_mlp_scan, None):
        args = (leaves[0], leaves[1 : 1 + n], leaves[1 + n :])
        if fn is None:
            spk, mem = step_loop(*args, beta_t, thr_t, reset, spike)
        else:
            spk, mem = fn(*args, NUM_STEPS, beta_t, thr_t, reset, spike)
        gen = torch.Generator().manual_seed(9)
        loss = 0
        if outputs in ("both", "spikes"):
            loss = loss + (spk * torch.randn(spk.shape, generator=gen)).sum()
        if outputs in ("both", "membranes"):
            loss = loss + (mem * torch.randn(mem.shape, generator=gen)).sum()
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        results.append((spk.detach(), mem.detach(), grads))
    return results


@pytest.mark.parametrize("name", list(SURROGATES))
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_same_forward_bit_for_bit_and_same_gradients(name, reset):
    (spk, mem, grads), (spk_ref, mem_ref, grads_ref) = run_both(
        [12, 9, 4], reset, Surrogate(name)
    )
    assert torch.equal(spk, spk_ref)
    assert torch.equal(mem, mem_ref)
    assert 0 < spk.mean() < 1  # the test network spikes, and not always
    for g, g_ref in zip(grads, grads_ref, strict=True):
        assert g_ref is not None
        assert g_ref.abs().sum() > 0
        torch.testing.assert_close(g, g_ref, **TOL)


@pytest.mark.parametrize("outputs", ["spikes", "membranes"])
@pytest.mark.parametrize("widths", [[12, 4], [12, 9, 7, 4]])
def test_gradient_through_one_output_and_other_depths(outputs, widths):
    (_, _, grads), (_, _, grads_ref) = run_both(
        widths, "subtract", Surrogate("atan"), beta=0.8, threshold=0.7, outputs=outputs
    )
    for g, g_ref in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(g, g_ref, **TOL)


def test_beta_is_clamped_and_reset_mechanism_checked():
    args = tensors([3, 2])
    one = torch.tensor(1.0)
    spike = Surrogate("fast_sigmoid")
    _, mem = snn_mlp_scan(args[0], [args[1]], [args[2]], NUM_STEPS, torch.tensor(1.7), one,
                          "none", spike)  # fmt: skip
    _, mem_ref = snn_mlp_scan(args[0], [args[1]], [args[2]], NUM_STEPS, one, one, "none", spike)
    assert torch.equal(mem, mem_ref)
    with pytest.raises(ValueError, match="reset mechanism"):
        snn_mlp_scan(args[0], [], [], NUM_STEPS, one, one, "soft", spike)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_without_a_graph_same_outputs_from_two_alternating_buffers(reset):
    """Evaluation keeps two steps of the hidden membranes, not all of them: same results."""
    leaves = tensors([12, 9, 7, 4])
    args = (leaves[0], leaves[1:4], leaves[4:], NUM_STEPS, torch.tensor(0.9), torch.tensor(1.0),
            reset, Surrogate("fast_sigmoid"))  # fmt: skip
    spk, mem = snn_mlp_scan(*args)
    with torch.no_grad():
        spk_eval, mem_eval = snn_mlp_scan(*args)
    assert torch.equal(spk_eval, spk)
    assert torch.equal(mem_eval, mem)
