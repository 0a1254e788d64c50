"""The membership plan: which pool samples each model trains on, built by a seeded scheme.

A plan is two boolean matrices over ``num_models x pool size``: ``keep`` (the sample is in that
model's training set) and ``audit`` (the sample is a labelled member or non-member of that
model, used by attacks and metrics). Row 0 is the target. ``keep`` implies ``audit``.

Schemes (pure functions of the pool's labels, its train/test origin and a seed):

* ``paper``: the source study's protocol. Target members = the dataset's train split, target
  non-members = its test split. Each shadow trains on a random ``shadow_train_fraction`` of the
  train split and uses a random ``shadow_nonmember_fraction`` of the test split as its
  non-members, so shadow and target training data overlap.
* ``shokri``: the pool is split (stratified by class) into a target half and a shadow half; the
  target trains on a random half of its half, each shadow on a random half of the shadow half.
  No shadow ever sees a target sample.
* ``lira``: every model trains on a random half of the whole pool, such that each sample is IN
  for exactly half of the models (Carlini et al. 2022). Needs an even number of models.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from lightning_snnpriv.errors import ConfigError, UsageError

Scheme = Literal["paper", "shokri", "lira"]


@dataclass(frozen=True, eq=False)
class MembershipPlan:
    """Which pool samples each model trains on (``keep``) and is audited on (``audit``).

    Args:
        keep: ``[num_models, N]`` bool; True where the sample is in the model's training set.
        audit: ``[num_models, N]`` bool; True where the sample is a labelled member or
            non-member of the model. ``keep`` implies ``audit``.
        scheme: The scheme that built the plan.
        seed: The seed it was built with.

    Example:
        >>> labels = np.repeat([0, 1], 10)
        >>> plan = build_plan("lira", 4, labels, np.ones(20, bool), seed=0)
        >>> plan.keep.sum(axis=0).tolist() == [2] * 20
        True
        >>> plan.members(0).size + plan.nonmembers(0).size
        20
    """

    keep: np.ndarray
    audit: np.ndarray
    scheme: str
    seed: int

    @property
    def num_models(self) -> int:
        """Number of models (target + shadows)."""
        return int(self.keep.shape[0])

    @property
    def num_samples(self) -> int:
        """Number of pool samples."""
        return int(self.keep.shape[1])

    def members(self, model: int) -> np.ndarray:
        """Pool indices of the training samples of ``model``."""
        return np.flatnonzero(self.keep[model])

    def nonmembers(self, model: int) -> np.ndarray:
        """Pool indices of the audited samples that ``model`` never trained on."""
        return np.flatnonzero(self.audit[model] & ~self.keep[model])

    def digest(self) -> str:
        """A short hash of the plan, equal for equal plans (to compare across ranks and runs)."""
        h = hashlib.sha256()
        for part in (self.keep, self.audit):
            h.update(np.ascontiguousarray(part, dtype=np.bool_).tobytes())
            h.update(str(part.shape).encode())
        h.update(f"{self.scheme}:{self.seed}".encode())
        return h.hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MembershipPlan) and self.digest() == other.digest()

    __hash__ = None  # type: ignore[assignment]

    def validate(self) -> None:
        """Check the invariants of the plan and its scheme; raise :class:`UsageError` if broken."""
        if self.keep.shape != self.audit.shape or self.keep.ndim != 2:
            raise UsageError(
                f"membership plan: keep {self.keep.shape} and audit {self.audit.shape} "
                "must be two matrices of the same shape [num_models, pool size]."
            )
        if (self.keep & ~self.audit).any():
            raise UsageError("membership plan: a training sample is not marked as audited.")
        for model in range(self.num_models):
            if self.members(model).size == 0 or self.nonmembers(model).size == 0:
                who = "the target" if model == 0 else f"shadow {model}"
                raise ConfigError(
                    f"data: the pool of {self.num_samples} samples is too small for scheme "
                    f"{self.scheme!r} with {self.num_models} models: {who} gets "
                    f"{self.members(model).size} members and {self.nonmembers(model).size} "
                    "non-members (at least one of each is needed). Use a larger pool or fewer "
                    "shadows (data.init_args.num_shadows)."
                )
        if self.scheme == "shokri":
            seen_by_shadows = self.keep[1:].any(axis=0)
            if (seen_by_shadows & self.audit[0]).any():
                raise UsageError("membership plan 'shokri': a shadow trains on a target sample.")
        if self.scheme == "lira":
            counts = self.keep.sum(axis=0)
            if not (counts == self.num_models // 2).all():
                raise UsageError("membership plan 'lira': a sample is not IN for half the models.")


def _halves(index: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask over ``index`` selecting a random half of each class."""
    chosen = np.zeros(index.size, dtype=bool)
    for c in np.unique(labels[index]):
        where = np.flatnonzero(labels[index] == c)
        chosen[rng.permutation(where)[: where.size // 2]] = True
    return chosen


def _random_subset(index: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """``round(fraction * len(index))`` elements of ``index``, drawn without replacement."""
    return rng.permutation(index)[: round(fraction * index.size)]


def paper_plan(
    num_models: int,
    labels: np.ndarray,
    is_train: np.ndarray,
    rng: np.random.Generator,
    shadow_train_fraction: float = 0.8,
    shadow_nonmember_fraction: float = 0.2,
) -> tuple[np.ndarray, np.ndarray]:
    """The source study's plan: target = train split vs test split; shadows overlap it."""
    n = labels.size
    keep = np.zeros((num_models, n), dtype=bool)
    audit = np.zeros((num_models, n), dtype=bool)
    keep[0] = is_train
    audit[0] = True
    train, test = np.flatnonzero(is_train), np.flatnonzero(~is_train)
    for model in range(1, num_models):
        keep[model, _random_subset(train, shadow_train_fraction, rng)] = True
        audit[model] = keep[model]
        audit[model, _random_subset(test, shadow_nonmember_fraction, rng)] = True
    return keep, audit


def shokri_plan(
    num_models: int, labels: np.ndarray, is_train: np.ndarray, rng: np.random.Generator, **_: float
) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint target and shadow halves; each model trains on half of its half."""
    n = labels.size
    everything = np.arange(n)
    target_half = _halves(everything, labels, rng)
    keep = np.zeros((num_models, n), dtype=bool)
    audit = np.zeros((num_models, n), dtype=bool)
    for model in range(num_models):
        own = everything[target_half] if model == 0 else everything[~target_half]
        audit[model, own] = True
        keep[model, own[_halves(own, labels, rng)]] = True
    return keep, audit


def lira_plan(
    num_models: int, labels: np.ndarray, is_train: np.ndarray, rng: np.random.Generator, **_: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each sample IN for exactly half of the models, chosen at random (LiRA's reference code)."""
    if num_models % 2:
        raise ConfigError(
            f"data: scheme 'lira' needs an even number of models (each sample is IN for exactly "
            f"half of them), got {num_models}. Set data.init_args.num_shadows to an odd number."
        )
    order = rng.random((num_models, labels.size)).argsort(axis=0)
    keep = order < num_models // 2
    return keep, np.ones_like(keep)


SCHEMES: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "paper": paper_plan,
    "shokri": shokri_plan,
    "lira": lira_plan,
}
assert set(SCHEMES) == set(get_args(Scheme))


def build_plan(
    scheme: str,
    num_models: int,
    labels: np.ndarray,
    is_train: np.ndarray,
    seed: int,
    **options: float,
) -> MembershipPlan:
    """Build and validate the plan of ``scheme`` for a pool with these labels and origins.

    Args:
        scheme: ``paper``, ``shokri`` or ``lira``.
        num_models: Target + shadows.
        labels: ``[N]`` class of each pool sample (stratification).
        is_train: ``[N]`` True where the sample comes from the dataset's train split.
        seed: Seed of the plan's random draws.
        **options: Scheme options (``shadow_train_fraction``, ``shadow_nonmember_fraction``).
    """
    if scheme not in SCHEMES:
        raise ConfigError(f"data: unknown scheme {scheme!r}; choose one of {sorted(SCHEMES)}.")
    rng = np.random.default_rng(seed)
    keep, audit = SCHEMES[scheme](
        num_models, np.asarray(labels), np.asarray(is_train, dtype=bool), rng, **options
    )
    plan = MembershipPlan(keep=keep, audit=audit, scheme=scheme, seed=seed)
    plan.validate()
    return plan
