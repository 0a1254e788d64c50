"""Figures: ROC curves of membership-inference attacks on log-log axes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def roc_figure(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str = "",
    log_scale: bool = True,
) -> Figure:
    """ROC curves (``name -> (fpr, tpr)``) with the chance diagonal.

    On log-log axes (1e-5 .. 1, as Carlini et al. 2022 ask) the low-FPR region, where an
    attack identifies members confidently, is visible; points at FPR 0 cannot be drawn there.

    Example:
        >>> fig = roc_figure({"loss": ([0.0, 0.5, 1.0], [0.0, 0.7, 1.0])})
        >>> fig.axes[0].get_xscale()
        'log'
    """
    fig, ax = plt.subplots(figsize=(4.5, 4.5), constrained_layout=True)
    low = 1e-5 if log_scale else 0.0
    ax.plot([low, 1], [low, 1], color="grey", linestyle=":", linewidth=1, label="chance")
    for name, (fpr, tpr) in curves.items():
        ax.plot(fpr, tpr, label=name, linewidth=1.5)
    if log_scale:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlim(low, 1)
    ax.set_ylim(low, 1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize="small")
    return fig
