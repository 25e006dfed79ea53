"""The transmit header: one line of text at the top of every page sent, in the sister model's format.

    01-31-2005 10:00 FROM: TOSHIBA +1-714-583-0000 T-123 P.001/003 F-030

(e-STUDIO170F manual, DESIGN.md 5): the date and time of the transmission, the station name and
number, T = the transmission's serial number, P = page / pages, F = the memory file. A direct
transmission has no memory file, so its header has no F field.

`transmit.header` places it:
- OUTSIDE (factory default): a band is added above the page, so nothing of the page is covered;
- INSIDE: the band replaces the top of the page (the page keeps its length, its top rows are lost);
- OFF: no header.

The band is the same physical size at every resolution: the report font (`reports.glyphs`, 12 x 22
dots at fine) drawn over 2.9 mm, with 0.5 mm of white above and below, from 4 mm in from the left
edge. At standard resolution the glyphs' rows are halved, at super fine doubled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..page import Page
from ..reports import clean, draw_text
from ..settings import Settings
from ..t30.image import fit_pixels

HEADER_MODES = ("inside", "outside", "off")
LEFT_MARGIN = 32  # dots (4 mm at 8 dots/mm)
# Rows of the band at fine resolution: white above, the text, white below.
FINE_TOP, FINE_TEXT, FINE_BOTTOM = 4, 22, 4
# Rows per fine row at each resolution (standard has half the lines, super fine twice as many).
ROW_SCALE = {"standard": 0.5, "fine": 1.0, "photo": 1.0, "superfine": 2.0}


def header_text(
    when: str, station: str, number: str, serial: int, page: int, pages: int, file_no: int | None
) -> str:
    """The header line: `when` is "MM-DD-YYYY HH:MM"; `file_no` None for a direct transmission."""
    parts = [when, "FROM:", station.strip(), number.strip(), f"T-{serial % 1000:03d}",
             f"P.{page:03d}/{pages:03d}"]  # fmt: skip
    if file_no is not None:
        parts.append(f"F-{file_no:03d}")
    return clean(" ".join(p for p in parts if p)).upper()


def header_rows(resolution: str) -> int:
    """How many rows of a page at `resolution` the header band takes."""
    return round((FINE_TOP + FINE_TEXT + FINE_BOTTOM) * ROW_SCALE[resolution])


def header_band(text: str, resolution: str, width: int) -> np.ndarray:
    """The header as pixels (rows, width), True = black: drawn at fine, then its rows scaled
    to `resolution`. A very long name is cut at the page's edge."""
    band = np.zeros((header_rows("fine"), width), dtype=bool)
    draw_text(band, FINE_TOP, LEFT_MARGIN, text)
    return fit_pixels(Page(band, "fine"), resolution, width)


def apply_header(page: Page, text: str, mode: str) -> Page:
    """The page as sent: with the header added above it, over its top, or untouched."""
    if mode == "off":
        return page
    if mode not in HEADER_MODES:
        raise ValueError(f"transmit header must be one of {', '.join(HEADER_MODES)}, not {mode!r}")
    band = header_band(text, page.resolution, page.width)
    if mode == "outside":
        return Page(np.vstack([band, page.pixels]), page.resolution)
    pixels = page.pixels.copy()
    rows = min(band.shape[0], pixels.shape[0])
    pixels[:rows] = band[:rows]
    return Page(pixels, page.resolution)


@dataclass(frozen=True)
class HeaderStamp:
    """The transmit header of one call's pages: the settings and the time as the call began, the
    call's serial, the memory file and its page count. Called with (page number, page)."""

    mode: str  # transmit.header: outside | inside | off
    when: str
    station: str
    number: str
    serial: int
    file_no: int | None
    total: int  # pages shown after P.nnn/ (0 when not known)

    @classmethod
    def for_call(cls, settings: Settings, when: str, serial: int, file_no: int | None,
                 total: int) -> HeaderStamp:  # fmt: skip
        return cls(settings.text("transmit.header"), when, settings.text("machine.station_name"),
                   settings.text("machine.number"), serial, file_no, total)  # fmt: skip

    def __call__(self, number: int, page: Page) -> Page:
        text = header_text(self.when, self.station, self.number, self.serial, number, self.total,
                           self.file_no)  # fmt: skip
        return apply_header(page, text, self.mode)
