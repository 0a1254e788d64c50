"""Per-class views of the source study's Shokri attack: class-balanced training, per-class AUC.

The source study's code balances members and non-members within every class for its ANN
attack (not its SNN attack), and reports the mean over classes of the AUC within each class.
Both are pure numpy / scikit-learn functions, used by
:class:`~lightning_snnpriv.attacks.ShokriAttack`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor

__all__ = ["class_balanced_subsample", "mean_class_auc"]


def class_balanced_subsample(classes: np.ndarray, members: np.ndarray, seed: int) -> np.ndarray:
    """Seeded subsample with as many members as non-members in every class.

    The source study's ANN attack balances its attack training set this way: in each class the
    larger side (members or non-members) is cut, at random, to the size of the smaller one.

    Args:
        classes: True class of every attack training sample ``[n]``.
        members: ``[n]`` 0/1 (or bool): whether the sample was a member of its shadow.
        seed: Seed of the numpy generator.

    Returns:
        Sorted indices into the inputs.

    Example:
        >>> c = np.array([0, 0, 0, 0, 1, 1, 1])
        >>> m = np.array([1, 1, 1, 0, 1, 0, 0])
        >>> kept = class_balanced_subsample(c, m, seed=0)
        >>> [(int(k), int(m[kept][c[kept] == k].sum()), int((c[kept] == k).sum())) for k in (0, 1)]
        [(0, 1, 2), (1, 1, 2)]
    """
    rng = np.random.default_rng(seed)
    members = np.asarray(members).astype(bool)
    chosen = []
    for cls in np.unique(classes):
        inside = np.flatnonzero((classes == cls) & members)
        outside = np.flatnonzero((classes == cls) & ~members)
        n = min(len(inside), len(outside))
        chosen += [rng.choice(inside, n, replace=False), rng.choice(outside, n, replace=False)]
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def mean_class_auc(scores: Tensor, is_member: Tensor, classes: Tensor) -> dict[str, Any]:
    """The source study's metric: the AUC within each class, and their mean.

    Classes without both members and non-members among the scored samples are left out.

    Args:
        scores: Membership scores ``[n]`` (higher = member).
        is_member: ``[n]`` bool.
        classes: ``[n]`` true classes.

    Returns:
        ``{"per_class_auc": {"<class>": auc}, "per_class_auc_mean": mean}`` (the mean is None when
        no class has both).

    Example:
        >>> import torch
        >>> s = torch.tensor([0.9, 0.1, 0.2, 0.8]); m = torch.tensor([True, False, True, False])
        >>> mean_class_auc(s, m, torch.tensor([0, 0, 1, 1]))
        {'per_class_auc': {'0': 1.0, '1': 0.0}, 'per_class_auc_mean': 0.5}
    """
    from sklearn.metrics import roc_auc_score

    scores_np, member_np = scores.detach().double().cpu().numpy(), is_member.cpu().numpy()
    classes_np = classes.cpu().numpy()
    per_class = {}
    for cls in np.unique(classes_np).tolist():
        rows = classes_np == cls
        if 0 < member_np[rows].sum() < rows.sum():
            per_class[str(cls)] = float(roc_auc_score(member_np[rows], scores_np[rows]))
    mean = float(np.mean(list(per_class.values()))) if per_class else None
    return {"per_class_auc": per_class, "per_class_auc_mean": mean}
