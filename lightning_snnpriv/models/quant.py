"""Quantized layer factories: brevitas for weights and ANN activations, snntorch for SNN membranes.

``None`` bits means full precision and gives the plain PyTorch layer, so a full-precision
network contains no brevitas module at all.

Weight quantization uses brevitas' default weight quantizer (``Int8WeightPerTensorFloat`` with
``weight_bit_width`` overridden): signed, narrow range, one floating-point scale per tensor
taken from the weights' absolute maximum (``per_channel=True`` gives one scale per output
channel). Every layer, and so every model copy, owns its scale: weight scales are computed from
that layer's own weights at every forward pass; ``QuantReLU``/``QuantIdentity`` scales are that
layer's: for its first 300 training calls (brevitas' ``collect_stats_steps``) the batch's
99.999th percentile of ``|x|`` over the top level, with a running average used in eval; then a
learned parameter initialized from that average.

Limits found in brevitas 0.13.4 and snntorch 1.0.0 (checked by ``check_bits``):

- ``weight_bits`` >= 2: the signed narrow-range weight quantizer has integer levels
  ``-(2**(N-1) - 1) .. 2**(N-1) - 1``; at 1 bit that is only 0, its scale ``absmax / 0`` is
  infinite and every weight NaN. 2 bits is ternary (-1, 0, +1 times the scale).
- ``input_bits`` >= 2: the signed input quantizer's 1-bit levels are ``{-1, 0}`` times the
  scale, so every positive input would become 0.
- membrane ``act_bits`` <= 16: snntorch's ``state_quant`` compares every membrane value with
  all ``2**N`` levels at once (a ``[values, 2**N]`` tensor, about ``12 * 2**N`` bytes per
  membrane value per step), which is out of memory long before 32 bits.

Brevitas layers do not pickle (``PicklingError: Can't pickle <class
'brevitas.inject.NoneActQuant'>``): each quant proxy keeps its dependency-injection class
(``quant_injector``, made by ``Injector.let(...)``), a class that pickle cannot find by name.
``copy.deepcopy`` and ``state_dict`` (so Lightning checkpoints) work; a quantized model cannot
be sent to processes by pickling (``strategy: ddp_spawn``), use ``strategy: ddp``.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from snntorch.functional.quant import state_quant
from torch import nn

from lightning_snnpriv.errors import ConfigError

MIN_BITS, MAX_BITS = 1, 32
#: Fewest weight / input bits that keep a non-zero positive level (see the module docstring).
MIN_WEIGHT_BITS = MIN_INPUT_BITS = 2
#: Most membrane bits snntorch's ``state_quant`` can hold in memory (see the module docstring).
MAX_STATE_BITS = 16
#: snntorch's own ``state_quant`` defaults for the level range (``lower_limit``, ``upper_limit``).
STATE_QUANT_DEFAULTS: dict[str, float] = {
    key: float(inspect.signature(state_quant).parameters[key].default)
    for key in ("lower_limit", "upper_limit")
}


def check_bits(
    name: str, bits: int | None, low: int = MIN_BITS, high: int = MAX_BITS, why: str = ""
) -> None:
    """Raise a :class:`ConfigError` unless ``bits`` is ``None`` or an int in [low, high].

    Args:
        name: The config field, named in the message.
        bits: Its value.
        low: Fewest bits allowed (1 unless the quantizer needs more).
        high: Most bits allowed (32 unless the quantizer allows fewer).
        why: Why ``low``/``high`` are what they are, appended to the message.

    Example:
        >>> check_bits("weight_bits", 4)
        >>> check_bits("weight_bits", 0)
        Traceback (most recent call last):
        ...
        lightning_snnpriv.errors.ConfigError: `weight_bits` must be null (full precision) or an integer from 1 to 32, got 0.
    """  # noqa: E501
    if bits is None:
        return
    if isinstance(bits, bool) or not isinstance(bits, int) or not low <= bits <= high:
        raise ConfigError(
            f"`{name}` must be null (full precision) or an integer from {low} to "
            f"{high}, got {bits!r}.{' ' + why if why else ''}"
        )


def check_weight_bits(name: str, bits: int | None) -> None:
    """Bits of a brevitas weight quantizer: 2 to 32 (1 bit would make every weight NaN)."""
    check_bits(name, bits, low=MIN_WEIGHT_BITS, why=(
        "At 1 bit brevitas' signed narrow-range weight quantizer has no level but 0 (its scale "
        "is absmax / 0 = inf and the weights NaN); 2 bits is ternary."))  # fmt: skip


def check_input_bits(name: str, bits: int | None) -> None:
    """Bits of the brevitas input quantizer: 2 to 32 (1 bit has no positive level)."""
    check_bits(name, bits, low=MIN_INPUT_BITS, why=(
        "At 1 bit the signed input quantizer's levels are {-1, 0} x scale, so every positive "
        "input becomes 0."))  # fmt: skip


def check_state_bits(name: str, bits: int | None) -> None:
    """Bits of snntorch's membrane ``state_quant``: 1 to 16 (it holds ``2**N`` levels per value)."""
    check_bits(name, bits, high=MAX_STATE_BITS, why=(
        f"snntorch's state_quant compares every membrane value with all 2**N levels at once "
        f"(about 12 * 2**N bytes per value and step), so more than {MAX_STATE_BITS} bits does "
        "not fit in memory."))  # fmt: skip


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
        check_state_bits("act_bits", num_bits)
        if -threshold * (1 + lower_limit) >= threshold * (1 + upper_limit):
            raise ConfigError(
                f"state_quant levels would run from {-threshold * (1 + lower_limit):g} down to "
                f"{threshold * (1 + upper_limit):g}: `state_quant_lower_limit` + "
                "`state_quant_upper_limit` must be > -2."
            )
        self.num_bits = num_bits
        self.threshold = threshold
        self.lower_limit = lower_limit
        self.upper_limit = upper_limit
        self._fn: Any = None

    def levels(self) -> torch.Tensor:
        """The ``2**num_bits`` levels, computed as snntorch's ``state_quant`` computes them."""
        return torch.linspace(
            -self.threshold - self.threshold * self.lower_limit,
            self.threshold + self.threshold * self.upper_limit,
            2 << self.num_bits - 1,
        )

    def __eq__(self, other: object) -> bool:
        """Same bits, threshold and limits (so the same levels)."""
        if not isinstance(other, MembraneQuantizer):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[int, float, float, float]:
        return (self.num_bits, self.threshold, self.lower_limit, self.upper_limit)

    def __call__(self, mem: torch.Tensor) -> torch.Tensor:
        """Round each membrane value to the nearest level."""
        if self._fn is None:
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
