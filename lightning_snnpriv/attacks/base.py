"""The attack interface: what every membership-inference attack receives and returns."""

from __future__ import annotations

import abc
import inspect
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor

__all__ = ["Attack", "AttackInputs", "AttackOutput"]


@dataclass(frozen=True)
class AttackInputs:
    """Outputs of every model on every pool sample, with who trained on what.

    Model 0 is the default target; any other model can be audited as a target too, with the
    remaining models acting as shadows (reference models).

    Attributes:
        logits: Floating ``[M, N, C]``: the outputs of the ``M`` models on the ``N`` pool samples.
        labels: ``torch.long`` ``[N]``: true labels, in ``[0, C)``.
        keep: ``torch.bool`` ``[M, N]``: True where the sample was in that model's training set.
        audit: ``torch.bool`` ``[M, N]``: True where the sample counts as a labelled member or
            non-member of that model; ``keep`` implies ``audit``.

    Raises:
        ValueError: On a wrong shape or dtype, non-finite logits, labels out of range, or a
            kept sample that is not audited.

    Example:
        >>> inputs = AttackInputs(
        ...     logits=torch.zeros(2, 3, 4),
        ...     labels=torch.tensor([0, 1, 3]),
        ...     keep=torch.tensor([[True, False, False], [False, True, True]]),
        ...     audit=torch.ones(2, 3, dtype=torch.bool),
        ... )
        >>> inputs.num_models
        2
    """

    logits: Tensor
    labels: Tensor
    keep: Tensor
    audit: Tensor

    def __post_init__(self) -> None:
        logits, labels, keep, audit = self.logits, self.labels, self.keep, self.audit
        for name in ("logits", "labels", "keep", "audit"):
            value = getattr(self, name)
            if not isinstance(value, Tensor):
                raise TypeError(f"AttackInputs.{name} must be a torch.Tensor; got {type(value)}")
        if logits.dim() != 3 or not torch.is_floating_point(logits):
            raise ValueError(
                "AttackInputs.logits must be a floating tensor [models, samples, classes]; got "
                f"shape {tuple(logits.shape)}, dtype {logits.dtype}"
            )
        num_models, num_samples, num_classes = logits.shape
        if num_models < 1 or num_classes < 1:
            raise ValueError(
                f"AttackInputs.logits needs >= 1 model and >= 1 class; got {tuple(logits.shape)}"
            )
        if labels.dim() != 1 or labels.dtype != torch.long or labels.shape[0] != num_samples:
            raise ValueError(
                f"AttackInputs.labels must be a torch.long tensor of shape [{num_samples}] "
                f"(samples of logits); got shape {tuple(labels.shape)}, dtype {labels.dtype}"
            )
        if num_samples and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            raise ValueError(
                f"AttackInputs.labels must lie in [0, {num_classes - 1}]; got values in "
                f"[{int(labels.min())}, {int(labels.max())}]"
            )
        for name, value in (("keep", keep), ("audit", audit)):
            if value.dtype != torch.bool or tuple(value.shape) != (num_models, num_samples):
                raise ValueError(
                    f"AttackInputs.{name} must be a torch.bool tensor of shape "
                    f"[{num_models}, {num_samples}] (models, samples of logits); got shape "
                    f"{tuple(value.shape)}, dtype {value.dtype}"
                )
        bad = ~torch.isfinite(logits)
        if bad.any():
            model, sample, _ = (int(i) for i in bad.nonzero()[0])
            raise ValueError(
                f"AttackInputs.logits has {int(bad.sum())} non-finite values (NaN or inf); the "
                f"first is model {model}, sample {sample}: a diverged model cannot be audited"
            )
        unaudited = keep & ~audit
        if unaudited.any():
            model, sample = (int(i) for i in unaudited.nonzero()[0])
            raise ValueError(
                f"AttackInputs.keep must imply audit; {int(unaudited.sum())} kept samples are not "
                f"audited, the first is model {model}, sample {sample}"
            )

    @property
    def num_models(self) -> int:
        """Number of models ``M`` (target plus shadows)."""
        return self.logits.shape[0]

    @property
    def num_samples(self) -> int:
        """Number of pool samples ``N``."""
        return self.logits.shape[1]

    @property
    def num_classes(self) -> int:
        """Number of classes ``C``."""
        return self.logits.shape[2]

    def check_target(self, target: int) -> None:
        """Raise ValueError unless ``target`` indexes one of the models.

        Args:
            target: Index of the audited model.
        """
        if isinstance(target, bool) or not isinstance(target, int):
            raise ValueError(f"target must be an int model index; got {target!r}")
        if not 0 <= target < self.num_models:
            raise ValueError(
                f"target must be a model index in [0, {self.num_models - 1}]; got {target}"
            )


class AttackOutput(NamedTuple):
    """What an attack returns for one target.

    Attributes:
        scores: Floating ``[N]``: a membership score for every pool sample (higher = more likely
            a member). Metrics use only the samples audited for the target.
        info: JSON-serializable extras (e.g. ``{"fallback_classes": [3]}``).
    """

    scores: Tensor
    info: dict[str, Any]


class Attack(abc.ABC):
    """A membership-inference attack.

    Subclasses set the class attributes ``name`` (short, used in metric names such as
    ``mia/<name>/auc``), ``requires_shadows`` and ``few_score_levels`` (the scores take a
    handful of values by design, e.g. correct / wrong, so the top level ties and the TPR at
    FPR 0 is 0 whatever the leakage), take every setting as a typed ``__init__``
    argument (so jsonargparse can build them from YAML), store each under an attribute of the
    same name, and implement :meth:`score`.
    """

    name: ClassVar[str]
    requires_shadows: ClassVar[bool] = False
    few_score_levels: ClassVar[bool] = False

    @abc.abstractmethod
    def score(self, inputs: AttackInputs, target: int = 0) -> AttackOutput:
        """Score every pool sample for membership in model ``target``.

        Args:
            inputs: Outputs of all models, labels, keep and audit matrices.
            target: Index of the audited model; the others may serve as shadows.

        Returns:
            Scores ``[N]`` (higher = more likely a member) and JSON-serializable extras.
        """

    def check_plan(self, keep: Tensor, audit: Tensor, target: int = 0) -> None:
        """Raise a ConfigError if a membership plan cannot support this attack on ``target``.

        Called before training, so that an impossible audit fails early; by default every
        plan is accepted.

        Args:
            keep: ``[M, N]`` bool membership plan.
            audit: ``[M, N]`` bool audited samples.
            target: Index of the audited model.
        """
        del keep, audit, target  # every plan is accepted

    def settings(self) -> dict[str, Any]:
        """Return the constructor settings (JSON-serializable), for results files.

        Reads each ``__init__`` parameter back from the attribute of the same name.
        """
        params = inspect.signature(type(self).__init__).parameters
        return {
            name: getattr(self, name)
            for name, param in params.items()
            if name != "self" and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD)
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.settings().items())
        return f"{type(self).__name__}({args})"
