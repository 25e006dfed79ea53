"""The fax modem: tones, V.21 HDLC frames and high-speed data on the phone line, in air time.

The modem works at the level of a T.31 (Class 1) data pump, so the firmware's T.30 engine and a
Class 1 host driving it through AT commands both sit on it:
- transmit: CNG (cadence) and CED tones, silence, HDLC frames (V.21 channel 2 at 300 bit/s with its
  1 s flag preamble, or at a high-speed modulation for ECM), and training plus data at V.27ter,
  V.29 or V.17; the data of one carrier may be fed in pieces (`feed`), as a Class 1 host does;
- receive: the receiver listens for the modulations it is told to (`receive`); it locks on to a
  carrier only when it was listening as that carrier started (a high-speed receiver must see the
  training), reports carrier up and down, every frame with its FCS verdict and the data in blocks,
  and reports a carrier of another kind as `OtherCarrier` (what a Class 1 modem turns into
  +FCERROR) and the far end falling silent as `RemoteQuiet` (for +FRS). Tones are always detected; while its own carrier is on, the modem hears nothing else
  (half duplex, as a fax modem is).

Air time follows the bit rate, but the work does not: a transmission becomes a handful of line
signals (carrier on, trained, one signal per V.21 frame, one per second of high-speed data or
frames, carrier off), each scheduled on the clock at the instant it completes on the line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .clock import MS, SECOND, Clock, Timer
from .listeners import Listeners


@dataclass(frozen=True, slots=True)
class Modulation:
    """One modem and bit rate, with its training times and its T.31 carrier codes."""

    key: str  # "V.17/14400"; the names SpanDSP's TSB85 scripts use
    rate: int  # bit/s
    long_train: int  # µs of training before data
    short_train: int  # µs; the same as long_train where the modem has no short train
    t31_long: int  # +FTM/+FRM code with the long (or only) training
    t31_short: int | None = None  # +FTM/+FRM code with the short training (V.17 only)

    @property
    def bytes_per_second(self) -> int:
        return self.rate // 8

    def training(self, short: bool) -> int:
        return self.short_train if short else self.long_train

    def air_time(self, nbytes: int) -> int:
        """µs to send `nbytes` at this rate."""
        return nbytes * 8 * SECOND // self.rate


# Training times: V.27ter 4800 708 ms and 2400 943 ms, V.29 253 ms, V.17 long 1393 ms and short
# 142 ms (T.30 Appendix/T.31 figures; PEERS.md "Line timing" quotes V.17 and V.29 the same).
_TABLE = (
    Modulation("V.21", 300, 0, 0, 3),
    Modulation("V.27ter/2400", 2400, 943 * MS, 943 * MS, 24),
    Modulation("V.27ter/4800", 4800, 708 * MS, 708 * MS, 48),
    Modulation("V.29/7200", 7200, 253 * MS, 253 * MS, 72),
    Modulation("V.29/9600", 9600, 253 * MS, 253 * MS, 96),
    Modulation("V.17/7200", 7200, 1393 * MS, 142 * MS, 73, 74),
    Modulation("V.17/9600", 9600, 1393 * MS, 142 * MS, 97, 98),
    Modulation("V.17/12000", 12000, 1393 * MS, 142 * MS, 121, 122),
    Modulation("V.17/14400", 14400, 1393 * MS, 142 * MS, 145, 146),
)
MODULATIONS: dict[str, Modulation] = {m.key: m for m in _TABLE}
V21 = MODULATIONS["V.21"]


def modulation_for_t31(code: int) -> tuple[Modulation, bool]:
    """The modulation a T.31 +FTM/+FRM/+FTH/+FRH code selects, and whether it is the short train."""
    for mod in _TABLE:
        if mod.t31_long == code:
            return mod, False
        if mod.t31_short == code:
            return mod, True
    raise KeyError(f"no modulation has T.31 code {code}")


# -- the T.30 signal times a modem produces ----------------------------------------------------------
# Declared here because hw/ cannot import firmware/; firmware/t30/timing.py's table (the one list
# of T.30 times, with clauses and tolerances, that the session and the docs read) takes these rows
# from here, and the Class 1 modem reads them here too.
V21_PREAMBLE = 1 * SECOND  # T.30 5.3.1: 1 s ± 15 % of flags before the first frame
CED_TIME = 3 * SECOND  # T.30: 2.6-4 s of 2100 Hz
CNG_ON = 500 * MS  # T.30: 1100 Hz, 0.5 s on, 3 s off
CNG_OFF = 3 * SECOND
ANSWER_DELAY = 200 * MS  # T.30: at least 0.2 s of silence between going off hook and CED
SIGNAL_GAP = 75 * MS  # T.30 5 note 3: 75 ± 20 ms between V.21 and another modulation (and CED)
FLAG_BITS = 8
DATA_BLOCK = 1 * SECOND  # high-speed data and frames reach the line in pieces of this air time


def hdlc_bits(frame: bytes) -> int:
    """Bits a frame takes on the line: content, FCS, the closing flag and the stuffed zeros.

    Stuffing inserts a 0 after five 1s in a row (sent least significant bit first); the zeros
    stuffed into the FCS are left out (16 bits, at most 3 of them)."""
    line = "".join(format(b, "08b")[::-1] for b in frame)
    return (len(frame) + 2) * 8 + FLAG_BITS + sum(len(run) // 5 for run in re.findall("1+", line))


def _ones_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each octet as sent (least significant bit first): the 1s it starts with, the 1s it
    ends with, and the zeros stuffed into runs of 1s that touch neither end."""
    lead, trail, inside = (np.zeros(256, dtype=np.int32) for _ in range(3))
    for octet in range(255):  # 0xFF is all run: never looked up
        line = format(octet, "08b")[::-1]
        lead[octet] = len(line) - len(line.lstrip("1"))
        trail[octet] = len(line) - len(line.rstrip("1"))
        inside[octet] = sum(len(run) // 5 for run in line.strip("1").split("0"))
    return lead, trail, inside


_LEAD, _TRAIL, _INSIDE = _ones_tables()


def hdlc_bits_each(frames: Sequence[bytes]) -> list[int]:
    """`hdlc_bits` of each frame, counted for all of them at once (the frames of a second of
    high-speed ECM data: a busy MMR page stuffs 5-6 % more bits, which T.30's timers feel).

    Octet-wise: a run of 1s either lies inside one octet, or runs from the end of an octet that
    is not 0xFF, over any number of 0xFF octets, into the start of the next one that is not."""
    if len(frames) < 4:
        return [hdlc_bits(frame) for frame in frames]
    # A zero octet before and after every frame, so that no run of 1s crosses frames.
    octets = np.frombuffer(b"\0" + b"\0".join(frames) + b"\0", dtype=np.uint8)
    edges = np.flatnonzero(octets != 0xFF)
    values = octets[edges]
    # Per octet not 0xFF: the zeros stuffed inside it and into the run that ends at its start.
    stuffed = _INSIDE.take(values)
    between = 8 * (np.diff(edges) - 1)
    stuffed[1:] += (_TRAIL.take(values[:-1]) + between + _LEAD.take(values[1:])) // 5
    # A frame's count runs from the zero before it (left out) to the zero after it.
    separators = np.cumsum([0] + [len(frame) + 1 for frame in frames])
    per_frame = np.diff(np.cumsum(stuffed)[np.searchsorted(edges, separators)])
    return [
        (len(frame) + 2) * 8 + FLAG_BITS + int(extra)
        for frame, extra in zip(frames, per_frame, strict=True)
    ]


# -- what travels on the line ----------------------------------------------------------------------
TONE_ON = "tone_on"
TONE_OFF = "tone_off"
CARRIER_ON = "carrier_on"
TRAINED = "trained"
FRAMES = "frames"
DATA = "data"
CARRIER_OFF = "carrier_off"


@dataclass(frozen=True, slots=True)
class Signal:
    """One piece of what a modem puts on the line, delivered at the instant it completes."""

    kind: str
    modulation: str = ""
    tone: str = ""
    frames: tuple[tuple[bytes, bool], ...] = ()  # (frame without FCS, FCS good)
    data: bytes = b""
    short_train: bool = False


# -- what the modem tells its user -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ToneOn:
    tone: str  # cng | ced


@dataclass(frozen=True, slots=True)
class ToneOff:
    tone: str


@dataclass(frozen=True, slots=True)
class CarrierUp:
    modulation: str


@dataclass(frozen=True, slots=True)
class CarrierDown:
    modulation: str


@dataclass(frozen=True, slots=True)
class OtherCarrier:
    """A carrier the receiver was not listening for (or missed the start of) began."""

    modulation: str


@dataclass(frozen=True, slots=True)
class FrameReceived:
    frame: bytes  # address, control, FCF, FIF; no FCS
    crc_ok: bool
    modulation: str


@dataclass(frozen=True, slots=True)
class DataReceived:
    data: bytes
    modulation: str


@dataclass(frozen=True, slots=True)
class RemoteQuiet:
    """The far end stopped sending: no carrier and no tone from it now (for T.31 +FRS)."""


@dataclass(frozen=True, slots=True)
class TransmitDone:
    """Everything queued on the transmitter has gone out (the line is quiet on our side)."""

    tag: str


ModemEvent = (
    ToneOn
    | ToneOff
    | CarrierUp
    | CarrierDown
    | OtherCarrier
    | FrameReceived
    | DataReceived
    | TransmitDone
    | RemoteQuiet
)


class LinePort(Protocol):
    """Where a modem's signals go: the line interface it is wired to."""

    def transmit(self, signal: Signal) -> None: ...


class Modem:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.line: LinePort | None = None
        self.listeners: Listeners[[ModemEvent]] = Listeners()
        # transmitter
        self._tx_free = 0  # instant the transmitter has sent everything queued
        self._tx_timers: list[Timer] = []
        self._open_carrier: str | None = None  # a carrier left on for more frames or data
        self._open_short = False
        self._carrier_mod: str | None = None  # our own carrier on the line now
        self._cng_timer: Timer | None = None
        self._tone_on: str | None = None
        # receiver
        self.rx_modes: frozenset[str] = frozenset()
        self._rx_lock: str | None = None  # carrier the receiver locked on to
        self._rx_trained = False
        self.remote_carrier: str | None = None  # what the far end is sending now, heard or not
        self.remote_tone: str | None = None

    # -- transmitter ------------------------------------------------------------------------
    @property
    def tx_free_at(self) -> int:
        return max(self._tx_free, self.clock.now)

    def start_cng(self) -> None:
        """The calling tone, 0.5 s on and 3 s off, until `stop_cng` or the next transmission."""
        if self._cng_timer is None:
            self._cng_cycle()

    def stop_cng(self) -> None:
        if self._cng_timer is not None:
            self._cng_timer.cancel()
            self._cng_timer = None
        if self._tone_on == "cng":
            self._emit_now(Signal(TONE_OFF, tone="cng"))

    def _cng_cycle(self) -> None:
        self._emit_now(Signal(TONE_ON, tone="cng"))
        self._cng_timer = self.clock.call_later(CNG_ON, self._cng_pause, label="modem cng")

    def _cng_pause(self) -> None:
        self._emit_now(Signal(TONE_OFF, tone="cng"))
        self._cng_timer = self.clock.call_later(CNG_OFF, self._cng_cycle, label="modem cng")

    def send_tone(self, tone: str, duration: int = CED_TIME, tag: str = "tone") -> int:
        """A steady tone (CED) for `duration`; returns the instant it ends."""
        self.stop_cng()
        t = self._close_open_carrier(self.tx_free_at)
        self._at(t, Signal(TONE_ON, tone=tone))
        t += duration
        self._at(t, Signal(TONE_OFF, tone=tone))
        return self._finish(t, tag)

    def send_flags(self, duration: int, tag: str = "flags") -> int:
        """Keep a carrier left on (`final=False`) sending HDLC flags for `duration`: preambles,
        postambles and inter-frame flags as a tester plays them."""
        if self._open_carrier is None:
            raise RuntimeError("flags need a carrier left on")
        return self._finish(self.tx_free_at + duration, tag)

    @property
    def open_carrier(self) -> str | None:
        """The modulation of a carrier left on for more frames or data, if any."""
        return self._open_carrier

    @property
    def remote_quiet(self) -> bool:
        """Neither a carrier nor a tone from the far end."""
        return self.remote_carrier is None and self.remote_tone is None

    def send_silence(self, duration: int, tag: str = "silence") -> int:
        self.stop_cng()
        t = self._close_open_carrier(self.tx_free_at) + duration
        return self._finish(t, tag)

    def send_hdlc(
        self,
        frames: Sequence[bytes],
        modulation: str = "V.21",
        *,
        final: bool = True,
        preamble: int | None = None,
        short_train: bool = False,
        bad_fcs: Sequence[int] = (),
        tag: str = "hdlc",
    ) -> int:
        """Frames (without FCS; the modem adds it) on one carrier.

        A new carrier starts with training (high speed) and a flag preamble (V.21: 1 s); with
        `final=False` the carrier stays on after the frames, and the next `send_hdlc` at the same
        modulation continues it without a new preamble. Frames whose index is in `bad_fcs` go
        out with a wrong FCS (for testers). Returns the instant the last frame has gone.
        """
        self.stop_cng()
        mod = MODULATIONS[modulation]
        t = self.tx_free_at
        if self._open_carrier != modulation:
            t = self._close_open_carrier(t)
            t = self._start_carrier(t, mod, short_train)
            if preamble is None:
                preamble = V21_PREAMBLE if mod is V21 else 0
            t += preamble
        exact = mod is V21
        batch: list[tuple[bytes, bool]] = []
        batch_start = t
        for index, (frame, bits) in enumerate(zip(frames, hdlc_bits_each(frames), strict=True)):
            t += bits * SECOND // mod.rate
            batch.append((bytes(frame), index not in bad_fcs))
            # V.21 frames go one by one (a Class 1 host sees each); fast ones by the second.
            if exact or t - batch_start >= DATA_BLOCK:
                self._at(t, Signal(FRAMES, modulation, frames=tuple(batch)))
                batch = []
                batch_start = t
        if batch:
            self._at(t, Signal(FRAMES, modulation, frames=tuple(batch)))
        if final:
            self._at(t, Signal(CARRIER_OFF, modulation))
            self._open_carrier = None
        else:
            self._open_carrier = modulation
        return self._finish(t, tag)

    def send_data(
        self,
        data: bytes,
        modulation: str,
        *,
        short_train: bool = False,
        end: bool = True,
        tag: str = "data",
    ) -> int:
        """Training, then `data` at the modulation's rate. With `end=False` the carrier stays on
        for `feed`. Returns the instant the data has gone."""
        self.stop_cng()
        mod = MODULATIONS[modulation]
        t = self.tx_free_at
        if self._open_carrier != modulation:
            t = self._close_open_carrier(t)
            t = self._start_carrier(t, mod, short_train)
        return self._data_blocks(t, mod, data, end, tag)

    def feed(self, data: bytes, end: bool = False, tag: str = "data") -> int:
        """More data for the high-speed carrier left on by `send_data(..., end=False)`."""
        if self._open_carrier is None:
            raise RuntimeError("feed without an open high-speed carrier")
        mod = MODULATIONS[self._open_carrier]
        return self._data_blocks(self.tx_free_at, mod, data, end, tag)

    def end_carrier(self, tag: str = "carrier") -> int:
        """Turn off a carrier left on (after its queued frames or data)."""
        t = self._close_open_carrier(self.tx_free_at)
        return self._finish(t, tag)

    def stop(self) -> None:
        """Abort every transmission now: the carrier or tone goes off at this instant."""
        for timer in self._tx_timers:
            timer.cancel()
        self._tx_timers.clear()
        self.stop_cng()
        if self._tone_on is not None:
            self._emit_now(Signal(TONE_OFF, tone=self._tone_on))
        if self._carrier_mod is not None:
            self._emit_now(Signal(CARRIER_OFF, self._carrier_mod))
        self._open_carrier = None
        self._tx_free = self.clock.now

    # -- transmitter internals --------------------------------------------------------------
    def _start_carrier(self, t: int, mod: Modulation, short_train: bool) -> int:
        self._at(t, Signal(CARRIER_ON, mod.key, short_train=short_train))
        if mod is V21:
            return t
        t += mod.training(short_train)
        self._at(t, Signal(TRAINED, mod.key, short_train=short_train))
        return t

    def _close_open_carrier(self, t: int) -> int:
        if self._open_carrier is not None:
            self._at(t, Signal(CARRIER_OFF, self._open_carrier))
            self._open_carrier = None
        return t

    def _data_blocks(self, t: int, mod: Modulation, data: bytes, end: bool, tag: str) -> int:
        step = mod.bytes_per_second * DATA_BLOCK // SECOND
        for start in range(0, len(data), step):
            piece = data[start : start + step]
            t += mod.air_time(len(piece))
            self._at(t, Signal(DATA, mod.key, data=piece))
        if end:
            self._at(t, Signal(CARRIER_OFF, mod.key))
            self._open_carrier = None
        else:
            self._open_carrier = mod.key
        return self._finish(t, tag)

    def _finish(self, t: int, tag: str) -> int:
        self._tx_free = t
        self._tx_timers.append(self.clock.call_at(t, self._done, tag, label="modem tx done"))
        if len(self._tx_timers) > 64:
            self._tx_timers = [x for x in self._tx_timers if not x.cancelled]
        return t

    def _done(self, tag: str) -> None:
        self._notify(TransmitDone(tag))

    def _at(self, when: int, signal: Signal) -> None:
        self._tx_timers.append(self.clock.call_at(when, self._emit_now, signal, label="modem tx"))

    def _emit_now(self, signal: Signal) -> None:
        kind = signal.kind
        if kind == CARRIER_ON:
            self._carrier_mod = signal.modulation
        elif kind == CARRIER_OFF:
            self._carrier_mod = None
        elif kind == TONE_ON:
            self._tone_on = signal.tone
        elif kind == TONE_OFF:
            if self._tone_on != signal.tone:
                return
            self._tone_on = None
        if self.line is not None:
            self.line.transmit(signal)

    # -- receiver ------------------------------------------------------------------------------
    def receive(self, *modes: str) -> None:
        """Listen for these modulations ("V.21", "V.17/14400", ...); none: the receiver is off."""
        for mode in modes:
            if mode not in MODULATIONS:
                raise KeyError(f"no modulation {mode!r}")
        self.rx_modes = frozenset(modes)
        if self._rx_lock is not None and self._rx_lock not in self.rx_modes:
            self._rx_lock = None

    def on_line_signal(self, signal: Signal) -> None:
        """The far end's signal, as it completes at this instant (called by the line)."""
        kind = signal.kind
        if kind == TONE_ON:
            self.remote_tone = signal.tone
            self._notify(ToneOn(signal.tone))
            return
        if kind == TONE_OFF:
            self.remote_tone = None
            self._notify(ToneOff(signal.tone))
            if self.remote_carrier is None:
                self._notify(RemoteQuiet())
            return
        mod = signal.modulation
        if kind == CARRIER_ON:
            self.remote_carrier = mod
            if mod in self.rx_modes and self._carrier_mod is None:
                self._rx_lock = mod
                self._rx_trained = mod == "V.21"
                if self._rx_trained:
                    self._notify(CarrierUp(mod))
            else:
                self._notify(OtherCarrier(mod))
            return
        if kind == CARRIER_OFF:
            self.remote_carrier = None
            if self._rx_lock == mod:
                self._rx_lock = None
                if self._rx_trained:
                    self._notify(CarrierDown(mod))
            if self.remote_tone is None:
                self._notify(RemoteQuiet())
            return
        if self._rx_lock != mod or self._carrier_mod is not None:
            return
        if kind == TRAINED:
            self._rx_trained = True
            self._notify(CarrierUp(mod))
        elif not self._rx_trained:
            return
        elif kind == FRAMES:
            for frame, ok in signal.frames:
                self._notify(FrameReceived(frame, ok, mod))
        elif kind == DATA:
            self._notify(DataReceived(signal.data, mod))

    def line_lost(self) -> None:
        """The call ended under us: stop sending, forget any carrier being received."""
        self.stop()
        self._rx_lock = None
        self.remote_carrier = None
        self.remote_tone = None

    def _notify(self, event: ModemEvent) -> None:
        self.listeners(event)
