"""The modem chip on an audio line: what one modem sends comes out of the other as it went in."""

from __future__ import annotations

import numpy as np
import pytest

from estudio190f.firmware.t30 import image
from estudio190f.firmware.t30.capabilities import Capabilities, DcsParams
from estudio190f.firmware.t30.frames import encode_ident, make_frame
from estudio190f.hw.audio_line import BUSY, RINGBACK, LoopImpairments, exchange_tone
from estudio190f.hw.audio_modem import AudioModemChip, power_dbm0
from estudio190f.hw.clock import MS, SECOND
from estudio190f.hw.modem import CARRIER_OFF, CARRIER_ON, DATA, FRAMES, TRAINED, Signal
from estudio190f.hw.spandsp_modems import DtmfReceiver

from .harness import GAP, AudioPair, chart_page, need_spandsp

ALL = ("V.17/14400", "V.17/12000", "V.17/9600", "V.17/7200",
       "V.29/9600", "V.29/7200", "V.27ter/4800", "V.27ter/2400")  # fmt: skip
CSI = make_frame("CSI", encode_ident("5559876"), final=False)
DIS = make_frame("DIS", Capabilities(modulations=ALL).encode())
TSI = make_frame("TSI", encode_ident("5551234"), final=False, x=1)


def dcs(modulation: str) -> bytes:
    return make_frame("DCS", DcsParams(modulation=modulation, resolution="fine").encode(), x=1)


def carriers(signals: list[Signal]) -> list[tuple[str, bool, list[tuple[bytes, bool]], bytes]]:
    """Each carrier as (modulation, short training, frames, data joined)."""
    out: list[tuple[str, bool, list[tuple[bytes, bool]], bytes]] = []
    for signal in signals:
        if signal.kind == CARRIER_ON:
            out.append((signal.modulation, signal.short_train, [], b""))
        elif signal.kind == FRAMES and out:
            out[-1][2].extend(signal.frames)
        elif signal.kind == DATA and out:
            mod, short, frames, data = out[-1]
            out[-1] = (mod, short, frames, data + signal.data)
    return out


def heard(side) -> list[Signal]:  # type: ignore[no-untyped-def]
    return [signal for _, _, signal in side.heard]


def sent(side) -> list[Signal]:  # type: ignore[no-untyped-def]
    return [signal for _, signal in side.line.sent]


def exchange(pair: AudioPair, page: bytes) -> None:
    """CNG, CED, CSI+DIS, then for every modulation TSI+DCS and its TCF, and a page at two."""
    a, b = pair.a.modem, pair.b.modem
    a.receive("V.21")
    b.receive("V.21")
    a.start_cng()
    pair.run(4.2)
    a.stop_cng()
    b.send_tone("ced")
    b.send_silence(GAP)
    b.send_hdlc([CSI, DIS])
    pair.run(6)
    for modulation in ALL:
        b.receive(modulation, "V.21")
        a.send_hdlc([TSI, dcs(modulation)])
        a.send_silence(GAP)
        a.send_data(image.tcf_data(modulation), modulation)
        if modulation in ("V.17/14400", "V.29/9600"):
            a.send_silence(GAP)
            a.send_data(page, modulation, short_train=modulation.startswith("V.17"))
        pair.drain()


@pytest.fixture(scope="module")
def page_data() -> bytes:
    need_spandsp()
    return image.encode_page(chart_page(1, "standard"), DcsParams("V.17/14400", "standard"))


@pytest.fixture(scope="module")
def exact_pair(page_data: bytes) -> AudioPair:
    pair = AudioPair(live=False)
    exchange(pair, page_data)
    return pair


def test_carriers_frames_and_data_come_out_as_they_went_in(exact_pair: AudioPair) -> None:
    went = carriers(sent(exact_pair.a))
    came = carriers(heard(exact_pair.b))
    assert len(went) == 2 * len(ALL) + 2  # a V.21 carrier and a TCF each, two pages
    assert came == went
    back = carriers(heard(exact_pair.a))
    assert back == carriers(sent(exact_pair.b))  # CSI and DIS


