"""The virtual phone network: numbers, dialing, ringing, answer, busy, no answer, drops, noise.

`PhoneNetwork` holds every station's `LineInterface` (the line port of one machine, or of the
Class 1 modem, or of a tester) under its number, all on one clock. A station goes off hook and
dials (tone dialing, with pauses); the exchange then gives a busy tone or rings the called line
with the North American cadence until it answers (or the caller gives up: there is no network
time-out). Once connected, each modem's signals reach the far modem at the instant they complete,
through the impairments of both ends' lines: a bit-error rate per modulation (from the station's
seeded random generator) and a top rate above which a carrier arrives garbled. A call can be cut
now or at a given instant; hanging up tells the far end (loop-current break).

Faults of DESIGN.md 3.2, as conditions on the station they are set on (`clear` removes them):
- `line.busy`: the line is engaged: numbers this station dials give a busy tone, and callers
  dialing this station get a busy tone;
- `line.no_answer`: calls this station places ring out unanswered, and calls to this station
  never reach it (the caller hears ringing that nobody answers);
- `line.drop`: the call in progress is cut at once and the line is dead while the fault is set
  (no dial tone: dialing fails; incoming calls ring unanswered);
- `line.noise`: the local loop is noisy: the bit-error rates of `NOISE_BER` on everything this
  station sends and receives (enough to force V.17 14400 and 12000 down and to mark a few lines).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import numpy as np

from .clock import MS, SECOND, Clock, Timer
from .eventlog import EventLog
from .faults import FaultRegistry
from .listeners import Listeners
from .modem import DATA, FRAMES, MODULATIONS, Modem, Signal
from .power import PowerSupply

LINE_FAULTS = ("line.busy", "line.no_answer", "line.drop", "line.noise")

DIAL_TONE_WAIT = 1 * SECOND  # off hook to the first digit (dial-tone detection)
DTMF_TONE = 100 * MS  # tone dialing: each digit a 100 ms tone and a 100 ms gap
DTMF_GAP = 100 * MS
PAUSE = 3 * SECOND  # a dialing pause (REDIAL/PAUSE key); project choice, common fax default
PAUSE_CHARS = ",Pp-"
CONNECT_DELAY = 1 * SECOND  # last digit to the first ring or the busy tone (the exchange)
RING_ON = 2 * SECOND  # North American ring cadence: 2 s on, 4 s off
RING_OFF = 4 * SECOND

# line.noise: bit-error rates by modulation; V.21's FSK at 300 bit/s shrugs the noise off.
NOISE_BER: dict[str, float] = {
    "V.21": 0.0,
    "V.27ter/2400": 1e-6,
    "V.27ter/4800": 1e-5,
    "V.29/7200": 5e-5,
    "V.29/9600": 2e-4,
    "V.17/7200": 2e-5,
    "V.17/9600": 5e-5,
    "V.17/12000": 5e-4,
    "V.17/14400": 2e-3,
}
OVER_RATE_BER = 0.02  # a carrier faster than the line can carry arrives this garbled


@dataclass
class Impairments:
    """What one station's local loop does to signals: bit errors and a top rate."""

    ber: dict[str, float] = field(default_factory=dict)  # by modulation key; "*" for any
    max_rate: int | None = None  # bit/s; faster carriers arrive garbled

    def ber_for(self, modulation: str) -> float:
        return self.ber.get(modulation, self.ber.get("*", 0.0))


@dataclass(frozen=True, slots=True)
class LineEvent:
    kind: str  # dialed | no_dial_tone | ringback | busy | ring | ring_off | answered |
    #            connected | remote_hangup | dropped
    n: int = 0  # ring number for ring / ring_off / ringback


class OutsideRoute(Protocol):
    """A way out of the exchange to peers outside the process (T.38, IAX2). The dial plan maps
    numbers to a route (`PhoneNetwork.route`); the route reports back to the network
    (`outside_ringing`, `outside_answered`, `outside_busy`, `outside_ended`, `outside_signal`)
    and brings calls in (`call_from_outside`)."""

    def place_call(self, call: Call, number: str) -> None:
        """Our station dialled `number`, which this route reaches: call the peer."""

    def answered(self, call: Call) -> None:
        """Our station answered a call this route brought in."""

    def hung_up(self, call: Call) -> None:
        """Our station hung up (or the network dropped the call)."""

    def transmit(self, call: Call, signal: Signal) -> None:
        """What our station's modem sent, completing now: on to the peer."""


