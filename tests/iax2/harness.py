"""The real-time side of the iaxmodem tests: our IAX2 endpoint on a loopback UDP port pumped by a
wall-clock loop, iaxmodem started on a config file of its own, and SpanDSP fax terminals on calls.

`Trunk` owns the endpoint (`hw.iax2.Iax2Endpoint`) and its UDP edge (`hw.iax2_udp.Iax2UdpPort`)
and runs one select loop in the test's thread: datagrams in, the endpoint's timers, one 20 ms
voice frame per call that is up (paced by the wall clock: iaxmodem is a real-time peer), and
events to the test's policy (answer a number with a terminal, dial out). Virtual time for the
endpoint is wall time since the trunk started, in microseconds.

`IaxModem` writes iaxmodem's config file (iaxmodem reads `/etc/iaxmodem/NAME`; a NAME that climbs
out with `../..` reaches a file anywhere, so nothing is written under /etc), starts it in the
foreground, and copies its output into a log without the line that shows the secret. Stopping
it makes iaxmodem unregister and wait for the answer, so the trunk keeps pumping meanwhile.
"""

from __future__ import annotations

import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from estudio190f.hw.iax2 import (
    AudioReceived,
    CallAnswered,
    CallEnded,
    CallState,
    Iax2Endpoint,
    Iax2Error,
    Iax2Event,
    IncomingCall,
)
from estudio190f.hw.iax2_frames import Address, Format, FullFrame, MiniFrame, describe
from estudio190f.hw.iax2_udp import Iax2UdpPort
from estudio190f.hw.spandsp import FaxTerminal

FRAME = 0.020  # seconds of audio in a voice frame
DRAIN = 2.0  # seconds of silence a terminal gets after its call ended
PEER_NAME = "faxmodem"
# A test-only secret for a loopback registrar; it never appears in a log (see IaxModem).
PEER_SECRET = "loopback-test-secret"
IAXMODEM_NUMBER = "5550100"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class CallAudio:
    """A SpanDSP terminal on a call, fed and drained 20 ms at a time."""

    terminal: FaxTerminal
    frames_in: int = 0
    frames_out: int = 0


