"""Printed reports: the journal (activity report), the function list, the one-touch/speed-dial
list, and the service mode's print test pattern. Each comes back as `Page`s at fine resolution,
as long as the cassette's sheet, ready for the print queue.

Text is set in a fixed-pitch bitmap font: the 6 x 11 pixel font built into Pillow
(`ImageFont.load_default_imagefont()`), drawn once per character with Pillow and then placed on
a character grid, doubled in both directions (12 x 22 dots: 1.5 mm x 2.9 mm on the page). No
font file is needed, nothing depends on FreeType or the fonts installed, and the same text gives
the same pixels every time. Characters outside printable ASCII print as `?`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from estudio190f.hw.eventlog import EventLog
from estudio190f.hw.printer import sheet_lines

from .control_panel import ControlPanel
from .directory import Directory
from .image_memory import MemoryFull
from .journal import Journal, JournalEntry
from .page import LINES_PER_MM, STANDARD_WIDTH, Page
from .print_queue import PrintQueue
from .settings import SETTINGS, Settings
from .version import machine_block

Report = Literal["journal", "function_list", "directory", "test_pattern"]
REPORT_TITLES: dict[Report, str] = {
    "journal": "JOURNAL",
    "function_list": "FUNCTION LIST",
    "directory": "DIRECTORY LIST",
    "test_pattern": "PRINT TEST",
}

GLYPH_W, GLYPH_H = 6, 11  # Pillow's built-in bitmap font
SCALE = 2
CELL_W, CELL_H = GLYPH_W * SCALE, GLYPH_H * SCALE
LINE_PITCH = CELL_H + 4  # dots from one text line to the next
MARGIN_LEFT = 96  # 12 mm
MARGIN_TOP = 92  # 12 mm at 7.7 lines/mm
MARGIN_BOTTOM = 92
COLUMNS = (STANDARD_WIDTH - 2 * MARGIN_LEFT) // CELL_W  # 128 characters a line
RESOLUTION = "fine"


@dataclass
class ReportHeader:
    """What heads every report page: the machine's clock, station name and number."""

    when: str  # "MM-DD-YYYY HH:MM"
    station: str = ""
    number: str = ""


# -- the font ------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def glyphs() -> dict[str, np.ndarray]:
    """Every printable ASCII character as a (CELL_H, CELL_W) bool array, True = black."""
    font = ImageFont.load_default_imagefont()
    table: dict[str, np.ndarray] = {}
    for code in range(32, 127):
        img = Image.new("1", (GLYPH_W, GLYPH_H), 1)
        ImageDraw.Draw(img).text((0, 0), chr(code), font=font, fill=0)
        small = ~np.asarray(img, dtype=bool)
        table[chr(code)] = np.repeat(np.repeat(small, SCALE, axis=0), SCALE, axis=1)
    return table


