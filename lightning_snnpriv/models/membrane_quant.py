"""snntorch's membrane ``state_quant`` (uniform levels) without comparing with every level.

snntorch's ``state_quant`` takes ``levels[argmin |levels - x|]`` over all ``2**N`` levels (the
first, lower, level on a tie). For evenly spaced levels only the two around ``x`` can be the
nearest, and which of the two snntorch picks is decided by one float comparison,
``|above - x| < |below - x|``, which is monotone in ``x``: it holds from one float on, the
pair's *decision boundary*. :func:`level_bounds` finds those floats once (a few ``nextafter``
steps from each midpoint); :func:`nearest_level` then needs, per value, the level below it
(arithmetic), one gather of its boundary and one comparison, and gathers the level.
All in float tensors and one gather table: on CPU a comparison into a boolean tensor and
``torch.where`` on it are several times slower than float arithmetic.

:func:`nearest_level_by_distances` is the earlier form (both distances computed and compared
per value); ``tests/models/test_quant_vectorized.py`` checks both against snntorch.
"""

from __future__ import annotations

import weakref

import torch

#: Boundaries of level tensors already seen: ``id -> (weak reference, version, boundaries)``.
_BOUNDS: dict[int, tuple[weakref.ref, int, torch.Tensor]] = {}


def _upper(below: torch.Tensor, above: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Whether snntorch picks ``above`` over ``below`` for ``x`` (its float distances)."""
    return torch.sub(above, x).abs() < torch.sub(below, x).abs()


def level_bounds(levels: torch.Tensor) -> torch.Tensor:
    """The decision boundaries of evenly spaced ``levels``: ``[len(levels) - 1]``.

    Boundary ``j`` is the smallest float ``x`` for which snntorch picks ``levels[j + 1]``
    over ``levels[j]`` (``|levels[j+1] - x| < |levels[j] - x|`` in ``levels``' dtype). The
    comparison is monotone in ``x`` (one distance rounds up, the other down as ``x`` grows),
    so the boundary is found by stepping from the midpoint with ``nextafter``.

    Example:
        >>> levels = torch.tensor([0.0, 1.0, 2.0])
        >>> level_bounds(levels)  # a tie (0.5, 1.5) goes to the lower level
        tensor([0.5000, 1.5000])
        >>> torch.nextafter(level_bounds(levels), torch.tensor(9.0)) > torch.tensor([0.5, 1.5])
        tensor([True, True])
    """
    below, above = levels[:-1], levels[1:]
    bound = (below + above) / 2
    for _ in range(1000):  # down while the float below still picks the upper level
        down = torch.nextafter(bound, below)
        move = _upper(below, above, down) & (down > below)
        if not bool(move.any()):
            break
        bound = torch.where(move, down, bound)
    for _ in range(1000):  # up until it picks the upper level
        picks = _upper(below, above, bound)
        if bool(picks.all()):
            return bound
        bound = torch.where(picks, bound, torch.nextafter(bound, above))
    raise RuntimeError("level decision boundaries not found (levels not evenly spaced?)")


def _cached_bounds(levels: torch.Tensor) -> tuple[torch.Tensor, float, float]:
    """:func:`level_bounds` of ``levels`` and the position map ``x * scale + offset`` (level
    ``j`` at ``j``), computed once per tensor (and per in-place change).
    """  # noqa: D205
    entry = _BOUNDS.get(id(levels))
    if entry is not None and entry[0]() is levels and entry[1] == levels._version:
        return entry[2]
    scale = (len(levels) - 1) / float(levels[-1] - levels[0])
    value = (level_bounds(levels), scale, -float(levels[0]) * scale)
    key = id(levels)
    _BOUNDS[key] = (weakref.ref(levels, lambda _: _BOUNDS.pop(key, None)), levels._version, value)
    return value


def nearest_level(
    x: torch.Tensor,
    levels: torch.Tensor,
    buffers: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """The output of snntorch's ``state_quant``: the nearest of evenly spaced ``levels`` to ``x``.

    ``j``, the integer part of ``x``'s position among the levels (clamped to the pairs), is
    the level below ``x`` or, where ``x`` is within rounding of a level, one off; either way
    ``x`` lies on the right side of pair ``j``'s boundary (:func:`level_bounds`) for the level
    snntorch picks, so the result is ``levels[j + (x >= bound[j])]``. (Any position within
    half a level of the exact one would do.) Except for values so far outside the range,
    about ``2**23`` level spacings, that float32 gives several levels the same distance:
    snntorch then takes the first of them, here the end of the range; membranes are
    quantized at every step, so they do not get there.

    Args:
        x: The values.
        levels: Evenly spaced levels, ascending (snntorch's ``linspace``).
        buffers: Two float tensors and two ``int32`` tensors of ``x``'s shape, contiguous, to
            compute in (the result is the second float one); without them they are
            allocated. In a time loop, reused buffers spare the fresh memory of a new
            tensor at every step (on CPU, for large tensors, its page faults cost more than
            the arithmetic).

    Example:
        >>> levels = torch.linspace(-1.0, 1.2, 4)
        >>> nearest_level(torch.tensor([-5.0, 0.1, 0.3, 5.0]), levels)
        tensor([-1.0000, -0.2667,  0.4667,  1.2000])
    """
    last = len(levels) - 1
    if last == 0:
        return levels.expand_as(x).clone()
    if buffers is None:
        dense = torch.contiguous_format
        buffers = (
            torch.empty_like(x, memory_format=dense),
            torch.empty_like(x, memory_format=dense),
            torch.empty_like(x, dtype=torch.int32, memory_format=dense),
            torch.empty_like(x, dtype=torch.int32, memory_format=dense),
        )
    position, result, index, upper = buffers
    bounds, scale, offset = _cached_bounds(levels)
    torch.mul(x, scale, out=position).add_(offset).clamp_(0, last - 1)
    flat = index.view(-1).copy_(position.view(-1))  # truncation: the floor of a value >= 0
    torch.index_select(bounds, 0, flat, out=result.view(-1))
    flat.add_(torch.ge(x, result, out=upper).view(-1))  # 1 past the boundary: the upper level
    torch.index_select(levels, 0, flat, out=result.view(-1))
    return result


def nearest_level_by_distances(x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """:func:`nearest_level` as first written: both levels gathered, both distances compared."""
    last = len(levels) - 1
    if last == 0:
        return levels.expand_as(x).clone()
    step = (levels[-1] - levels[0]) / last
    low = torch.sub(x, levels[0]).div_(step).floor_().clamp_(0, last - 1).long().view(-1)
    below = torch.index_select(levels, 0, low).view(x.shape)
    above = torch.index_select(levels[1:], 0, low).view(x.shape)
    nearer = torch.sub(above, x).abs_() < torch.sub(below, x).abs_()
    return torch.where(nearer, above, below)
