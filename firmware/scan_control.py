"""Scan control: feeds documents through the ADF, reads them with the CIS, makes bilevel pages.

It works only through the feeder's and the CIS's signals: motor, pick-up clutch, lamp, the
sensor interrupts and the band interrupts. Trouble is found from the sensors by timeouts:
- the document does not reach the registration sensor in time (a misfeed),
- it does not reach the exit sensor in time (stuck inside),
- the registration sensor stays covered longer than the longest document (`max_document_mm`),
- it does not leave the exit sensor in time (stuck at the exit).
Each is DOCUMENT JAM: the motor stops, the page being read is dropped, and when the operator has
cleared the path (cover opened and closed, path sensors clear) scanning resumes with that same
document, so nothing is lost or doubled. A page counts as scanned only once its document has left
the exit sensor. A document the CIS cannot read is CHECK DOCUMENT: it is fed out, reported, and
scanning goes on with the next.

Image processing: contrast moves the black/white threshold; photo renders greys by error
diffusion (Floyd-Steinberg, over the whole page so the error flows across bands); the
resolution sets the line density (motor steps per mm).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from PIL import Image

from estudio190f.hw.board import Board
from estudio190f.hw.document import Sheet
from estudio190f.hw.scanner import EXIT_MM, LINE_PERIOD, REGISTRATION_MM, ScanBand

from .page import LINES_PER_MM, Page
from .sensor_watch import TIMEOUT_FACTOR, SensorWatch

# A grey level below the threshold is black. LIGHT keeps only darker marks; DARK takes in
# lighter ones (pencil, faint print).
THRESHOLDS = {"light": 96, "normal": 128, "dark": 168}
# Photo: brightness added before error diffusion.
PHOTO_SHIFT = {"light": 40, "normal": 0, "dark": -40}
MAX_DOCUMENT_MM = 1000.0  # longest original (not in the sources; project choice, docs/paper.md)

ALERT_SOURCE = "scanner"
DOCUMENT_JAM = "DOCUMENT JAM"
CHECK_DOCUMENT = "CHECK DOCUMENT"


def mm_time(distance_mm: float, lines_per_mm: float) -> int:
    """Clock ticks the feeder takes to move a document `distance_mm` at a line density."""
    return round(distance_mm * lines_per_mm * LINE_PERIOD)


def binarize(grey: np.ndarray, contrast: str) -> np.ndarray:
    """Text and line art: black where the grey level is below the contrast's threshold."""
    return grey < THRESHOLDS[contrast]


def error_diffuse(grey: np.ndarray, contrast: str) -> np.ndarray:
    """Photo: greys as dot density (Floyd-Steinberg error diffusion), True = black."""
    shifted = np.clip(grey.astype(np.int16) + PHOTO_SHIFT[contrast], 0, 255).astype(np.uint8)
    dithered = Image.fromarray(shifted).convert("1", dither=Image.Dither.FLOYDSTEINBERG)
    return ~np.asarray(dithered, dtype=bool)


