"""Per-sample signals computed stably from logits.

Every function takes logits of shape ``[..., N, C]`` (any leading dimensions, e.g. one per
model) and, where it needs them, true labels of shape ``[N]`` (``torch.long``), and returns a
floating tensor of shape ``[..., N]``. Everything is computed from the logits with
``logsumexp``; no function takes the logarithm of a softmax, so the results stay finite when a
probability rounds to 0 or 1 in float32.

These are raw signals, not membership scores: a low loss and a low entropy point to a member,
so attacks negate them (see ``threshold.py``).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "cross_entropy_loss",
    "entropy",
    "log_one_minus_softmax",
    "logit_scaled_confidence",
    "modified_entropy",
    "true_label_confidence",
]


def _as_float(logits: Tensor) -> Tensor:
    """Return floating logits (integer spike counts become the default float dtype)."""
    if logits.dim() < 2:
        raise ValueError(f"logits must have shape [..., N, C]; got shape {tuple(logits.shape)}")
    if not torch.is_floating_point(logits):
        logits = logits.to(torch.get_default_dtype())
    return logits


def _check(logits: Tensor, labels: Tensor) -> Tensor:
    """Validate logits ``[..., N, C]`` against labels ``[N]`` and return floating logits."""
    logits = _as_float(logits)
    if labels.dim() != 1 or labels.dtype != torch.long:
        raise ValueError(
            f"labels must be a 1-D torch.long tensor; got shape {tuple(labels.shape)}, "
            f"dtype {labels.dtype}"
        )
    if labels.shape[0] != logits.shape[-2]:
        raise ValueError(
            f"labels has {labels.shape[0]} samples but logits {tuple(logits.shape)} has "
            f"{logits.shape[-2]} (logits must be [..., N, C])"
        )
    num_classes = logits.shape[-1]
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes - 1}] for {num_classes} classes; got values "
            f"in [{int(labels.min())}, {int(labels.max())}]"
        )
    return logits


def _true_logit(logits: Tensor, labels: Tensor) -> Tensor:
    """Return ``z_y`` with shape ``[..., N]``."""
    index = labels.to(logits.device).expand(logits.shape[:-1]).unsqueeze(-1)
    return logits.gather(-1, index).squeeze(-1)


def _true_label_mask(logits: Tensor, labels: Tensor) -> Tensor:
    """Return a bool mask ``[..., N, C]`` that is True at the true label."""
    classes = torch.arange(logits.shape[-1], device=logits.device)
    return labels.to(logits.device).unsqueeze(-1) == classes


def cross_entropy_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy loss ``-log p_y = logsumexp(z) - z_y`` per sample.

    Args:
        logits: Logits ``[..., N, C]``.
        labels: True labels ``[N]``, ``torch.long``.

    Returns:
        The loss ``[..., N]``, finite for finite logits.

    Example:
        >>> z = torch.tensor([[0.0, 0.0], [30.0, 0.0]])
        >>> cross_entropy_loss(z, torch.tensor([0, 1]))
        tensor([ 0.6931, 30.0000])
    """
    logits = _check(logits, labels)
    return torch.logsumexp(logits, dim=-1) - _true_logit(logits, labels)


def true_label_confidence(logits: Tensor, labels: Tensor) -> Tensor:
    """Softmax probability of the true label, ``p_y``.

    Args:
        logits: Logits ``[..., N, C]``.
        labels: True labels ``[N]``, ``torch.long``.

    Returns:
        ``p_y`` with shape ``[..., N]``, in ``[0, 1]``.

    Example:
        >>> true_label_confidence(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))
        tensor([0.5000])
    """
    return torch.exp(-cross_entropy_loss(logits, labels))


