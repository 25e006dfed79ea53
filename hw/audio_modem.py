"""The modem chip on an audio line: the modem's line signals to 8 kHz samples and back.

`hw.modem.Modem` is a T.31-level data pump that puts `Signal`s on a line. On the audio line a
`AudioModemChip` stands between the modem and the line, as the data pump's DSP does in a real fax
machine (the T.30 engine above does not change):

- `AudioTransmitter` renders the modem's outgoing signals as 16-bit linear samples: CNG (1100 Hz)
  and CED (2100 Hz) as the modem turns them on and off, V.21 channel 2 with its flag preamble and
  HDLC frames, V.27ter / V.29 / V.17 with training, then TCF and page data or ECM frames, silence
  between, plus DTMF dialing. SpanDSP's modulators (`hw.spandsp_modems`) make the sound.
- `AudioReceiver` demodulates samples back into the same signals: tones, V.21 carrier and frames
  with their real FCS verdicts, high-speed carriers (of the modulations it is told to listen for)
  with TRAINED, data or frames, and the carrier going down.

Sans I/O and without a clock: time is passed in (integer µs, as `hw.clock`), samples are numpy
int16 arrays, 8000 a second, sample n of a stream at `origin_us + n * 125`.

Timing (see docs/audio.md for the whole contract and measured figures). On the signal line each
signal arrives when it completes; a transmitter only learns a frame's or a data block's content
when that content has already been on the air. The transmitter places content at its nominal
offset from the start of its carrier, or later where the sound before it already runs past;
a new tone or carrier starts at its nominal instant, or after a late sound with the modem's
silence between them (at most 75 ms):
- `live=True` (default, a real-time line): `audio(until)` always gives samples up to `until`,
  filling where content is not known yet (flags on a V.21 or ECM carrier, zeros on a data carrier,
  which T.4 and TCF allow), so the sound runs late by what was not known in time: about one frame
  on V.21 (the first frame's air time), one data block (`hw.modem.DATA_BLOCK`) at high speed.
- `live=False` (a simulated line that can wait): `audio(until)` stops where content is not known
  yet (`horizon_us`); content then sits at its nominal place, and the data is what was sent.
The receiver reports a signal with the instant of the end of the block (`BLOCK`, 20 ms) in which
it was recognised: a tone 415 ms (CNG) or about 550 ms (CED) after it began, and when it stops;
a V.21 carrier once five flags have been seen; each frame when its closing flag is demodulated;
a high-speed carrier as CARRIER_ON then TRAINED together, when its training has succeeded; data
in blocks of about `hw.modem.DATA_BLOCK` (the last when the carrier drops, without the turn-off
sequence); CARRIER_OFF when the demodulator loses the carrier (V.21 about 70 ms after the
modem's CARRIER_OFF, high speed 85-135 ms).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .hdlc import FLAG_BITS, add_fcs, stuff
from .modem import (
    CARRIER_OFF,
    CARRIER_ON,
    DATA,
    DATA_BLOCK,
    FRAMES,
    MODULATIONS,
    TONE_OFF,
    TONE_ON,
    TRAINED,
    Modulation,
    Signal,
    hdlc_bits_each,
)
from .spandsp_modems import (
    MODEM_CONNECT_TONES_ANS,
    MODEM_CONNECT_TONES_ANS_PR,
    MODEM_CONNECT_TONES_ANSAM,
    MODEM_CONNECT_TONES_ANSAM_PR,
    MODEM_CONNECT_TONES_FAX_CNG,
    SIG_STATUS_CARRIER_DOWN,
    SIG_STATUS_FRAMING_OK,
    SIG_STATUS_TRAINING_FAILED,
    SIG_STATUS_TRAINING_SUCCEEDED,
    BitCollector,
    BitQueue,
    ConnectToneDetector,
    DtmfTransmitter,
    FastReceiver,
    FastTransmitter,
    FskReceiver,
    FskTransmitter,
    HdlcReceiver,
)

SAMPLE_RATE = 8000
US_PER_SAMPLE = 125
BLOCK = 160  # the receiver works in blocks of 20 ms: the resolution of received signals' times

TX_LEVEL_DBM0 = -13.0  # the modulators' transmit level (T.30 leaves it to the station)
TONE_LEVEL_DBM0 = -11.0  # CNG and CED, as SpanDSP sends them
DBM0_FULL_SCALE = 3.14 + 3.02  # SpanDSP's DBM0_MAX_POWER: a full-scale square wave, in dBm0
TONES = {"cng": 1100.0, "ced": 2100.0}

# How SpanDSP 0.0.6's modulators run (measured): the sample at which the first data bit is taken
# after training, the symbol rate, bits per symbol. V.21: 300 bit/s, the first bit at sample 26.
FIRST_BIT_SAMPLE = {
    ("V.21", False): 26,
    ("V.27ter/2400", False): 7766,
    ("V.27ter/4800", False): 5824,
    ("V.29", False): 2029,
    ("V.17", False): 11149,
    ("V.17", True): 1143,
}
BAUD = {"V.21": 300, "V.27ter/2400": 1200, "V.27ter/4800": 1600, "V.29": 2400, "V.17": 2400}

# A V.21 carrier's first frame comes after the modem's preamble (T.30 5.3.1: 1 s +-15 %); this
# much of it is sounded as soon as the carrier starts, so that a line that waits for content
# (not live) still carries the preamble at once and the far end hears the carrier begin as it
# does on the signal line. 32 flags = 853 ms, within the shortest preamble T.30 allows.
V21_PREAMBLE_FLAGS = 32

# A high-speed HDLC (ECM) carrier starts with at least this much of flags (the modem's signal
# model has none; SpanDSP sends 200 ms, and receivers need several flags to find the framing).
FAST_HDLC_PREAMBLE_US = 200_000
HDLC_FRAMING_FLAGS = 5  # flags back to back before a receiver takes frames (as SpanDSP)

# T.30 frame codes the receiver watches to know which V.17 training comes next (duplicated from
# firmware/t30/frames.py, which hw/ may not import): after DCS or CTC the long one.
_FCF_DCS = 0x82
_FCF_CTC = 0x12

# The receiver's carrier thresholds follow the noise it measures on the line.
DEFAULT_CUTOFF_DBM0 = -43.0
NOISE_MARGIN_DB = 8.0
# SpanDSP 0.0.6's V.17 demodulator fails the short training whenever its carrier threshold is
# 11 to 17 dB below the received level (measured at -13, -23 and -33 dBm0, at any SNR; the long
# training does not care; the demodulator's own power reading is up to 1.5 dB off). Once a long-
# trained carrier (TCF's) has ended, the fast demodulators' threshold is put this far below its
# level, as heard (a station sends all its carriers at one level), and never closer than
# NOISE_MARGIN_DB to the noise.
FAST_CUTOFF_BELOW_LEVEL_DB = 7.0
KEPT_GAP_US = 75_000  # T.30's silence between a station's signals (5.3.2.4 / 5.3.2.5)
# The receiver stays deaf this long after its own transmitter stops (its own echo, up to this
# delay). Short: a far end answers a V.21 frame 75 ms after recognising its closing flag, which
# is only about 50 ms after our carrier's postamble flag ends; a longer guard would clip the start
# of its training. A line with a longer echo delay sets `echo_guard` to cover it.
ECHO_GUARD_US = 25_000


def dbm0_to_rms(dbm0: float) -> float:
    """The RMS sample value of a signal at `dbm0`."""
    return 32768.0 * 10 ** ((dbm0 - DBM0_FULL_SCALE) / 20)


def power_dbm0(samples: np.ndarray) -> float:
    """The power of `samples` in dBm0 (-96 for digital silence)."""
    if samples.size == 0:
        return -96.0
    mean = float(np.mean(np.square(samples, dtype=np.float64)))
    if mean <= 0.0:
        return -96.0
    return 10 * math.log10(mean / 32768.0**2) + DBM0_FULL_SCALE


def tone(
    freq: float, count: int, level_dbm0: float, phase: float = 0.0
) -> tuple[np.ndarray, float]:
    """`count` samples of a sine at `freq` and `level_dbm0`, starting at `phase` (radians); returns
    the samples and the phase the next sample would have."""
    step = 2 * math.pi * freq / SAMPLE_RATE
    amplitude = dbm0_to_rms(level_dbm0) * math.sqrt(2)
    samples = amplitude * np.sin(phase + step * np.arange(count))
    return np.rint(samples).astype(np.int16), (phase + step * count) % (2 * math.pi)


def _family(modulation: Modulation) -> str:
    """The modem family as SpanDSP names it: V.21, V.27ter, V.29, V.17."""
    return modulation.key.split("/")[0]


def _timing_key(modulation: Modulation) -> str:
    family = _family(modulation)
    return modulation.key if family == "V.27ter" else family


def _bits_per_symbol(modulation: Modulation) -> int:
    return max(1, modulation.rate // BAUD[_timing_key(modulation)])


def frame_bits(frame: bytes, *, fcs_ok: bool = True, opening_flag: bool = False) -> np.ndarray:
    """One HDLC frame as line bits: [opening flag,] the frame and its FCS with zero-bit insertion,
    the closing flag. `fcs_ok=False` sends the complement of the right FCS."""
    body = add_fcs(frame, good=fcs_ok)
    bits = np.unpackbits(np.frombuffer(body, dtype=np.uint8), bitorder="little")
    parts = [FLAG_BITS] if opening_flag else []
    parts += [stuff(bits), FLAG_BITS]
    return np.concatenate(parts).astype(np.int8)


def flag_bits(count: int) -> np.ndarray:
    return np.tile(FLAG_BITS, count).astype(np.int8)


# -- the transmitter ------------------------------------------------------------------------------------
@dataclass
class _Carrier:
    """A carrier being sounded."""

    modulation: Modulation
    start: int  # sample index where it starts
    nominal_start: int  # where the modem had it start (content keeps its offset from there)
    first_bit: int  # samples of training before the first bit is taken
    per_bit: float  # samples per bit
    bps: int  # bits taken per symbol
    bits: int = 0  # bits queued so far
    rendered: int = 0  # samples sounded so far
    hdlc: bool = False  # frames have been sent on it
    after_flag: bool = False  # the last bits queued end with a flag
    ending: bool = False

    def bit_index(self, sample: int) -> int:
        """How many bits the modulator has taken by `sample` (from the stream's origin)."""
        return max(0, math.ceil((sample - self.start - self.first_bit) / self.per_bit))

    def safe_samples(self) -> int:
        """Samples of this carrier that can be sounded with the bits queued (without underrun)."""
        symbols = self.bits // self.bps
        return self.first_bit + int(symbols * self.bps * self.per_bit) - 2


class AudioTransmitter:
    """The modem's signals to samples (see the module docstring for the timing)."""

    def __init__(
        self, origin_us: int = 0, *, live: bool = True, level_dbm0: float = TX_LEVEL_DBM0
    ) -> None:
        self.origin_us = origin_us
        self.live = live
        self.level_dbm0 = level_dbm0
        self._chunks: list[np.ndarray] = []
        self._produced = 0  # samples made since the origin
        self._taken = 0  # samples given out by `audio`
        self._activity: list[list[int]] = []  # [start, end) sample ranges with sound
        self._state = "idle"  # idle | tone | carrier
        self._tone = ""
        self._tone_phase = 0.0
        self._lag = 0  # samples the current sound started after its nominal place
        self._carrier: _Carrier | None = None
        self._last_end_nominal = 0  # sample where the modem's last sound ended (its own timing)
        self._last_end = 0  # sample where it did end here
        self._bits = {"V.21": BitQueue(fill=1), "fast": BitQueue(fill=0)}
        self._fsk: FskTransmitter | None = None
        self._fast: dict[str, FastTransmitter] = {}
        self._dtmf: DtmfTransmitter | None = None
        self.fill_bits = 0  # bits of fill sounded because content was not known in time
        self.late_us = 0  # how late the last content went out against its nominal time

    # -- time ---------------------------------------------------------------------------------------
    def index(self, at_us: int) -> int:
        return max(0, (at_us - self.origin_us) // US_PER_SAMPLE)

    def time(self, index: int) -> int:
        return self.origin_us + index * US_PER_SAMPLE

    @property
    def horizon_us(self) -> int:
        """Everything up to here is final (live: as far as `audio` was asked)."""
        return self.time(self._produced)

    # -- the modem's signals ----------------------------------------------------------------------
    def transmit(self, signal: Signal, at_us: int) -> None:
        """A signal from the modem, completing at `at_us` (as `hw.modem.Modem` emits them)."""
        kind = signal.kind
        at = self.index(at_us)
        if kind == TONE_ON:
            self._finish_carrier()
            self._to(at)
            self._start(at, deafens=False)
            self._state, self._tone = "tone", signal.tone
            self._tone_phase = 0.0
        elif kind == TONE_OFF:
            if self._state == "tone":
                self._to(at + self._lag)
                self._state = "idle"
                self._last_end_nominal = at
                self._mark_end()
        elif kind == CARRIER_ON:
            self._finish_carrier()
            self._to(at)
            modulation = MODULATIONS[signal.modulation]
            self._start_carrier(modulation, self._start(at), at, signal.short_train)
            if modulation.key == "V.21":
                self._push(flag_bits(V21_PREAMBLE_FLAGS), flag_last=True)
        elif kind == TRAINED:
            pass  # the modulator's training has its own length
        elif kind == FRAMES:
            self._frames(signal, at)
        elif kind == DATA:
            self._data(signal, at)
        elif kind == CARRIER_OFF:
            carrier = self._carrier
            if carrier is None or carrier.modulation.key != signal.modulation:
                return
            if self.index(at_us) < self._produced and not carrier.hdlc and not carrier.bits:
                self._truncate(max(self._taken, at, carrier.start))  # stopped in its training
            elif carrier.modulation.key == "V.21" and not carrier.hdlc:
                self._stop_preamble(at)  # stopped before its first frame
            self._finish_carrier()
            self._last_end_nominal = at

    def dial(self, digits: str, at_us: int, pause_us: int = 3_000_000) -> int:
        """DTMF digits (100 ms tone, 100 ms gap each; `,`, `P`, `p` or `-` a pause) from `at_us`
        or when the transmitter is free; returns the instant dialing ends."""
        self._finish_carrier()
        at = self.index(at_us)
        self._to(at)
        start = self._start(at)
        if self._dtmf is None:
            self._dtmf = DtmfTransmitter(100, 100)
        for char in digits:
            if char in ",Pp-":
                self._emit(np.zeros(pause_us // US_PER_SAMPLE, dtype=np.int16))
            elif char.isdigit() or char in "*#ABCD":
                self._dtmf.put(char)
                while True:
                    piece = self._dtmf.tx(800)
                    if piece.size == 0:
                        break
                    self._emit(piece)
        self._mark_end()
        self._last_end_nominal = at + (self._produced - start)
        return self.time(self._produced)

    # -- samples out ---------------------------------------------------------------------------------
    def audio(self, until_us: int) -> np.ndarray:
        """The next samples, up to `until_us` (live), or up to what is final (not live)."""
        until = self.index(until_us)
        if self._state == "carrier":
            self._sound_carrier(until if self.live else None)
        elif until > self._produced:
            self._to(until)
        end = min(until, self._produced)
        if end <= self._taken:
            return np.zeros(0, dtype=np.int16)
        out = self._take(end - self._taken)
        return out

    def active(self, start: int, count: int, guard: int = 0) -> np.ndarray:
        """Per sample from `start`: was this transmitter sounding (or within `guard` samples of
        having stopped)? For the receiver to stay deaf to its own echo."""
        mask = np.zeros(count, dtype=bool)
        for begin, end in self._activity:
            end = (self._produced if end < 0 else end) + guard
            lo, hi = max(begin, start), min(end, start + count)
            if lo < hi:
                mask[lo - start : hi - start] = True
        return mask

    # -- internals -----------------------------------------------------------------------------------
    def _emit(self, samples: np.ndarray) -> None:
        if samples.size:
            self._chunks.append(samples.astype(np.int16, copy=False))
            self._produced += samples.size

    def _take(self, count: int) -> np.ndarray:
        out = np.concatenate(self._chunks) if len(self._chunks) != 1 else self._chunks[0]
        self._chunks = [out[count:]] if out.size > count else []
        self._taken += count
        return out[:count]

    def _truncate(self, index: int) -> None:
        """Drop what was made beyond `index` (not yet given out)."""
        index = max(index, self._taken)
        if index >= self._produced:
            return
        pending = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        pending = pending[: index - self._taken]
        self._chunks = [pending] if pending.size else []
        self._produced = index
        if self._carrier is not None:
            self._carrier.rendered = index - self._carrier.start

    def _to(self, index: int) -> None:
        """Sound the current state (silence or a tone) up to `index`."""
        count = index - self._produced
        if count <= 0:
            return
        if self._state == "tone":
            samples, self._tone_phase = tone(
                TONES[self._tone], count, TONE_LEVEL_DBM0, self._tone_phase
            )
            self._emit(samples)
        else:
            self._emit(np.zeros(count, dtype=np.int16))

    def _stop_preamble(self, at: int) -> None:
        """A V.21 carrier turned off before any frame: its preamble ends at `at` (or where it
        has been given out already), not where the flags queued at its start would end."""
        carrier = self._carrier
        assert carrier is not None
        self._truncate(max(self._taken, at, carrier.start))
        self._queue().clear()
        carrier.bits = min(carrier.bits, carrier.bit_index(self._produced))

    def _start(self, nominal: int, deafens: bool = True) -> int:
        """Where a new sound starts: its nominal place, or, when the sound before it ran late,
        after it with the silence the modem left between them, up to `KEPT_GAP_US` (a longer
        nominal gap was the modem waiting for the far end, which heard our late sound late).
        A sound that `deafens` the receiver (a carrier, not a tone: a calling modem hears the
        far end's V.21 beside its own CNG, as on the signal line) is noted in `_activity`."""
        gap = min(nominal - self._last_end_nominal, KEPT_GAP_US // US_PER_SAMPLE)
        start = max(nominal, self._last_end + gap)
        self._to(start)
        self._lag = start - nominal
        self.late_us = self._lag * US_PER_SAMPLE
        if not deafens:
            return start
        self._activity.append([start, -1])
        if len(self._activity) > 64:
            self._activity = self._activity[-32:]
        return start

    def _mark_end(self) -> None:
        self._last_end = self._produced
        if self._activity and self._activity[-1][1] < 0:
            self._activity[-1][1] = self._produced

    def _start_carrier(
        self, modulation: Modulation, start: int, nominal: int, short_train: bool
    ) -> None:
        family = _family(modulation)
        key = _timing_key(modulation)
        short = short_train and family == "V.17"
        if family == "V.21":
            queue = self._bits["V.21"]
            queue.clear()
            if self._fsk is None:
                self._fsk = FskTransmitter(queue.port, self.level_dbm0)
            self._fsk.restart()
        else:
            queue = self._bits["fast"]
            queue.clear(fill=0)
            if family not in self._fast:
                self._fast[family] = FastTransmitter(
                    family, modulation.rate, queue.port, self.level_dbm0
                )
            self._fast[family].restart(modulation.rate, short)
        self._carrier = _Carrier(
            modulation,
            start,
            nominal,
            FIRST_BIT_SAMPLE[(key, short)],
            SAMPLE_RATE / modulation.rate,
            _bits_per_symbol(modulation),
        )
        self._state = "carrier"

    def _queue(self) -> BitQueue:
        assert self._carrier is not None
        return self._bits["V.21" if self._carrier.modulation.key == "V.21" else "fast"]

    def _push(self, bits: np.ndarray, *, flag_last: bool) -> None:
        assert self._carrier is not None
        self._queue().push(bits)
        self._carrier.bits += bits.size
        self._carrier.after_flag = flag_last

    def _catch_up(self, nominal_start: int, minimum_flags: int = 0) -> None:
        """Before new content: flags (HDLC) or zeros (data) up to where it should begin, at the
        same offset from the carrier's start as the modem had it."""
        carrier = self._carrier
        assert carrier is not None
        target = carrier.start + (nominal_start - carrier.nominal_start)
        wanted = carrier.bit_index(target) - carrier.bits
        if carrier.hdlc or minimum_flags:
            flags = max(math.ceil(wanted / 8), minimum_flags)
            if flags > 0:
                self._push(flag_bits(flags), flag_last=True)
        elif wanted > 0:
            wanted += -wanted % 8
            self._push(np.zeros(wanted, dtype=np.int8), flag_last=False)

    def _frames(self, signal: Signal, at: int) -> None:
        carrier = self._carrier
        if carrier is None or carrier.modulation.key != signal.modulation:
            return
        mod = carrier.modulation
        exact = mod.key == "V.21"
        nominal = sum(hdlc_bits_each([f for f, _ in signal.frames])) * SAMPLE_RATE / mod.rate
        start = at - int(nominal)
        if not carrier.hdlc:
            preamble = 1 if exact else math.ceil(FAST_HDLC_PREAMBLE_US * mod.rate / 8e6)
            carrier.hdlc = True
            self._catch_up(start, minimum_flags=preamble)
        else:
            self._catch_up(start)
        self._note_lateness(start)
        for frame, ok in signal.frames:
            self._push(
                frame_bits(frame, fcs_ok=ok, opening_flag=not carrier.after_flag), flag_last=True
            )
        self._sound_carrier(None)

    def _data(self, signal: Signal, at: int) -> None:
        carrier = self._carrier
        if carrier is None or carrier.modulation.key != signal.modulation:
            return
        mod = carrier.modulation
        start = at - mod.air_time(len(signal.data)) // US_PER_SAMPLE
        self._catch_up(start)
        self._note_lateness(start)
        bits = np.unpackbits(np.frombuffer(signal.data, dtype=np.uint8), bitorder="little")
        self._push(bits.astype(np.int8), flag_last=False)
        self._sound_carrier(None)

    def _note_lateness(self, nominal_start: int) -> None:
        """How late content queued now will sound against where the modem had it."""
        carrier = self._carrier
        assert carrier is not None
        sounds_at = carrier.start + carrier.first_bit + carrier.bits * carrier.per_bit
        self.late_us = max(0, int(sounds_at) - nominal_start) * US_PER_SAMPLE

    def _modulate(self, count: int) -> np.ndarray:
        carrier = self._carrier
        assert carrier is not None
        if carrier.modulation.key == "V.21":
            assert self._fsk is not None
            return self._fsk.tx(count)
        return self._fast[_family(carrier.modulation)].tx(count)

    def _sound_carrier(self, until: int | None) -> None:
        """Sound the carrier as far as its queued bits go; with `until` (live), fill first so
        that it reaches `until`."""
        carrier = self._carrier
        assert carrier is not None
        if until is not None and not carrier.ending:
            ahead = math.ceil(2 * carrier.per_bit * carrier.bps)  # two symbols beyond `until`
            missing = carrier.bit_index(until + ahead) - carrier.bits
            if missing > 0:
                if carrier.hdlc or carrier.modulation.key == "V.21":
                    flags = math.ceil(missing / 8)
                    self._push(flag_bits(flags), flag_last=True)
                    self.fill_bits += flags * 8
                else:
                    missing += -missing % 8  # whole octets: data stays octet-aligned
                    self._push(np.zeros(missing, dtype=np.int8), flag_last=False)
                    self.fill_bits += missing
        count = carrier.start + carrier.safe_samples() - self._produced
        if count > 0:
            made = self._modulate(count)
            self._emit(made)
            carrier.rendered += made.size

    def _finish_carrier(self) -> None:
        """End the carrier: its last bits, the turn-off sequence, then silence."""
        carrier = self._carrier
        if carrier is None:
            return
        queue = self._queue()
        if carrier.hdlc:
            self._push(flag_bits(1), flag_last=True)  # a postamble flag after the closing one
        carrier.ending = True
        queue.end()
        if carrier.modulation.key == "V.21":
            # SpanDSP 0.0.6's FSK transmitter does not stop at END_OF_DATA: sound the last bit
            # to its end (the modulator takes bit n at sample ceil((n + 1) * 80 / 3) - 1).
            total = math.ceil((carrier.bits + 1) * 80 / 3) - 1
            made = self._modulate(max(0, total - carrier.rendered))
            self._emit(made)
            carrier.rendered += made.size
            self._carrier = None
            self._state = "idle"
            self._mark_end()
            return
        while True:  # in small pieces: a modulator pads its last call with silence
            made = self._modulate(80)
            if made.size < 80:
                made = np.trim_zeros(made, "b")
            self._emit(made)
            carrier.rendered += made.size
            if made.size < 80:
                break
        self._carrier = None
        self._state = "idle"
        self._mark_end()


# -- the receiver --------------------------------------------------------------------------------------
@dataclass
class _FastCarrier:
    """A high-speed carrier being received (after its training succeeded)."""

    modulation: Modulation
    short_train: bool
    bits: list[np.ndarray] = field(default_factory=list)
    held: int = 0  # bits collected and not yet given out
    hdlc: bool = False
    data_given: bool = False
    octet_bits: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    energy: float = 0.0  # sum of squared samples of the blocks heard while it was up
    samples: int = 0


class _FastListener:
    """One high-speed demodulator the receiver runs, with its bit collector and HDLC unit."""

    def __init__(self, modulation: Modulation, cutoff: float) -> None:
        self.modulation = modulation
        self.collector = BitCollector(capacity=4096)
        self.demod = FastReceiver(_family(modulation), modulation.rate, self.collector.port, cutoff)
        self.frames: list[tuple[bytes, bool]] = []
        self.framing = False
        self.hdlc = HdlcReceiver(self._frame, self._status, HDLC_FRAMING_FLAGS)
        self.carrier: _FastCarrier | None = None
        self.short = False  # the training the demodulator is set to expect

    def _frame(self, frame: bytes, ok: bool) -> None:
        if ok or len(frame) >= 3:
            self.frames.append((frame, ok))

    def _status(self, code: int) -> None:
        if code == SIG_STATUS_FRAMING_OK:
            self.framing = True

    def restart(self, short: bool) -> None:
        self.short = short and self.modulation.key.startswith("V.17")
        self.demod.restart(self.modulation.rate, self.short)


class AudioReceiver:
    """Samples to the modem's signals (see the module docstring for the timing).

    V.21 (channel 2 HDLC), CNG and CED are always listened for; high-speed carriers only of the
    modulations given to `listen` (a modem must be told which demodulator to run: V.17, V.29 and
    V.27ter cannot be told apart by ear). V.17's short training is expected after a carrier at the
    same rate has trained, unless a DCS or CTC came in since (T.30: TCF and the carrier after CTC
    train long; page carriers after CFR train short).
    """

    def __init__(self, origin_us: int = 0, block: int = BLOCK) -> None:
        self.origin_us = origin_us
        self.block = block  # samples per step: the resolution of the signals' instants
        self._position = 0  # samples received so far
        self._blocks = 0
        self._signals: list[Signal] = []
        # tones
        self._tones_on: set[str] = set()
        self._tones = True  # listening for CNG and CED: until the first frame (T.30 phase B)
        self._cng = ConnectToneDetector(MODEM_CONNECT_TONES_FAX_CNG, lambda c: self._tone("cng", c))
        self._ced = ConnectToneDetector(MODEM_CONNECT_TONES_ANS, lambda c: self._tone("ced", c))
        # V.21: SpanDSP's FSK demodulator straight into its HDLC receiver
        self._v21_on = False
        self._v21_hdlc = HdlcReceiver(self._v21_frame, self._v21_status, HDLC_FRAMING_FLAGS)
        self._v21 = FskReceiver(self._v21_hdlc.port, DEFAULT_CUTOFF_DBM0)
        # high speed
        self._listeners: dict[str, _FastListener] = {}
        self._listening: tuple[str, ...] = ()
        self._asked: Iterable[str] | None = None
        self._trained_at: str | None = None  # the modulation of the last successful training
        self._expect_long = True
        # noise
        self._noise_var = 0.0
        self._noise_recent: list[float] = []  # the last NOISE_MEDIAN_OF measurements
        self.noise_floor_dbm0 = -96.0
        self._cutoff = DEFAULT_CUTOFF_DBM0  # the V.21 demodulator's carrier threshold
        self._fast_cutoff = DEFAULT_CUTOFF_DBM0  # the high-speed demodulators'
        self.far_level_dbm0: float | None = None  # of the far end's last long-trained carrier
        self.training_failures: list[str] = []
        self.trainings: list[str] = []

    # -- what to listen for ----------------------------------------------------------------------
    def listen(self, modulations: Iterable[str]) -> None:
        """The high-speed modulations to run demodulators for ("V.21" is always on). The same
        object given again counts as unchanged (a modem's `rx_modes`, a frozenset, is cheap to
        pass at every step)."""
        if modulations is self._asked:
            return
        self._asked = modulations
        wanted = tuple(sorted(m for m in set(modulations) if m != "V.21"))
        if wanted == self._listening:
            return
        for key in self._listening:
            listener = self._listeners[key]
            if key not in wanted and listener.carrier is not None:
                listener.carrier = None  # no longer listened to: what it was receiving is gone
                listener.restart(self._short_for(key))
        for key in wanted:
            if key not in self._listeners:
                listener = _FastListener(MODULATIONS[key], self._fast_cutoff)
                listener.restart(self._short_for(key))
                self._listeners[key] = listener
            elif key not in self._listening and self._listeners[key].carrier is None:
                # Listened to again (a modem's +FRM): a fresh start. What it was left with
                # (the junk of the last carrier's end, a failed training) is not carried over.
                self._listeners[key].restart(self._short_for(key))
        self._listening = wanted

    @property
    def listening(self) -> tuple[str, ...]:
        return self._listening

    @property
    def position(self) -> int:
        """Samples received so far."""
        return self._position

    def _short_for(self, key: str) -> bool:
        return key.startswith("V.17") and not self._expect_long and self._trained_at == key

    # -- samples in ---------------------------------------------------------------------------------
    def receive(
        self, samples: np.ndarray, deaf: np.ndarray | None = None
    ) -> list[tuple[int, Signal]]:
        """Samples heard (continuing the stream); returns (instant µs, signal) in order. `deaf`
        marks samples to ignore (the chip's own transmission and its echo)."""
        samples = np.ascontiguousarray(samples, dtype=np.int16)
        if deaf is not None and deaf.any():
            samples = np.where(deaf, np.int16(0), samples)
        out: list[tuple[int, Signal]] = []
        for start in range(0, samples.size, self.block):
            block = samples[start : start + self.block]
            self._block(block)
            self._position += block.size
            if self._signals:
                at = self.origin_us + self._position * US_PER_SAMPLE
                out.extend((at, s) for s in self._signals)
                self._signals = []
        return out

    def _block(self, block: np.ndarray) -> None:
        # One address for every detector: a numpy-to-C conversion costs as much as a detector's
        # work on a 20 ms block. V.21 goes before the fast demodulators (a DCS re-arms V.17).
        address, count = block.ctypes.data, block.size
        if self._tones:
            self._cng.rx_at(address, count)
            self._ced.rx_at(address, count)
        self._v21.rx_at(address, count)
        energy: float | None = None
        for key in self._listening:
            listener = self._listeners[key]
            carrier = listener.carrier
            if carrier is not None and not carrier.short_train:  # a long training's carrier:
                if energy is None:  # its level sets the threshold for the short ones
                    energy = float(np.dot(block, block.astype(np.float64)))
                carrier.energy += energy
                carrier.samples += count
            self._fast_block(listener, address, count)
        self._blocks += 1
        if self._blocks % NOISE_EVERY == 0 and count >= NOISE_SAMPLES:
            self._track_noise(block[-NOISE_SAMPLES:])

    # -- tones ------------------------------------------------------------------------------------------
    def _tone(self, name: str, code: int) -> None:
        on = code in (
            MODEM_CONNECT_TONES_FAX_CNG,
            MODEM_CONNECT_TONES_ANS,
            MODEM_CONNECT_TONES_ANS_PR,
            MODEM_CONNECT_TONES_ANSAM,
            MODEM_CONNECT_TONES_ANSAM_PR,
        )
        if on and name not in self._tones_on:
            self._tones_on.add(name)
            self._signals.append(Signal(TONE_ON, tone=name))
        elif not on and name in self._tones_on:
            self._tones_on.discard(name)
            self._signals.append(Signal(TONE_OFF, tone=name))

    # -- V.21 ---------------------------------------------------------------------------------------------
    def _v21_status(self, code: int) -> None:
        if code == SIG_STATUS_FRAMING_OK and not self._v21_on:
            self._v21_on = True
            self._signals.append(Signal(CARRIER_ON, "V.21"))
        elif code == SIG_STATUS_CARRIER_DOWN and self._v21_on:
            self._v21_on = False
            self._signals.append(Signal(CARRIER_OFF, "V.21"))

    def _v21_frame(self, frame: bytes, ok: bool) -> None:
        if not ok and len(frame) < 3:
            return  # a fragment between the last flag and the carrier's end: not a frame
        if ok and not self._tones_on:
            self._tones = False  # phase B: no station sends CNG or CED from here on
        if not self._v21_on:
            self._v21_on = True
            self._signals.append(Signal(CARRIER_ON, "V.21"))
        self._signals.append(Signal(FRAMES, "V.21", frames=((frame, ok),)))
        if ok and len(frame) >= 3 and frame[2] & 0xFE in (_FCF_DCS, _FCF_CTC):
            self._expect_long = True
            for listener in self._listeners.values():
                if listener.carrier is None and listener.short:
                    listener.restart(False)

    # -- high speed -------------------------------------------------------------------------------------
    def _fast_block(self, listener: _FastListener, address: int, count: int) -> None:
        listener.demod.rx_at(address, count)
        got = listener.collector.take()
        if got.size == 0:
            return
        statuses = np.nonzero(got < 0)[0]
        start = 0
        for index in statuses.tolist():
            self._fast_bits(listener, got[start:index])
            self._fast_status(listener, int(got[index]))
            start = index + 1
        self._fast_bits(listener, got[start:])

    def _fast_status(self, listener: _FastListener, code: int) -> None:
        key = listener.modulation.key
        if code == SIG_STATUS_TRAINING_SUCCEEDED:
            listener.carrier = _FastCarrier(listener.modulation, listener.short)
            listener.frames = []
            listener.framing = False
            listener.hdlc.restart()
            self._trained_at = key
            self._expect_long = False
            self.trainings.append(key)
            self._signals.append(Signal(CARRIER_ON, key, short_train=listener.short))
            self._signals.append(Signal(TRAINED, key, short_train=listener.short))
        elif code == SIG_STATUS_TRAINING_FAILED:
            self.training_failures.append(key)
        elif code == SIG_STATUS_CARRIER_DOWN:
            if listener.carrier is not None:
                self._fast_end(listener)
                self._signals.append(Signal(CARRIER_OFF, key))
                listener.carrier = None
            listener.restart(self._short_for(key))

    def _fast_bits(self, listener: _FastListener, bits: np.ndarray) -> None:
        carrier = listener.carrier
        if carrier is None or bits.size == 0:
            return
        if not carrier.data_given:  # until data went out, it may yet be an ECM carrier
            octets = np.concatenate((carrier.octet_bits, bits))
            whole = octets.size - octets.size % 8
            carrier.octet_bits = octets[whole:]
            if whole:
                listener.hdlc.put(np.packbits(octets[:whole], bitorder="big").tobytes())
            if listener.framing:
                carrier.hdlc = True
        if carrier.hdlc:
            if listener.frames:
                self._signals.append(
                    Signal(FRAMES, carrier.modulation.key, frames=tuple(listener.frames))
                )
                listener.frames = []
            return
        carrier.bits.append(bits)
        carrier.held += bits.size
        block = carrier.modulation.rate * DATA_BLOCK // 1_000_000
        if carrier.held >= block + TAIL_HOLD_BITS:
            self._give_data(carrier, carrier.held - TAIL_HOLD_BITS)

    def _give_data(self, carrier: _FastCarrier, count: int) -> None:
        """Hand out the first `count` bits held (whole octets) as DATA."""
        count -= count % 8
        if count <= 0:
            return
        bits = np.concatenate(carrier.bits)
        carrier.bits = [bits[count:]]
        carrier.held = bits.size - count
        carrier.data_given = True
        data = np.packbits(bits[:count].astype(np.uint8), bitorder="little").tobytes()
        self._signals.append(Signal(DATA, carrier.modulation.key, data=data))

    def _fast_end(self, listener: _FastListener) -> None:
        carrier = listener.carrier
        assert carrier is not None
        if carrier.samples >= 4 * self.block:  # the last block is the carrier's end: left out
            level = carrier.energy / carrier.samples
            self.far_level_dbm0 = 10 * math.log10(max(level, 1e-3) / 32768.0**2) + DBM0_FULL_SCALE
            self._set_fast_cutoff()
        if carrier.hdlc:
            if listener.frames:
                self._signals.append(
                    Signal(FRAMES, carrier.modulation.key, frames=tuple(listener.frames))
                )
                listener.frames = []
            return
        bits = np.concatenate(carrier.bits) if carrier.bits else np.zeros(0, np.int8)
        self._give_data(carrier, data_length(bits))

    # -- noise ------------------------------------------------------------------------------------------
    def _track_noise(self, block: np.ndarray) -> None:
        """Follow the line's noise and keep the demodulators' carrier thresholds above it.

        Fax signals have next to no power above 3500 Hz; white noise has the same power in
        every band. The noise is measured there (a Hann-windowed DFT of 10 ms), so it is known
        whether a signal is on or not, and a carrier's end is seen through the noise."""
        parts = block.astype(np.float64) @ _NOISE_BASIS  # real and imaginary parts of 4 bins
        recent = self._noise_recent
        recent.append(float(parts @ parts) / (_NOISE_BINS * _HANN_ENERGY))
        if len(recent) > NOISE_MEDIAN_OF:
            del recent[0]
        # The median of the last few: a click (a carrier switched off, a tone's edge) has power
        # in every band for a moment, and must not pass for noise.
        variance = sorted(recent)[len(recent) // 2]
        if variance <= 0.0:
            return
        self._noise_var += (variance - self._noise_var) * NOISE_SMOOTHING
        floor = 10 * math.log10(max(self._noise_var, 1e-3) / 32768.0**2) + DBM0_FULL_SCALE
        self.noise_floor_dbm0 = floor
        cutoff = max(DEFAULT_CUTOFF_DBM0, floor + NOISE_MARGIN_DB)
        if abs(cutoff - self._cutoff) >= 1.0:
            self._cutoff = cutoff
            self._v21.signal_cutoff(cutoff)
        self._set_fast_cutoff()

    def _set_fast_cutoff(self) -> None:
        cutoff = self._cutoff
        if self.far_level_dbm0 is not None:
            cutoff = max(cutoff, self.far_level_dbm0 - FAST_CUTOFF_BELOW_LEVEL_DB)
        if abs(cutoff - self._fast_cutoff) >= 1.0:
            self._fast_cutoff = cutoff
            for listener in self._listeners.values():
                listener.demod.signal_cutoff(cutoff)


NOISE_SAMPLES = 80  # the noise is measured on 10 ms of every NOISE_EVERY-th block
NOISE_EVERY = 4
_HANN = np.hanning(NOISE_SAMPLES)
_HANN_ENERGY = float(np.sum(_HANN**2))
# The Hann-windowed DFT at 3600, 3700, 3800 and 3900 Hz (bins 36-39 of 10 ms), as one product of
# real numbers (the cosine and sine parts side by side).
_NOISE_BINS = 4
_NOISE_COMPLEX = _HANN[:, None] * np.exp(
    -2j * np.pi * np.outer(np.arange(NOISE_SAMPLES), np.arange(36, 40)) / NOISE_SAMPLES
)
_NOISE_BASIS = np.ascontiguousarray(np.hstack((_NOISE_COMPLEX.real, _NOISE_COMPLEX.imag)))
NOISE_SMOOTHING = 0.15  # per measurement: it follows the noise within about half a second
NOISE_MEDIAN_OF = 5  # measurements (400 ms): longer than any click, shorter than a call's phase


TAIL_HOLD_BITS = 768  # bits kept back until a data carrier ends: its turn-off sequence and tail
TURN_OFF_ONES = 48  # a run of this many 1s near the end is the modulator's turn-off sequence


def data_length(bits: np.ndarray) -> int:
    """How many of the bits demodulated on a data carrier, which began on an octet boundary, were
    data: the carrier ends with the modulator's turn-off sequence (scrambled 1s, demodulated as a
    run of 1s) and the demodulator's tail as the signal dies; both are cut, at the octet boundary
    nearest to where the 1s begin. (Data that itself ends in 1s loses them from its last octet
    boundary before them when there are more than four, and 0xFF octets at its end whole: they
    cannot be told from the turn-off.)"""
    tail = bits[-TAIL_HOLD_BITS:] if bits.size > TAIL_HOLD_BITS else bits
    offset = bits.size - tail.size
    ones = np.concatenate(([0], tail.astype(np.int32), [0]))
    edges = np.flatnonzero(np.diff(ones != 0))
    starts, ends = edges[::2], edges[1::2]
    long_runs = np.flatnonzero(ends - starts >= TURN_OFF_ONES)
    if long_runs.size == 0:
        return bits.size - bits.size % 8
    cut = offset + int(starts[long_runs[-1]])
    return (cut + 4) // 8 * 8  # the nearest octet boundary: data may end in a few 1 bits


# -- the chip: both halves ----------------------------------------------------------------------------
class AudioModemChip:
    """A fax modem's DSP on an audio line: `transmit` the modem's signals and pull `audio`;
    `receive` what the line brings and get the modem's signals back. The receiver is deaf while
    the transmitter sounds and for `echo_guard_us` after (half duplex, as a fax modem is)."""

    def __init__(
        self,
        origin_us: int = 0,
        *,
        live: bool = True,
        level_dbm0: float = TX_LEVEL_DBM0,
        echo_guard_us: int = ECHO_GUARD_US,
    ) -> None:
        self.transmitter = AudioTransmitter(origin_us, live=live, level_dbm0=level_dbm0)
        self.receiver = AudioReceiver(origin_us)
        self.echo_guard = echo_guard_us // US_PER_SAMPLE

    def transmit(self, signal: Signal, at_us: int) -> None:
        self.transmitter.transmit(signal, at_us)

    def dial(self, digits: str, at_us: int) -> int:
        return self.transmitter.dial(digits, at_us)

    def audio(self, until_us: int) -> np.ndarray:
        return self.transmitter.audio(until_us)

    @property
    def horizon_us(self) -> int:
        return self.transmitter.horizon_us

    def listen(self, modulations: Iterable[str]) -> None:
        self.receiver.listen(modulations)

    def receive(self, samples: np.ndarray) -> list[tuple[int, Signal]]:
        """Samples heard, continuing the stream from the chip's origin."""
        start = self.receiver.position
        deaf = self.transmitter.active(start, len(samples), self.echo_guard)
        return self.receiver.receive(samples, deaf)


__all__ = [
    "AudioModemChip",
    "AudioReceiver",
    "AudioTransmitter",
    "BLOCK",
    "SAMPLE_RATE",
    "TX_LEVEL_DBM0",
    "data_length",
    "dbm0_to_rms",
    "frame_bits",
    "power_dbm0",
    "tone",
]
