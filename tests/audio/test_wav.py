"""WAV files: 16-bit linear, µ-law and A-law, mono and stereo, 8 kHz (other rates resampled)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import need_program  # tests/conftest.py (tests/ is on sys.path)

from estudio190f.hw import wav


def tone(
    freq: float, seconds: float = 0.5, rate: int = 8000, amplitude: float = 8000
) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.rint(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def test_stereo_16_bit_round_trip(tmp_path: Path) -> None:
    samples = np.stack((tone(1100), tone(2100)), axis=1)
    wav.write_wav_file(tmp_path / "call.wav", samples)
    audio = wav.read_wav_file(tmp_path / "call.wav")
    assert (audio.encoding, audio.channels, audio.file_rate) == ("pcm16", 2, 8000)
    assert np.array_equal(audio.samples, samples)


@pytest.mark.parametrize("encoding", ["ulaw", "alaw"])
def test_g711_round_trip_stays_within_a_quantisation_step(encoding: str) -> None:
    samples = np.arange(-32768, 32768, 7, dtype=np.int16)
    audio = wav.read_wav(wav.write_wav(samples, encoding))
    assert audio.encoding == encoding
    error = np.abs(audio.samples[:, 0].astype(np.int32) - samples)
    step = np.maximum(np.abs(samples.astype(np.int32)) // 16, 16)  # G.711: about 1/16 of a value
    assert np.all(error <= step)


@pytest.mark.parametrize("encoding, sox", [("ulaw", "u-law"), ("alaw", "a-law")])
def test_g711_tables_agree_with_sox(tmp_path: Path, encoding: str, sox: str) -> None:
    """Every code decodes to the same value as sox decodes it, and sox reads what we write."""
    need_program("sox")
    samples = np.arange(-32768, 32768, dtype=np.int16)
    ours = tmp_path / "ours.wav"
    ours.write_bytes(wav.write_wav(samples, encoding))
    linear = tmp_path / "linear.wav"
    subprocess.run(["sox", str(ours), "-e", "signed-integer", "-b", "16", str(linear)], check=True)
    by_sox = wav.read_wav_file(linear)
    by_us = wav.read_wav_file(ours)
    assert np.array_equal(by_sox.samples, by_us.samples)
    theirs = tmp_path / "theirs.wav"  # sox's own µ-law/A-law file, read here
    subprocess.run(["sox", "-D", str(linear), "-e", sox, str(theirs)], check=True)
    assert wav.read_wav_file(theirs).encoding == encoding


def test_other_rates_are_resampled_to_8000(tmp_path: Path) -> None:
    need_program("sox")
    source = tmp_path / "tone16k.wav"
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-b", "16", str(source), "synth", "1", "sine", "1800"],
        check=True,
    )
    audio = wav.read_wav_file(source)
    assert (audio.file_rate, audio.samples.shape) == (16000, (8000, 1))
    spectrum = np.abs(np.fft.rfft(audio.samples[:, 0]))
    assert np.argmax(spectrum) == pytest.approx(1800, abs=2)  # 1 Hz bins over one second


def test_8_bit_pcm_and_extensible_headers_are_read(tmp_path: Path) -> None:
    need_program("sox")
    source = tmp_path / "in.wav"
    source.write_bytes(wav.write_wav(tone(1000)))
    for args in (["-b", "8", "-e", "unsigned-integer"], ["-b", "16", "-t", "wavpcm"], ["-b", "16"]):
        out = tmp_path / "out.wav"
        subprocess.run(["sox", "-D", str(source), *args, str(out), "channels", "2"], check=True)
        audio = wav.read_wav_file(out)
        assert audio.channels == 2
        assert np.max(np.abs(audio.samples[:, 0].astype(int) - tone(1000))) <= 256


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "not a WAV file"),
        (b"RIFF\x10\x00\x00\x00WAVEjunk", "no 'fmt ' chunk"),
        (
            b"RIFF\x20\x00\x00\x00WAVEfmt \x10\x00\x00\x00"
            + bytes.fromhex("03000100401f0000803e000002001000")
            + b"data\x04\x00\x00\x00\x00\x00\x00\x00",
            "format tag 3",
        ),
        (
            b"RIFF\x20\x00\x00\x00WAVEfmt \x10\x00\x00\x00"
            + bytes.fromhex("01000100401f0000803e000002001000"),
            "no 'data' chunk",
        ),
    ],
)
def test_a_malformed_file_is_refused_in_one_line(data: bytes, reason: str) -> None:
    with pytest.raises(wav.WavError) as caught:
        wav.read_wav(data)
    assert reason in str(caught.value) and "\n" not in str(caught.value)
