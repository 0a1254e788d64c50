"""The swept axes of a report: numeric or categorical positions, ties, and short labels."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from lightning_snnpriv.sweeps.spec import value_label

#: Full precision on a bit-width axis (TensorBoard step and figure position).
FULL_PRECISION_BITS = 32


def is_numeric_axis(key: str, values: Sequence[Any]) -> bool:
    """Integer values (``null`` too on a ``*bits`` axis: full precision).

    Example:
        >>> is_numeric_axis("weight_bits", [None, 4]), is_numeric_axis("surrogate", ["atan"])
        (True, False)
    """
    bits = key.endswith("bits")
    return all(
        (isinstance(v, int) and not isinstance(v, bool)) or (v is None and bits) for v in values
    )


def axis_positions(key: str, values: Sequence[Any]) -> tuple[list[float], list[str], bool]:
    """Positions, labels and scale of a swept axis's values.

    Integer axes sit at their value (a ``*bits`` axis puts full precision, ``null``, at 32,
    on a log2 scale); other axes at their index, in the sweep's order.

    Example:
        >>> axis_positions("model.init_args.weight_bits", [None, 8, 2])
        ([2, 8, 32], ['2', '8', 'full'], True)
        >>> axis_positions("model.init_args.surrogate", ["atan", "triangular"])
        ([0, 1], ['atan', 'triangular'], False)
    """
    bits = key.endswith("bits")
    if is_numeric_axis(key, values):
        ordered = sorted(values, key=lambda v: FULL_PRECISION_BITS if v is None else v)
        positions = [FULL_PRECISION_BITS if v is None else v for v in ordered]
        return positions, [value_label(key, v) for v in ordered], bits
    return list(range(len(values))), [value_label(key, v) for v in values], False


def tied_axes(points: Sequence[Mapping[str, Any]], axes: Sequence[str]) -> dict[str, list[str]]:
    """For each axis, the other axes that move with it (one-to-one over the points).

    Explicit points such as ``{weight_bits: 4, act_bits: 4}`` tie two keys: plotted against
    one, the other is not a separate series.

    Example:
        >>> pts = [{"w": w, "a": w, "s": s} for w in (2, 4) for s in (0, 1)]
        >>> tied_axes(pts, ["w", "a", "s"])
        {'w': ['a'], 'a': ['w'], 's': []}
    """

    def key(point: Mapping[str, Any], axis: str) -> str:
        return json.dumps(point[axis], sort_keys=True) if axis in point else "<unset>"

    ties: dict[str, list[str]] = {}
    for a in axes:
        ties[a] = []
        for b in axes:
            if a == b:
                continue
            pairs = {(key(p, a), key(p, b)) for p in points}
            if len(pairs) == len({x for x, _ in pairs}) == len({y for _, y in pairs}):
                ties[a].append(b)
    return ties


def cell_label(key: str, cell: Any) -> str:
    """A short label of a table cell of a swept key (the value as the CSV holds it).

    Example:
        >>> cell_label("config", "../breast_cancer_snn.yaml"), cell_label("x.weight_bits", "null")
        ('breast_cancer_snn', 'full')
    """
    return value_label(key, yaml.safe_load(cell) if isinstance(cell, str) else cell)


def series_label(entry: Mapping[str, Any], keys: Sequence[str]) -> str:
    """The values of ``keys`` in a summary entry, as short labels (``all`` without keys).

    Example:
        >>> series_label({"config": "a/b_snn.yaml", "w": "4"}, ["config", "w"])
        'b_snn, 4'
    """
    parts = [cell_label(k, entry[k]) for k in keys if entry.get(k) is not None]
    return ", ".join(parts) or "all"