class ScanControl(SensorWatch):
    """The feeder's controller. One scan run at a time: `start`, then callbacks until done."""

    def __init__(self, board: Board, max_document_mm: float = MAX_DOCUMENT_MM) -> None:
        super().__init__(board, ALERT_SOURCE, "scan-watchdog")
        self.feeder = board.feeder
        self.cis = board.scanner
        self.max_document_mm = max_document_mm
        self.state = "idle"  # idle | feeding | jammed | ejecting
        self.resolution = "standard"
        self.contrast = "normal"
        self._on_page: Callable[[Page, Sheet], bool] | None = None
        self._on_done: Callable[[str], None] | None = None
        self._on_problem: Callable[[Sheet, str], None] | None = None
        self._stopping = False
        self._expect: dict[tuple[str, bool], int] = {}
        self._bands: list[np.ndarray] = []
        self._problem: str | None = None
        self._sheet: Sheet | None = None  # the document being read (as the CIS reports it)
        self._in_path = False  # a document was picked and has not left the exit sensor
        self._end_reason = "stopped"
        self.pages_scanned = 0
        self._listen(self.feeder.sensor_listeners, self._on_sensor)
        self._listen(self.cis.band_listeners, self._on_band)
        self._listen(board.power.changed, self._on_power)

    # -- the job's side ----------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.state != "idle"

    @property
    def lines_per_mm(self) -> float:
        return LINES_PER_MM[self.resolution]

    def start(
        self,
        resolution: str,
        contrast: str,
        on_page: Callable[[Page, Sheet], bool],
        on_done: Callable[[str], None],
        on_problem: Callable[[Sheet, str], None] | None = None,
    ) -> None:
        """Scan every document in the feeder.

        `on_page(page, sheet)` gets each page once its document is out; it returns False to stop
        after it (memory full). `on_problem(sheet, reason)` hears of each unreadable document.
        `on_done(reason)` ends the run: "done" (feeder empty), "stopped" (on_page said so),
        "cancelled" (`cancel()`).
        """
        if self.busy:
            raise RuntimeError("the scanner is busy")
        if resolution not in LINES_PER_MM or contrast not in THRESHOLDS:
            raise ValueError(f"bad resolution {resolution!r} or contrast {contrast!r}")
        self.resolution, self.contrast = resolution, contrast
        self._on_page, self._on_done, self._on_problem = on_page, on_done, on_problem
        self._stopping = False
        self._end_reason = "stopped"
        self.state = "feeding"
        self.log.emit("scan", "start", resolution=resolution, contrast=contrast)
        if self.check_path():
            return
        self._next_document()

    def cancel(self) -> None:
        """STOP: the document in the path is fed out unread; the rest stay in the feeder."""
        if self.state == "idle":
            return
        self.log.emit("scan", "cancel", state=self.state)
        if self.state == "feeding" and self._in_path:
            self._stopping = True
            self._end_reason = "cancelled"
            self.state = "ejecting"
            self.cis.lamp(False)
            self._bands = []
            return
        self._finish("cancelled")

    def check_path(self) -> bool:
        """A document left in the path (after a power cut) is a jam until the operator clears it."""
        if self.feeder.registration or self.feeder.exit:
            self._jam("left in the path")
            return True
        return False

    # -- feeding -------------------------------------------------------------------------------
    def _next_document(self) -> None:
        feeder = self.feeder
        self._bands, self._problem, self._sheet = [], None, None
        if self._stopping:
            return self._finish(self._end_reason)
        if not feeder.document_set:
            return self._finish("done")
        feeder.set_motor(True, self.lines_per_mm)
        self.cis.lamp(True)
        if not feeder.pick():
            # The cover is open or the path is not clear: wait for the operator.
            return self._jam("cannot pick")
        self._in_path = True
        self._expect_edge("registration", True, REGISTRATION_MM)

    def _expect_edge(
        self, sensor: str, state: bool, distance_mm: float, factor: float = TIMEOUT_FACTOR
    ) -> None:
        expected = mm_time(distance_mm, self.lines_per_mm)
        self._expect[(sensor, state)] = self._late_at(expected, factor)
        self._arm()

    def _dues(self) -> Iterable[int]:
        return self._expect.values()

    def _late(self) -> None:
        now = self.board.clock.now
        late = [edge for edge, due in self._expect.items() if due <= now]
        if not late:
            return self._arm()
        sensor, state = min(late, key=lambda e: self._expect[e])
        stage = {
            ("registration", True): "did not arrive (misfeed)",
            ("exit", True): "stuck inside",
            ("registration", False): "longer than the limit or stuck",
            ("exit", False): "stuck at the exit",
        }[(sensor, state)]
        self._jam(stage)

    def _on_sensor(self, sensor: str, state: bool) -> None:
        if self.alert is not None:
            if sensor == "cover" and state and not (self.feeder.registration or self.feeder.exit):
                self._jam_cleared()
            return
        if self.state not in ("feeding", "ejecting"):
            return
        self._expect.pop((sensor, state), None)
        if sensor == "registration" and state:
            self._expect_edge("exit", True, EXIT_MM - REGISTRATION_MM)
            # The length limit is a limit: no slack beyond the margin.
            self._expect_edge("registration", False, self.max_document_mm, factor=1.0)
        elif sensor == "registration" and not state:
            self._expect_edge("exit", False, EXIT_MM - REGISTRATION_MM)
        elif sensor == "exit" and not state:
            self._document_out()
            return
        self._arm()

    def _on_band(self, band: ScanBand) -> None:
        if self.state != "feeding":
            return
        self._sheet = band.sheet
        if band.problem is not None:
            self._problem = band.problem
            return
        if self.resolution == "photo":
            self._bands.append(band.lines)
        else:
            self._bands.append(binarize(band.lines, self.contrast))

    def _document_out(self) -> None:
        sheet, problem, bands = self._sheet, self._problem, self._bands
        self._bands, self._sheet, self._in_path = [], None, False
        self._expect.clear()
        self._arm()
        if self.state == "ejecting" or sheet is None:
            return self._next_document()
        if problem is not None:
            self.log.emit("scan", "check_document", document=sheet.name, reason=problem)
            if self._on_problem is not None:
                self._on_problem(sheet, problem)
            return self._next_document()
        page = self._page(bands)
        self.pages_scanned += 1
        self.log.emit("scan", "page", document=sheet.name, lines=page.lines,
                      resolution=page.resolution)  # fmt: skip
        go_on = self._on_page(page, sheet) if self._on_page is not None else True
        if not go_on:
            self._stopping = True
        if self.state == "feeding":
            self._next_document()

    def _page(self, bands: list[np.ndarray]) -> Page:
        if not bands:
            return Page.blank(1, resolution=self.resolution)
        if self.resolution == "photo":
            pixels = error_diffuse(np.concatenate(bands), self.contrast)
        else:
            pixels = np.concatenate(bands)
        return Page(pixels, self.resolution)

    # -- jams ------------------------------------------------------------------------------------
    def _jam(self, stage: str) -> None:
        self._stop_feeding()
        self._bands = []
        was_ejecting = self.state == "ejecting"
        self.state = "jammed"
        self._stopping = self._stopping or was_ejecting
        self.log.emit("scan", "jam", stage=stage,
                      document=self._sheet.name if self._sheet else "")  # fmt: skip
        self._set_alert(DOCUMENT_JAM)

    def _jam_cleared(self) -> None:
        self.log.emit("scan", "jam_cleared")
        self._set_alert(None)
        self._in_path = False
        if self.state != "jammed":
            return
        if self._on_done is None:  # found at power-on, no scan run waiting
            self.state = "idle"
            return
        self.state = "feeding"
        self._next_document()

    # -- end -------------------------------------------------------------------------------------
    def _finish(self, reason: str) -> None:
        self._stop_feeding()
        self.state = "idle"
        self._sheet = None
        self._in_path = False
        self.log.emit("scan", "end", reason=reason, pages=self.pages_scanned)
        done, self._on_done = self._on_done, None
        self._on_page = self._on_problem = None
        if done is not None:
            done(reason)

    def _stop_feeding(self) -> None:
        """Motor and lamp off; no sensor edge is awaited any more."""
        self.feeder.set_motor(False)
        self.cis.lamp(False)
        self._expect.clear()
        self._arm()

    def _on_power(self, on: bool) -> None:
        if not on:
            # RAM is gone: the run is forgotten (its owner hears of the power cut itself).
            self._expect.clear()
            self._watchdog = None
            self.state = "idle"
            self._on_page = self._on_done = self._on_problem = None
            self._bands, self._sheet = [], None
            self._set_alert(None)
