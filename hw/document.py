"""A physical original for the document feeder: its size in millimetres and what is printed on it.

A `Sheet` is paper, not a file: the edge (`panel.documents`) turns files into sheets. Its content
is kept as rows of grey levels at the image's own resolution, packed to one bit a pixel when the
original is black and white (a 50-page job of ITU charts then holds 25 MB, not 200 MB). A sheet
whose file could not be turned into an image still goes through the feeder as paper; it carries
the reason instead of content, so the scanner can report CHECK DOCUMENT.
No file I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

# The widest original the feeder's guides take, and the CIS's reading width (8 pels/mm x 1728).
MAX_WIDTH_MM = 216.0
# Size given to a sheet whose file could not be read: the paper is there, its size unknown.
UNREADABLE_SIZE_MM = (215.9, 279.4)  # Letter


@dataclass(frozen=True, eq=False)
class Sheet:
    """One original. Build with `from_pixels` / `from_grey` / `unreadable`."""

    name: str  # where it came from (file name and page), for logs and reports
    width_mm: float
    length_mm: float
    problem: str | None = None  # why it cannot be read (None: readable)
    mode: str = "L"  # "1": packed bits, 1 = white (PIL raw "1"); "L": one grey byte a pixel
    cols: int = 0
    rows: int = 0
    data: bytes = b""

    @property
    def readable(self) -> bool:
        return self.problem is None

    @property
    def stride(self) -> int:
        return (self.cols + 7) // 8 if self.mode == "1" else self.cols

    @classmethod
    def from_pixels(
        cls, black: np.ndarray, width_mm: float, length_mm: float, name: str = ""
    ) -> Sheet:
        """A black-and-white original: `black` is a 2-D bool array, True = black."""
        black = np.asarray(black, dtype=bool)
        rows, cols = black.shape
        packed = np.packbits(~black, axis=1)
        return cls(name, float(width_mm), float(length_mm), None, "1", cols, rows, packed.tobytes())

    @classmethod
    def from_grey(
        cls, grey: np.ndarray, width_mm: float, length_mm: float, name: str = ""
    ) -> Sheet:
        """A grey original: `grey` is a 2-D uint8 array, 0 = black, 255 = white."""
        grey = np.ascontiguousarray(grey, dtype=np.uint8)
        rows, cols = grey.shape
        return cls(name, float(width_mm), float(length_mm), None, "L", cols, rows, grey.tobytes())

    @classmethod
    def unreadable(cls, name: str, problem: str) -> Sheet:
        width, length = UNREADABLE_SIZE_MM
        return cls(name, width, length, problem)

    def band_image(self, first_row: int, last_row: int) -> Image.Image:
        """Rows [first_row, last_row) as a PIL image (mode "1" or "L"), for resampling."""
        first_row = max(0, first_row)
        last_row = min(self.rows, max(last_row, first_row + 1))
        chunk = self.data[first_row * self.stride : last_row * self.stride]
        return Image.frombytes(self.mode, (self.cols, last_row - first_row), chunk)

    def grey(self) -> np.ndarray:
        """The whole original as grey levels (tests and previews; the scanner reads bands)."""
        return np.asarray(self.band_image(0, self.rows).convert("L"))
