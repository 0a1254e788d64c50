"""Quantized layer factories: brevitas for weights and ANN activations, snntorch for SNN membranes.

``None`` bits means full precision and gives the plain PyTorch layer, so a full-precision
network contains no brevitas module at all.

Weight quantization uses brevitas' default weight quantizer (``Int8WeightPerTensorFloat`` with
``weight_bit_width`` overridden): signed, narrow range, one floating-point scale per tensor
taken from the weights' absolute maximum (``per_channel=True`` gives one scale per output
channel). Every layer, and so every model copy, owns its scale.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lightning_snnpriv.errors import ConfigError

MIN_BITS, MAX_BITS = 1, 32


def check_bits(name: str, bits: int | None) -> None:
    """Raise a :class:`ConfigError` unless ``bits`` is ``None`` or an int in [1, 32].

    Example:
        >>> check_bits("weight_bits", 4)
        >>> check_bits("weight_bits", 0)
        Traceback (most recent call last):
        ...
        lightning_snnpriv.errors.ConfigError: `weight_bits` must be null (full precision) or an integer from 1 to 32, got 0.
    """  # noqa: E501
    if bits is None:
        return
    if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        raise ConfigError(
            f"`{name}` must be null (full precision) or an integer from {MIN_BITS} to "
            f"{MAX_BITS}, got {bits!r}."
        )


def linear(
    in_features: int, out_features: int, weight_bits: int | None, per_channel: bool = False
) -> nn.Module:
    """A fully connected layer, quantization-aware when ``weight_bits`` is set."""
    if weight_bits is None:
        return nn.Linear(in_features, out_features)
    from brevitas.nn import QuantLinear

    return QuantLinear(
        in_features,
        out_features,
        bias=True,
        weight_bit_width=weight_bits,
        weight_scaling_per_output_channel=per_channel,
        return_quant_tensor=False,
    )


def conv2d(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    weight_bits: int | None,
    per_channel: bool = False,
) -> nn.Module:
    """A 2-d convolution with 'same' padding, quantization-aware when ``weight_bits`` is set."""
    padding = kernel_size // 2
    if weight_bits is None:
        return nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding)
    from brevitas.nn import QuantConv2d

    return QuantConv2d(
        in_channels,
        out_channels,
        kernel_size,
        padding=padding,
        bias=True,
        weight_bit_width=weight_bits,
        weight_scaling_per_output_channel=per_channel,
        return_quant_tensor=False,
    )


def relu(act_bits: int | None) -> nn.Module:
    """ReLU, or brevitas ``QuantReLU(bit_width=act_bits)`` (unsigned, learned scale)."""
    if act_bits is None:
        return nn.ReLU()
    from brevitas.nn import QuantReLU

    return QuantReLU(bit_width=act_bits, return_quant_tensor=False)


def input_quantizer(input_bits: int | None) -> nn.Module:
    """Identity, or brevitas ``QuantIdentity(bit_width=input_bits)`` on the network input."""
    if input_bits is None:
        return nn.Identity()
    from brevitas.nn import QuantIdentity

    return QuantIdentity(bit_width=input_bits, return_quant_tensor=False)


class MembraneQuantizer:
    """Picklable snntorch ``state_quant`` (uniform levels) for a LIF neuron's membrane.

    snntorch's ``functional.quant.state_quant`` returns a closure, which cannot be pickled; this
    object keeps its arguments and builds snntorch's quantizer on first use, so the levels and
    the straight-through gradient are snntorch's own: ``2**num_bits`` levels evenly spaced from
    ``-threshold * (1 + lower_limit)`` to ``threshold * (1 + upper_limit)``.

    Args:
        num_bits: Bits of membrane state.
        threshold: The neuron's firing threshold.
        lower_limit: How far below ``-threshold`` the lowest level lies, as a fraction of it.
        upper_limit: How far above ``threshold`` the highest level lies, as a fraction of it.

    Example:
        >>> q = MembraneQuantizer(2, threshold=1.0, lower_limit=0.0, upper_limit=0.2)
        >>> q(torch.tensor([-5.0, 0.1, 0.3, 5.0]))
        tensor([-1.0000, -0.2667,  0.4667,  1.2000])
    """

    def __init__(
        self, num_bits: int, threshold: float, lower_limit: float, upper_limit: float
    ) -> None:
        check_bits("act_bits", num_bits)
        self.num_bits = num_bits
        self.threshold = threshold
        self.lower_limit = lower_limit
        self.upper_limit = upper_limit
        self._fn: Any = None

    def __call__(self, mem: torch.Tensor) -> torch.Tensor:
        """Round each membrane value to the nearest level."""
        if self._fn is None:
            from snntorch.functional.quant import state_quant

            self._fn = state_quant(
                num_bits=self.num_bits,
                uniform=True,
                threshold=self.threshold,
                lower_limit=self.lower_limit,
                upper_limit=self.upper_limit,
            )
        return self._fn(mem)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fn": None}

    def __repr__(self) -> str:
        return (
            f"MembraneQuantizer(num_bits={self.num_bits}, threshold={self.threshold:g}, "
            f"lower_limit={self.lower_limit:g}, upper_limit={self.upper_limit:g})"
        )
