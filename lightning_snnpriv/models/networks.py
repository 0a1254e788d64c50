"""Plain ``nn.Module`` networks: ANN and SNN MLPs and ConvNets (no Lightning here).

Both map an input of ``input_shape`` to ``num_classes`` outputs through optional convolution
blocks (``conv_channels``: each a 3x3 'same' convolution, the activation, 2x2 max pooling) and
fully connected layers of ``hidden_sizes``. The ANN uses ReLU (or brevitas ``QuantReLU``); the
SNN uses snntorch ``Leaky`` integrate-and-fire neurons after every fully connected layer (and
after every convolution with ``spiking_conv``; otherwise its convolutions are the source
study's non-spiking ReLU feature extractor) over ``num_steps`` time steps, with direct input
(the same input current at every step) or rate-coded input (Bernoulli spikes), and reads out the
output layer's last membrane, mean membrane or spike count.

ConvNets keep their convolution weights and activations in ``torch.channels_last`` (NHWC)
memory format, which oneDNN's CPU convolutions and max pooling run faster than the default
NCHW (a paper ConvNet training step about 15-25% faster at one thread; max pooling about
10x). Only the memory layout differs: shapes, indexing, values, gradients and ``state_dict``
keys are the same, a checkpoint of either layout loads into the other, and MLPs are untouched.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from math import prod
from typing import Literal

import snntorch as snn
import torch
from snntorch import spikegen
from torch import nn
from torch.nn import functional as F

from lightning_snnpriv.errors import ConfigError
from lightning_snnpriv.models import quant
from lightning_snnpriv.models.surrogates import Surrogate

Readout = Literal["membrane_last", "membrane_mean", "spike_count"]
ResetMechanism = Literal["subtract", "zero", "none"]
Encoding = Literal["direct", "rate"]

#: Kernel size of every convolution and window of every max pooling.
CONV_KERNEL, POOL = 3, 2

#: Readout of the output layer from its membranes and spikes, both ``[steps, batch, classes]``.
READOUTS = {
    "membrane_last": lambda mem, spk: mem[-1],
    "membrane_mean": lambda mem, spk: mem.mean(0),
    "spike_count": lambda mem, spk: spk.sum(0),
}


def conv_output_shape(input_shape: Sequence[int], conv_channels: Sequence[int]) -> tuple[int, ...]:
    """Shape after the convolution blocks: ``(channels, H, W)``, each block halving H and W.

    Without blocks the input shape is returned unchanged (an MLP flattens any shape).

    Example:
        >>> conv_output_shape((1, 28, 28), [32, 64])
        (64, 7, 7)
        >>> conv_output_shape((4,), [])
        (4,)
    """
    shape = tuple(int(d) for d in input_shape)
    if not conv_channels:
        return shape
    if len(shape) != 3:
        raise ConfigError(
            f"`model.init_args.conv_channels` {list(conv_channels)} needs image inputs "
            f"(channels, height, width), but the data's input_shape is {list(shape)}: set "
            "conv_channels: [] for this dataset."
        )
    if any(c < 1 for c in conv_channels):
        raise ConfigError(
            f"`model.init_args.conv_channels` must be positive, got {list(conv_channels)}."
        )
    height, width = shape[1], shape[2]
    for _ in conv_channels:
        height, width = height // POOL, width // POOL
    if height < 1 or width < 1:
        raise ConfigError(
            f"`model.init_args.conv_channels`: {len(conv_channels)} blocks each halve the "
            f"{shape[1]}x{shape[2]} input, which leaves nothing; use fewer blocks."
        )
    return (conv_channels[-1], height, width)


def _convs(
    in_channels: int, conv_channels: Sequence[int], weight_bits: int | None, per_channel: bool
) -> list[nn.Module]:
    """One 3x3 'same' convolution per entry of ``conv_channels``, weights in channels_last."""
    sizes = [in_channels, *conv_channels]
    return [
        quant.conv2d(n_in, n_out, CONV_KERNEL, weight_bits, per_channel).to(
            memory_format=torch.channels_last
        )
        for n_in, n_out in itertools.pairwise(sizes)
    ]


def _conv_block(conv: nn.Module, act_bits: int | None) -> list[nn.Module]:
    """Convolution, activation and 2x2 max pooling, as modules in the order they run.

    A full-precision ReLU runs after the pooling: max pooling commutes with ReLU (a
    non-decreasing function), so values and gradients are exactly those of convolution, ReLU,
    pooling, on a quarter of the elements. A brevitas ``QuantReLU`` stays before the pooling:
    its learned scale gets gradients from every element it sees.
    """
    pool = nn.MaxPool2d(POOL)
    if act_bits is None:
        return [conv, pool, nn.ReLU()]
    return [conv, quant.relu(act_bits), pool]


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` in channels_last memory format if it is a batch of images, else unchanged.

    Example:
        >>> channels_last(torch.zeros(2, 3, 4, 4)).is_contiguous(memory_format=torch.channels_last)
        True
    """
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


