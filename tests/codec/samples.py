"""Pages for codec tests: the ITU charts and generated pages that stress the coder in different
ways (text, halftone, solid pages, one-pel columns, run lengths at the code-table boundaries)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from conftest import need_testdata  # tests/conftest.py (tests/ is on sys.path)
from PIL import Image, ImageDraw, ImageFont

from estudio190f.firmware.codec import WIDTHS

CHARTS = (1, 2, 3, 4)


def chart(n: int) -> np.ndarray:
    """ITU chart n (1728 x 2376), True = black."""
    with Image.open(need_testdata("ccitt", f"itu{n}.pbm")) as image:
        return ~np.asarray(image, dtype=bool)


def text_page(width: int, lines: int = 320) -> np.ndarray:
    image = Image.new("L", (width, lines), 255)
    draw = ImageDraw.Draw(image)
    y = 4
    for size in (10, 16, 24, 40, 64):
        try:
            font = ImageFont.load_default(size=size)
        except (TypeError, OSError):  # a Pillow without FreeType: the fixed bitmap font
            font = ImageFont.load_default()
        text = f"FAX {width} PELS - THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG 0123456789 " * 3
        draw.text((3, y), text, fill=0, font=font)
        y += size + 8
    return np.asarray(image) < 128


def halftone_page(width: int, lines: int = 240) -> np.ndarray:
    """An ordered-dither (Bayer 4x4) gradient: many short runs, the hard case for every coding."""
    bayer = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]]) / 16
    y, x = np.mgrid[0:lines, 0:width]
    level = (x / width + y / lines) / 2
    return level > bayer[y % 4, x % 4]


def all_white(width: int, lines: int = 50) -> np.ndarray:
    return np.zeros((lines, width), dtype=bool)


def all_black(width: int, lines: int = 50) -> np.ndarray:
    return np.ones((lines, width), dtype=bool)


def single_pel_columns(width: int, lines: int = 64) -> np.ndarray:
    """One-pel columns and checkerboards, lone pels at both edges, and runs of the lengths where
    the code tables change (63/64/65, the make-up boundaries, the whole line less one)."""
    page = np.zeros((lines, width), dtype=bool)
    page[0:8, ::2] = True
    page[8:16, ::3] = True
    page[16:24] = (np.indices((8, width)).sum(axis=0) % 2).astype(bool)
    page[24, 0] = True
    page[25, width - 1] = True
    page[26, 1:] = True
    page[27, :-1] = True
    x = 0
    for n, run in enumerate((63, 64, 65, 127, 128, 129, 1727, 1, 2, 3)):
        if x + run > width:
            break
        page[28 + n % 4, x : x + run] = n % 2 == 0
        page[32 + n % 4, x : x + run] = True
        x += run
    page[40:48, width // 2] = True  # a vertical line: V0 all the way down
    page[48:56, width // 2 - 5 : width // 2 + 5] = np.tri(8, 10, dtype=bool)  # V-modes and passes
    return page


def random_page(width: int, lines: int = 60, seed: int = 0) -> np.ndarray:
    """Runs of random lengths, changing only a little from line to line."""
    rng = np.random.default_rng(seed)
    page = np.zeros((lines, width), dtype=bool)
    row = rng.random(width) < 0.3
    for y in range(lines):
        flips = rng.random(width) < 0.02
        row = row ^ flips
        page[y] = row
    return page


GENERATORS: dict[str, Callable[[int], np.ndarray]] = {
    "text": text_page,
    "halftone": halftone_page,
    "white": all_white,
    "black": all_black,
    "columns": single_pel_columns,
    "random": random_page,
}


def generated_pages() -> list[tuple[str, int]]:
    """(generator name, width) for every generated page the peer tests use."""
    return [(name, width) for name in GENERATORS for width in WIDTHS]


def generated(name: str, width: int) -> np.ndarray:
    return GENERATORS[name](width)
