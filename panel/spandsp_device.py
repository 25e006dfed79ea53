"""`device NAME NUMBER spandsp`: SpanDSP's own fax terminal on the audio line, as a far end.

An independent fax stack (SpanDSP's T.30, its T.4 coding, its modems: `hw.spandsp.FaxTerminal`)
at a number of the exchange, for the machine to interwork with in both directions. It has a line
port and no modem of ours: its sound on a call is the terminal's (`hw.audio_call.AudioCarriage.
attach_station`), so it exists only on the audio line.

- It answers every call after `RINGS` rings and files what it receives as TIFF under
  `--out`/NAME/received/NNNN.tif (written whole once the call is over; nothing when no page came).
- `send(number, document)` (the script's `on NAME send NUMBER FILE`) dials `number` and sends the
  TIFF `document` once answered; a busy number, or one that does not answer within `NO_ANSWER`,
  ends the attempt.
- It hangs up once its T.30 has ended the call (phase E); a call the far end ended first ends its
  T.30 there. Each call's result is an event in its log (`--out`/NAME/events.jsonl) and in
  `results`; its calls are recorded under `--out`/NAME/calls/ like a machine's.

ECM: the terminal offers and uses ECM unless made with `ecm=False`.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from estudio190f.hw.audio_modem import US_PER_SAMPLE
from estudio190f.hw.clock import SECOND, Timer
from estudio190f.hw.eventlog import EventLog
from estudio190f.hw.line import LineEvent, LineInterface
from estudio190f.hw.modem import Signal
from estudio190f.hw.spandsp import RESULT_OK, FaxTerminal

from .outputs import EventFile, next_number
from .sim import Simulation

RINGS = 2  # rings before it answers
NO_ANSWER = 60 * SECOND  # a call it places that rings this long is given up (T.30 T0)
IDENT = "SPANDSP"


@dataclass(frozen=True)
class CallResult:
    direction: str  # send | receive
    number: str  # the far end's (send) or "" (receive)
    result: int | None  # SpanDSP's T.30 completion code; None: no call (busy, no answer)
    text: str  # SpanDSP's words for it, or busy / no answer
    pages: int
    bit_rate: int
    ecm: bool

    @property
    def ok(self) -> bool:
        return self.result == RESULT_OK


class SpanDspStation:
    """The terminal's sound on one call (an `hw.audio_line.AudioStation`)."""

    def __init__(self, device: SpanDspDevice, terminal: FaxTerminal, origin_us: int) -> None:
        self.device = device
        self.terminal = terminal
        self.origin_us = origin_us
        self._made = 0

    def audio(self, until_us: int) -> np.ndarray:
        count = (until_us - self.origin_us) // US_PER_SAMPLE - self._made
        if count <= 0:
            return np.zeros(0, dtype=np.int16)
        self._made += count
        if self.terminal.closed:  # it hung up: silence while its last sound reaches the far end
            return np.zeros(count, dtype=np.int16)
        return self.terminal.tx(count)

    def receive(self, samples: np.ndarray) -> list[tuple[int, Signal]]:
        if self.terminal.closed:
            return []
        self.terminal.rx(samples)
        if self.terminal.done:
            self.device.call_over(self.terminal)
        return []


