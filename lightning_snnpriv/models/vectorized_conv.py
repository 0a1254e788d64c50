"""ANN ConvNets of M models at once: the conv front ends grouped, the FC layers stacked.

See :mod:`~lightning_snnpriv.models.conv_group` (grouped convolutions, why per model exact) and
:mod:`~lightning_snnpriv.models.vectorized` (the other vectorized ensembles).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lightning_snnpriv.models.networks import ANN
from lightning_snnpriv.models.vectorized_base import VectorizedEnsemble, _linear


def _first_linear(network: nn.Module) -> int:
    """Index in ``network.layers`` of the first fully connected layer (after ``Flatten``)."""
    return next(k for k, layer in enumerate(network.layers) if isinstance(layer, nn.Linear))


class VectorizedConvANN(VectorizedEnsemble):
    """Full-precision ANN ConvNets (:class:`~lightning_snnpriv.models.networks.ANN`) at once.

    Each model's conv front end (grouped for all models, or per model: ``front``), then its
    own first FC layer and ReLU (the largest weights: 3136 x 1000 in the paper's MNIST ConvNet,
    one matrix product per model costs what the batched one does, without the copy of the
    stacked weights), then the later FC layers stacked ``[A, out, in]`` as batched products.

    Not consistently faster than the loop on the project's CPU (``python -m
    benchmarks.conv_ensemble``, 0.99-1.25x: the convolutions and the first FC layer, nearly all
    of a step, are the same calls as in the loop), so ``ensemble: auto`` keeps the loop.

    Example:
        >>> from lightning_snnpriv.models.ensemble import ModelEnsemble
        >>> loop = ModelEnsemble(lambda: ANN((1, 4, 4), 3, [8], conv_channels=[2]), num_models=3)
        >>> fast = VectorizedConvANN(loop.members, front="grouped")
        >>> x = torch.rand(5, 1, 4, 4)
        >>> torch.allclose(fast(x), loop(x), atol=1e-6)
        True
    """

    #: Layer types this class runs.
    PLAIN = (nn.Identity, nn.Conv2d, nn.MaxPool2d, nn.ReLU, nn.Flatten, nn.Linear)

    @staticmethod
    def supports(network: nn.Module) -> bool:
        """A ConvNet ANN of plain layers only (no brevitas ones)."""
        return (
            type(network) is ANN
            and network.is_conv
            and all(type(layer) in VectorizedConvANN.PLAIN for layer in network.layers)
        )

    def linears(self, network: nn.Module) -> list[nn.Module]:
        """The fully connected layers after the first (which :meth:`tail` runs)."""
        return [layer for layer in network.layers if isinstance(layer, nn.Linear)][1:]

    def tail(self, model: int, features: torch.Tensor) -> torch.Tensor:
        """Model ``model``'s first FC layer (and its ReLU, unless it is the output layer)."""
        layers = self.members[model].layers
        k = _first_linear(self.members[model])
        return layers[k : k + 2](features)  # the ReLU, or nothing after the output layer

    def run(self, x: torch.Tensor, models: Sequence[int], sizes: Sequence[int]) -> torch.Tensor:
        """The later FC layers, stacked, with ReLU between: ``x [A, B, H] -> [A, B, C]``."""
        weights, biases = self._stacked(models)
        for k, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
            x = _linear(x, weight, bias)
            if k < len(weights) - 1:
                x = torch.relu(x)
        return x
