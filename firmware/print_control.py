"""Print control: lays pages out on sheets and moves them through the printer by its signals.

It drives the engine only through its motor, its pick-up clutch and its sensors. Sheets are
pipelined: the next is picked once the previous one's trailing edge has passed the registration
sensor. Every sheet in the path has its expected sensor edges; one that comes late is a jam:
- at pick-up: the pick-up sensor is not reached (a misfeed),
- inside: the registration or exit sensor is not reached or not left in time,
- at the exit: the exit sensor is not left in time.
PAPER JAM stops the motor; every sheet not yet delivered goes back to the source to be printed
again once the operator has cleared the path (cover opened and closed, path sensors clear):
nothing lost, nothing doubled. An empty cassette is NO PAPER (sheets already in the path finish);
an open cover is COVER OPEN (the interlock stops the motor; the operator takes the sheets out of
the path, they are printed again). The engine must be warm before the first pick.

Layout (`layout`): pages come at their own line density and go onto the engine's 8 x 7.7 dots/mm
grid; a page longer than the sheet is reduced to fit or continued on further sheets
(`paper.long_page`); a continuation that would be blank is not printed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

from estudio190f.hw.board import Board
from estudio190f.hw.clock import SECOND, Timer
from estudio190f.hw.printer import (
    PAPER_SIZES_MM,
    PROCESS_SPEED_MM_S,
    RASTER_DOTS,
    SENSOR_POSITIONS,
    sheet_lines,
)

from .page import Page
from .sensor_watch import SensorWatch

MOTOR_RUN_ON = 1 * SECOND  # the motor runs on this long after the last sheet, then stops

ALERT_SOURCE = "printer"
PAPER_JAM = "PAPER JAM"
NO_PAPER = "NO PAPER"
COVER_OPEN = "COVER OPEN"

# Which expected edge, when late, is a jam where.
_STAGE = {
    ("pickup_sensor", True): "pick-up",
    ("registration_sensor", True): "inside",
    ("pickup_sensor", False): "inside",
    ("registration_sensor", False): "inside",
    ("exit_sensor", True): "inside",
    ("exit_sensor", False): "exit",
}


# -- layout ------------------------------------------------------------------------------------
def to_engine_grid(page: Page) -> np.ndarray:
    """The page at 1728 dots across and 7.7 lines/mm down, the engine's grid."""
    pixels = page.pixels
    if pixels.shape[1] != RASTER_DOTS:
        # Wider pages (B4, A3 widths) are reduced across; narrower ones are centred.
        cols = pixels.shape[1]
        if cols > RASTER_DOTS:
            pick = (np.arange(RASTER_DOTS) * cols) // RASTER_DOTS
            pixels = pixels[:, pick]
        else:
            wide = np.zeros((pixels.shape[0], RASTER_DOTS), dtype=bool)
            left = (RASTER_DOTS - cols) // 2
            wide[:, left : left + cols] = pixels
            pixels = wide
    if page.resolution == "standard":
        return np.repeat(pixels, 2, axis=0)
    if page.resolution == "superfine":
        # Two super-fine lines make one printed line; black wins, so thin lines stay.
        if pixels.shape[0] % 2:
            pixels = np.vstack([pixels, np.zeros((1, pixels.shape[1]), dtype=bool)])
        return pixels[0::2] | pixels[1::2]
    return pixels


def layout(page: Page, paper_size: str, long_page: str = "reduce") -> list[np.ndarray]:
    """The rasters of the sheets `page` prints on: one, or more when continued."""
    grid = to_engine_grid(page)
    lines = sheet_lines(paper_size)
    if grid.shape[0] <= lines:
        return [_pad(grid, lines)]
    if long_page == "reduce":
        # Reduce down the page only (the width fits already): drop lines evenly.
        keep = ((np.arange(lines) + 0.5) * grid.shape[0] / lines).astype(np.int64)
        return [grid[keep]]
    sheets = [grid[start : start + lines] for start in range(0, grid.shape[0], lines)]
    while len(sheets) > 1 and not sheets[-1].any():
        sheets.pop()
    return [_pad(s, lines) for s in sheets]


