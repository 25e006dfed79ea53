"""What the CIS sees of a black-and-white original read at its own width: a box filter down the page.

The scanner model (`hw.scanner.sample_lines`) averages the paper each sample covers with Pillow's
BOX resampling. For the common original, a bilevel sheet at the read line's pel pitch (every fax
test chart), Pillow has nothing to do across the line and only averages rows; this module does
that one pass on the sheet's packed bits with Pillow's own arithmetic (libImaging/Resample.c:
coefficients in double precision from the box's single-precision edges, normalised to 22-bit
fixed point and rounded as there), so the grey levels are the same byte for byte
(tests/scale/test_hot_paths.py compares them with Pillow over many geometries). Where every row
under a run of 64 samples is white (or black), the run is one store, which is most of a page:
about three times faster than Pillow on an ITU chart.

The kernels are compiled with numba (cached on disk, like the codec's). The scanner imports this
module when it first reads a band, so numba's import is not paid at start-up; without numba,
`AVAILABLE` is False and the scanner keeps to Pillow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency
    numba = None  # type: ignore[assignment]

AVAILABLE = numba is not None
PRECISION_BITS = 32 - 8 - 2  # Pillow's 8-bit resampling precision
BOX_SUPPORT = 0.5
ALL_ONES = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
MAX_TAPS = 8  # rows under one sample that a pattern byte holds (a box up to 7 rows high)
# A packed byte's eight pels (most significant bit first) spread over the eight bytes of a word,
# least significant byte first: 0 or 1 in each.
SPREAD = np.array(
    [sum(((value >> (7 - i)) & 1) << (8 * i) for i in range(8)) for value in range(256)],
    dtype=np.uint64,
)


def _kernel(fn: F) -> F:
    if numba is None:  # pragma: no cover
        return fn
    return cast(F, numba.njit(cache=True, nogil=True)(fn))


def box_rows(
    data: bytes, stride: int, cols: int, first_row: int, in0: float, in1: float, in_size: int,
    out: np.ndarray,
) -> bool:  # fmt: skip
    """Grey levels (0 black, 255 white) of `out.shape[0]` rows, each averaging the rows of the
    packed original (1 = white, most significant bit first, `stride` bytes a row, `cols` pels)
    that the box [in0, in1) covers, counted from `first_row` over `in_size` rows: what Pillow's
    BOX resize of that band gives when the width does not change. `out` is (rows, cols) uint8.
    False (and `out` untouched) when a sample covers more rows than this kernel takes."""
    f0, f1 = np.float32(in0), np.float32(in1)  # the box reaches Pillow's C code as floats
    scale = float(f1 - f0) / out.shape[0]  # a float subtraction, then a double division
    filterscale = max(scale, 1.0)
    support = BOX_SUPPORT * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    if ksize > MAX_TAPS:
        return False
    packed = np.frombuffer(data, dtype=np.uint8)
    words = np.frombuffer(data, dtype=np.uint64, count=len(data) // 8)
    _box_rows(packed, words, stride, cols, first_row, in_size, float(f0), scale, support,
              1.0 / filterscale, ksize, out)  # fmt: skip
    return True


@_kernel
def _byte(packed, at, stride, taps, levels, cols, b, row):  # type: ignore[no-untyped-def]
    """The eight samples (fewer at the end of a row) under byte `b` of the rows from `at`: the
    pattern of white rows under each sample is gathered for all eight at once, a byte each."""
    x0 = b * 8
    patterns = np.uint64(0)
    for j in range(taps):
        patterns |= SPREAD[packed[at + j * stride]] << np.uint64(j)
    for i in range(min(8, cols - x0)):
        row[x0 + i] = levels[(patterns >> np.uint64(8 * i)) & np.uint64(0xFF)]


@_kernel
def _box_rows(packed, words, stride, cols, first_row, in_size, start, scale, support, ss, ksize,
              out):  # type: ignore[no-untyped-def]  # fmt: skip
    half = 1 << (PRECISION_BITS - 1)
    weights = np.zeros(ksize, dtype=np.int64)
    levels = np.zeros(1 << ksize, dtype=np.uint8)
    for yy in range(out.shape[0]):
        # Pillow's precompute_coeffs (BOX) and normalize_coeffs_8bpc for this row.
        center = start + (yy + 0.5) * scale
        ymin = int(center - support + 0.5)
        if ymin < 0:
            ymin = 0
        taps = int(center + support + 0.5)
        if taps > in_size:
            taps = in_size
        taps -= ymin
        if taps < 0:
            taps = 0
        ww = 0.0
        for x in range(taps):
            t = (x + ymin - center + 0.5) * ss
            ww += 1.0 if -0.5 < t <= 0.5 else 0.0
        for x in range(taps):
            t = (x + ymin - center + 0.5) * ss
            k = 1.0 if -0.5 < t <= 0.5 else 0.0
            if ww != 0.0:
                k /= ww
            weights[x] = int(0.5 + k * (1 << PRECISION_BITS))
        # The grey level for each pattern of white (bit set) and black rows under a sample.
        for pattern in range(1 << taps):
            s = half
            for j in range(taps):
                if (pattern >> j) & 1:
                    s += 255 * weights[j]
            levels[pattern] = min(255, max(0, s >> PRECISION_BITS))
        row = out[yy]
        at = (first_row + ymin) * stride
        b = 0
        if taps > 0 and stride % 8 == 0:
            # Eight bytes (64 samples) at a time where the rows under them are one colour.
            while b + 8 <= stride:
                ones = ALL_ONES
                zeros = np.uint64(0)
                for j in range(taps):
                    word = words[(at + j * stride + b) >> 3]
                    ones &= word
                    zeros |= word
                if ones == ALL_ONES:
                    row[b * 8 : min(cols, b * 8 + 64)] = levels[(1 << taps) - 1]
                elif zeros == 0:
                    row[b * 8 : min(cols, b * 8 + 64)] = levels[0]
                else:
                    for c in range(b, b + 8):
                        _byte(packed, at + c, stride, taps, levels, cols, c, row)
                b += 8
        while b < stride:
            _byte(packed, at + b, stride, taps, levels, cols, b, row)
            b += 1
