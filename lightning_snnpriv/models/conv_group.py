"""The conv front ends of M models in one call: grouped convolutions over stacked channels.

A ConvNet's front end (:func:`~lightning_snnpriv.models.networks._conv_block`: 3x3 'same'
convolution, 2x2 max pooling, ReLU) runs for ``A`` models at once when their inputs are laid out
side by side along the channels, ``[B, A*C, H, W]``, and each convolution's weights are stacked
along the output channels, ``[A*O, C, 3, 3]``, with ``groups=A``: group ``m`` sees only model
``m``'s channels and has only model ``m``'s weights, so it computes exactly that model's
convolution. Max pooling and ReLU act on each channel alone, so they are per model by
construction (there is no batch norm in these networks; a layer that mixes channels or rows
is not supported). Autograd takes the stacked weights' gradients back to each model's own
``Conv2d`` (``torch.cat``), so the modules, the ``state_dict`` and the optimizer's parameters are
the loop's. Unequal batches are zero-padded to the longest; the padded rows' outputs are cut
before any loss, so their gradients are exact zeros and add nothing.

Weight-quantized convolutions (brevitas ``QuantConv2d``) are stacked by
:func:`~lightning_snnpriv.models.quant_vectorized.stacked_weight` (each model by its own scale);
a quantized activation (``QuantReLU``, ``QuantIdentity``) keeps per-model statistics that the
grouped layout does not hold, so such a front end runs per model (:func:`grouped_reason`).

Whether this is faster than one convolution per model depends on the CPU's convolution kernels:
``python -m benchmarks.conv_ensemble`` measures it side by side, and
:data:`GROUPED_IS_FASTER` records the answer ``front: auto`` follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from lightning_snnpriv.models.quant_vectorized import is_quant_weight_layer, stacked_weight

FrontMode = Literal["auto", "grouped", "per_model"]

#: Whether ``front: auto`` runs the conv front ends grouped (measured by
#: ``python -m benchmarks.conv_ensemble`` on the project machine; see docs/guide/performance.md).
GROUPED_IS_FASTER = False


def conv_modules(network: nn.Module) -> nn.Sequential:
    """The conv front end of an ANN or hybrid SNN: its conv, pooling and activation modules.

    Empty for an MLP.
    """
    if hasattr(network, "features"):  # SNN: the hybrid front end
        return network.features
    layers = list(network.layers)
    end = next(k for k, layer in enumerate(layers) if isinstance(layer, nn.Flatten))
    return nn.Sequential(*layers[1:end])  # after the input quantizer, before Flatten


def grouped_reason(modules: nn.Sequential) -> str | None:
    """Why ``modules`` cannot run grouped, or ``None`` if they can.

    Example:
        >>> grouped_reason(nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2), nn.ReLU()))
        >>> grouped_reason(nn.Sequential(nn.BatchNorm2d(4)))
        'BatchNorm2d mixes rows or per-model statistics'
    """
    if not len(modules):
        return "no convolutions"
    for layer in modules:
        if type(layer) in (nn.Conv2d,) or is_quant_weight_layer(layer):
            if layer.groups != 1 or layer.padding_mode != "zeros" or layer.bias is None:
                return f"{type(layer).__name__} with groups, bias or padding mode of its own"
        elif type(layer) is nn.MaxPool2d:
            if layer.return_indices:
                return "MaxPool2d returning indices"
        elif type(layer) is not nn.ReLU:
            return f"{type(layer).__name__} mixes rows or per-model statistics"
    return None


def _grouped_weight(convs: Sequence[nn.Module]) -> torch.Tensor:
    """The models' (quantized where they are) conv weights, stacked ``[A*O, C, kh, kw]``."""
    if hasattr(convs[0], "weight_quant"):  # brevitas: each model by its own scale
        weight = stacked_weight(convs).flatten(0, 1)
    else:
        weight = torch.cat([conv.weight for conv in convs])
    return weight.contiguous(memory_format=torch.channels_last)


def grouped_front(stacks: Sequence[nn.Sequential], x: torch.Tensor) -> torch.Tensor:
    """``A`` models' conv front ends on ``x [A, B, C, H, W]`` in one call per layer.

    Args:
        stacks: Each model's :func:`conv_modules` (the same architecture, own parameters).
        x: Model ``m``'s batch is ``x[m]`` (padded rows included).

    Returns:
        ``[A, B, F]``: model ``m``'s features flattened as its own ``features(x[m]).flatten(1)``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> stacks = [nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.MaxPool2d(2), nn.ReLU())
        ...           for _ in range(3)]
        >>> x = torch.randn(3, 5, 1, 4, 4)
        >>> out = grouped_front(stacks, x)
        >>> out.shape
        torch.Size([3, 5, 8])
        >>> torch.allclose(out[2], stacks[2](x[2]).flatten(1), atol=1e-6)
        True
    """
    num_models, batch = x.shape[:2]
    h = x.transpose(0, 1).reshape(batch, num_models * x.shape[2], *x.shape[3:])
    h = h.contiguous(memory_format=torch.channels_last)
    for k, layer in enumerate(stacks[0]):
        if type(layer) is nn.ReLU:
            h = torch.relu(h)
        elif type(layer) is nn.MaxPool2d:
            h = F.max_pool2d(h, layer.kernel_size, layer.stride, layer.padding, layer.dilation,
                             layer.ceil_mode)  # fmt: skip
        else:
            convs = [stack[k] for stack in stacks]
            bias = torch.cat([conv.bias for conv in convs])
            h = F.conv2d(h, _grouped_weight(convs), bias, layer.stride, layer.padding,
                         layer.dilation, groups=num_models)  # fmt: skip
    return h.unflatten(1, (num_models, -1)).transpose(0, 1).flatten(2)


def use_grouped(mode: FrontMode, modules: nn.Sequential) -> bool:
    """Whether a front end of ``modules`` runs grouped in ``mode``.

    ``grouped`` insists (a :class:`ValueError` naming the reason where it cannot), ``per_model``
    never, ``auto`` where it can and :data:`GROUPED_IS_FASTER`.
    """
    if mode not in ("auto", "grouped", "per_model"):
        raise ValueError(f"front must be auto, grouped or per_model, got {mode!r}")
    reason = grouped_reason(modules)
    if mode == "grouped" and reason is not None:
        raise ValueError(f"this front end cannot run grouped: {reason}")
    return reason is None and (mode == "grouped" or (mode == "auto" and GROUPED_IS_FASTER))
