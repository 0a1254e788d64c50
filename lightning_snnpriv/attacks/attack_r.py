"""Attack-R of Ye et al. (2022): the target's loss calibrated by OUT reference models."""

from __future__ import annotations

import torch
from torch import Tensor

from lightning_snnpriv.attacks.base import Attack, AttackInputs, AttackOutput
from lightning_snnpriv.attacks.reference import (
    LIRA_SCHEME_FIX,
    as_float64,
    check_reference_counts,
    equal_reference_counts,
    reference_models,
    require_references,
)
from lightning_snnpriv.attacks.signals import logit_scaled_confidence

__all__ = ["ReferenceAttack", "reference_scores"]


class ReferenceAttack(Attack):
    """Attack-R (Ye et al. 2022): calibrate the target's loss by OUT reference models.

    score(x) = fraction of the reference models that did not train on x whose loss on x is
    at least the target's loss on x, over the same number of OUT references for every sample
    (with one OUT reference more, a member's fraction would take other values than a
    non-member's). Scores take at most ``K + 1`` values: expect ties.

    Raises:
        ConfigError: When scoring, without OUT references for an audited sample.
    """

    name = "reference"
    requires_shadows = True
    few_score_levels = True  # k / n_out for k = 0 .. n_out

    def check_plan(self, keep: Tensor, audit: Tensor, target: int = 0) -> None:
        """Refuse a plan without OUT references for an audited sample."""
        check_reference_counts(keep, audit, target, self.name, 1, False)

    def score(self, inputs: AttackInputs, target: int = 0) -> AttackOutput:
        """Score every pool sample for membership in model ``target``.

        Args:
            inputs: Outputs of all models, labels, keep and audit matrices.
            target: Index of the audited model; the others are reference models.

        Returns:
            Scores ``[N]`` in ``[0, 1]`` and ``info`` with the least OUT count.
        """
        refs = reference_models(inputs, target)
        # softplus(-phi) == -log p_y, without rounding confident losses to 0
        phi = logit_scaled_confidence(as_float64(inputs.logits), inputs.labels)
        loss = torch.nn.functional.softplus(-phi)
        audited = inputs.audit[target].cpu()
        scores, n_out = reference_scores(
            loss[target], loss[refs], inputs.keep[refs].cpu(), audited=audited
        )
        require_references(n_out, 1, audited, self.name, "OUT", LIRA_SCHEME_FIX)
        info = {"num_references": len(refs), "min_out": int(n_out[audited].min())}
        return AttackOutput(scores, info)


def reference_scores(
    target_loss: Tensor,
    reference_loss: Tensor,
    reference_keep: Tensor,
    audited: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Attack-R scores: fraction of OUT reference models with loss >= the target's loss.

    Every sample uses the same number of OUT references (the least count over the audited
    samples, :func:`~lightning_snnpriv.attacks.reference.equal_reference_counts`).

    Args:
        target_loss: ``[N]`` loss of the audited model.
        reference_loss: ``[K, N]`` losses of the reference models.
        reference_keep: ``[K, N]`` bool, True where the reference trained on the sample.
        audited: ``[N]`` bool, the samples whose least OUT count every sample is cut to
            (None: all samples).

    Returns:
        ``(scores [N], n_out [N])``: ``n_out`` the OUT references used; NaN where a sample
        has none.

    Example:
        >>> import torch
        >>> ref_loss = torch.tensor([[1.0, 1.0], [0.5, 3.0]])
        >>> s, n = reference_scores(torch.tensor([0.1, 2.0]), ref_loss,
        ...                         torch.zeros(2, 2, dtype=torch.bool))
        >>> s.tolist(), n.tolist()
        ([1.0, 0.5], [2, 2])
    """
    if audited is None:
        audited = torch.ones(reference_keep.shape[1], dtype=torch.bool)
    _, out, _, _ = equal_reference_counts(reference_keep, audited, need_in=False)
    n_out = out.sum(0)
    hits = (out & (reference_loss >= target_loss)).sum(0)
    return hits.double() / n_out, n_out