class Carriage(Protocol):
    """How the exchange carries the calls it is given to when not as signals: in sound, through
    each station's modem chip (`hw.audio_call.AudioCarriage`, the audio line). The exchange tells
    it where a call is at; a line it carries sends its modem's signals to it."""

    def carries(self, line: LineInterface) -> bool:
        """Whether `line`'s signals go to the carriage now."""
        ...

    def transmit(self, line: LineInterface, signal: Signal) -> None:
        """What `line`'s modem sent, completing now."""

    def dialing(self, line: LineInterface, digits: str) -> None:
        """`line` starts to dial (its dial tone began now)."""

    def connected(self, call: Call) -> None:
        """`call` was answered now."""

    def hang_up_later(self, line: LineInterface, call: Call) -> bool:
        """`line` went on hook during `call`: True if the carriage ends the call for the far end
        itself, once what `line` sent has reached it."""
        ...

    def released(self, line: LineInterface) -> None:
        """`line` went on hook, or lost its call."""


class Call:
    """One call through the exchange, from dialing to the last hang-up. A call with a peer
    outside the process has that end's line None and its `route` set."""

    def __init__(self, caller: LineInterface | None, callee: LineInterface | None,
                 route: OutsideRoute | None = None) -> None:  # fmt: skip
        self.caller = caller
        self.callee = callee
        self.route = route
        self.state = "ringing"  # ringing | connected | ended
        self.rings = 0
        self.ring_timer: Timer | None = None

    def other(self, line: LineInterface) -> LineInterface | None:
        return self.callee if line is self.caller else self.caller

    @property
    def local(self) -> LineInterface | None:
        """A call with an outside peer: the station of this exchange."""
        return self.caller or self.callee


