"""ROC figures of an audit: log-log (the low-FPR regime) and linear axes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lightning_snnpriv.attacks.audit import POOLED, AuditResult


def lowest_measurable_fpr(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
) -> float:
    """The smallest nonzero FPR of the curves: ``1/n`` for the largest ``n`` of non-members.

    Below it nothing is measured (an ROC curve's FPR moves in steps of ``1/n``), so log-log
    axes stop there instead of drawing an empty decade or two.

    Example:
        >>> lowest_measurable_fpr({"a": ([0.0, 0.25, 1.0], [0, 1, 1]), "b": ([0.0, 0.1], [0, 1])})
        0.1
    """
    positive = [float(f) for fpr, _ in curves.values() for f in fpr if float(f) > 0.0]
    return min(positive, default=1e-2)


def roc_figure(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str = "",
    log_scale: bool = True,
) -> Figure:
    """ROC curves (``name -> (fpr, tpr)``), one colour each, with the chance diagonal.

    On log-log axes (as Carlini et al. 2022 ask) the low-FPR region, where an attack
    identifies members confidently, is visible; the axes start at the lowest measurable FPR
    (:func:`lowest_measurable_fpr`), and points at FPR 0 cannot be drawn there.

    Example:
        >>> fig = roc_figure({"loss": ([0.0, 0.5, 1.0], [0.0, 0.7, 1.0])})
        >>> fig.axes[0].get_xscale(), tuple(map(float, fig.axes[0].get_xlim()))
        ('log', (0.5, 1.0))
    """
    fig, ax = plt.subplots(figsize=(4.5, 4.5), constrained_layout=True)
    low = lowest_measurable_fpr(curves) if log_scale else 0.0
    ax.plot([low, 1], [low, 1], color="grey", linestyle=":", linewidth=1, label="chance")
    for i, (name, (fpr, tpr)) in enumerate(curves.items()):
        ax.plot(fpr, tpr, label=name, linewidth=1.5, color=plt.cm.tab10(i % 10),
                linestyle=("-", "--", "-.", ":")[i // 10 % 4])  # fmt: skip
    _roc_axes(ax, log_scale, low, title)
    return fig


def roc_panels(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], title: str = ""
) -> Figure:
    """Two panels of the same ROC curves: log-log (low-FPR regime) and linear axes.

    A curve named ``pooled`` is drawn bold; the others (e.g. one per target) thin.

    Example:
        >>> fig = roc_panels({"target 0": ([0.0, 0.5, 1.0], [0.0, 0.7, 1.0])}, title="loss")
        >>> [ax.get_xscale() for ax in fig.axes]
        ['log', 'linear']
    """
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.5), constrained_layout=True)
    many = len(curves) > 6
    for ax, log_scale in zip(axes, (True, False), strict=True):
        low = lowest_measurable_fpr(curves) if log_scale else 0.0
        ax.plot([low, 1], [low, 1], color="grey", linestyle=":", linewidth=1, label="chance")
        for name, (fpr, tpr) in curves.items():
            bold = name == "pooled"
            ax.plot(
                fpr,
                tpr,
                label=name if bold or not many else None,
                linewidth=2.0 if bold else 0.8,
                alpha=1.0 if bold else 0.6,
                color="black" if bold and many else None,
            )
        _roc_axes(ax, log_scale, low, f"{title} ({'log-log' if log_scale else 'linear'})")
    return fig


def _roc_axes(ax: Axes, log_scale: bool, low: float, title: str) -> None:
    """Scales, limits ``[low, 1]``, labels, title and legend of a ROC plot."""
    if log_scale:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlim(low, 1)
    ax.set_ylim(low, 1)
    # log axes start at 1/n: n non-members, the finest FPR step measured
    ax.set_xlabel("false positive rate" + (f" (from 1/{round(1 / low)})" if low else ""))
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize="small")


def audit_figures(result: AuditResult) -> dict[str, Figure]:
    """ROC figures of an audit, by TensorBoard tag.

    ``mia/roc`` (log-log) and ``mia/roc_linear``: every attack's summary curve (pooled over
    targets when there are several); ``mia/roc/<attack>``: one attack, log-log and linear
    panels, one thin curve per target and the pooled curve.
    """
    summary = {
        name: curves.get(POOLED, next(iter(curves.values())))
        for name, curves in result.curves.items()
    }
    what = "pooled over targets" if len(result.targets) > 1 else f"target {result.targets[0]}"
    figures = {
        "mia/roc": roc_figure(summary, title=f"membership inference ({what})"),
        "mia/roc_linear": roc_figure(
            summary, title=f"membership inference ({what})", log_scale=False
        ),
    }
    for name, curves in result.curves.items():
        figures[f"mia/roc/{name}"] = roc_panels(
            {str(k) if k == POOLED else f"target {k}": v for k, v in curves.items()}, title=name
        )
    return figures


def close_all(figures: Mapping[str, Any]) -> None:
    """Close figures (matplotlib keeps every open figure alive)."""
    for figure in figures.values():
        plt.close(figure)
