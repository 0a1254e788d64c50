"""Threshold attacks on one signal of the target alone (no shadow models).

Each attack is a pure scoring function (logits and labels in, scores out, higher = member)
and a thin :class:`~lightning_snnpriv.attacks.base.Attack` wrapper that applies it to the
audited target's outputs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from lightning_snnpriv.attacks.base import Attack, AttackInputs, AttackOutput
from lightning_snnpriv.attacks.signals import (
    entropy,
    logit_scaled_confidence,
    modified_entropy,
    true_label_confidence,
)

__all__ = [
    "ConfidenceAttack",
    "EntropyAttack",
    "GapAttack",
    "LossAttack",
    "ModifiedEntropyAttack",
    "confidence_threshold_scores",
    "entropy_threshold_scores",
    "gap_scores",
    "loss_threshold_scores",
    "modified_entropy_threshold_scores",
]


def loss_threshold_scores(logits: Tensor, labels: Tensor) -> Tensor:
    """Loss-threshold membership scores of Yeom et al. (2018): ``-loss``.

    The loss is computed as ``softplus(-phi)`` (``phi``: the logit-scaled confidence), equal
    to ``logsumexp(z) - z_y`` but exact for confident samples: with a margin of 40 the latter
    rounds to 0 even in float64, tying members with non-members where the TPR at low FPR is
    decided; ``softplus(-40) = 4.2e-18`` does not.

    Args:
        logits: Target logits ``[N, C]`` (or ``[..., N, C]``).
        labels: True labels ``[N]``, ``torch.long``.

    Returns:
        Scores ``[N]``, higher = more likely a member (lower loss).

    Example:
        >>> import torch
        >>> loss_threshold_scores(torch.tensor([[5.0, 0.0], [0.0, 0.0]]), torch.tensor([0, 0]))
        tensor([-0.0067, -0.6931])
    """
    return -torch.nn.functional.softplus(-logit_scaled_confidence(logits, labels))


def confidence_threshold_scores(logits: Tensor, labels: Tensor) -> Tensor:
    """Confidence-threshold scores: the true-label probability ``p_y``.

    Ranks like :func:`loss_threshold_scores` except where ``p_y`` rounds to 1.0 (ties).

    Args:
        logits: Target logits ``[N, C]``.
        labels: True labels ``[N]``, ``torch.long``.

    Returns:
        Scores ``[N]`` in ``[0, 1]``, higher = more likely a member.

    Example:
        >>> import torch
        >>> z = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
        >>> confidence_threshold_scores(z, torch.tensor([0, 0]))
        tensor([0.5000, 0.8808])
    """
    return true_label_confidence(logits, labels)


def entropy_threshold_scores(logits: Tensor, labels: Tensor) -> Tensor:
    """Entropy-threshold scores: ``-entropy(softmax(logits))`` (labels are not used).

    Args:
        logits: Target logits ``[N, C]``.
        labels: True labels ``[N]`` (ignored; kept for a uniform signature).

    Returns:
        Scores ``[N]``, higher (more confident prediction) = more likely a member.

    Example:
        >>> import torch
        >>> entropy_threshold_scores(torch.tensor([[0.0, 0.0], [9.0, 0.0]]), torch.tensor([0, 0]))
        tensor([-0.6931, -0.0012])
    """
    return -entropy(logits)


def modified_entropy_threshold_scores(logits: Tensor, labels: Tensor) -> Tensor:
    """Modified-entropy scores of Song & Mittal (2021): ``-mentr``.

    ``mentr = -(1 - p_y) log p_y - sum_{y' != y} p_y' log(1 - p_y')``: low for a confident
    correct prediction, high for a confident wrong one (unlike plain entropy).

    Args:
        logits: Target logits ``[N, C]``.
        labels: True labels ``[N]``, ``torch.long``.

    Returns:
        Scores ``[N]``, higher = more likely a member.

    Example:
        >>> import torch
        >>> z = torch.tensor([[9.0, 0.0], [0.0, 9.0]])
        >>> s = modified_entropy_threshold_scores(z, torch.tensor([0, 0]))
        >>> bool(s[0] > s[1])
        True
    """
    return -modified_entropy(logits, labels)


def gap_scores(logits: Tensor, labels: Tensor) -> Tensor:
    """Correctness (gap) attack: 1.0 if the target classifies the sample correctly, else 0.0.

    The scores take two values, so the ROC has three points (0, 0), (FPR, TPR) of "correct =
    member", and (1, 1); all samples with the same score are tied, never ordered arbitrarily.

    Args:
        logits: Target logits ``[N, C]``.
        labels: True labels ``[N]``, ``torch.long``.

    Returns:
        Scores ``[N]`` (float, 0.0 or 1.0).

    Example:
        >>> import torch
        >>> gap_scores(torch.tensor([[2.0, 0.0], [2.0, 0.0]]), torch.tensor([0, 1]))
        tensor([1., 0.])
    """
    return (logits.argmax(-1) == labels.to(logits.device)).to(logits.dtype)


class _TargetSignalAttack(Attack):
    """An attack that thresholds one signal of the audited target's outputs.

    The signal is computed in float64 (``p_y`` of confident samples then ties at 1.0 later
    than in float32).
    """

    requires_shadows = False
    _scores: Callable[[Tensor, Tensor], Tensor]

    def score(self, inputs: AttackInputs, target: int = 0) -> AttackOutput:
        """Score every pool sample from the target's outputs alone.

        Args:
            inputs: Outputs of all models; only ``inputs.logits[target]`` is used.
            target: Index of the audited model.

        Returns:
            Scores ``[N]`` and an empty ``info``.
        """
        inputs.check_target(target)
        scores = type(self)._scores(inputs.logits[target].double(), inputs.labels)
        return AttackOutput(scores, {})


class LossAttack(_TargetSignalAttack):
    """Loss-threshold attack (Yeom et al. 2018) on the target's outputs alone.

    Example:
        >>> import torch
        >>> from lightning_snnpriv.attacks.base import AttackInputs
        >>> inputs = AttackInputs(
        ...     logits=torch.tensor([[[4.0, 0.0], [0.0, 1.0]]]),
        ...     labels=torch.tensor([0, 0]),
        ...     keep=torch.tensor([[True, False]]),
        ...     audit=torch.tensor([[True, True]]),
        ... )
        >>> LossAttack().score(inputs).scores
        tensor([-0.0181, -1.3133], dtype=torch.float64)
    """

    name = "loss"
    _scores = staticmethod(loss_threshold_scores)


class ConfidenceAttack(_TargetSignalAttack):
    """Confidence-threshold attack: score = the target's true-label probability ``p_y``."""

    name = "confidence"
    _scores = staticmethod(confidence_threshold_scores)


class EntropyAttack(_TargetSignalAttack):
    """Entropy-threshold attack: score = minus the entropy of the target's prediction."""

    name = "entropy"
    _scores = staticmethod(entropy_threshold_scores)


class ModifiedEntropyAttack(_TargetSignalAttack):
    """Modified-entropy threshold attack of Song & Mittal (2021): score = ``-mentr``."""

    name = "modified_entropy"
    _scores = staticmethod(modified_entropy_threshold_scores)


class GapAttack(_TargetSignalAttack):
    """Correctness (gap) attack: member iff the target classifies the sample correctly."""

    name = "gap"
    few_score_levels = True  # 0 or 1
    _scores = staticmethod(gap_scores)
