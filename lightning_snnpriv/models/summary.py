"""Per-layer summary of a network: the quantizer and bit width in effect, neurons and surrogate.

Read from the built modules themselves (brevitas' quant proxies, the snntorch neuron), not from
the config, so it shows what a run really trains.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lightning_snnpriv.models.networks import LIF


@dataclass(frozen=True)
class LayerInfo:
    """One layer of a network.

    Args:
        name: Its name in the network (``fcs.0``, ``layers.2``).
        module: Its class name.
        quantization: The quantizer and bit width in effect, ``full precision`` when none.
        details: Everything else worth knowing (shape, neuron settings, surrogate).
    """

    name: str
    module: str
    quantization: str
    details: str


def _bits(proxy: nn.Module) -> int:
    return int(proxy.bit_width())


def _weight_quant(layer: nn.Module) -> tuple[str, str]:
    proxy = layer.weight_quant
    if not proxy.is_quant_enabled:
        return "full precision", _shape(layer)
    per_channel = bool(getattr(proxy.quant_injector, "scaling_per_output_channel", False))
    narrow = ", narrow range" if proxy.is_narrow_range else ""
    bias = "quantized" if layer.bias_quant.is_quant_enabled else "float"
    return (
        f"weights int{_bits(proxy)}, scale per {'output channel' if per_channel else 'tensor'}",
        f"{_shape(layer)}; brevitas {proxy.quant_injector.__name__} (signed{narrow}), bias {bias}",
    )


def _act_quant(layer: nn.Module) -> tuple[str, str]:
    proxy = layer.act_quant
    if not proxy.is_quant_enabled:
        return "full precision", ""
    sign = "int" if proxy.is_signed else "uint"
    return (
        f"activations {sign}{_bits(proxy)}, learned scale",
        f"brevitas {proxy.quant_injector.__name__}",
    )


def _lif(lif: LIF) -> tuple[str, str]:
    neuron = lif.neuron
    state_quant = neuron.state_quant
    quantization = (
        f"membrane {state_quant.num_bits} bits, {2**state_quant.num_bits} levels in "
        f"[{-state_quant.threshold * (1 + state_quant.lower_limit):g}, "
        f"{state_quant.threshold * (1 + state_quant.upper_limit):g}] (snntorch state_quant)"
        if state_quant
        else "membrane full precision"
    )
    reset = ("subtract", "zero", "none")[int(neuron.reset_mechanism_val)]
    details = (
        f"snntorch Leaky(beta={float(neuron.beta):g}, threshold={float(neuron.threshold):g}, "
        f"reset={reset}), surrogate {neuron.spike_grad!r}"
    )
    return quantization, details


def _shape(module: nn.Module) -> str:
    if isinstance(module, nn.Linear):
        return f"{module.in_features} -> {module.out_features}"
    if isinstance(module, nn.Conv2d):
        return (
            f"{module.in_channels} -> {module.out_channels} channels, "
            f"kernel {'x'.join(map(str, module.kernel_size))}"
        )
    return ""


def describe_network(
    network: nn.Module, example_input: torch.Tensor | None = None
) -> list[LayerInfo]:
    """Every layer of ``network`` that computes something, in order, with its quantization.

    With ``example_input`` the layers are listed in the order a forward pass first calls them
    (for an SNN: ``fc 0, LIF 0, fc 1, LIF 1``), otherwise in the order they are registered.

    Brevitas layers (``QuantLinear``, ``QuantConv2d``: a ``weight_quant`` proxy;
    ``QuantReLU``, ``QuantIdentity``: an ``act_quant`` proxy) report their bit width and
    quantizer; LIF neurons their membrane quantization, settings and surrogate; plain layers
    are ``full precision`` (an ``Identity`` is an input without quantizer). Containers and
    ``Flatten`` are left out.

    Example:
        >>> from lightning_snnpriv.models.networks import ANN
        >>> for layer in describe_network(ANN((4,), 3, hidden_sizes=[8], act_bits=4)):
        ...     print(layer.name, layer.module, layer.quantization, sep=" | ")
        layers.0 | Identity | full precision
        layers.2 | Linear | full precision
        layers.3 | QuantReLU | activations uint4, learned scale
        layers.4 | Linear | full precision
    """
    skip = (nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.Flatten)
    infos: list[LayerInfo] = []
    covered: set[str] = set()
    for name, module in network.named_modules():
        if (
            not name
            or isinstance(module, skip)
            or any(name.startswith(prefix + ".") for prefix in covered)
        ):
            continue
        if isinstance(module, LIF):
            quantization, details = _lif(module)
        elif hasattr(module, "weight_quant"):
            quantization, details = _weight_quant(module)
        elif hasattr(module, "act_quant"):
            quantization, details = _act_quant(module)
        elif next(module.children(), None) is None:
            quantization, details = "full precision", _shape(module)
        else:
            continue  # a container of its own kind: its layers follow
        covered.add(name)
        infos.append(LayerInfo(name, type(module).__name__, quantization, details))
    if example_input is not None:
        order = _call_order(network, example_input)
        infos.sort(key=lambda info: order.get(info.name, len(order)))
    return infos


def _call_order(network: nn.Module, example_input: torch.Tensor) -> dict[str, int]:
    """Module name -> position of its first call in one forward pass on ``example_input``."""
    order: dict[str, int] = {}

    def record(name: str) -> None:
        order.setdefault(name, len(order))

    handles = [
        module.register_forward_pre_hook(lambda _m, _a, name=name: record(name))
        for name, module in network.named_modules()
        if name
    ]
    training = network.training
    try:
        with torch.no_grad():
            network.eval()  # no activation statistics collected by brevitas
            network(example_input)
    finally:
        network.train(training)
        for handle in handles:
            handle.remove()
    return order


def format_layers(infos: list[LayerInfo]) -> str:
    """``describe_network``'s rows as an aligned plain-text table."""
    rows = [("layer", "module", "quantization", "details")]
    rows += [(i.name, i.module, i.quantization, i.details) for i in infos]
    widths = [max(len(row[k]) for row in rows) for k in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
