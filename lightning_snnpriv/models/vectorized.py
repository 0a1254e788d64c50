"""All copies of one MLP in one batched pass: stacked weights ``[M, out, in]``, batched matmul.

:class:`VectorizedEnsemble` has :class:`~lightning_snnpriv.models.ensemble.ModelEnsemble`'s
interface and keeps its ``members`` (so the ``state_dict``, the optimizer's parameters and
checkpoints are the loop's, and either path loads the other's checkpoint). Only the arithmetic
changes: each forward pass stacks the weights of the models that have a batch into ``[A, out,
in]`` tensors and runs all of them with ``torch.baddbmm``. A model without a batch is left out
of the stack, so its gradients stay ``None`` and Adam does not move it, exactly as in the loop.
Unequal batch sizes are padded with zero rows; every output is cut back to the model's own
rows, so padded rows reach neither the loss nor any gradient.

Supported: :class:`~lightning_snnpriv.models.networks.ANN` MLPs, full-precision ANN ConvNets
(:class:`~lightning_snnpriv.models.vectorized_conv.VectorizedConvANN`) and
:class:`~lightning_snnpriv.models.networks.SNN` MLPs and hybrid ConvNets (direct input), full
precision or quantized (brevitas weights, activations and inputs and snntorch membranes, each
model by its own scales: :mod:`~lightning_snnpriv.models.quant_vectorized`); their conv front
ends per model or grouped for all models in one call (:mod:`~lightning_snnpriv.models.conv_group`).
The SNN's time loop is :func:`~lightning_snnpriv.models.lif_scan.snn_mlp_scan` (snntorch
``Leaky`` semantics, the same surrogate gradients, a written-out backward pass), tested against
:func:`~lightning_snnpriv.models.lif_scan.lif_step`, one step of the same dynamics through
autograd.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import nn

from lightning_snnpriv.errors import ConfigError
from lightning_snnpriv.models.conv_group import FrontMode
from lightning_snnpriv.models.ensemble import ModelEnsemble
from lightning_snnpriv.models.lif_scan import snn_mlp_scan
from lightning_snnpriv.models.networks import ANN, READOUTS, SNN, ResetMechanism
from lightning_snnpriv.models.quant import MembraneQuantizer
from lightning_snnpriv.models.quant_vectorized import (
    is_quant_act,
    is_quant_weight_layer,
    stacked_act,
)
from lightning_snnpriv.models.surrogates import Surrogate
from lightning_snnpriv.models.vectorized_base import (
    VectorizedEnsemble,
    _linear,
    _shared_linear,
)
from lightning_snnpriv.models.vectorized_conv import VectorizedConvANN

EnsembleMode = Literal["auto", "loop", "vectorized"]


class VectorizedANN(VectorizedEnsemble):
    """Full-precision ReLU MLPs (:class:`~lightning_snnpriv.models.networks.ANN`) at once.

    Not faster than the loop on CPU (a few large matrix products per step are already
    compute-bound, and stacking the weights costs a copy), so ``auto`` keeps the loop for ANNs.

    Example:
        >>> loop = ModelEnsemble(lambda: ANN((4,), 3, [8]), num_models=3)
        >>> fast = VectorizedANN(loop.members)
        >>> torch.allclose(fast(torch.ones(2, 4)), loop(torch.ones(2, 4)), atol=1e-6)
        True
    """

    #: Layer types this class runs (:class:`VectorizedQuantANN` adds brevitas' quantized ones).
    PLAIN = (nn.Identity, nn.Flatten, nn.Linear, nn.ReLU)

    @staticmethod
    def supports(network: nn.Module) -> bool:
        """Plain ``Identity``, ``Flatten``, ``Linear`` and ``ReLU`` layers only."""
        return type(network) is ANN and all(
            type(layer) in VectorizedANN.PLAIN for layer in network.layers
        )

    def linears(self, network: nn.Module) -> list[nn.Module]:
        """The fully connected layers of ``network.layers``."""
        return [layer for layer in network.layers if hasattr(layer, "in_features")]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Every model on the same input, the first layer as one matrix product for all."""
        return self.run(x.flatten(1), range(len(self.members)), [len(x)] * len(self.members))

    def run(self, x: torch.Tensor, models: Sequence[int], sizes: Sequence[int]) -> torch.Tensor:
        """The input quantizer (if any), then stacked linear layers with activations between."""
        weights, biases = self._stacked(models)
        layers = [self.members[m].layers for m in models]
        if is_quant_act(layers[0][0]):  # brevitas QuantIdentity on the input, per model
            x = x if x.dim() == 3 else x.expand(len(models), *x.shape)
            x = stacked_act([net[0] for net in layers], x, sizes)
        acts = [k for k, layer in enumerate(layers[0]) if k and type(layer) is not nn.Flatten
                and not hasattr(layer, "in_features")]  # fmt: skip
        for k, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
            x = (_linear if x.dim() == 3 else _shared_linear)(x, weight, bias)
            if k < len(weights) - 1:
                modules = [net[acts[k]] for net in layers]
                x = torch.relu(x) if type(modules[0]) is nn.ReLU else stacked_act(modules, x, sizes)
        return x