@dataclass
class Trunk:
    """Our endpoint on 127.0.0.1, port chosen by the system, pumped in real time."""

    peers: dict[str, str] = field(default_factory=dict)
    answer_after: float = 0.5  # seconds of ringing before an incoming call is answered
    log: list[str] = field(default_factory=list)
    capture: list[tuple[str, bytes]] = field(default_factory=list)
    keep_capture: bool = False

    def __post_init__(self) -> None:
        self.t0 = time.monotonic()
        self.endpoint = Iax2Endpoint(peers=self.peers, trace=self._trace)
        self.port = Iax2UdpPort(self.endpoint, capture=self._capture)
        self.events: list[Iax2Event] = []
        self.audio: dict[int, CallAudio] = {}
        self.answering: dict[str, Callable[[], FaxTerminal]] = {}
        self._answer_at: dict[int, float] = {}
        self._next_tick = time.monotonic()
        self.late = 0.0  # the most a voice frame was sent after its time, in seconds
        self.extra_readers: dict[int, Callable[[], None]] = {}

    @property
    def address(self) -> Address:
        return self.port.address

    def now(self) -> int:
        return int((time.monotonic() - self.t0) * 1_000_000)

    def _trace(self, direction: str, frame: FullFrame | MiniFrame, address: Address) -> None:
        if isinstance(frame, MiniFrame):
            return
        self.log.append(
            f"{time.monotonic() - self.t0:8.3f} {direction} {address[1]} {describe(frame)}"
        )

    def _capture(self, direction: str, data: bytes, _address: Address) -> None:
        if self.keep_capture:
            self.capture.append((direction, data))

    # -- policy ---------------------------------------------------------------------------

    def answer_with(self, number: str, make_terminal: Callable[[], FaxTerminal]) -> None:
        """Calls to `number` are accepted, ring for `answer_after` and get a terminal."""
        self.answering[number] = make_terminal

    def dial(
        self,
        address: Address,
        number: str,
        terminal: FaxTerminal,
        preferred: Format = Format.SLINEAR,
    ) -> int:
        call = self.endpoint.call(
            address,
            number,
            self.now(),
            calling_number="5551234",
            calling_name="e-STUDIO190F",
            preferred=preferred,
        )
        self.audio[call] = CallAudio(terminal)
        self.port.flush()
        return call

    def _on_event(self, event: Iax2Event) -> None:
        now = self.now()
        if isinstance(event, AudioReceived):
            audio = self.audio.get(event.call)
            if audio is not None:
                audio.terminal.rx(event.samples)
                audio.frames_in += 1
            return
        self.events.append(event)
        self.log.append(f"{time.monotonic() - self.t0:8.3f} event {event}")
        if isinstance(event, IncomingCall):
            make = self.answering.get(event.called_number)
            if make is None:
                self.endpoint.reject(event.call, now)
                return
            self.endpoint.accept(event.call, now)
            self.endpoint.ring(event.call, now)
            self.audio[event.call] = CallAudio(make())
            self._answer_at[event.call] = time.monotonic() + self.answer_after
        elif isinstance(event, CallAnswered):
            self._next_tick = time.monotonic()
        elif isinstance(event, CallEnded) and event.call in self.audio:
            self._drain(self.audio[event.call].terminal)

    @staticmethod
    def _drain(terminal: FaxTerminal) -> None:
        """The line is gone: let the terminal's T.30 run out (a sender is still sending its
        DCN when the far end hangs up) on silence, off the wall clock."""
        for _ in range(int(DRAIN / FRAME)):
            if terminal.done:
                return
            terminal.rx(silence())
            terminal.tx(160)

    # -- the loop -------------------------------------------------------------------------

    def step(self, max_wait: float = 0.05) -> None:
        wall = time.monotonic()
        deadline = self.endpoint.next_deadline()
        timeout = max_wait
        if deadline is not None:
            timeout = min(timeout, max(0.0, deadline / 1e6 - (wall - self.t0)))
        if self._live_audio() or self._answer_at:
            timeout = min(timeout, max(0.0, self._next_tick - wall))
        readers = [self.port.fileno(), *self.extra_readers]
        readable, _, _ = select.select(readers, [], [], timeout)
        for fd in readable:
            if fd == self.port.fileno():
                self.port.receive(self.now())
            else:
                self.extra_readers[fd]()
        self.endpoint.handle_timers(self.now())
        wall = time.monotonic()
        for call, due in list(self._answer_at.items()):
            if wall >= due:
                del self._answer_at[call]
                if self.endpoint.call_info(call).state in (CallState.ACCEPTED, CallState.RINGING):
                    self.endpoint.answer(call, self.now())
                    self._next_tick = wall
        if self._live_audio():
            self.late = max(self.late, wall - self._next_tick)
        while self._live_audio() and wall >= self._next_tick:
            for call in self._live_audio():
                audio = self.audio[call]
                self.endpoint.send_audio(call, audio.terminal.tx(160), self.now())
                audio.frames_out += 1
            self._next_tick += FRAME
            if wall - self._next_tick > 0.2:  # far behind (a stalled machine): do not burst
                self._next_tick = wall
        while (event := self.endpoint.next_event()) is not None:
            self._on_event(event)
        self.port.flush()

    def _live_audio(self) -> list[int]:
        live = []
        for call in self.audio:
            try:
                if self.endpoint.call_info(call).state == CallState.UP:
                    live.append(call)
            except Iax2Error:
                continue  # forgotten
        return live

    def run_until(self, done: Callable[[], bool], timeout: float, what: str = "") -> None:
        limit = time.monotonic() + timeout
        while not done():
            if time.monotonic() > limit:
                tail = "\n".join(self.log[-40:])
                raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tail}")
            self.step()

    def run_for(self, seconds: float) -> None:
        limit = time.monotonic() + seconds
        while time.monotonic() < limit:
            self.step(max_wait=max(0.0, min(0.05, limit - time.monotonic())))

    def ended(self, call: int) -> bool:
        return any(isinstance(e, CallEnded) and e.call == call for e in self.events) or (
            self.endpoint.call_info(call).state == CallState.DOWN
        )

    def close(self) -> None:
        for audio in self.audio.values():
            audio.terminal.close()
        self.port.close()


