"""Invariants 1 and 3: each model's loader yields exactly its members, once per epoch."""

import numpy as np
import pytest
import torch

from lightning_snnpriv.data import BreastCancerDataModule
from lightning_snnpriv.models import ANNClassifier


def pool_rows(dm):
    return dm.pool.dataset.tensors[0]


@pytest.mark.parametrize("scheme", ["paper", "shokri", "lira"])
def test_each_model_loader_yields_exactly_its_members_once_per_epoch(scheme):
    num_shadows = 3 if scheme == "lira" else 2
    # breast cancer has no duplicate rows (Iris has), so a row identifies its pool index
    dm = BreastCancerDataModule(scheme=scheme, num_shadows=num_shadows, batch_size=64, seed=0)
    dm.setup("fit")
    rows = pool_rows(dm)
    seen = [[] for _ in range(dm.num_models)]
    loader = dm.train_dataloader()
    iter(loader)
    for batch, _, _ in loader:
        for m, b in enumerate(batch):
            if b is not None:
                x = b[0]
                index = (x[:, None, :] == rows[None]).all(-1).float().argmax(1)
                seen[m].extend(index.tolist())
    for m in range(dm.num_models):
        assert sorted(seen[m]) == dm.plan.members(m).tolist()  # all members, each once


def test_paper_scheme_loaders_have_different_lengths_and_are_not_cycled():
    dm = BreastCancerDataModule(scheme="paper", num_shadows=1, batch_size=32, seed=0)
    dm.setup("fit")
    loader = dm.train_dataloader()
    iter(loader)
    nones = [0, 0]
    steps = 0
    for batch, _, _ in loader:
        steps += 1
        for m, b in enumerate(batch):
            nones[m] += b is None
    n_target, n_shadow = (dm.plan.members(m).size for m in range(2))
    assert n_shadow < n_target
    assert steps == -(-n_target // 32)
    assert nones == [0, steps - -(-n_shadow // 32)]  # the shadow sits out, it is not cycled


def test_scaler_is_fitted_on_the_train_split_only():
    dm = BreastCancerDataModule(seed=0)
    dm.setup("fit")
    x = pool_rows(dm).numpy()
    train = dm.pool.is_train
    np.testing.assert_allclose(x[train].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(x[train].std(0), 1, atol=1e-3)
    assert np.abs(x[~train].mean(0)).max() > 1e-3