def _pad(raster: np.ndarray, lines: int) -> np.ndarray:
    if raster.shape[0] == lines:
        return raster
    out = np.zeros((lines, raster.shape[1]), dtype=bool)
    out[: raster.shape[0]] = raster
    return out


# -- what the controller prints ----------------------------------------------------------------
@dataclass(frozen=True)
class SheetLabel:
    """What a sheet is: which print job, which unit of it (copy x page, from 0), which page and
    copy (from 1), and which part of a page continued on several sheets (from 1, of `parts`)."""

    job: str
    unit: int
    page: int
    copy: int
    part: int
    parts: int

    def fields(self) -> dict[str, object]:
        """As the event log and the printed sheet record it."""
        return asdict(self)


@dataclass
class SheetOrder:
    """One sheet to print: its raster and what it is."""

    raster: np.ndarray
    label: SheetLabel


class SheetSource(Protocol):
    """Where sheets come from (the print queue). Deliveries happen in the order of picking."""

    def pending(self) -> bool:
        """Whether a sheet is waiting to be printed."""
        ...

    def next_sheet(self) -> SheetOrder | None: ...

    def delivered(self, order: SheetOrder) -> None: ...

    def returned(self, orders: list[SheetOrder]) -> None:
        """These were taken out of the path unprinted; give them again, first."""
        ...


@dataclass
class _Flight:
    order: SheetOrder
    expect: dict[tuple[str, bool], int]