def draw_text(pixels: np.ndarray, row: int, col: int, text: str) -> None:
    """Put `text` on the page with its top-left cell at (row, col) in dots."""
    table = glyphs()
    fit = max(0, min(len(text), (pixels.shape[1] - col) // CELL_W))  # whole cells on the page
    if fit == 0:
        return
    # The cells side by side, put on the page at once (they do not overlap).
    strip = np.hstack([table.get(ch, table["?"]) for ch in text[:fit]])
    pixels[row : row + CELL_H, col : col + fit * CELL_W] |= strip


# -- text reports --------------------------------------------------------------------------------
def text_pages(
    title: str, body: list[str], header: ReportHeader, paper_size: str = "letter"
) -> list[Page]:
    """Lay out `body` lines under a header on as many pages as it takes."""
    lines_per_sheet = sheet_lines(paper_size)
    per_page = (lines_per_sheet - MARGIN_TOP - MARGIN_BOTTOM) // LINE_PITCH - 4
    chunks = [body[i : i + per_page] for i in range(0, len(body), per_page)] or [[]]
    pages = []
    for n, chunk in enumerate(chunks, start=1):
        pixels = np.zeros((lines_per_sheet, STANDARD_WIDTH), dtype=bool)
        top = [
            f"*** {title} ***".ljust(COLUMNS - 12) + f"P.{n:03d}/{len(chunks):03d}",
            f"{header.when}  {header.station}  {header.number}".rstrip(),
            "-" * COLUMNS,
        ]
        for i, line in enumerate(top + [""] + chunk):
            draw_text(pixels, MARGIN_TOP + i * LINE_PITCH, MARGIN_LEFT, clean(line)[:COLUMNS])
        pages.append(Page(pixels, RESOLUTION))
    return pages


def clean(text: str) -> str:
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)


def journal_report(
    entries: Iterable[JournalEntry], header: ReportHeader, paper_size: str = "letter"
) -> list[Page]:
    """The activity report from `Journal.entries()`, oldest first. With the 2nd G3 option a PORT
    column names the port of each fax call."""
    entries = list(entries)
    ports = any(e.detail.get("port") for e in entries)
    body = [f"{'NO.':<4}{'DATE':<11}{'TIME':<6}{'MODE':<6}{'REMOTE':<21}{'PAGES':>5}  "
            f"{'TIME ON LINE':<12}  {'PORT  ' if ports else ''}RESULT"]  # fmt: skip
    for e in entries:
        date, _, time = e.when.partition(" ")
        code = f" {e.code}" if e.code else ""
        minutes, seconds = divmod(round(e.duration), 60)
        port = f"{e.detail.get('port') or '-':<6}" if ports else ""
        body.append(
            f"{e.no:03d} {date:<11}{time:<6}{e.kind:<6}{(e.remote or '-')[:20]:<21}"
            f"{e.pages:>5}  {minutes:02d}'{seconds:02d}\"{'':<6}  {port}{e.result}{code}"
        )
    if len(body) == 1:
        body.append("NO ENTRIES")
    return text_pages("ACTIVITY REPORT", body, header, paper_size)


def function_list(
    settings: Settings, header: ReportHeader, paper_size: str = "letter"
) -> list[Page]:
    """Every setting with its value as the panel shows it; secrets masked (`Setting.show`).
    Then the fax ports with their numbers, and the firmware version block (the label table's
    lines: the 2nd G3 board's version and model number, the main firmware's version)."""
    values = settings.all()
    body = [f"{'FUNCTION':<22}{'SETTING':<26}VALUE"]
    for s in SETTINGS:
        shown = s.show(values[s.key])
        unit = f" {s.unit}" if s.unit and shown else ""
        body.append(f"{s.label:<22}{s.key:<26}{shown}{unit}")
    second = values["options.second_line"] == "on"
    body += ["", "FAX PORTS", f"PORT 1  MAIN BOARD   {values['machine.number']}"]
    body.append(f"PORT 2  2ND G3 BOARD {values['machine.number2']}" if second
                else "PORT 2  NOT FITTED")  # fmt: skip
    body += ["", "FIRMWARE VERSION", *machine_block(settings)]
    return text_pages("FUNCTION LIST", body, header, paper_size)


def directory_list(
    directory: Directory, header: ReportHeader, paper_size: str = "letter"
) -> list[Page]:
    """One-touch and speed-dial entries."""
    body = [f"{'ENTRY':<16}{'NAME':<18}{'FAX / E-MAIL'}"]
    for e in directory.entries():
        body.append(f"{e.label:<16}{e.name[:16]:<18}{e.address}")
    if len(body) == 1:
        body.append("NO ENTRIES")
    return text_pages("ONE-TOUCH/SPEED-DIAL LIST", body, header, paper_size)


# -- the service test pattern ------------------------------------------------------------------------
def test_pattern(header: ReportHeader, paper_size: str = "letter") -> list[Page]:
    """A frame, a 10 mm grid, grey steps by dot density, checkerboards, diagonals, the font."""
    lines = sheet_lines(paper_size)
    width = STANDARD_WIDTH
    px = np.zeros((lines, width), dtype=bool)
    lpm = LINES_PER_MM[RESOLUTION]
    # Frame 1 mm thick, 4 mm in from the edges of the printed area.
    inset_x, inset_y, thick_x, thick_y = 32, round(4 * lpm), 8, round(lpm)
    px[inset_y : inset_y + thick_y, inset_x:-inset_x] = True
    px[lines - inset_y - thick_y : lines - inset_y, inset_x:-inset_x] = True
    px[inset_y : lines - inset_y, inset_x : inset_x + thick_x] = True
    px[inset_y : lines - inset_y, width - inset_x - thick_x : width - inset_x] = True
    # 10 mm grid of one-dot lines in the upper part.
    grid_top, grid_bottom = round(30 * lpm), round(110 * lpm)
    for x in range(inset_x + 80, width - inset_x, 80):
        px[grid_top:grid_bottom, x] = True
    for mm in range(30, 111, 10):
        px[round(mm * lpm), inset_x + 80 : width - inset_x - 80] = True
    # Ten grey steps, 0 % to 90 % dot density, as ordered-dither patterns.
    bayer = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]]) / 16.0
    steps_top, steps_bottom = round(120 * lpm), round(150 * lpm)
    step_w = (width - 2 * inset_x - 160) // 10
    for i in range(10):
        x0 = inset_x + 80 + i * step_w
        h, w = steps_bottom - steps_top, step_w
        tile = np.tile(bayer, (h // 4 + 1, w // 4 + 1))[:h, :w]
        px[steps_top:steps_bottom, x0 : x0 + w] = tile < i / 10
    # Checkerboards of 1, 2 and 4 dots, and diagonals.
    cb_top, cb_bottom = round(160 * lpm), round(200 * lpm)
    for i, size in enumerate((1, 2, 4)):
        x0 = inset_x + 80 + i * 400
        yy, xx = np.mgrid[0 : cb_bottom - cb_top, 0:360]
        px[cb_top:cb_bottom, x0 : x0 + 360] = ((yy // size + xx // size) % 2).astype(bool)
    diag_top = round(210 * lpm)
    for k in range(0, 240):
        px[diag_top + k, inset_x + 80 + k * 4 : inset_x + 84 + k * 4] = True
        px[diag_top + k, width - inset_x - 84 - k * 4 : width - inset_x - 80 - k * 4] = True
    # Heading and the whole character set.
    draw_text(px, round(12 * lpm), MARGIN_LEFT, f"*** PRINT TEST PATTERN ***  {header.when}")
    chars = "".join(chr(c) for c in range(32, 127))
    text_top = diag_top + 260
    for i in range(0, len(chars), 48):
        draw_text(px, text_top + (i // 48) * LINE_PITCH, MARGIN_LEFT, chars[i : i + 48])
    return [Page(px, RESOLUTION)]


# -- printing them ------------------------------------------------------------------------------------
class ReportPrinter:
    """FUNCTION 8's reports and the service mode's print test, into the print queue."""

    def __init__(self, panel: ControlPanel, queue: PrintQueue, settings: Settings,
                 directory: Directory, journal: Journal, log: EventLog) -> None:  # fmt: skip
        self.panel = panel
        self.queue = queue
        self.settings = settings
        self.directory = directory
        self.journal = journal
        self.log = log

    def header(self) -> ReportHeader:
        return ReportHeader(
            self.panel.clock_text(),
            self.settings.text("machine.station_name"),
            self.settings.text("machine.number"),
        )

    def pages(self, which: Report) -> list[Page]:
        header, size = self.header(), self.settings.text("paper.size")
        if which == "journal":
            return journal_report(self.journal.entries(), header, size)
        if which == "function_list":
            return function_list(self.settings, header, size)
        if which == "directory":
            return directory_list(self.directory, header, size)
        return test_pattern(header, size)

    def print(self, which: Report, home: bool = True) -> bool:
        """Queue a report; the machine goes home (unless `home` is False). False when image
        memory cannot hold it (the LCD says MEMORY FULL)."""
        title = REPORT_TITLES[which]
        if home:
            self.panel.go_home()
        try:
            self.queue.submit(self.pages(which), kind="report", title=title)
        except MemoryFull:
            self.log.emit("report", "memory_full", report=which)
            self.panel.notice(title, "MEMORY FULL")
            return False
        self.log.emit("report", "queued", report=which)
        return True

    def text_report(self, title: str, body: list[str], label: str, report: str,
                    **fields: object) -> None:  # fmt: skip
        """A report a unit makes (the transmission report), into the print queue."""
        sheets = text_pages(title, body, self.header(), self.settings.text("paper.size"))
        try:
            self.queue.submit(sheets, kind="report", title=label)
        except MemoryFull:
            self.log.emit("report", "memory_full", report=report)
            return
        self.log.emit("report", "queued", report=report, **fields)
