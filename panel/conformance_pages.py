"""The test pages of ETSI ETS 300 242 that the TSB85 scripts send, made in code.

The scripts name pages `etsi_300_242_a4_*.tif`; they are not shipped, so the conformance runner
builds equivalent pages from the descriptions of ETS 300 242 Annex B (as SpanDSP's generator
reads them): every page is A4 width (1728 pels) at standard resolution (3.85 lines/mm), white
unless said otherwise. Pixels are numpy bool arrays, True = black (the project's `Page`).

- WHITE: 1100 white lines (a page that codes to almost nothing).
- DIAGO1 / DIAGO2: 1001 lines whose black part starts one pel further right on every line
  (DIAGO2 728 pels further right than DIAGO1), then a black line. Between them every white and
  every black run length from 0 to 1728 occurs, so every one-dimensional terminating and
  make-up code is used; coded two-dimensionally, every vertical mode is used too.
- STAIRSTEP: 1728 lines, each with one black segment of 64 pels, one step to the right per line,
  wrapping every 27 lines (about 15 kbytes coded MH: the ECM tests pad it to 31 k or 64 k).
- IMPRESS: 1079 lines of print-quality patterns (ETS 300 242 B.5.2): a top rule, alignment bars,
  odd and even alternate pels, alternate black lines, a rule, a dotted line, a black block with a
  white cross, a framed white block with a black cross, thin vertical lines. The alternate-pel
  areas make it code large (about 75 kbytes MH: two ECM blocks of 256-octet frames).
- DURATION1 / DURATION2: 237 lines, black rules around white areas and one line of alternate
  pels (line 119). The tester stretches that line with fill bits to 4.9 s and 5.1 s of air time
  (T.4 limits a coded scan line to 5 s): `EtsiPage.long_line`.
- ERROR: 400 lines with 260 lines of 64-pel black segments in its middle; the tester flips the
  first bit after the EOL of the lines a script lists (`bad_rows`), as TSB85 says.
- WHITE_2P and IMPRESS_WHITE are the two-page documents (white + white, impress + white).

`page_data` codes a page as SpanDSP's tester does (EOL before every line, `min_bits` per line,
RTC; the long line stretched with fill; the `bad_rows` corrupted).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from estudio190f.firmware import codec
from estudio190f.firmware.page import Page

WIDTH = 1728
PREFIX = "etsi_300_242_a4_"


@dataclass(frozen=True)
class EtsiPage:
    """A page of a test document; `long_line` = (line index, seconds of air time) asks the
    tester to pad that line's coding with fill bits until it lasts that long."""

    page: Page
    long_line: tuple[int, float] | None = None


def _blank(lines: int) -> np.ndarray:
    return np.zeros((lines, WIDTH), dtype=bool)


def white() -> np.ndarray:
    return _blank(1100)


def diagonal(offset: int) -> np.ndarray:
    """Line n is white up to pel n + offset and black from there to the right edge."""
    pixels = _blank(1002)
    starts = np.arange(1001) + offset
    columns = np.arange(WIDTH)
    pixels[:1001] = columns[None, :] >= starts[:, None]
    pixels[1001] = True
    return pixels


def stairstep() -> np.ndarray:
    pixels = _blank(1728)
    steps = WIDTH // 64
    for line in range(1728):
        start = (line % steps) * 64
        pixels[line, start : start + 64] = True
    return pixels


def impress() -> np.ndarray:
    """ETS 300 242 B.5.2 areas, as (first line, last line) in 1-based line numbers."""
    pixels = _blank(1079)

    def area(first: int, last: int, left: int, right: int, step: int = 1) -> None:
        pixels[first - 1 : last : step, left : right + 1] = True

    area(1, 1, 0, WIDTH - 1)  # top rule: orientation
    area(2, 78, 850, 877)  # two vertical bars: horizontal alignment
    area(2, 78, 1622, 1648)
    pixels[79:117, 0::2] = True  # odd pels black (pels 1, 3, ... in 1-based numbering)
    pixels[117:155, 1::2] = True  # even pels black
    area(194, 231, 0, WIDTH - 1, step=2)  # alternate black lines
    area(270, 276, 60, 1667)  # a 7-line rule: horizontal intensity
    pixels[314, 0::27] = True  # isolated black pels
    area(354, 480, 209, 768)  # black block ...
    pixels[357:476, 488:490] = False  # ... with a white cross
    pixels[416, 217:761] = False
    area(354, 357, 962, 1521)  # white block framed in black ...
    area(477, 480, 962, 1521)
    area(358, 476, 962, 969)
    area(358, 476, 1514, 1521)
    pixels[357:476, 1241] = True  # ... with a black cross
    area(417, 417, 970, 1513)
    pixels[353:1079, 864] = True  # a vertical line one pel wide
    area(157, 926, 884, 899)  # a vertical bar: vertical density
    return pixels