def test_every_carrier_trains_and_ends(exact_pair: AudioPair) -> None:
    kinds = [(s.kind, s.modulation) for s in heard(exact_pair.b) if s.kind != FRAMES]
    kinds = [k for k in kinds if k[0] != DATA]
    for modulation in ALL:
        assert kinds.count((TRAINED, modulation)) == (
            2 if modulation in ("V.17/14400", "V.29/9600") else 1
        )
        assert kinds.count((CARRIER_ON, modulation)) == kinds.count((CARRIER_OFF, modulation))


def test_tones_are_heard(exact_pair: AudioPair) -> None:
    tones_b = [(s.kind, s.tone) for s in heard(exact_pair.b) if s.tone]
    tones_a = [(s.kind, s.tone) for s in heard(exact_pair.a) if s.tone]
    assert tones_b == [("tone_on", "cng"), ("tone_off", "cng")] * 2  # two cadences of CNG
    assert tones_a == [("tone_on", "ced"), ("tone_off", "ced")]


def test_a_frame_is_heard_when_its_closing_flag_is_demodulated(exact_pair: AudioPair) -> None:
    """Not live: each V.21 frame is reported within a few bit times of where the signal line
    would deliver it (the demodulator's delay and the receiver's 10 ms blocks)."""
    went = [
        (at, s) for at, s in exact_pair.a.line.sent if s.kind == FRAMES and s.modulation == "V.21"
    ]
    came = [
        (at, s) for at, _, s in exact_pair.b.heard if s.kind == FRAMES and s.modulation == "V.21"
    ]
    assert len(came) == len(went)
    for (sent_at, s1), (heard_at, s2) in zip(went, came, strict=True):
        assert s1.frames == s2.frames
        assert 0 <= heard_at - sent_at <= 50 * MS


def test_tcf_passes_the_receivers_check_at_every_speed(exact_pair: AudioPair) -> None:
    tcfs = [c for c in carriers(heard(exact_pair.b)) if c[0] != "V.21" and not c[3].strip(b"\0")]
    assert [c[0] for c in tcfs] == list(ALL)
    assert all(image.tcf_ok(data, mod) for mod, _, _, data in tcfs)


def test_page_carriers_after_tcf_train_short_on_v17(exact_pair: AudioPair) -> None:
    pages = [c for c in carriers(heard(exact_pair.b)) if c[3].strip(b"\0")]
    assert [(c[0], c[1]) for c in pages] == [("V.17/14400", True), ("V.29/9600", False)]


def test_live_line_sounds_late_but_says_the_same(page_data: bytes) -> None:
    """On a real-time line the chip cannot wait for content: it fills (flags, or zeros before
    data) and sends it late; frames are the same, data is the same after the fill."""
    pair = AudioPair(live=True)
    a, b = pair.a.modem, pair.b.modem
    b.receive("V.21", "V.17/14400")
    a.send_hdlc([TSI, dcs("V.17/14400")])
    a.send_silence(GAP)
    a.send_data(image.tcf_data("V.17/14400"), "V.17/14400")
    a.send_silence(GAP)
    a.send_data(page_data, "V.17/14400", short_train=True)
    a.send_silence(GAP)
    a.send_hdlc([make_frame("EOP", x=1)])
    pair.drain()
    went, came = carriers(sent(pair.a)), carriers(heard(pair.b))
    assert [(c[0], c[1], c[2]) for c in came] == [(c[0], c[1], c[2]) for c in went]
    tcf, page = came[1][3], came[2][3]
    assert not tcf.strip(b"\0") and len(tcf) >= len(image.tcf_data("V.17/14400"))
    assert page.endswith(page_data) and not page[: -len(page_data)].strip(b"\0")
    assert pair.a.chip.transmitter.fill_bits > 0


def test_a_bad_fcs_arrives_bad() -> None:
    pair = AudioPair()
    pair.b.modem.receive("V.21")
    pair.a.modem.send_hdlc([TSI, dcs("V.29/9600")], bad_fcs=[0])
    pair.run(3)
    frames = [f for s in heard(pair.b) if s.kind == FRAMES for f in s.frames]
    assert frames == [(TSI, False), (dcs("V.29/9600"), True)]


