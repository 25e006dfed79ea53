"""The automatic document feeder (ADF) and the contact image sensor (CIS) that reads documents.

Signals the firmware uses (nothing else):
- feeder: `set_motor(on, lines_per_mm)` (one motor step per scan line), `pick()` (the pick-up
  clutch takes the top document into the path), sensors `document_set`, `registration`, `exit`,
  `cover_closed`, and `sensor_listeners` called on every sensor edge (the interrupt lines);
- CIS: `lamp(on)`, and `band_listeners` called with each band of grey lines read (the DMA
  interrupt). One CIS line is 1728 grey samples across 216 mm (8 pels/mm).

Paper moves one scan line per `LINE_PERIOD`, so the transport speed follows the line density:
104 mm/s at standard (3.85 lines/mm), 52 mm/s at fine, 26 mm/s at super fine. Lines are read one
at a time in effect, but the model wakes up only at sensor edges and at the end of each band of
`BAND_LINES` lines: a page costs a few dozen clock events, not thousands.

Path geometry (mm of travel from the pick-up roller): registration sensor, then the read line of
the CIS, then the exit sensor; a document is in the output tray when its trailing edge has passed
the exit sensor. Only one document is in the path at a time.

The fault `adf.jam` stops the next document that moves at the stage in `jam_stage`; `clear
adf.jam` is the operator's fix: the cover is opened, the document taken out of the path and put
back on top of the stack, the cover closed.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from .clock import US, Clock, Timer
from .document import MAX_WIDTH_MM, Sheet
from .eventlog import EventLog
from .faults import FaultRegistry
from .listeners import Listeners
from .power import PowerSupply
from .sensors import SensorEdges

PELS_PER_MM = 8
SCAN_PELS = 1728  # 216 mm at 8 pels/mm (T.4 A4/Letter width)
LINE_PERIOD = 2500 * US  # CIS line time; one motor step per line
BAND_LINES = 256  # lines per band interrupt

REGISTRATION_MM = 25.0  # pick-up nip to the registration (document-in) sensor
READ_LINE_MM = 35.0  # ... to the CIS read line
EXIT_MM = 75.0  # ... to the exit sensor

JAM_STAGES = ("pickup", "inside", "exit")


class FeederFull(ValueError):
    """More documents than the feeder holds; nothing was loaded."""


@dataclass
class ScanBand:
    """Lines just read by the CIS: grey levels, 0 black .. 255 white, shape (lines, 1728).

    For a document the CIS cannot read (`problem` set) one band with no lines comes instead.
    """

    sheet: Sheet
    lines: np.ndarray
    problem: str | None = None


def lines_for(sheet: Sheet, lines_per_mm: float) -> int:
    """Scan lines the CIS reads over the length of `sheet` at a line density."""
    return max(1, round(sheet.length_mm * lines_per_mm))


def sample_lines(sheet: Sheet, lines_per_mm: float, first: int, last: int) -> np.ndarray:
    """What the CIS sees for lines [first, last): each sample averages the paper it covers."""
    count = last - first
    out = np.full((count, SCAN_PELS), 255, dtype=np.uint8)
    width_mm = min(sheet.width_mm, MAX_WIDTH_MM)
    out_cols = min(SCAN_PELS, max(1, round(width_mm * PELS_PER_MM)))
    left = (SCAN_PELS - out_cols) // 2
    rows_per_mm = sheet.rows / sheet.length_mm
    y0 = first / lines_per_mm * rows_per_mm
    y1 = last / lines_per_mm * rows_per_mm
    if y0 >= sheet.rows:
        return out
    # Lines past the paper's end read white: resample only the part on paper.
    on_paper = count if y1 <= sheet.rows else max(1, round((sheet.rows - y0) / (y1 - y0) * count))
    y1 = min(y1, float(sheet.rows))
    r0, r1 = int(math.floor(y0)), min(sheet.rows, int(math.ceil(y1)))
    # A sheet wider than the read width (only by rounding here) shows its middle.
    x_span = sheet.cols * min(1.0, MAX_WIDTH_MM / sheet.width_mm)
    x0 = (sheet.cols - x_span) / 2
    at_pitch = sheet.mode == "1" and x0 == 0 and x_span == out_cols == sheet.cols
    if at_pitch and _optics().AVAILABLE:
        # Black and white at the read line's own pel pitch: only rows are averaged (the same
        # grey levels as Pillow's, computed on the packed bits).
        last_row = min(sheet.rows, max(r1, r0 + 1))
        if _optics().box_rows(sheet.data, sheet.stride, sheet.cols, r0, y0 - r0, y1 - r0,
                              last_row - r0, out[:on_paper, left : left + out_cols]):  # fmt: skip
            return out
    band = sheet.band_image(r0, r1).convert("L")
    seen = band.resize(
        (out_cols, on_paper), Image.Resampling.BOX, box=(x0, y0 - r0, x0 + x_span, y1 - r0)
    )
    out[:on_paper, left : left + out_cols] = np.asarray(seen)
    return out


def _optics() -> Any:
    """`hw.cis_optics`, imported when the first band is read (it loads numba)."""
    from . import cis_optics

    return cis_optics


class _Travel:
    """The document in the path: where its leading edge is, and what happens next."""

    def __init__(self, sheet: Sheet, lines_per_mm: float) -> None:
        self.sheet = sheet
        self.lines_per_mm = lines_per_mm
        total_lines = lines_for(sheet, lines_per_mm) if sheet.readable else 0
        length = sheet.length_mm
        self.pos = 0.0  # leading edge, mm past the pick-up nip
        self.stall_at: float | None = None
        marks: list[tuple[float, int, str, int]] = [
            (REGISTRATION_MM, 0, "registration_on", 0),
            (READ_LINE_MM, 1, "read_start", 0),
            (EXIT_MM, 2, "exit_on", 0),
            (REGISTRATION_MM + length, 3, "registration_off", 0),
            (EXIT_MM + length, 5, "exit_off", 0),
        ]
        done = 0
        while done < total_lines:
            done = min(done + BAND_LINES, total_lines)
            marks.append((READ_LINE_MM + done / lines_per_mm, 4, "band", done))
        marks.sort()
        self.marks = marks
        self.next_mark = 0
        self.lines_read = 0

    @property
    def mm_per_tick(self) -> float:
        return (1.0 / self.lines_per_mm) / LINE_PERIOD


class DocumentFeeder:
    """The ADF: tray, pick-up, transport and its sensors; registers the `adf.jam` fault."""

    def __init__(
        self,
        clock: Clock,
        log: EventLog,
        power: PowerSupply,
        faults: FaultRegistry,
        capacity: int = 30,
    ) -> None:
        self.clock = clock
        self.log = log
        self.power = power
        self.capacity = capacity
        self.tray: deque[Sheet] = deque()
        self.out_tray: list[Sheet] = []  # documents that went through
        self.travel: _Travel | None = None
        self.motor_on = False
        self.lines_per_mm = 3.85
        self.cover_closed = True
        self.jam_stage = "inside"
        self._jam_pending = False
        self._moving_since = 0
        self._timer: Timer | None = None
        self._sensor_edges_bus = SensorEdges(log, "adf")
        self.sensor_listeners = self._sensor_edges_bus.listeners
        self.cis: CisScanner | None = None
        faults.register("adf.jam", self._fault_set, self._fault_clear)
        power.changed.add(self._on_power)

    # -- the operator's side -----------------------------------------------------------------
    def load(self, sheets: Iterable[Sheet]) -> int:
        """Put documents in the tray, under those already there. Refuses what does not fit."""
        new = list(sheets)
        if len(self.tray) + len(new) > self.capacity:
            raise FeederFull(
                f"the feeder holds {self.capacity} documents; it has {len(self.tray)}, "
                f"{len(new)} more do not fit"
            )
        was_set = self.document_set
        self.tray.extend(new)
        self.log.emit("adf", "load", documents=len(new), in_tray=len(self.tray),
                      unreadable=sum(1 for s in new if not s.readable))  # fmt: skip
        if not was_set and self.document_set:
            self._notify("document_set", True)
        return len(new)

    # -- sensors -------------------------------------------------------------------------------
    @property
    def document_set(self) -> bool:
        return bool(self.tray)

    @property
    def registration(self) -> bool:
        t = self._position()
        return t is not None and t[0] >= REGISTRATION_MM > t[1]

    @property
    def exit(self) -> bool:
        t = self._position()
        return t is not None and t[0] >= EXIT_MM > t[1]

    def sensors(self) -> dict[str, bool]:
        return {"document_set": self.document_set, "registration": self.registration,
                "exit": self.exit, "cover": self.cover_closed}  # fmt: skip

    def _position(self) -> tuple[float, float] | None:
        travel = self.travel
        if travel is None:
            return None
        pos = self._current_pos(travel)
        return pos, pos - travel.sheet.length_mm

    # -- signals from the firmware ---------------------------------------------------------------
    def set_motor(self, on: bool, lines_per_mm: float | None = None) -> None:
        if lines_per_mm is not None:
            self.lines_per_mm = lines_per_mm
        if on == self.motor_on or (on and not self.power.on):
            return
        if not on:
            self._halt()
        self.motor_on = on
        self.log.emit("adf", "motor", on=on, lines_per_mm=self.lines_per_mm)
        if on:
            self._move()

    def pick(self) -> bool:
        """Engage the pick-up clutch: the top document enters the path. False if it cannot."""
        if self.travel is not None or not self.tray or not self.cover_closed:
            return False
        sheet = self.tray.popleft()
        travel = _Travel(sheet, self.lines_per_mm)
        if self._jam_pending:
            self._jam_pending = False
            travel.stall_at = self._jam_point(travel, self.jam_stage)
        self.travel = travel
        self.log.emit("adf", "pick", document=sheet.name, in_tray=len(self.tray))
        if not self.tray:
            self._notify("document_set", False)
        if self.motor_on:
            self._move()
        return True

    # -- motion --------------------------------------------------------------------------------
    def _current_pos(self, travel: _Travel) -> float:
        if self._timer is None:  # not moving
            return travel.pos
        pos = travel.pos + (self.clock.now - self._moving_since) * travel.mm_per_tick
        return min(pos, travel.stall_at) if travel.stall_at is not None else pos

    def _move(self) -> None:
        travel = self.travel
        if travel is None or not self.motor_on or self._timer is not None:
            return
        self._moving_since = self.clock.now
        self._schedule(travel)

    def _schedule(self, travel: _Travel) -> None:
        target: float | None = None
        if travel.next_mark < len(travel.marks):
            target = travel.marks[travel.next_mark][0]
        if travel.stall_at is not None and (target is None or travel.stall_at < target):
            target = travel.stall_at
        if target is None:
            return
        ticks = max(0, math.ceil((target - travel.pos) / travel.mm_per_tick - 1e-9))
        self._moving_since = self.clock.now
        self._timer = self.clock.call_later(ticks, self._arrive, travel, target, label="adf")

    def _arrive(self, travel: _Travel, pos: float) -> None:
        self._timer = None
        if travel is not self.travel:
            return
        travel.pos = pos
        if travel.stall_at is not None and pos >= travel.stall_at:
            # The document is stuck: the rollers turn, the paper does not move.
            self.log.emit("adf", "stuck", document=travel.sheet.name, at_mm=round(pos, 1))
            return
        kind, arg = travel.marks[travel.next_mark][2:]
        travel.next_mark += 1
        self._mark(travel, kind, arg)
        if travel is self.travel and self.motor_on and self._timer is None:
            self._moving_since = self.clock.now
            self._schedule(travel)

    def _mark(self, travel: _Travel, kind: str, arg: int) -> None:
        if kind == "registration_on":
            self._notify("registration", True)
        elif kind == "registration_off":
            self._notify("registration", False)
        elif kind == "exit_on":
            self._notify("exit", True)
        elif kind == "exit_off":
            self.travel = None
            if travel.stall_at is not None:
                self._jam_pending = True  # it got out before the jam struck: the next one
            self.out_tray.append(travel.sheet)
            self.log.emit("adf", "out", document=travel.sheet.name)
            self._notify("exit", False)
        elif kind == "read_start":
            if self.cis is not None and not travel.sheet.readable:
                self.cis.unreadable(travel)
        elif kind == "band" and self.cis is not None:
            self.cis.read(travel, travel.lines_read, arg)
            travel.lines_read = arg

    def _halt(self) -> None:
        """The motor stops: the document stays where it is."""
        travel = self.travel
        if travel is not None and self._timer is not None:
            travel.pos = self._current_pos(travel)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- faults and power ------------------------------------------------------------------------
    @staticmethod
    def _jam_point(travel: _Travel, stage: str) -> float:
        if stage == "pickup":  # a misfeed: never reaches the registration sensor
            return REGISTRATION_MM - 10.0
        if stage == "exit":  # caught with its tail between the registration and exit sensors
            return EXIT_MM - 5.0 + travel.sheet.length_mm
        return (READ_LINE_MM + EXIT_MM) / 2  # inside: past the read line, short of the exit

    def _fault_set(self) -> None:
        if self.jam_stage not in JAM_STAGES:
            raise ValueError(f"jam_stage must be one of {JAM_STAGES}")
        travel = self.travel
        if travel is not None and travel.stall_at is None and self._timer is not None:
            # A document on the move is the next one that moves: it stops at the stage's
            # point, or just ahead of where it is if it is past that point already.
            pos = self._current_pos(travel)
            point = self._jam_point(travel, self.jam_stage)
            self._halt()
            travel.stall_at = point if point > pos else pos + 5.0
            self._move()
        else:
            self._jam_pending = True

    def _fault_clear(self) -> None:
        self._jam_pending = False
        self.cover_closed = False
        self._notify("cover", False)
        travel = self.travel
        if travel is not None:
            self._halt()
            covered = {"registration": self.registration, "exit": self.exit}
            self.travel = None
            self.tray.appendleft(travel.sheet)
            self.log.emit("adf", "taken_out", document=travel.sheet.name, back_on_tray=True)
            for sensor, was_on in covered.items():
                if was_on:
                    self._notify(sensor, False)
            if len(self.tray) == 1:
                self._notify("document_set", True)
        self.cover_closed = True
        self._notify("cover", True)

    def _on_power(self, on: bool) -> None:
        if not on:
            self._halt()
            self.motor_on = False
            if self.cis is not None:
                self.cis.lamp_on = False

    def _notify(self, sensor: str, state: bool) -> None:
        self._sensor_edges_bus.notify(sensor, state)


class CisScanner:
    """The contact image sensor at the read line, fed by `feeder`."""

    def __init__(self, power: PowerSupply, feeder: DocumentFeeder) -> None:
        self.power = power
        self.lamp_on = False
        self.band_listeners: Listeners[[ScanBand]] = Listeners()
        feeder.cis = self

    def lamp(self, on: bool) -> None:
        self.lamp_on = bool(on) and self.power.on

    def read(self, travel: _Travel, first: int, last: int) -> None:
        if not self.lamp_on or last <= first:
            return
        lines = sample_lines(travel.sheet, travel.lines_per_mm, first, last)
        self.band_listeners(ScanBand(travel.sheet, lines))

    def unreadable(self, travel: _Travel) -> None:
        if not self.lamp_on:
            return
        empty = np.zeros((0, SCAN_PELS), dtype=np.uint8)
        self.band_listeners(ScanBand(travel.sheet, empty, travel.sheet.problem))