def duration() -> np.ndarray:
    pixels = _blank(237)
    for line in (0, 117, 119, 236):
        pixels[line] = True
    pixels[118, 1::2] = True
    return pixels


def error() -> np.ndarray:
    pixels = _blank(400)
    pixels[68] = True
    line = 70
    for _ in range(10):
        for start in range(16, 1617, 64):
            pixels[line, start : start + 64] = True
            line += 1
    pixels[331] = True
    return pixels


def _pages(*arrays: np.ndarray) -> list[EtsiPage]:
    return [EtsiPage(Page(a, "standard")) for a in arrays]


DOCUMENTS: dict[str, Callable[[], list[EtsiPage]]] = {
    "white": lambda: _pages(white()),
    "white_2p": lambda: _pages(white(), white()),
    "diago1": lambda: _pages(diagonal(0)),
    "diago2": lambda: _pages(diagonal(728)),
    "stairstep": lambda: _pages(stairstep()),
    "impress": lambda: _pages(impress()),
    "impress_white": lambda: _pages(impress(), white()),
    "error": lambda: _pages(error()),
    "duration1": lambda: [EtsiPage(Page(duration(), "standard"), long_line=(118, 4.9))],
    "duration2": lambda: [EtsiPage(Page(duration(), "standard"), long_line=(118, 5.1))],
}

_cache: dict[str, list[EtsiPage]] = {}


def document(name: str) -> list[EtsiPage]:
    """The pages of a script's file name (`etsi_300_242_a4_white.tif` or just `white`)."""
    key = name.removesuffix(".tif").removeprefix(PREFIX)
    if key not in DOCUMENTS:
        raise KeyError(f"no test page {name!r} (known: {', '.join(sorted(DOCUMENTS))})")
    if key not in _cache:
        _cache[key] = DOCUMENTS[key]()
        for test_page in _cache[key]:
            test_page.page.pixels.setflags(write=False)  # shared between tests: read only
    return _cache[key]


# -- pages as the tester codes them ----------------------------------------------------------------
def page_data(
    test_page: EtsiPage,
    coding: str = "mh",
    *,
    min_bits: int = 0,
    rate: int = 4800,
    bad_rows: Sequence[int] = (),
) -> bytes:
    """A test page coded as SpanDSP's tester codes it: EOL before every line, `min_bits` per line
    (EOL and fill included), RTC (EOFB for T.6); a `long_line` stretched with fill bits to its air
    time at `rate`; then the first bit after the EOL of every row in `bad_rows` (1-based) flipped."""
    pixels = test_page.page.pixels
    k = 2 if test_page.page.resolution == "standard" else 4
    if coding == "mmr":
        return bytes(codec.encode(pixels, "mmr"))
    if test_page.long_line is None:
        data = bytes(codec.encode(pixels, coding, k=k, min_line_bits=min_bits))
    else:
        # Fill bits may precede any EOL (T.4): the three parts join on byte
        # boundaries with the zero bits between them taken as fill.
        row, seconds = test_page.long_line
        long_bits = round(seconds * rate)
        parts = [
            codec.encode(pixels[:row], coding, k=k, min_line_bits=min_bits, rtc=False),
            codec.encode(pixels[row : row + 1], coding, k=k, min_line_bits=long_bits, rtc=False),
            codec.encode(pixels[row + 1 :], coding, k=k, min_line_bits=min_bits),
        ]
        data = b"".join(bytes(p) for p in parts)
    if bad_rows:
        data = corrupt_rows(data, bad_rows)
    return data


def corrupt_rows(data: bytes, rows: Sequence[int]) -> bytes:
    """Flip the first bit after the EOL that starts each listed row (EOLs counted from 1)."""
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
    wanted = set(rows)
    count = 0
    zeros = 0
    for pos in range(bits.size):
        if bits[pos]:
            if zeros >= 11:
                count += 1
                if count in wanted and pos + 1 < bits.size:
                    bits[pos + 1] ^= 1
            zeros = 0
        else:
            zeros += 1
    return np.packbits(bits, bitorder="little").tobytes()


def parse_rows(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", text)]


__all__ = ["DOCUMENTS", "EtsiPage", "corrupt_rows", "document", "page_data", "parse_rows"]
