"""The printer engine: cassette, paper path with its sensors, cover, toner and drum, output tray.

Signals the firmware uses (nothing else):
- `set_motor(on)`: the main motor that moves every sheet in the path at the process speed;
- `pick(raster)`: the pick-up clutch takes the top sheet of the cassette into the path, carrying
  the raster to print on it (the video data, 1728 dots a line at 8 dots/mm, 7.7 lines/mm);
- sensors `paper_present` (cassette), `pickup_sensor`, `registration_sensor`, `exit_sensor`,
  `cover_closed`, `warmed_up` (fuser at temperature), `toner_level` and `drum_level` (percent);
  `sensor_listeners` are called on every edge (the interrupt lines).

Delivered sheets land in `tray` as `PrintedSheet`s; `delivery_listeners` get each one (the output
writer saves `printed/0001.png`, ...). Figures and where they come from: docs/paper.md.

Faults: `printer.jam` stops the next sheet that moves through the point of `jam_stage`;
`printer.no_paper` empties the cassette; `printer.cover_open` opens the cover, which stops the
motor (interlock). `clear NAME` is the operator's fix: the cover is opened, every sheet in the
path taken out, the cover closed; the cassette filled; the cover closed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .clock import SECOND, Clock, Timer
from .eventlog import EventLog
from .faults import FaultRegistry
from .listeners import Listeners
from .power import PowerSupply
from .sensors import SensorEdges

PAPER_SIZES_MM: dict[str, tuple[float, float]] = {
    "letter": (215.9, 279.4),
    "a4": (210.0, 297.0),
    "legal": (215.9, 355.6),
}
DOTS_PER_MM = 8  # the print head's dot pitch across the sheet
LINES_PER_MM = 7.7  # the engine's line pitch down the sheet (T.4 fine)
RASTER_DOTS = 1728  # 216 mm: the widest line the engine prints
X_DPI = DOTS_PER_MM * 25.4
Y_DPI = LINES_PER_MM * 25.4

PROCESS_SPEED_MM_S = 60.0  # paper speed; 10.3 Letter sheets a minute with the pick spacing
WARM_UP = 15 * SECOND  # fuser from cold to printing temperature
PICKUP_SENSOR_MM = 20.0  # pick-up roller nip to each sensor, along the path
REGISTRATION_MM = 70.0
TRANSFER_MM = 100.0
EXIT_MM = 200.0
TRAY_CAPACITY = 100  # sheets the output tray holds; older ones are taken away
TONER_YIELD_SHEETS = 2000  # at 5 % coverage
DRUM_LIFE_SHEETS = 20000

JAM_STAGES = ("pickup", "inside", "exit")
SENSOR_POSITIONS = {
    "pickup_sensor": PICKUP_SENSOR_MM,
    "registration_sensor": REGISTRATION_MM,
    "exit_sensor": EXIT_MM,
}
# Where a jammed sheet stops, by stage: its leading edge short of the pick-up sensor (a
# misfeed), its leading edge in the fuser, or its tail caught just short of the exit sensor.
JAM_POINTS_MM = {"pickup": PICKUP_SENSOR_MM - 10.0, "inside": 150.0}
EXIT_JAM_TAIL_MM = EXIT_MM - 20.0


def jam_point(stage: str, length_mm: float) -> float:
    """Where the leading edge of a sheet `length_mm` long stops when it jams at `stage`."""
    return EXIT_JAM_TAIL_MM + length_mm if stage == "exit" else JAM_POINTS_MM[stage]


_MM_PER_TICK = PROCESS_SPEED_MM_S / SECOND


def sheet_lines(paper_size: str) -> int:
    """Raster lines that fit on a sheet of this size."""
    return round(PAPER_SIZES_MM[paper_size][1] * LINES_PER_MM)


def pack_white(black: np.ndarray) -> bytes:
    """Rows of a bool raster (True = black) packed to bits, 1 = white paper, the bits past the
    last dot of a row 0 (what `np.packbits(~black, axis=1)` gives, without the inverted copy)."""
    packed = np.packbits(black, axis=1)
    np.invert(packed, out=packed)
    spare = -black.shape[1] % 8
    if spare and packed.size:
        packed[:, -1] &= (0xFF << spare) & 0xFF
    return packed.tobytes()


def black_fraction(black: np.ndarray) -> float:
    """The share of dots that are black (what `black.mean()` gives: the count is exact)."""
    return np.count_nonzero(black) / black.size if black.size else 0.0


@dataclass
class PrintedSheet:
    """A sheet in the output tray: what is printed on it, over the sheet's own area.

    Kept packed, one bit a dot (a printed A4 sheet is 0.5 MB, not 3.8 MB).
    """

    number: int  # 1, 2, ... in delivery order since the engine was built
    paper_size: str
    width: int  # dots across (8 dots/mm)
    lines: int  # lines down (7.7 lines/mm)
    packed: bytes  # rows of bits, 1 = white paper (PIL raw mode "1")
    black_fraction: float
    meta: dict = field(default_factory=dict)  # what the firmware said it was (page, copy)

    @classmethod
    def from_pixels(
        cls, number: int, paper_size: str, pixels: np.ndarray, meta: dict
    ) -> PrintedSheet:
        lines, width = pixels.shape
        return cls(
            number, paper_size, width, lines, pack_white(pixels), black_fraction(pixels), meta
        )

    @property
    def pixels(self) -> np.ndarray:
        """bool (lines, dots), True = black."""
        rows = np.frombuffer(self.packed, dtype=np.uint8).reshape(self.lines, -1)
        return ~np.unpackbits(rows, axis=1, count=self.width).astype(bool)

    def image(self) -> Image.Image:
        """The sheet as a bilevel PIL image (white paper, black toner) with its resolution."""
        img = Image.frombytes("1", (self.width, self.lines), self.packed)
        img.info["dpi"] = (X_DPI, Y_DPI)
        return img


@dataclass
class _InPath:
    number: int
    raster: np.ndarray
    length_mm: float
    meta: dict
    pos: float = 0.0  # leading edge, mm past the pick-up roller
    stall_at: float | None = None
    stuck_logged: bool = False  # its stop at `stall_at` is in the event log

    @property
    def trailing(self) -> float:
        return self.pos - self.length_mm

    def covers(self, at_mm: float) -> bool:
        """Whether the sheet lies over the point `at_mm` of the path (a sensor there is on)."""
        return self.pos >= at_mm > self.trailing

    def marks(self) -> list[float]:
        ends = [PICKUP_SENSOR_MM, REGISTRATION_MM, EXIT_MM]
        return sorted(ends + [p + self.length_mm for p in ends])


class PaperLimit(ValueError):
    """More sheets than the cassette holds (or fewer than none); nothing was loaded."""


class PrinterEngine:
    """The engine with its cassette and paper path; registers the printer faults."""

    def __init__(self, clock: Clock, log: EventLog, power: PowerSupply, faults: FaultRegistry,
                 paper_size: str = "letter", capacity: int = 250,
                 sheets: int | None = None) -> None:  # fmt: skip
        self.clock = clock
        self.log = log
        self.power = power
        if paper_size not in PAPER_SIZES_MM:
            raise ValueError(f"paper size must be one of {', '.join(PAPER_SIZES_MM)}")
        self.paper_size = paper_size
        self.capacity = capacity
        self.sheets = capacity if sheets is None else sheets
        self.cover_closed = True
        self.warmed_up = False
        self.motor_on = False
        self.toner_level = 100.0
        self.drum_level = 100.0
        self.jam_stage = "inside"
        self._jam_pending = False
        self.path: list[_InPath] = []  # front (nearest the exit) first
        self.tray: list[PrintedSheet] = []
        self._delivered = 0
        self._picked = 0
        self._moving_since = 0
        self._timer: Timer | None = None
        self._warm_timer: Timer | None = None
        self._sensor_state = self._path_sensors()
        self._sensor_edges_bus = SensorEdges(log, "printer")
        self.sensor_listeners = self._sensor_edges_bus.listeners
        self.delivery_listeners: Listeners[[PrintedSheet]] = Listeners()
        faults.register("printer.jam", self._jam_set, self._jam_clear)
        faults.register("printer.no_paper", self._no_paper_set, self._no_paper_clear)
        faults.register("printer.cover_open", self._open_cover, self._close_cover)
        power.changed.add(self._on_power)
        if power.on:
            self._on_power(True)

    # -- the operator's side -----------------------------------------------------------------
    def load_paper(self, count: int) -> None:
        """`paper COUNT`: the cassette now holds COUNT sheets."""
        if not 0 <= count <= self.capacity:
            raise PaperLimit(f"the cassette holds 0 to {self.capacity} sheets, not {count}")
        was = self.paper_present
        self.sheets = count
        self.log.emit("printer", "paper", sheets=count)
        if was != self.paper_present:
            self._notify("paper_present", self.paper_present)

    def set_paper_size(self, size: str) -> None:
        if size not in PAPER_SIZES_MM:
            raise ValueError(f"paper size must be one of {', '.join(PAPER_SIZES_MM)}")
        self.paper_size = size

    def delivered_count(self) -> int:
        return self._delivered

    # -- sensors -------------------------------------------------------------------------------
    @property
    def paper_present(self) -> bool:
        return self.sheets > 0

    @property
    def pickup_sensor(self) -> bool:
        return self._covered(PICKUP_SENSOR_MM)

    @property
    def registration_sensor(self) -> bool:
        return self._covered(REGISTRATION_MM)

    @property
    def exit_sensor(self) -> bool:
        return self._covered(EXIT_MM)

    def sensors(self) -> dict[str, object]:
        return {
            "paper_present": self.paper_present, "pickup_sensor": self.pickup_sensor,
            "registration_sensor": self.registration_sensor, "exit_sensor": self.exit_sensor,
            "cover_closed": self.cover_closed, "warmed_up": self.warmed_up,
            "toner_level": round(self.toner_level, 1), "drum_level": round(self.drum_level, 1),
        }  # fmt: skip

    def _covered(self, at_mm: float) -> bool:
        self._update_positions()
        return any(s.covers(at_mm) for s in self.path)

    def _path_sensors(self) -> dict[str, bool]:
        return {name: any(s.covers(at) for s in self.path) for name, at in SENSOR_POSITIONS.items()}

    # -- signals from the firmware ---------------------------------------------------------------
    def set_motor(self, on: bool) -> None:
        on = bool(on) and self.power.on and self.cover_closed
        if on == self.motor_on:
            return
        self._update_positions()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.motor_on = on
        self.log.emit("printer", "motor", on=on)
        if on:
            self._schedule()

    def pick(self, raster: np.ndarray, meta: dict | None = None) -> bool:
        """Feed the top sheet with `raster` to print on it. False if it cannot be picked."""
        self._update_positions()
        if not (self.motor_on and self.warmed_up and self.cover_closed and self.paper_present):
            return False
        if any(s.trailing < 0 for s in self.path):  # the last sheet is still leaving the cassette
            return False
        self.sheets -= 1
        self._picked += 1
        sheet = _InPath(self._picked, raster, PAPER_SIZES_MM[self.paper_size][1], dict(meta or {}))
        if self._jam_pending:
            self._jam_pending = False
            sheet.stall_at = jam_point(self.jam_stage, sheet.length_mm)
        self.path.append(sheet)
        self.log.emit("printer", "pick", sheet=sheet.number, left=self.sheets)
        if not self.paper_present:
            self._notify("paper_present", False)
        self._reschedule()
        return True

    # -- motion --------------------------------------------------------------------------------
    def _update_positions(self) -> None:
        """Bring every moving sheet's position up to now."""
        if not self.motor_on:
            return
        moved = (self.clock.now - self._moving_since) * _MM_PER_TICK
        self._moving_since = self.clock.now
        if moved <= 0:
            return
        for sheet in self.path:
            sheet.pos += moved
            if sheet.stall_at is not None and sheet.pos > sheet.stall_at:
                sheet.pos = sheet.stall_at

    def _reschedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.motor_on:
            self._schedule()

    def _schedule(self) -> None:
        self._moving_since = self.clock.now
        nearest: float | None = None
        for sheet in self.path:
            targets = [m for m in sheet.marks() if m > sheet.pos + 1e-9]
            if sheet.stall_at is not None:
                if sheet.pos >= sheet.stall_at - 1e-9:
                    continue  # stuck: the rollers turn, the paper does not move
                targets = [m for m in targets if m < sheet.stall_at] + [sheet.stall_at]
            if targets:
                distance = min(targets) - sheet.pos
                nearest = distance if nearest is None else min(nearest, distance)
        if nearest is not None:
            ticks = max(1, math.ceil(nearest / _MM_PER_TICK - 1e-9))
            self._timer = self.clock.call_later(ticks, self._tick, label="printer")

    def _tick(self) -> None:
        self._timer = None
        self._update_positions()
        for sheet in list(self.path):
            if sheet.trailing >= EXIT_MM - 1e-6:
                self._deliver(sheet)
            elif sheet.stall_at is not None and sheet.pos >= sheet.stall_at - 1e-9:
                if not sheet.stuck_logged:
                    sheet.stuck_logged = True
                    self.log.emit("printer", "stuck", sheet=sheet.number, at_mm=round(sheet.pos, 1))
        self._sensor_edges()
        if self.motor_on:
            self._schedule()

    def _deliver(self, sheet: _InPath) -> None:
        self.path.remove(sheet)
        self._delivered += 1
        printed = PrintedSheet.from_pixels(
            self._delivered, self.paper_size, self._on_paper(sheet.raster), sheet.meta
        )
        coverage = printed.black_fraction
        self.toner_level = max(0.0, self.toner_level - 100.0 * coverage / 0.05 / TONER_YIELD_SHEETS)
        self.drum_level = max(0.0, self.drum_level - 100.0 / DRUM_LIFE_SHEETS)
        self.tray.append(printed)
        if len(self.tray) > TRAY_CAPACITY:
            del self.tray[0]  # the operator has taken the oldest sheets away
        self.log.emit("printer", "delivered", sheet=printed.number, paper=self.paper_size)
        self.delivery_listeners(printed)

    def _on_paper(self, raster: np.ndarray) -> np.ndarray:
        """The part of the raster that lands on the sheet (centred across, from the top)."""
        width_mm, _ = PAPER_SIZES_MM[self.paper_size]
        dots = round(width_mm * DOTS_PER_MM)
        lines = sheet_lines(self.paper_size)
        left = (raster.shape[1] - dots) // 2
        src = raster[:lines]
        if left >= 0 and src.shape[0] == lines:
            return src[:, left : left + dots]  # the common case: a view, packed straight away
        out = np.zeros((lines, dots), dtype=bool)
        if left >= 0:
            out[: src.shape[0]] = src[:, left : left + dots]
        else:
            out[: src.shape[0], -left : -left + raster.shape[1]] = src
        return out

    def _sensor_edges(self) -> None:
        now = self._path_sensors()
        for name, state in now.items():
            if self._sensor_state.get(name) != state:
                self._sensor_state[name] = state
                self._notify(name, state)

    # -- faults and power ------------------------------------------------------------------------
    def _jam_set(self) -> None:
        if self.jam_stage not in JAM_STAGES:
            raise ValueError(f"jam_stage must be one of {JAM_STAGES}")
        self._update_positions()
        if self.jam_stage != "pickup":
            # The next sheet to move through the stage's point is the one nearest short of it.
            stage = self.jam_stage
            short = [
                s for s in self.path if s.pos < jam_point(stage, s.length_mm) and s.stall_at is None
            ]
            if short:
                sheet = max(short, key=lambda s: s.pos)
                sheet.stall_at = jam_point(stage, sheet.length_mm)
                self._reschedule()
                return
        self._jam_pending = True

    def _jam_clear(self) -> None:
        self._jam_pending = False
        self._open_cover()
        self._close_cover()

    def _no_paper_set(self) -> None:
        self.load_paper(0)

    def _no_paper_clear(self) -> None:
        self.load_paper(self.capacity)

    def _open_cover(self) -> None:
        if not self.cover_closed:
            return
        self.set_motor(False)  # the interlock cuts the motor
        self.cover_closed = False
        self._notify("cover_closed", False)
        if self.path:
            # With the cover open the operator takes out every sheet in the path.
            taken = [s.number for s in self.path]
            self.path.clear()
            self.log.emit("printer", "taken_out", sheets=taken)
            self._sensor_edges()

    def _close_cover(self) -> None:
        if self.cover_closed:
            return
        self.cover_closed = True
        self._notify("cover_closed", True)

    def _on_power(self, on: bool) -> None:
        if on:
            self.warmed_up = False
            self._warm_timer = self.clock.call_later(WARM_UP, self._warm, label="fuser")
        else:
            self.set_motor(False)
            if self._warm_timer is not None:
                self._warm_timer.cancel()
                self._warm_timer = None
            self.warmed_up = False

    def _warm(self) -> None:
        self._warm_timer = None
        self.warmed_up = True
        self._notify("warmed_up", True)

    def _notify(self, sensor: str, state: bool) -> None:
        self._sensor_edges_bus.notify(sensor, state)
