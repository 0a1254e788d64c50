"""What a command does not print: other libraries' tips and known warnings, repeats of ours.

:func:`quiet_output` is entered by :func:`lightning_snnpriv.commands.main` around a command and
undone when it returns, so the filters never leak into the calling process (a test, a
notebook). Inside it:

* warnings of other libraries that say nothing about the user's run (:data:`IGNORED_WARNINGS`)
  are dropped;
* info lines of Lightning's that are tips or environment notes (:data:`IGNORED_LOG_LINES`)
  are dropped;
* each warning is shown once per command: a repeat that differs only in its numbers (the same
  unmeasurable FPR target for another attack or target) is not shown again.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

#: Warnings of other libraries dropped by the commands (message regexes, matched at the start).
IGNORED_WARNINGS = (
    # Lightning: a hint for SLURM users, printed wherever `srun` is installed
    r"The `srun` command is available on your system but is not used",
    # pytorch_lightning's _pytree against torch >= 2.9: about Lightning's code, not the run
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    # Lightning's advice to raise num_workers on the in-memory tabular datasets
    r"The '\w+_dataloader' does not have many workers",
    # Lightning: a small dataset logs fewer steps than log_every_n_steps
    r"The number of training batches \(\d+\) is smaller than the logging interval",
    # jsonargparse's deprecations of the API that Lightning's CLI calls
    r"(?s).*deprecated in v4\.\d+",
    r"\s*By default only one JsonargparseDeprecationWarning",
    # brevitas and snntorch deprecations of their own internals
    r".*(brevitas|snntorch).* (is )?deprecated",
    r"Named tensors and all their associated APIs are an experimental feature",
)
#: Info lines of other libraries' loggers dropped by the commands: logger -> line prefixes.
IGNORED_LOG_LINES = {
    "pytorch_lightning.utilities.rank_zero": (
        "GPU available:",
        "TPU available:",
        "HPU available:",
        "💡 Tip:",
    ),
    # torch.utils.cpp_extension (imported by brevitas) on a machine with CUDA_HOME and no GPU
    "torch.utils.cpp_extension": ("No CUDA runtime is found",),
}


def repeat_key(message: str) -> str:
    """A warning's text with its numbers blanked: repeats for other values share the key.

    Example:
        >>> repeat_key("FPR target 0.001 is below 1/142 non-members")
        'FPR target # is below #/# non-members'
    """
    return re.sub(r"\d+(\.\d+)?(e-?\d+)?", "#", message)


class _DropLines(logging.Filter):
    """Drops log records whose message starts with one of ``prefixes``."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(self.prefixes)


@contextmanager
def quiet_output() -> Iterator[None]:
    """Within the block: third-party noise dropped, each warning shown once."""
    filters = {name: _DropLines(prefixes) for name, prefixes in IGNORED_LOG_LINES.items()}
    for name, log_filter in filters.items():
        logging.getLogger(name).addFilter(log_filter)
    shown: set[tuple[type, str]] = set()
    with warnings.catch_warnings():
        for message in IGNORED_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        previous = warnings.showwarning

        def show(
            message: Warning | str,
            category: type[Warning],
            filename: str,
            lineno: int,
            file: TextIO | None = None,
            line: str | None = None,
        ) -> Any:
            key = (category, repeat_key(str(message)))
            if key in shown:
                return None
            shown.add(key)
            return previous(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        try:
            yield
        finally:
            for name, log_filter in filters.items():
                logging.getLogger(name).removeFilter(log_filter)