class VectorizedQuantANN(VectorizedANN):
    """Quantized ReLU MLPs: brevitas weights, ``QuantReLU`` and input quantizer, all at once.

    Each model keeps its own scales (:mod:`~lightning_snnpriv.models.quant_vectorized`); the
    loop runs every brevitas layer of every model separately, which is several times slower
    than this batched pass, so ``auto`` picks it.
    """

    faster_than_loop = True

    @staticmethod
    def supports(network: nn.Module) -> bool:
        """An MLP of plain or brevitas-quantized layers, at least one of them quantized."""
        if type(network) is not ANN or VectorizedANN.supports(network):
            return False
        return all(
            type(layer) in VectorizedANN.PLAIN or is_quant_weight_layer(layer)
            or (is_quant_act(layer) and (k == 0 or type(layer).__name__ == "QuantReLU"))
            for k, layer in enumerate(network.layers)
        )  # fmt: skip


class VectorizedSNN(VectorizedEnsemble):
    """Spiking MLPs and hybrid ConvNets (:class:`~lightning_snnpriv.models.networks.SNN`) at once.

    The same computation as :meth:`SNN.forward` for ``A`` models at a time: each model's first
    LIF layer current once per forward pass (direct input; its own hybrid conv front end and
    first FC layer, :meth:`front`; the conv front ends of all models grouped where measured
    faster, :mod:`~lightning_snnpriv.models.conv_group`), then the whole time loop of all LIF
    layers in :func:`~lightning_snnpriv.models.lif_scan.snn_mlp_scan` (per step, one batched
    matmul and one in-place LIF update per layer; the reset is the layer's previous spikes, the
    same values snntorch recomputes from the previous membrane) with a written-out backward
    pass.
    Faster than the loop of separate SNNs at every ``M`` measured (``M = 1`` included; MLPs
    and the source study's hybrid ConvNet), so ``auto`` picks it. Quantized networks too: each
    model's brevitas layers before the first FC layer run as they are (:meth:`front`), the
    FC layers' weights (the first one's included) are stacked and quantized by each model's
    scale and the membranes to snntorch's levels
    (:mod:`~lightning_snnpriv.models.quant_vectorized`).

    Example:
        >>> loop = ModelEnsemble(lambda: SNN((4,), 3, [8], num_steps=4), num_models=3)
        >>> fast = VectorizedSNN(loop.members)
        >>> torch.allclose(fast(torch.ones(2, 4)), loop(torch.ones(2, 4)), atol=1e-6)
        True
    """

    faster_than_loop = True

    def __init__(self, members: nn.ModuleList, front: FrontMode = "auto") -> None:
        super().__init__(members, front)
        lif = members[0].lifs[0].neuron
        self.num_steps = members[0].num_steps
        self.readout = members[0].readout
        self.reset_mechanism: ResetMechanism = lif.reset_mechanism
        self.spike: Surrogate = lif.spike_grad
        self.register_buffer("beta", lif.beta.detach().clone(), persistent=False)
        self.register_buffer("threshold", lif.threshold.detach().clone(), persistent=False)
        quantizer = lif.state_quant
        levels = quantizer.levels() if isinstance(quantizer, MembraneQuantizer) else None
        self.register_buffer("levels", levels, persistent=False)
        #: A brevitas first FC layer is stacked too: its weights are quantized anyway, and the
        #: fused quantizer writes the quantized stack at no extra copy.
        self.stack_first = is_quant_weight_layer(members[0].fcs[0])

    @staticmethod
    def supports(network: nn.Module) -> bool:
        """Direct input, plain or brevitas ``Linear`` layers, at most a hybrid conv front end
        (no spiking convolutions), one neuron setting (membrane quantizer included).
        """  # noqa: D205
        if type(network) is not SNN or len(network.convs) or network.encoding != "direct":
            return False
        if not (type(network.input_quant) is nn.Identity or is_quant_act(network.input_quant)):
            return False
        plain = (nn.Conv2d, nn.ReLU, nn.MaxPool2d)
        if not all(type(m) in plain or is_quant_weight_layer(m) or is_quant_act(m)
                   for m in network.features):  # fmt: skip
            return False
        if not all(type(fc) is nn.Linear or is_quant_weight_layer(fc) for fc in network.fcs):
            return False
        neurons = [lif.neuron for lif in network.lifs]
        first = neurons[0]
        return all(
            (not n.state_quant if not first.state_quant else n.state_quant == first.state_quant)
            and (not n.state_quant or isinstance(n.state_quant, MembraneQuantizer))
            and not n.inhibition
            and n.reset_delay
            and float(n.graded_spikes_factor) == 1.0
            and isinstance(n.spike_grad, Surrogate)
            and n.spike_grad == first.spike_grad
            and n.reset_mechanism == first.reset_mechanism
            and torch.equal(n.beta, first.beta)
            and torch.equal(n.threshold, first.threshold)
            and not isinstance(n.beta, nn.Parameter)
            and not isinstance(n.threshold, nn.Parameter)
            for n in neurons
        )

    def linears(self, network: nn.Module) -> list[nn.Linear]:
        """``network.fcs`` after the first (which :meth:`front` runs), or all if stacked."""
        return list(network.fcs)[0 if self.stack_first else 1 :]

    def input_quant(self, model: int) -> nn.Module:
        """Model ``model``'s input quantizer."""
        return self.members[model].input_quant

    def tail(self, model: int, features: torch.Tensor) -> torch.Tensor:
        """The first LIF layer's input current of model ``model``, the same at every step.

        The model's own first FC layer on its conv features (or input), not stacked: the first
        layer has the largest weights (3136 x 1000 in the source study's ConvNet), and stacking
        them would copy them at every step for one matrix product that costs the same per model.
        A brevitas first FC layer is stacked instead (:attr:`stack_first`): then the features
        themselves.
        """
        return features if self.stack_first else self.members[model].fcs[0](features)

    def run(self, x: torch.Tensor, models: Sequence[int], sizes: Sequence[int]) -> torch.Tensor:
        """:func:`snn_mlp_scan` from the first layer's currents ``x [A, B, H]``, the readout.

        With :attr:`stack_first`, ``x`` is the first layer's input, and the currents are its
        stacked (quantized) product.
        """
        weights, biases = self._stacked(models)
        if self.stack_first:
            x = _linear(x, weights[0], biases[0])
            weights, biases = weights[1:], biases[1:]
        spikes, mems = snn_mlp_scan(
            x, weights, biases, self.num_steps, self.beta, self.threshold,
            self.reset_mechanism, self.spike, self.levels,
        )  # fmt: skip
        return READOUTS[self.readout](mems.transpose(0, 1), spikes.transpose(0, 1))


