"""T.30 paths a real call can take: fallback, RTN, timers, repeats, CRP, garbage, ECM recovery,
flow control, polling and passwords. A `LineTester` plays the far end frame by frame where the
path needs a misbehaving peer."""

from __future__ import annotations

import numpy as np
import pytest

from call.pair import (
    ANSWERER,
    CALLER,
    TESTER,
    LineTester,
    StationPair,
    answer_after,
    chart_page,
    on_frames,
    text_page,
)
from estudio190f.firmware.fax_call import CallProgress, FaxCall, PageStore
from estudio190f.firmware.t30.capabilities import FALLBACK, Capabilities, DcsParams
from estudio190f.firmware.t30.frames import encode_ident
from estudio190f.firmware.t30.session import StationConfig
from estudio190f.hw.clock import SECOND
from estudio190f.hw.eventlog import EventLog
from estudio190f.hw.line import LineEvent
from estudio190f.hw.modem import CarrierDown

GAP = 75_000

DIS = LineTester.frame(
    "DIS", Capabilities(modulations=("V.27ter/4800", "V.27ter/2400"), min_scan_ms=0).encode()
)
CFR = LineTester.frame("CFR")
MCF = LineTester.frame("MCF")
RTN = LineTester.frame("RTN")


def dcs_info(board) -> list[str]:
    return [e["info"] for e in StationPair.events(board, "t30", "send") if e["frame"] == "DCS"]


# -- fallback and retraining --------------------------------------------------------------------------
def test_noise_makes_the_sender_fall_back_step_by_step_to_2400() -> None:
    pair = StationPair(caller=StationConfig(ident=CALLER, ecm=False))
    noisy = {m: 1e-2 for m in FALLBACK if m != "V.27ter/2400"}
    pair.b.line.impair(ber=noisy)
    page = chart_page(2, "standard")
    result = pair.send([page])
    assert result.ok and result.speed == "V.27ter 2400"
    tried = [info.split(",")[0] for info in dcs_info(pair.a)]
    assert tried == [m.replace("/", " ") for m in FALLBACK]
    assert StationPair.frames(pair.b, "send").count("FTT") == 7
    [got] = pair.rx.received
    assert got.page is not None and np.array_equal(got.page.pixels, page.pixels)


def test_ftt_at_2400_ends_with_405() -> None:
    pair = StationPair()
    pair.b.line.impair(ber=1e-2)
    result = pair.send([text_page()])
    assert (result.outcome.status, result.code, result.lcd) == (
        "CANNOT_TRAIN",
        "405",
        "COMM. ERROR",
    )


def test_line_noise_fault_costs_speed_but_the_fax_goes_through() -> None:
    pair = StationPair(caller=StationConfig(ident=CALLER, ecm=False))
    pair.a.faults.set("line.noise")
    result = pair.send([chart_page(1, "standard")])
    assert result.ok
    assert result.params is not None and result.params.rate <= 9600
    assert "FTT" in StationPair.frames(pair.b, "send")


def test_line_that_cannot_carry_the_top_speed() -> None:
    pair = StationPair()
    pair.a.line.impair(max_rate=9600)
    result = pair.send([text_page()])
    assert result.ok and result.params is not None and result.params.rate == 9600


def test_rtn_makes_the_sender_retrain_slower_and_send_the_page_again() -> None:
    pair = StationPair(caller=StationConfig(ident=CALLER, ecm=False, coding="mh"))
    page = chart_page(1, "fine")

    def noise_from_first_page(progress: CallProgress) -> None:
        if progress.page == 1 and not pair.b.line.impairments.ber:
            pair.b.line.impair(ber={"V.17/14400": 3e-3})

    result = pair.send([page], on_progress=noise_from_first_page)
    assert result.ok and result.speed == "V.17 12000"
    assert StationPair.frames(pair.a, "send") == ["TSI", "DCS", "EOP", "TSI", "DCS", "EOP", "DCN"]
    assert StationPair.frames(pair.b, "send") == ["CSI", "DIS", "CFR", "RTN", "CFR", "MCF"]
    [got] = pair.rx.received  # the refused copy was not kept: one page, not two
    assert got.page is not None and np.array_equal(got.page.pixels, page.pixels)


