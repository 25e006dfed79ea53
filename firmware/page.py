"""A page image as the firmware handles it: bilevel pixels plus the resolution they were made at.

Convention used everywhere in the project: `pixels` is a 2-D numpy bool array (lines, pels),
True = black, row 0 at the top. Widths are T.4's 1728 / 2048 / 2432 pels (8 pels/mm horizontally,
written 204 dpi in TIFF Class F); line densities are standard 3.85, fine 7.7 and super fine 15.4
lines/mm (98, 196 and 391 dpi).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STANDARD_WIDTH = 1728
WIDTHS = (1728, 2048, 2432)
X_DPI = 204

# resolution name -> vertical dpi (TIFF-F convention) and lines per mm
Y_DPI = {"standard": 98, "fine": 196, "superfine": 391, "photo": 196}
LINES_PER_MM = {"standard": 3.85, "fine": 7.7, "superfine": 15.4, "photo": 7.7}


def nearest_resolution(y_dpi: float) -> str:
    """The line density nearest `y_dpi` (vertical dots per inch) by name; photo is not one."""
    return min(("standard", "fine", "superfine"), key=lambda name: abs(Y_DPI[name] - y_dpi))


@dataclass
class Page:
    pixels: np.ndarray  # bool (lines, width), True = black
    resolution: str = "standard"  # standard | fine | superfine | photo

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def lines(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def y_dpi(self) -> int:
        return Y_DPI[self.resolution]

    @property
    def length_mm(self) -> float:
        return self.lines / LINES_PER_MM[self.resolution]

    @classmethod
    def blank(cls, lines: int, width: int = STANDARD_WIDTH, resolution: str = "standard") -> Page:
        return cls(np.zeros((lines, width), dtype=bool), resolution)
