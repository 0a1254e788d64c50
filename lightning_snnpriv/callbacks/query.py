"""Attack-side query augmentation: input dropout averaged over random masks (Guan et al. 2025)."""

from __future__ import annotations

import torch
from torch import nn


class DropoutQuery(nn.Module):
    """Wraps a model so that every query averages its outputs over random input-dropout masks.

    For each batch, ``repeats`` keep masks (Bernoulli ``1 - p`` per input element, scaled by
    ``1 / (1 - p)`` as inverted dropout) are drawn from a seeded generator; the wrapped model's
    outputs (logits, or an SNN's readout, for all its copies at once, so target and reference
    models see the same masks) are averaged in logit space. Masks depend on the seed and on the
    order of the batches (the audit loader is not shuffled), so a run is reproducible.

    Args:
        module: The model (a ``PrivacyModule``: ``[models, batch, classes]`` outputs).
        p: Dropout rate in ``(0, 1)``.
        repeats: Masks averaged per query (>= 1).
        seed: Seed of the masks.

    Example:
        >>> query = DropoutQuery(nn.Linear(4, 2), p=0.5, repeats=3, seed=0)
        >>> query(torch.ones(5, 4)).shape
        torch.Size([5, 2])
    """

    def __init__(self, module: nn.Module, p: float, repeats: int = 1, seed: int = 0) -> None:
        super().__init__()
        if not 0.0 < p < 1.0:
            raise ValueError(f"dropout rate must lie in (0, 1); got {p}")
        if repeats < 1:
            raise ValueError(f"repeats must be >= 1; got {repeats}")
        self.module = module
        self.p = p
        self.repeats = repeats
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def device(self) -> torch.device:
        """The wrapped model's device."""
        return next(self.module.parameters()).device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs of the wrapped model averaged over ``repeats`` dropout masks of ``x``."""
        total = None
        for _ in range(self.repeats):
            keep = torch.rand(x.shape, generator=self.generator) >= self.p
            masked = x * keep.to(x.device, x.dtype) / (1.0 - self.p)
            out = self.module(masked)
            total = out if total is None else total + out
        assert total is not None
        return total / self.repeats
