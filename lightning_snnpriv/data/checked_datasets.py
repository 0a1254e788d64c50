"""torchvision's MNIST, Fashion-MNIST and CIFAR-10 classes, reading every file checked.

Same classes, folders, downloads and checksums as torchvision; only the reading step differs:

- MNIST / Fashion-MNIST: each idx file's header and size are checked (:func:`check_idx`)
  before torchvision's own reader parses it, and every split's images and labels after
  (:func:`check_samples`), also for torchvision's legacy ``processed/*.pt`` files.
- CIFAR-10: the batch pickles are read with :func:`load_plain` (no code runs from a file,
  whatever the checksum setting) and each batch is checked on its own: a dict with ``data``
  (``uint8`` rows of 3072 pixels) and one label per row in 0..9; ``batches.meta`` must name
  the 10 classes. The arrays are then stacked and laid out exactly as torchvision does.

Every problem is a :class:`BadFile` naming the file.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torchvision import datasets
from torchvision.datasets.utils import check_integrity
from torchvision.datasets.vision import VisionDataset

from lightning_snnpriv.data.checks import BadFile, check_idx, check_labels, check_samples
from lightning_snnpriv.data.safe_pickle import UnsafePickle, load_plain

REFUSED_FIX = (
    "replace it with the file of the original archive (data.init_args.download: true downloads "
    "and verifies it), and do not open this one with pickle anywhere: it may be an attack"
)


class _CheckedIdx:
    """Mixin of the MNIST-style classes: checked idx reading, torchvision's folder names."""

    folder: ClassVar[str]
    image_shape: ClassVar[tuple[int, int]] = (28, 28)
    num_classes: ClassVar[int] = 10
    root: str
    train: bool
    training_file: str
    test_file: str

    @property
    def raw_folder(self) -> str:
        """``<root>/<MNIST|FashionMNIST>/raw``, as torchvision's class names it."""
        return os.path.join(self.root, self.folder, "raw")

    @property
    def processed_folder(self) -> str:
        """``<root>/<MNIST|FashionMNIST>/processed`` (torchvision's legacy layout)."""
        return os.path.join(self.root, self.folder, "processed")

    def _load_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        prefix = "train" if self.train else "t10k"
        image_file = Path(self.raw_folder) / f"{prefix}-images-idx3-ubyte"
        label_file = Path(self.raw_folder) / f"{prefix}-labels-idx1-ubyte"
        check_idx(image_file, (None, *self.image_shape))
        check_idx(label_file, (None,))
        images, labels = super()._load_data()  # type: ignore[misc]  # torchvision's readers
        self._check(images, labels, image_file, label_file)
        return images, labels

    def _load_legacy_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        path = Path(self.processed_folder) / (self.training_file if self.train else self.test_file)
        try:
            loaded = torch.load(path, weights_only=True)  # tensors only: runs no code
        except Exception as err:  # any failure to parse is a corrupt file
            raise BadFile(path, f"is not a readable torch file ({type(err).__name__})") from None
        tensors = isinstance(loaded, (tuple, list)) and len(loaded) == 2
        if not tensors or not all(
            isinstance(t, torch.Tensor) and t.layout == torch.strided and t.device.type == "cpu"
            for t in loaded
        ):
            raise BadFile(path, "does not hold torchvision's (images, labels) tensors")
        images, labels = loaded
        self._check(images, labels, path, path)
        return images, labels

    def _check(
        self, images: torch.Tensor, labels: torch.Tensor, image_file: Path, label_file: Path
    ) -> None:
        values = check_labels(_numpy(labels, label_file), label_file, self.num_classes)
        check_samples(_numpy(images, image_file), values, image_file=image_file,
                      label_file=label_file, image_shape=self.image_shape)  # fmt: skip


def _numpy(tensor: torch.Tensor, path: Path) -> np.ndarray:
    try:
        return tensor.numpy()
    except (TypeError, RuntimeError):  # a dtype numpy lacks (bfloat16 ...)
        raise BadFile(path, f"holds a tensor of dtype {tensor.dtype}, not uint8") from None


class CheckedMNIST(_CheckedIdx, datasets.MNIST):
    """torchvision's MNIST, its files checked (see the module)."""

    folder = "MNIST"


class CheckedFashionMNIST(_CheckedIdx, datasets.FashionMNIST):
    """torchvision's FashionMNIST, its files checked (see the module)."""

    folder = "FashionMNIST"


