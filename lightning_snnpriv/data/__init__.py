"""Datasets as PrivacyDataModules: a pool of samples and the membership plan over it."""

from lightning_snnpriv.data.base import Pool, PrivacyDataModule
from lightning_snnpriv.data.membership import MembershipPlan, build_plan
from lightning_snnpriv.data.tabular import (
    BreastCancerDataModule,
    DigitsDataModule,
    IrisDataModule,
    SklearnDataModule,
)

__all__ = [
    "BreastCancerDataModule",
    "DigitsDataModule",
    "IrisDataModule",
    "MembershipPlan",
    "Pool",
    "PrivacyDataModule",
    "SklearnDataModule",
    "build_plan",
]
