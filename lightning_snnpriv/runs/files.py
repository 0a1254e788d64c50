"""Writing files once and atomically, and loading tensor files without unpickling code.

The primitives of :mod:`lightning_snnpriv.runs`: a file is created whole or not at all and an
existing file is never replaced. Sweep directories use them too.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from lightning_snnpriv.errors import UsageError

#: The permission policy of run files: every file of a run (results, scores, figures, signals,
#: plan, checkpoints, configs) gets the mode an ordinary ``open()`` creates, ``0666`` less the
#: process's umask (``0644`` with the usual umask 022). Restrict who can read runs with the
#: umask or the directory's permissions, not file by file.
FILE_MODE = 0o666


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_new(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Create ``path`` atomically with ``write(file)``; never replace an existing file.

    The content goes to a temporary file in the same directory, is flushed to disk, and is then
    hard-linked to ``path``: readers see the whole file or none, and a file that exists (or
    appears meanwhile) is never overwritten (:class:`UsageError`).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = write_new(p, lambda f: f.write(b"hello")); p.read_text()
        'hello'
        >>> write_new(p, lambda f: f.write(b"again"))
        Traceback (most recent call last):
        ...
        lightning_snnpriv.errors.UsageError: ... exists already; run files are never overwritten.
    """
    path = Path(path)
    message = f"{path} exists already; run files are never overwritten."
    if path.exists():
        raise UsageError(message)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE & ~_umask())  # mkstemp's 0600 -> what open() would create
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # atomic, and fails instead of replacing a file that appeared
    except FileExistsError as err:
        raise UsageError(message) from err
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to a new file ``path`` (see :func:`write_new`)."""
    return write_new(path, lambda f: f.write(text.encode()))


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to a new file ``path`` (see :func:`write_new`).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.json"
        >>> _ = write_json(p, {"auc": 0.5}); json.loads(p.read_text())
        {'auc': 0.5}
    """
    return write_text(path, json.dumps(obj, indent=2, allow_nan=True) + "\n")


def save_tensors(path: str | Path, tensors: dict[str, Any]) -> Path:
    """Save a dict of tensors with ``torch.save`` to a new file ``path`` (see :func:`write_new`).

    Values are tensors or plain values (lists, strings, numbers), so the file loads with
    ``torch.load(path, weights_only=True)``, which cannot run code.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.pt"
        >>> import torch
        >>> _ = save_tensors(p, {"x": torch.ones(2)})
        >>> torch.load(p, weights_only=True)["x"].tolist()
        [1.0, 1.0]
    """
    import torch  # here, not at the top: reading a sweep's state needs no torch

    return write_new(path, lambda f: torch.save(tensors, f))


def save_figure(path: str | Path, figure: Any, dpi: int) -> Path:
    """Save a matplotlib figure as PNG to a new file ``path`` (see :func:`write_new`)."""
    return write_new(path, lambda f: figure.savefig(f, format="png", dpi=dpi))


def load_tensors(path: str | Path, what: str, fix: str, field: str = "") -> Any:
    """``torch.load`` a file of tensors and plain values without unpickling code.

    ``weights_only=True`` on CPU; any failure (torch raises many types for truncated or foreign
    files) becomes a :class:`UsageError` naming the file, what it should be, and ``fix``.

    Args:
        path: The file; error messages start with it.
        what: What the file should be (``checkpoint``, ``signals file``).
        fix: The sentence that tells the user what to do instead.
        field: The option that named the file, to start the message (``--ckpt_path``).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "bad.pt"
        >>> _ = p.write_bytes(b"not a tensor file")
        >>> load_tensors(p, "signals file", "Re-run fit.")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lightning_snnpriv.errors.UsageError: .../bad.pt: not a readable signals file (...): ...
    """
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for truncated or foreign files
        raise UsageError(
            f"{field + ' ' if field else ''}{path}: not a readable {what} ({type(err).__name__}): "
            "it is truncated, corrupt, or "
            "holds objects other than tensors and plain values (never unpickled: they could run "
            f"code). {fix}"
        ) from err


def first_line(err: BaseException) -> str:
    """An exception as one short line (its type and the first line of its message)."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")
