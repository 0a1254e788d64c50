"""Whole-batch loading from in-memory tensors gives exactly the per-sample DataLoader's batches."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, Subset

from lightning_snnpriv.data import BreastCancerDataModule
from lightning_snnpriv.data.base import IndexedDataset
from lightning_snnpriv.data.batched import TensorSubset


def batches(loader, seed):
    torch.manual_seed(seed)
    return [[t.clone() for t in batch] for batch in loader]


@pytest.fixture(scope="module")
def data():
    module = BreastCancerDataModule(batch_size=32, num_shadows=3, scheme="lira", seed=0)
    module.setup("fit")
    return module


def test_train_val_and_audit_loaders_fetch_whole_batches(data):
    train = data.train_dataloader()
    assert all(isinstance(loader.dataset, TensorSubset) for loader in train.iterables)
    assert isinstance(data.val_dataloader().dataset, TensorSubset)
    assert isinstance(data.audit_dataloader().dataset, TensorSubset)


@pytest.mark.parametrize("shuffle", [True, False])
def test_same_batches_same_order_as_the_per_sample_path(data, shuffle):
    pool, plan = data._require_setup()
    members = plan.members(1).tolist()
    slow = DataLoader(Subset(pool.dataset, members), batch_size=32, shuffle=shuffle)
    fast = data._loader(Subset(pool.dataset, members), shuffle=shuffle)
    got, expected = batches(fast, seed=3), batches(slow, seed=3)
    assert len(got) == len(expected) == -(-len(members) // 32)
    for a, b in zip(got, expected, strict=True):
        assert len(a) == len(b) == 2
        for x, y in zip(a, b, strict=True):
            assert x.dtype == y.dtype
            assert torch.equal(x, y)


def test_audit_batches_carry_pool_indices(data):
    pool, _ = data._require_setup()
    slow = DataLoader(IndexedDataset(pool.dataset), batch_size=32)
    for a, b in zip(data.audit_dataloader(), slow, strict=True):
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