class IaxModem:
    """iaxmodem on a config file in `place`, registering with `trunk` as PEER_NAME."""

    def __init__(
        self,
        place: Path,
        trunk: Trunk,
        *,
        codec: str = "slinear",
        secret: str = PEER_SECRET,
        port: int | None = None,
    ) -> None:
        self.place = place
        self.trunk = trunk
        # No "_" in the path (HylaFAX); a name of its own, as HylaFAX locks /var/lock/LCK..NAME.
        self.device = place / f"iaxmodem{secrets.token_hex(3)}"
        self.port = port or free_udp_port()
        host, port = trunk.address
        self.config = place / "iaxmodem.conf"
        lines = [
            f"device {self.device}",
            "owner uucp:uucp",
            "mode 666",
            f"port {self.port}",
            "refresh 60",
            f"server {host}:{port}",
            f"peername {PEER_NAME}",
            f"secret {secret}" if secret else "",
            "cidname IAXmodem",
            f"cidnumber {IAXMODEM_NUMBER}",
            f"codec {codec}",
        ]
        self.config.write_text("\n".join(line for line in lines if line) + "\n")
        self.log_path = place / "iaxmodem.log"
        self._log = open(self.log_path, "w")
        self._pending = b""
        # iaxmodem prepends /etc/iaxmodem/ to its argument; climb back to the root from there.
        name = "../.." + str(self.config)
        self.proc = subprocess.Popen(
            ["stdbuf", "-oL", "-eL", shutil.which("iaxmodem") or "iaxmodem", name],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        os.set_blocking(self._fd, False)
        trunk.extra_readers[self._fd] = self._read_output

    def _read_output(self) -> None:
        try:
            chunk = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        if not chunk:
            self.trunk.extra_readers.pop(self._fd, None)
            return
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            text = line.decode(errors="replace")
            if "secret" in text.lower():
                continue  # iaxmodem echoes its config, secret included
            self._log.write(text + "\n")
        self._log.flush()

    @property
    def address(self) -> Address:
        return ("127.0.0.1", self.port)

    def wait_registered(self, timeout: float = 10) -> None:
        endpoint = self.trunk.endpoint
        self.trunk.run_until(
            lambda: endpoint.registered_address(PEER_NAME, self.trunk.now()) is not None,
            timeout,
            "iaxmodem to register",
        )
        self.trunk.run_until(
            lambda: "Registration completed successfully." in self.output(),
            timeout,
            "iaxmodem to see our REGACK",
        )
        self.trunk.run_until(self.device.exists, timeout, "iaxmodem's device link")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM: iaxmodem unregisters (REGREL) and waits for our REGACK before it exits."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.trunk.run_until(lambda: self.proc.poll() is not None, 5, "iaxmodem to exit")
            except AssertionError:
                self.proc.kill()
                self.proc.wait()
        self._read_output_rest()
        self._log.close()

    def _read_output_rest(self) -> None:
        if self._fd in self.trunk.extra_readers:
            while True:
                try:
                    chunk = os.read(self._fd, 65536)
                except (BlockingIOError, OSError):
                    break
                if not chunk:
                    break
                self._pending += chunk
            self._pending += b"\n"
            self._read_output()
            self.trunk.extra_readers.pop(self._fd, None)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def silence(count: int = 160) -> np.ndarray:
    return np.zeros(count, dtype=np.int16)
