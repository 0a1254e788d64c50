"""Fused fake-quant autograd nodes of a stack of M models: fewer passes over the tensors.

:mod:`~lightning_snnpriv.models.quant_vectorized` computes brevitas' quantizers on a stack of
models. A quantized training step is dominated by elementwise passes over weights and
activations (and, on CPU, by the fresh memory each temporary needs), not by arithmetic, so
here the same values are computed with fewer passes and temporaries:

- :class:`StackedWeightQuant`: brevitas' weight quantizer of M separate weight tensors into one
  stack ``[M, out, ...]``. The stack is not built and then quantized: each model's weight is
  divided by its scale straight into its slot of the output, and rounded, clamped and scaled
  there in place (the same float operations as brevitas, so the same values). The per-tensor
  absolute maximum is ``aminmax`` (one pass, no ``|w|`` tensor); the elements that hold it are
  found only to route its gradient. The backward pass writes each model's gradient once
  (contiguous, so ``AccumulateGrad`` keeps it without a copy), takes the scale's gradient as
  two BLAS dot products from it (no product tensor) and adds the maximum's gradient at its
  element(s) in place (no zeros tensor scattered into and added). The scale chain (brevitas'
  ``_StatsScaling``, on M numbers) is differentiated by autograd inside the backward pass.
- :class:`ActQuant`: brevitas' ``QuantReLU``/``QuantIdentity`` integer quantizer with the
  ReLU folded in (``clamp(round(x / s), 0, max)`` is the same value with or without a ReLU
  before it; its gradient mask is ``x > 0`` and in range), so no ReLU output is written and
  no ReLU backward runs; it keeps one boolean mask instead of the float integers.

Gradients equal brevitas' to float rounding (the scale's gradient is ``(g . y - g' . x) / s``
with ``y = q s`` the output, instead of ``g . q - g' . x / s``). ``tests/models/
test_quant_fused.py`` checks values bit for bit and gradients against the library layers and
the unfused nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.autograd.function import once_differentiable


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``sum(a * b)`` of two tensors as one BLAS dot product (fp32; no ``a * b`` tensor)."""
    return torch.dot(a.reshape(-1).float(), b.reshape(-1).float())


def _row_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``sum(a * b)`` of each row (dim 0) of two equally shaped tensors: ``[rows]``, in fp32.

    A few rows (models): one BLAS dot product each (a batched matrix product of ``1 x n`` by
    ``n x 1`` is several times slower on CPU); many (channels): ``vecdot``.
    """
    rows = a.shape[0]
    a, b = a.reshape(rows, -1).float(), b.reshape(rows, -1).float()
    if rows > 64:
        return torch.linalg.vecdot(a, b)
    return torch.stack([torch.dot(x, y) for x, y in zip(a, b, strict=True)])


def _abs_max_grad(grad: torch.Tensor, w: torch.Tensor, low: torch.Tensor, high: torch.Tensor,
                  grad_top: torch.Tensor, signs: tuple[bool, bool],
                  buffer: torch.Tensor) -> None:  # fmt: skip
    """Add to ``grad`` (in place) the gradient ``grad_top`` of ``torch.max(|w|)``.

    ``low, high`` are ``w``'s minimum and maximum, ``signs`` whether ``high`` and ``-low``
    are the maximum (a zero maximum is not passed in). ``torch.max`` of a whole tensor splits
    its gradient evenly between the elements equal to the maximum, times ``sgn(w)`` (the
    derivative of ``|w|``). The elements are found by float comparisons into ``buffer`` (on
    CPU several times faster than a boolean mask and ``nonzero``) and added in one
    ``addcmul_``.
    """
    positive, negative = signs
    torch.eq(w, high if positive else low, out=buffer)
    count = buffer.sum()
    if positive and negative:  # both signs hold it
        negatives = torch.eq(w, low, out=torch.empty_like(buffer))
        count = count + negatives.sum()
        buffer.sub_(negatives)
    elif negative:
        buffer.neg_()
    grad.addcmul_(buffer, (grad_top / count).to(grad.dtype))


class StackedWeightQuant(torch.autograd.Function):
    """brevitas' weight quantizer (absolute-maximum scale, round, STE clamp) of M tensors.

    ``apply(scale_fn, low, high, per_channel, *weights)``: ``scale_fn(stats)`` is the brevitas
    scale chain from the stacked statistics (``[M]`` per tensor, ``[M, out]`` per channel) to
    the scale, broadcastable to ``[M, *weight.shape]``; ``low``/``high`` the integer range.
    Returns the quantized weights stacked ``[M, *weight.shape]``.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        scale_fn: Callable[[torch.Tensor], torch.Tensor],
        low: torch.Tensor,
        high: torch.Tensor,
        per_channel: bool,
        *weights: torch.Tensor,
    ) -> torch.Tensor:
        """The stacked quantized weights; the statistics and their scale graph kept."""
        if per_channel:  # brevitas' torch.max(|w|, dim=1): one element per row gets the gradient
            tops, indices = zip(*(w.reshape(len(w), -1).abs().max(dim=1) for w in weights),
                                strict=True)  # fmt: skip
            ctx.signs = [torch.sgn(w.reshape(len(w), -1).gather(1, i[:, None]).view(-1))
                         for w, i in zip(weights, indices, strict=True)]  # fmt: skip
            ctx.indices = indices
        else:  # the maximum by aminmax: one pass, no |w| tensor
            lows, highs = (torch.stack(e) for e in zip(*map(torch.aminmax, weights), strict=True))
            tops = torch.maximum(highs, -lows)
            ctx.extremes = (lows, highs, tops)
        stats = (torch.stack(tops) if per_channel else tops).detach().requires_grad_()
        with torch.enable_grad():
            scale = scale_fn(stats)
        out = weights[0].new_empty(len(weights), *weights[0].shape)
        s = scale.detach()
        for j, w in enumerate(weights):
            torch.div(w, s[j], out=out[j])
        # Python bounds: a clamp by 0-dim tensors is many times slower on CPU (same values)
        out.round_().clamp_(float(low), float(high)).mul_(s)
        ctx.save_for_backward(s, out, *weights)
        ctx.graph = (stats, scale)
        ctx.per_channel = per_channel
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        """Each weight's gradient: straight through, plus its maximum's share of the scale's."""
        s, out, *weights = ctx.saved_tensors
        stats, scale = ctx.graph
        # each model's gradient (straight through), a new contiguous tensor: its weight's .grad
        grads = [grad[j].clone(memory_format=torch.contiguous_format) for j in range(len(weights))]
        dot = _row_dot if ctx.per_channel else _dot
        grad_scale = torch.stack([dot(g, y) - dot(g, w) for g, y, w in
                                  zip(grads, out, weights, strict=True)])  # fmt: skip
        grad_scale = (grad_scale.view(len(weights), -1) / s.reshape(len(weights), -1)).view(
            scale.shape).to(scale.dtype)  # fmt: skip
        with torch.enable_grad():
            (grad_stats,) = torch.autograd.grad(scale, stats, grad_scale)
        if not ctx.per_channel:
            buffer = torch.empty_like(weights[0])
            lows, highs, tops = ctx.extremes
            # one sync for all models: which sign holds each maximum (a zero one gets nothing)
            flags = torch.stack([tops != 0, highs == tops, -lows == tops]).tolist()
        for j, (g, w) in enumerate(zip(grads, weights, strict=True)):
            if ctx.per_channel:
                g.view(len(g), -1).scatter_add_(
                    1, ctx.indices[j][:, None], (grad_stats[j] * ctx.signs[j]).to(g.dtype)[:, None]
                )
            else:
                if flags[0][j]:
                    signs = (flags[1][j], flags[2][j])
                    _abs_max_grad(g, w, lows[j], highs[j], grad_stats[j], signs, buffer)
        return None, None, None, None, *grads


