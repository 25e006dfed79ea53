"""The SpanDSP bindings (Debian libspandsp2 0.0.6 through ctypes): each modem part on its own."""

from __future__ import annotations

import ctypes.util

import numpy as np
import pytest

from estudio190f.hw import spandsp
from estudio190f.hw import spandsp_modems as sd

from .harness import need_spandsp

FAST = [("V.27ter", 2400), ("V.27ter", 4800), ("V.29", 7200), ("V.29", 9600),
        ("V.17", 7200), ("V.17", 9600), ("V.17", 12000), ("V.17", 14400)]  # fmt: skip


def sound(transmit, limit: int = 8000 * 60) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Everything a transmitter makes until it stops (fewer samples than asked)."""
    out = []
    while sum(map(len, out)) < limit:
        piece = transmit(160)
        out.append(piece)
        if piece.size < 160:
            break
    return np.concatenate(out + [np.zeros(800, np.int16)])


@pytest.mark.parametrize("family, rate", FAST)
def test_a_fast_modem_carries_the_bits_exactly(family: str, rate: int) -> None:
    need_spandsp()
    octets = np.frombuffer(np.random.default_rng(rate).bytes(2000), np.uint8)
    bits = np.unpackbits(octets, bitorder="little").astype(np.int8)
    queue = sd.BitQueue(fill=0)
    collector = sd.BitCollector(capacity=40000)
    tx = sd.FastTransmitter(family, rate, queue.port, power_dbm0=-13)
    rx = sd.FastReceiver(family, rate, collector.port)
    queue.push(bits)
    queue.end()
    rx.rx(sound(tx.tx))
    got = collector.take()
    statuses = [int(v) for v in got[got < 0]]
    assert statuses == [sd.SIG_STATUS_CARRIER_UP, sd.SIG_STATUS_TRAINING_IN_PROGRESS,
                        sd.SIG_STATUS_TRAINING_SUCCEEDED, sd.SIG_STATUS_CARRIER_DOWN]  # fmt: skip
    data = got[got >= 0]
    assert np.array_equal(data[: bits.size], bits)  # from the first bit after training
    assert np.all(data[bits.size : bits.size + 24] == 1)  # then the turn-off sequence
    assert queue.underruns == 0


def test_v21_carries_hdlc_frames_with_their_fcs_verdicts() -> None:
    need_spandsp()
    framer = sd.HdlcTransmitter()
    tx = sd.FskTransmitter(framer.port, power_dbm0=-13)
    frames: list[tuple[bytes, bool]] = []
    statuses: list[int] = []
    deframer = sd.HdlcReceiver(lambda f, ok: frames.append((f, ok)), statuses.append)
    rx = sd.FskReceiver(deframer.port)
    dis = bytes.fromhex("ff13800046ff")
    assert framer.flags(40)
    assert framer.frame(dis)
    audio = np.concatenate([tx.tx(160) for _ in range(100)])
    rx.rx(audio)
    assert frames and frames[0] == (dis, True)
    assert sd.SIG_STATUS_FRAMING_OK in statuses


def test_the_hdlc_framer_stuffs_and_checks() -> None:
    need_spandsp()
    framer = sd.HdlcTransmitter()
    framer.flags(4)
    framer.frame(b"\xff\x03\x7e\x7e\xff")
    stream = framer.get(40)
    frames: list[tuple[bytes, bool]] = []
    deframer = sd.HdlcReceiver(lambda f, ok: frames.append((f, ok)), framing_flags=2)
    deframer.put(stream)
    assert frames == [(b"\xff\x03\x7e\x7e\xff", True)]


@pytest.mark.parametrize(
    "tone, name", [(sd.MODEM_CONNECT_TONES_FAX_CNG, "cng"), (sd.MODEM_CONNECT_TONES_FAX_CED, "ced")]
)
def test_calling_and_answer_tones_are_detected(tone: int, name: str) -> None:
    need_spandsp()
    heard: list[int] = []
    detector = sd.ConnectToneDetector(tone, heard.append)
    samples = sd.ConnectToneTransmitter(tone).tx(8000 * 3)
    detector.rx(np.concatenate((samples, np.zeros(8000, np.int16))))
    assert heard[0] != sd.MODEM_CONNECT_TONES_NONE and heard[-1] == sd.MODEM_CONNECT_TONES_NONE


def test_dtmf_round_trip() -> None:
    need_spandsp()
    tx = sd.DtmfTransmitter(100, 100)
    assert tx.put("0123456789*#") == 0
    rx = sd.DtmfReceiver()
    rx.rx(sound(tx.tx))
    assert rx.digits == "0123456789*#"


def test_missing_library_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spandsp, "_library", None)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "/nonexistent/libspandsp.so.2")
    with pytest.raises(spandsp.SpanDspMissing) as caught:
        spandsp.load_spandsp()
    message = str(caught.value)
    assert "libspandsp2" in message and "\n" not in message
    assert not spandsp.spandsp_available()
