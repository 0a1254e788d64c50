"""A spiking MLP's whole time loop as one autograd node: snntorch ``Leaky`` steps, written-out BPTT.

:func:`snn_mlp_scan` runs ``T`` steps of a stack of fully connected LIF layers for ``A`` models
at once (stacked weights ``[A, out, in]``), with the dynamics of snntorch 1.0.0 ``Leaky``
(``reset_delay=True``, detached reset; the same float operations in the same order as
:func:`~lightning_snnpriv.models.vectorized.lif_step`, so the forward pass is bit for bit the
step loop's). It takes the first layer's input current, which is the same at every step
(direct input), and returns the last layer's spikes and membranes at every step.

Why a hand-written backward: autograd through the step loop allocates a fresh tensor for every
operation of every step and layer and keeps them all until the backward pass, so on a CPU the
loop runs at memory speed, not compute speed. Here the forward pass runs without a graph in a
few reused per-step buffers (which stay in cache), keeps only each layer's membranes, and the
backward pass is the exact derivative of the same computation, step by step from the last:

    dL/dmem_t = dL/dmem_t (readout) + S'(mem_t - thr) dL/dspk_t + b k_{t+1} dL/dmem_{t+1}
    dL/dcur_t = dL/dmem_t,   dL/dspk_t (layer l) = dL/dcur_t (layer l + 1) @ W_{l + 1}

with ``b = clamp(beta, 0, 1)``, ``k_{t+1} = 1 - spk_t`` for the ``zero`` reset and 1 otherwise
(the reset is detached, so the leak is the only path from one step to the next), and ``S'``
the surrogate's derivative (:meth:`~lightning_snnpriv.models.surrogates.Surrogate.grad`, bit
for bit snntorch's). Gradients equal autograd's through the step loop up to float rounding
(sums are accumulated in another order); ``tests/models/test_lif_scan.py`` checks them against
:func:`lif_step` for every surrogate, reset and readout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.autograd.function import once_differentiable

from lightning_snnpriv.models.membrane_quant import nearest_level
from lightning_snnpriv.models.networks import ResetMechanism
from lightning_snnpriv.models.surrogates import Surrogate


def _lif_update(
    current: torch.Tensor,
    mem: torch.Tensor,
    fired: torch.Tensor,
    out: torch.Tensor,
    scratch: torch.Tensor,
    b: torch.Tensor,
    threshold: torch.Tensor,
    reset_mechanism: ResetMechanism,
    levels: torch.Tensor | None = None,
    level_buffers: tuple[torch.Tensor, ...] | None = None,
) -> None:
    """One ``Leaky`` step in place: ``out`` = the new membrane, ``fired`` = its spikes (float).

    ``fired`` holds the previous step's spikes on entry (the detached reset). With ``levels``
    the new membrane is quantized to the nearest level before it fires (snntorch's
    ``state_quant``, applied by ``Leaky`` at that point), in ``level_buffers`` if given
    (:func:`~lightning_snnpriv.models.membrane_quant.nearest_level`'s).
    """
    if reset_mechanism == "zero":  # (1 - reset) * mem; 1 - reset is exactly 0 or 1
        mem = torch.mul(fired, -1, out=scratch).add_(1).mul_(mem)
    torch.mul(b, mem, out=out).add_(current)
    if reset_mechanism == "subtract":  # new_mem - reset * threshold (no .item(): no GPU sync)
        out.sub_(torch.mul(fired, threshold, out=scratch))
    if levels is not None:
        out.copy_(nearest_level(out, levels, level_buffers))
    torch.gt(torch.sub(out, threshold, out=scratch), 0, out=fired)


def lif_step(
    current: torch.Tensor,
    mem: torch.Tensor,
    beta: torch.Tensor,
    threshold: torch.Tensor,
    reset_mechanism: ResetMechanism,
    spike: Callable[[torch.Tensor], torch.Tensor],
    reset: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of snntorch 1.0.0 ``Leaky`` (``reset_delay=True``) on tensors of any shape.

    The same operations in the same order as ``Leaky.forward``: the reset is the detached
    spike of the previous membrane; ``subtract`` removes ``reset * threshold``, ``zero``
    zeroes the previous membrane before decay, ``none`` does neither; then the new membrane
    fires through the surrogate ``spike`` function.

    Args:
        current: Input current.
        mem: Membrane from the previous step (zeros at the first step).
        beta: Decay (clamped to [0, 1] as snntorch does).
        threshold: Firing threshold.
        reset_mechanism: ``subtract``, ``zero`` or ``none``.
        spike: Heaviside with surrogate gradient, of ``mem - threshold``.
        reset: The previous step's spikes, if the caller has them: they are exactly
            ``spike(mem - threshold)``, so passing them saves recomputing it (it is detached
            either way).

    Returns:
        ``(spikes, new membrane)``.

    Example:
        >>> one = torch.tensor(1.0)
        >>> lif_step(torch.tensor([0.5, 1.5]), torch.tensor([0.0, 1.2]), one, one, "subtract",
        ...          Surrogate("fast_sigmoid"))
        (tensor([0., 1.]), tensor([0.5000, 1.7000]))
    """
    reset = (spike(mem - threshold) if reset is None else reset).detach()
    if reset_mechanism == "zero":
        mem = (1 - reset) * mem
    new_mem = beta.clamp(0, 1) * mem + current
    if reset_mechanism == "subtract":
        new_mem = new_mem - reset * threshold
    return spike(new_mem - threshold), new_mem


class _SNNMLPScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, current: torch.Tensor, *args: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`_forward` (same arguments) with autocast off: it sets the dtypes itself."""
        with torch.autocast(current.device.type, enabled=False):
            return _SNNMLPScan._forward(ctx, current, *args)

    @staticmethod
    def _forward(
        ctx: Any,
        current: torch.Tensor,
        num_steps: int,
        beta: torch.Tensor,
        threshold: torch.Tensor,
        reset_mechanism: ResetMechanism,
        spike: Surrogate,
        levels: torch.Tensor | None,
        low: torch.dtype | None,
        *params: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        weights, biases = params[0::2], params[1::2]
        # membranes in the parameters' precision; under autocast only the products in ``low``
        current = current.to(
            params[0].dtype if params else torch.promote_types(current.dtype, torch.float32)
        )
        low_weights = [w.to(low) for w in weights] if low is not None else None
        b = beta.clamp(0, 1)
        num_models, batch = current.shape[:2]
        widths = [current.shape[2], *(w.shape[1] for w in weights)]
        # Every step's membranes of every layer are kept for the backward pass; without one
        # (evaluation, the audit) only the last layer's (the readout's), and two alternating
        # steps of the others: no large allocation per call (glibc would fragment its heap).
        training = any(ctx.needs_input_grad)
        kept = [num_steps if training or k == len(widths) - 1 else 2 for k in range(len(widths))]
        mems = [current.new_empty(num_models, kept[k], batch, n) for k, n in enumerate(widths)]
        # Per-layer buffers reused at every step: current, spikes (the reset of the next
        # step), scratch. The first step's reset is the spike of the zero initial membrane.
        zero = [current.new_zeros(num_models, batch, n) for n in widths]
        fired = [torch.gt(z - threshold, 0).to(current.dtype) for z in zero]
        scratch = [torch.empty_like(z) for z in zero]
        currents = [current, *(torch.empty_like(z) for z in zero[1:])]
        # nearest_level's buffers, reused at every step (no fresh memory per step)
        level_buffers = [None if levels is None else
                         (torch.empty_like(z), torch.empty_like(z),
                          torch.empty_like(z, dtype=torch.int32),
                          torch.empty_like(z, dtype=torch.int32)) for z in zero]  # fmt: skip
        out_spikes = current.new_empty(mems[-1].shape)
        for t in range(num_steps):
            for k in range(len(widths)):
                if k and low_weights is not None:  # bf16 product (spikes are exact in it)
                    product = torch.bmm(fired[k - 1].to(low), low_weights[k - 1].transpose(1, 2))
                    torch.add(biases[k - 1].unsqueeze(1), product, out=currents[k])
                elif k:  # this step's current from the previous layer's spikes
                    torch.baddbmm(biases[k - 1].unsqueeze(1), fired[k - 1],
                                  weights[k - 1].transpose(1, 2), out=currents[k])  # fmt: skip
                mem = mems[k][:, (t - 1) % kept[k]] if t else zero[k]
                _lif_update(currents[k], mem, fired[k], mems[k][:, t % kept[k]], scratch[k], b,
                            threshold, reset_mechanism, levels, level_buffers[k])  # fmt: skip
            out_spikes[:, t].copy_(fired[-1])
        if training:
            ctx.save_for_backward(b, threshold, *params, *mems)
        ctx.reset_mechanism = reset_mechanism
        ctx.spike = spike
        ctx.num_layers = len(widths)
        ctx.low = low
        return out_spikes, mems[-1]

    @staticmethod
    @once_differentiable
    def backward(
        ctx: Any, grad_spikes: torch.Tensor | None, grad_mems: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, ...]:
        b, threshold, *rest = ctx.saved_tensors
        num_layers = ctx.num_layers
        params, mems = rest[: 2 * (num_layers - 1)], rest[2 * (num_layers - 1) :]
        if grad_spikes is None and grad_mems is None:
            return (None,) * (8 + len(params))
        weights = params[0::2]
        low = ctx.low
        low_weights = [w.to(low) for w in weights] if low is not None else None
        grad_params = [torch.zeros_like(p) for p in params]
        grad_weights, grad_biases = grad_params[0::2], grad_params[1::2]
        num_steps = mems[0].shape[1]
        one_step = [m[:, 0] for m in mems]  # the shape of one step of each layer
        grad_current = torch.zeros_like(one_step[0])
        u = [torch.empty_like(m) for m in one_step]
        later = [torch.empty_like(m) for m in one_step]
        # dL/dmem of each layer at this step and the next: two buffers per layer, swapped.
        grads = [[torch.empty_like(m), torch.empty_like(m)] for m in one_step]
        # dL/dspikes of every layer but the last, from the layer above
        grad_in = [torch.empty_like(m) for m in one_step[:-1]]
        for t in range(num_steps - 1, -1, -1):
            grad_out = None if grad_spikes is None else grad_spikes[:, t]
            for k in range(num_layers - 1, -1, -1):
                grad, previous = grads[k][t % 2], grads[k][(t + 1) % 2]
                if k == num_layers - 1:  # lower layers' u was computed for the layer above
                    torch.sub(mems[k][:, t], threshold, out=u[k])
                if grad_out is not None:
                    ctx.spike.grad(u[k], grad_out, out=grad)
                    if k == num_layers - 1 and grad_mems is not None:
                        grad.add_(grad_mems[:, t])
                elif grad_mems is not None:  # only the last layer can lack a spike gradient
                    grad.copy_(grad_mems[:, t])
                if t < num_steps - 1:  # the leak into the next step
                    torch.mul(previous, b, out=later[k])
                    if ctx.reset_mechanism == "zero":
                        later[k].mul_(u[k] <= 0)
                    grad.add_(later[k])
                if k == 0:
                    grad_current.add_(grad)
                    continue
                # this layer's current: spikes of layer k-1 (recomputed) @ W^T + bias
                torch.sub(mems[k - 1][:, t], threshold, out=u[k - 1])
                spikes_in = torch.gt(u[k - 1], 0, out=later[k - 1])
                grad_biases[k - 1].add_(grad.sum(1))
                if low_weights is not None:  # the products in bf16, as autocast's backward
                    grad_low = grad.to(low)
                    grad_weights[k - 1].add_(torch.bmm(grad_low.transpose(1, 2), spikes_in.to(low)))
                    grad_out = grad_in[k - 1].copy_(torch.bmm(grad_low, low_weights[k - 1]))
                else:
                    grad_weights[k - 1].baddbmm_(grad.transpose(1, 2), spikes_in)
                    grad_out = torch.bmm(grad, weights[k - 1], out=grad_in[k - 1])
        return grad_current, None, None, None, None, None, None, None, *grad_params


def snn_mlp_scan(
    current: torch.Tensor,
    weights: list[torch.Tensor],
    biases: list[torch.Tensor],
    num_steps: int,
    beta: torch.Tensor,
    threshold: torch.Tensor,
    reset_mechanism: ResetMechanism,
    spike: Surrogate,
    levels: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``num_steps`` steps of ``A`` stacked spiking MLPs, from zero membranes.

    Args:
        current: The first LIF layer's input current ``[A, B, H]``, the same at every step.
        weights: Stacked weights ``[A, out, in]`` of the layers after the first LIF layer.
        biases: Their stacked biases ``[A, out]``.
        num_steps: ``T``.
        beta: Decay (clamped to [0, 1] as snntorch does); a tensor broadcastable to a step.
        threshold: Firing threshold; a tensor broadcastable to a step.
        reset_mechanism: ``subtract``, ``zero`` or ``none``.
        spike: The surrogate spike function (its gradient: :meth:`Surrogate.grad`).
        levels: snntorch ``state_quant`` membrane levels (every layer's new membrane is
            quantized to the nearest, with a straight-through gradient), ``None`` for none.

    Returns:
        The last layer's ``(spikes, membranes)``, both ``[A, T, B, out]``.

    Example:
        >>> one = torch.tensor(1.0)
        >>> current = torch.full((1, 1, 1), 0.6)  # one model, one sample, one neuron
        >>> spk, mem = snn_mlp_scan(current, [], [], 3, one, one, "subtract",
        ...                         Surrogate("fast_sigmoid"))
        >>> spk.flatten(), mem.flatten()
        (tensor([0., 1., 0.]), tensor([0.6000, 1.2000, 0.8000]))
    """
    if reset_mechanism not in ("subtract", "zero", "none"):
        raise ValueError(f"unknown reset mechanism {reset_mechanism!r}")
    params = [p for pair in zip(weights, biases, strict=True) for p in pair]
    device = current.device.type
    low = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else None
    return _SNNMLPScan.apply(
        current, num_steps, beta, threshold, reset_mechanism, spike, levels, low, *params
    )
