"""Files of a run: written atomically, never overwritten."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from lightning_snnpriv.errors import UsageError


def write_json(path: str | Path, obj: Any) -> Path:
    r"""Write ``obj`` as JSON to ``path`` atomically (temporary file, then rename).

    Raises :class:`UsageError` if ``path`` exists: results are never overwritten.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.json"
        >>> _ = write_json(p, {"auc": 0.5}); json.loads(p.read_text())
        {'auc': 0.5}
    """
    path = Path(path)
    if path.exists():
        raise UsageError(f"{path} exists already; results files are never overwritten.")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2, allow_nan=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # atomic, and fails instead of replacing a file that appeared
    except FileExistsError as err:
        raise UsageError(f"{path} exists already; results files are never overwritten.") from err
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor]) -> Path:
    """Save a dict of tensors with ``torch.save`` atomically; never overwrites.

    The file loads with ``torch.load(path, weights_only=True)``, which cannot run code.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.pt"
        >>> _ = save_tensors(p, {"x": torch.ones(2)})
        >>> torch.load(p, weights_only=True)["x"].tolist()
        [1.0, 1.0]
    """
    path = Path(path)
    if path.exists():
        raise UsageError(f"{path} exists already; saved signals are never overwritten.")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(tensors, f)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    except FileExistsError as err:
        raise UsageError(f"{path} exists already; saved signals are never overwritten.") from err
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path
