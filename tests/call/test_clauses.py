"""The places where TSB85's scripts and T.30 part ways, and the fixes T.30 asked for, pinned on a
real call: each test is one row of docs/conformance.md's "remaining failures" or "fixed" table."""

from __future__ import annotations

import numpy as np
import pytest

from call.pair import ANSWERER, CALLER, TESTER, LineTester, StationPair, chart_page, on_frames
from estudio190f.firmware.fax_call import CallProgress, PageStore
from estudio190f.firmware.page import Page
from estudio190f.firmware.t30.capabilities import DcsParams
from estudio190f.firmware.t30.frames import encode_ident
from estudio190f.firmware.t30.station import StationConfig
from estudio190f.firmware.t30.timing import PREAMBLE, T1, T2, T4, T5
from estudio190f.hw.clock import SECOND
from estudio190f.panel.conformance_pages import document, page_data

GAP = 75_000


def sent(board, name: str) -> list[float]:
    return [
        StationPair.at(e) for e in StationPair.events(board, "t30", "send") if e["frame"] == name
    ]


# -- T1 (MRGX01) -----------------------------------------------------------------------------------
def test_the_called_machine_repeats_dis_until_t1_then_disconnects() -> None:
    """T.30's T1 is how long two terminals go on trying to identify each other: a caller that
    never answers the DIS gets it every T4 (plus the DIS's own air time) until T1, then DCN."""
    pair = StationPair()
    tester = LineTester(pair)
    tester.modem.receive("V.21")
    tester.line.dial(ANSWERER)
    pair.run(120 * SECOND, until=lambda: pair.rx_call is not None and pair.rx_call.done)
    assert (pair.rx.outcome.status, pair.rx.code) == ("T1_EXPIRED", "403")
    dis = sent(pair.b, "DIS")
    ced_end = StationPair.at(StationPair.events(pair.b, "t30", "connected")[0]) + 0.2 + 3.0
    repeat = dis[1] - dis[0]
    assert repeat == pytest.approx(T4 / SECOND + PREAMBLE / SECOND + 0.6, abs=0.6)
    assert len(dis) == 1 + int((T1 / SECOND - (dis[0] - ced_end)) // repeat)
    assert len(dis) > 3  # not SpanDSP's three
    [dcn] = sent(pair.b, "DCN")
    # T1 starts after CED and its 75 ms gap; DCN goes 75 ms after T1 runs out
    assert dcn - ced_end == pytest.approx(T1 / SECOND + 0.15, abs=0.01)


# -- T0 and T1 for the caller (MTGX02) --------------------------------------------------------------
def test_a_far_end_whose_dis_comes_40_s_after_the_answer_is_still_waited_for() -> None:
    """T1 starts on the far end's first V.21 signal (operating method 4); until then T0 (60 s
    from dialling) runs. A DIS 40 s after the answer is within T0, so the machine sends."""
    pair = StationPair(caller=StationConfig(ident=CALLER, ecm=False))
    answered: list[float] = []
    pair.b.line.listeners.add(
        lambda e: answered.append(pair.clock.now / SECOND) if e.kind == "connected" else None
    )
    pair.answerer_config.behaviour = pair.answerer_config.behaviour.but(answer_delay=40 * SECOND)
    result = pair.send([chart_page(1, "standard")])
    assert result.ok
    first_dis = [StationPair.at(e) for e in StationPair.events(pair.a, "t30", "recv")][0]
    assert first_dis - answered[0] > 40.0


# -- RTN (MTGN26, MTGN28) --------------------------------------------------------------------------
def test_rtn_to_eom_waits_for_the_new_dis_then_sends_the_refused_page_again() -> None:
    """EOM returns to the beginning of phase B whatever the answer: after RTN the sender says
    nothing until the receiver's DIS (T2 later), then retrains one step slower and sends the
    refused page again."""
    pair = StationPair(caller=StationConfig(ident=CALLER, ecm=False, coding="mh"))
    pages = [chart_page(1, "fine"), chart_page(2, "standard")]  # another resolution: EOM

    def noise_on_the_first_page(progress: CallProgress) -> None:
        if progress.page == 1 and not pair.b.line.impairments.ber:
            pair.b.line.impair(ber={"V.17/14400": 3e-3})

    result = pair.send(pages, on_progress=noise_on_the_first_page)
    assert result.ok and result.pages_confirmed == [1, 2]
    a_sent = StationPair.frames(pair.a, "send")
    assert a_sent[:3] == ["TSI", "DCS", "EOM"]
    assert StationPair.frames(pair.b, "send")[:5] == ["CSI", "DIS", "CFR", "RTN", "CSI"]
    rtn = sent(pair.b, "RTN")[0]
    second_dis = sent(pair.b, "DIS")[1]
    second_dcs = sent(pair.a, "DCS")[1]
    # T2 from the end of RTN (its preamble and frame) to the new CSI and DIS
    assert second_dis - rtn == pytest.approx(PREAMBLE / SECOND + 0.167 + T2 / SECOND, abs=0.01)
    assert second_dis < second_dcs  # nothing from the sender in between
    assert dcs_speed(pair, 1) == "V.17 12000"  # one step below the refused 14400
    assert [p.page is not None for p in pair.rx.received] == [True, True]  # no copy kept twice


def dcs_speed(pair: StationPair, index: int) -> str:
    infos = [e["info"] for e in StationPair.events(pair.a, "t30", "send") if e["frame"] == "DCS"]
    return infos[index].split(",")[0]


# (RTN to EOP, MTGN28: test_protocol.py's test_rtn_makes_the_sender_retrain_slower_and_send_the
# _page_again pins the retraining and the second send.)


# -- T5 (OTEN03) ------------------------------------------------------------------------------------
def test_t5_ends_the_rr_rounds_60_s_after_the_first_rnr() -> None:
    """T5 (60 s) from the first RNR: RR goes out while it runs, then DCN (TX_T5EXP). The number
    of RR is what fits in 60 s at 1 s preambles, the arithmetic docs/conformance.md gives."""
    store = PageStore()
    store.busy = True
    pair = StationPair(store=store)
    result = pair.send([chart_page(1, "fine")])
    assert (result.outcome.status, result.code) == ("TX_T5EXP", "415")
    first_rnr = [StationPair.at(e) for e in StationPair.events(pair.a, "t30", "recv")
                 if e["frame"] == "RNR"][0]  # fmt: skip
    [t5] = [StationPair.at(e) for e in StationPair.events(pair.a, "t30", "timeout")
            if e["timer"] == "T5"]  # fmt: skip
    assert t5 - first_rnr == pytest.approx(T5 / SECOND, abs=0.1)
    rr = sent(pair.a, "RR")
    rounds = np.diff(rr)
    assert np.allclose(rounds, rounds[0])
    assert len(rr) == 1 + int((t5 - rr[0]) // rounds[0])


# -- T.4's 5 s line (MRGN03) ----------------------------------------------------------------------
def long_line_caller(pair: StationPair, page_name: str) -> LineTester:
    """A tester that calls B and sends one page at V.27ter 4800, as TSB85's MRGN03 does."""
    tester = LineTester(pair)
    tester.modem.receive("V.21")
    dcs = DcsParams("V.27ter/4800", "standard", "mh", min_scan_ms=0).encode()

    def play(name: str, frame: bytes) -> None:
        if name == "DIS":
            tester.modem.send_silence(GAP)
            tester.modem.send_hdlc([LineTester.frame("TSI", encode_ident(TESTER), False),
                                    LineTester.frame("DCS", dcs)])  # fmt: skip
            tester.modem.send_silence(GAP)
            tester.modem.send_data(bytes(900), "V.27ter/4800")
            tester.modem.receive("V.21")
        elif name == "CFR":
            data = page_data(document(page_name)[0], rate=4800)
            tester.modem.send_silence(GAP)
            tester.modem.send_data(data, "V.27ter/4800")
            tester.modem.send_silence(GAP)
            tester.modem.send_hdlc([LineTester.frame("EOP")])
            tester.modem.receive("V.21")
        elif name == "MCF":
            tester.modem.send_silence(GAP)
            tester.modem.send_hdlc([LineTester.frame("DCN")])

    on_frames(tester, play)
    tester.line.dial(ANSWERER)
    return tester


def test_a_coded_line_of_4_9_s_is_taken() -> None:
    pair = StationPair()
    long_line_caller(pair, "duration1")
    pair.run(200 * SECOND, until=lambda: pair.rx_call is not None and pair.rx_call.done)
    assert pair.rx.ok and len(pair.rx.received) == 1


def test_a_coded_line_over_5_s_makes_the_receiver_disconnect_the_line() -> None:
    """T.4 4.1.3: a coded scan line may take at most 5 s; beyond it the receiver must disconnect
    the line. It does so while the line is still arriving (the sender could not hear a DCN)."""
    pair = StationPair()
    long_line_caller(pair, "duration2")
    pair.run(200 * SECOND, until=lambda: pair.rx_call is not None and pair.rx_call.done)
    assert (pair.rx.outcome.status, pair.rx.code) == ("RX_LINE_TOO_LONG", "412")
    assert pair.rx.received == []
    page_start = [StationPair.at(e) for e in StationPair.events(pair.b, "t30", "carrier")
                  if e["up"]][1]  # fmt: skip
    hung_up = StationPair.at(StationPair.events(pair.b, "fax", "result")[0])
    page_air_time = len(page_data(document("duration2")[0], rate=4800)) * 8 / 4800
    assert 5.0 < hung_up - page_start < page_air_time  # in the middle of the page
    assert "DCN" not in StationPair.frames(pair.b, "send")


# -- frames with no T.30 FCF (MRGX10, MTGX18) --------------------------------------------------------
def test_frames_with_an_unknown_fcf_are_ignored_and_counted() -> None:
    pair = StationPair()
    tester = LineTester(pair)
    tester.modem.receive("V.21")
    dcs = DcsParams("V.27ter/4800", "standard", "mh", min_scan_ms=0).encode()
    unknown = bytes((0xFF, 0x03, 0x00))  # FF C0 00: a T.30 header, no T.30 FCF, not final

    def play(name: str, frame: bytes) -> None:
        if name == "DIS":
            tester.modem.send_silence(GAP)
            tester.modem.send_hdlc([unknown, LineTester.frame("DCS", dcs)])
            tester.modem.send_silence(GAP)
            tester.modem.send_data(bytes(900), "V.27ter/4800")
            tester.modem.receive("V.21")
        elif name == "CFR":
            tester.modem.send_silence(GAP)
            tester.modem.send_data(page_data(document("white")[0]), "V.27ter/4800")
            tester.modem.send_silence(GAP)
            tester.modem.send_hdlc([LineTester.frame("EOP")])
            tester.modem.receive("V.21")
        elif name == "MCF":
            tester.modem.send_silence(GAP)
            tester.modem.send_hdlc([LineTester.frame("DCN")])

    on_frames(tester, play)
    tester.line.dial(ANSWERER)
    pair.run(200 * SECOND, until=lambda: pair.rx_call is not None and pair.rx_call.done)
    assert pair.rx.ok and len(pair.rx.received) == 1
    assert pair.rx_call is not None and pair.rx_call.session.report.unknown_frames == 1


def test_an_answerer_that_is_silent_for_long_is_not_a_t1_problem() -> None:
    """The caller's T1 does not start at the answer: 30 s of silence before CED is within T0."""
    pair = StationPair(caller=StationConfig(ident=CALLER, ecm=False))
    pair.answerer_config.behaviour = pair.answerer_config.behaviour.but(answer_delay=30 * SECOND)
    assert pair.send([Page.blank(200, resolution="standard")]).ok
