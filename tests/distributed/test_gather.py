"""The audit pass split over ranks: shares, padding and merge give every sample once, in order."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lightning_snnpriv.callbacks.gather import (
    collect_outputs,
    gather_in_pool_order,
    merge_shards,
    shard_batches,
    shard_loader,
)
from lightning_snnpriv.data.base import IndexedDataset
from lightning_snnpriv.distributed import disagreement
from lightning_snnpriv.models.module import ANNClassifier


def _audit_loader(num_samples: int, batch_size: int) -> DataLoader:
    x = torch.randn(num_samples, 4, generator=torch.Generator().manual_seed(num_samples))
    y = torch.arange(num_samples) % 3
    return DataLoader(IndexedDataset(TensorDataset(x, y)), batch_size=batch_size, shuffle=False)


@pytest.mark.parametrize("num_samples", [1, 7, 10, 32])
@pytest.mark.parametrize("num_replicas", [1, 2, 3, 5])
def test_shares_of_all_ranks_hold_every_sample_once_in_pool_order(num_samples, num_replicas):
    torch.manual_seed(0)
    model = ANNClassifier(hidden_sizes=[5], num_models=2, num_classes=3, input_shape=[4])
    loader = _audit_loader(num_samples, batch_size=3)
    expected, expected_labels = collect_outputs(model, loader)
    # the same pass, as each of num_replicas ranks would run it, then merged as gathered
    shares = []
    for rank in range(num_replicas):
        share, length = shard_loader(loader, num_replicas, rank)
        rows = [(model(x).detach(), y, i) for x, y, i in share]
        out = torch.cat([r[0] for r in rows], dim=1)
        labels, index = torch.cat([r[1] for r in rows]), torch.cat([r[2] for r in rows])
        shares.append(
            (
                torch.cat([out, out.new_zeros(2, length - out.shape[1], 3)], dim=1),
                torch.cat([labels, labels.new_zeros(length - len(labels))]),
                torch.cat([index, index.new_full((length - len(index),), -1)]),
            )
        )
    outputs, labels = merge_shards(
        *(torch.stack(parts) for parts in zip(*shares, strict=True)), num_samples=num_samples
    )
    assert outputs.shape == (2, num_samples, 3)
    assert torch.equal(labels, torch.arange(num_samples) % 3)
    assert torch.equal(labels, expected_labels)
    # each sample was computed in the same batch as with one process: bitwise equal
    assert torch.equal(outputs, expected)


def test_every_rank_gets_a_share_even_with_fewer_batches_than_ranks():
    batches = [[0, 1, 2], [3]]
    shares = [shard_batches(batches, 4, rank) for rank in range(4)]
    assert shares == [[[0, 1, 2]], [[3]], [[0, 1, 2]], [[3]]]


def test_a_missing_sample_is_an_error_not_a_silent_hole():
    out = torch.zeros(2, 1, 2, 1)
    index = torch.tensor([[0, 1], [1, -1]])  # sample 2 of 3 never computed
    with pytest.raises(RuntimeError, match="cover 2 distinct pool indices of 3"):
        merge_shards(out, index.clamp(min=0), index, num_samples=3)


def test_an_index_outside_the_pool_is_an_error():
    out = torch.zeros(1, 1, 3, 1)
    index = torch.tensor([[0, 1, 3]])
    with pytest.raises(RuntimeError, match=r"out of range e.g. \[3\]"):
        merge_shards(out, index, index, num_samples=3)


def test_one_process_gather_drops_padding_only():
    outputs = torch.arange(6.0).reshape(1, 3, 2)
    merged, labels = gather_in_pool_order(
        None, outputs, torch.tensor([5, 6, 7]), torch.tensor([2, 0, 1]), 5, num_samples=3
    )
    assert merged[0].tolist() == [[2.0, 3.0], [4.0, 5.0], [0.0, 1.0]]
    assert labels.tolist() == [6, 7, 5]


def test_disagreement_names_the_odd_ranks():
    assert disagreement(["a1", "a1", "a1"]) is None
    expected = "rank 0: 'a1'; differing: rank 1: 'b2', rank 3: 'c3'"
    assert disagreement(["a1", "b2", "a1", "c3"]) == expected
