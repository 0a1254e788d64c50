"""The tabular datasets bundled with scikit-learn: Iris, Breast Cancer and the 8x8 digits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch.utils.data import TensorDataset

from lightning_snnpriv.data.base import Pool, PrivacyDataModule
from lightning_snnpriv.data.membership import Scheme
from lightning_snnpriv.errors import ConfigError


class SklearnDataModule(PrivacyDataModule):
    """A scikit-learn bundled dataset: a stratified, seeded train/test split, standardized.

    The pool is the whole dataset; ``is_train`` marks the train split (the ``paper`` scheme's
    target members). Features are standardized with a scaler fitted on the train split only.

    Args:
        test_fraction: Fraction of the dataset in the (stratified) test split.
        scheme: See :class:`PrivacyDataModule`.
        num_shadows: See :class:`PrivacyDataModule`.
        batch_size: See :class:`PrivacyDataModule`.
        num_workers: See :class:`PrivacyDataModule`.
        seed: See :class:`PrivacyDataModule`.
        shadow_train_fraction: See :class:`PrivacyDataModule`.
        shadow_nonmember_fraction: See :class:`PrivacyDataModule`.
    """

    loader: ClassVar[Callable[..., Any]]

    def __init__(
        self,
        test_fraction: float = 0.2,
        scheme: Scheme = "shokri",
        num_shadows: int = 1,
        batch_size: int = 128,
        num_workers: int = 0,
        seed: int = 0,
        shadow_train_fraction: float = 0.8,
        shadow_nonmember_fraction: float = 0.2,
    ) -> None:
        if not 0 < test_fraction < 1:
            raise ConfigError(f"`test_fraction` must be in (0, 1), got {test_fraction}.")
        super().__init__(
            scheme=scheme,
            num_shadows=num_shadows,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
            shadow_train_fraction=shadow_train_fraction,
            shadow_nonmember_fraction=shadow_nonmember_fraction,
        )
        self.test_fraction = test_fraction

    def load_pool(self) -> Pool:
        """Load the bundled arrays, split them and standardize them."""
        x, y = type(self).loader(return_X_y=True)
        index = np.arange(len(y))
        train, _ = train_test_split(
            index, test_size=self.test_fraction, stratify=y, random_state=self.seed
        )
        is_train = np.zeros(len(y), dtype=bool)
        is_train[train] = True
        scaler = StandardScaler().fit(x[is_train])
        features = torch.as_tensor(scaler.transform(x), dtype=torch.float32)
        labels = torch.as_tensor(y, dtype=torch.long)
        return Pool(TensorDataset(features, labels), labels=np.asarray(y), is_train=is_train)


class IrisDataModule(SklearnDataModule):
    """Iris: 150 flowers, 4 features, 3 classes (scikit-learn's ``load_iris``)."""

    loader = staticmethod(datasets.load_iris)
    num_classes = 3
    input_shape = (4,)


class BreastCancerDataModule(SklearnDataModule):
    """Wisconsin breast cancer: 569 tumours, 30 features, 2 classes (``load_breast_cancer``)."""

    loader = staticmethod(datasets.load_breast_cancer)
    num_classes = 2
    input_shape = (30,)


class DigitsDataModule(SklearnDataModule):
    """8x8 handwritten digits: 1,797 images as 64 features, 10 classes (``load_digits``)."""

    loader = staticmethod(datasets.load_digits)
    num_classes = 10
    input_shape = (64,)
