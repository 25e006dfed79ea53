"""`--capture`: every call of a simulation, whatever carried it, in `--out`/calls.pcap.

The exchange shows every signal of a connected call to `network.taps` as it leaves its station
(a machine's modem, or a peer outside the process as its route hands it over). Each goes through
`hw.t38_capture.CallCapture` (a capture-only T.38 endpoint per direction, UDPTL numbered from 0
for each call) into a classic libpcap file: one IPv4 address per station in the order stations
first speak (10.0.0.1, ...), UDP port 6000 at both ends (docs/captures.md). A station is named by
its machine (`main`, a `device` name), a route's peer (`t38:HOST:PORT`, a SpanDSP device's name),
or its number. SID and PWD frames keep their length but their information field is written as
spaces (`redact`): a password never reaches the file.

The file is written as the calls go: records are whole, and the buffer is flushed a (virtual)
second after a T.30 frame, so a reader sees the dialogue up to the last frame but a second;
`close()` flushes the rest.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol, runtime_checkable

from estudio190f.firmware.t30.frames import ADDRESS, frame_type
from estudio190f.firmware.t30.trace import SECRET_FRAMES
from estudio190f.hw.clock import SECOND, Timer
from estudio190f.hw.line import Call, LineInterface
from estudio190f.hw.modem import FRAMES, Signal
from estudio190f.hw.pcap import CallRecorder
from estudio190f.hw.t38_capture import CallCapture

if TYPE_CHECKING:
    from .sim import Simulation

CAPTURE_NAME = "calls.pcap"
FLUSH_EVERY = 1 * SECOND  # virtual time from a T.30 frame to the flush that writes it out


@runtime_checkable
class NamesPeers(Protocol):
    """A route that can name the peer of a call (the T.38 route, a SpanDSP device)."""

    def describe(self, call: Call) -> str: ...


def redact(frame: bytes) -> bytes:
    """A T.30 frame as a capture may hold it: SID and PWD keep their length, their information
    field becomes spaces. (Read from the frame's header alone: every image frame passes here.)"""
    if len(frame) < 3 or frame[0] != ADDRESS:
        return frame
    kind = frame_type(frame[2])
    if kind is not None and kind.name in SECRET_FRAMES:
        return frame[:3] + b" " * (len(frame) - 3)
    return frame


class CallCaptureFile:
    def __init__(self, sim: Simulation, path: Path, epoch: int | None = None) -> None:
        if epoch is None:
            epoch = int(sim.start_time.replace(tzinfo=UTC).timestamp()) * 1_000_000
        self.sim = sim
        self.path = Path(path)
        self.capture = CallCapture(CallRecorder(epoch=epoch), redact=redact)
        self._file: IO[bytes] | None = open(self.path, "wb")
        self._file.write(self.capture.header())
        self._file.flush()
        self._calls: dict[tuple[str, str], Call] = {}  # the last call between two stations
        self._names: dict[LineInterface, str] = {}
        self._flush: Timer | None = None  # the flush due after the last T.30 frame
        self.signals = 0
        sim.network.taps.add(self._tap)

    def _tap(self, call: Call, line: LineInterface | None, signal: Signal) -> None:
        if self._file is None:
            return
        if line is None:  # from a peer outside, to our station
            src = self._outside(call)
            dst = self._station(call.local)
        else:
            src = self._station(line)
            far = call.other(line)
            dst = self._station(far) if far is not None else self._outside(call)
        pair = (src, dst) if src < dst else (dst, src)
        last = self._calls.get(pair)
        if last is not call:
            if last is not None:
                self.capture.end_call(*pair)
            self._calls[pair] = call
        self.signals += 1
        now = self.sim.clock.now
        self._file.write(self.capture.signal(now, src, dst, signal))
        if signal.kind == FRAMES and self._flush is None:
            self._flush = self.sim.clock.call_later(FLUSH_EVERY, self._flush_now, label="capture")

    def _flush_now(self) -> None:
        self._flush = None
        if self._file is not None:
            self._file.flush()

    def _station(self, line: LineInterface | None) -> str:
        if line is None:
            return "outside"
        name = self._names.get(line)
        if name is None:
            machine = self.sim.machine_on(line)
            name = machine.name if machine is not None else line.number
            self._names[line] = name
        return name

    @staticmethod
    def _outside(call: Call) -> str:
        route = call.route
        return route.describe(call) if isinstance(route, NamesPeers) else "outside"

    def close(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self._file is not None:
            self.sim.network.taps.discard(self._tap)
            self._file.close()
            self._file = None


__all__ = ["CAPTURE_NAME", "CallCaptureFile", "NamesPeers", "redact"]