def receiver_tester(
    pair: StationPair, post_response: bytes | None, *, cfr: bytes = CFR
) -> LineTester:
    """A tester that answers, sends CED + DIS (V.27ter), says `cfr` when the TCF after a DCS has
    ended (nothing when empty) and answers every post-message command with `post_response`
    (None: stays silent)."""
    tester = LineTester(pair)
    answer_after(tester)
    listen = ("V.21", "V.27ter/4800", "V.27ter/2400")
    seen = {"dcs": False}

    def on_line(event) -> None:
        if event.kind == "connected":
            tester.modem.send_silence(200_000)
            tester.modem.send_tone("ced")
            tester.modem.send_silence(GAP)
            tester.modem.send_hdlc(
                [LineTester.frame("CSI", encode_ident(TESTER), final=False), DIS]
            )
            tester.modem.receive(*listen)

    def on_event(event) -> None:
        if isinstance(event, CarrierDown) and event.modulation != "V.21" and seen["dcs"]:
            seen["dcs"] = False
            if cfr:
                tester.modem.send_silence(GAP)
                tester.modem.send_hdlc([cfr])
                tester.modem.receive(*listen)

    def on_frame(name: str, frame: bytes) -> None:
        if name == "DCS":
            seen["dcs"] = True
        elif name in ("MPS", "EOP", "EOM") and post_response is not None:
            tester.modem.send_silence(GAP)
            tester.modem.send_hdlc([post_response])
            tester.modem.receive(*listen)

    tester.line.listeners.add(on_line)
    tester.modem.listeners.add(on_event)
    on_frames(tester, on_frame)
    return tester


def test_rtn_every_time_gives_up_after_three_sends_with_408() -> None:
    pair = StationPair(caller=StationConfig(ident=CALLER, ecm=False))
    tester = receiver_tester(pair, RTN)
    result = pair.send([text_page()], number=TESTER)
    # V.27ter 4800 then 2400 (RTN steps down); at 2400 Panasonic's meaning is 405
    assert result.outcome.status in ("RETRYDCN", "CANNOT_TRAIN")
    assert result.code in ("408", "405")
    assert tester.names().count("EOP") == 3
    assert result.pages_confirmed == []


# -- timers and repeats -------------------------------------------------------------------------------
def test_an_answering_end_that_is_not_a_fax_ends_no_answer_when_t0_runs_out() -> None:
    """T0 runs from the end of dialling until a fax signal (T.30: T1 starts only on the far
    end's V.21): a line answered by a voice or a modem that never speaks fax ends NO ANSWER."""
    pair = StationPair()
    tester = LineTester(pair)
    answer_after(tester)  # it answers and says nothing
    result = pair.send([text_page()], number=TESTER)
    assert (result.outcome.status, result.lcd) == ("NO_ANSWER", "NO ANSWER")
    dialled = StationPair.at(StationPair.events(pair.a, "line", "dialed")[0])
    timeout = [e for e in StationPair.events(pair.a, "t30", "timeout") if e["timer"] == "T0"]
    assert StationPair.at(timeout[0]) - dialled == pytest.approx(60.0)
    assert StationPair.frames(pair.a, "send") == []  # no fax far end: no DCN


def test_t1_expires_when_the_far_end_speaks_v21_but_never_sends_dis() -> None:
    pair = StationPair()
    tester = LineTester(pair)
    answer_after(tester)
    flags_at: list[float] = []

    def on_line(event: LineEvent) -> None:
        if event.kind == "connected" or event.kind == "answered":
            tester.modem.send_silence(5 * SECOND)
            flags_at.append(pair.clock.now / SECOND + 5.0)
            tester.modem.send_hdlc([LineTester.frame("CSI", encode_ident(TESTER))])

    tester.line.listeners.add(on_line)
    result = pair.send([text_page()], number=TESTER)
    assert (result.outcome.status, result.code) == ("T1_EXPIRED", "403")
    timeout = [e for e in StationPair.events(pair.a, "t30", "timeout") if e["timer"] == "T1"]
    assert StationPair.at(timeout[0]) - flags_at[0] == pytest.approx(35.0)


