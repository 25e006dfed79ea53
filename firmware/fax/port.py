"""One G3 port of the fax unit: a line interface and its modem on the board, and what runs on it.

Port 1 is the main board's line and modem (`board.line`, `board.modem`); port 2 is the 2nd G3
option board's (`board.line2`, `board.modem2`), there only while the option is fitted. A port runs
one call at a time: a transmission (`current`), a reception or a poll (`reception`), or it rings
with a call the operator answers with START (TEL mode, `incoming`). `job` is what the LCD shows of
the port; a transmission's job goes on from call to call while the port has more to send.
Between two calls a port rests `LINE_GAP` (its last call's result stays on the LCD meanwhile).
"""

from __future__ import annotations

from estudio190f.hw.board import Board
from estudio190f.hw.line import LineEvent, LineInterface
from estudio190f.hw.listeners import Listeners
from estudio190f.hw.modem import Modem

from .display import FaxJob
from .receiving import Reception, RxRecord
from .sending import Transmission


class FaxPort:
    def __init__(self, board: Board, number: int) -> None:
        self.board = board
        self.number = number  # 1: the main board's line, 2: the 2nd G3 option's
        self.current: Transmission | None = None
        self.reception: Reception | None = None
        self.incoming: FaxJob | None = None  # TEL mode: the ringing call on the LCD
        self.job: FaxJob | None = None  # a transmission's job, from call to call
        self.last_lines: tuple[str, str] = ("", "")  # its last call's result
        self.rest_until = 0
        self.rx_record = RxRecord(board.nvram, number)
        self.events: Listeners[[FaxPort, LineEvent]] = Listeners()
        self._bound: LineInterface | None = None

    @property
    def line(self) -> LineInterface | None:
        return self.board.line if self.number == 1 else self.board.line2

    @property
    def modem(self) -> Modem | None:
        return self.board.modem if self.number == 1 else self.board.modem2

    @property
    def wiring(self) -> tuple[LineInterface, Modem] | None:
        """(line, modem) for `FaxCall`, or None while the port is not there."""
        line, modem = self.line, self.modem
        return None if line is None or modem is None else (line, modem)

    @property
    def fitted(self) -> bool:
        return self.wiring is not None

    @property
    def busy(self) -> bool:
        """A call of ours runs on it."""
        return self.current is not None or self.reception is not None

    @property
    def free(self) -> bool:
        """Free to place a call: there, on hook and quiet, no call of ours on it."""
        line = self.line
        return line is not None and line.state == "idle" and not self.busy

    @property
    def led_source(self) -> str:
        """The LINE LED's holder for this port (the LED is on while either port holds it)."""
        return "fax" if self.number == 1 else f"fax{self.number}"

    def bind(self) -> None:
        """Listen to the port's line (again, after the option board was fitted or taken out)."""
        line = self.line
        if line is self._bound:
            return
        if self._bound is not None:
            self._bound.listeners.discard(self._line_event)
        self._bound = line
        if line is not None:
            line.listeners.add(self._line_event)

    def _line_event(self, event: LineEvent) -> None:
        self.events(self, event)

    def forget(self) -> None:
        """Power cut: what ran on the port was in RAM."""
        self.current = self.reception = None
        self.incoming = self.job = None
        self.last_lines = ("", "")
        self.rest_until = 0
