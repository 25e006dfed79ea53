"""The T.4/T.6 encoder: a page of pixels to an MH, MR or MMR coded stream.

One compiled kernel codes the whole page: per line it lists the changing elements (the pels
whose colour differs from the pel before, T.4 4.2.1.3.1), then writes run codes (MH, and the
one-dimensional lines of MR) or mode codes against the previous line (MR, MMR). Bits go into a
zeroed buffer at a running bit position, so fill bits cost nothing but a jump of the position.
The mode decisions follow T.4 4.2.1.3.2 step by step, which is also what libtiff does, so the
streams come out bit-identical to libtiff's wherever the framing (EOL, fill, RTC) agrees.
"""

from __future__ import annotations

import sys

import numpy as np

from ..page import WIDTHS
from . import tables as t
from .errors import CodecError
from .jit import kernel

CODINGS = {"mh": 0, "mr": 1, "mmr": 2}
MH, MR, MMR = 0, 1, 2
RTC_EOLS = 6  # T.4 4.1.4: six consecutive EOLs end the page
_ALL_BLACK = np.uint64(0x0101010101010101)
LITTLE_ENDIAN = sys.byteorder == "little"  # pel x of a word is its lowest byte
# The lowest set bit of a word, found by a de Bruijn multiplication: bit = TABLE[(b * K) >> 58].
_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DEBRUIJN_BIT = np.zeros(64, dtype=np.int64)
_DEBRUIJN_BIT[[((1 << i) * 0x03F79D71B4CB0A89 % (1 << 64)) >> 58 for i in range(64)]] = range(64)


@kernel
def _put(out, pos, code, length):
    """OR `length` (<= 17) bits of `code` into the zeroed buffer at bit `pos`; the new position."""
    value = code << (24 - length - (pos & 7))
    i = pos >> 3
    out[i] |= (value >> 16) & 0xFF
    out[i + 1] |= (value >> 8) & 0xFF
    out[i + 2] |= value & 0xFF
    return pos + length


@kernel
def _put_run(out, pos, colour, run, run_code, run_length):
    # Longer than the longest make-up code: repeat it (T.4 4.1.1.2), as libtiff does from 2624 on.
    while run >= t.MAX_MAKEUP + 64:
        pos = _put(out, pos, run_code[colour, 103], run_length[colour, 103])
        run -= t.MAX_MAKEUP
    if run >= 64:
        m = run >> 6
        pos = _put(out, pos, run_code[colour, 63 + m], run_length[colour, 63 + m])
        run -= m << 6
    return _put(out, pos, run_code[colour, run], run_length[colour, run])


@kernel
def _changes(row, words, width, changes):
    """Positions of the changing elements of one line (colour before the line: white), followed
    by three sentinels at `width`; returns how many there are. Eight pels at a time: a word of
    eight pels (one byte each, 0 or 1) XORed with itself moved one pel on has a 1 where a pel
    differs from the one before it, and those are found lowest first; where the pels are all of
    the current colour (most of a fax page) that is one comparison."""
    n = 0
    if LITTLE_ENDIAN:
        before = np.uint64(0)  # the pel before the word (0 white, 1 black) in the lowest byte
        for w in range(width >> 3):
            word = words[w]
            diff = word ^ ((word << np.uint64(8)) | before)
            while diff != 0:
                lowest = diff & (~diff + np.uint64(1))
                changes[n] = (w << 3) + (_DEBRUIJN_BIT[(lowest * _DEBRUIJN) >> np.uint64(58)] >> 3)
                n += 1
                diff ^= lowest
            before = word >> np.uint64(56)
        black = before != 0
    else:
        black = False
        for w in range(width >> 3):
            word = words[w]
            if (word == 0 and not black) or (word == _ALL_BLACK and black):
                continue
            for x in range(w << 3, (w << 3) + 8):
                if row[x] != black:
                    black = not black
                    changes[n] = x
                    n += 1
    for x in range(width & ~7, width):
        if row[x] != black:
            black = not black
            changes[n] = x
            n += 1
    changes[n] = width
    changes[n + 1] = width
    changes[n + 2] = width
    return n


