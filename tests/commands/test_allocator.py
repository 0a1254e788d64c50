"""The tuned C allocator: freed tensors are reused without page faults, and the opt-outs hold."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from lightning_snnpriv.commands import allocator

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

#: Allocates five 1.2 MB tensors and frees them, as a training step does its temporaries: the
#: page faults of 40 such steps after 10 (a training loop's steady state), with glibc's initial
#: thresholds held fixed (every block mapped fresh) and then with keep_freed_memory's.
FAULTS = """
import resource, torch
from lightning_snnpriv.commands.allocator import keep_freed_memory

def faults():
    for k in range(50):
        if k == 10:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        xs = [torch.ones(300_000) for _ in range(5)]
        del xs
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

fresh = keep_freed_memory(128 * 1024, 128 * 1024)
mapped = faults()
changed = keep_freed_memory()
print(fresh and changed, mapped, faults())
"""


@pytest.mark.skipif(not GLIBC, reason="mallopt's thresholds are glibc's")
def test_freed_memory_is_reused() -> None:
    done = subprocess.run([sys.executable, "-c", FAULTS], capture_output=True, text=True,
                          check=True, env={"PATH": "/usr/bin:/bin"})  # fmt: skip
    changed, mapped, tuned = done.stdout.split()
    assert changed == "True"
    assert int(mapped) > 40 * 5 * 250  # 293 pages a tensor, faulted in at every step
    assert int(tuned) < 20  # reused: none come back


@pytest.mark.parametrize(
    "env",
    [
        {allocator.OPT_OUT: "default"},
        {"MALLOC_TRIM_THRESHOLD_": "131072"},
        {"MALLOC_MMAP_THRESHOLD_": "131072"},
    ],
)
def test_user_settings_win(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    called = []
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda *a: called.append(a))
    assert allocator.keep_freed_memory() is False
    assert called == []  # mallopt was never reached