def test_ecm_frames_cross_at_high_speed() -> None:
    pair = AudioPair()
    rng = np.random.default_rng(5)
    frames = [make_frame("FCD", bytes((n,)) + rng.bytes(256), final=False) for n in range(40)]
    frames += [make_frame("RCP", final=False)] * 3
    pair.b.modem.receive("V.17/9600", "V.21")
    pair.a.modem.send_hdlc(frames, "V.17/9600", bad_fcs=[7])
    pair.run(12)
    came = carriers(heard(pair.b))
    assert len(came) == 1 and came[0][0] == "V.17/9600"
    assert came[0][2] == [(f, n != 7) for n, f in enumerate(frames)]
    assert came[0][3] == b""  # an ECM carrier gives frames, no data


def test_a_carrier_nobody_listens_for_is_not_reported() -> None:
    pair = AudioPair()
    pair.b.modem.receive("V.21")  # not V.29
    pair.a.modem.send_data(image.tcf_data("V.29/9600"), "V.29/9600")
    pair.a.modem.send_silence(GAP)
    pair.a.modem.send_hdlc([make_frame("EOP", x=1)])
    pair.run(5)
    assert [c[0] for c in carriers(heard(pair.b))] == ["V.21"]


def test_the_receiver_is_deaf_to_its_own_echo() -> None:
    echo = LoopImpairments(echo_delay_ms=20, echo_db=6)
    pair = AudioPair(a_loop=echo, b_loop=echo)
    pair.a.modem.receive("V.21")
    pair.b.modem.receive("V.21")
    pair.a.modem.send_hdlc([TSI, dcs("V.17/14400")])
    pair.run(3)
    pair.b.modem.send_silence(GAP)
    pair.b.modem.send_hdlc([make_frame("CFR")])
    pair.run(3)
    assert [c[2] for c in carriers(heard(pair.b))] == [[(TSI, True), (dcs("V.17/14400"), True)]]
    assert [c[2] for c in carriers(heard(pair.a))] == [[(make_frame("CFR"), True)]]


def test_a_quiet_line_still_carries_the_call() -> None:
    quiet = LoopImpairments(attenuation_db=10)
    pair = AudioPair(a_loop=quiet, b_loop=quiet)
    pair.b.modem.receive("V.17/14400", "V.21")
    pair.a.modem.send_hdlc([TSI, dcs("V.17/14400")])
    pair.a.modem.send_silence(GAP)
    pair.a.modem.send_data(image.tcf_data("V.17/14400"), "V.17/14400")
    pair.run(6)
    went, came = carriers(sent(pair.a)), carriers(heard(pair.b))
    assert came == went
    level = power_dbm0(pair.link.recording(pair.b.chip)[: 8 * SECOND // 125, 1])
    assert level < -33  # -13 dBm0 sent, 20 dB down, with silence around


def test_dtmf_dialing_is_heard_as_the_digits() -> None:
    need_spandsp()
    chip = AudioModemChip(0)
    end = chip.dial("5551234", 0)
    assert end == 7 * 200 * MS
    samples = chip.audio(end + 100 * MS)
    ear = DtmfReceiver()
    ear.rx(samples)
    assert ear.digits == "5551234"


@pytest.mark.parametrize(
    "tone, on_s, off_s, freqs", [(RINGBACK, 2.0, 4.0, (440, 480)), (BUSY, 0.5, 0.5, (480, 620))]
)
def test_the_exchange_plays_north_american_cadences(tone, on_s, off_s, freqs) -> None:  # type: ignore[no-untyped-def]
    need_spandsp()
    samples = exchange_tone(tone, 2 * int((on_s + off_s) * SECOND))
    period = int((on_s + off_s) * 8000)
    on = int(on_s * 8000)
    for start in (0, period):
        burst, quiet = samples[start : start + on], samples[start + on : start + period]
        assert power_dbm0(quiet) < -90
        spectrum = np.abs(np.fft.rfft(burst))
        peaks = sorted(np.argsort(spectrum)[-2:] * 8000 / burst.size)
        assert peaks == pytest.approx(freqs, abs=1)