def test_dcs_is_sent_three_times_then_404() -> None:
    pair = StationPair()
    tester = receiver_tester(pair, MCF, cfr=b"")  # never answers DCS
    result = pair.send([text_page()], number=TESTER)
    assert (result.outcome.status, result.code) == ("TX_PHBDEAD", "404")
    heard = [(t, n) for t, n, _ in tester.frames_heard() if n == "DCS"]
    assert len(heard) == 3
    # T4: each repeat goes 3 s after the TCF ended (+ 75 ms, TSI/DCS and training again)
    gaps = [b[0] - a[0] for a, b in zip(heard, heard[1:], strict=False)]
    assert all(g == pytest.approx(gaps[0]) for g in gaps)
    assert 3.0 + 1.5 < gaps[0] < 3.0 + 1.5 + 3.0


def test_no_answer_to_the_post_message_command_after_three_tries_is_407() -> None:
    pair = StationPair(caller=StationConfig(ident=CALLER, ecm=False))
    tester = receiver_tester(pair, None)
    result = pair.send([text_page()], number=TESTER)
    assert (result.outcome.status, result.code) == ("TX_PHDDEAD", "407")
    assert tester.names().count("EOP") == 3


def test_receiver_t2_expires_without_a_page() -> None:
    pair = StationPair()
    tester = LineTester(pair)
    tester.modem.receive("V.21")

    def play(name: str, frame: bytes) -> None:
        if name == "DIS":
            dcs = DcsParams("V.27ter/4800", "standard", "mh", min_scan_ms=0).encode()
            tester.modem.send_silence(GAP)
            tester.modem.send_hdlc(
                [LineTester.frame("TSI", encode_ident(TESTER), False), LineTester.frame("DCS", dcs)]
            )
            tester.modem.send_silence(GAP)
            tester.modem.send_data(bytes(900), "V.27ter/4800")
            tester.modem.receive("V.21")
        # after CFR: silence; the receiver's T2 runs out

    on_frames(tester, play)
    tester.line.dial(ANSWERER)
    pair.run(120 * SECOND, until=lambda: pair.rx_call is not None and pair.rx_call.done)
    assert pair.rx_call is not None and pair.rx.outcome.status == "RX_T2EXPFAX"
    assert pair.rx.code == "412"
    assert tester.names()[-2:] == ["CFR", "DCN"]


# -- garbled frames ----------------------------------------------------------------------------------
def caller_tester(
    pair: StationPair, *, bad_first_dcs: bool = False, garbage: bool = False
) -> LineTester:
    """A tester that calls B and sends one white page at V.27ter 4800 (non-ECM)."""
    tester = LineTester(pair)
    tester.modem.receive("V.21")
    dcs = LineTester.frame(
        "DCS", DcsParams("V.27ter/4800", "standard", "mh", min_scan_ms=0).encode()
    )
    tsi = LineTester.frame("TSI", encode_ident(TESTER), final=False)
    sent = {"dcs": 0}

    def send_dcs(bad: bool) -> None:
        sent["dcs"] += 1
        tester.modem.send_silence(GAP)
        if garbage:
            tester.modem.send_hdlc([b"\x12\x34\x56\x78"])  # not T.30: wrong address and control
        else:
            tester.modem.send_hdlc([tsi, dcs], bad_fcs=[1] if bad else [])
        if not bad and not garbage:
            tester.modem.send_silence(GAP)
            tester.modem.send_data(bytes(900), "V.27ter/4800")
        tester.modem.receive("V.21")

    def play(name: str, frame: bytes) -> None:
        nonlocal garbage
        if name == "DIS" and sent["dcs"] == 0:
            send_dcs(bad_first_dcs)
        elif name == "DIS" and garbage:
            garbage = False  # the garbage went unanswered: a real DCS on the repeated DIS
            send_dcs(False)
        elif name == "CRP":
            garbage = False
            send_dcs(False)
        elif name == "CFR":
            from estudio190f.firmware import codec

            data = codec.encode(np.zeros((100, 1728), dtype=bool), "mh", rtc=True)
            tester.modem.send_silence(GAP)
            tester.modem.send_data(data, "V.27ter/4800")
            tester.modem.send_silence(GAP)
            tester.modem.send_hdlc([LineTester.frame("EOP")])
            tester.modem.receive("V.21")
        elif name == "MCF":
            tester.modem.send_silence(GAP)
            tester.modem.send_hdlc([LineTester.frame("DCN")])
            tester.modem.send_silence(GAP)

    on_frames(tester, play)
    tester.line.dial(ANSWERER)
    return tester


