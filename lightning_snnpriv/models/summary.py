"""Per-layer summary of a network: the quantizer and bit width in effect, neurons and surrogate.

Read from the built modules themselves (brevitas' quant proxies, the snntorch neuron), not from
the config, so it shows what a run really trains.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def _weight_quant(layer: nn.Module) -> str:
    proxy = layer.weight_quant
    if not proxy.is_quant_enabled:
        return "full precision"
    per_channel = bool(getattr(proxy.quant_injector, "scaling_per_output_channel", False))
    kind = "signed narrow-range" if proxy.is_narrow_range else "signed"
    return (
        f"weights int{_bits(proxy)} ({kind}, one scale per "
        f"{'output channel' if per_channel else 'tensor'}; brevitas "
        f"{proxy.quant_injector.__name__}), bias "
        f"{'quantized' if layer.bias_quant.is_quant_enabled else 'full precision'}"
    )


def _act_quant(layer: nn.Module) -> str:
    proxy = layer.act_quant
    if not proxy.is_quant_enabled:
        return "full precision"
    sign = "int" if proxy.is_signed else "uint"
    return (
        f"activations {sign}{_bits(proxy)} (learned scale; brevitas "
        f"{proxy.quant_injector.__name__})"
    )


def _lif(lif: LIF) -> tuple[str, str]:
    neuron = lif.neuron
    state_quant = neuron.state_quant
    quantization = (
        f"membrane {state_quant.num_bits} bits (snntorch state_quant, {2**state_quant.num_bits} "
        f"uniform levels in [{-state_quant.threshold * (1 + state_quant.lower_limit):g}, "
        f"{state_quant.threshold * (1 + state_quant.upper_limit):g}])"
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


def describe_network(network: nn.Module) -> list[LayerInfo]:
    """Every layer of ``network`` that computes something, in order, with its quantization.

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
        layers.3 | QuantReLU | activations uint4 (learned scale; brevitas Uint8ActPerTensorFloat)
        layers.4 | Linear | full precision
    """
    skip = (nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.Flatten)
    infos: list[LayerInfo] = []
    covered: set[str] = set()
    for name, module in network.named_modules():
        if not name or isinstance(module, skip) or any(
            name.startswith(prefix + ".") for prefix in covered
        ):
            continue
        if isinstance(module, LIF):
            quantization, details = _lif(module)
        elif hasattr(module, "weight_quant"):
            quantization, details = _weight_quant(module), _shape(module)
        elif hasattr(module, "act_quant"):
            quantization, details = _act_quant(module), ""
        elif next(module.children(), None) is None:
            quantization, details = "full precision", _shape(module)
        else:
            continue  # a container of its own kind: its layers follow
        covered.add(name)
        infos.append(LayerInfo(name, type(module).__name__, quantization, details))
    return infos


def format_layers(infos: list[LayerInfo]) -> str:
    """``describe_network``'s rows as an aligned plain-text table."""
    rows = [("layer", "module", "quantization", "details")]
    rows += [(i.name, i.module, i.quantization, i.details) for i in infos]
    widths = [max(len(row[k]) for row in rows) for k in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
