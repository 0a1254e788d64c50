"""The fused spiking-MLP loop (``snn_mlp_scan``) against autograd through the step loop.

Forward: bit for bit (the same float operations in the same order). Gradients: both float32
paths are compared with a float64 reference evaluated on the very same float32 forward pass
(an independent write-out of BPTT, itself checked against float64 autograd), with the error
bound that rounding allows: a float32 sum of products is off by at most about
``n * u * sum |terms|`` (``u`` = 2**-24, ``n`` roundings along a term), so the tolerance of each
gradient entry is relative to the sum of the magnitudes of the terms that make it
(:func:`bptt_reference`'s ``scale``), not to the entry itself. An entry that is a small
difference of large terms (``spike_rate_escape``'s slope of 25 makes the gradient of the input
current 1e4-1e5 times larger than some of its entries) cannot be computed to a relative 1e-5
in float32 by either path, and how far the two paths land from each other depends on the order
in which the machine's BLAS and vector kernels add the products.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from lightning_snnpriv.models.lif_scan import lif_step, snn_mlp_scan
from lightning_snnpriv.models.surrogates import SURROGATES, Surrogate
from lightning_snnpriv.models.vectorized import _linear

NUM_STEPS = 6
#: float32 unit roundoff.
UNIT_ROUNDOFF = torch.finfo(torch.float32).eps / 2


def step_loop(current, weights, biases, beta, threshold, reset, spike):
    """The reference: per step, per layer, ``lif_step`` and a stacked linear layer (autograd).

    Returns the last layer's spikes and membranes ``[A, T, B, out]`` and every layer's
    membranes (a list of ``[A, T, B, n]``, detached) for :func:`bptt_reference`.
    """
    mems = [None] * (len(weights) + 1)
    fired = [None] * (len(weights) + 1)
    every = [[] for _ in mems]
    out_spk, out_mem = [], []
    for _ in range(NUM_STEPS):
        cur = current
        for k in range(len(weights) + 1):
            if k:
                cur = _linear(spikes, weights[k - 1], biases[k - 1])  # noqa: F821
            mem = mems[k] if mems[k] is not None else torch.zeros_like(cur)
            spikes, mems[k] = lif_step(cur, mem, beta, threshold, reset, spike, fired[k])
            fired[k] = spikes
            every[k].append(mems[k].detach())
        out_spk.append(spikes)
        out_mem.append(mems[-1])
    layers = [torch.stack(m, 1) for m in every]
    return torch.stack(out_spk, 1), torch.stack(out_mem, 1), layers


def bptt_reference(mems, weights, beta, threshold, reset, spike, grad_spk, grad_mem):
    """Float64 gradients of ``sum(grad_spk * spikes) + sum(grad_mem * mem)`` and their scale.

    Written out from the recurrences (detached reset, so the leak is the only path between
    steps):

        dL/dmem_t = readout_t + S'(mem_t - thr) dL/dspk_t + b k_{t+1} dL/dmem_{t+1}
        dL/dspk_t (layer l) = dL/dmem_t (layer l + 1) @ W_{l + 1}

    with ``k_{t+1} = 1 - spk_t`` for the ``zero`` reset and 1 otherwise. ``scale`` runs the same
    recurrences on the absolute values of every factor: the sum of ``|term|`` over all the
    products that add up to each gradient entry, which bounds the rounding error of any order
    of evaluation.

    Args:
        mems: Every layer's membranes ``[A, T, B, n]`` of the forward pass to differentiate.
        weights: Stacked weights ``[A, out, in]`` after the first LIF layer.
        beta, threshold: The neuron's decay and firing threshold.
        reset: ``subtract``, ``zero`` or ``none``.
        spike: The surrogate.
        grad_spk, grad_mem: ``dL/d`` the last layer's spikes and membranes (or None).

    Returns:
        ``(grads, scale)``: each a list ``[current, W_1, W_2, ..., b_1, b_2, ...]`` (the order
        of :func:`tensors`' leaves) in float64.
    """
    d = torch.float64
    mems = [m.to(d) for m in mems]
    weights = [w.detach().to(d) for w in weights]
    b = float(beta.clamp(0, 1))
    thr = float(threshold)
    num_layers, num_steps = len(mems), mems[0].shape[1]
    readout = [None if g is None else g.detach().to(d) for g in (grad_spk, grad_mem)]
    results = []
    for absolute in (False, True):
        f = torch.abs if absolute else (lambda x: x)
        gw = [torch.zeros_like(w) for w in weights]
        gb = [torch.zeros(w.shape[:2], dtype=d) for w in weights]
        g_current = torch.zeros_like(mems[0][:, 0])
        later = [torch.zeros_like(m[:, 0]) for m in mems]  # dL/dmem of the next step
        for t in range(num_steps - 1, -1, -1):
            g_spk = None if readout[0] is None else f(readout[0][:, t])
            for k in range(num_layers - 1, -1, -1):
                u = mems[k][:, t] - thr
                g = torch.zeros_like(u)
                if g_spk is not None:
                    g = g + f(spike.grad(u, torch.ones_like(u))) * g_spk
                if k == num_layers - 1 and readout[1] is not None:
                    g = g + f(readout[1][:, t])
                keep = (u <= 0).to(d) if reset == "zero" else 1.0
                g = g + b * keep * later[k]
                later[k] = g
                if k == 0:
                    g_current += g
                    continue
                spikes_in = (mems[k - 1][:, t] - thr > 0).to(d)
                gw[k - 1] += g.transpose(1, 2) @ spikes_in
                gb[k - 1] += g.sum(1)
                g_spk = g @ f(weights[k - 1])
        results.append([g_current, *gw, *gb])
    return results[0], results[1]


class ExactSpike(torch.autograd.Function):
    """Heaviside of ``u`` in ``u``'s dtype with the surrogate's backward in that dtype.

    snntorch's Functions return float32 spikes whatever ``u`` is, so float64 autograd through
    them rounds the spike gradient to float32; this one keeps float64 throughout
    (:meth:`Surrogate.grad` is bit for bit snntorch's formula, ``tests/models/test_surrogates.py``).
    """

    @staticmethod
    def forward(ctx, u, spike):
        ctx.save_for_backward(u)
        ctx.spike = spike
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx, grad):
        (u,) = ctx.saved_tensors
        return ctx.spike.grad(u, grad), None


def tensors(widths, num_models=2, batch=5, seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    current = 1.5 * torch.rand(num_models, batch, widths[0], generator=gen)
    weights = [torch.randn(num_models, n_out, n_in, generator=gen) / n_in**0.5 * 2
               for n_in, n_out in itertools.pairwise(widths)]  # fmt: skip
    biases = [0.1 * torch.randn(num_models, n_out, generator=gen) for n_out in widths[1:]]
    return [t.to(dtype).requires_grad_() for t in (current, *weights, *biases)]


def readout_grads(shape, outputs, dtype=torch.float32):
    """The loss's weights on the last layer's spikes and membranes (None where unused)."""
    gen = torch.Generator().manual_seed(9)
    spk = torch.randn(shape, generator=gen).to(dtype)
    mem = torch.randn(shape, generator=gen).to(dtype)
    return (spk if outputs in ("both", "spikes") else None,
            mem if outputs in ("both", "membranes") else None)  # fmt: skip


def loss_of(spk, mem, grad_spk, grad_mem):
    loss = 0
    if grad_spk is not None:
        loss = loss + (spk * grad_spk).sum()
    if grad_mem is not None:
        loss = loss + (mem * grad_mem).sum()
    return loss


def run_both(widths, reset, spike, beta=0.9, threshold=1.0, outputs="both"):
    """Scan and step loop in float32 on the same leaves; the float64 reference and its scale."""
    leaves = tensors(widths)
    n = len(widths) - 1
    beta_t, thr_t = torch.tensor(beta), torch.tensor(threshold)
    args = (leaves[0], leaves[1 : 1 + n], leaves[1 + n :])
    spk_ref, mem_ref, layers = step_loop(*args, beta_t, thr_t, reset, spike)
    spk, mem = snn_mlp_scan(*args, NUM_STEPS, beta_t, thr_t, reset, spike)
    readout = readout_grads(spk.shape, outputs)
    results = []
    for s, m in ((spk, mem), (spk_ref, mem_ref)):
        grads = torch.autograd.grad(loss_of(s, m, *readout), leaves, allow_unused=True)
        results.append((s.detach(), m.detach(), grads))
    exact, scale = bptt_reference(layers, args[1], beta_t, thr_t, reset, spike, *readout)
    return results, exact, scale, roundings(widths, NUM_STEPS)


def roundings(widths, num_steps, batch=5):
    """A bound on the roundings along one product term of a gradient entry, and in its sum.

    A term of dL/dcurrent passes through every later step and every layer (a surrogate
    factor, a product, a sum with the leak and the readout per layer and step, and a matrix
    product of the widest layer's length to reach the layer below); the weight and bias
    gradients add ``num_steps * batch`` such terms.
    """
    per_step = sum(4 + n for n in widths)
    return num_steps * per_step + num_steps * batch


def assert_within_rounding(grad, exact, scale, n):
    """``|grad - exact| <= n * u * scale`` entry by entry (``scale``: sum of |terms|)."""
    err = (grad.double() - exact).abs()
    bound = n * UNIT_ROUNDOFF * scale
    worst = float((err / bound.clamp(min=1e-300)).max())
    assert bool((err <= bound).all()), (
        f"gradient off by {float(err.max()):.3g} (at most {worst:.2f}x the rounding bound "
        f"n * u * sum|terms| with n = {n}); entries {int((err > bound).sum())}/{err.numel()}"
    )


@pytest.mark.parametrize("name", list(SURROGATES))
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_bptt_reference_equals_float64_autograd(name, reset):
    """The written-out float64 reference is the derivative autograd takes (in float64)."""
    widths = [12, 9, 4]
    leaves = tensors(widths, dtype=torch.float64)
    beta, thr = torch.tensor(0.9, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64)
    args = (leaves[0], leaves[1:3], leaves[3:])
    spike = Surrogate(name)
    spk, mem, layers = step_loop(*args, beta, thr, reset, lambda u: ExactSpike.apply(u, spike))
    readout = readout_grads(spk.shape, "both", torch.float64)
    grads = torch.autograd.grad(loss_of(spk, mem, *readout), leaves)
    exact, scale = bptt_reference(layers, args[1], beta, thr, reset, Surrogate(name), *readout)
    for g, e, s in zip(grads, exact, scale, strict=True):
        assert g.dtype == torch.float64
        assert bool((s >= e.abs()).all())
        torch.testing.assert_close(g, e, rtol=0, atol=1e-12 * float(s.max()))


@pytest.mark.parametrize("name", list(SURROGATES))
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_same_forward_bit_for_bit_and_same_gradients(name, reset):
    results, exact, scale, n = run_both([12, 9, 4], reset, Surrogate(name))
    (spk, mem, grads), (spk_ref, mem_ref, grads_ref) = results
    assert torch.equal(spk, spk_ref)
    assert torch.equal(mem, mem_ref)
    assert 0 < spk.mean() < 1  # the test network spikes, and not always
    for g, g_ref, e, s in zip(grads, grads_ref, exact, scale, strict=True):
        assert g_ref is not None
        assert g_ref.abs().sum() > 0
        assert_within_rounding(g_ref, e, s, n)  # autograd through the step loop
        assert_within_rounding(g, e, s, n)  # the fused scan


@pytest.mark.parametrize("outputs", ["spikes", "membranes"])
@pytest.mark.parametrize("widths", [[12, 4], [12, 9, 7, 4]])
def test_gradient_through_one_output_and_other_depths(outputs, widths):
    results, exact, scale, n = run_both(
        widths, "subtract", Surrogate("atan"), beta=0.8, threshold=0.7, outputs=outputs
    )
    (_, _, grads), (_, _, grads_ref) = results
    for g, g_ref, e, s in zip(grads, grads_ref, exact, scale, strict=True):
        assert_within_rounding(g_ref, e, s, n)
        assert_within_rounding(g, e, s, n)


def test_a_wrong_gradient_is_caught():
    """The bound is far tighter than a real mistake: BPTT that forgets the zero reset's gate."""
    results, exact, scale, n = run_both([12, 9, 4], "zero", Surrogate("spike_rate_escape"))
    leaves = tensors([12, 9, 4])
    _, _, layers = step_loop(leaves[0], leaves[1:3], leaves[3:], torch.tensor(0.9),
                             torch.tensor(1.0), "zero", Surrogate("spike_rate_escape"))  # fmt: skip
    readout = readout_grads(results[0][0].shape, "both")
    wrong, _ = bptt_reference(layers, leaves[1:3], torch.tensor(0.9), torch.tensor(1.0),
                              "none", Surrogate("spike_rate_escape"), *readout)  # fmt: skip
    assert_within_rounding(results[0][2][0], exact[0], scale[0], n)
    with pytest.raises(AssertionError, match="rounding bound"):
        assert_within_rounding(wrong[0].float(), exact[0], scale[0], n)
    grad = results[0][2][0].clone()
    grad[0, 0, 0] *= 1 + 1e-3  # one entry off by a thousandth
    with pytest.raises(AssertionError, match="rounding bound"):
        assert_within_rounding(grad, exact[0], scale[0], n)


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
