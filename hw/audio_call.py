"""The audio line: the exchange's calls carried as 8 kHz sound through each station's modem chip.

`AudioCarriage` plugs into `hw.line.PhoneNetwork` (as its `carriage`) and takes over the calls
it carries: what a station's modem puts on the line goes to that station's `AudioModemChip`
instead of to the far modem; every `PUMP` of virtual time the sound of both ends is carried
through the line model (`hw.audio_line.AudioLink`: the loops' noise, attenuation and echo) and
what each chip recognises goes to its modem. The modem (`hw.modem`) and the T.30 engine above it
are the same on either line and do not know which one they are on.

Which calls: with `mode` "audio" every call of the exchange; with "signal" only calls through a
route that carries sound (`AudioRoute`: the IAX2 trunk, whose peer is a real-time soft modem) and
calls of a station that only has sound (`attach_station`: SpanDSP's fax terminal as a device).

A call's sound, per station (a `_Leg`):
- the caller's begins when it dials: dial tone for `DIAL_TONE_WAIT`, its DTMF digits, then the
  exchange's ring-back (2 s on, 4 s off, from the first ring) or busy tone until the call is
  answered or given up; whatever its modem sends meanwhile (CNG) is in its sent channel;
- the answering station's begins when it goes off hook;
- from the answer on, both ends through the line model, until the loop current is broken. A
  station that hangs up is off the line at once, but the far end still hears what was on its way
  (`TAIL`: the last frame's closing flags and the carrier's end), as on copper: the far end's
  line drops `TAIL` later.
When a leg ends, its recording (stereo int16: channel 1 what the station sent, channel 2 what it
heard) goes to `recordings(line, samples)`; `panel` writes the files.

Impairments are per station (`loop_of(line)` -> `LoopImpairments`) and seeded (`seed`, then the
call's number), so a run is repeatable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from .audio_line import (
    BUSY,
    DIAL_TONE,
    NOISY_LINE_SNR_DB,
    RINGBACK,
    AudioLink,
    AudioStation,
    ExchangeTone,
    LoopImpairments,
    exchange_tone,
)
from .audio_modem import ECHO_GUARD_US, US_PER_SAMPLE, AudioModemChip, AudioTransmitter
from .clock import MS, Clock, Timer
from .line import DIAL_TONE_WAIT, Call, LineEvent, LineInterface, PhoneNetwork
from .listeners import Listeners
from .modem import Signal

if TYPE_CHECKING:
    from .line import OutsideRoute

# The line is carried in steps of this much virtual time: what a chip recognised reaches its modem
# up to a step late (within T.30's tolerances; 40 ms costs a fifth less than 20). A call with a
# real-time peer (the trunk) steps every voice frame.
PUMP = 40 * MS
PUMP_LIVE = 20 * MS
TAIL = 150 * MS  # what a station sent before hanging up still reaches the far end
MODES = ("signal", "audio")


@runtime_checkable
class AudioRoute(Protocol):
    """An outside route whose calls carry sound (the IAX2 trunk): the far end of such a call is
    an `AudioStation` it makes when the call is answered."""

    live: bool  # the peer runs in real time: chips on its calls never wait for content

    def audio_station(self, call: Call, origin_us: int) -> AudioStation: ...


StationFactory = Callable[[int], AudioStation]  # origin µs -> the sound of one call


@dataclass(eq=False)
class _Leg:
    """One station's sound on one call."""

    line: LineInterface
    clock: Clock
    start_us: int
    chip: AudioModemChip | None  # a station with a modem
    dialer: AudioTransmitter  # what it sends before the answer (the chip's own transmitter)
    station: AudioStation | None = None  # set at the answer
    tones: list[tuple[int, ExchangeTone | None]] = field(default_factory=list)  # (from, tone)
    sent_prefix: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    heard_prefix: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))

    def line_event(self, event: LineEvent) -> None:
        """The exchange's progress tones, as the line reports them."""
        now = self.clock.now
        if event.kind == "ringback" and not any(t is RINGBACK for _, t in self.tones):
            self.hear(now, RINGBACK)
        elif event.kind == "busy":
            self.hear(now, BUSY)

    def hear(self, at_us: int, tone: ExchangeTone | None) -> None:
        """The exchange plays `tone` (None: silence) to this station from `at_us`."""
        self.tones.append((at_us, tone))

    def heard_before(self, until_us: int) -> np.ndarray:
        """The exchange's tones from the leg's start to `until_us`."""
        pieces: list[np.ndarray] = []
        marks = [*self.tones, (until_us, None)]
        position = self.start_us
        for (at, tone), (nxt, _) in zip(marks, marks[1:], strict=False):
            begin, end = max(at, position), min(nxt, until_us)
            if end <= begin:
                continue
            if begin > position:
                pieces.append(np.zeros((begin - position) // US_PER_SAMPLE, np.int16))
            count = (end - begin) // US_PER_SAMPLE
            if tone is None:
                pieces.append(np.zeros(count, np.int16))
            else:
                pieces.append(exchange_tone(tone, count * US_PER_SAMPLE, begin - at))
            position = begin + count * US_PER_SAMPLE
        total = (until_us - self.start_us) // US_PER_SAMPLE
        out = np.concatenate(pieces) if pieces else np.zeros(0, np.int16)
        return _fit(out, total)


@dataclass(eq=False)
class _AudioCall:
    """A call in sound from its answer: its legs (one or two stations of this exchange), the
    line between them and the far end."""

    number: int
    call: Call
    legs: list[_Leg]
    link: AudioLink
    far: AudioStation | None  # a route's station, when the far end is outside
    live: bool = False  # the far end runs in real time
    ending: Timer | None = None
    finished: bool = False


def _fit(samples: np.ndarray, count: int) -> np.ndarray:
    if samples.size >= count:
        return samples[:count]
    return np.concatenate((samples, np.zeros(count - samples.size, np.int16)))


def _number(digits: str) -> str:
    return "".join(c for c in digits if c.isdigit() or c in "*#")


def default_loop(line: LineInterface) -> LoopImpairments:
    """A clean loop, or white noise at `NOISY_LINE_SNR_DB` while the `line.noise` fault is set."""
    return LoopImpairments(snr_db=NOISY_LINE_SNR_DB if line.noise else None)


class AudioCarriage:
    def __init__(
        self,
        network: PhoneNetwork,
        *,
        mode: str = "audio",
        seed: int = 0,
        loop_of: Callable[[LineInterface], LoopImpairments] = default_loop,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"line mode is signal or audio, not {mode!r}")
        self.network = network
        self.clock: Clock = network.clock
        self.mode = mode
        self.seed = seed
        self.loop_of = loop_of
        self.recordings: Listeners[[LineInterface, np.ndarray]] = Listeners()
        self._stations: dict[LineInterface, StationFactory] = {}
        self._legs: dict[LineInterface, _Leg] = {}  # the current leg of each line
        self._calls: list[_AudioCall] = []
        self._count = 0
        self._pump_timer: Timer | None = None
        network.carriage = self

    # -- set-up ------------------------------------------------------------------------------------
    def attach_station(self, line: LineInterface, factory: StationFactory) -> None:
        """`line` has no modem: its sound on a call is what `factory(origin_us)` makes (SpanDSP's
        fax terminal as a device). Its calls are carried in sound whatever the mode."""
        self._stations[line] = factory

    # -- what the exchange tells (hooks of hw.line) -----------------------------------------------
    def carries(self, line: LineInterface) -> bool:
        return line in self._legs

    def dialing(self, line: LineInterface, digits: str) -> None:
        """`line` starts dialing `digits` (its dial tone began now)."""
        number = _number(digits)
        if not self._wanted(line, self.network.lines.get(number), self.network.routes.get(number)):
            return
        self._finish_leg(line)
        route = self.network.routes.get(number)
        live = isinstance(route, AudioRoute) and route.live
        leg = self._new_leg(line, live)
        leg.hear(leg.start_us, DIAL_TONE)
        leg.hear(leg.start_us + DIAL_TONE_WAIT, None)
        leg.dialer.dial(digits, leg.start_us + DIAL_TONE_WAIT)

    def connected(self, call: Call) -> None:
        """`call` was answered now: from here its two ends hear each other."""
        route = call.route
        lines = [line for line in (call.caller, call.callee) if line is not None]
        far: AudioStation | None = None
        if route is not None:
            if not isinstance(route, AudioRoute):
                for line in lines:  # a route of signals (T.38): the call leaves the audio line
                    self._finish_leg(line)
                return
            far = route.audio_station(call, self.clock.now)
            live = route.live
        else:
            live = False
            if not self._wanted(call.caller, call.callee, None):
                return
        now = self.clock.now
        legs: list[_Leg] = []
        for line in lines:
            leg = self._legs.get(line) or self._new_leg(line, live)
            self._answer_leg(leg, now)
            legs.append(leg)
        stations = [leg.station for leg in legs] + ([far] if far is not None else [])
        a, b = stations[0], stations[1]
        assert a is not None and b is not None
        loops = [self.loop_of(leg.line) for leg in legs] + [LoopImpairments()]
        for leg, loop in zip(legs, loops, strict=False):
            if leg.chip is not None and loop.echo_db is not None:  # deaf to its echo, no longer
                guard = ECHO_GUARD_US + int(loop.echo_delay_ms * MS)
                leg.chip.echo_guard = guard // US_PER_SAMPLE
        self._count += 1
        link = AudioLink(a, b, start_us=now, a_loop=loops[0], b_loop=loops[1],
                         seed=self.seed * 1_000_003 + self._count)  # fmt: skip
        self._calls.append(_AudioCall(self._count, call, legs, link, far, live))
        self._schedule_pump()

    def transmit(self, line: LineInterface, signal: Signal) -> None:
        """What `line`'s modem sends, now: to its chip."""
        leg = self._legs.get(line)
        if leg is not None and leg.chip is not None:
            leg.chip.transmit(signal, self.clock.now)

    def hang_up_later(self, line: LineInterface, call: Call) -> bool:
        """`line` went on hook during `call`: True if the far end is to lose the call only once
        what `line` sent has reached it (`TAIL` from now; the carriage ends the call then)."""
        audio = self._call_of(line)
        if audio is None or audio.call is not call or call.state != "connected":
            return False
        self._legs.pop(line, None)
        if audio.ending is None:
            audio.ending = self.clock.call_later(TAIL, self._end_after_tail, audio, line,
                                                 label="audio line tail")  # fmt: skip
        return True

    def released(self, line: LineInterface) -> None:
        """`line` went on hook, or its call went from under it."""
        audio = self._call_of(line)
        if audio is not None:
            if audio.ending is None:  # the call ended under the line: dropped, or hung up far
                self._finish_call(audio)
            return
        if line in self._legs and (line.call is None or line.call.state == "ended"):
            self._finish_leg(line)

    # -- internals -----------------------------------------------------------------------------------
    def _wanted(
        self,
        a: LineInterface | None,
        b: LineInterface | None,
        route: OutsideRoute | None,
    ) -> bool:
        if isinstance(route, AudioRoute):
            return True
        if route is not None:
            return self.mode == "audio"
        return self.mode == "audio" or a in self._stations or b in self._stations

    def _new_leg(self, line: LineInterface, live: bool) -> _Leg:
        now = self.clock.now
        if line.modem is not None and line not in self._stations:
            chip = AudioModemChip(now, live=live)
            leg = _Leg(line, self.clock, now, chip, chip.transmitter)
        else:
            leg = _Leg(line, self.clock, now, None, AudioTransmitter(now, live=False))
        line.listeners.add(leg.line_event)
        self._legs[line] = leg
        return leg

    def _answer_leg(self, leg: _Leg, now: int) -> None:
        """The leg's sound up to the answer becomes its prefix; from now its station is on the
        line."""
        count = (now - leg.start_us) // US_PER_SAMPLE
        leg.heard_prefix = leg.heard_before(now)
        leg.sent_prefix = _fit(leg.dialer.audio(now), count)
        if leg.chip is not None:
            leg.chip.receive(leg.heard_prefix)  # the receiver's stream starts with the leg
            leg.station = leg.chip
        else:
            leg.station = self._stations[leg.line](now)
        leg.tones.clear()

    def _call_of(self, line: LineInterface) -> _AudioCall | None:
        for audio in self._calls:
            if not audio.finished and any(leg.line is line for leg in audio.legs):
                return audio
        return None

    def _end_after_tail(self, audio: _AudioCall, line: LineInterface) -> None:
        self._pump_call(audio)
        call = audio.call
        self._finish_call(audio)
        if call.state != "ended":
            self.network._end(call, by=line)

    def _schedule_pump(self) -> None:
        if self._pump_timer is None or self._pump_timer.cancelled:
            step = PUMP_LIVE if any(audio.live for audio in self._calls) else PUMP
            self._pump_timer = self.clock.call_later(step, self._pump, label="audio line")

    def _pump(self) -> None:
        self._pump_timer = None
        for audio in list(self._calls):
            if not audio.finished:
                self._pump_call(audio)
        self._calls = [a for a in self._calls if not a.finished]
        if self._calls:
            self._schedule_pump()

    def _pump_call(self, audio: _AudioCall) -> None:
        for leg in audio.legs:
            if leg.chip is not None and leg.line.modem is not None:
                leg.chip.listen(leg.line.modem.rx_modes)
        heard = audio.link.run_until(self.clock.now)
        for station, _at, signal in heard:
            if audio.finished or audio.call.state != "connected":
                return
            for leg in audio.legs:
                line = leg.line
                if leg.station is station and line.call is audio.call and line.modem is not None:
                    line.modem.on_line_signal(signal)

    def _finish_call(self, audio: _AudioCall) -> None:
        if audio.finished:
            return
        audio.finished = True
        if audio.ending is not None:
            audio.ending.cancel()
        audio.link.run_until(self.clock.now)  # the sound up to the end, for the recordings
        for leg in audio.legs:
            self._record(leg, audio.link.recording(leg.station) if leg.station else None)
            if self._legs.get(leg.line) is leg:
                del self._legs[leg.line]

    def _finish_leg(self, line: LineInterface) -> None:
        """A leg that never reached an answer (busy, no answer, given up): its recording."""
        leg = self._legs.pop(line, None)
        if leg is None:
            return
        now = self.clock.now
        count = (now - leg.start_us) // US_PER_SAMPLE
        leg.sent_prefix = _fit(leg.dialer.audio(now), count)
        leg.heard_prefix = leg.heard_before(now)
        self._record(leg, None)

    def _record(self, leg: _Leg, during: np.ndarray | None) -> None:
        leg.line.listeners.discard(leg.line_event)
        prefix = np.stack((leg.sent_prefix, leg.heard_prefix), axis=1)
        samples = prefix if during is None else np.concatenate((prefix, during))
        if samples.shape[0]:
            self.recordings(leg.line, samples)


__all__ = ["MODES", "PUMP", "PUMP_LIVE", "TAIL", "AudioCarriage", "AudioRoute", "default_loop"]