def test_a_command_with_a_bad_fcs_is_answered_with_crp_and_then_goes_through() -> None:
    pair = StationPair()
    tester = caller_tester(pair, bad_first_dcs=True)
    pair.run(120 * SECOND, until=lambda: pair.rx_call is not None and pair.rx_call.done)
    assert pair.rx.ok and pair.rx.pages_done == 1
    assert tester.names()[:4] == ["CSI", "DIS", "CRP", "CFR"]
    bad = [e for e in StationPair.events(pair.b, "t30", "recv") if e.get("fcs") == "bad"]
    assert [e["frame"] for e in bad] == ["DCS"]


def test_a_frame_not_addressed_to_a_fax_is_ignored_and_dis_goes_again() -> None:
    """HDLC frames with another address and control (TSB85 MRGX10) are not T.30 frames: not a
    garbled command either, so no CRP; the called machine repeats DIS after T4."""
    pair = StationPair()
    tester = caller_tester(pair, garbage=True)
    pair.run(120 * SECOND, until=lambda: pair.rx_call is not None and pair.rx_call.done)
    assert pair.rx.ok
    assert "CRP" not in tester.names()
    assert tester.names()[:2] == ["CSI", "DIS"] and tester.names().count("DIS") == 2


def test_a_garbled_response_makes_the_sender_repeat_its_command() -> None:
    pair = StationPair(caller=StationConfig(ident=CALLER, ecm=False))
    tester = LineTester(pair)
    answer_after(tester)
    count = {"dcs": 0}

    def on_line(event) -> None:
        if event.kind == "connected":
            tester.modem.send_silence(GAP)
            tester.modem.send_hdlc([DIS])
            tester.modem.receive("V.21")

    def play(name: str, frame: bytes) -> None:
        if name == "DCS":
            count["dcs"] += 1
            tester.modem.send_silence(GAP + 708_000 + 1_500_000 + GAP)
            tester.modem.send_hdlc([CFR], bad_fcs=[0] if count["dcs"] == 1 else [])
        elif name == "EOP":
            tester.modem.send_silence(GAP)
            tester.modem.send_hdlc(
                [LineTester.frame("CRP")] if count.setdefault("eop", 0) == 0 else [MCF]
            )
            count["eop"] += 1

    tester.line.listeners.add(on_line)
    on_frames(tester, play)
    result = pair.send([text_page()], number=TESTER)
    assert result.ok, result.outcome
    assert tester.names().count("DCS") == 2  # the CFR with a bad FCS: DCS again at once
    assert tester.names().count("EOP") == 2  # CRP: EOP again


# -- ECM recovery and flow control -----------------------------------------------------------------------
def test_ecm_frames_lost_to_noise_are_asked_for_again_with_ppr() -> None:
    pair = StationPair()
    page = chart_page(3, "fine")

    def noise_after_training(progress: CallProgress) -> None:
        if progress.page == 1 and not pair.b.line.impairments.ber:
            pair.b.line.impair(ber={"V.17/14400": 2e-5})

    result = pair.send([page], on_progress=noise_after_training)
    assert result.ok
    assert "PPR" in StationPair.frames(pair.b, "send")
    [got] = pair.rx.received
    assert got.page is not None and np.array_equal(got.page.pixels, page.pixels)


