"""The C allocator of a simulating process: page images freed are kept for the next ones.

A fax page is a 4 MB array, and a call makes and drops several a page (scanned, stamped, coded,
decoded, laid out). With glibc's defaults an allocation that large is a fresh `mmap` (or heap
that was just given back), and every 4 KB of it is a page fault when first written: on the
project's 2-core VM that was 4,000 faults and 10-90 ms of system time per four-page fax, more
than the T.30 session's own work. `keep_freed_memory()` sets glibc's `mmap` threshold to its
largest value (32 MB) and the heap's trim threshold to 128 MB, so those arrays come from the
heap and what a page frees is reused by the next: no faults once a process has warmed up, and
the process keeps up to 128 MB it no longer uses. Nothing else changes (docs/benchmarks.md).

`Simulation()` calls it; it acts once per process, only where glibc's `mallopt` is there, and
not when the user has set the allocator through the environment (`GLIBC_TUNABLES`,
`MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`).
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # the largest glibc takes on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 128 * 1024 * 1024
USER_SETTINGS = ("GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")

_state: bool | None = None  # None: not tried yet in this process


def keep_freed_memory() -> bool:
    """Set the thresholds (once per process); whether they are in force."""
    global _state
    if _state is None:
        _state = _set_thresholds()
    return _state


def _set_thresholds() -> bool:
    if not sys.platform.startswith("linux") or any(os.environ.get(v) for v in USER_SETTINGS):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
