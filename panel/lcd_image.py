"""The LCD as a picture: the 5x7 dot-matrix character set and `render_lcd`, which draws the two
lines of 20 characters as the window shows them.

A built-in character set (as on the real HD44780-style module) rather than a font: Tk's fonts
differ from one display to the next (few are there under Xvfb), and a fixed rendering lets a test
compare the screen's pixels with `render_lcd`. No Tk here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from estudio190f.hw.operator_panel import LCD_COLUMNS, LCD_LINES

# -- the LCD: 2 x 20 characters of 5 x 7 dots ------------------------------------------------------

# One glyph a character: seven rows of five dots, top row first ("#" lit). Lower case is shown as
# upper case (the LCD takes upper case only); a character with no glyph shows a full block.
GLYPHS: dict[str, str] = {
    " ": "..... ..... ..... ..... ..... ..... .....",
    "!": "..#.. ..#.. ..#.. ..#.. ..... ..... ..#..",
    '"': ".#.#. .#.#. .#.#. ..... ..... ..... .....",
    "#": ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.",
    "$": "..#.. .#### #.#.. .###. ..#.# ####. ..#..",
    "%": "##... ##..# ...#. ..#.. .#... #..## ...##",
    "&": ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#",
    "'": "..#.. ..#.. .#... ..... ..... ..... .....",
    "(": "...#. ..#.. .#... .#... .#... ..#.. ...#.",
    ")": ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
    "*": "..... ..#.. #.#.# .###. #.#.# ..#.. .....",
    "+": "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
    ",": "..... ..... ..... ..... .##.. ..#.. .#...",
    "-": "..... ..... ..... ##### ..... ..... .....",
    ".": "..... ..... ..... ..... ..... .##.. .##..",
    "/": "..... ....# ...#. ..#.. .#... #.... .....",
    "0": ".###. #...# #..## #.#.# ##..# #...# .###.",
    "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    "2": ".###. #...# ....# ...#. ..#.. .#... #####",
    "3": "##### ...#. ..#.. ...#. ....# #...# .###.",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
    "5": "##### #.... ####. ....# ....# #...# .###.",
    "6": "..##. .#... #.... ####. #...# #...# .###.",
    "7": "##### ....# ...#. ..#.. .#... .#... .#...",
    "8": ".###. #...# #...# .###. #...# #...# .###.",
    "9": ".###. #...# #...# .#### ....# ...#. .##..",
    ":": "..... .##.. .##.. ..... .##.. .##.. .....",
    ";": "..... .##.. .##.. ..... .##.. ..#.. .#...",
    "<": "...#. ..#.. .#... #.... .#... ..#.. ...#.",
    "=": "..... ..... ##### ..... ##### ..... .....",
    ">": ".#... ..#.. ...#. ....# ...#. ..#.. .#...",
    "?": ".###. #...# ....# ...#. ..#.. ..... ..#..",
    "@": ".###. #...# ....# .##.# #.#.# #.#.# .###.",
    "A": ".###. #...# #...# ##### #...# #...# #...#",
    "B": "####. #...# #...# ####. #...# #...# ####.",
    "C": ".###. #...# #.... #.... #.... #...# .###.",
    "D": "###.. #..#. #...# #...# #...# #..#. ###..",
    "E": "##### #.... #.... ####. #.... #.... #####",
    "F": "##### #.... #.... ####. #.... #.... #....",
    "G": ".###. #...# #.... #.### #...# #...# .####",
    "H": "#...# #...# #...# ##### #...# #...# #...#",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
    "L": "#.... #.... #.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#",
    "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
    "O": ".###. #...# #...# #...# #...# #...# .###.",
    "P": "####. #...# #...# ####. #.... #.... #....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#",
    "R": "####. #...# #...# ####. #.#.. #..#. #...#",
    "S": ".#### #.... #.... .###. ....# ....# ####.",
    "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# #...# #...# .###.",
    "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
    "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "Y": "#...# #...# #...# .#.#. ..#.. ..#.. ..#..",
    "Z": "##### ....# ...#. ..#.. .#... #.... #####",
    "[": ".###. .#... .#... .#... .#... .#... .###.",
    "\\": "..... #.... .#... ..#.. ...#. ....# .....",
    "]": ".###. ...#. ...#. ...#. ...#. ...#. .###.",
    "^": "..#.. .#.#. #...# ..... ..... ..... .....",
    "_": "..... ..... ..... ..... ..... ..... #####",
    "`": ".#... ..#.. ...#. ..... ..... ..... .....",
    "{": "...#. ..#.. ..#.. .#... ..#.. ..#.. ...#.",
    "|": "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "}": ".#... ..#.. ..#.. ...#. ..#.. ..#.. .#...",
    "~": "..... ..... .#... #.#.# ...#. ..... .....",
}
UNKNOWN_GLYPH = " ".join(["#####"] * 7)

GLYPH_COLS, GLYPH_ROWS = 5, 7
CELL_COLS, CELL_ROWS = GLYPH_COLS + 1, GLYPH_ROWS + 1  # a dot column and row between characters
DOT = 2  # pixels a side of one dot
PITCH = 3  # pixels from one dot to the next (a 1-pixel gap)
LCD_MARGIN = 10  # pixels around the dots
LINE_GAP = 4  # extra pixels between the two lines
LCD_BACKLIGHT = (166, 196, 76)  # yellow-green STN with its backlight on
LCD_DOT_OFF = (155, 184, 70)  # an unlit dot still shows faintly, as on the real glass
LCD_DOT_ON = (30, 42, 14)
LCD_DARK = (104, 114, 92)  # backlight off (machine powered off)


def glyph(ch: str) -> np.ndarray:
    """The 7 x 5 dots of one character (True = lit)."""
    rows = GLYPHS.get(ch.upper(), UNKNOWN_GLYPH).split()
    return np.array([[c == "#" for c in row] for row in rows], dtype=bool)


_GLYPH_CACHE: dict[str, np.ndarray] = {}


def _glyph_cached(ch: str) -> np.ndarray:
    found = _GLYPH_CACHE.get(ch)
    if found is None:
        found = _GLYPH_CACHE[ch] = glyph(ch)
    return found


def lcd_size() -> tuple[int, int]:
    """Width and height in pixels of the LCD image."""
    width = 2 * LCD_MARGIN + (LCD_COLUMNS * CELL_COLS - 1) * PITCH
    height = 2 * LCD_MARGIN + LCD_LINES * CELL_ROWS * PITCH + (LCD_LINES - 1) * LINE_GAP
    return width, height


def lcd_line_box(line: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) in the LCD image of LCD line 1 or 2 (the dots of its 20 cells)."""
    top = LCD_MARGIN + (line - 1) * (CELL_ROWS * PITCH + LINE_GAP)
    width, _ = lcd_size()
    return LCD_MARGIN, top, width - LCD_MARGIN, top + GLYPH_ROWS * PITCH


