"""The T.4/T.6 decoder: an MH, MR or MMR stream back to pixels, with what a receiver must know.

One compiled kernel decodes a whole page. Codes are looked up in tables indexed by the next 13
(runs) or 7 (modes) bits. A line is in error when a code is not in the tables, when its runs do
not add up to the line width, when an EOL comes early, or when anything but fill sits between
its end and the next EOL. Such a line is concealed by repeating the line before it (white for
the first line), and the decoder picks up again after the next EOL. In MR a two-dimensional line
that follows a concealed line is concealed too, since its reference is wrong; the next
one-dimensional line puts things right. MMR has no EOL to resynchronise on, so decoding stops at
the first line in error (ECM makes that line's arrival error-free in practice).

The end of the page: RTC (T.4: six EOLs; here any two empty lines, i.e. three EOLs in a row, so
a hit in the RTC still ends the page) or EOFB (T.6). Garbage never raises and never loops: every
step consumes at least one bit, and the number of lines is capped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import tables as t
from .encoder import MH, MMR, MR, coding_number
from .errors import CodecError
from .jit import kernel

OK = 0
BAD = -1  # no such code, or the runs overflow the line
EARLY_EOL = -2  # an EOL before the line was complete
TRUNCATED = -3  # the data ended inside a line
EOFB = 0x001001  # T.6: EOL EOL
MAX_WIDTH = 1 << 16
# Lines of room a page is decoded into first: an A4 page at super fine (4,574 lines) fits.
FIRST_ROOM_LINES = 4800


@dataclass
class DecodeResult:
    pixels: np.ndarray  # bool (lines, width), True = black
    lines: int  # lines decoded (including concealed ones)
    bad_lines: int  # lines in error (concealed by repeating the previous line)
    longest_bad_run: int  # longest run of consecutive bad lines
    rtc_seen: bool  # the stream ended properly (RTC / EOFB)


@kernel
def _peek(data, pos, n):
    """The `n` (<= 25) bits at bit `pos`, first bit most significant."""
    i = pos >> 3
    word = (
        (np.int64(data[i]) << 24)
        | (np.int64(data[i + 1]) << 16)
        | (np.int64(data[i + 2]) << 8)
        | np.int64(data[i + 3])
    )
    return (word >> (32 - n - (pos & 7))) & ((1 << n) - 1)


@kernel
def _zeros_from(data, pos, nbits):
    """How many 0 bits follow `pos` before a 1 bit (or the end of the data)."""
    p = pos
    while p < nbits:
        if (p & 7) == 0 and p + 8 <= nbits and data[p >> 3] == 0:
            p += 8
        elif _peek(data, p, 1) == 0:
            p += 1
        else:
            break
    return min(p, nbits) - pos


@kernel
def _after_next_eol(data, pos, nbits):
    """The position just after the first EOL (11 or more zeros, then a 1) that starts at or after
    `pos`, or -1 when there is none."""
    p = pos
    while p < nbits:
        z = _zeros_from(data, p, nbits)
        p += z
        if p >= nbits:
            return -1
        if z >= 11:
            return p + 1
        p += 1
    return -1


@kernel
def _read_run(data, pos, nbits, colour, run_table):
    """One run: make-up codes, then a terminating code. Returns (run or status, new position)."""
    total = 0
    while True:
        entry = run_table[colour, _peek(data, pos, t.RUN_PEEK)]
        if entry <= 0:
            return (EARLY_EOL if entry == -1 else BAD), pos
        pos += entry & 15
        if pos > nbits:
            return TRUNCATED, pos
        run = entry >> 4
        total += run
        if run < 64:
            return total, pos


@kernel
def _add_change(changes, n, x):
    """Record a colour change at x; two changes at the same pel cancel (zero-length runs)."""
    if n > 0 and changes[n - 1] == x:
        return n - 1
    changes[n] = x
    return n + 1


@kernel
def _decode_1d(data, pos, nbits, width, changes, run_table):
    """One MH line. Returns (status, number of changes, position after the line)."""
    x = 0
    colour = t.WHITE
    n = 0
    while True:
        run, pos = _read_run(data, pos, nbits, colour, run_table)
        if run < 0:
            return run, n, pos
        x += run
        if x > width:
            return BAD, n, pos
        if x == width:
            return OK, n, pos
        n = _add_change(changes, n, x)
        colour ^= 1


@kernel
def _decode_2d(data, pos, nbits, width, ref, changes, run_table, mode_table):
    """One line coded against `ref` (its changes, then sentinels at width). Mirrors the encoder's
    walk of a0, b1, b2 (T.4 4.2.1.3)."""
    a0 = -1
    colour = t.WHITE
    n = 0
    ib = 0
    while a0 < width:
        if pos >= nbits:
            return TRUNCATED, n, pos
        entry = mode_table[_peek(data, pos, t.MODE_PEEK)]
        mode = entry >> 8
        if mode == t.MODE_ZEROS:
            return (EARLY_EOL if _peek(data, pos, t.EOL_BITS) == 1 else BAD), n, pos
        if mode == t.MODE_INVALID or mode == t.MODE_EXTENSION:
            return BAD, n, pos
        pos += entry & 15
        while ref[ib] <= a0:
            ib += 1
        j = ib
        if (j & 1) != colour:
            j += 1
        b1 = ref[j]
        b2 = ref[j + 1]
        if mode == t.MODE_PASS:
            if b2 >= width:
                return BAD, n, pos
            a0 = b2
        elif mode == t.MODE_VERTICAL:
            a1 = b1 + ((entry >> 4) & 15) - 3
            if a1 < 0 or a1 < a0 or a1 > width:
                return BAD, n, pos
            if a1 < width:
                n = _add_change(changes, n, a1)
            a0 = a1
            colour ^= 1
        else:  # horizontal: two runs, this colour then the other
            first, pos = _read_run(data, pos, nbits, colour, run_table)
            if first < 0:
                return first, n, pos
            second, pos = _read_run(data, pos, nbits, colour ^ 1, run_table)
            if second < 0:
                return second, n, pos
            a1 = max(a0, 0) + first
            a2 = a1 + second
            if a2 > width:
                return BAD, n, pos
            if a1 < width:
                n = _add_change(changes, n, a1)
            if a2 < width:
                n = _add_change(changes, n, a2)
            a0 = a2
    if pos > nbits:
        return TRUNCATED, n, pos
    return OK, n, pos


@kernel
def _paint(row, changes, n, width):
    """Draw a decoded line over whatever the row held (the page comes uninitialised)."""
    row[:] = False
    for j in range(0, n, 2):
        end = changes[j + 1] if j + 1 < n else width
        row[changes[j] : end] = True


@kernel
def _conceal(out, y):
    """Line `y` is bad: it repeats the line before it (white for the first line)."""
    if y > 0:
        out[y, :] = out[y - 1, :]
    else:
        out[y, :] = False


@kernel
def _set_sentinels(changes, n, width):
    changes[n] = width
    changes[n + 1] = width
    changes[n + 2] = width


@kernel
def _decode_page(data, nbits, coding, width, eol, align_rows, out, run_table, mode_table):
    """Returns (lines, bad lines, longest bad run, end seen)."""
    capacity = out.shape[0]
    ref = np.empty(width + 4, np.int64)
    changes = np.empty(width + 4, np.int64)
    _set_sentinels(ref, 0, width)  # the line before the page is white
    lines = 0
    bad = 0
    bad_run = 0
    longest = 0
    end_seen = False
    ref_ok = True

    if coding == MMR or not eol:
        # Lines back to back: nothing to resynchronise on, so the first bad line ends the page.
        pos = 0
        while lines < capacity:
            if coding == MMR and _peek(data, pos, 24) == EOFB:
                end_seen = True
                break
            zeros = _zeros_from(data, pos, nbits)
            if pos + zeros >= nbits:
                break  # nothing but padding left
            if coding == MH and zeros >= 11:
                end_seen = True  # an EOL after EOL-less lines can only be the RTC
                break
            if coding == MMR:
                status, n, pos = _decode_2d(
                    data, pos, nbits, width, ref, changes, run_table, mode_table
                )
            else:
                status, n, pos = _decode_1d(data, pos, nbits, width, changes, run_table)
            if status != OK:
                _conceal(out, lines)
                lines += 1
                bad += 1
                longest = max(longest, bad_run + 1)
                break
            _paint(out[lines], changes, n, width)
            lines += 1
            bad_run = 0
            ref, changes = changes, ref
            _set_sentinels(ref, n, width)
            if align_rows:
                pos = (pos + 7) & ~7
        return lines, bad, longest, end_seen

    # MH / MR with EOLs. Whatever comes before the first EOL is not a line (libtiff agrees).
    pos = _after_next_eol(data, 0, nbits)
    empty_lines = 0
    while pos >= 0 and lines < capacity:
        one_dimensional = True
        if coding == MR:
            if pos >= nbits:
                break
            one_dimensional = _peek(data, pos, 1) == 1
            pos += 1
        zeros = _zeros_from(data, pos, nbits)
        if pos + zeros >= nbits:
            break  # nothing but fill left
        if zeros >= 11:  # another EOL straight away: an empty line
            pos += zeros + 1
            empty_lines += 1
            if empty_lines >= 2:
                end_seen = True
                break
            continue
        if empty_lines == 1 and lines > 0:
            # A line whose data was lost entirely: conceal it like any other bad line.
            out[lines, :] = out[lines - 1, :]
            lines += 1
            bad += 1
            bad_run += 1
            longest = max(longest, bad_run)
            ref_ok = False
            if lines >= capacity:
                break
        empty_lines = 0

        if not one_dimensional and not ref_ok:
            status, n, p = BAD, 0, pos  # its reference line was concealed: pixels would be wrong
        elif one_dimensional:
            status, n, p = _decode_1d(data, pos, nbits, width, changes, run_table)
        else:
            status, n, p = _decode_2d(data, pos, nbits, width, ref, changes, run_table, mode_table)
        next_pos = -1
        if status == OK:
            zeros = _zeros_from(data, p, nbits)
            if p + zeros >= nbits:
                next_pos = -1  # the data ends after this line (no RTC)
            elif zeros >= 11:
                next_pos = p + zeros + 1
            else:
                status = BAD  # not fill before the next EOL: the line's codes were disturbed
        if status == OK:
            _paint(out[lines], changes, n, width)
            lines += 1
            bad_run = 0
            ref, changes = changes, ref
            _set_sentinels(ref, n, width)
            ref_ok = True
            pos = next_pos
        else:
            _conceal(out, lines)
            lines += 1
            bad += 1
            bad_run += 1
            longest = max(longest, bad_run)
            ref_ok = False
            pos = _after_next_eol(data, p, nbits)

    if lines >= capacity and pos >= 0 and not end_seen:
        # Stopped by the line limit: say whether the RTC follows.
        if coding == MR:
            pos += 1
        zeros = _zeros_from(data, pos, nbits)
        end_seen = zeros >= 11 and pos + zeros < nbits
    return lines, bad, longest, end_seen


@kernel
def _coded_lines(data, zeros, since_eol, first_one, last_one):
    """Walk the bytes of `data` (line order: least significant bit first) after `zeros` 0 bits
    in a row and `since_eol` bits since the last EOL ended. Returns (the longest line that ended
    here, or the bits since the last EOL when none did; zeros at the end; bits since the last EOL
    at the end). An EOL's eleven zeros cannot end inside the byte they start in, so a byte is
    looked at only through its first and last 1 bits."""
    longest = -1
    for byte in data:
        if byte == 0:
            zeros += 8
            since_eol += 8
            continue
        first = first_one[byte]
        if zeros + first >= 11:  # this byte's first 1 ends an EOL: a coded line ends here
            longest = max(longest, since_eol + first + 1)
            since_eol = 7 - first
        else:
            since_eol += 8
        zeros = 7 - last_one[byte]
    if longest < 0:
        longest = since_eol
    return longest, zeros, since_eol


# For each byte in line order: where its first and its last 1 bit are (0 = least significant).
_FIRST_ONE = np.array([(v & -v).bit_length() - 1 if v else 8 for v in range(256)], np.int64)
_LAST_ONE = np.array([v.bit_length() - 1 if v else -1 for v in range(256)], np.int64)


def coded_line_bits(data: bytes, zeros: int, since_eol: int) -> tuple[int, int, int]:
    """The coded scan lines in a piece of an MH/MR stream that arrives bit by bit: each line
    counted from the end of one EOL (eleven or more 0 bits and a 1) to the end of the next.
    `zeros` and `since_eol` carry the state from the piece before (0, 0 at the start). Returns
    (the longest line that ended in this piece, or the bits since the last EOL when none did;
    `zeros` and `since_eol` for the next piece)."""
    raw = np.frombuffer(bytes(data), dtype=np.uint8)
    longest, zeros, since_eol = _coded_lines(
        raw, np.int64(zeros), np.int64(since_eol), _FIRST_ONE, _LAST_ONE
    )
    return int(longest), int(zeros), int(since_eol)


def _line_bound(nbits: int, coding: int, eol: bool) -> int:
    """An upper bound on the lines a stream of `nbits` can hold (each line, even a bad one,
    consumes at least an EOL, or at least one bit in MMR)."""
    if coding == MMR:
        return nbits + 1
    if eol:
        return nbits // 12 + 2
    return nbits // 2 + 1


def decode(
    data: bytes,
    coding: str = "mh",
    *,
    width: int = 1728,
    msb_first: bool = False,
    max_lines: int = 20000,
    eol: bool = True,
    align_rows: bool = False,
) -> DecodeResult:
    """Decode one page. `eol=False` reads MH without EOLs (TIFF compression 2 with
    `align_rows`: each line starts on a byte boundary); like MMR it stops at the first bad line."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CodecError("data must be bytes")
    number = coding_number(coding)
    if not isinstance(width, int) or not 0 < width < MAX_WIDTH:
        raise CodecError(f"width must be between 1 and {MAX_WIDTH - 1} pels, not {width!r}")
    if not isinstance(max_lines, int) or max_lines < 0:
        raise CodecError("max_lines must be a whole number >= 0")
    if not eol and number == MR:
        raise CodecError("MR needs EOLs: the tag bit after each EOL says how a line is coded")
    raw = np.frombuffer(bytes(data), dtype=np.uint8)
    buffer = np.zeros(raw.size + 8, dtype=np.uint8)  # zero padding: peeks past the end are safe
    buffer[: raw.size] = raw if msb_first else t.BIT_REVERSE[raw]
    nbits = raw.size * 8
    capacity = min(max_lines, _line_bound(nbits, number, eol))
    # Most pages have far fewer lines than the bound (20,000 lines, 34 MB, for a 30 KB MR
    # stream): decode into room for a long page first and only again with all of it when that
    # fills up. The lines decoded are the same either way (the room only stops the loop).
    first = min(capacity, FIRST_ROOM_LINES)
    while True:
        out = np.empty((first, width), dtype=np.bool_)  # the kernel writes every line it keeps
        lines, bad, longest, end_seen = _decode_page(
            buffer, nbits, number, width, eol, align_rows, out, t.RUN_TABLE, t.MODE_TABLE
        )
        if lines < first or first == capacity:
            break
        first = capacity
    pixels = out if lines == first else out[:lines].copy()
    return DecodeResult(pixels, int(lines), int(bad), int(longest), bool(end_seen))
