"""`device NAME NUMBER spandsp-t38`: SpanDSP's T.38 fax terminal as a far end on the virtual line.

The device is a route of the exchange (`hw.line.OutsideRoute`) reached at its number: a call to
it is a `hw.t38_route.T38Session` whose far side is SpanDSP's `t38_terminal` in this process
(`hw.t38_peer.SpanDspT38Peer`), driven from virtual time by the session's 20 ms tick. So it runs
at `replay` speed, deterministically, and every packet crosses our T.38 endpoint and the calling
station's `t38.*` settings (redundancy, loss, jitter) as over a network.

- Dialled, it rings twice (the factory ring count of the machine, 6 s) and answers; what it
  receives is filed as TIFF under `--out`/NAME/received/ (`0001-IDENT.tif`, the sender's
  identity as SpanDSP read it; a call that brought no page files nothing).
- `send(number, document)` calls `number` (a station of the virtual line) and sends the TIFF
  `document` (fax widths: 1728, 2048 or 2432 pels; SpanDSP reads it itself).
- It offers ECM (SpanDSP's default coding choices) unless built with `ecm=False`; its identity
  (TSI/CSI) is its number.
- The call ends when SpanDSP's T.30 ends (phase E: it hung up, 0.5 s after its last packet), or
  when the calling station hangs up (SpanDSP is told to terminate). Each call's outcome is in
  `calls` and in the device's event log (`--out`/NAME/events.jsonl).

This is the operator's side (files are written here); the protocol work is in hw/.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from estudio190f.hw.clock import MS, Clock, Timer
from estudio190f.hw.eventlog import EventLog
from estudio190f.hw.line import Call, LineInterface, PhoneNetwork
from estudio190f.hw.modem import Signal
from estudio190f.hw.spandsp import RESULT_OK, load_spandsp
from estudio190f.hw.t38_peer import SpanDspT38Peer
from estudio190f.hw.t38_route import RING_CYCLE, T38Session, T38Settings

from .outputs import EventFile, next_number, received_name

ANSWER_RINGS = 2
HANGUP_DELAY = 500 * MS  # from SpanDSP's phase E to the line going quiet
KIND = "spandsp-t38"


@dataclass
class DeviceCall:
    """One call of the device, as it ended."""

    direction: str  # in | out
    number: str  # the far station's number
    result: str = "in progress"  # SpanDSP's T.30 completion text ("OK", ...), or BUSY
    ok: bool = False
    pages: int = 0  # pages sent or received
    file: Path | None = None  # the TIFF filed (a call that received pages)
    remote: str = ""  # the far end's identity, as SpanDSP read it


class SpanDspT38Device:
    def __init__(
        self,
        clock: Clock,
        network: PhoneNetwork,
        name: str,
        number: str,
        *,
        settings_for: Callable[[LineInterface], T38Settings],
        out_dir: Path | None = None,
        seed: int = 0,
        ecm: bool = True,
    ) -> None:
        load_spandsp()  # SpanDspMissing now, not in the middle of a call
        self.clock = clock
        self.network = network
        self.name = name
        self.number = number
        self.settings_for = settings_for
        self.seed = seed
        self.ecm = ecm
        self.log = EventLog(clock, name)
        self.calls: list[DeviceCall] = []
        self._temp: tempfile.TemporaryDirectory[str] | None = None
        if out_dir is None:
            self._temp = tempfile.TemporaryDirectory(prefix="estudio190f-spandsp-")
            out_dir = Path(self._temp.name)
        self.out_dir = Path(out_dir)
        self.received_dir = self.out_dir / "received"
        self.received_dir.mkdir(parents=True, exist_ok=True)
        self._events: EventFile | None = None
        if self._temp is None:
            self._events = EventFile(self.log, self.out_dir / "events.jsonl")
        self.session: T38Session | None = None
        self.peer: SpanDspT38Peer | None = None
        self._current: DeviceCall | None = None
        self._document: Path | None = None  # to send on the call being set up
        self._rx_path: Path | None = None
        self._t0 = 0  # the instant SpanDSP's time starts
        self._timers: list[Timer] = []
        self._count = 0
        network.route(number, self)

    # -- the script's side ------------------------------------------------------------------------
    def send(self, number: str, document: Path) -> None:
        """Call `number` and send the TIFF `document` (ValueError if the device is in a call or
        the file is not a TIFF; a busy number is the call's outcome, in `calls`)."""
        document = Path(document)
        with open(document, "rb") as f:  # FileNotFoundError as it is
            magic = f.read(4)
        if magic not in (b"II*\x00", b"MM\x00*"):
            raise ValueError(f"{document}: not a TIFF file (SpanDSP sends TIFF)")
        if self.session is not None:
            raise ValueError(f"device {self.name} is in a call")
        record = DeviceCall("out", number)
        self.log.emit("spandsp", "dial", number=number, document=document.name)
        call = self.network.call_from_outside(number, self)
        if call is None or call.callee is None:
            record.result = "BUSY"
            self.calls.append(record)
            self.log.emit("spandsp", "busy", number=number)
            return
        self._document = document
        self._open(call, call.callee, record, outgoing=False)

    # -- the exchange's side (OutsideRoute) ---------------------------------------------------------
    def place_call(self, call: Call, number: str) -> None:
        caller = call.caller
        if self.session is not None or caller is None:
            self.network.outside_busy(call)
            return
        self._open(call, caller, DeviceCall("in", caller.number), outgoing=True)
        self.network.outside_ringing(call)
        for ring in range(2, ANSWER_RINGS + 1):
            self._later((ring - 1) * RING_CYCLE, self._ring, call, ring == ANSWER_RINGS)

    def answered(self, call: Call) -> None:
        session = self.session
        if session is not None and session.call is call:
            session.connect()
            self._start(calling=True)

    def hung_up(self, call: Call) -> None:
        session = self.session
        if session is not None and session.call is call:
            session.end("hung up")

    def transmit(self, call: Call, signal: Signal) -> None:
        session = self.session
        if session is not None and session.call is call:
            session.transmit(signal)

    def describe(self, call: Call) -> str:
        return self.name

    # -- a call ---------------------------------------------------------------------------------------
    def _open(self, call: Call, line: LineInterface, record: DeviceCall, *, outgoing: bool) -> None:
        self._count += 1
        base = self.settings_for(line)
        settings = T38Settings(base.config, base.loss, base.jitter, self.seed * 1000 + self._count)
        session = T38Session(self.clock, self.network, call, self.name, settings,
                             self._to_spandsp, outgoing=outgoing, log=self.log)  # fmt: skip
        session.on_tick = self._tick
        session.on_end = self._session_ended
        self.session = session
        self._current = record
        self.calls.append(record)

    def _ring(self, call: Call, answer: bool) -> None:
        session = self.session
        if session is None or session.call is not call or call.state != "ringing":
            return
        self.network.outside_ringing(call)
        if answer:
            self.network.outside_answered(call)
            session.connect()
            self._start(calling=False)

    def _start(self, *, calling: bool) -> None:
        """SpanDSP's terminal comes on the line: sending `_document`, or receiving to a file."""
        session = self.session
        assert session is not None
        rx_path = None
        if not calling:
            rx_path = self.received_dir / f".incoming-{self._count}.tif"
            self._rx_path = rx_path
        self._t0 = self.clock.now
        self.peer = SpanDspT38Peer(
            session.settings.config,
            calling=calling,
            tx_file=self._document if calling else None,
            rx_file=rx_path,
            ecm=self.ecm,
            ident=self.number,
        )
        self.log.emit("spandsp", "start", calling=calling, ecm=self.ecm)

    def _to_spandsp(self, payload: bytes) -> None:
        if self.peer is not None:
            self.peer.receive(payload, self.clock.now - self._t0)

    def _tick(self) -> None:
        peer, session = self.peer, self.session
        if peer is None or session is None or session.ended:
            return
        now = self.clock.now - self._t0
        deadline = peer.deadline()
        if deadline is not None and deadline <= now:
            peer.poll(now)
        was_done = peer.done
        for d in peer.advance(now):
            session.datagram(d.payload)
        if peer.done and not was_done:
            self.log.emit("spandsp", "phase_e", result=peer.terminal.result_text)
            self._later(HANGUP_DELAY, self._far_end_hangs_up, session)

    def _far_end_hangs_up(self, session: T38Session) -> None:
        if self.session is session:
            session.end("far end hung up")

    def _session_ended(self, session: T38Session, reason: str) -> None:
        if reason != "hung up" and session.call.state != "ended":
            self.network.outside_ended(session.call)
        self._finish()

    def _finish(self) -> None:
        """The call is over: SpanDSP's outcome recorded, what it received filed."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        peer, record = self.peer, self._current
        self.session = None
        self.peer = None
        self._current = None
        self._document = None
        rx_path, self._rx_path = self._rx_path, None
        if record is None:
            return
        if peer is None:
            record.result = "no answer" if record.direction == "out" else "not answered"
        else:
            terminal = peer.terminal
            if not terminal.done:
                terminal.terminate()  # our station hung up first: SpanDSP's phase E follows
            stats = terminal.stats()
            record.result = terminal.result_text
            record.ok = terminal.result == RESULT_OK
            record.pages = stats.pages_rx if record.direction == "in" else stats.pages_tx
            record.remote = terminal.remote_ident.strip()
            peer.close()
        if rx_path is not None:
            record.file = self._file(rx_path, record)
        self.log.emit("spandsp", "call_ended", direction=record.direction, number=record.number,
                      result=record.result, pages=record.pages,
                      file=record.file.name if record.file else "")  # fmt: skip

    def _file(self, rx_path: Path, record: DeviceCall) -> Path | None:
        if not rx_path.exists():
            return None
        if record.pages == 0:
            rx_path.unlink()
            return None
        number = next_number(self.received_dir, r"(\d{4,})(?:-.*)?\.tif")
        path = self.received_dir / received_name(number, record.remote)
        os.replace(rx_path, path)
        return path

    def _later(self, delay: int, fn: Callable[..., object], *args: object) -> None:
        self._timers = [t for t in self._timers if not t.cancelled]
        self._timers.append(self.clock.call_later(delay, fn, *args, label="spandsp device"))

    def close(self) -> None:
        if self.session is not None:
            self.session.end("closed")
        if self._events is not None:
            self._events.close()
        if self._temp is not None:
            self._temp.cleanup()
            self._temp = None

    def __repr__(self) -> str:
        return f"SpanDspT38Device({self.name!r}, {self.number!r})"


__all__ = ["ANSWER_RINGS", "KIND", "DeviceCall", "SpanDspT38Device"]
