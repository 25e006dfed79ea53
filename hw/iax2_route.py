"""The PBX trunk (`run --iax2`): the exchange's way out to IAX2 peers, and theirs in.

`Iax2Trunk` is an `hw.line.OutsideRoute` over the IAX2 endpoint (`hw.iax2.Iax2Endpoint`, sans
I/O) and its UDP edge (`hw.iax2_udp.Iax2UdpPort`); its socket is one of the outside world's links
(`clock.outside.watch`), served by whoever drives the clock.

- A peer's NEW for a number of the exchange rings that station (`network.call_from_outside`): the
  trunk accepts (the peer's format), says RINGING, and ANSWER when the station goes off hook; a
  number nobody has gets REJECT, a busy station REJECT "User busy".
- Our station dialling a number the dial plan routes here (`map(number, address)`, from
  `[line.peers]`) places a call to that address: RINGING is ring-back for the caller, ANSWER
  connects, BUSY or a refusal is the busy tone.
- The sound: a call through this trunk is carried by the audio line (`AudioRoute`) whatever the
  simulation's line mode: our station's modem chip on one end (live: the peer runs in real time),
  the peer's voice frames on the other (`Iax2Voice`, 20 ms frames of 8 kHz audio, slinear, µ-law
  or A-law as agreed).
- Time: while a call exists the trunk asks virtual time to follow the wall (`outside.pace`); the
  endpoint's own clock (timestamps, retransmissions, pings) is the driver's wall clock
  (`outside.wall`), with its deadlines as wall timers, so a run at `max` speed does not hurry a
  peer's retransmissions.

Events go to `log` (source "iax2"): calls in and out with their numbers and results, peers that
register. A secret never does.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .audio_line import AudioStation
from .audio_modem import US_PER_SAMPLE
from .clock import Clock
from .eventlog import EventLog
from .iax2 import (
    FRAME_SAMPLES,
    AudioReceived,
    CallAnswered,
    CallEnded,
    CallRinging,
    Iax2Endpoint,
    Iax2Error,
    Iax2Event,
    IncomingCall,
    PeerRegistered,
    PeerUnregistered,
    RegistrationRefused,
)
from .iax2_frames import Address
from .iax2_udp import Iax2UdpPort
from .line import Call, PhoneNetwork
from .modem import Signal
from .outside import NoDriver, WallTimer

USER_BUSY = ("User busy", 17)
UNALLOCATED = ("Unallocated number", 1)
CALLING_NAME = "e-STUDIO190F"
MAX_LAG = 800  # samples (100 ms): the peer's sound may lag this much before silence fills in
MAX_AHEAD = 1600  # samples (200 ms) buffered beyond that: older ones are dropped


class Iax2Voice:
    """The peer's end of one call as an `hw.audio_line.AudioStation`: the voice frames it sent,
    as sound, and what our end sends, as voice frames."""

    def __init__(self, trunk: Iax2Trunk, iax_call: int, origin_us: int) -> None:
        self.trunk = trunk
        self.iax_call = iax_call
        self.origin_us = origin_us
        self._in: list[np.ndarray] = []
        self._given = 0
        self._out = np.zeros(0, dtype=np.int16)
        self.filled = 0  # samples of silence given because the peer's sound was late
        self.dropped = 0  # samples dropped because the peer ran ahead

    def heard(self, samples: np.ndarray) -> None:
        """Samples of a voice frame from the peer."""
        self._in.append(samples)

    def audio(self, until_us: int) -> np.ndarray:
        due = (until_us - self.origin_us) // US_PER_SAMPLE - self._given
        if due <= 0:
            return np.zeros(0, dtype=np.int16)
        sound = np.concatenate(self._in) if self._in else np.zeros(0, dtype=np.int16)
        if sound.size > due + MAX_AHEAD:
            drop = sound.size - due - MAX_LAG
            self.dropped += drop
            sound = sound[drop:]
        take = min(due, sound.size)
        out, rest = sound[:take], sound[take:]
        missing = due - MAX_LAG - take
        if missing > 0:
            out = np.concatenate((out, np.zeros(missing, dtype=np.int16)))
            self.filled += missing
        self._in = [rest] if rest.size else []
        self._given += out.size
        return out

    def receive(self, samples: np.ndarray) -> list[tuple[int, Signal]]:
        """What our end sent: on to the peer, a frame of 20 ms at a time."""
        self._out = np.concatenate((self._out, samples))
        frames = self._out.size // FRAME_SAMPLES
        for n in range(frames):
            self.trunk.send_audio(
                self.iax_call, self._out[n * FRAME_SAMPLES : (n + 1) * FRAME_SAMPLES]
            )
        self._out = self._out[frames * FRAME_SAMPLES :]
        return []


@dataclass(eq=False)
class _TrunkCall:
    iax: int
    call: Call
    voice: Iax2Voice | None = None


class Iax2Trunk:
    live = True  # for hw.audio_call: the peer runs in real time

    def __init__(
        self,
        network: PhoneNetwork,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        peers: dict[str, str] | None = None,
        rng: random.Random | None = None,
        log: EventLog | None = None,
    ) -> None:
        self.network = network
        self.clock: Clock = network.clock
        self.log = log
        self.endpoint = Iax2Endpoint(peers=peers, rng=rng or random.Random(0))
        self.port = Iax2UdpPort(self.endpoint, host, port)
        self.numbers: dict[str, Address] = {}  # the dial plan's numbers reached through here
        self._calls: dict[int, _TrunkCall] = {}  # by the endpoint's call number
        self._timer: WallTimer | None = None
        self._closed = False
        self.clock.outside.watch(self)

    @property
    def address(self) -> Address:
        return self.port.address

    def map(self, number: str, address: Address) -> None:
        """Dialling `number` calls the IAX2 peer at `address` (`[line.peers]`)."""
        self.network.route(number, self)
        self.numbers[number] = address

    # -- the outside link (served by the clock's driver) -------------------------------------
    def fileno(self) -> int:
        return self.port.fileno()

    def readable(self) -> None:
        self.port.receive(self._now())
        self._service()

    def wants_write(self) -> bool:
        return False

    def writable(self) -> None:
        pass

    # -- the exchange's side (OutsideRoute) ---------------------------------------------------
    def place_call(self, call: Call, number: str) -> None:
        caller = call.caller.number if call.caller is not None else ""
        iax = self.endpoint.call(self.numbers[number], number, self._now(),
                                 calling_number=caller, calling_name=CALLING_NAME)  # fmt: skip
        self._calls[iax] = _TrunkCall(iax, call)
        self._emit("call_out", number=number, caller=caller)
        self._service()

    def answered(self, call: Call) -> None:
        entry = self._entry(call)
        if entry is not None:
            self._act(self.endpoint.answer, entry.iax)

    def hung_up(self, call: Call) -> None:
        entry = self._entry(call)
        if entry is None:
            return
        del self._calls[entry.iax]
        self._act(self.endpoint.hangup, entry.iax)
        self._emit("hung_up", by="us")

    def transmit(self, call: Call, signal: Signal) -> None:
        """Not used: the audio line carries this route's calls as sound."""

    # -- the audio line's side (hw.audio_call.AudioRoute) -----------------------------------------
    def audio_station(self, call: Call, origin_us: int) -> AudioStation:
        entry = self._entry(call)
        assert entry is not None, "a call the trunk does not have"
        entry.voice = Iax2Voice(self, entry.iax, origin_us)
        return entry.voice

    def send_audio(self, iax_call: int, samples: np.ndarray) -> None:
        if self.endpoint.send_audio(iax_call, samples, self._now()):
            self.port.flush()

    # -- the endpoint's events --------------------------------------------------------------
    def _service(self) -> None:
        """Events out of the endpoint, datagrams out, the next wall deadline, and pacing."""
        while (event := self.endpoint.next_event()) is not None:
            self._event(event)
        self.port.flush()
        self._schedule()
        self.clock.outside.pace(self, bool(self._calls))

    def _event(self, event: Iax2Event) -> None:
        if isinstance(event, AudioReceived):
            entry = self._calls.get(event.call)
            if entry is not None and entry.voice is not None:
                entry.voice.heard(event.samples)
        elif isinstance(event, IncomingCall):
            self._incoming(event)
        elif isinstance(event, CallRinging):
            entry = self._calls.get(event.call)
            if entry is not None:
                self.network.outside_ringing(entry.call)
        elif isinstance(event, CallAnswered):
            entry = self._calls.get(event.call)
            if entry is not None:
                self._emit("answered", number=entry.call.caller.number if entry.call.caller else "")
                self.network.outside_answered(entry.call)
        elif isinstance(event, CallEnded):
            self._ended(event)
        elif isinstance(event, PeerRegistered):
            self._emit(
                "registered", peer=event.username, address=f"{event.address[0]}:{event.address[1]}"
            )
        elif isinstance(event, PeerUnregistered):
            self._emit("unregistered", peer=event.username)
        elif isinstance(event, RegistrationRefused):
            self._emit("registration_refused", peer=event.username, cause=event.cause)

    def _incoming(self, event: IncomingCall) -> None:
        now = self._now()
        number = event.called_number
        self._emit("call_in", number=number, caller=event.calling_number, format=event.format.name)
        if number not in self.network.lines:
            self.endpoint.reject(event.call, now, UNALLOCATED)
            self._emit("refused", number=number, cause=UNALLOCATED[0])
            return
        call = self.network.call_from_outside(number, self)
        if call is None:
            self.endpoint.reject(event.call, now, USER_BUSY)
            self._emit("refused", number=number, cause=USER_BUSY[0])
            return
        self._calls[event.call] = _TrunkCall(event.call, call)
        self.endpoint.accept(event.call, now)
        self.endpoint.ring(event.call, now)

    def _ended(self, event: CallEnded) -> None:
        entry = self._calls.pop(event.call, None)
        self._emit("ended", reason=event.reason, cause=event.cause)
        if entry is None:
            return
        call = entry.call
        if call.caller is not None and call.state == "ringing":
            self.network.outside_busy(call)  # refused, busy, or gone before an answer
        else:
            self.network.outside_ended(call)

    # -- internals -------------------------------------------------------------------------------
    def _entry(self, call: Call) -> _TrunkCall | None:
        return next((e for e in self._calls.values() if e.call is call), None)

    def _act(self, action: Callable[[int, int], None], iax: int) -> None:
        try:
            action(iax, self._now())
        except Iax2Error:
            pass  # the peer ended it meanwhile: its CallEnded says so
        self._service()

    def _now(self) -> int:
        """The endpoint's time: the driver's wall clock, in microseconds."""
        return int(self.clock.outside.wall() * 1_000_000)

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.endpoint.next_deadline()
        if deadline is None or self._closed:
            return
        wait = max(0.0, (deadline - self._now()) / 1e6)
        self._timer = self.clock.outside.after_wall(wait, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.endpoint.handle_timers(self._now())
        self._service()

    def _emit(self, kind: str, **fields: object) -> None:
        if self.log is not None:
            self.log.emit("iax2", kind, **fields)

    def close(self) -> None:
        """Hang up what is up, stop serving the socket, close it."""
        if self._closed:
            return
        for entry in list(self._calls.values()):
            try:
                self.endpoint.hangup(entry.iax, self._now())
            except (Iax2Error, NoDriver):
                pass
        self._calls.clear()
        self.port.flush()
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self.clock.outside.pace(self, False)
        self.clock.outside.unwatch(self)
        self.port.close()

    def __repr__(self) -> str:
        host, port = self.address
        return f"<Iax2Trunk {host}:{port}>"


__all__ = ["Iax2Trunk", "Iax2Voice"]
