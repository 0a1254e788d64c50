"""Figures a reader gets at a glance: panels in a grid, one colour and one legend entry per
series, categorical axes as grouped points, ROC axes from the measurable FPR."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from lightning_snnpriv.attacks.metrics import roc_curve
from lightning_snnpriv.reports.figures import roc_figure
from lightning_snnpriv.sweeps.figures import metrics_vs_axis_figure, tradeoff_figure


def _panels(n_panels: int, series: tuple[str, ...]) -> dict:
    return {
        f"metric {p}": {s: ([0.6 + 0.01 * i, 0.7], [0.01, 0.02]) for i, s in enumerate(series)}
        for p in range(n_panels)
    }


def _series(ax) -> dict:
    """Series label -> (data line, error bar segments) of an axes' error bars."""
    return {c.get_label(): (c.lines[0], c.lines[2][0].get_segments()) for c in ax.containers}


def test_six_panels_form_a_grid_not_a_row():
    fig = metrics_vs_axis_figure("bits", ["2", "full"], [2, 32], _panels(6, ("ann", "snn")), True)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 6
    width, height = fig.get_size_inches()
    assert width / height < 2.5  # 3 x 2 panels (a row of six was 7:1)
    assert len({round(ax.get_position().y0, 2) for ax in shown}) == 2
    plt.close(fig)


def test_one_colour_and_one_legend_entry_per_series():
    fig = metrics_vs_axis_figure("bits", ["2", "full"], [2, 32], _panels(4, ("ann", "snn")))
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["ann", "snn"]
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        series = _series(ax)
        assert sorted(series) == ["ann", "snn"]
        assert len({tuple(line.get_color()) for line, _ in series.values()}) == 2
    plt.close(fig)


def test_categorical_axis_is_grouped_points_with_intervals():
    panels = {"AUC": {"2 bits": ([0.6, 0.7], [0.55, 0.62], [0.66, 0.8]),
                      "full": ([0.58, 0.65], [0.5, 0.6], [0.62, 0.7])}}  # fmt: skip
    fig = metrics_vs_axis_figure("kind", ["ann", "snn"], [0, 1], panels, categorical=True,
                                 interval="with 95% CI")  # fmt: skip
    ax = fig.axes[0]
    series = _series(ax)
    assert [line.get_linestyle() for line, _ in series.values()] == ["None", "None"]  # no line
    xs = [tuple(line.get_xdata()) for line, _ in series.values()]
    assert xs[0] != xs[1]  # side by side
    assert all(abs(a - b) < 0.5 for a, b in zip(*xs, strict=True))  # within the category's slot
    # the bars span the interval, from low to high (not mean +- std)
    _, bars = series["2 bits"]
    assert [tuple(np.round(bar[:, 1], 3)) for bar in bars] == [(0.55, 0.66), (0.62, 0.8)]
    assert "95% CI" in fig._suptitle.get_text()
    plt.close(fig)


@pytest.mark.parametrize("n_nonmembers", [20, 142])
def test_roc_log_axes_start_at_one_over_n(n_nonmembers):
    scores = torch.randn(n_nonmembers + 30, generator=torch.Generator().manual_seed(0))
    member = torch.arange(len(scores)) < 30
    fpr, tpr = roc_curve(scores, member)
    fig = roc_figure({"loss": (fpr.tolist(), tpr.tolist())})
    ax = fig.axes[0]
    assert ax.get_xlim()[0] == pytest.approx(1 / n_nonmembers)
    assert f"1/{n_nonmembers}" in ax.get_xlabel()
    chance = next(line for line in ax.get_lines() if line.get_label() == "chance")
    assert chance.get_xdata()[0] == pytest.approx(1 / n_nonmembers)
    assert math.isclose(chance.get_xdata()[-1], 1.0)
    plt.close(fig)


def test_tradeoff_bars_are_the_interval_when_given():
    fig = tradeoff_figure(["ann", "snn"], [0.9, 0.8], [0.6, 0.55], [0.01, 0.01],
                          [(0.52, 0.7), 0.02])  # fmt: skip
    y_bars = {c.get_label(): c.lines[2][-1].get_segments()[0] for c in fig.axes[0].containers}
    assert tuple(np.round(y_bars["ann"][:, 1], 3)) == (0.52, 0.7)
    assert tuple(np.round(y_bars["snn"][:, 1], 3)) == (0.53, 0.57)
    plt.close(fig)
