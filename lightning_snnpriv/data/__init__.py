"""Datasets as PrivacyDataModules: a pool of samples and the membership plan over it."""

from lightning_snnpriv.data.base import Pool, PrivacyDataModule
from lightning_snnpriv.data.membership import MembershipPlan, build_plan
from lightning_snnpriv.data.own import DatasetDataModule, TensorFileDataset
from lightning_snnpriv.data.tabular import (
    BreastCancerDataModule,
    DigitsDataModule,
    IrisDataModule,
    SklearnDataModule,
)
from lightning_snnpriv.data.vision import (
    CIFAR10DataModule,
    FashionMNISTDataModule,
    MNISTDataModule,
    TorchvisionDataModule,
)

__all__ = [
    "BreastCancerDataModule",
    "CIFAR10DataModule",
    "DatasetDataModule",
    "DigitsDataModule",
    "FashionMNISTDataModule",
    "IrisDataModule",
    "MNISTDataModule",
    "MembershipPlan",
    "Pool",
    "PrivacyDataModule",
    "SklearnDataModule",
    "TensorFileDataset",
    "TorchvisionDataModule",
    "build_plan",
]
