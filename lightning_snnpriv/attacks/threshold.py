"""Threshold attacks on one signal of the target alone (no shadow models)."""

from __future__ import annotations

from torch import Tensor

from lightning_snnpriv.attacks.base import Attack, AttackInputs, AttackOutput
from lightning_snnpriv.attacks.signals import cross_entropy_loss

__all__ = ["LossAttack", "loss_threshold_scores"]


def loss_threshold_scores(logits: Tensor, labels: Tensor) -> Tensor:
    """Loss-threshold membership scores of Yeom et al. (2018): ``-loss``.

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
    return -cross_entropy_loss(logits, labels)


class LossAttack(Attack):
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
        tensor([-0.0181, -1.3133])
    """

    name = "loss"
    requires_shadows = False

    def score(self, inputs: AttackInputs, target: int = 0) -> AttackOutput:
        """Score every pool sample by the target's negative cross-entropy loss.

        Args:
            inputs: Outputs of all models; only ``inputs.logits[target]`` is used.
            target: Index of the audited model.

        Returns:
            Scores ``[N]`` (``-loss``) and an empty ``info``.
        """
        inputs.check_target(target)
        return AttackOutput(loss_threshold_scores(inputs.logits[target], inputs.labels), {})