class LineInterface:
    """One station's line port: hook switch, dialer, ring detector, and the path to its modem."""

    def __init__(
        self,
        network: PhoneNetwork,
        number: str,
        rng: random.Random | None = None,
        log: EventLog | None = None,
    ) -> None:
        self.network = network
        self.clock = network.clock
        self.number = number
        self.log = log
        seed = (rng or random.Random(number)).getrandbits(63)
        self.noise_rng = np.random.default_rng(seed)
        self.listeners: Listeners[[LineEvent]] = Listeners()
        self.modem: Modem | None = None
        self.state = "idle"  # idle | off_hook | dialing | calling | busy | ringing | connected
        self.call: Call | None = None
        self.impairments = Impairments()
        self.busy_fault = False
        self.no_answer_fault = False
        self.dead = False
        self.noise = False
        self._timers: list[Timer] = []

    # -- wiring ----------------------------------------------------------------------------------
    def attach_modem(self, modem: Modem) -> None:
        self.modem = modem
        modem.line = self

    # -- hook switch and dialer ------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.state == "connected"

    @property
    def off_hook(self) -> bool:
        return self.state not in ("idle", "ringing")

    def go_off_hook(self) -> None:
        """Lift the line: answers a ringing call, else takes the line (dial tone) for dialing."""
        if self.state == "ringing" and self.call is not None and self.call.state == "ringing":
            self.network._answer(self.call)
        elif self.state == "idle":
            self.state = "off_hook"
            self._event("off_hook")

    def hang_up(self) -> None:
        """Put the line on hook, ending our call; a line ringing on hook stays ringing."""
        if self.state in ("idle", "ringing"):
            return
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        call = self.call
        self.state = "idle"
        self.call = None
        if self.modem is not None:
            self.modem.line_lost()
        carriage = self.network.carriage
        if call is not None and call.state != "ended":
            if carriage is None or not carriage.hang_up_later(self, call):
                self.network._end(call, by=self)
        self._event("on_hook")
        if carriage is not None:
            carriage.released(self)

    def dial(self, digits: str) -> int:
        """Dial `digits` (0-9 * #, pauses as , P or -); returns the instant dialing ends.

        The exchange answers CONNECT_DELAY later with a busy tone or ringing (events).
        """
        if self.state == "idle":
            self.go_off_hook()
        if self.state != "off_hook":
            raise RuntimeError(f"cannot dial in line state {self.state}")
        if self.dead:
            self._later(DIAL_TONE_WAIT, self._event, "no_dial_tone")
            return self.clock.now + DIAL_TONE_WAIT
        self.state = "dialing"
        if self.network.carriage is not None:
            self.network.carriage.dialing(self, digits)
        t = DIAL_TONE_WAIT
        number = ""
        for ch in digits:
            if ch in PAUSE_CHARS:
                t += PAUSE
            elif ch.isdigit() or ch in "*#":
                t += DTMF_TONE + DTMF_GAP
                number += ch
            elif ch in " ()":
                continue
            else:
                raise ValueError(f"cannot dial {ch!r}")
        self._later(t, self._dialed, number)
        return self.clock.now + t

    def _dialed(self, number: str) -> None:
        self._event("dialed")
        self._later(CONNECT_DELAY, self.network._place_call, self, number)

    # -- signals ----------------------------------------------------------------------------------
    def transmit(self, signal: Signal) -> None:
        """A signal from our modem, completing now: it reaches the far modem through both loops."""
        call = self.call
        carriage = self.network.carriage
        if carriage is not None and carriage.carries(self):
            if call is not None and call.state == "connected":
                self.network.taps(call, self, signal)
            carriage.transmit(self, signal)
            return
        if call is None or call.state != "connected":
            return
        self.network.taps(call, self, signal)
        if call.route is not None:
            if signal.kind in (FRAMES, DATA):
                signal = self._impair(signal, None)
            call.route.transmit(call, signal)
            return
        far = call.other(self)
        if far is None or far.modem is None:
            return
        if signal.kind in (FRAMES, DATA):
            signal = self._impair(signal, far)
        far.modem.on_line_signal(signal)

    def _impair(self, signal: Signal, far: LineInterface | None) -> Signal:
        """The signal through this loop and the far end's (None: a peer outside, whose line is
        its own business); the noise is drawn at the receiving end."""
        mod = signal.modulation
        far_ber = far._ber(mod) if far is not None else 0.0
        ber = 1.0 - (1.0 - self._ber(mod)) * (1.0 - far_ber)
        rate = MODULATIONS[mod].rate
        limits = [self.impairments.max_rate, far.impairments.max_rate if far else None]
        for limit in limits:
            if limit is not None and rate > limit:
                ber = max(ber, OVER_RATE_BER)
        if ber <= 0.0:
            return signal
        rng = (far or self).noise_rng
        if signal.kind == DATA:
            return Signal(DATA, mod, data=flip_bits(signal.data, ber, rng))
        frames = []
        for frame, ok in signal.frames:
            bits = (len(frame) + 2) * 8
            if rng.random() < 1.0 - (1.0 - ber) ** bits:
                pos = int(rng.integers(0, bits))
                if pos < len(frame) * 8:
                    data = bytearray(frame)
                    data[pos >> 3] ^= 1 << (pos & 7)
                    frame = bytes(data)
                ok = False
            frames.append((frame, ok))
        return Signal(FRAMES, mod, frames=tuple(frames))

    def _ber(self, modulation: str) -> float:
        ber = self.impairments.ber_for(modulation)
        if self.noise:
            ber = max(ber, NOISE_BER.get(modulation, 0.0))
        return ber

    def impair(
        self, *, ber: dict[str, float] | float | None = None, max_rate: int | None = None
    ) -> None:
        """Set this loop's impairments (a float BER applies to every high-speed modulation)."""
        if isinstance(ber, float | int):
            ber = {key: float(ber) for key in MODULATIONS if key != "V.21"}
        self.impairments = Impairments(dict(ber or {}), max_rate)

    def power_changed(self, on: bool) -> None:
        """The machine's power went: the line is released (on hook)."""
        if not on:
            self.hang_up()

    # -- drops ----------------------------------------------------------------------------------------
    def cut(self) -> None:
        """The network drops the call now; both ends lose the line."""
        if self.call is not None and self.call.state != "ended":
            self.network._drop(self.call)

    def cut_at(self, when: int) -> Timer:
        return self.clock.call_at(when, self.cut, label="line cut")

    # -- faults -----------------------------------------------------------------------------------
    def set_fault(self, name: str, on: bool) -> None:
        if name == "line.busy":
            self.busy_fault = on
        elif name == "line.no_answer":
            self.no_answer_fault = on
        elif name == "line.drop":
            self.dead = on
            if on:
                self.cut()
        elif name == "line.noise":
            self.noise = on
        else:
            raise KeyError(name)

    # -- internals ---------------------------------------------------------------------------------
    def _lose_call(self, kind: str) -> None:
        """The call went from under us (`remote_hangup`: the far end hung up; `dropped`: the
        network cut it): the modem loses the line, a ringing line goes quiet, else it stays off
        hook."""
        self.call = None
        if self.modem is not None:
            self.modem.line_lost()
        self.state = "idle" if self.state == "ringing" else "off_hook"
        self._event(kind)
        if self.network.carriage is not None:
            self.network.carriage.released(self)

    def _later(self, delay: int, fn: Callable[..., Any], *args: Any) -> None:
        self._timers = [t for t in self._timers if not t.cancelled]
        self._timers.append(self.clock.call_later(delay, fn, *args, label="line"))

    def _event(self, kind: str, n: int = 0) -> None:
        if self.log is not None:
            fields: dict[str, Any] = {"n": n} if n else {}
            self.log.emit("line", kind, **fields)
        self.listeners(LineEvent(kind, n))


