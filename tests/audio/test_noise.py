"""Line impairments in sound: white noise at a signal-to-noise ratio makes V.17 14400 fail its
training check while slower modulations pass; the receiver follows the noise floor."""

from __future__ import annotations

import pytest

from estudio190f.firmware.t30 import image
from estudio190f.firmware.t30.capabilities import DcsParams
from estudio190f.firmware.t30.frames import make_frame
from estudio190f.hw.audio_line import NOISY_LINE_SNR_DB, LoopImpairments
from estudio190f.hw.modem import DATA, FRAMES

from .harness import GAP, AudioPair

DCS_FRAME = make_frame("DCS", DcsParams(modulation="V.17/14400").encode(), x=1)


def tcf_through(modulation: str, snr_db: float | None, seed: int) -> tuple[bool, bool]:
    """(the V.21 DCS arrived with a good FCS, the TCF passed the receiver's check)."""
    pair = AudioPair(b_loop=LoopImpairments(snr_db=snr_db), seed=seed)
    a, b = pair.a.modem, pair.b.modem
    b.receive(modulation, "V.21")
    a.send_hdlc([make_frame("DCS", DcsParams(modulation=modulation).encode(), x=1)])
    a.send_silence(GAP)
    a.send_data(image.tcf_data(modulation), modulation)
    pair.drain(1.0)
    signals = [s for _, _, s in pair.b.heard]
    frames = [f for s in signals if s.kind == FRAMES for f in s.frames]
    data = b"".join(s.data for s in signals if s.kind == DATA and s.modulation == modulation)
    dcs_ok = len(frames) == 1 and frames[0][1]
    return dcs_ok, image.tcf_ok(data, modulation)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_at_the_noisy_line_snr_only_v17_14400_fails_its_training_check(seed: int) -> None:
    results = {
        m: tcf_through(m, NOISY_LINE_SNR_DB, seed)
        for m in ("V.17/14400", "V.17/12000", "V.29/9600")
    }
    assert results == {
        "V.17/14400": (True, False),  # V.21 still fine; TCF refused: the call falls back
        "V.17/12000": (True, True),
        "V.29/9600": (True, True),
    }


def test_a_quiet_line_passes_v17_14400() -> None:
    assert tcf_through("V.17/14400", None, 0) == (True, True)
    assert tcf_through("V.17/14400", NOISY_LINE_SNR_DB + 4, 0) == (True, True)


def test_the_receiver_measures_the_noise_it_hears() -> None:
    pair = AudioPair(b_loop=LoopImpairments(snr_db=20.0), seed=3)
    pair.run(2)
    assert pair.b.chip.receiver.noise_floor_dbm0 == pytest.approx(-13.0 - 20.0, abs=1.5)
    quiet = AudioPair()
    quiet.run(1)
    assert quiet.b.chip.receiver.noise_floor_dbm0 < -80
