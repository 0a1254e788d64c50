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
from lightning_snnpriv.errors import ConfigError


class SklearnDataModule(PrivacyDataModule):
    """A scikit-learn bundled dataset: a stratified, seeded train/test split, standardized.

    The pool is the whole dataset; ``is_train`` marks the train split (the ``paper`` scheme's
    target members). Features are standardized with a scaler fitted on the train split only.

    Args:
        test_fraction: Fraction of the dataset in the (stratified) test split.
        **kwargs: The arguments of :class:`PrivacyDataModule` (``scheme``, ``num_shadows``,
            ``batch_size``, ...).
    """

    loader: ClassVar[Callable[..., Any]]

    def __init__(self, test_fraction: float = 0.2, **kwargs: Any) -> None:
        if not 0 < test_fraction < 1:
            raise ConfigError(f"`test_fraction` must be in (0, 1), got {test_fraction}.")
        super().__init__(**kwargs)

    def load_pool(self) -> Pool:
        """Load the bundled arrays, split them and standardize them."""
        x, y = type(self).loader(return_X_y=True)
        index = np.arange(len(y))
        try:
            train, _ = train_test_split(
                index,
                test_size=self.hparams.test_fraction,
                stratify=y,
                random_state=self.hparams.seed,
            )
        except ValueError as err:  # a split too small to hold every class
            raise ConfigError(
                f"`data.init_args.test_fraction` = {self.hparams.test_fraction} cannot split "
                f"{len(y)} samples of {type(self).num_classes} classes: {err}"
            ) from err
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
