"""Figures of a sweep: privacy-accuracy scatter with its Pareto front, metrics against an axis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def pareto_front(accuracy: Sequence[float], auc: Sequence[float]) -> list[int]:
    """Indices of the settings no other setting beats on both accuracy (higher) and AUC (lower).

    A setting is dominated when another one is at least as accurate and at most as leaky, and
    strictly better in one of the two. The front is returned in order of increasing accuracy.

    Example:
        >>> pareto_front([0.9, 0.8, 0.95, 0.7], [0.60, 0.55, 0.70, 0.58])
        [1, 0, 2]
    """
    acc, leak = np.asarray(accuracy, float), np.asarray(auc, float)
    front = []
    for i in range(len(acc)):
        better_eq = (acc >= acc[i]) & (leak <= leak[i])
        strictly = (acc > acc[i]) | (leak < leak[i])
        if not (better_eq & strictly).any():
            front.append(i)
    return sorted(front, key=lambda i: (acc[i], -leak[i]))


def tradeoff_figure(
    labels: Sequence[str],
    accuracy: Sequence[float],
    auc: Sequence[float],
    accuracy_std: Sequence[float] | None = None,
    auc_std: Sequence[float | tuple[float, float]] | None = None,
    title: str = "",
    legend_title: str = "",
) -> Figure:
    """Target test accuracy against attack AUC, one marker per setting, with the Pareto front.

    ``auc_std`` holds, per setting, a std (a symmetric bar) or an interval ``(low, high)``.

    Example:
        >>> fig = tradeoff_figure(["a", "b"], [0.9, 0.8], [0.6, 0.55])
        >>> fig.axes[0].get_xlabel()
        'target test accuracy'
    """
    fig, ax = plt.subplots(figsize=(6.5, 4.8), constrained_layout=True)
    acc, leak = np.asarray(accuracy, float), np.asarray(auc, float)
    colors = plt.cm.tab10(np.arange(len(acc)) % 10)
    for i, label in enumerate(labels):
        ax.errorbar(
            acc[i],
            leak[i],
            xerr=None if accuracy_std is None else _finite(accuracy_std[i]),
            yerr=None if auc_std is None else _auc_bar(leak[i], auc_std[i]),
            fmt="o",
            color=colors[i],
            label=label,
            capsize=2,
            markersize=5,
        )
    front = pareto_front(acc, leak)
    if front:
        ax.plot(acc[front], leak[front], "k--", linewidth=1, label="Pareto front", zorder=0)
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("target test accuracy")
    ax.set_ylabel("attack AUC (0.5 = chance)")
    ax.set_title(title)
    if len(labels) <= 16:
        ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.01, 0.5),
                  title=legend_title or None, title_fontsize="x-small")  # fmt: skip
    return fig


def _finite(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _auc_bar(mean: float, spread: float | tuple[float, float]) -> Any:
    if isinstance(spread, tuple):
        return error_bars([mean], [[spread[0]], [spread[1]]])
    return _finite(spread)


#: At most this many panels side by side; more go on further rows.
GRID_COLUMNS = 3


def error_bars(mean: Sequence[float], spread: Sequence[Sequence[float]]) -> np.ndarray:
    """Error bars (``[2, n]``, below and above) from a std or from interval bounds.

    ``spread`` is ``(std,)`` (symmetric) or ``(low, high)`` (an interval around the mean);
    NaN becomes 0 (no bar).

    Example:
        >>> error_bars([0.6], [[0.5], [0.8]]).round(2).tolist()
        [[0.1], [0.2]]
    """
    mean = np.asarray(mean, float)
    if len(spread) == 1:
        below = above = np.asarray(spread[0], float)
    else:
        below, above = mean - np.asarray(spread[0], float), np.asarray(spread[1], float) - mean
    return np.nan_to_num(np.stack([below, above]), nan=0.0).clip(min=0.0)


def metrics_vs_axis_figure(
    axis_label: str,
    x_labels: Sequence[str],
    x_positions: Sequence[float],
    panels: Mapping[str, Mapping[str, tuple[Sequence[float], ...]]],
    log2_x: bool = False,
    legend_title: str = "",
    categorical: bool = False,
    interval: str = "± std",
) -> Figure:
    """One panel per metric, in a grid: the mean with its spread against the swept value.

    Each series (a setting of the other axes) has one colour in every panel and one entry in
    the figure's legend. A numeric axis (bit width) joins a series' points by a line; a
    categorical one (ANN vs SNN, surrogate) draws them as points side by side, no line.

    Args:
        axis_label: Name of the swept key (x label).
        x_labels: Tick labels of the swept values.
        x_positions: Their x positions (bits: the bit width, full precision at 32).
        panels: Metric name -> series label -> ``(means, stds)`` or ``(means, lows, highs)``,
            aligned with ``x_positions`` (NaN where a series has no value).
        log2_x: A base-2 logarithmic x axis (bit widths).
        legend_title: Title of the legend (the keys the series labels show).
        categorical: The swept values are categories: grouped points, no connecting line.
        interval: What the bars show, for the figure's caption (``95% CI``, ``± std``).

    Example:
        >>> fig = metrics_vs_axis_figure("weight_bits", ["2", "full"], [2, 32],
        ...                              {"AUC": {"snn": ([0.6, 0.7], [0.01, 0.02])}}, log2_x=True)
        >>> len(fig.axes), fig.axes[0].get_xscale()
        (1, 'log')
    """
    n = len(panels)
    cols = min(GRID_COLUMNS, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.9 * cols + 1.8, 3.3 * rows + 0.4),
                             squeeze=False, constrained_layout=True)  # fmt: skip
    series = list(dict.fromkeys(label for panel in panels.values() for label in panel))
    colors = {label: plt.cm.tab10(i % 10) for i, label in enumerate(series)}
    width = 0.6 / max(len(series), 1)  # categorical: the series side by side in a slot
    for ax, (metric, panel) in zip(axes.flat, panels.items(), strict=False):
        for i, (label, (mean, *spread)) in enumerate(panel.items()):
            x = np.asarray(x_positions, float)
            if categorical:
                x = x + (i - (len(panel) - 1) / 2) * width
            ax.errorbar(x, mean, yerr=error_bars(mean, spread), marker="o", capsize=3,
                        linestyle="none" if categorical else "-", color=colors[label],
                        label=label, markersize=5)  # fmt: skip
        if log2_x:
            ax.set_xscale("log", base=2)
        ax.set_xticks(list(x_positions), list(x_labels))
        ax.minorticks_off()
        if categorical:
            ax.set_xlim(min(x_positions) - 0.5, max(x_positions) + 0.5)
        ax.set_xlabel(axis_label)
        ax.set_title(metric, fontsize="medium")
        ax.grid(axis="y", alpha=0.3)
        if metric.endswith("AUC"):
            ax.axhline(0.5, color="grey", linestyle=":", linewidth=1, label="_chance")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    style = "none" if categorical else "-"
    handles = [plt.Line2D([], [], color=colors[s], marker="o", linestyle=style) for s in series]
    if series and len(series) <= 16:
        fig.legend(handles, series, fontsize="small", loc="outside right center",
                   title=legend_title or None, title_fontsize="small")  # fmt: skip
    chance = "; dotted: chance (AUC 0.5)" if any(m.endswith("AUC") for m in panels) else ""
    fig.suptitle(f"mean {interval} over seeds{chance}", fontsize="small")
    return fig
