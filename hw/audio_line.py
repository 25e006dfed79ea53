"""The phone line in sound: two stations' audio through their local loops, with the impairments
of copper (white noise at a signal-to-noise ratio, attenuation, echo), and the exchange's tones.

`AudioLink` carries one call between two `AudioStation`s (an `AudioModemChip`, or any other
source and sink of samples such as SpanDSP's own fax terminal): each `run_until(t)` moves both
directions' samples up to `t` (or as far as both stations' sound is final), passes them through
the loops, and returns what the stations' receivers recognised, with its instant. It also keeps
the call's recording per station (channel 1 what the station sent, channel 2 what it heard).

Impairments belong to a station's loop (`LoopImpairments`) and are all seeded:
- attenuation (dB) applies to everything that passes through the loop, both ways;
- noise: white noise at `snr_db` below the nominal signal level as it arrives at the receiver
  (`hw.audio_modem.TX_LEVEL_DBM0` less the attenuation of both loops), heard by the station on
  whose loop it is and, through the far loop's attenuation, by the far end too;
- echo: the station hears its own sound `echo_delay_ms` later, `echo_db` down (a hybrid's echo).

Sans I/O and without a clock: the caller says what time it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .audio_modem import (
    SAMPLE_RATE,
    TX_LEVEL_DBM0,
    US_PER_SAMPLE,
    dbm0_to_rms,
    tone,
)
from .modem import Signal
from .spandsp import FaxTerminal

# The signal-to-noise ratio of a noisy line (`line.noise` on the audio line, the default of
# `line.snr_db` when noise is on): V.17 at 14400 bit/s still trains but its TCF has far more bit
# errors than a receiver accepts (1e-4), while 12000 and every slower modulation pass, so a call
# falls back one step. Measured with SpanDSP's modems, 12 seeds (docs/audio.md).
NOISY_LINE_SNR_DB = 21.0


class AudioStation(Protocol):
    """What a line needs of a station: its sound, and an ear."""

    def audio(self, until_us: int) -> np.ndarray:
        """The station's next samples, up to `until_us` or as far as they are final."""
        ...

    def receive(self, samples: np.ndarray) -> list[tuple[int, Signal]]:
        """Samples heard, continuing the stream; what was recognised, with its instant."""
        ...


@dataclass
class LoopImpairments:
    """One station's local loop."""

    snr_db: float | None = None  # None: no noise
    attenuation_db: float = 0.0
    echo_delay_ms: float = 0.0
    echo_db: float | None = None  # None: no echo


class _Direction:
    """One way through the line: what `source` sends, as `sink` hears it."""

    def __init__(self, gain: float, noise_rms: float, rng: np.random.Generator) -> None:
        self.gain = gain
        self.noise_rms = noise_rms
        self.rng = rng

    def carry(self, samples: np.ndarray) -> np.ndarray:
        out = (
            samples.astype(np.float64) * self.gain
            if self.gain != 1.0
            else samples.astype(np.float64)
        )
        if self.noise_rms > 0.0:
            out += self.rng.normal(0.0, self.noise_rms, out.size)
        return out


class _Echo:
    """A station's own sound coming back, delayed and attenuated."""

    def __init__(self, delay_ms: float, level_db: float) -> None:
        self.delay = int(round(delay_ms * SAMPLE_RATE / 1000))
        self.gain = 10 ** (-abs(level_db) / 20)
        self.history = np.zeros(self.delay, dtype=np.float64)

    def of(self, sent: np.ndarray) -> np.ndarray:
        line = np.concatenate((self.history, sent.astype(np.float64)))
        self.history = line[line.size - self.delay :] if self.delay else line[:0]
        return line[: sent.size] * self.gain


def _noise_rms(loops: tuple[LoopImpairments, LoopImpairments]) -> float:
    """Noise heard on a call through both loops: each loop's noise at its SNR below the nominal
    level as received (their powers add)."""
    received_dbm0 = TX_LEVEL_DBM0 - sum(loop.attenuation_db for loop in loops)
    power = 0.0
    for loop in loops:
        if loop.snr_db is not None:
            power += dbm0_to_rms(received_dbm0 - loop.snr_db) ** 2
    return math.sqrt(power)


def _clip(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(samples), -32768, 32767).astype(np.int16)


@dataclass
class _Side:
    station: AudioStation
    echo: _Echo | None
    pending: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    sent: list[np.ndarray] = field(default_factory=list)
    heard: list[np.ndarray] = field(default_factory=list)


