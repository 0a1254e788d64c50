"""The one-paragraph errors about dataset files: missing, broken, or not readable at all.

Each names the dataset, the directory (``data.init_args.data_dir``) and the file at fault, says
what is wrong and how to fix it; the command line prints it as ``error: ...`` with exit code 2.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from lightning_snnpriv.data.checks import BadFile
from lightning_snnpriv.errors import DataError


def _one_line(text: str) -> str:
    """``text`` (which may quote a library's multi-line message) as one line."""
    return " ".join(text.split())


def files_error(
    dataset: str, data_dir: Path, expected: Sequence[Path], problem: str, hint: str = ""
) -> DataError:
    """The dataset's files (as a whole) are missing or cannot be loaded."""
    problem = _one_line(problem)
    files = ", ".join(str(p.relative_to(data_dir)) for p in expected)
    return DataError(
        f"{dataset}: dataset files in {data_dir.resolve()} are not usable: {problem}. Expected "
        f"under that directory: {files}. Fix: set data.init_args.download: true on a machine "
        "with internet access (torchvision downloads and verifies them), or put the files there "
        f"yourself (data.init_args.data_dir names the directory){hint}."
    )


def bad_file_error(dataset: str, data_dir: Path, err: BadFile) -> DataError:
    """One file does not hold what its format says (``err`` names it and the problem).

    Example:
        >>> err = BadFile(Path("/d/MNIST/raw/t10k-labels-idx1-ubyte"), "holds no labels")
        >>> print(bad_file_error("MNIST", Path("/d"), err))  # doctest: +ELLIPSIS
        MNIST: dataset file MNIST/raw/t10k-labels-idx1-ubyte in /d holds no labels. Fix: ...
    """
    where = err.path.relative_to(data_dir) if err.path.is_relative_to(data_dir) else err.path
    fix = err.fix or (
        "replace it with an intact copy (data.init_args.download: true, on a machine with "
        "internet access, downloads and verifies torchvision's files); a file you produce "
        "yourself must follow the format torchvision reads"
    )
    return DataError(
        f"{dataset}: dataset file {where} in {data_dir.resolve()} {_one_line(err.problem)}. "
        f"Fix: {fix}."
    )


def unreadable_error(dataset: str, data_dir: Path, err: OSError) -> DataError:
    """The operating system refuses to read ``data_dir`` or a file under it."""
    reason = (err.strerror or type(err).__name__).lower()
    return DataError(
        f"{dataset}: data_dir {data_dir.resolve()} cannot be read: {reason} on {err.filename} "
        f"(this process runs as user id {os.geteuid()}). Fix: give this user read access to "
        "the directory and its files (chmod/chown), or set data.init_args.data_dir to a "
        "readable copy."
    )


__all__ = ["bad_file_error", "files_error", "unreadable_error"]
