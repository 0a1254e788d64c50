"""DatasetDataModule: your own data (tensors, or any torchvision-style Dataset) as the pool.

The pool is your dataset (and, if given, your test dataset after it); the membership plan,
the loaders of each model and the audit pass are the same code as for the bundled datasets.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import ConcatDataset, Dataset, TensorDataset

from lightning_snnpriv.data.base import Pool, PrivacyDataModule
from lightning_snnpriv.errors import ConfigError, DataError

FIELD = "data.init_args."


class TensorFileDataset(TensorDataset):
    """Samples and labels from a tensor file: ``torch.save({"x": x, "y": y}, path)``.

    Loaded with ``torch.load(weights_only=True)`` (no code runs from the file).

    Args:
        path: The file; ``x`` is ``[N, *input_shape]`` float, ``y`` is ``[N]`` integer labels.
    """

    def __init__(self, path: str | Path) -> None:
        try:
            loaded = torch.load(Path(path), weights_only=True)
        except Exception as err:
            raise DataError(
                f"{path}: not a readable tensor file ({type(err).__name__}: {err}). Save one "
                'with torch.save({"x": inputs, "y": labels}, path).'
            ) from err
        x, y = (loaded.get(key) if isinstance(loaded, dict) else None for key in ("x", "y"))
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise DataError(f'{path}: expected a dict with tensors "x" (inputs) and "y" (labels).')
        if y.dim() != 1 or len(x) != len(y) or torch.is_floating_point(y):
            raise DataError(
                f'{path}: "y" must be [N] integer labels for the N = {len(x)} inputs of "x", '
                f"got {y.dtype} of shape {tuple(y.shape)}."
            )
        super().__init__(x.float(), y.long())


def dataset_labels(dataset: Dataset) -> np.ndarray:
    """The ``[N]`` integer labels of a dataset of ``(x, y)`` pairs.

    Read from ``targets`` (torchvision's datasets) or a ``TensorDataset``'s second tensor
    when there is one, else from every sample.

    Example:
        >>> dataset_labels(TensorDataset(torch.zeros(3, 2), torch.tensor([1, 0, 1])))
        array([1, 0, 1])
    """
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) >= 2:
        labels = dataset.tensors[1]
    elif getattr(dataset, "targets", None) is not None:
        labels = dataset.targets  # type: ignore[attr-defined]
    else:
        labels = [int(dataset[i][1]) for i in range(len(dataset))]  # type: ignore[arg-type]
    return np.asarray(torch.as_tensor(labels), dtype=np.int64)


class DatasetDataModule(PrivacyDataModule):
    """Your own dataset as the pool of an audit.

    Any map-style dataset whose items are ``(x, y)`` pairs with a tensor ``x`` of one fixed
    shape and an integer class ``y`` (a ``TensorDataset``, :class:`TensorFileDataset`, a
    torchvision dataset with a ``ToTensor`` transform, your own ``Dataset``). In a config it
    is given by ``class_path``. ``input_shape`` is read from its first sample and
    ``num_classes`` is its largest label + 1.

    Args:
        dataset: The samples (with ``test_dataset``: the train split).
        test_dataset: The test split, if the data has one; the pool is then ``dataset``
            followed by ``test_dataset`` (the ``paper`` scheme's target trains on the first).
            Without it a stratified, seeded split of ``dataset`` is the test split.
        test_fraction: Without ``test_dataset``: the fraction of ``dataset`` in the test split.
        **kwargs: The arguments of :class:`PrivacyDataModule` (``scheme``, ``num_shadows``,
            ``batch_size``, ...).

    Example:
        >>> data = DatasetDataModule(TensorDataset(torch.randn(40, 3), torch.arange(40) % 2))
        >>> data.num_classes, data.input_shape, data.num_models
        (2, (3,), 2)
    """

    def __init__(
        self,
        dataset: Dataset,
        test_dataset: Dataset | None = None,
        test_fraction: float = 0.2,
        **kwargs: Any,
    ) -> None:
        if not 0 < test_fraction < 1:
            raise ConfigError(f"`{FIELD}test_fraction` must be in (0, 1), got {test_fraction}.")
        super().__init__(**kwargs)
        parts = [dataset] if test_dataset is None else [dataset, test_dataset]
        self._parts = parts
        self._labels = np.concatenate([dataset_labels(part) for part in parts])
        if len(self._labels) == 0 or self._labels.min() < 0:
            raise ConfigError(f"`{FIELD}dataset` must hold samples with labels >= 0.")
        self.num_classes = int(self._labels.max()) + 1
        self.input_shape = _input_shape(parts)

    def settings(self) -> dict[str, Any]:
        """Settings for the results: the datasets by class name, the rest as given."""
        values = {k: v for k, v in self.hparams.items() if not k.startswith("_")}
        for key in ("dataset", "test_dataset"):
            value = values.get(key)
            if value is not None and not isinstance(value, dict | str):
                values[key] = f"{type(value).__module__}.{type(value).__qualname__}"
        return values

    def load_pool(self) -> Pool:
        """The dataset(s) in order; the train split is ``dataset`` (or a seeded split of it)."""
        if len(self._parts) == 2:
            is_train = np.arange(len(self._labels)) < len(self._parts[0])  # type: ignore[arg-type]
            return Pool(ConcatDataset(self._parts), labels=self._labels, is_train=is_train)
        index = np.arange(len(self._labels))
        try:
            train, _ = train_test_split(
                index,
                test_size=self.hparams.test_fraction,
                stratify=self._labels,
                random_state=self.hparams.seed,
            )
        except ValueError as err:
            raise ConfigError(
                f"`{FIELD}test_fraction` = {self.hparams.test_fraction} cannot split "
                f"{len(index)} samples of {self.num_classes} classes: {err}"
            ) from err
        is_train = np.zeros(len(index), dtype=bool)
        is_train[train] = True
        return Pool(self._parts[0], labels=self._labels, is_train=is_train)


def _input_shape(parts: Sequence[Dataset]) -> tuple[int, ...]:
    """The shape of one sample, the same in every part."""
    shapes = {tuple(torch.as_tensor(part[0][0]).shape) for part in parts}
    if len(shapes) != 1:
        raise ConfigError(
            f"`{FIELD}test_dataset` samples have shape {sorted(shapes)[1]}, but `dataset` "
            f"samples {sorted(shapes)[0]}: both must hold inputs of one shape."
        )
    return shapes.pop()
