"""Air time on the virtual clock matches a real line (DESIGN.md 5, PEERS.md "Line timing")."""

from __future__ import annotations

import pytest

from call.pair import ANSWERER, CALLER, LineTester, StationPair, chart_page
from estudio190f.firmware.t30.session import StationConfig
from estudio190f.hw.clock import SECOND
from estudio190f.hw.modem import CarrierUp, FrameReceived, ToneOff, ToneOn, hdlc_bits


def page_carriers(pair: StationPair) -> list[tuple[float, float]]:
    """(trained, carrier off) of every high-speed carrier the receiver heard, in seconds."""
    ups = [e for e in StationPair.events(pair.b, "t30", "carrier") if e["up"]]
    downs = [e for e in StationPair.events(pair.b, "t30", "carrier") if not e["up"]]
    return [(float(u["t"]), float(d["t"])) for u, d in zip(ups, downs, strict=True)]


def send_one(
    coding: str, ecm: bool, resolution: str, top: int = 14400
) -> tuple[StationPair, float]:
    config = StationConfig(ident=CALLER, coding=coding, ecm=ecm, top_speed=top)
    pair = StationPair(
        caller=config, answerer=StationConfig(ident=ANSWERER, coding=coding, ecm=ecm)
    )
    assert pair.send([chart_page(1, resolution)]).ok
    tcf, page = page_carriers(pair)
    assert tcf[1] - tcf[0] == pytest.approx(1.5, abs=0.01)  # TCF: 1.5 s of zeros
    return pair, page[1] - page[0]


@pytest.mark.parametrize(
    "coding,ecm,resolution,top,seconds",
    [
        ("mh", False, "fine", 14400, 20.8),
        ("mh", False, "fine", 9600, 31.2),
        ("mh", False, "standard", 14400, 10.4),
        ("mr", False, "fine", 14400, 14.4),
        ("mmr", True, "fine", 14400, 10.4),
    ],
)
def test_itu1_takes_its_real_air_time(
    coding: str, ecm: bool, resolution: str, top: int, seconds: float
) -> None:
    _, air = send_one(coding, ecm, resolution, top)
    assert air == pytest.approx(seconds, rel=0.03)


def test_call_rhythm_answer_to_image_between_pages_and_after_the_last() -> None:
    pair = StationPair(caller=StationConfig(ident=CALLER, ecm=False, coding="mh"))
    assert pair.send([chart_page(1, "standard"), chart_page(1, "standard")]).ok
    answered = StationPair.at(StationPair.events(pair.b, "t30", "connected")[0])
    tcf, first, second = page_carriers(pair)
    hung_up = StationPair.at(StationPair.events(pair.a, "fax", "result")[0])
    assert first[0] - answered == pytest.approx(12.0, abs=0.6)
    assert second[0] - first[1] == pytest.approx(2.6, abs=0.2)
    assert hung_up - second[1] == pytest.approx(3.6, abs=0.3)


def test_v17_trains_long_for_tcf_and_short_for_the_page() -> None:
    pair = StationPair(caller=StationConfig(ident=CALLER, ecm=False))
    assert pair.send([chart_page(1, "standard")]).ok
    dcs_end = StationPair.at(
        [e for e in StationPair.events(pair.b, "t30", "recv") if e["frame"] == "DCS"][0]
    )
    cfr_end = StationPair.at(
        [e for e in StationPair.events(pair.a, "t30", "recv") if e["frame"] == "CFR"][0]
    )
    tcf, page = page_carriers(pair)
    assert tcf[0] - dcs_end == pytest.approx(0.075 + 1.393, abs=0.002)
    assert page[0] - cfr_end == pytest.approx(0.075 + 0.142, abs=0.002)


def test_answerer_sends_ced_then_dis_with_a_one_second_preamble() -> None:
    pair = StationPair()
    tester = LineTester(pair)
    tester.modem.receive("V.21")
    tester.line.dial(ANSWERER)
    pair.run(30 * SECOND, until=lambda: len(tester.frames_heard()) >= 2)
    heard = tester.heard
    ced_on = next(t for t, e in heard if isinstance(e, ToneOn) and e.tone == "ced")
    ced_off = next(t for t, e in heard if isinstance(e, ToneOff) and e.tone == "ced")
    v21_up = next(t for t, e in heard if isinstance(e, CarrierUp))
    first_frame_t, first = next((t, e) for t, e in heard if isinstance(e, FrameReceived))
    assert 2.6 <= ced_off - ced_on <= 4.0
    assert 0.055 <= v21_up - ced_off <= 0.095
    preamble = first_frame_t - v21_up - hdlc_bits(first.frame) / 300
    assert 0.85 <= preamble <= 1.15
    assert tester.names()[:2] == ["CSI", "DIS"]


def test_v21_frame_time_follows_300_bit_per_second() -> None:
    pair = StationPair()
    tester = LineTester(pair)
    tester.modem.receive("V.21")
    tester.line.dial(ANSWERER)
    pair.run(30 * SECOND, until=lambda: len(tester.frames_heard()) >= 2)
    (t_csi, csi), (t_dis, dis) = [(t, e) for t, e in tester.heard if isinstance(e, FrameReceived)][
        :2
    ]
    assert t_dis - t_csi == pytest.approx(hdlc_bits(dis.frame) / 300, abs=1e-6)
    # a byte takes 26.7 ms; a frame also carries its FCS and a closing flag
    assert hdlc_bits(dis.frame) >= (len(dis.frame) + 3) * 8