#: Vectorized implementations, tried in order; the first that supports the network is used.
VECTORIZED: tuple[type[VectorizedEnsemble], ...] = (
    VectorizedANN,
    VectorizedQuantANN,
    VectorizedConvANN,
    VectorizedSNN,
)


def vectorized_class(network: nn.Module) -> type[VectorizedEnsemble] | None:
    """The vectorized ensemble class that runs ``network``, or ``None`` (the loop must).

    Example:
        >>> vectorized_class(ANN((4,), 3, [8])).__name__
        'VectorizedANN'
        >>> vectorized_class(ANN((4,), 3, [8], weight_bits=4)).__name__
        'VectorizedQuantANN'
        >>> vectorized_class(SNN((4,), 3, [8], encoding="rate")) is None
        True
    """
    return next((cls for cls in VECTORIZED if cls.supports(network)), None)


def build_ensemble(
    build: Callable[[], nn.Module],
    num_models: int,
    mode: EnsembleMode = "auto",
    front: FrontMode = "auto",
) -> ModelEnsemble | VectorizedEnsemble:
    """``num_models`` copies of ``build()``, run by a loop or vectorized.

    The copies are built (and so initialized, consuming the random generator) the same way in
    every mode. ``auto`` vectorizes the networks whose vectorized class is measured faster than
    the loop (``faster_than_loop``, from ``python -m benchmarks.ensemble`` and
    ``python -m benchmarks.quant_step``: SNN MLPs and hybrid SNNs, quantized or not, and
    quantized ANN MLPs; not full-precision ANN MLPs or ConvNets); ``vectorized`` insists, and
    raises a :class:`ConfigError` for unsupported networks.

    Args:
        build: Builds one fresh, randomly initialized network.
        num_models: Number of copies.
        mode: ``auto``, ``loop`` or ``vectorized``.
        front: How a vectorized ConvNet's conv front ends run: ``auto``, ``grouped`` (one
            grouped convolution per layer for all models) or ``per_model``
            (:mod:`~lightning_snnpriv.models.conv_group`).

    Example:
        >>> type(build_ensemble(lambda: SNN((4,), 3, [8]), 3)).__name__
        'VectorizedSNN'
        >>> type(build_ensemble(lambda: SNN((4,), 3, [8]), 3, "loop")).__name__
        'ModelEnsemble'
        >>> type(build_ensemble(lambda: ANN((4,), 3, [8]), 3)).__name__
        'ModelEnsemble'
    """
    if mode not in ("auto", "loop", "vectorized"):
        raise ConfigError(
            f"`model.init_args.ensemble` must be auto, loop or vectorized, got {mode!r}."
        )
    loop = ModelEnsemble(build, num_models)
    if mode == "loop":
        return loop
    cls = vectorized_class(loop.members[0])
    if cls is None:
        if mode == "vectorized":
            raise ConfigError(
                f"`model.init_args.ensemble`: vectorized training supports only MLPs (ANN, "
                f"SNN), full-precision ANN ConvNets and hybrid SNNs (direct input, non-spiking "
                f"conv front end), not this {type(loop.members[0]).__name__} (quantized ANN "
                f"convolutions, spiking convolutions or rate-coded input). Set `ensemble: "
                f"auto` or `ensemble: loop`."
            )
        return loop
    if mode == "auto" and not cls.faster_than_loop:
        return loop
    return cls(loop.members, front)