@kernel
def _code_1d(out, pos, changes, n, width, run_code, run_length):
    x = 0
    colour = t.WHITE
    for j in range(n):
        pos = _put_run(out, pos, colour, changes[j] - x, run_code, run_length)
        x = changes[j]
        colour ^= 1
    return _put_run(out, pos, colour, width - x, run_code, run_length)


@kernel
def _code_2d(out, pos, cur, ref, width, run_code, run_length, v_code, v_length):
    """One line coded against the reference line (T.4 4.2.1.3.2). a0 starts on an imaginary
    white pel before the line (-1); changes with an even index turn the line black."""
    a0 = -1
    colour = t.WHITE
    ia = 0  # first change of the coding line right of a0
    ib = 0  # first change of the reference line right of a0 (either colour)
    while a0 < width:
        while cur[ia] <= a0:
            ia += 1
        a1 = cur[ia]
        while ref[ib] <= a0:
            ib += 1
        j = ib
        if (j & 1) != colour:  # b1 must turn the line to the colour opposite a0's
            j += 1
        b1 = ref[j]
        b2 = ref[j + 1]
        if b2 < a1:
            pos = _put(out, pos, 0b0001, 4)  # pass
            a0 = b2
        elif -3 <= a1 - b1 <= 3:
            d = a1 - b1 + 3
            pos = _put(out, pos, v_code[d], v_length[d])
            a0 = a1
            colour ^= 1
        else:
            a2 = cur[ia + 1]
            pos = _put(out, pos, 0b001, 3)  # horizontal
            pos = _put_run(out, pos, colour, a1 - max(a0, 0), run_code, run_length)
            pos = _put_run(out, pos, colour ^ 1, a2 - a1, run_code, run_length)
            a0 = a2
    return pos


@kernel
def _zero_ahead(out, pos, ahead, zeroed):
    """Zero `out` up to `ahead` bytes past bit `pos` (it is zero up to `zeroed`); the new mark."""
    end = min(out.shape[0], (pos >> 3) + ahead)
    if end > zeroed:
        out[zeroed:end] = 0
        return end
    return zeroed


@kernel
def line_bound(width, min_line_bits):
    """Bits one coded line can take at most, EOL and fill included (a bound, not exact)."""
    return 9 * width + 64 + min_line_bits


@kernel
def _encode_page(
    pixels,
    words,
    coding,
    k,
    min_line_bits,
    eol,
    align_eol,
    rtc,
    out,
    run_code,
    run_length,
    v_code,
    v_length,
):
    lines, width = pixels.shape
    cur = np.empty(width + 4, np.int64)
    ref = np.empty(width + 4, np.int64)
    ref[0] = width  # the line before the page is white
    ref[1] = width
    ref[2] = width
    pos = 0
    # `out` comes uninitialised: it is zeroed just ahead of the writing, by the most one line
    # can take (what the caller's bound allows per line), so only what is used is touched.
    ahead = line_bound(width, min_line_bits) // 8 + 16
    zeroed = 0
    for y in range(lines):
        zeroed = _zero_ahead(out, pos, ahead, zeroed)
        n = _changes(pixels[y], words[y], width, cur)
        if coding == MMR:
            pos = _code_2d(out, pos, cur, ref, width, run_code, run_length, v_code, v_length)
        else:
            one_dimensional = coding == MH or y % k == 0
            if eol and align_eol:
                pos += (4 - pos) & 7  # fill so that the EOL ends on a byte boundary
            start = pos
            if eol and coding == MR:
                tag = 1 if one_dimensional else 0
                pos = _put(out, pos, 0b10 | tag, t.EOL_BITS + 1)  # EOL + tag bit
            elif eol:
                pos = _put(out, pos, 1, t.EOL_BITS)
            if one_dimensional:
                pos = _code_1d(out, pos, cur, n, width, run_code, run_length)
            else:
                pos = _code_2d(out, pos, cur, ref, width, run_code, run_length, v_code, v_length)
            # Fill (zeros) between this line's data and the next EOL: EOL + DATA + FILL must
            # last the minimum scan-line time (T.4 4.1.3).
            if pos - start < min_line_bits:
                pos = start + min_line_bits
        cur, ref = ref, cur
    zeroed = _zero_ahead(out, pos, 8 + RTC_EOLS * 2 + 16, zeroed)
    if rtc and coding == MMR:
        pos = _put(out, pos, 1, t.EOL_BITS)  # EOFB = EOL EOL (T.6 2.4)
        pos = _put(out, pos, 1, t.EOL_BITS)
    elif rtc:
        if align_eol:
            pos += (4 - pos) & 7
        for _ in range(RTC_EOLS):
            if coding == MR:
                pos = _put(out, pos, 0b11, t.EOL_BITS + 1)
            else:
                pos = _put(out, pos, 1, t.EOL_BITS)
    return pos