def stacked_weight_quant(tensor_quant: torch.nn.Module, weights: Sequence[torch.Tensor],
                         shape: tuple[int, ...]) -> torch.Tensor:  # fmt: skip
    """The brevitas quantized ``weights`` (one tensor per model) stacked, by :class:`StackedWeightQuant`.

    Args:
        tensor_quant: The first model's brevitas ``RescalingIntQuant`` (its scale chain and
            integer range are every model's: the same quantizer settings).
        weights: Each model's weight.
        shape: brevitas' statistics shape (``()`` per tensor, ``(out,)``-like per channel).
    """  # noqa: E501
    scaling = tensor_quant.scaling_impl
    bit_width = tensor_quant.msb_clamp_bit_width_impl()
    threshold = tensor_quant.int_scaling_impl(bit_width)
    int_quant = tensor_quant.int_quant
    low, high = int_quant.min_int(bit_width), int_quant.max_int(bit_width)
    count, dims = len(weights), weights[0].dim()

    def scale_fn(stats: torch.Tensor) -> torch.Tensor:
        scale = scaling.stats_scaling_impl(stats.reshape(count, *shape), threshold)
        return scale.reshape(count, *shape, *[1] * (dims - len(shape)))

    return StackedWeightQuant.apply(scale_fn, low, high, bool(shape), *weights)


class ActQuant(torch.autograd.Function):
    """brevitas' activation integer quantizer (``TensorClamp``), the ReLU folded in if ``relu``.

    ``apply(x, scale, low, high, relu)``: ``clamp(round(relu(x) / scale), low, high) * scale``
    (with ``relu`` the output's zeros may be ``-0.0``: equal values). Backward: the gradient
    passes where the rounded value was in range (and ``x > 0`` with ``relu``, the ReLU's
    derivative); the scale's is ``(g . y - g' . x) / scale`` per model (``scale`` ``[M, 1, ...]``).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        scale: torch.Tensor,
        low: torch.Tensor,
        high: torch.Tensor,
        relu: bool,
    ) -> torch.Tensor:
        """The quantized activations; the input, scale, mask and output kept."""
        q = torch.div(x, scale).round_()
        low, high = float(low), float(high)  # a clamp by 0-dim tensors is many times slower
        # the mask in floats (1 or 0): on CPU a comparison into a float tensor is several
        # times faster than into a boolean one, and so is multiplying by it than torch.where
        if relu:  # (q <= high) * x > 0: q is integral, so clamp(high + 1 - q, 0, 1) is 1 or 0
            inside = torch.rsub(q, high + 1).clamp_(0, 1).mul_(x).gt_(0)  # one buffer, no temp
        else:
            inside = torch.le(q, high, out=torch.empty_like(q))
            inside.mul_(torch.ge(q, low, out=torch.empty_like(q)))
        y = q.clamp_(low, high).mul_(scale)
        ctx.save_for_backward(x, scale, inside, y)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        """The input's gradient where it passed the clamp (and ReLU), and the scale's."""
        x, scale, inside, y = ctx.saved_tensors
        passed = grad * inside
        grad_scale = None
        if ctx.needs_input_grad[1]:
            rows = scale.shape[0]
            dots = _row_dot(grad, y) - _row_dot(passed, x)
            grad_scale = (dots / scale.reshape(rows).float()).view(scale.shape).to(scale.dtype)
        return passed if ctx.needs_input_grad[0] else None, grad_scale, None, None, None
