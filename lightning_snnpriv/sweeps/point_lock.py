"""One process at a time per sweep point: a lock file in the point's directory.

``<point dir>/point.lock`` is held with ``fcntl.flock`` for as long as the point's fit runs; the
fit inherits the locked descriptor, so the point stays held while either the launcher or its
fit is alive, and the kernel releases it when both are gone (``kill -9`` included). The file
holds the holder's pid, host and start time, for the message. A lock file left by a dead
process is free and simply taken over. Every launcher calls :func:`hold_point` around a
point's fit.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = "point.lock"


class PointHeld(RuntimeError):
    """The point is being run by another live process (``holder``: its lock file's contents)."""

    def __init__(self, directory: Path, holder: dict) -> None:
        self.holder = holder
        super().__init__(
            f"{directory.name} is being run by pid {holder.get('pid', '?')} on "
            f"{holder.get('host', '?')} since {holder.get('started', '?')}; not started twice"
        )


@contextlib.contextmanager
def hold_point(directory: str | Path) -> Iterator[int]:
    """Hold the point's lock for the block; yields the locked descriptor (pass it to the fit).

    Raises:
        PointHeld: Another live process holds it.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PointHeld(directory, _read(path)) from None
        note(fd, {})
        yield fd
    finally:
        os.close(fd)  # releases the lock unless a live fit still has the descriptor


def note(fd: int, extra: dict) -> None:
    """Write the holder's pid, host and start time (and ``extra``, e.g. the fit's pid)."""
    holder = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%S"), **extra}  # fmt: skip
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(holder).encode(), 0)


def _read(path: Path) -> dict:
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}