def test_four_pprs_bring_ctc_and_a_slower_speed() -> None:
    pair = StationPair()
    page = chart_page(1, "fine")

    def noise_after_training(progress: CallProgress) -> None:
        if progress.page == 1 and not pair.b.line.impairments.ber:
            pair.b.line.impair(ber={"V.17/14400": 1e-3})

    result = pair.send([page], on_progress=noise_after_training)
    assert result.ok
    assert StationPair.frames(pair.b, "send").count("PPR") == 4
    assert "CTC" in StationPair.frames(pair.a, "send") and "CTR" in StationPair.frames(
        pair.b, "send"
    )
    assert result.speed == "V.17 12000"
    [got] = pair.rx.received
    assert got.page is not None and np.array_equal(got.page.pixels, page.pixels)


def test_a_busy_receiver_says_rnr_until_ready() -> None:
    store = PageStore()
    store.busy = True
    pair = StationPair(store=store)
    pair.clock.call_later(40 * SECOND, setattr, store, "busy", False)
    result = pair.send([text_page()])
    assert result.ok
    sent_b = StationPair.frames(pair.b, "send")
    assert sent_b.count("RNR") >= 2 and sent_b[-1] == "MCF"
    assert StationPair.frames(pair.a, "send").count("RR") == sent_b.count("RNR")


def test_a_receiver_never_ready_ends_with_t5() -> None:
    store = PageStore()
    store.busy = True
    pair = StationPair(store=store)
    result = pair.send([text_page()])
    assert (result.outcome.status, result.code) == ("TX_T5EXP", "415")


# -- polling and passwords ---------------------------------------------------------------------------
def test_polling_receives_the_far_end_document() -> None:
    pair = StationPair()
    page = chart_page(2, "fine")
    pair.polling_document = [page]
    result = pair.send([], poll=True)
    assert result.ok and result.direction == "poll" and result.pages_done == 1
    assert StationPair.frames(pair.a, "send")[:2] == ["CIG", "DTC"]
    assert StationPair.frames(pair.b, "send")[2:4] == ["TSI", "DCS"]
    [got] = result.received
    assert got.page is not None and np.array_equal(got.page.pixels, page.pixels)


def test_polling_a_machine_with_nothing_to_send_is_401() -> None:
    pair = StationPair()
    result = pair.send([], poll=True)
    assert (result.outcome.status, result.code) == ("NOPOLL", "401")


@pytest.mark.parametrize("password,ok", [("2468", True), ("9753", False)])
def test_receiver_checks_the_senders_password(password: str, ok: bool) -> None:
    pair = StationPair(
        caller=StationConfig(ident=CALLER, sender_password=password),
        answerer=StationConfig(ident=ANSWERER, required_password="2468"),
    )
    result = pair.send([text_page()])
    assert result.ok is ok
    if not ok:
        assert (result.code, pair.rx.outcome.status, pair.rx.code) == (
            "406",
            "PWD_UNACCEPTABLE",
            "406",
        )
    assert "SID" in StationPair.frames(pair.a, "send")
    logged = " ".join(EventLog.to_json(e) for b in (pair.a, pair.b) for e in b.log.events)
    assert password not in logged and encode_ident(password).hex(" ") not in logged


def test_a_station_that_cannot_receive_now_is_refused() -> None:
    pair = StationPair(answerer=StationConfig(ident=ANSWERER, receive=False))
    result = pair.send([text_page()])
    assert (result.outcome.status, result.code) == ("RX_INCAPABLE", "400")


def test_same_seed_same_call() -> None:
    def trace(seed: int) -> list[tuple[str, str, str]]:
        pair = StationPair(seed=seed)
        pair.a.faults.set("line.noise")
        pair.send([chart_page(1, "standard")])
        return [(e["t"], e["ev"], str(e.get("frame", ""))) for e in pair.a.log.events]

    assert trace(7) == trace(7)


def test_fax_call_answer_without_a_ring_ends_at_once() -> None:
    pair = StationPair(answer=False)
    call = FaxCall.answer(pair.b)
    assert call.done and call.result is not None and call.result.outcome.status == "CALLDROPPED"
