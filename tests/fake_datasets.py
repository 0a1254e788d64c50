"""TEST-ONLY: write tiny random image datasets in the exact on-disk formats torchvision reads.

MNIST / Fashion-MNIST: the four idx-ubyte files (big-endian header: magic ``0x0803`` for
images with 3 dimensions, ``0x0801`` for labels) under ``<root>/<Name>/raw/``, as torchvision
extracts them. CIFAR-10: the python version's pickles ``data_batch_1..5``, ``test_batch``
(dicts with ``data`` ``[n, 3072]`` uint8 rows, channel-major, and ``labels``) and
``batches.meta`` (``label_names``) under ``<root>/cifar-10-batches-py/``. The contents are
random, so their MD5s differ from the real files': load them with ``verify_checksums: false``.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np

CIFAR10_LABEL_NAMES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip


def _labels(n: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Every class at least ``n // num_classes`` times, shuffled."""
    return rng.permutation(np.arange(n) % num_classes).astype(np.uint8)


def write_idx(path: Path, array: np.ndarray) -> None:
    """An idx-ubyte file: ``0, 0, 0x08 (ubyte), ndim``, then each dimension as big-endian int32."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_mnist(
    root: Path, name: str = "MNIST", n_train: int = 60, n_test: int = 20, seed: int = 0
) -> Path:
    """Random 28x28 images with balanced labels in MNIST's format under ``root/name/raw``."""
    rng = np.random.default_rng(seed)
    raw = Path(root) / name / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", _labels(n, 10, rng))
    return raw


def write_cifar10(root: Path, n_per_batch: int = 12, n_test: int = 20, seed: int = 0) -> Path:
    """Random 32x32 colour images in CIFAR-10's python format under ``root/cifar-10-batches-py``."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    batches = [(f"data_batch_{i}", n_per_batch) for i in range(1, 6)] + [("test_batch", n_test)]
    for name, n in batches:
        entry = {
            "batch_label": name,
            "labels": _labels(n, 10, rng).tolist(),
            "data": rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8),
            "filenames": [f"{name}_{i}.png" for i in range(n)],
        }
        (folder / name).write_bytes(pickle.dumps(entry))
    meta = {"label_names": CIFAR10_LABEL_NAMES, "num_cases_per_batch": n_per_batch, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    return folder


def write_dataset(root: Path, dataset: str, **sizes: int) -> Path:
    """``dataset`` in ``mnist``, ``fmnist``, ``cifar10``: write its fake files under ``root``."""
    if dataset == "cifar10":
        return write_cifar10(root, **sizes)
    return write_mnist(root, {"mnist": "MNIST", "fmnist": "FashionMNIST"}[dataset], **sizes)