class SpanDspDevice:
    def __init__(self, sim: Simulation, name: str, number: str, *, ecm: bool = True) -> None:
        self.sim = sim
        self.name = name
        self.number = number
        self.ecm = ecm
        self.clock = sim.clock
        self.log = EventLog(sim.clock, name)
        self.out_dir = sim.out_dir / name if sim.out_dir is not None else None
        self._scratch: Path | None = None
        self._events: EventFile | None = None
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._events = EventFile(self.log, self.out_dir / "events.jsonl")
        carriage = sim.audio_line()
        self.line: LineInterface = sim.network.add_line(number, log=self.log)
        carriage.attach_station(self.line, self._station)
        sim.record_calls(self.line, self.out_dir)
        self.line.listeners.add(self._line_event)
        self.results: list[CallResult] = []
        self._sending: tuple[str, Path] | None = None  # a call it placed: number, document
        self._terminal: FaxTerminal | None = None
        self._rx_file: Path | None = None
        self._give_up: Timer | None = None
        self._ending = False
        self._next_file = 0  # the number of the next received file (found at the first)

    # -- the script's side -------------------------------------------------------------------
    def send(self, number: str, document: Path) -> None:
        """Call `number` and send `document` (a TIFF file) when answered."""
        if self.line.state != "idle" or self._sending is not None:
            raise RuntimeError(f"{self.name} is on a call")
        self._sending = (number, Path(document))
        self.log.emit("spandsp", "dial", number=number, document=Path(document).name)
        self.line.dial(number)
        self._give_up = self.clock.call_later(NO_ANSWER, self._no_answer, label="spandsp T0")

    def close(self) -> None:
        self._close_terminal()
        if self._events is not None:
            self._events.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    # -- the line -------------------------------------------------------------------------------
    def _line_event(self, event: LineEvent) -> None:
        kind = event.kind
        if kind == "ring" and event.n >= RINGS and self.line.state == "ringing":
            self.line.go_off_hook()
        elif kind == "busy" and self._sending is not None:
            self._attempt_failed("busy")
        elif kind in ("remote_hangup", "dropped"):
            self._far_end_gone()

    def _station(self, origin_us: int) -> SpanDspStation:
        """The line was answered: a terminal for this call."""
        if self._give_up is not None:
            self._give_up.cancel()
        self._close_terminal()
        if self._sending is not None:
            terminal = FaxTerminal(True, ident=IDENT, ecm=self.ecm, tx_file=self._sending[1])
            self.log.emit("spandsp", "sending", number=self._sending[0])
        else:
            self._rx_file = self._scratch_dir() / f"rx{len(self.results) + 1}.tif"
            terminal = FaxTerminal(False, ident=IDENT, ecm=self.ecm, rx_file=self._rx_file)
            self.log.emit("spandsp", "receiving")
        self._terminal = terminal
        self._ending = False
        return SpanDspStation(self, terminal, origin_us)

    def call_over(self, terminal: FaxTerminal) -> None:
        """The terminal's T.30 has ended the call (phase E): hang up, at the end of this step of
        the line (not while the line is being carried)."""
        if terminal is self._terminal and not self._ending:
            self._ending = True
            self.clock.call_soon(self._hang_up, terminal, label="spandsp hang up")

    def _hang_up(self, terminal: FaxTerminal) -> None:
        if terminal is not self._terminal:
            return
        self._finish(terminal)
        self.line.hang_up()

    def _far_end_gone(self) -> None:
        terminal = self._terminal
        if terminal is not None:
            if not terminal.done:
                terminal.terminate()  # phase E: the call ended under it
            self._finish(terminal)
        if self.line.state != "idle":
            self.line.hang_up()

    def _no_answer(self) -> None:
        if self._sending is not None and not self.line.connected:
            self._attempt_failed("no answer")

    def _attempt_failed(self, why: str) -> None:
        assert self._sending is not None
        number, _ = self._sending
        self._sending = None
        if self._give_up is not None:
            self._give_up.cancel()
        self._result(CallResult("send", number, None, why, 0, 0, False))
        self.line.hang_up()

    def _finish(self, terminal: FaxTerminal) -> None:
        """The call's result; a received document goes to received/."""
        self._terminal = None
        stats = terminal.stats()
        sending = self._sending
        self._sending = None
        terminal.close()  # SpanDSP finishes the TIFF it was writing
        if sending is not None:
            result = CallResult("send", sending[0], terminal.result, terminal.result_text,
                                stats.pages_tx, stats.bit_rate, stats.ecm)  # fmt: skip
        else:
            result = CallResult("receive", "", terminal.result, terminal.result_text,
                                stats.pages_rx, stats.bit_rate, stats.ecm)  # fmt: skip
            self._file_received(stats.pages_rx)
        self._result(result)

    def _file_received(self, pages: int) -> None:
        path, self._rx_file = self._rx_file, None
        if path is None or not path.exists():
            return
        if pages <= 0 or self.out_dir is None:
            path.unlink(missing_ok=True)
            return
        folder = self.out_dir / "received"
        folder.mkdir(parents=True, exist_ok=True)
        if not self._next_file:  # numbers continue after what a previous run left there
            self._next_file = next_number(folder, r"(\d+)\.tif")
        target = folder / f"{self._next_file:04d}.tif"
        self._next_file += 1
        shutil.move(str(path), target)

    def _result(self, result: CallResult) -> None:
        self.results.append(result)
        self.log.emit("spandsp", "result", direction=result.direction, number=result.number,
                      result=result.text, pages=result.pages, bit_rate=result.bit_rate,
                      ecm=result.ecm)  # fmt: skip

    def _close_terminal(self) -> None:
        if self._terminal is not None:
            self._terminal.close()
            self._terminal = None

    def _scratch_dir(self) -> Path:
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="estudio190f-spandsp-"))
        return self._scratch


__all__ = ["CallResult", "SpanDspDevice"]
