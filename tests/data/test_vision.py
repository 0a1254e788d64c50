"""The torchvision DataModules on tiny files in the exact on-disk formats (fake_datasets.py)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from fake_datasets import write_cifar10, write_dataset, write_mnist
from torch.utils.data import DataLoader, Subset

from lightning_snnpriv.data import CIFAR10DataModule, FashionMNISTDataModule, MNISTDataModule
from lightning_snnpriv.errors import ConfigError, DataError

MODULES = {
    "mnist": MNISTDataModule,
    "fmnist": FashionMNISTDataModule,
    "cifar10": CIFAR10DataModule,
}


def written_pixels(root: Path, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """What the helper wrote, read back independently of torchvision: ([N, C, H, W], [N])."""
    if dataset == "cifar10":
        folder = root / "cifar-10-batches-py"
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        entries = [pickle.loads((folder / name).read_bytes()) for name in names]
        images = np.concatenate([e["data"] for e in entries]).reshape(-1, 3, 32, 32)
        return images, np.concatenate([e["labels"] for e in entries])
    raw = root / {"mnist": "MNIST", "fmnist": "FashionMNIST"}[dataset] / "raw"
    images, labels = [], []
    for prefix in ("train", "t10k"):  # headers: 16 bytes (images), 8 bytes (labels)
        images.append(np.frombuffer((raw / f"{prefix}-images-idx3-ubyte").read_bytes()[16:], "u1"))
        labels.append(np.frombuffer((raw / f"{prefix}-labels-idx1-ubyte").read_bytes()[8:], "u1"))
    return np.concatenate(images).reshape(-1, 1, 28, 28), np.concatenate(labels)


@pytest.mark.parametrize("dataset", list(MODULES))
def test_pool_is_train_then_test_split_read_exactly(tmp_path: Path, dataset: str) -> None:
    write_dataset(tmp_path, dataset)
    dm = MODULES[dataset](data_dir=str(tmp_path), verify_checksums=False, normalization="none")
    pool = dm.load_pool()
    images, labels = written_pixels(tmp_path, dataset)
    assert len(pool.dataset) == len(labels) == 80
    assert pool.is_train.tolist() == [True] * 60 + [False] * 20
    np.testing.assert_array_equal(pool.labels, labels)
    for i in (0, 59, 60, 79):
        x, y = pool.dataset[i]
        assert x.shape == dm.input_shape
        assert x.dtype == torch.float32
        assert int(y) == labels[i]
        # normalization "none" is ToDtype(scale=True): pixel / 255, channel-major as written
        np.testing.assert_allclose(x.numpy() * 255, images[i], atol=1e-4)


@pytest.mark.parametrize("dataset", list(MODULES))
def test_standard_normalization_uses_the_dataset_mean_and_std(tmp_path: Path, dataset: str) -> None:
    write_dataset(tmp_path, dataset)
    cls = MODULES[dataset]
    raw = cls(data_dir=str(tmp_path), verify_checksums=False, normalization="none").load_pool()
    std = cls(data_dir=str(tmp_path), verify_checksums=False).load_pool()
    sym = cls(data_dir=str(tmp_path), verify_checksums=False, normalization="symmetric")
    x0, x1, x2 = raw.dataset[3][0], std.dataset[3][0], sym.load_pool().dataset[3][0]
    mean = torch.tensor(cls.mean).view(-1, 1, 1)
    scale = torch.tensor(cls.std).view(-1, 1, 1)
    torch.testing.assert_close(x1, (x0 - mean) / scale)
    torch.testing.assert_close(x2, (x0 - 0.5) / 0.5)


@pytest.mark.parametrize("normalization", ["none", "standard", "symmetric"])
@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_batches_fetched_at_once_are_the_per_sample_values_bit_for_bit(
    tmp_path: Path, dataset: str, normalization: str
) -> None:
    write_dataset(tmp_path, dataset)
    cls = MODULES[dataset]
    pool = cls(data_dir=str(tmp_path), verify_checksums=False, normalization=normalization)
    pool = pool.load_pool()
    indices = [5, 0, 17, 3, 3]
    for view in (pool.dataset, pool.train_dataset):  # no augmentation: both batched
        assert hasattr(view, "__getitems__")
        loader = DataLoader(Subset(view, indices), batch_size=len(indices))
        x, y = next(iter(loader))
        one_by_one = [view[i] for i in indices]
        assert torch.equal(x, torch.stack([sample[0] for sample in one_by_one]))
        assert torch.equal(y, torch.stack([sample[1] for sample in one_by_one]))


def test_augmented_training_view_is_transformed_per_sample(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    pool = CIFAR10DataModule(data_dir=str(tmp_path), verify_checksums=False, augment=True)
    pool = pool.load_pool()
    assert hasattr(pool.dataset, "__getitems__")
    assert not hasattr(pool.train_dataset, "__getitems__")  # random crops differ per sample


def test_augmentation_only_on_training_view(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    torch.manual_seed(0)
    dm = CIFAR10DataModule(data_dir=str(tmp_path), verify_checksums=False, augment=True)
    pool = dm.load_pool()
    clean = [pool.dataset[i][0] for i in range(10)]
    # the clean view is deterministic and unaugmented
    assert all(torch.equal(a, pool.dataset[i][0]) for i, a in enumerate(clean))
    augmented = [pool.train_dataset[i][0] for i in range(10)]
    assert sum(not torch.equal(a, b) for a, b in zip(clean, augmented, strict=True)) >= 8
    assert all(a.shape == b.shape for a, b in zip(clean, augmented, strict=True))
    plain = CIFAR10DataModule(data_dir=str(tmp_path), verify_checksums=False).load_pool()
    assert all(torch.equal(plain.train_dataset[i][0], plain.dataset[i][0]) for i in range(10))


def test_pool_size_is_a_seeded_stratified_subset(tmp_path: Path) -> None:
    write_mnist(tmp_path, n_train=200, n_test=100)
    full = MNISTDataModule(data_dir=str(tmp_path), verify_checksums=False).load_pool()

    def cap(seed: int):
        dm = MNISTDataModule(
            data_dir=str(tmp_path), verify_checksums=False, pool_size=60, seed=seed
        )
        return dm.load_pool()

    pool, again, other = cap(0), cap(0), cap(1)
    assert len(pool.labels) == 60
    assert int(pool.is_train.sum()) == 40  # 2/3 of the pool is train, as in the full pool
    np.testing.assert_array_equal(np.bincount(pool.labels, minlength=10), [6] * 10)
    np.testing.assert_array_equal(pool.labels, again.labels)
    assert torch.equal(pool.dataset[5][0], again.dataset[5][0])
    assert not all(torch.equal(pool.dataset[i][0], other.dataset[i][0]) for i in range(60))
    # every capped sample is a sample of the full pool, with its label and origin
    full_images = torch.stack([full.dataset[i][0] for i in range(len(full.labels))])
    for i in (0, 30, 59):
        x, y = pool.dataset[i]
        match = (full_images == x).flatten(1).all(1).nonzero().flatten()
        assert len(match) == 1
        assert full.labels[match[0]] == int(y)
        assert full.is_train[match[0]] == pool.is_train[i]


def test_pool_size_larger_than_the_dataset_is_refused(tmp_path: Path) -> None:
    write_mnist(tmp_path)
    with pytest.raises(ConfigError, match="pool_size"):
        MNISTDataModule(data_dir=str(tmp_path), verify_checksums=False, pool_size=81).load_pool()


def test_cifar_checksums_are_verified_by_default(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    with pytest.raises(DataError, match=r"checksums.*verify_checksums: false"):
        CIFAR10DataModule(data_dir=str(tmp_path)).load_pool()


def test_corrupt_file_is_a_data_error(tmp_path: Path) -> None:
    raw = write_mnist(tmp_path)
    path = raw / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])  # truncated
    with pytest.raises(DataError, match=r"images-idx3-ubyte in .* 1000 bytes long.*truncated"):
        MNISTDataModule(data_dir=str(tmp_path), verify_checksums=False).load_pool()


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_download_skips_files_that_are_there(tmp_path: Path, dataset: str) -> None:
    """``download: true`` with the files present needs no network (none here): no error."""
    write_dataset(tmp_path, dataset)
    dm = MODULES[dataset](data_dir=str(tmp_path), download=True, verify_checksums=False)
    dm.prepare_data()
    assert len(dm.load_pool().labels) == 80


def test_prepare_data_does_nothing_without_download(tmp_path: Path) -> None:
    MNISTDataModule(data_dir=str(tmp_path / "empty")).prepare_data()
    assert not (tmp_path / "empty").exists()


def test_pool_size_below_one_per_class_and_split_is_refused() -> None:
    with pytest.raises(ConfigError, match="pool_size"):
        MNISTDataModule(pool_size=5)
