"""The image datasets on torchvision's own classes: MNIST, Fashion-MNIST and CIFAR-10.

Files are read by torchvision's classes (``torchvision.datasets.MNIST`` ...) from ``data_dir``,
subclassed in ``checked_datasets.py`` so that every file is checked against its format and
CIFAR's pickles are read as plain data (no code runs from a file); they are downloaded only in
``prepare_data`` and only when ``download: true``. The pool is the train
split followed by the test split (``is_train`` marks the train split, the ``paper`` scheme's
target members), optionally capped to a seeded subset stratified by class and split. Images are
kept as ``uint8`` and converted per sample: ``[0, 1]`` scaling, a normalization (the dataset's
standard one by default) and, for training batches only and only with ``augment: true``, random
crops (and horizontal flips where they keep the class). The audit pass sees the clean samples.
"""

from __future__ import annotations

import abc
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import Dataset
from torchvision import datasets
from torchvision.transforms import v2

from lightning_snnpriv.data.base import Pool, PrivacyDataModule
from lightning_snnpriv.data.checked_datasets import checked_class
from lightning_snnpriv.data.checks import BadFile
from lightning_snnpriv.data.file_errors import bad_file_error, files_error, unreadable_error
from lightning_snnpriv.errors import ConfigError, DataError

Normalization = Literal["standard", "none", "symmetric"]


