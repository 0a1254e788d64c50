"""Synthetic image data of a chosen shape, as a PrivacyDataModule (for timing, not for science).

Pixels are uniform in [0, 1] and labels uniform over the classes, from a seeded generator: the
same amount of work per sample as MNIST, with nothing to download.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import TensorDataset

from lightning_snnpriv.data.base import Pool, PrivacyDataModule
from lightning_snnpriv.data.membership import Scheme


class SyntheticImages(PrivacyDataModule):
    """``num_train`` + ``num_test`` random images of ``image_shape`` (MNIST-shaped by default).

    Args:
        num_train: Samples of the "train" split.
        num_test: Samples of the "test" split.
        image_shape: Shape of one sample.
        classes: Number of classes.
        scheme: See :class:`PrivacyDataModule`.
        num_shadows: See :class:`PrivacyDataModule`.
        batch_size: See :class:`PrivacyDataModule`.
        num_workers: See :class:`PrivacyDataModule`.
        seed: See :class:`PrivacyDataModule`.
        shadow_train_fraction: See :class:`PrivacyDataModule`.
        shadow_nonmember_fraction: See :class:`PrivacyDataModule`.
    """

    def __init__(
        self,
        num_train: int = 4000,
        num_test: int = 1000,
        image_shape: Sequence[int] = (1, 28, 28),
        classes: int = 10,
        scheme: Scheme = "paper",
        num_shadows: int = 1,
        batch_size: int = 128,
        num_workers: int = 0,
        seed: int = 0,
        shadow_train_fraction: float = 0.8,
        shadow_nonmember_fraction: float = 0.2,
    ) -> None:
        super().__init__(scheme, num_shadows, batch_size, num_workers, seed,
                         shadow_train_fraction, shadow_nonmember_fraction)  # fmt: skip
        self.num_train, self.num_test = num_train, num_test
        self.input_shape = tuple(image_shape)
        self.num_classes = classes

    def load_pool(self) -> Pool:
        """Random pixels and labels."""
        n = self.num_train + self.num_test
        gen = torch.Generator().manual_seed(self.seed)
        x = torch.rand(n, *self.input_shape, generator=gen)
        y = torch.randint(self.num_classes, (n,), generator=gen)
        is_train = np.arange(n) < self.num_train
        return Pool(TensorDataset(x, y), labels=y.numpy(), is_train=is_train)
