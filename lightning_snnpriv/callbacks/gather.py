"""The audit pass: every model's outputs on the pool, split over processes, back in pool order.

The pool's audit loader is cut into its batches (in pool order); rank ``r`` of ``W`` runs
batches ``r, r + W, r + 2W, ...``. Each sample is therefore computed in exactly the batch it
would be in with one process, so the gathered outputs equal a one-process pass. Shares are
padded to one length (rows with pool index ``-1``), gathered to every rank, and merged: padding
and duplicates dropped by pool index, rows sorted into pool order, coverage checked.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from pytorch_lightning import LightningModule
from pytorch_lightning.strategies import Strategy
from torch.utils.data import DataLoader


def shard_batches(
    batches: Sequence[Sequence[int]], num_replicas: int, rank: int
) -> list[list[int]]:
    """Rank ``rank``'s share of ``batches``: every ``num_replicas``-th one, starting at ``rank``.

    A rank that would get none (fewer batches than ranks) recomputes one batch instead, so
    every rank returns outputs of the same shape; the duplicate is dropped when merging.

    Example:
        >>> batches = [[0, 1], [2, 3], [4]]
        >>> [shard_batches(batches, 2, r) for r in range(2)]
        [[[0, 1], [4]], [[2, 3]]]
        >>> shard_batches(batches, 4, 3)
        [[0, 1]]
    """
    if not batches:
        raise ValueError("the audit loader yields no batch")
    share = [list(b) for b in batches[rank::num_replicas]]
    return share or [list(batches[rank % len(batches)])]


def shard_length(batches: Sequence[Sequence[int]], num_replicas: int) -> int:
    """The largest number of samples any rank's share holds (the length shares are padded to).

    Example:
        >>> shard_length([[0, 1], [2, 3], [4]], 2)
        3
    """
    return max(
        sum(len(b) for b in shard_batches(batches, num_replicas, rank))
        for rank in range(num_replicas)
    )


def shard_loader(loader: DataLoader, num_replicas: int, rank: int) -> tuple[DataLoader, int]:
    """A loader over rank ``rank``'s share of ``loader``'s batches, and the padded share length.

    ``loader`` must yield the same batches on every rank (no shuffling), as the audit loader
    does; :func:`merge_shards` detects a loader that does not.
    """
    batches = [list(b) for b in loader.batch_sampler]  # type: ignore[arg-type]
    share = DataLoader(
        loader.dataset,
        batch_sampler=shard_batches(batches, num_replicas, rank),
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
    )
    return share, shard_length(batches, num_replicas)


def pad_rows(tensor: torch.Tensor, length: int, dim: int, value: float = 0) -> torch.Tensor:
    """``tensor`` extended along ``dim`` to ``length`` rows filled with ``value``.

    Example:
        >>> pad_rows(torch.tensor([3, 4]), 4, dim=0, value=-1).tolist()
        [3, 4, -1, -1]
    """
    missing = length - tensor.shape[dim]
    if missing < 0:
        raise ValueError(f"cannot pad {tensor.shape[dim]} rows to {length}")
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([tensor, tensor.new_full(shape, value)], dim=dim)


def merge_shards(
    outputs: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor, num_samples: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gathered shares -> every pool sample exactly once, in pool order.

    Args:
        outputs: ``[ranks, models, rows, classes]`` each rank's outputs.
        labels: ``[ranks, rows]`` their labels.
        indices: ``[ranks, rows]`` their pool indices; ``-1`` marks a padding row.
        num_samples: Pool size.

    Returns:
        ``(outputs [models, num_samples, classes], labels [num_samples])``. A sample present
        more than once keeps its first occurrence (lowest rank).

    Raises:
        RuntimeError: A pool sample is missing, or an index lies outside the pool.

    Example:
        >>> out = torch.tensor([[[[0.0], [2.0], [0.0]]], [[[1.0], [0.0], [0.0]]]])  # 2 ranks
        >>> idx = torch.tensor([[0, 2, -1], [1, 0, -1]])  # rank 1 repeats sample 0; padding
        >>> merged, y = merge_shards(out, idx.clamp(min=0), idx, num_samples=3)
        >>> merged[0, :, 0].tolist(), y.tolist()
        ([0.0, 1.0, 2.0], [0, 1, 2])
    """
    ranks, models, rows, classes = outputs.shape
    flat = outputs.permute(1, 0, 2, 3).reshape(models, ranks * rows, classes)
    flat_index = indices.reshape(-1).cpu()
    real = torch.nonzero(flat_index >= 0).squeeze(1)
    found, first = np.unique(flat_index[real].numpy(), return_index=True)
    if found.size != num_samples or not np.array_equal(found, np.arange(num_samples)):
        missing = np.setdiff1d(np.arange(num_samples), found)
        extra = np.setdiff1d(found, np.arange(num_samples))
        raise RuntimeError(
            f"audit pass: gathered outputs cover {found.size} distinct pool indices of "
            f"{num_samples} (missing e.g. {missing[:5].tolist()}, out of range e.g. "
            f"{extra[:5].tolist()}); the audit loader must yield the same batches on every rank."
        )
    keep = real[torch.from_numpy(first)]  # np.unique sorts by index: pool order
    return flat[:, keep], labels.reshape(-1)[keep]