def coding_number(coding: str) -> int:
    try:
        return CODINGS[coding.lower()]
    except (KeyError, AttributeError):
        raise CodecError(f"coding must be mh, mr or mmr, not {coding!r}") from None


def check_page(pixels: object) -> np.ndarray:
    """The page as a C-contiguous bool array of a T.4 width, or CodecError saying why not."""
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.bool_ or pixels.ndim != 2:
        raise CodecError("pixels must be a 2-D numpy bool array (lines, width), True = black")
    if pixels.shape[1] not in WIDTHS:
        raise CodecError(
            f"page width {pixels.shape[1]} is not a T.4 width ({', '.join(map(str, WIDTHS))})"
        )
    return np.ascontiguousarray(pixels)


def encode(
    pixels: np.ndarray,
    coding: str = "mh",
    *,
    k: int = 2,
    min_line_bits: int = 0,
    eol: bool = True,
    align_eol: bool = False,
    rtc: bool = True,
    msb_first: bool = False,
) -> bytes:
    """Code a page. MH/MR: an EOL before every line (MR: EOL + tag bit, one one-dimensional line
    then k - 1 two-dimensional ones), zero fill so that every line (EOL + data + fill) has at
    least `min_line_bits` bits, and with `align_eol` more fill so that each EOL ends on a byte
    boundary; RTC at the end when `rtc`. MMR: lines back to back, EOFB at the end when `rtc`
    (EOL, fill and k do not apply). `eol=False` (MH only) leaves the EOLs out. The bytes are in
    line order (first bit = least significant) unless `msb_first`."""
    page = check_page(pixels)
    number = coding_number(coding)
    if number == MR and not 1 <= k <= 10_000:
        raise CodecError(f"k must be at least 1, not {k}")
    if min_line_bits < 0:
        raise CodecError("min_line_bits cannot be negative")
    if not eol and number == MR:
        raise CodecError("MR needs EOLs: the tag bit after each EOL says how a line is coded")
    if not eol and number == MH and (min_line_bits or align_eol):
        raise CodecError("fill bits need EOLs (a decoder finds the next line by its EOL)")
    lines, width = page.shape
    fill = min_line_bits if number != MMR else 0
    bound = (lines * line_bound(width, fill) + 8 * 64 + RTC_EOLS * 13) // 8 + 16
    out = np.empty(bound, dtype=np.uint8)  # the kernel zeroes what it writes into
    words = page.view(np.uint8).view(np.uint64)
    nbits = _encode_page(
        page,
        words,
        number,
        k if number == MR else 1,
        fill,
        eol,
        align_eol,
        rtc,
        out,
        t.RUN_CODE,
        t.RUN_LENGTH,
        t.VERTICAL_CODE,
        t.VERTICAL_LENGTH,
    )
    data = out[: (nbits + 7) >> 3]
    if not msb_first:
        data = t.BIT_REVERSE[data]
    return data.tobytes()
