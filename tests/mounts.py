"""TEST-ONLY: real small or read-only filesystems for the disk-full and read-only cases.

As root (CI's container, this machine) a permission bit does not stop a write, so a read-only
directory is a read-only tmpfs mount, and a full disk is a tiny tmpfs. Without root, a
read-only directory is ``chmod 0555`` (which binds a non-root user), and :func:`tiny_tmpfs`
says it cannot mount (the test then skips, saying why).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


def _mount(path: Path, options: str) -> bool:
    if os.geteuid() != 0:
        return False
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                            capture_output=True, check=False)  # fmt: skip
    return result.returncode == 0


@contextlib.contextmanager
def read_only_dir(path: Path) -> Iterator[Path]:
    """An empty directory nobody can write into, for the block."""
    path.mkdir(parents=True)
    mounted = _mount(path, "ro,size=64k")
    if not mounted:
        if os.geteuid() == 0:
            raise RuntimeError("root, but cannot mount a read-only tmpfs")
        path.chmod(0o555)
    try:
        yield path
    finally:
        if mounted:
            subprocess.run(["umount", str(path)], check=True)
        else:
            path.chmod(0o755)


@contextlib.contextmanager
def tiny_tmpfs(path: Path, size: str) -> Iterator[bool]:
    """A tmpfs of ``size`` at ``path`` (yields False when this user cannot mount one)."""
    path.mkdir(parents=True)
    mounted = _mount(path, f"size={size}")
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=True)
