"""The C allocator told to keep the memory that tensors free at every training step.

PyTorch's CPU tensors come from the C library's ``malloc``. With glibc's defaults a block of
more than 128 KiB (growing to at most 32 MiB as such blocks are freed) is mapped fresh from the
kernel, and free memory at the top of the heap beyond twice that is given back: a training step
that frees and allocates the same large temporaries every time (a ConvNet's activations, a stack
of models' weights) has the kernel zero and fault in their pages again at every step, a sizable
part of a CPU step (measured in the performance guide). :func:`keep_freed_memory` raises both
thresholds, so freed blocks are reused: the same values are computed (nothing but where memory
comes from changes), and the process keeps up to ``trim_threshold`` bytes of free heap instead
of returning it.

The commands call it once at start (:func:`lightning_snnpriv.commands.main`); it changes nothing
where the C library is not glibc, or where the user set glibc's own ``MALLOC_MMAP_THRESHOLD_`` /
``MALLOC_TRIM_THRESHOLD_`` environment variables (theirs win), or with
``LIGHTNING_SNNPRIV_ALLOCATOR=default``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

#: glibc's ``mallopt`` parameters (``malloc.h``).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's upper limit of ``M_MMAP_THRESHOLD`` on 64-bit systems (``DEFAULT_MMAP_THRESHOLD_MAX``).
MMAP_THRESHOLD_MAX = 32 * 1024**2
#: The environment variables that leave the allocator as the user (or glibc) has it.
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
OPT_OUT = "LIGHTNING_SNNPRIV_ALLOCATOR"


def keep_freed_memory(
    mmap_threshold: int = MMAP_THRESHOLD_MAX, trim_threshold: int = 256 * 1024**2
) -> bool:
    """Have glibc reuse freed blocks of up to ``mmap_threshold`` bytes instead of remapping them.

    Args:
        mmap_threshold: Blocks at least this large are mapped from the kernel (and unmapped
            when freed); smaller ones come from the heap and are reused. At most
            :data:`MMAP_THRESHOLD_MAX`.
        trim_threshold: Free memory at the top of the heap beyond this is returned to the
            kernel.

    Returns:
        Whether the allocator was changed (``False``: not glibc, the user's own settings, the
        opt-out, or ``mallopt`` refused).
    """
    if os.environ.get(OPT_OUT) == "default" or any(v in os.environ for v in USER_SETTINGS):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # the mmap threshold first: setting it also fixes glibc's dynamic thresholds
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, trim_threshold)
    )