class ANN(nn.Module):
    """MLP or ConvNet with ReLU activations.

    Args:
        input_shape: Shape of one input sample (flattened before the first FC layer).
        num_classes: Number of outputs.
        hidden_sizes: Width of each hidden fully connected layer.
        weight_bits: Weight bits of every layer (brevitas), ``None`` for full precision.
        act_bits: Activation bits (brevitas ``QuantReLU``), ``None`` for full precision.
        input_bits: Input bits (brevitas ``QuantIdentity``), ``None`` for full precision.
        per_channel: One weight scale per output channel instead of per tensor.
        conv_channels: Output channels of each convolution block (3x3 'same' convolution,
            ReLU, 2x2 max pooling) before the FC layers; empty for an MLP.

    Example:
        >>> net = ANN((4,), 3, hidden_sizes=[16])
        >>> net(torch.zeros(2, 4)).shape
        torch.Size([2, 3])
        >>> net = ANN((1, 28, 28), 10, hidden_sizes=[100], conv_channels=[8])
        >>> net(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        hidden_sizes: Sequence[int] = (1000,),
        weight_bits: int | None = None,
        act_bits: int | None = None,
        input_bits: int | None = None,
        per_channel: bool = False,
        conv_channels: Sequence[int] = (),
    ) -> None:
        super().__init__()
        sizes = [prod(conv_output_shape(input_shape, conv_channels)), *hidden_sizes, num_classes]
        layers: list[nn.Module] = [quant.input_quantizer(input_bits)]
        for conv in _convs(input_shape[0] if conv_channels else 0, conv_channels,
                           weight_bits, per_channel):  # fmt: skip
            layers += _conv_block(conv, act_bits)
        layers.append(nn.Flatten())
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(quant.linear(n_in, n_out, weight_bits, per_channel))
            if i < len(sizes) - 2:
                layers.append(quant.relu(act_bits))
        self.layers = nn.Sequential(*layers)
        self.is_conv = bool(conv_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[batch, num_classes]``."""
        return self.layers(channels_last(x) if self.is_conv else x)