def read_plain_pickle(path: Path) -> Any:
    """The plain value pickled in ``path`` (:func:`load_plain`), or a :class:`BadFile`."""
    try:
        return load_plain(path.read_bytes())
    except UnsafePickle as err:
        raise BadFile(path, f"was refused unread: {err}", fix=REFUSED_FIX) from None
    except pickle.UnpicklingError as err:
        raise BadFile(path, f"is incomplete or corrupt: {err}") from None


def read_cifar_batch(path: Path, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR batch file's ``data`` (``uint8`` ``[n, 3072]``) and labels (``int64`` ``[n]``).

    torchvision's semantics: the labels are ``labels``, else ``fine_labels``.
    """
    entry = read_plain_pickle(path)
    if not isinstance(entry, dict):
        raise BadFile(path, f"holds a {type(entry).__name__}, not the dict of a CIFAR batch "
                      "('data', 'labels')")  # fmt: skip
    key = "labels" if "labels" in entry else "fine_labels"
    for name in ("data", key):
        if name not in entry:
            raise BadFile(path, f"has no {name!r} entry (a CIFAR batch holds 'data' and "
                          "'labels')")  # fmt: skip
    labels = check_labels(entry[key], path, num_classes)
    check_samples(entry["data"], labels, image_file=path, label_file=path, image_shape=(3072,))
    return entry["data"], labels


class CheckedCIFAR10(datasets.CIFAR10):
    """torchvision's CIFAR10, its pickles read as plain data and checked (see the module)."""

    num_classes: ClassVar[int] = 10

    def __init__(
        self,
        root: str | Path,
        train: bool = True,
        transform: Any = None,
        target_transform: Any = None,
        download: bool = False,
    ) -> None:
        VisionDataset.__init__(self, root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        if not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                               "download it")  # fmt: skip
        batches = [
            read_cifar_batch(Path(self.root, self.base_folder, name), self.num_classes)
            for name, _ in (self.train_list if train else self.test_list)
        ]
        self.data: Any = np.vstack([data for data, _ in batches]).reshape(-1, 3, 32, 32)
        self.data = self.data.transpose((0, 2, 3, 1))  # HWC, as torchvision keeps them
        self.targets = [int(label) for _, labels in batches for label in labels]
        self._load_meta()

    def _load_meta(self) -> None:
        path = Path(self.root, self.base_folder, self.meta["filename"])
        if not check_integrity(str(path), self.meta["md5"]):
            raise RuntimeError("Dataset metadata file not found or corrupted. You can use "
                               "download=True to download it")  # fmt: skip
        meta = read_plain_pickle(path)
        names = meta.get(self.meta["key"]) if isinstance(meta, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, (str, bytes)) for n in names):
            raise BadFile(path, f"has no list {self.meta['key']!r} of class names")
        if len(names) != self.num_classes:
            raise BadFile(path, f"has {len(names)} class names, CIFAR-10 has {self.num_classes}")
        self.classes = names
        self.class_to_idx = {name: i for i, name in enumerate(names)}


class CheckedCIFAR10Unverified(CheckedCIFAR10):
    """:class:`CheckedCIFAR10` with no expected MD5s: torchvision then tests existence only.

    torchvision's ``check_integrity(path, md5=None)`` only tests that the file exists, so
    clearing the checksums (and nothing else) skips exactly the MD5 comparison.
    """

    train_list: ClassVar[list[list[Any]]] = [
        [name, None] for name, _ in datasets.CIFAR10.train_list
    ]
    test_list: ClassVar[list[list[Any]]] = [[name, None] for name, _ in datasets.CIFAR10.test_list]
    meta: ClassVar[dict[str, Any]] = {**datasets.CIFAR10.meta, "md5": None}


_CHECKED = {
    datasets.MNIST: CheckedMNIST,
    datasets.FashionMNIST: CheckedFashionMNIST,
    datasets.CIFAR10: CheckedCIFAR10,
}


def checked_class(dataset_class: type, verify_checksums: bool) -> type[VisionDataset]:
    """The checked counterpart of torchvision's ``dataset_class``.

    ``verify_checksums`` false skips CIFAR's MD5s; MNIST's loader checks none of its
    extracted files either way (torchvision checksums only the downloaded archives).
    """
    if dataset_class is datasets.CIFAR10 and not verify_checksums:
        return CheckedCIFAR10Unverified
    if dataset_class not in _CHECKED:
        raise TypeError(f"no checked loader for {dataset_class.__name__}: add one here")
    return _CHECKED[dataset_class]


__all__ = [
    "CheckedCIFAR10",
    "CheckedCIFAR10Unverified",
    "CheckedFashionMNIST",
    "CheckedMNIST",
    "checked_class",
    "read_cifar_batch",
    "read_plain_pickle",
]