class PrintControl(SensorWatch):
    def __init__(self, board: Board) -> None:
        super().__init__(board, ALERT_SOURCE, "print-watchdog")
        self.clock = board.clock
        self.engine = board.printer
        self.source: SheetSource | None = None
        self.state = "idle"  # idle | printing | waiting | jammed
        self.in_flight: list[_Flight] = []
        self._run_on: Timer | None = None
        self._listen(self.engine.sensor_listeners, self._on_sensor)
        self._listen(board.power.changed, self._on_power)

    # -- the source's side -------------------------------------------------------------------
    def attach_source(self, source: SheetSource) -> None:
        self.source = source

    def kick(self) -> None:
        """Work may be waiting: print it when the engine can."""
        if self.board.powered:
            self._pump()

    def check_path(self) -> bool:
        """At power-on: paper left in the path is a jam, an open cover is reported."""
        engine = self.engine
        if not engine.cover_closed:
            self._set_alert(COVER_OPEN)
            self.state = "waiting"
            return True
        if engine.pickup_sensor or engine.registration_sensor or engine.exit_sensor:
            self._jam("left in the path")
            return True
        return False

    # -- printing ------------------------------------------------------------------------------
    def _pump(self) -> None:
        engine = self.engine
        if self.state == "jammed" or not self.board.powered:
            return
        if not engine.cover_closed:
            self.state = "waiting"
            self._set_alert(COVER_OPEN)
            return
        if self.alert == COVER_OPEN:
            self._set_alert(None)
        if not engine.warmed_up:
            self.state = "waiting"  # the warm-up edge comes back here
            return
        if self.in_flight and self.in_flight[-1].expect.get(("registration_sensor", False)):
            return  # the last sheet picked is not clear of the pick-up area yet
        source = self.source
        if source is None or not source.pending():
            if self.alert == NO_PAPER:
                self._set_alert(None)  # nothing waits for paper any more
            if not self.in_flight:
                self._idle()
            return
        if not engine.paper_present:
            self.state = "waiting"
            self._set_alert(NO_PAPER)
            return
        if self.alert == NO_PAPER:
            self._set_alert(None)
        self._cancel_run_on()
        self.state = "printing"
        engine.set_motor(True)
        order = source.next_sheet()
        if order is None:
            return
        if not engine.pick(order.raster, order.label.fields()):
            source.returned([order])
            self.state = "waiting"
            return
        self.in_flight.append(_Flight(order, self._expectations()))
        self.log.emit("print", "pick", **order.label.fields())
        self._arm()

    def _expectations(self) -> dict[tuple[str, bool], int]:
        """When each sensor edge of a sheet picked now is late: its leading edge reaches each
        sensor, its trailing edge leaves it one sheet length later."""
        length = PAPER_SIZES_MM[self.engine.paper_size][1]
        reached = {(sensor, True): mm for sensor, mm in SENSOR_POSITIONS.items()}
        left = {(sensor, False): mm + length for sensor, mm in SENSOR_POSITIONS.items()}
        return {
            edge: self._late_at(mm / PROCESS_SPEED_MM_S * SECOND)
            for edge, mm in (reached | left).items()
        }

    def _on_sensor(self, sensor: str, state: bool) -> None:
        if sensor == "cover_closed":
            return self._on_cover(state)
        if sensor == "warmed_up" or (sensor == "paper_present" and state):
            return self._pump()
        if sensor not in SENSOR_POSITIONS:
            return
        edge = (sensor, state)
        for flight in self.in_flight:
            if edge in flight.expect:
                del flight.expect[edge]
                break
        else:
            return  # an edge of a sheet already given up (taken out of the path)
        if edge == ("exit_sensor", False):
            self._delivered(flight)
        self._arm()
        if edge == ("registration_sensor", False):
            self._pump()

    def _delivered(self, flight: _Flight) -> None:
        self.in_flight.remove(flight)
        self.log.emit("print", "delivered", **flight.order.label.fields())
        if self.source is not None:
            self.source.delivered(flight.order)
        self._pump()

    def _dues(self) -> Iterable[int]:
        return (due for f in self.in_flight for due in f.expect.values())

    def _late(self) -> None:
        now = self.clock.now
        late = [(due, edge) for f in self.in_flight for edge, due in f.expect.items() if due <= now]
        if not late:
            return self._arm()
        _, (sensor, state) = min(late)
        if state and getattr(self.engine, sensor):
            # The sensor a sheet should reach is still covered: the sheet ahead did not leave.
            state = False
        self._jam(_STAGE[(sensor, state)])

    def _idle(self) -> None:
        self.state = "idle"
        if self.engine.motor_on and self._run_on is None:
            self._run_on = self.timers.call_later(
                MOTOR_RUN_ON, self._stop_motor, label="print-run-on"
            )

    def _stop_motor(self) -> None:
        self._run_on = None
        if not self.in_flight:
            self.engine.set_motor(False)

    def _cancel_run_on(self) -> None:
        if self._run_on is not None:
            self._run_on.cancel()
            self._run_on = None

    # -- faults ----------------------------------------------------------------------------------
    def _give_back(self) -> list[SheetOrder]:
        orders = [f.order for f in self.in_flight]
        self.in_flight = []
        self._arm()
        if orders and self.source is not None:
            self.source.returned(orders)
        return orders

    def _jam(self, stage: str) -> None:
        self.engine.set_motor(False)
        self._cancel_run_on()
        back = self._give_back()
        self.state = "jammed"
        self.log.emit("print", "jam", stage=stage, reprint=len(back))
        self._set_alert(PAPER_JAM)

    def _on_cover(self, closed: bool) -> None:
        if not closed:
            # The interlock has stopped the motor; the operator takes out what is in the path.
            self._cancel_run_on()
            back = self._give_back()
            if back:
                self.log.emit("print", "cover_open", reprint=len(back))
            if self.state != "jammed":
                self.state = "waiting"
                self._set_alert(COVER_OPEN)
            return
        engine = self.engine
        if engine.pickup_sensor or engine.registration_sensor or engine.exit_sensor:
            self._jam("left in the path")
            return
        if self.state == "jammed":
            self.log.emit("print", "jam_cleared")
        self.state = "idle"
        self._set_alert(None)
        self._pump()

    def _on_power(self, on: bool) -> None:
        if not on:
            # RAM is gone: what was in flight is forgotten; the queue restarts from NVRAM.
            self.in_flight = []
            self._watchdog = self._run_on = None
            self.state = "idle"
            self._set_alert(None)