class Station(Protocol):
    """What the network needs of a machine's board to plug it in."""

    random: random.Random
    log: EventLog
    faults: FaultRegistry
    power: PowerSupply
    line: LineInterface | None
    modem: Modem | None


class PhoneNetwork:
    """The exchange: numbers to line ports, call set-up and tear-down, all on one clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lines: dict[str, LineInterface] = {}
        self.routes: dict[str, OutsideRoute] = {}  # the dial plan: numbers reached outside
        # Every signal on a connected call, as it leaves its station (captures listen here).
        self.taps: Listeners[[Call, LineInterface | None, Signal]] = Listeners()
        # The audio line (hw.audio_call), when calls are carried in sound; None: all as signals.
        self.carriage: Carriage | None = None

    def route(self, number: str, route: OutsideRoute) -> None:
        """Dialling `number` reaches a peer outside the process through `route`."""
        if number in self.lines:
            raise ValueError(f"number {number} is a station on this network")
        self.routes[number] = route

    def add_line(
        self, number: str, rng: random.Random | None = None, log: EventLog | None = None
    ) -> LineInterface:
        if number in self.lines:
            raise ValueError(f"number {number} is taken on this network")
        line = LineInterface(self, number, rng, log)
        self.lines[number] = line
        return line

    def renumber(self, line: LineInterface, number: str) -> None:
        if self.lines.get(number) not in (None, line):
            raise ValueError(f"number {number} is taken on this network")
        self.lines.pop(line.number, None)
        line.number = number
        self.lines[number] = line

    def attach(self, board: Station, number: str) -> LineInterface:
        """Plug a machine's board into the network at `number`: its line port and modem, its
        line faults, and the line going on hook when the power goes."""
        line = self.add_line(number, board.random, board.log)
        modem = Modem(self.clock)
        line.attach_modem(modem)
        board.line = line
        board.modem = modem
        for name in LINE_FAULTS:
            board.faults.register(
                name, partial(line.set_fault, name, True), partial(line.set_fault, name, False)
            )
        board.power.changed.add(line.power_changed)
        return line

    # -- the exchange --------------------------------------------------------------------------------
    def _place_call(self, caller: LineInterface, number: str) -> None:
        if caller.state != "dialing":
            return
        callee = self.lines.get(number)
        busy = caller.busy_fault or (
            callee is not None and (callee.busy_fault or callee.state != "idle" or callee is caller)
        )
        if busy:
            caller.state = "busy"
            caller._event("busy")
            return
        route = self.routes.get(number) if callee is None else None
        if route is not None and not caller.no_answer_fault:
            call = Call(caller, None, route)
            caller.call = call
            caller.state = "calling"
            route.place_call(call, number)
            return
        call = Call(caller, callee)
        caller.call = call
        caller.state = "calling"
        # An unassigned number, or a call lost on the way, rings out with nobody at the far end.
        reaches = callee is not None and not caller.no_answer_fault and not callee.no_answer_fault
        if reaches and callee is not None:
            callee.call = call
            callee.state = "ringing"
        else:
            call.callee = None
        self._ring(call)

    def _ring(self, call: Call) -> None:
        if call.state != "ringing":
            return
        call.rings += 1
        if call.caller is not None:
            call.caller._event("ringback", call.rings)
        if call.callee is not None:
            call.callee._event("ring", call.rings)
        call.ring_timer = self.clock.call_later(RING_ON, self._ring_off, call, label="ring off")

    def _ring_off(self, call: Call) -> None:
        if call.state != "ringing":
            return
        if call.callee is not None:
            call.callee._event("ring_off", call.rings)
        call.ring_timer = self.clock.call_later(RING_OFF, self._ring, call, label="ring")

    def _answer(self, call: Call) -> None:
        if call.ring_timer is not None:
            call.ring_timer.cancel()
        call.state = "connected"
        if self.carriage is not None:
            self.carriage.connected(call)
        assert call.callee is not None
        call.callee.state = "connected"
        call.callee._event("connected")
        if call.caller is not None:
            call.caller.state = "connected"
            call.caller._event("answered")
        elif call.route is not None:
            call.route.answered(call)

    def _end(self, call: Call, by: LineInterface) -> None:
        if call.ring_timer is not None:
            call.ring_timer.cancel()
        call.state = "ended"
        if call.route is not None:
            call.route.hung_up(call)
            return
        other = call.other(by)
        if other is not None and other.call is call:
            other._lose_call("remote_hangup")

    def _drop(self, call: Call) -> None:
        if call.ring_timer is not None:
            call.ring_timer.cancel()
        if call.route is not None and call.state != "ended":
            call.route.hung_up(call)
        call.state = "ended"
        for line in (call.caller, call.callee):
            if line is not None and line.call is call:
                line._lose_call("dropped")

    # -- calls with peers outside the process (what their route reports) --------------------------
    def call_from_outside(self, number: str, route: OutsideRoute) -> Call | None:
        """A peer outside calls `number`: its station rings (the route hears `answered` when it is
        answered). None when nobody can take it (no such station, or it is busy): the route says
        so to its peer."""
        callee = self.lines.get(number)
        if callee is None or callee.busy_fault or callee.no_answer_fault or callee.state != "idle":
            return None
        call = Call(None, callee, route)
        callee.call = call
        callee.state = "ringing"
        self._ring(call)
        return call

    def outside_ringing(self, call: Call) -> None:
        """The peer we called is ringing (the caller hears ring-back)."""
        if call.state == "ringing" and call.caller is not None:
            call.rings += 1
            call.caller._event("ringback", call.rings)

    def outside_answered(self, call: Call) -> None:
        """The peer we called answered."""
        caller = call.caller
        if call.state != "ringing" or caller is None or caller.call is not call:
            return
        call.state = "connected"
        if self.carriage is not None:
            self.carriage.connected(call)
        caller.state = "connected"
        caller._event("answered")

    def outside_busy(self, call: Call) -> None:
        """The peer we called is busy (or refused the call)."""
        caller = call.caller
        call.state = "ended"
        if caller is not None and caller.call is call:
            caller.call = None
            caller.state = "busy"
            caller._event("busy")

    def outside_ended(self, call: Call) -> None:
        """The peer outside hung up, or the route lost it."""
        if call.ring_timer is not None:
            call.ring_timer.cancel()
        call.state = "ended"
        local = call.local
        if local is not None and local.call is call:
            local._lose_call("remote_hangup")

    def outside_signal(self, call: Call, signal: Signal) -> None:
        """A signal from the peer outside, completing now: to our station's modem."""
        local = call.local
        if call.state != "connected" or local is None or local.modem is None:
            return
        self.taps(call, None, signal)
        if signal.kind in (FRAMES, DATA):
            signal = local._impair(signal, None)
        local.modem.on_line_signal(signal)


def flip_bits(data: bytes, ber: float, rng: np.random.Generator) -> bytes:
    """`data` with each bit flipped with probability `ber` (the errors drawn from `rng`)."""
    nbits = len(data) * 8
    count = int(rng.binomial(nbits, min(ber, 1.0))) if nbits else 0
    if count == 0:
        return data
    positions = rng.integers(0, nbits, size=count)
    out = np.frombuffer(data, dtype=np.uint8).copy()
    np.bitwise_xor.at(out, positions >> 3, (1 << (positions & 7)).astype(np.uint8))
    return out.tobytes()


__all__ = [
    "Call",
    "Carriage",
    "Impairments",
    "OutsideRoute",
    "LineEvent",
    "LineInterface",
    "NOISE_BER",
    "PhoneNetwork",
    "flip_bits",
]
