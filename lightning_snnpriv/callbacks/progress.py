"""Progress bars for the stages after training (audit pass, attacks), shown like Lightning's.

Bars are for a person watching a terminal: when stdout is not one (``| cat``, a log file, a
sweep's worker), ``fit`` starts with Lightning's bar off (:func:`terminal_output` is the
default of ``trainer.enable_progress_bar``) and these bars follow it (:func:`bar_enabled`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(
    items: Iterable[T],
    enabled: bool,
    desc: str,
    label: Callable[[T], str] | None = None,
    total: int | None = None,
) -> Iterator[T]:
    """Iterate over ``items`` with a tqdm bar on stderr when ``enabled``, silently otherwise.

    Callbacks pass ``enabled=bar_enabled(trainer)``, so ``--trainer.enable_progress_bar=false``
    silences these bars too.

    Args:
        items: What is being processed.
        enabled: Show the bar.
        desc: The bar's title (the stage, e.g. ``attacking target``).
        label: Names the item being processed, shown next to the bar.
        total: Number of items, when ``items`` has no ``len``.

    Example:
        >>> list(progress(range(3), enabled=False, desc="attacks", label=str))
        [0, 1, 2]
    """
    bar = tqdm(items, desc=desc, total=total, disable=not enabled, leave=False, dynamic_ncols=True)
    for item in bar:
        if label is not None and enabled:
            bar.set_postfix_str(label(item))
        yield item


def bar_enabled(trainer: object) -> bool:
    """Whether ``trainer`` shows Lightning's progress bar on this process (global rank zero)."""
    return getattr(trainer, "progress_bar_callback", None) is not None and getattr(
        trainer, "is_global_zero", True
    )


def terminal_output() -> bool:
    """Whether stdout is a terminal (progress bars are shown there only, by default).

    Example:
        >>> terminal_output()  # under pytest, stdout is captured
        False
    """
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())
