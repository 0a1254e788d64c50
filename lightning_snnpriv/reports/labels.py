"""How a false-positive-rate budget is written in headers, titles and legends.

One spelling everywhere (run tables, sweep tables, figures, TensorBoard, HTML): ``1e-4`` rather
than ``0.01%``, whose neighbours ``0.00%`` and ``0.0%`` cannot be told apart, and ``0`` for the
TPR at no false positive at all.
"""

from __future__ import annotations

import math


def fpr_label(fpr: float) -> str:
    """A short, exact label of an FPR budget: ``0``, ``1e-4``, ``2.5e-3``, ``0.1``.

    Budgets from 0.1 up are written as decimals; smaller ones as mantissa and power of ten,
    so that two different budgets never get the same label.

    Example:
        >>> [fpr_label(f) for f in (0.0, 1e-4, 0.001, 0.0025, 0.01, 0.05, 0.1, 0.5)]
        ['0', '1e-4', '1e-3', '2.5e-3', '1e-2', '5e-2', '0.1', '0.5']
    """
    fpr = float(fpr)
    if fpr == 0.0:
        return "0"
    if fpr >= 0.1 or not math.isfinite(fpr):
        return f"{fpr:g}"
    exponent = math.floor(math.log10(fpr))
    mantissa = round(fpr / 10.0**exponent, 6)
    if mantissa >= 10:  # rounding of e.g. 9.9999999e-4
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:g}e{exponent}" if mantissa != 1 else f"1e{exponent}"


def tpr_label(fpr: float) -> str:
    """The header of the TPR at an FPR budget: ``TPR@1e-4``, ``TPR@0``.

    Example:
        >>> tpr_label(0.0001), tpr_label(0)
        ('TPR@1e-4', 'TPR@0')
    """
    return f"TPR@{fpr_label(fpr)}"


def metric_label(column: str) -> str:
    """The header of a metric column: ``tpr_at_fpr_0.0001`` -> ``TPR@1e-4``, ``auc`` -> ``AUC``.

    Example:
        >>> [metric_label(c) for c in ("tpr_at_fpr_0.0001", "auc", "target_test_acc")]
        ['TPR@1e-4', 'AUC', 'target_test_acc']
    """
    if column.startswith("tpr_at_fpr_"):
        budget = column.removeprefix("tpr_at_fpr_")
        try:
            return tpr_label(float(budget))
        except ValueError:
            return column
    return "AUC" if column == "auc" else column
