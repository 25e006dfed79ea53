"""Compiles the codec's per-line kernels with numba, caching the machine code on disk.

The kernels are plain Python over numpy arrays, written in the subset numba compiles. numba is a
runtime dependency; should it be missing, the same functions run interpreted (correct, but two to
three orders of magnitude slower), so nothing else in the machine breaks for want of it.
`cache=True` stores the compiled code beside the sources (`__pycache__`), or in numba's user-wide
cache directory where that is not writable (see docs/codec.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

try:
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is absent
    numba = None  # type: ignore[assignment]

JIT_AVAILABLE = numba is not None


def kernel(fn: F) -> F:
    """Compile `fn` with numba (no Python objects inside, no GIL held, cached on disk)."""
    if numba is None:  # pragma: no cover
        return fn
    return cast(F, numba.njit(cache=True, nogil=True)(fn))
