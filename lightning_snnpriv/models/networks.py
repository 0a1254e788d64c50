"""Plain ``nn.Module`` networks: ANN and SNN multi-layer perceptrons (no Lightning here).

Both map an input of ``input_shape`` to ``num_classes`` outputs through fully connected layers
of ``hidden_sizes``. The ANN uses ReLU (or brevitas ``QuantReLU``); the SNN uses snntorch
``Leaky`` integrate-and-fire neurons after every layer, over ``num_steps`` time steps with
direct input (the same input current at every step), and reads out the output layer's last
membrane, mean membrane or spike count.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from math import prod
from typing import Literal

import snntorch as snn
import torch
from torch import nn

from lightning_snnpriv.models import quant
from lightning_snnpriv.models.surrogates import Surrogate

Readout = Literal["membrane_last", "membrane_mean", "spike_count"]
ResetMechanism = Literal["subtract", "zero", "none"]

#: Readout of the output layer from its membranes and spikes, both ``[steps, batch, classes]``.
READOUTS = {
    "membrane_last": lambda mem, spk: mem[-1],
    "membrane_mean": lambda mem, spk: mem.mean(0),
    "spike_count": lambda mem, spk: spk.sum(0),
}


class ANN(nn.Module):
    """Multi-layer perceptron with ReLU activations.

    Args:
        input_shape: Shape of one input sample (flattened before the first layer).
        num_classes: Number of outputs.
        hidden_sizes: Width of each hidden layer.
        weight_bits: Weight bits of every layer (brevitas), ``None`` for full precision.
        act_bits: Activation bits (brevitas ``QuantReLU``), ``None`` for full precision.
        input_bits: Input bits (brevitas ``QuantIdentity``), ``None`` for full precision.
        per_channel: One weight scale per output channel instead of per tensor.

    Example:
        >>> net = ANN((4,), 3, hidden_sizes=[16])
        >>> net(torch.zeros(2, 4)).shape
        torch.Size([2, 3])
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
    ) -> None:
        super().__init__()
        sizes = [prod(input_shape), *hidden_sizes, num_classes]
        layers: list[nn.Module] = [quant.input_quantizer(input_bits), nn.Flatten()]
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(quant.linear(n_in, n_out, weight_bits, per_channel))
            if i < len(sizes) - 2:
                layers.append(quant.relu(act_bits))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[batch, num_classes]``."""
        return self.layers(x)


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
    """Spiking multi-layer perceptron: Linear + LIF per layer, over ``num_steps`` steps.

    With direct input the first layer's input current is the same at every step, so it is
    computed once per forward pass (exact: the same values and gradients as recomputing it).

    Args:
        input_shape: Shape of one input sample (flattened before the first layer).
        num_classes: Number of outputs.
        hidden_sizes: Width of each hidden layer.
        num_steps: Time steps per sample.
        beta: Membrane decay per step, in (0, 1].
        threshold: Firing threshold.
        reset_mechanism: ``subtract``, ``zero`` or ``none``.
        surrogate: Spike function with its surrogate gradient.
        readout: What the outputs are: the output layer's ``membrane_last`` (the source
            study's), ``membrane_mean`` over steps, or ``spike_count``.
        weight_bits: Weight bits of every layer (brevitas), ``None`` for full precision.
        act_bits: Membrane state bits (snntorch ``state_quant``), ``None`` for full precision.
        input_bits: Input bits (brevitas ``QuantIdentity``), ``None`` for full precision.
        state_quant_limits: ``(lower_limit, upper_limit)`` of snntorch's ``state_quant``.
        per_channel: One weight scale per output channel instead of per tensor.

    Example:
        >>> net = SNN((4,), 3, hidden_sizes=[16], num_steps=5)
        >>> net(torch.zeros(2, 4)).shape
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
    ) -> None:
        super().__init__()
        surrogate = surrogate if surrogate is not None else Surrogate("fast_sigmoid")
        sizes = [prod(input_shape), *hidden_sizes, num_classes]
        self.num_steps = num_steps
        self.readout = readout
        self.input_quant = quant.input_quantizer(input_bits)
        self.fcs = nn.ModuleList(
            quant.linear(n_in, n_out, weight_bits, per_channel)
            for n_in, n_out in itertools.pairwise(sizes)
        )
        self.lifs = nn.ModuleList(
            LIF(
                beta,
                threshold,
                reset_mechanism,
                surrogate,
                None
                if act_bits is None
                else quant.MembraneQuantizer(act_bits, threshold, *state_quant_limits),
            )
            for _ in self.fcs
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Readout ``[batch, num_classes]`` after ``num_steps`` steps."""
        current_in = self.fcs[0](self.input_quant(x).flatten(1))
        mems: list[torch.Tensor | None] = [None] * len(self.fcs)
        out_mem: list[torch.Tensor] = []
        out_spk: list[torch.Tensor] = []
        for _ in range(self.num_steps):
            current = current_in
            for k, (fc, lif) in enumerate(zip(self.fcs, self.lifs, strict=True)):
                if k:
                    current = fc(spikes)  # noqa: F821  (set by the previous layer)
                mem = mems[k] if mems[k] is not None else torch.zeros_like(current)
                spikes, mems[k] = lif(current, mem)
            out_mem.append(mems[-1])  # type: ignore[arg-type]
            out_spk.append(spikes)
        for lif in self.lifs:
            lif.forget()
        return READOUTS[self.readout](torch.stack(out_mem), torch.stack(out_spk))