def gather_in_pool_order(
    strategy: Strategy | None,
    outputs: torch.Tensor,
    labels: torch.Tensor,
    indices: torch.Tensor,
    length: int,
    num_samples: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gather every rank's share (padded to ``length`` rows) and merge them into pool order.

    A collective call when ``strategy`` runs several processes. The result, on the CPU, is the
    same on every rank.

    Args:
        strategy: The trainer's strategy; ``None`` for one process.
        outputs: ``[models, rows, classes]`` this rank's outputs.
        labels: ``[rows]`` their labels.
        indices: ``[rows]`` their pool indices.
        length: The padded share length (:func:`shard_length`), the same on every rank.
        num_samples: Pool size.
    """
    outputs = pad_rows(outputs, length, dim=1)
    labels = pad_rows(labels, length, dim=0)
    indices = pad_rows(indices.long(), length, dim=0, value=-1)
    if strategy is None or strategy.world_size == 1:
        gathered = outputs[None], labels[None], indices[None]
    else:
        device = strategy.root_device
        gathered = tuple(
            strategy.all_gather(t.to(device)).cpu() for t in (outputs, labels, indices)
        )
    return merge_shards(*gathered, num_samples=num_samples)


@torch.no_grad()
def collect_outputs(
    pl_module: LightningModule, loader: DataLoader, strategy: Strategy | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every model's outputs on every sample of ``loader`` (which yields ``(x, y, index)``).

    With a ``strategy`` of several processes this is a collective call: each rank runs its share
    of the loader's batches on the strategy's device, and the shares are gathered to every rank;
    each sample is computed in the same batch as with one process.

    Returns:
        ``(outputs [num_models, N, classes], labels [N])`` in pool order, on the CPU: every
        pool sample exactly once.
    """
    num_replicas = 1 if strategy is None else strategy.world_size
    rank = 0 if strategy is None else strategy.global_rank
    share, length = shard_loader(loader, num_replicas, rank)
    was_training, home = pl_module.training, pl_module.device
    device = home if strategy is None else strategy.root_device
    pl_module.eval().to(device)
    outputs, labels, indices = [], [], []
    for x, y, index in share:
        outputs.append(pl_module(x.to(device)).float().cpu())
        labels.append(y)
        indices.append(index)
    pl_module.train(was_training).to(home)
    return gather_in_pool_order(
        strategy,
        torch.cat(outputs, dim=1),
        torch.cat(labels),
        torch.cat(indices),
        length,
        num_samples=len(loader.dataset),  # type: ignore[arg-type]
    )
