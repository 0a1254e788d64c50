"""Quantizers of M stacked models at once: brevitas weights and activations, snntorch membranes.

The vectorized ensembles (:mod:`~lightning_snnpriv.models.vectorized`) run all models in one
batched pass over stacked tensors ``[A, ...]``; these functions quantize such a stack with each
model's own scale, so a quantized network no longer needs the loop. Every model keeps its
brevitas modules (parameters, buffers, statistics counters, ``state_dict``); only the
arithmetic is batched:

- **Weights** (:func:`stacked_weight`): brevitas' ``Int8WeightPerTensorFloat`` (per tensor or
  per output channel) is a scale from the absolute maximum of the weights followed by
  round-and-clamp. The maximum is taken per model (and channel) of the stack; the scale
  chain (``_StatsScaling``) and the integer quantizer (``IntQuant``: divide, ``round_ste``,
  clamp, multiply) are the first model's own brevitas modules applied to the stack: they are
  elementwise, so each model gets exactly the values and straight-through gradients it gets
  alone.
- **Activations** (:func:`stacked_act`): brevitas' ``QuantReLU``/``QuantIdentity`` scale
  (``ParameterFromRuntimeStatsScaling``) is stateful per model: for its first
  ``collect_stats_steps`` training calls the batch's percentile of ``|x|`` (and a running
  average in ``buffer``, used in eval), then the learned ``value``. Each model's counter,
  buffer and value are read and updated exactly as brevitas does (``training_forward``,
  ``forward``); models in the same phase are computed together. The percentile is
  brevitas' (``k = floor(q n / 100 + 0.5)``, the k-th smallest ``|x|`` of the model's own
  rows); it is read with ``topk`` when ``k`` is near ``n`` and one element holds it (the
  same element and value as ``kthvalue``, faster), else with ``kthvalue``.
- **Membranes** (:func:`~lightning_snnpriv.models.membrane_quant.nearest_level`, re-exported
  here): snntorch's ``state_quant`` finds the nearest of its ``2**N`` levels by comparing
  each value with all of them; there the level below the value is found by arithmetic and
  the value compared with the exact float decision boundary between it and the next, so the
  result is the same level for every input; its gradient is snntorch's straight-through one
  (identity), which the fused scan's backward pass already is.

``tests/models/test_quant_vectorized.py`` checks values and gradients against the library
layers for every bit width and scaling mode.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from lightning_snnpriv.models.membrane_quant import nearest_level
from lightning_snnpriv.models.quant_fused import ActQuant, stacked_weight_quant

__all__ = ["is_quant_act", "is_quant_weight_layer", "nearest_level", "stacked_act",
           "stacked_weight"]  # fmt: skip

#: ``topk`` reads the percentile when it is among this many largest values (else ``kthvalue``).
TOPK_LIMIT = 64


def _plain_int_quant(tensor_quant: nn.Module) -> bool:
    """A ``RescalingIntQuant`` with zero point 0, ``RoundSte`` and a plain or STE clamp."""
    from brevitas.core.function_wrapper import Identity, RoundSte, TensorClamp
    from brevitas.core.function_wrapper.ops_ste import TensorClampSte
    from brevitas.core.quant import RescalingIntQuant
    from brevitas.core.zero_point import ZeroZeroPoint

    if type(tensor_quant) is not RescalingIntQuant or tensor_quant.observer_only:
        return False
    int_quant = tensor_quant.int_quant
    return (
        type(tensor_quant.zero_point_impl) is ZeroZeroPoint
        and type(int_quant.float_to_int_impl) is RoundSte
        and type(int_quant.tensor_clamp_impl) in (TensorClamp, TensorClampSte)
        and type(int_quant.input_view_impl) is Identity
        and int_quant.delay_wrapper.delay_impl.__class__.__name__ == "_NoDelay"
    )


def is_quant_weight_layer(layer: nn.Module) -> bool:
    """Whether ``layer`` is a brevitas ``QuantLinear``/``QuantConv2d`` as our factories build it.

    Weight quantization by absolute-maximum statistics, no bias, input or output quantizer.
    """
    from brevitas.core.scaling import StatsFromParameterScaling
    from brevitas.nn import QuantConv2d, QuantLinear

    if type(layer) not in (QuantLinear, QuantConv2d):
        return False
    tensor_quant = getattr(layer.weight_quant, "tensor_quant", None)
    return (
        _plain_int_quant(tensor_quant)
        and type(tensor_quant.scaling_impl) is StatsFromParameterScaling
        and not layer.bias_quant.is_quant_enabled
        and not layer.input_quant.is_quant_enabled
        and not layer.output_quant.is_quant_enabled
    )


def is_quant_act(module: nn.Module) -> bool:
    """Whether ``module`` is a brevitas ``QuantReLU``/``QuantIdentity`` with percentile scaling."""
    from brevitas.core.scaling import ParameterFromRuntimeStatsScaling
    from brevitas.core.stats.stats_op import AbsPercentile
    from brevitas.nn import QuantIdentity, QuantReLU

    if type(module) not in (QuantReLU, QuantIdentity) or module.input_quant.is_quant_enabled:
        return False
    proxy = module.act_quant.fused_activation_quant_proxy
    tensor_quant = getattr(proxy, "tensor_quant", None)
    if not _plain_int_quant(tensor_quant):
        return False
    scaling = tensor_quant.scaling_impl
    return (
        type(scaling) is ParameterFromRuntimeStatsScaling
        and type(scaling.stats.stats_impl) is AbsPercentile
        and scaling.stats.stats_impl.stats_reduce_dim is None
        and not scaling.local_loss_mode
    )


class _IntQuant(torch.autograd.Function):
    """brevitas ``IntQuant`` (zero point 0, ``RoundSte``) as one autograd node.

    Forward: ``clamp(round(x / scale), min_int, max_int) * scale``, the same float operations
    as brevitas (so the same values). Backward: the derivative autograd takes through
    brevitas' chain: straight through the rounding; through the clamp too for weights
    (``TensorClampSte``), zero where the activation clamp (``TensorClamp``) cut; and the
    scale's gradient ``sum(g q) - sum(g' x) / scale`` over each model's elements (``g'`` the
    gradient that passed the clamp; brevitas' chain computes ``g' scale / scale`` and
    ``g' scale x / scale**2``, equal but for float rounding). A few passes over the tensor
    instead of brevitas' dozen ops, each a pass forward and one or two back.
    """

    @staticmethod
    def forward(ctx, x, scale, min_int, max_int, ste_clamp: bool):  # type: ignore[override]
        q = torch.div(x, scale).round_()
        min_int, max_int = min_int.to(q.dtype), max_int.to(q.dtype)
        inside = None if ste_clamp else (q >= min_int) & (q <= max_int)
        q.clamp_(min_int, max_int)
        ctx.save_for_backward(x, scale, q, inside)
        return q * scale

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, scale, q, inside = ctx.saved_tensors
        passed = grad if inside is None else grad * inside
        grad_scale = None
        if ctx.needs_input_grad[1]:
            grad_scale = _dot(grad, q, scale) - _dot(passed, x, scale) / scale
        return passed, grad_scale, None, None, None


def _dot(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``(a * b)`` summed to ``scale``'s shape (leading dims kept, trailing ones of size 1
    summed), as one batched dot product (``vecdot``: one pass, no ``a * b`` tensor).
    """  # noqa: D205
    kept = next((d for d in range(scale.dim()) if scale.shape[d] == 1), scale.dim())
    rows = scale.shape[:kept].numel()
    a, b = a.reshape(rows, -1).float(), b.reshape(rows, -1).float()  # bf16 autocast: sum in fp32
    return torch.linalg.vecdot(a, b).view(scale.shape).to(scale.dtype)