class LIF(nn.Module):
    """An snntorch ``Leaky`` neuron whose state lives only in the caller's forward pass.

    snntorch keeps the last membrane in the module (``mem``, ``reset``) and every neuron in a
    process-wide list (``SpikingNeuron.instances``). This wrapper takes the membrane as an
    argument, leaves the neuron out of that list, and :meth:`forget` drops what the neuron kept,
    so two networks never share state and a module deep-copies and pickles after a forward pass.

    Args:
        beta: Membrane decay per step, in (0, 1].
        threshold: Firing threshold.
        reset_mechanism: ``subtract`` (reset by subtraction), ``zero`` or ``none``.
        surrogate: Spike function with its surrogate gradient.
        state_quant: Membrane quantizer (snntorch ``state_quant``), ``None`` for none.
    """

    def __init__(
        self,
        beta: float,
        threshold: float,
        reset_mechanism: ResetMechanism,
        surrogate: Surrogate,
        state_quant: quant.MembraneQuantizer | None = None,
    ) -> None:
        super().__init__()
        self.neuron = snn.Leaky(
            beta=beta,
            threshold=threshold,
            spike_grad=surrogate,
            reset_mechanism=reset_mechanism,
            state_quant=state_quant if state_quant is not None else False,
            init_hidden=False,
        )
        # Not in snntorch's process-wide registry: nothing of ours uses its class-level resets.
        snn.SpikingNeuron.instances.remove(self.neuron)

    def forward(
        self, current: torch.Tensor, mem: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One time step: ``(spikes, next membrane)``."""
        return self.neuron(current, mem)

    def forget(self) -> None:
        """Drop the membrane and reset tensors that snntorch kept from the last step."""
        self.neuron.mem = torch.zeros(0, device=self.neuron.mem.device)
        self.neuron.__dict__.pop("reset", None)


class SNN(nn.Module):
    """Spiking MLP or ConvNet: LIF neurons after every FC layer, over ``num_steps`` steps.

    Convolution blocks (``conv_channels``) are either the source study's hybrid front end
    (``spiking_conv=False``: 3x3 convolution, ReLU, max pooling, computed without time) or
    spiking (``spiking_conv=True``: convolution, LIF, max pooling of the spikes, every step).

    Whatever is identical at every step is computed once per forward pass (exact: the same
    values and gradients as recomputing it): with direct input, the first spiking layer's
    input current (for the hybrid, the whole convolutional front end and the first FC layer).
    With rate input, the first layer's currents of all steps are computed in one batched call.

    Args:
        input_shape: Shape of one input sample (flattened before the first FC layer).
        num_classes: Number of outputs.
        hidden_sizes: Width of each hidden fully connected layer.
        num_steps: Time steps per sample.
        beta: Membrane decay per step, in (0, 1].
        threshold: Firing threshold.
        reset_mechanism: ``subtract``, ``zero`` or ``none``.
        surrogate: Spike function with its surrogate gradient.
        readout: What the outputs are: the output layer's ``membrane_last`` (the source
            study's), ``membrane_mean`` over steps, or ``spike_count``.
        weight_bits: Weight bits of every layer (brevitas), ``None`` for full precision.
        act_bits: Membrane state bits (snntorch ``state_quant``), and the bits of the hybrid
            front end's ReLU outputs (brevitas ``QuantReLU``); ``None`` for full precision.
        input_bits: Input bits (brevitas ``QuantIdentity``), ``None`` for full precision.
        state_quant_limits: ``(lower_limit, upper_limit)`` of snntorch's ``state_quant``.
        per_channel: One weight scale per output channel instead of per tensor.
        conv_channels: Output channels of each convolution block before the FC layers; empty
            for an MLP.
        spiking_conv: LIF neurons after the convolutions too, instead of ReLU.
        encoding: ``direct`` (the input is the same current at every step) or ``rate`` (each
            step, every input value in [0, 1] is a spike with that probability: snntorch
            ``spikegen.rate``, drawn from torch's global generator, which ``seed_everything``
            seeds). Rate coding needs inputs in [0, 1]; anything else raises ``ConfigError``.

    Example:
        >>> net = SNN((4,), 3, hidden_sizes=[16], num_steps=5)
        >>> net(torch.zeros(2, 4)).shape
        torch.Size([2, 3])
        >>> net = SNN((1, 8, 8), 3, hidden_sizes=[16], num_steps=2, conv_channels=[4],
        ...           spiking_conv=True, encoding="rate")
        >>> net(torch.rand(2, 1, 8, 8)).shape
        torch.Size([2, 3])
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        hidden_sizes: Sequence[int] = (1000,),
        num_steps: int = 25,
        beta: float = 0.95,
        threshold: float = 1.0,
        reset_mechanism: ResetMechanism = "subtract",
        surrogate: Surrogate | None = None,
        readout: Readout = "membrane_last",
        weight_bits: int | None = None,
        act_bits: int | None = None,
        input_bits: int | None = None,
        state_quant_limits: tuple[float, float] = (0.0, 0.2),
        per_channel: bool = False,
        conv_channels: Sequence[int] = (),
        spiking_conv: bool = False,
        encoding: Encoding = "direct",
    ) -> None:
        super().__init__()
        if spiking_conv and not conv_channels:
            raise ConfigError(
                "`model.init_args.spiking_conv: true` needs convolution blocks: set "
                "model.init_args.conv_channels (e.g. [32, 64]) or spiking_conv: false."
            )
        surrogate = surrogate if surrogate is not None else Surrogate("fast_sigmoid")
        sizes = [prod(conv_output_shape(input_shape, conv_channels)), *hidden_sizes, num_classes]
        self.num_steps = num_steps
        self.readout = readout
        self.encoding = encoding

        def lif() -> LIF:
            return LIF(
                beta,
                threshold,
                reset_mechanism,
                surrogate,
                None
                if act_bits is None
                else quant.MembraneQuantizer(act_bits, threshold, *state_quant_limits),
            )

        self.input_quant = quant.input_quantizer(input_bits)
        convs = _convs(input_shape[0] if conv_channels else 0, conv_channels,
                       weight_bits, per_channel)  # fmt: skip
        # Hybrid front end (non-spiking, computed without time); empty for an MLP.
        self.features = nn.Sequential(
            *(m for c in ([] if spiking_conv else convs) for m in _conv_block(c, act_bits))
        )
        self.convs = nn.ModuleList(convs if spiking_conv else [])
        self.conv_lifs = nn.ModuleList(lif() for _ in self.convs)
        self.fcs = nn.ModuleList(
            quant.linear(n_in, n_out, weight_bits, per_channel)
            for n_in, n_out in itertools.pairwise(sizes)
        )
        self.lifs = nn.ModuleList(lif() for _ in self.fcs)

    def _first_current(self, x: torch.Tensor) -> torch.Tensor:
        """Input current of the first spiking layer (conv or FC) for input ``x``."""
        if len(self.convs) or len(self.features):
            x = channels_last(x)
        if len(self.convs):
            return self.convs[0](x)
        return self.fcs[0](self.features(x).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Readout ``[batch, num_classes]`` after ``num_steps`` steps."""
        x = self.input_quant(x)
        if self.encoding == "rate":
            check_rate_input(x)
            spikes_in = spikegen.rate(x, num_steps=self.num_steps)  # [steps, batch, ...]
            currents = self._first_current(spikes_in.flatten(0, 1))
            currents = currents.unflatten(0, (self.num_steps, x.shape[0]))
        else:
            current_in = self._first_current(x)
        layers = [(conv, lif, True) for conv, lif in zip(self.convs, self.conv_lifs, strict=True)]
        layers += [(fc, lif, False) for fc, lif in zip(self.fcs, self.lifs, strict=True)]
        mems: list[torch.Tensor | None] = [None] * len(layers)
        out_mem: list[torch.Tensor] = []
        out_spk: list[torch.Tensor] = []
        for step in range(self.num_steps):
            current = currents[step] if self.encoding == "rate" else current_in
            for k, (synapse, lif, is_conv) in enumerate(layers):
                if k:
                    current = synapse(spikes if is_conv else spikes.flatten(1))  # noqa: F821
                mem = mems[k] if mems[k] is not None else torch.zeros_like(current)
                spikes, mems[k] = lif(current, mem)
                if is_conv:
                    spikes = F.max_pool2d(spikes, POOL)
            out_mem.append(mems[-1])  # type: ignore[arg-type]
            out_spk.append(spikes)
        for _, lif, _ in layers:
            lif.forget()
        return READOUTS[self.readout](torch.stack(out_mem), torch.stack(out_spk))


def check_rate_input(x: torch.Tensor) -> None:
    """Raise :class:`ConfigError` unless every value of ``x`` is a probability in [0, 1].

    Example:
        >>> check_rate_input(torch.tensor([0.0, 0.5, 1.0]))
        >>> check_rate_input(torch.tensor([-0.4, 2.8]))
        Traceback (most recent call last):
        ...
        lightning_snnpriv.errors.ConfigError: `model.init_args.encoding: rate` needs inputs in [0, 1] (spike probabilities), got values from -0.4 to 2.8. For the image datasets set data.init_args.normalization: none (pixels in [0, 1]); otherwise use encoding: direct.
    """  # noqa: E501
    low, high = x.min().item(), x.max().item()
    if low < 0 or high > 1:
        raise ConfigError(
            "`model.init_args.encoding: rate` needs inputs in [0, 1] (spike probabilities), got "
            f"values from {low:.3g} to {high:.3g}. For the image datasets set "
            "data.init_args.normalization: none (pixels in [0, 1]); otherwise use "
            "encoding: direct."
        )