class AudioLink:
    """One call in sound between stations `a` and `b`, from `start_us`."""

    def __init__(
        self,
        a: AudioStation,
        b: AudioStation,
        *,
        start_us: int = 0,
        a_loop: LoopImpairments | None = None,
        b_loop: LoopImpairments | None = None,
        seed: int = 0,
        record: bool = True,
    ) -> None:
        a_loop = a_loop or LoopImpairments()
        b_loop = b_loop or LoopImpairments()
        self.start_us = start_us
        self.record = record
        self._position = 0  # samples carried both ways so far
        rng = np.random.default_rng(seed)
        gain = 10 ** (-(a_loop.attenuation_db + b_loop.attenuation_db) / 20)
        noise = _noise_rms((a_loop, b_loop))
        self._sides = [
            _Side(a, _echo(a_loop)),
            _Side(b, _echo(b_loop)),
        ]
        # to a, from b; to b, from a (each with its own noise stream)
        self._to = [
            _Direction(gain, noise, rng.spawn(1)[0]),
            _Direction(gain, noise, rng.spawn(1)[0]),
        ]

    @property
    def now_us(self) -> int:
        """How far the call has been carried."""
        return self.start_us + self._position * US_PER_SAMPLE

    def run_until(self, until_us: int) -> list[tuple[AudioStation, int, Signal]]:
        """Carry both directions up to `until_us` (or as far as both stations' sound is final);
        returns (station that heard it, instant µs, signal), in order of time."""
        for side in self._sides:
            side.pending = np.concatenate((side.pending, side.station.audio(until_us)))
        count = min(side.pending.size for side in self._sides)
        if count <= 0:
            return []
        sent = [side.pending[:count] for side in self._sides]
        for side in self._sides:
            side.pending = side.pending[count:]
        heard: list[tuple[AudioStation, int, Signal]] = []
        for index, side in enumerate(self._sides):
            sound = self._to[index].carry(sent[1 - index])
            if side.echo is not None:
                sound += side.echo.of(sent[index])
            samples = _clip(sound)
            if self.record:
                side.sent.append(sent[index])
                side.heard.append(samples)
            heard.extend((side.station, at, signal) for at, signal in side.station.receive(samples))
        self._position += count
        heard.sort(key=lambda item: item[1])
        return heard

    def recording(self, station: AudioStation) -> np.ndarray:
        """The call as `station` has it: (samples, 2) int16, channel 1 sent, channel 2 heard."""
        side = next(s for s in self._sides if s.station is station)
        sent = np.concatenate(side.sent) if side.sent else np.zeros(0, np.int16)
        heard = np.concatenate(side.heard) if side.heard else np.zeros(0, np.int16)
        return np.stack((sent, heard), axis=1)


def _echo(loop: LoopImpairments) -> _Echo | None:
    if loop.echo_db is None:
        return None
    return _Echo(loop.echo_delay_ms, loop.echo_db)


# -- what the exchange plays ------------------------------------------------------------------------
@dataclass(frozen=True)
class ExchangeTone:
    """A call-progress tone: frequencies, level each, cadence (on, off in ms; off 0: steady)."""

    name: str
    frequencies: tuple[float, ...]
    level_dbm0: float
    on_ms: int
    off_ms: int


# North American precise tones (Bellcore LSSGR / ANSI T1.401): dial 350+440 Hz steady at
# -13 dBm0 each, ringback 440+480 Hz at -19 dBm0, 2 s on 4 s off, busy 480+620 Hz at -24 dBm0,
# 0.5 s on 0.5 s off.
DIAL_TONE = ExchangeTone("dial", (350.0, 440.0), -13.0, 1000, 0)
RINGBACK = ExchangeTone("ringback", (440.0, 480.0), -19.0, 2000, 4000)
BUSY = ExchangeTone("busy", (480.0, 620.0), -24.0, 500, 500)


def exchange_tone(kind: ExchangeTone, duration_us: int, offset_us: int = 0) -> np.ndarray:
    """`duration_us` of the tone, starting `offset_us` into its cadence (from the start of an on
    period)."""
    count = duration_us // US_PER_SAMPLE
    first = offset_us // US_PER_SAMPLE
    index = np.arange(first, first + count)
    out = np.zeros(count, dtype=np.float64)
    for freq in kind.frequencies:
        phase = (2 * math.pi * freq * first / SAMPLE_RATE) % (2 * math.pi)
        out += tone(freq, count, kind.level_dbm0, phase)[0]
    if kind.off_ms:
        period = (kind.on_ms + kind.off_ms) * SAMPLE_RATE // 1000
        on = kind.on_ms * SAMPLE_RATE // 1000
        out[(index % period) >= on] = 0.0
    return _clip(out)


class FaxTerminalStation:
    """SpanDSP's own audio fax terminal as a station on the line (an independent fax stack: its
    T.30 and its modems), e.g. for a script's `device NAME NUMBER spandsp`."""

    def __init__(self, terminal: FaxTerminal, origin_us: int = 0) -> None:
        self.terminal = terminal
        self.origin_us = origin_us
        self._made = 0

    def audio(self, until_us: int) -> np.ndarray:
        count = (until_us - self.origin_us) // US_PER_SAMPLE - self._made
        if count <= 0:
            return np.zeros(0, dtype=np.int16)
        self._made += count
        return self.terminal.tx(count)

    def receive(self, samples: np.ndarray) -> list[tuple[int, Signal]]:
        self.terminal.rx(samples)
        return []


__all__ = [
    "NOISY_LINE_SNR_DB",
    "FaxTerminalStation",
    "BUSY",
    "DIAL_TONE",
    "RINGBACK",
    "AudioLink",
    "AudioStation",
    "ExchangeTone",
    "LoopImpairments",
    "exchange_tone",
]
