"""PrivacyDataModule: a sample pool, its membership plan and one training loader per model."""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np
import torch
from pytorch_lightning import LightningDataModule
from pytorch_lightning.utilities import CombinedLoader, rank_zero_info
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from lightning_snnpriv.data.batched import TensorSubset, collate_batched
from lightning_snnpriv.data.membership import MembershipPlan, Scheme, build_plan
from lightning_snnpriv.distributed import check_same_on_all_ranks
from lightning_snnpriv.errors import ConfigError


@dataclass
class Pool:
    """The samples a plan is built over.

    Args:
        dataset: Clean samples ``(x, y)`` in pool order: used for auditing and evaluation.
        labels: ``[N]`` class of each sample.
        is_train: ``[N]`` True where the sample comes from the dataset's train split.
        train_dataset: The same samples with training-time transforms (augmentation);
            ``None`` means ``dataset``.
    """

    dataset: Dataset
    labels: np.ndarray
    is_train: np.ndarray
    train_dataset: Dataset | None = None


class IndexedDataset(Dataset):
    """Yields ``(x, y, i)``: a sample and its pool index, for the audit pass."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        x, y = self.dataset[index]
        return x, y, index


def _tensor_subset(dataset: Dataset) -> TensorSubset | None:
    """``dataset`` as a :class:`TensorSubset` if it only indexes a ``TensorDataset``."""
    with_index = isinstance(dataset, IndexedDataset)
    inner = dataset.dataset if with_index else dataset
    indices = None
    if type(inner) is Subset:
        inner, indices = inner.dataset, inner.indices
    if type(inner) is not TensorDataset:
        return None
    return TensorSubset(inner.tensors, indices, with_index=with_index)


class PrivacyDataModule(LightningDataModule, abc.ABC):
    """Base DataModule of an audit: a pool, a seeded membership plan, loaders per model.

    Subclasses implement :meth:`load_pool` and set ``num_classes`` and ``input_shape``
    (known without loading data, so the CLI can link them into the model); they take their own
    settings and pass these on as ``**kwargs``. Every setting is read back from ``hparams``.

    Args:
        scheme: Membership scheme: ``paper`` (the source study's), ``shokri`` (disjoint
            shadow data) or ``lira`` (each sample IN for half of the models).
        num_shadows: Number of shadow (reference) models besides the target.
        batch_size: Training and evaluation batch size.
        num_workers: DataLoader worker processes.
        seed: Seed of the train/test split and the membership plan (linked to
            ``seed_everything`` by the CLI).
        shadow_train_fraction: ``paper`` scheme: fraction of the train split each shadow
            trains on.
        shadow_nonmember_fraction: ``paper`` scheme: fraction of the test split each shadow
            uses as its non-members.
    """

    num_classes: int
    input_shape: tuple[int, ...]

    def __init__(
        self,
        scheme: Scheme = "shokri",
        num_shadows: int = 1,
        batch_size: int = 128,
        num_workers: int = 0,
        seed: int = 0,
        shadow_train_fraction: float = 0.8,
        shadow_nonmember_fraction: float = 0.2,
    ) -> None:
        super().__init__()
        if num_shadows < 0:
            raise ConfigError(f"`num_shadows` must be >= 0, got {num_shadows}.")
        if batch_size < 1:
            raise ConfigError(f"`batch_size` must be >= 1, got {batch_size}.")
        for name, value in (
            ("shadow_train_fraction", shadow_train_fraction),
            ("shadow_nonmember_fraction", shadow_nonmember_fraction),
        ):
            if not 0 < value <= 1:
                raise ConfigError(f"`{name}` must be in (0, 1], got {value}.")
        self.save_hyperparameters()  # with the subclasses' arguments: settings are read from it
        self.pool: Pool | None = None
        self.plan: MembershipPlan | None = None

    @property
    def num_models(self) -> int:
        """Target + shadows."""
        return 1 + self.hparams.num_shadows

    @abc.abstractmethod
    def load_pool(self) -> Pool:
        """Load (never download: that is ``prepare_data``'s job) the samples of the pool."""

    def setup(self, stage: str) -> None:
        """Load the pool and build the plan (the same on every process: checked)."""
        hp = self.hparams
        if self.pool is None:
            self.pool = self.load_pool()
            self.plan = build_plan(
                hp.scheme,
                self.num_models,
                self.pool.labels,
                self.pool.is_train,
                hp.seed,
                shadow_train_fraction=hp.shadow_train_fraction,
                shadow_nonmember_fraction=hp.shadow_nonmember_fraction,
            )
            if hp.scheme == "paper" and hp.num_shadows:
                rank_zero_info(
                    "scheme 'paper' (the source study's protocol): each shadow trains on a random "
                    f"{hp.shadow_train_fraction:.0%} of the target's training data, so shadow "
                    "and target training sets overlap."
                )
        if self.trainer is not None:
            check_same_on_all_ranks(
                self.trainer.strategy,
                self.plan.digest(),
                what=f"the membership plan (scheme {hp.scheme!r}, seed {hp.seed})",
                fix="Every process must build it from the same data and seed: give all processes "
                "the same config, data files and seed_everything.",
            )

    def _require_setup(self) -> tuple[Pool, MembershipPlan]:
        if self.pool is None or self.plan is None:
            raise RuntimeError("call setup() before asking for data loaders")
        return self.pool, self.plan

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        """A loader over ``dataset``; in-memory tensors are fetched a whole batch at a time."""
        fast = _tensor_subset(dataset)
        return DataLoader(
            dataset if fast is None else fast,
            batch_size=self.hparams.batch_size,
            shuffle=shuffle,
            num_workers=self.hparams.num_workers,
            persistent_workers=self.hparams.num_workers > 0,
            collate_fn=None if fast is None else collate_batched,
        )

    def train_dataloader(self) -> CombinedLoader:
        """One shuffled loader per model over exactly its members, combined in ``max_size``
        mode: a model whose loader is exhausted gets ``None`` (no update), never a second pass.
        """  # noqa: D205
        pool, plan = self._require_setup()
        dataset = pool.train_dataset or pool.dataset
        loaders = [
            self._loader(Subset(dataset, plan.members(m).tolist()), shuffle=True)
            for m in range(plan.num_models)
        ]
        # the model may resample them (DP-SGD: Poisson sampling, lightning_snnpriv.models.dp)
        module = getattr(self.trainer, "lightning_module", None) if self.trainer else None
        if hasattr(module, "resample_train_loaders"):
            loaders = list(module.resample_train_loaders(loaders))
        return CombinedLoader(loaders, mode="max_size")

    def val_dataloader(self) -> DataLoader:
        """The target's non-members (never trained on): ``val/acc`` is the target's test acc."""
        pool, plan = self._require_setup()
        return self._loader(Subset(pool.dataset, plan.nonmembers(0).tolist()), shuffle=False)

    def test_dataloader(self) -> DataLoader:
        """The target's non-members, as for validation."""
        return self.val_dataloader()

    def audit_dataloader(self) -> DataLoader:
        """Every pool sample in pool order, clean, as ``(x, y, pool_index)``."""
        pool, _ = self._require_setup()
        return self._loader(IndexedDataset(pool.dataset), shuffle=False)
