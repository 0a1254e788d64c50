"""Independent copies of one network (target + shadows) behind one small interface."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn


class ModelEnsemble(nn.Module):
    """``num_models`` independently initialized copies of one network, run one after another.

    The interface (:meth:`forward` for one input to all models, :meth:`forward_each` for one
    input per model) is all the LightningModule and the attack callback use, so a vectorized
    implementation can replace this loop without touching them.

    Args:
        build: Builds one fresh, randomly initialized network.
        num_models: Number of copies.

    Example:
        >>> ens = ModelEnsemble(lambda: nn.Linear(4, 3), num_models=2)
        >>> ens(torch.zeros(5, 4)).shape
        torch.Size([2, 5, 3])
        >>> [None if o is None else o.shape for o in ens.forward_each([torch.zeros(1, 4), None])]
        [torch.Size([1, 3]), None]
    """

    def __init__(self, build: Callable[[], nn.Module], num_models: int) -> None:
        super().__init__()
        self.members = nn.ModuleList(build() for _ in range(num_models))

    def __len__(self) -> int:
        return len(self.members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Every model on the same input: ``[num_models, batch, outputs]``."""
        return torch.stack([model(x) for model in self.members])

    def forward_each(self, inputs: Sequence[torch.Tensor | None]) -> list[torch.Tensor | None]:
        """Model ``i`` on ``inputs[i]``; ``None`` in, ``None`` out (that model is skipped)."""
        if len(inputs) != len(self.members):
            raise ValueError(f"expected {len(self.members)} inputs, got {len(inputs)}")
        return [None if x is None else m(x) for m, x in zip(self.members, inputs, strict=True)]