class ImageDataset(Dataset):
    """``uint8`` images ``[N, C, H, W]`` and labels, transformed per sample.

    With ``elementwise=True`` (a transform without randomness that maps each pixel on its own:
    scaling and normalization, no augmentation) a DataLoader fetches a whole batch at once
    (``__getitems__``: one transform call on ``[B, C, H, W]`` instead of B calls): the same
    values, bit for bit, in a fraction of the time (``benchmarks/image_epoch_time.py``).

    Args:
        images: ``[N, C, H, W]`` ``uint8`` images.
        labels: ``[N]`` class indices.
        transform: Applied to each image (a torchvision ``v2`` transform).
        elementwise: ``transform`` is deterministic and pixel-wise, so it may run on a batch.

    Example:
        >>> ds = ImageDataset(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 1]),
        ...                   v2.ToDtype(torch.float32, scale=True))
        >>> x, y = ds[1]; x.shape, x.dtype, y
        (torch.Size([1, 4, 4]), torch.float32, tensor(1))
    """

    def __init__(
        self, images: torch.Tensor, labels: torch.Tensor, transform: Any, elementwise: bool = False
    ) -> None:
        self.images = images
        self.labels = labels
        self.transform = transform
        if elementwise:
            self.__getitems__ = self._getitems

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform(self.images[index]), self.labels[index]

    def _getitems(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Samples ``indices``, transformed as one batch (``elementwise`` transforms only)."""
        index = torch.as_tensor(indices, dtype=torch.long)
        images = self.transform(self.images[index])
        return list(zip(images.unbind(0), self.labels[index].unbind(0), strict=True))


def stratified_cap(
    labels: np.ndarray, is_train: np.ndarray, size: int | None, seed: int
) -> np.ndarray:
    """Sorted pool indices of a seeded subset of ``size`` samples, stratified by class and split.

    ``None`` (or a size covering the whole pool) keeps every sample.

    Example:
        >>> labels = np.tile([0, 1], 10); is_train = np.arange(20) < 12
        >>> keep = stratified_cap(labels, is_train, 10, seed=0)
        >>> len(keep), int(is_train[keep].sum()), int(labels[keep].sum())
        (10, 6, 5)
    """
    n = len(labels)
    if size is None or size >= n:
        return np.arange(n)
    strata = np.asarray(labels) * 2 + np.asarray(is_train, dtype=int)
    try:
        chosen, _ = train_test_split(
            np.arange(n), train_size=size, stratify=strata, random_state=seed
        )
    except ValueError as err:  # a stratum too small for the split
        raise ConfigError(
            f"`data.init_args.pool_size` {size} of {n} samples: no stratified subset by class "
            f"and split ({err}). Choose a smaller pool_size, or null for every sample."
        ) from None
    return np.sort(chosen)


class TorchvisionDataModule(PrivacyDataModule):
    """Base of the torchvision image datasets: files, normalization, augmentation, pool cap.

    Subclasses set ``dataset_class`` (the torchvision class), ``num_classes``, ``input_shape``
    (``C, H, W``), ``mean``/``std`` (the standard per-channel normalization) and
    ``augmentations`` (training-time transforms), and say which files they read.

    Args:
        data_dir: Directory of the dataset files (torchvision's layout under it).
        download: Download missing files in ``prepare_data`` (needs internet). Downloads are
            checked against torchvision's checksums.
        verify_checksums: Check the files against torchvision's MD5 checksums when loading, as
            torchvision does. Set ``false`` only for locally produced files (e.g. a re-packed
            or synthetic copy in the same format); files are then only checked to exist and
            parse. MNIST and Fashion-MNIST: torchvision checksums only the downloaded archives,
            so loading their extracted files checks existence and format either way.
        normalization: ``standard``: pixels standardized with the dataset's usual per-channel
            mean and std; ``none``: pixels in [0, 1], which SNN ``encoding: rate`` needs (pixel
            = spike probability); ``symmetric``: ``(x - 0.5) / 0.5``, pixels in [-1, 1].
        augment: Random training-time augmentation (random crop; plus horizontal flip for
            Fashion-MNIST and CIFAR-10), on training batches only, never on the audit pass.
        pool_size: Cap on the pool (train + test splits): a seeded subset stratified by class
            and split, ``null`` for every sample.
        **kwargs: The arguments of :class:`PrivacyDataModule` (``scheme``, ``num_shadows``,
            ``batch_size``, ...).
    """

    dataset_class: ClassVar[type[datasets.VisionDataset]]
    mean: ClassVar[tuple[float, ...]]
    std: ClassVar[tuple[float, ...]]

    def __init__(
        self,
        data_dir: str = "data",
        download: bool = False,
        verify_checksums: bool = True,
        normalization: Normalization = "standard",
        augment: bool = False,
        pool_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        if pool_size is not None and pool_size < 2 * self.num_classes:
            raise ConfigError(
                f"`data.init_args.pool_size` must be null (every sample) or at least "
                f"{2 * self.num_classes} (one sample per class and split), got {pool_size}."
            )
        super().__init__(**kwargs)

    @property
    def data_dir(self) -> Path:
        """``hparams.data_dir`` as a path."""
        return Path(self.hparams.data_dir)

    # --- what each dataset says about itself -------------------------------------------------

    @abc.abstractmethod
    def expected_files(self) -> list[Path]:
        """The files torchvision reads, under ``data_dir``."""

    def augmentations(self) -> list[Any]:
        """Training-time random transforms on ``uint8`` ``[C, H, W]`` images."""
        return [v2.RandomCrop(self.input_shape[1:], padding=self.input_shape[1] // 8)]

    def loading_class(self) -> type[datasets.VisionDataset]:
        """The checked torchvision class that loads the files (checksums as
        ``verify_checksums``).
        """  # noqa: D205
        return checked_class(self.dataset_class, self.hparams.verify_checksums)

    @staticmethod
    @abc.abstractmethod
    def images_of(dataset: Any) -> torch.Tensor:
        """The split's images as ``uint8`` ``[N, C, H, W]``."""

    # --- files ---------------------------------------------------------------------------------

    def prepare_data(self) -> None:
        """Download missing files if ``download: true`` (nothing otherwise).

        torchvision skips files that are there (with ``verify_checksums: false``, that are
        there at all) and checks what it downloads against its archive checksums.
        """
        if not self.hparams.download:
            return
        for train in (True, False):
            try:
                self._instantiate(train, download=True)
            except DataError:
                raise
            except Exception as err:  # network and archive errors come in many types
                raise self._files_error(
                    f"downloading failed ({type(err).__name__}: {err})"
                ) from None

    def _load_split(self, train: bool) -> Any:
        try:
            missing = [path for path in self.expected_files() if not path.is_file()]
        except OSError as err:  # a directory on the way that cannot be searched
            raise unreadable_error(self._name, self.data_dir, err) from None
        if missing:
            raise self._files_error(
                "data_dir is a file, not a directory"
                if self.data_dir.is_file()
                else "missing: " + ", ".join(str(p.relative_to(self.data_dir)) for p in missing)
            )
        return self._instantiate(train, download=False)

    def _instantiate(self, train: bool, download: bool) -> Any:
        """The split's checked dataset; file problems as a :class:`DataError` naming the file."""
        try:
            return self.loading_class()(str(self.data_dir), train=train, download=download)
        except BadFile as err:
            raise bad_file_error(self._name, self.data_dir, err) from None
        except PermissionError as err:
            raise unreadable_error(self._name, self.data_dir, err) from None
        except (RuntimeError, AssertionError, ValueError, TypeError, OSError, KeyError,
                EOFError, pickle.UnpicklingError) as err:  # fmt: skip
            checksums = " or fail torchvision's checksums" if self.hparams.verify_checksums else ""
            raise self._files_error(
                f"the files are present but torchvision could not load them: they are "
                f"incomplete, corrupt{checksums} ({type(err).__name__}: {err})",
                hint=" (files you produced yourself: set data.init_args.verify_checksums: false)"
                if self.hparams.verify_checksums
                else "",
            ) from None

    @property
    def _name(self) -> str:
        return type(self).__name__.removesuffix("DataModule")

    def _files_error(self, problem: str, hint: str = "") -> DataError:
        return files_error(self._name, self.data_dir, self.expected_files(), problem, hint)

    # --- pool ------------------------------------------------------------------------------------

    def transform(self, train: bool) -> v2.Compose:
        """Per-sample transform: augmentation (training only), scaling, normalization."""
        steps = list(self.augmentations()) if train and self.hparams.augment else []
        steps.append(v2.ToDtype(torch.float32, scale=True))
        channels = self.input_shape[0]
        if self.hparams.normalization == "standard":
            steps.append(v2.Normalize(self.mean, self.std))
        elif self.hparams.normalization == "symmetric":
            steps.append(v2.Normalize((0.5,) * channels, (0.5,) * channels))
        return v2.Compose(steps)

    def load_pool(self) -> Pool:
        """Train split then test split, optionally capped; clean and training views."""
        # each split's files are checked on loading (checked_datasets.py): counts, shapes,
        # dtypes and labels 0..num_classes-1
        splits = [self._load_split(train) for train in (True, False)]
        images = [self.images_of(split) for split in splits]
        labels = np.concatenate([np.asarray(split.targets, dtype=np.int64) for split in splits])
        is_train = np.arange(len(labels)) < len(images[0])
        if self.hparams.pool_size is not None and self.hparams.pool_size > len(labels):
            raise ConfigError(
                f"`data.init_args.pool_size` is {self.hparams.pool_size}, but the dataset has only "
                f"{len(labels)} samples (train + test): lower it or set it to null."
            )
        index = stratified_cap(labels, is_train, self.hparams.pool_size, self.hparams.seed)
        pixels = torch.cat(images)[index]
        targets = torch.from_numpy(labels[index])
        return Pool(
            dataset=ImageDataset(pixels, targets, self.transform(train=False), elementwise=True),
            labels=labels[index],
            is_train=is_train[index],
            train_dataset=ImageDataset(
                pixels, targets, self.transform(train=True), elementwise=not self.hparams.augment
            ),
        )


class MNISTDataModule(TorchvisionDataModule):
    """MNIST handwritten digits: 60,000 train + 10,000 test 28x28 greyscale images, 10 classes.

    Files (idx-ubyte, as torchvision extracts them): ``<data_dir>/MNIST/raw/``
    ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte``. Augmentation: random 28x28 crops of the image padded by 3
    (no flips: they change digits).
    """

    dataset_class = datasets.MNIST
    num_classes = 10
    input_shape = (1, 28, 28)
    mean = (0.1307,)
    std = (0.3081,)

    def expected_files(self) -> list[Path]:
        """The raw files torchvision reads: its ``resources`` unzipped, in ``<Name>/raw``."""
        raw = self.data_dir / self.dataset_class.__name__ / "raw"
        return [raw / Path(name).stem for name, _ in self.dataset_class.resources]

    @staticmethod
    def images_of(dataset: Any) -> torch.Tensor:
        """``dataset.data`` ``[N, H, W]`` with a channel axis."""
        return torch.as_tensor(dataset.data, dtype=torch.uint8).unsqueeze(1)


class FashionMNISTDataModule(MNISTDataModule):
    """Fashion-MNIST: 60,000 train + 10,000 test 28x28 greyscale clothing images, 10 classes.

    Files as MNIST's, under ``<data_dir>/FashionMNIST/raw/``. Augmentation: random crops and
    horizontal flips.
    """

    dataset_class = datasets.FashionMNIST
    mean = (0.2860,)
    std = (0.3530,)

    def augmentations(self) -> list[Any]:
        """Random crop and horizontal flip."""
        return [*super().augmentations(), v2.RandomHorizontalFlip()]


class CIFAR10DataModule(TorchvisionDataModule):
    """CIFAR-10: 50,000 train + 10,000 test 32x32 colour images, 10 classes.

    Files (the python version): ``<data_dir>/cifar-10-batches-py/`` ``data_batch_1`` ...
    ``data_batch_5``, ``test_batch``, ``batches.meta``. torchvision checks their MD5s on every
    load (``verify_checksums``); the pickles are read as plain data either way. Augmentation:
    random 32x32 crops of the image padded by 4 and horizontal flips.
    """

    dataset_class = datasets.CIFAR10
    num_classes = 10
    input_shape = (3, 32, 32)
    mean = (0.4914, 0.4822, 0.4465)
    std = (0.2470, 0.2435, 0.2616)

    def expected_files(self) -> list[Path]:
        """The pickled batches and ``batches.meta`` under ``cifar-10-batches-py``."""
        cls = self.dataset_class
        names = [name for name, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
        return [self.data_dir / cls.base_folder / name for name in names]

    def augmentations(self) -> list[Any]:
        """Random crop (padding 4) and horizontal flip."""
        return [*super().augmentations(), v2.RandomHorizontalFlip()]

    @staticmethod
    def images_of(dataset: Any) -> torch.Tensor:
        """``dataset.data`` ``[N, H, W, C]`` as ``[N, C, H, W]``."""
        return torch.as_tensor(np.ascontiguousarray(dataset.data.transpose(0, 3, 1, 2)))


__all__: Sequence[str] = [
    "CIFAR10DataModule",
    "FashionMNISTDataModule",
    "ImageDataset",
    "MNISTDataModule",
    "TorchvisionDataModule",
    "stratified_cap",
]