def render_lcd(lines: Sequence[str], powered: bool = True) -> Image.Image:
    """The LCD showing `lines` (2 x 20 characters), as the window draws it: an RGB image."""
    width, height = lcd_size()
    if not powered:
        return Image.new("RGB", (width, height), LCD_DARK)
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[:, :] = LCD_BACKLIGHT
    # Which pixels of a cell belong to a dot (the rest is the gap between dots).
    cell = np.zeros((PITCH, PITCH), dtype=bool)
    cell[:DOT, :DOT] = True
    for index in range(LCD_LINES):
        text = (lines[index] if index < len(lines) else "")[:LCD_COLUMNS].ljust(LCD_COLUMNS)
        dots = np.zeros((GLYPH_ROWS, LCD_COLUMNS * CELL_COLS - 1), dtype=np.int8)  # 0 off, 1 on
        is_dot = np.zeros_like(dots, dtype=bool)
        for col, ch in enumerate(text):
            x = col * CELL_COLS
            dots[:, x : x + GLYPH_COLS] = _glyph_cached(ch)
            is_dot[:, x : x + GLYPH_COLS] = True
        on = np.kron(dots, np.ones((PITCH, PITCH), dtype=np.int8)).astype(bool)
        dot_area = np.kron(is_dot, cell)
        left, top, right, _ = lcd_line_box(index + 1)
        region = pixels[top : top + on.shape[0], left : left + on.shape[1]]
        region[dot_area & ~on] = LCD_DOT_OFF
        region[dot_area & on] = LCD_DOT_ON
    return Image.fromarray(pixels, "RGB")
