"""The base of the vectorized ensembles: gathers the models' inputs, runs their own front layers
(one call per model, or the conv front ends of all models grouped), stacks the rest.

See :mod:`~lightning_snnpriv.models.vectorized` for the classes and why the results are the
loop's; :mod:`~lightning_snnpriv.models.conv_group` for the grouped conv front ends.
"""  # noqa: D205

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lightning_snnpriv.models.conv_group import FrontMode, conv_modules, grouped_front, use_grouped
from lightning_snnpriv.models.networks import channels_last
from lightning_snnpriv.models.quant_vectorized import stacked_weight


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``x [A, B, in] -> [A, B, out]`` with stacked ``weight [A, out, in]``, ``bias [A, out]``."""
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


def _shared_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """One input for all models, ``x [B, in] -> [A, B, out]``, as a single matrix product."""
    a, out, n_in = weight.shape
    y = torch.addmm(bias.reshape(1, a * out), x, weight.reshape(a * out, n_in).t())
    return y.view(len(x), a, out).transpose(0, 1)


def _pad_rows(x: torch.Tensor, rows: int) -> torch.Tensor:
    """``x`` with zero rows appended up to ``rows`` rows (unchanged if it has them)."""
    if len(x) == rows:
        return x
    return torch.cat([x, x.new_zeros(rows - len(x), *x.shape[1:])])


class VectorizedEnsemble(nn.Module):
    """Base of the vectorized ensembles: gathers inputs and stacks weights; subclasses compute.

    Args:
        members: The models (built as for the loop; they keep their parameters).
        front: How the models' conv front ends run (ConvNets only): ``grouped`` (all models
            in one grouped convolution per layer, :mod:`~lightning_snnpriv.models.conv_group`),
            ``per_model``, or ``auto`` (grouped where it can and where it is measured faster).
    """

    #: Whether ``ensemble: auto`` picks this class (set from ``python -m benchmarks.ensemble``).
    faster_than_loop: bool = False

    def __init__(self, members: nn.ModuleList, front: FrontMode = "auto") -> None:
        super().__init__()
        self.members = members
        self.grouped = use_grouped(front, conv_modules(members[0]))

    def __len__(self) -> int:
        return len(self.members)

    @staticmethod
    def supports(network: nn.Module) -> bool:
        """Whether this class can run ``network`` (exact type and no quantized layers)."""
        raise NotImplementedError

    def linears(self, network: nn.Module) -> list[nn.Linear]:
        """The network's fully connected layers, in order."""
        raise NotImplementedError

    def run(self, x: torch.Tensor, models: Sequence[int], sizes: Sequence[int]) -> torch.Tensor:
        """Outputs ``[A, B, C]`` of the models ``models`` on ``x``: ``[A, B, in]`` or ``[B, in]``.

        ``sizes`` are each model's own rows of ``x`` (the rest is padding).
        """
        raise NotImplementedError

    def _stacked(self, models: Sequence[int]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Weights (quantized where the layers are) and biases of :meth:`linears`, stacked."""
        layers = [self.linears(self.members[m]) for m in models]
        weights = [stacked_weight([net[k] for net in layers]) for k in range(len(layers[0]))]
        biases = [torch.stack([net[k].bias for net in layers]) for k in range(len(layers[0]))]
        return weights, biases

    def input_quant(self, model: int) -> nn.Module:
        """Model ``model``'s input quantizer (``Identity`` if none)."""
        return nn.Identity()

    def tail(self, model: int, features: torch.Tensor) -> torch.Tensor:
        """Model ``model``'s own layers between its conv front end and the stacked layers.

        Here none: the stacked layers take the flattened features.
        """
        return features

    def front(self, model: int, x: torch.Tensor) -> torch.Tensor:
        """Model ``model``'s own layers before the stacked ones, on ``x``: ``[B, in]``.

        Its input quantizer, its conv front end (if any; none in an MLP), flattening,
        :meth:`tail`.
        """
        x = self.input_quant(model)(x)
        features = conv_modules(self.members[model])
        if len(features):
            x = features(channels_last(x))
        return self.tail(model, x.flatten(1))

    def fronts(self, models: Sequence[int], xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """:meth:`front` of each model ``models[j]`` on ``xs[j]``, the conv front ends grouped
        if so set (then zero-padded to the longest batch: ``[longest, in]`` each).
        """  # noqa: D205
        if not self.grouped:
            return [self.front(m, x) for m, x in zip(models, xs, strict=True)]
        longest = max(len(x) for x in xs)
        x = torch.stack([_pad_rows(self.input_quant(m)(x), longest)
                         for m, x in zip(models, xs, strict=True)])  # fmt: skip
        features = grouped_front([conv_modules(self.members[m]) for m in models], x)
        return [self.tail(m, f) for m, f in zip(models, features, strict=True)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Every model on the same input: ``[num_models, batch, outputs]``."""
        models = range(len(self.members))
        fronts = self.fronts(models, [x] * len(models))
        return self.run(torch.stack(fronts), models, [len(x)] * len(models))

    def forward_each(self, inputs: Sequence[torch.Tensor | None]) -> list[torch.Tensor | None]:
        """Model ``i`` on ``inputs[i]``; ``None`` in, ``None`` out (that model is skipped)."""
        if len(inputs) != len(self.members):
            raise ValueError(f"expected {len(self.members)} inputs, got {len(inputs)}")
        active = [m for m, x in enumerate(inputs) if x is not None]
        results: list[torch.Tensor | None] = [None] * len(inputs)
        if not active:
            return results
        sizes = [len(inputs[m]) for m in active]  # type: ignore[arg-type]
        longest = max(sizes)
        xs = self.fronts(active, [inputs[m] for m in active])  # type: ignore[misc]
        outputs = self.run(torch.stack([_pad_rows(x, longest) for x in xs]), active, sizes)
        for j, m in enumerate(active):
            results[m] = outputs[j, : sizes[j]]
        return results