def logit_scaled_confidence(logits: Tensor, labels: Tensor) -> Tensor:
    """LiRA's logit-scaled confidence ``phi = z_y - logsumexp_{y' != y} z_{y'}``.

    This equals ``log p_y - log(1 - p_y)`` but stays finite (and exact) when ``p_y`` rounds
    to 1.0 in float32.

    Args:
        logits: Logits ``[..., N, C]`` with ``C >= 2``.
        labels: True labels ``[N]``, ``torch.long``.

    Returns:
        ``phi`` with shape ``[..., N]``.

    Raises:
        ValueError: With fewer than two classes (``phi`` is undefined).

    Example:
        >>> logit_scaled_confidence(torch.tensor([[200.0, 0.0, 0.0]]), torch.tensor([0]))
        tensor([199.3069])
    """
    logits = _check(logits, labels)
    if logits.shape[-1] < 2:
        raise ValueError(f"logit_scaled_confidence needs >= 2 classes; got {logits.shape[-1]}")
    others = logits.masked_fill(_true_label_mask(logits, labels), float("-inf"))
    return _true_logit(logits, labels) - torch.logsumexp(others, dim=-1)


def log_one_minus_softmax(logits: Tensor) -> Tensor:
    """``log(1 - p_c)`` for every class, computed stably from logits.

    For a class with ``p_c <= 1/2`` the value is ``log1p(-p_c)``, which is accurate there.
    At most one class per sample has ``p_c > 1/2`` (the arg-max); for it the value is
    ``logsumexp_{c' != c} z_{c'} - logsumexp(z)``, which stays finite when ``p_c`` rounds to 1.

    Args:
        logits: Logits ``[..., C]`` with ``C >= 2``.

    Returns:
        ``log(1 - softmax(logits))`` with the shape of ``logits``.

    Example:
        >>> log_one_minus_softmax(torch.tensor([[2.0, 0.0], [100.0, 0.0]])).round(decimals=4)
        tensor([[  -2.1269,   -0.1269],
                [-100.0000,   -0.0000]])
    """
    if not torch.is_floating_point(logits):
        logits = logits.to(torch.get_default_dtype())
    if logits.shape[-1] < 2:
        raise ValueError(f"log_one_minus_softmax needs >= 2 classes; got {logits.shape[-1]}")
    lse = torch.logsumexp(logits, dim=-1, keepdim=True)
    probs = torch.exp(logits - lse)
    out = torch.log1p(-probs.clamp(max=0.5))
    top = logits.argmax(dim=-1, keepdim=True)
    others = logits.scatter(-1, top, float("-inf"))
    top_value = torch.logsumexp(others, dim=-1, keepdim=True) - lse
    top_prob = probs.gather(-1, top)
    # Replace the arg-max entry only where it holds more than half the mass.
    exact = torch.where(top_prob > 0.5, top_value, out.gather(-1, top))
    return out.scatter(-1, top, exact)


def entropy(logits: Tensor) -> Tensor:
    """Shannon entropy ``-sum_c p_c log p_c`` of the softmax (natural log).

    Args:
        logits: Logits ``[..., N, C]``.

    Returns:
        The entropy ``[..., N]``, in ``[0, log C]``.

    Example:
        >>> entropy(torch.tensor([[0.0, 0.0], [2.0, 0.0]]))
        tensor([0.6931, 0.3653])
    """
    logits = _as_float(logits)
    log_probs = torch.log_softmax(logits, dim=-1)
    return -(log_probs.exp() * log_probs).sum(dim=-1)


def modified_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Modified entropy of Song & Mittal (2021).

    ``Mentr = -(1 - p_y) log p_y - sum_{y' != y} p_{y'} log(1 - p_{y'})``; members tend to
    have a lower value. Computed from logits with :func:`log_one_minus_softmax`.

    Args:
        logits: Logits ``[..., N, C]`` with ``C >= 2``.
        labels: True labels ``[N]``, ``torch.long``.

    Returns:
        The modified entropy ``[..., N]`` (non-negative).

    Example:
        >>> modified_entropy(torch.tensor([[0.0, 0.0]]), torch.tensor([0]))
        tensor([0.6931])
    """
    logits = _check(logits, labels)
    log_probs = torch.log_softmax(logits, dim=-1)
    log_one_minus = log_one_minus_softmax(logits)
    mask = _true_label_mask(logits, labels)
    log_p_y = _true_logit(log_probs, labels)
    one_minus_p_y = torch.exp(_true_logit(log_one_minus, labels))
    true_term = -one_minus_p_y * log_p_y
    other_terms = -(log_probs.exp() * log_one_minus).masked_fill(mask, 0.0).sum(dim=-1)
    return true_term + other_terms
