"""Whole-batch fetching from in-memory tensors: one indexing operation per batch, not per sample.

A ``DataLoader`` over ``Subset(TensorDataset(...))`` calls ``__getitem__`` once per sample and
stacks the samples again, which costs a noticeable share of a small MLP's training step
(measured by ``benchmarks/overhead.py``). :class:`TensorSubset` implements
``__getitems__``, which the ``DataLoader`` calls with a whole batch of positions, and returns
the batch already stacked; :func:`collate_batched` passes it through. The same positions
give the same tensors, in the same order, as the per-sample path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset, default_collate


class TensorSubset(Dataset):
    """The samples ``indices`` of in-memory tensors (a ``TensorDataset``'s), fetched by batch.

    Args:
        tensors: Tensors with the samples along dimension 0 (features, labels, ...).
        indices: Which samples, in order; all of them if ``None``.
        with_index: Also yield each sample's index into ``tensors`` (for the audit pass).

    Example:
        >>> x, y = torch.arange(10.0).view(5, 2), torch.tensor([0, 1, 0, 1, 1])
        >>> data = TensorSubset((x, y), indices=[4, 2, 0])
        >>> len(data), data[1]
        (3, (tensor([4., 5.]), tensor(0)))
        >>> data.__getitems__([0, 2])
        [tensor([[8., 9.],
                [0., 1.]]), tensor([1, 0])]
    """

    def __init__(
        self,
        tensors: Sequence[torch.Tensor],
        indices: Sequence[int] | None = None,
        with_index: bool = False,
    ) -> None:
        self.tensors = tuple(tensors)
        size = len(self.tensors[0])
        self.indices = torch.arange(size) if indices is None else torch.as_tensor(indices)
        self.with_index = with_index

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> tuple[Any, ...]:
        index = int(self.indices[position])
        sample = tuple(t[index] for t in self.tensors)
        return (*sample, index) if self.with_index else sample

    def __getitems__(self, positions: Sequence[int]) -> list[torch.Tensor]:
        """A whole batch, stacked: ``[features, labels(, indices)]``."""
        index = self.indices[torch.as_tensor(positions, dtype=torch.long)]
        batch = [t[index] for t in self.tensors]
        return [*batch, index] if self.with_index else batch


def collate_batched(batch: Any) -> Any:
    """Pass a batch that :meth:`TensorSubset.__getitems__` stacked; collate anything else."""
    if isinstance(batch, list) and all(isinstance(t, torch.Tensor) for t in batch):
        return batch
    return default_collate(batch)
