"""WAV files for calls in sound: read and write 8 kHz recordings, without the deprecated `audioop`.

Encodings: 16-bit linear PCM, G.711 µ-law and A-law (format tags 1, 7, 6, and the same inside
WAVE_FORMAT_EXTENSIBLE), 8-bit unsigned PCM on reading; mono or stereo (any channel count on
reading). Samples are numpy int16 arrays shaped (frames, channels). A file at another rate is
resampled to 8000 Hz on reading (band-limited, by FFT); writing is at 8000 Hz only.

The machine's recordings are stereo, 8 kHz, 16-bit: channel 1 what the machine sent, channel 2
what it heard. `WavError` says in one line what is wrong with a file that cannot be read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

RATE = 8000
PCM = 1
ALAW = 6
ULAW = 7
EXTENSIBLE = 0xFFFE
ENCODINGS = {"pcm16": PCM, "alaw": ALAW, "ulaw": ULAW}


class WavError(ValueError):
    """A WAV file this module cannot read, and why (one line)."""


@dataclass(frozen=True)
class WavAudio:
    samples: np.ndarray  # int16, (frames, channels), at RATE
    encoding: str  # pcm16 | pcm8 | ulaw | alaw: how the file stored them
    file_rate: int  # the file's own rate (resampled to RATE if different)

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def seconds(self) -> float:
        return self.samples.shape[0] / RATE


# -- reading ------------------------------------------------------------------------------------------
def read_wav(data: bytes) -> WavAudio:
    """Decode a WAV file's bytes."""
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX") or data[8:12] != b"WAVE":
        raise WavError("not a WAV file (no RIFF/WAVE header)")
    if data[:4] == b"RIFX":
        raise WavError("big-endian WAV (RIFX) is not supported")
    fmt: tuple[int, int, int, int] | None = None
    payload: bytes | None = None
    at = 12
    while at + 8 <= len(data):
        chunk, size = data[at : at + 4], struct.unpack_from("<I", data, at + 4)[0]
        body = data[at + 8 : at + 8 + size]
        if chunk == b"fmt ":
            fmt = _format(body)
        elif chunk == b"data":
            payload = body  # a writer that never fixed its sizes: take what is there
            break
        at += 8 + size + (size & 1)
    if fmt is None:
        raise WavError("no 'fmt ' chunk")
    if payload is None:
        raise WavError("no 'data' chunk")
    tag, channels, rate, bits = fmt
    samples, encoding = _decode(payload, tag, channels, bits)
    if rate != RATE:
        samples = resample(samples, rate, RATE)
    return WavAudio(samples, encoding, rate)


def _format(body: bytes) -> tuple[int, int, int, int]:
    if len(body) < 16:
        raise WavError("'fmt ' chunk is too short")
    tag, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == EXTENSIBLE:
        if len(body) < 26:
            raise WavError("WAVE_FORMAT_EXTENSIBLE without its subformat")
        tag = struct.unpack_from("<H", body, 24)[0]
    if channels < 1:
        raise WavError("no channels")
    if not 1000 <= rate <= 192000:
        raise WavError(f"implausible sample rate {rate} Hz")
    return tag, channels, rate, bits


def _decode(payload: bytes, tag: int, channels: int, bits: int) -> tuple[np.ndarray, str]:
    if tag == PCM and bits == 16:
        width, encoding = 2, "pcm16"
    elif tag == PCM and bits == 8:
        width, encoding = 1, "pcm8"
    elif tag in (ULAW, ALAW) and bits == 8:
        width, encoding = 1, "ulaw" if tag == ULAW else "alaw"
    else:
        raise WavError(
            f"format tag {tag} with {bits}-bit samples is not supported "
            "(16-bit linear PCM, µ-law or A-law)"
        )
    frames = len(payload) // (width * channels)
    if frames == 0:
        raise WavError("no samples in the 'data' chunk")
    raw = payload[: frames * width * channels]
    if encoding == "pcm16":
        flat = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    elif encoding == "pcm8":
        flat = ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    else:
        flat = ulaw_decode(raw) if encoding == "ulaw" else alaw_decode(raw)
    return flat.reshape(frames, channels), encoding


def resample(samples: np.ndarray, rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling of (frames, channels) int16 samples (by FFT, per channel)."""
    frames = samples.shape[0]
    count = max(1, round(frames * to_rate / rate))
    out = np.empty((count, samples.shape[1]), dtype=np.int16)
    for channel in range(samples.shape[1]):
        spectrum = np.fft.rfft(samples[:, channel].astype(np.float64))
        bins = count // 2 + 1
        if bins <= spectrum.size:
            spectrum = spectrum[:bins]
        else:
            spectrum = np.concatenate((spectrum, np.zeros(bins - spectrum.size, complex)))
        wave = np.fft.irfft(spectrum, count) * (count / frames)
        out[:, channel] = np.clip(np.rint(wave), -32768, 32767).astype(np.int16)
    return out


def read_wav_file(path: str | Path) -> WavAudio:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise WavError(f"cannot read it ({exc.strerror or exc})") from None
    return read_wav(data)


# -- writing ------------------------------------------------------------------------------------------
def write_wav(samples: np.ndarray, encoding: str = "pcm16") -> bytes:
    """A WAV file (8000 Hz) of int16 samples shaped (frames,) or (frames, channels)."""
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}")
    samples = np.asarray(samples, dtype=np.int16)
    if samples.ndim == 1:
        samples = samples[:, None]
    channels = samples.shape[1]
    flat = samples.reshape(-1)
    if encoding == "pcm16":
        payload, width = flat.astype("<i2").tobytes(), 2
    elif encoding == "ulaw":
        payload, width = ulaw_encode(flat), 1
    else:
        payload, width = alaw_encode(flat), 1
    tag = ENCODINGS[encoding]
    fmt = struct.pack(
        "<HHIIHH", tag, channels, RATE, RATE * width * channels, width * channels, width * 8
    )
    if tag != PCM:
        fmt += struct.pack("<H", 0)  # cbSize: non-PCM formats carry it
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if tag != PCM:
        chunks += b"fact" + struct.pack("<II", 4, samples.shape[0])
    chunks += b"data" + struct.pack("<I", len(payload)) + payload
    if len(payload) & 1:
        chunks += b"\x00"
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def write_wav_file(path: str | Path, samples: np.ndarray, encoding: str = "pcm16") -> None:
    """Write the file whole (a reader never sees half of it)."""
    path = Path(path)
    temporary = path.with_name(path.name + ".part")
    temporary.write_bytes(write_wav(samples, encoding))
    temporary.replace(path)


__all__ = [
    "RATE",
    "WavAudio",
    "WavError",
    "read_wav",
    "read_wav_file",
    "resample",
    "write_wav",
    "write_wav_file",
]
