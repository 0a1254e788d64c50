"""The DP-SGD settings of a model (``model.init_args.dp``), checked before any training.

A config gives either a ``noise_multiplier`` or a ``target_epsilon`` (Opacus then finds the
smallest noise that reaches it at ``delta`` after the run's epochs), plus the per-sample
clipping norm and ``delta``. Values that cannot be right on their own are refused when the
settings are built; those that depend on the data (``delta`` against each model's number of
members, a target epsilon that the run's epochs cannot reach) are checked by
:mod:`lightning_snnpriv.models.dp` when the training data is known, still before any step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from lightning_snnpriv.errors import ConfigError

#: Where the settings live in a config; messages name fields with it.
FIELD = "model.init_args.dp."

Accountant = Literal["rdp", "prv"]


@dataclass(frozen=True)
class DPSettings:
    """DP-SGD (Opacus) for every model of the run: the target and each shadow alike.

    Each model is trained with its own Opacus ``DPOptimizer`` (per-sample gradients clipped
    to ``max_grad_norm``, Gaussian noise of ``noise_multiplier * max_grad_norm`` added to
    their sum) on Poisson-sampled batches of its own members, and has its own accountant.

    Args:
        noise_multiplier: Noise standard deviation over the clipping norm (>= 0). Give this
            or ``target_epsilon``, not both.
        target_epsilon: The epsilon each model should spend by the end of training (> 0);
            the noise multiplier is then computed by Opacus' ``get_noise_multiplier`` from the
            run's sample rate and number of steps.
        max_grad_norm: Per-sample gradient clipping norm (> 0).
        delta: The delta of the (epsilon, delta) guarantee, in (0, 1); must be below
            ``1 / n`` for every model's number of members ``n`` (checked at fit start).
        accountant: Opacus' privacy accountant: ``rdp`` (Renyi DP) or ``prv`` (privacy loss
            random variables, tighter).

    Example:
        >>> DPSettings(target_epsilon=2.0).to_dict()["max_grad_norm"]
        1.0
        >>> DPSettings(noise_multiplier=-1.0)
        Traceback (most recent call last):
        ...
        lightning_snnpriv.errors.ConfigError: `model.init_args.dp.noise_multiplier` must be >= 0, got -1.0.
    """  # noqa: E501

    noise_multiplier: float | None = None
    target_epsilon: float | None = None
    max_grad_norm: float = 1.0
    delta: float = 1e-5
    accountant: Accountant = "rdp"

    def __post_init__(self) -> None:
        _check("noise_multiplier", self.noise_multiplier, lambda v: v >= 0, "must be >= 0")
        _check("target_epsilon", self.target_epsilon, lambda v: v > 0, "must be > 0")
        _check("max_grad_norm", self.max_grad_norm, lambda v: v > 0, "must be > 0")
        _check("delta", self.delta, lambda v: 0 < v < 1, "must be in (0, 1)")
        if self.accountant not in ("rdp", "prv"):
            raise ConfigError(
                f"`{FIELD}accountant` must be 'rdp' or 'prv', got {self.accountant!r}."
            )

    @classmethod
    def of(cls, value: DPSettings | Mapping[str, Any]) -> DPSettings:
        """``value`` as settings: checkpoints store them as a plain mapping (loadable safely).

        Example:
            >>> DPSettings.of({"noise_multiplier": 1.0}) == DPSettings(noise_multiplier=1.0)
            True
        """
        return value if isinstance(value, cls) else cls(**dict(value))

    def check_complete(self) -> None:
        """Refuse settings with both or neither of ``noise_multiplier`` and ``target_epsilon``.

        Checked by the model rather than on construction, so that a command line can switch
        from one to the other field by field (``dp.target_epsilon=null``,
        ``dp.noise_multiplier=1``).
        """
        if (self.noise_multiplier is None) == (self.target_epsilon is None):
            raise ConfigError(
                f"`{FIELD}noise_multiplier` or `{FIELD}target_epsilon`: give exactly one of "
                f"them (got noise_multiplier={self.noise_multiplier}, target_epsilon="
                f"{self.target_epsilon})."
            )

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-friendly dict (results files, TensorBoard hparams)."""
        return asdict(self)


def _check(name: str, value: float | None, ok: Any, what: str) -> None:
    """Raise :class:`ConfigError` naming ``dp.<name>`` unless ``value`` is None or ``ok``."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ConfigError(f"`{FIELD}{name}` must be a number, got {value!r}.")
    if not ok(value):
        raise ConfigError(f"`{FIELD}{name}` {what}, got {value}.")


def check_delta(delta: float, members: list[int]) -> None:
    """Refuse a ``delta`` that is not below ``1 / n`` for every model's member count ``n``.

    A delta of ``1 / n`` allows a mechanism that publishes one member's data outright, so it
    guarantees nothing (the usual rule: delta well below ``1 / n``).

    Example:
        >>> check_delta(1e-5, [100, 120])
        >>> check_delta(0.01, [100, 120])
        Traceback (most recent call last):
        ...
        lightning_snnpriv.errors.ConfigError: `model.init_args.dp.delta` = 0.01 must be below 1/n = 0.01 for the model with the fewest members (n = 100): a larger delta guarantees nothing. Use a smaller delta (e.g. 1e-5).
    """  # noqa: E501
    n = min(members)
    if delta >= 1 / n:
        raise ConfigError(
            f"`{FIELD}delta` = {delta:g} must be below 1/n = {1 / n:.3g} for the model with the "
            f"fewest members (n = {n}): a larger delta guarantees nothing. Use a smaller delta "
            "(e.g. 1e-5)."
        )