def _ste_clamp(tensor_quant: nn.Module) -> bool:
    """Whether ``tensor_quant`` clamps straight through (brevitas weights) or not (activations)."""
    from brevitas.core.function_wrapper.ops_ste import TensorClampSte

    return type(tensor_quant.int_quant.tensor_clamp_impl) is TensorClampSte


def _int_quant(tensor_quant: nn.Module, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``tensor_quant``'s integer quantizer of ``x`` by ``scale`` (broadcast), fused."""
    int_quant = tensor_quant.int_quant
    bit_width = tensor_quant.msb_clamp_bit_width_impl()
    low, high = int_quant.min_int(bit_width), int_quant.max_int(bit_width)
    return _IntQuant.apply(x, scale, low, high, _ste_clamp(tensor_quant))


def _abs_max(flat: torch.Tensor, per_row: bool) -> torch.Tensor:
    """The brevitas ``AbsMax`` of each model's weights ``flat [A, n]`` (``[A, out, n]`` per_row).

    Per output channel brevitas takes ``torch.max(|w|, dim=1)``, whose gradient goes to the
    element it returns; per tensor ``torch.max(|w|)``, whose gradient is split between tied
    maxima. The maximum's element is found without autograd and only it is differentiated
    (not the whole ``|w|``); per tensor, where several elements tie, ``amax`` splits as
    brevitas does.
    """
    with torch.no_grad():
        top, index = flat.abs().max(dim=-1, keepdim=True)
        tied = not per_row and bool(((flat.abs() == top).sum(-1) > 1).any())
    if tied:
        return flat.abs().amax(dim=-1)
    return flat.gather(-1, index).squeeze(-1).abs()


def stacked_weight(layers: Sequence[nn.Module], fused: bool = True) -> torch.Tensor:
    """The weights of ``layers`` (one per model) stacked ``[A, out, ...]``, quantized as brevitas.

    Plain layers give their weights; brevitas weight-quantized layers
    (:func:`is_quant_weight_layer`) their quantized weights, each model by its own scale, by
    the fused node :class:`~lightning_snnpriv.models.quant_fused.StackedWeightQuant` (unless
    ``fused`` is off or the scale chain has parameters of its own: then stacked, then quantized
    through autograd, the same values).
    """
    if not hasattr(layers[0], "weight_quant"):
        return torch.stack([layer.weight for layer in layers])
    tensor_quant = layers[0].weight_quant.tensor_quant
    scaling = tensor_quant.scaling_impl
    shape = tuple(scaling.parameter_list_stats.stats.stats_output_shape)
    if (
        fused
        and _ste_clamp(tensor_quant)
        and not any(p.requires_grad for p in scaling.stats_scaling_impl.parameters())
    ):
        return stacked_weight_quant(tensor_quant, [layer.weight for layer in layers], shape)
    weight = torch.stack([layer.weight for layer in layers])
    bit_width = tensor_quant.msb_clamp_bit_width_impl()
    threshold = tensor_quant.int_scaling_impl(bit_width)
    stats = _abs_max(weight.flatten(2) if shape else weight.flatten(1), per_row=bool(shape))
    stats = stats.reshape(len(layers), *shape)
    scale = scaling.stats_scaling_impl(stats, threshold)
    scale = scale.reshape(len(layers), *shape, *[1] * (weight.dim() - 1 - len(shape)))
    return _int_quant(tensor_quant, weight, scale)


def _abs_percentile(
    stats_impl: nn.Module, flat: torch.Tensor, nonnegative: bool = False
) -> torch.Tensor:
    """The brevitas ``AbsPercentile`` of each row of ``flat [A, n]``: ``[A]``.

    brevitas takes ``kthvalue(|x|, k)``, whose gradient goes to the element it returns. Where
    the k-th value is held by one element of the row, ``topk`` finds that element faster;
    where several hold it (ties: after a 1-bit activation, say), which one ``kthvalue``
    returns is its own choice, so that row is computed by ``kthvalue`` as brevitas calls it.
    """
    from brevitas.utils.torch_utils import kthvalue

    n = flat.shape[1]
    k = math.floor(0.01 * stats_impl.q * n + 0.5)
    # a ReLU's output is its own magnitude (and |.|'s zero gradient at 0 is the ReLU's too)
    magnitude = flat if nonnegative else flat.abs()
    top = n - k + 1  # the k-th smallest is the top-th largest
    if top + 1 > min(n, TOPK_LIMIT):
        return torch.stack([kthvalue(row, k)[0] for row in magnitude])
    values = magnitude.topk(top + 1, dim=1).values  # descending
    result = values[:, top - 1]
    tied = values[:, top] == result
    if top > 1:
        tied |= values[:, top - 2] == result
    if not tied.any():
        return result
    rows = zip(magnitude, tied.tolist(), result, strict=True)
    return torch.stack([kthvalue(row, k)[0] if tie else value for row, tie, value in rows])


def _collect(
    scalings: Sequence[nn.Module],
    x: torch.Tensor,
    sizes: Sequence[int],
    threshold: torch.Tensor,
    nonnegative: bool = False,
) -> torch.Tensor:
    """The brevitas ``training_forward`` while collecting statistics, each model of ``x``."""
    from brevitas.core.utils import inplace_momentum_update

    first = scalings[0]
    stats_impl = first.stats.stats_impl
    if len(set(sizes)) == 1 and sizes[0] == x.shape[1]:
        stats = _abs_percentile(stats_impl, x.reshape(len(scalings), -1), nonnegative)
    else:  # the model's own rows only (padding is not its data)
        stats = torch.cat(
            [
                _abs_percentile(stats_impl, x[j, :n].reshape(1, -1), nonnegative)
                for j, n in enumerate(sizes)
            ]
        )
    values = torch.stack([s.value for s in scalings])
    stats = stats + 0.0 * values  # brevitas' DDP workaround: value gets a zero gradient
    clamped = first.clamp_scaling(stats)
    detached = clamped.detach()
    for j, s in enumerate(scalings):
        if s.counter == 0:
            s.buffer.mul_(detached[j])
        else:
            inplace_momentum_update(s.buffer, detached[j], s.momentum, s.counter, s.counter + 1)
        s.counter = s.counter + 1
    return clamped / threshold


def _learned(scalings: Sequence[nn.Module], threshold: torch.Tensor) -> torch.Tensor:
    """The brevitas ``training_forward`` after collecting: the learned ``value`` / threshold."""
    first = scalings[0]
    for s in scalings:
        if s.counter == s.collect_stats_steps:
            s.init_scale()
    values = torch.stack([s.value for s in scalings])
    value = first.clamp_scaling(first.restrict_scaling(values))
    threshold = first.restrict_threshold(first.restrict_threshold_pre(threshold))
    return first.restrict_scale_threshold(value / threshold)


def _evaluated(scalings: Sequence[nn.Module], threshold: torch.Tensor) -> torch.Tensor:
    """The brevitas ``forward`` in eval mode: the statistics' average while collecting, or value."""
    first = scalings[0]
    collecting = scalings[0].counter <= scalings[0].collect_stats_steps
    if collecting:
        out = first.restrict_scaling_pre(torch.stack([s.buffer for s in scalings]))
    else:
        out = torch.stack([s.value for s in scalings])
    threshold = first.restrict_threshold(first.restrict_threshold_pre(threshold))
    out = first.restrict_scaling(out)
    out = first.restrict_scale_threshold(out / threshold)
    return first.clamp_scaling(out)


def _act_scales(
    scalings: Sequence[nn.Module],
    x: torch.Tensor,
    sizes: Sequence[int],
    threshold: torch.Tensor,
    nonnegative: bool = False,
) -> torch.Tensor:
    """Each model's activation scale ``[A]``, computed in groups of models in the same phase.

    ``nonnegative``: ``x`` is a ReLU's output (its statistics need no ``|x|``).
    """
    steps = scalings[0].collect_stats_steps
    if scalings[0].training:
        phase = ["collect" if s.counter < steps else "learned" for s in scalings]
    else:
        phase = ["collecting" if s.counter <= steps else "learned" for s in scalings]
    parts, order = [], []
    for name in dict.fromkeys(phase):
        idx = [j for j, p in enumerate(phase) if p == name]
        group = [scalings[j] for j in idx]
        if not scalings[0].training:
            parts.append(_evaluated(group, threshold))
        elif name == "collect":
            rows = x if len(idx) == len(scalings) else x[idx]
            parts.append(_collect(group, rows, [sizes[j] for j in idx], threshold, nonnegative))
        else:
            parts.append(_learned(group, threshold))
        order += idx
    if len(parts) == 1:
        return parts[0]
    return torch.cat(parts)[torch.tensor(order).argsort()]


def stacked_act(
    modules: Sequence[nn.Module], x: torch.Tensor, sizes: Sequence[int], fused: bool = True
) -> torch.Tensor:
    """The brevitas ``QuantReLU``/``QuantIdentity`` of each model on its slice of ``x [A, B, ...]``.

    Args:
        modules: One quantized activation per model (:func:`is_quant_act`), in stack order.
        x: The stacked inputs.
        sizes: Each model's own rows of ``x`` (the others are padding).
        fused: Quantize by :class:`~lightning_snnpriv.models.quant_fused.ActQuant` (the ReLU
            folded in; the ReLU's output is then computed only for the statistics phase's
            percentile), else ReLU and :class:`_IntQuant` as two nodes (the same values).
    """
    proxy = modules[0].act_quant.fused_activation_quant_proxy
    tensor_quant = proxy.tensor_quant
    relu = type(proxy.activation_impl) is nn.ReLU
    fused = fused and (relu or type(proxy.activation_impl) is nn.Identity)
    fused = fused and not _ste_clamp(tensor_quant)
    scalings = [m.act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl for m in modules]
    collecting = scalings[0].training and any(s.counter < s.collect_stats_steps for s in scalings)
    activated = proxy.activation_impl(x) if collecting or not fused else x
    bit_width = tensor_quant.msb_clamp_bit_width_impl()
    threshold = tensor_quant.int_scaling_impl(bit_width)
    scale = _act_scales(scalings, activated, sizes, threshold, nonnegative=relu)
    scale = scale.reshape(len(modules), *[1] * (x.dim() - 1))
    if not fused:
        return _int_quant(tensor_quant, activated, scale)
    int_quant = tensor_quant.int_quant
    low, high = int_quant.min_int(bit_width), int_quant.max_int(bit_width)
    return ActQuant.apply(x, scale, low, high, relu)
