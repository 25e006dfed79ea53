"""The T.30 session as a protocol core: events in, commands out, no modem and no clock."""

from __future__ import annotations

import pytest

from estudio190f.firmware.page import Page
from estudio190f.firmware.t30.capabilities import Capabilities, DcsParams
from estudio190f.firmware.t30.events import (
    CarrierEnded,
    CarrierStarted,
    DataIn,
    FrameIn,
    Hangup,
    Listen,
    Notify,
    SendData,
    SendFrames,
    SendSilence,
    SendTone,
    StartCng,
    StartTimer,
    StopTimer,
    TimerExpired,
)
from estudio190f.firmware.t30.frames import encode_ident, make_frame, parse_frame
from estudio190f.firmware.t30.session import StationConfig, T30Session
from estudio190f.firmware.t30.states import DCN_STATUS


def sent_frames(commands: list) -> list[str]:
    return [parse_frame(f).name for c in commands if isinstance(c, SendFrames) for f in c.frames]


def dis_frames(**caps: object) -> list[FrameIn]:
    fif = Capabilities(**caps).encode()  # type: ignore[arg-type]
    return [
        FrameIn(make_frame("CSI", encode_ident("5559876"), final=False)),
        FrameIn(make_frame("DIS", fif)),
    ]


def caller(**config: object) -> T30Session:
    page = Page.blank(100, resolution="fine")
    return T30Session("caller", StationConfig(ident="5551234", **config), [page])  # type: ignore[arg-type]


def feed(session: T30Session, events: list) -> list:
    out: list = []
    for event in events:
        out += session.handle(event)
    return out


def test_answerer_opens_with_ced_then_csi_and_dis() -> None:
    session = T30Session("answerer", StationConfig(ident="5559876"))
    out = session.start()
    tone = next(c for c in out if isinstance(c, SendTone))
    assert (tone.tone, tone.duration) == ("ced", 3_000_000)
    silences = [c.duration for c in out if isinstance(c, SendSilence)]
    assert silences == [200_000, 75_000]
    assert sent_frames(out) == ["CSI", "DIS"]
    assert session.state == "r_dis_sent" and session.phase == "B"
    assert StartTimer("T1", 35_000_000) in out and StartTimer("T4", 3_000_000) in out
    # T1 starts with phase B: after CED, before the DIS
    assert out.index(tone) < out.index(StartTimer("T1", 35_000_000))


def test_caller_sends_cng_and_waits_for_dis_under_t0_until_v21_starts_t1() -> None:
    session = caller()
    out = session.start(t0_left=55_000_000)
    assert StartCng() in out and Listen(("V.21",)) in out and StartTimer("T0", 55_000_000) in out
    assert session.state == "calling" and session.phase == "A"
    out = session.handle(CarrierStarted("V.21"))
    assert StopTimer("T0") in out and StartTimer("T1", 35_000_000) in out
    assert session.state == "t_wait_dis" and session.phase == "B"


def test_a_caller_that_hears_no_fax_signal_within_t0_ends_no_answer() -> None:
    session = caller()
    session.start()
    out = session.handle(TimerExpired("T0"))
    assert sent_frames(out) == [] and out[-1] == Hangup()
    assert session.outcome is not None and session.outcome.status == "NO_ANSWER"


def test_dis_brings_tsi_dcs_and_tcf_at_the_best_common_speed() -> None:
    session = caller(ecm=False)
    session.start()
    out = feed(
        session, dis_frames(modulations=("V.29/9600", "V.29/7200", "V.27ter/4800", "V.27ter/2400"))
    )
    assert sent_frames(out) == ["TSI", "DCS"]
    dcs = next(
        parse_frame(f)
        for c in out
        if isinstance(c, SendFrames)
        for f in c.frames
        if f[2] & 0xFE == 0x82
    )
    assert dcs.x == 1  # we received the DIS
    assert DcsParams.decode(dcs.fif).modulation == "V.29/9600"
    tcf = next(c for c in out if isinstance(c, SendData))
    assert (tcf.modulation, len(tcf.data), set(tcf.data)) == ("V.29/9600", 1800, {0})
    assert session.state == "t_dcs_sent"


def test_a_frame_a_state_does_not_expect_changes_nothing() -> None:
    session = caller()
    session.start()
    assert feed(session, [FrameIn(make_frame("MCF"))]) == []
    assert session.state == "calling"


def test_dcs_goes_three_times_then_dcn() -> None:
    session = caller()
    session.start()
    feed(session, dis_frames())
    out2 = session.handle(TimerExpired("T4"))
    out3 = session.handle(TimerExpired("T4"))
    assert sent_frames(out2) == sent_frames(out3) == ["TSI", "DCS"]
    last = session.handle(TimerExpired("T4"))
    assert sent_frames(last) == ["DCN"] and last[-1] == Hangup()
    assert session.outcome is not None and session.outcome.code == "404"
    assert session.handle(TimerExpired("T4")) == []  # finished: nothing more


def test_tcf_is_judged_and_answered() -> None:
    session = T30Session("answerer", StationConfig(ident="5559876"))
    session.start()
    dcs = DcsParams("V.27ter/4800", "standard", "mh", min_scan_ms=0).encode()
    out = feed(session, [FrameIn(make_frame("DCS", dcs))])
    assert Listen(("V.27ter/4800", "V.21")) in out and session.state == "r_tcf"
    good = feed(
        session,
        [
            CarrierStarted("V.27ter/4800"),
            DataIn(bytes(900), "V.27ter/4800"),
            CarrierEnded("V.27ter/4800"),
        ],
    )
    assert sent_frames(good) == ["CFR"] and session.state == "r_wait_page"
    feed(session, [FrameIn(make_frame("DCS", dcs))])
    bad = feed(
        session,
        [
            CarrierStarted("V.27ter/4800"),
            DataIn(b"\x55" * 900, "V.27ter/4800"),
            CarrierEnded("V.27ter/4800"),
        ],
    )
    assert sent_frames(bad) == ["FTT"] and session.state == "r_wait_cmd"


def test_progress_notifications_come_in_air_time_order() -> None:
    session = caller(ecm=False)
    session.start()
    feed(session, dis_frames())
    out = session.handle(FrameIn(make_frame("CFR")))
    kinds = [c.kind if isinstance(c, Notify) else type(c).__name__ for c in out]
    assert kinds.index("page_start") < kinds.index("SendData") < kinds.index("page_sent")
    assert sent_frames(out) == ["EOP"] and session.state == "t_post_sent"


@pytest.mark.parametrize("state,status", sorted(DCN_STATUS.items()))
def test_dcn_ends_the_call_with_the_status_for_its_state(state: str, status: str) -> None:
    session = caller()
    session.start()
    session.state = state
    session.handle(FrameIn(make_frame("DCN")))
    assert session.outcome is not None
    assert session.outcome.status == ("OK" if status == "END" else status)


@pytest.mark.parametrize(
    "bad_lines,response,kept",
    [(0, "MCF", 1), (40, "MCF", 1), (100, "RTP", 1), (200, "RTN", 0)],
)
def test_receiver_answers_from_the_line_error_figures(
    monkeypatch: pytest.MonkeyPatch, bad_lines: int, response: str, kept: int
) -> None:
    from estudio190f.firmware.t30 import image

    def decode(data: bytes, params: DcsParams) -> tuple[Page, image.PageQuality]:
        return Page.blank(1000), image.PageQuality(1000, bad_lines, min(bad_lines, 3), True)

    monkeypatch.setattr(image, "decode_page", decode)
    session = T30Session("answerer", StationConfig(ident="5559876"))
    session.start()
    dcs = DcsParams("V.27ter/4800", "standard", "mh", min_scan_ms=0).encode()
    mod = "V.27ter/4800"
    feed(
        session,
        [
            FrameIn(make_frame("DCS", dcs)),
            CarrierStarted(mod),
            DataIn(bytes(900), mod),
            CarrierEnded(mod),
        ],
    )
    feed(session, [CarrierStarted(mod), DataIn(b"\x01" * 50, mod), CarrierEnded(mod)])
    out = session.handle(FrameIn(make_frame("MPS")))
    assert sent_frames(out) == [response]
    assert session.report.pages_received == kept
    # the same MPS again (our answer was lost): the same answer, the page not kept twice
    again = session.handle(FrameIn(make_frame("MPS")))
    assert sent_frames(again) == [response] and session.report.pages_received == kept


def ecm_receiver() -> tuple[T30Session, list, str]:
    """An answerer that has trained for ECM at V.27ter 4800 (64-octet frames), and the frames of
    a small page: FCD frames numbered 0.."""
    import numpy as np

    from estudio190f.firmware import codec

    session = T30Session("answerer", StationConfig(ident="5559876"))
    session.start()
    mod = "V.27ter/4800"
    dcs = DcsParams(mod, "standard", "mh", min_scan_ms=0, ecm=True, frame_size=64).encode()
    feed(session, [FrameIn(make_frame("DCS", dcs, x=1)), CarrierStarted(mod)])
    feed(session, [DataIn(bytes(900), mod), CarrierEnded(mod)])
    assert session.state == "r_wait_page"
    data = bytes(codec.encode(np.zeros((40, 1728), dtype=bool), "mh", rtc=True))
    chunks = [data[i : i + 64] for i in range(0, len(data), 64)]
    fcd = [FrameIn(make_frame("FCD", bytes((n,)) + c, final=False), True, mod) for n, c in
           enumerate(chunks)]  # fmt: skip
    return session, fcd, mod


def block(session: T30Session, fcd: list, mod: str, skip: int | None = None) -> None:
    feed(session, [CarrierStarted(mod), *[f for n, f in enumerate(fcd) if n != skip]])
    feed(session, [CarrierEnded(mod)])


def test_err_to_eor_eop_goes_back_to_phase_c_and_dcn_there_keeps_the_page_with_holes() -> None:
    """ERR acknowledges EOR without confirming the block: the receiver is back in phase C (the
    sender may send the block anew), so the DCN that follows is a DCN while waiting for data."""
    from estudio190f.firmware.t30.frames import eor_fif, pps_fif

    session, fcd, mod = ecm_receiver()
    block(session, fcd, mod, skip=1)
    out = session.handle(FrameIn(make_frame("PPS", pps_fif("EOP", 0, 0, len(fcd), 1), x=1)))
    assert sent_frames(out) == ["PPR"]
    out = session.handle(FrameIn(make_frame("EOR", eor_fif("EOP", 1), x=1)))
    assert sent_frames(out) == ["ERR"] and session.state == "r_wait_page"
    assert session.report.pages_received == 0  # held: the sender may still send it anew
    session.handle(FrameIn(make_frame("DCN", x=1)))
    assert session.outcome is not None and session.outcome.status == "RX_DCNDATA"
    assert session.report.pages_received == 1
    [kept] = session.sink.pages  # type: ignore[attr-defined]
    assert kept.verdict == "poor"  # the given-up block left a hole


def test_a_page_sent_anew_after_err_replaces_the_held_one() -> None:
    from estudio190f.firmware.t30.frames import eor_fif, pps_fif

    session, fcd, mod = ecm_receiver()
    block(session, fcd, mod, skip=1)
    session.handle(FrameIn(make_frame("PPS", pps_fif("EOP", 0, 0, len(fcd), 1), x=1)))
    session.handle(FrameIn(make_frame("EOR", eor_fif("EOP", 1), x=1)))
    block(session, fcd, mod)  # the same page, whole, with the same counters
    out = session.handle(FrameIn(make_frame("PPS", pps_fif("EOP", 0, 0, len(fcd), 1), x=1)))
    assert sent_frames(out) == ["MCF"] and session.state == "r_wait_dcn"
    [kept] = session.sink.pages  # type: ignore[attr-defined]
    assert kept.verdict == "good" and kept.page is not None


def test_a_frame_with_a_t30_header_and_no_t30_fcf_is_ignored_and_counted() -> None:
    session = caller()
    session.start()
    out = feed(session, [FrameIn(bytes((0xFF, 0x03, 0x00))), *dis_frames()])
    assert sent_frames(out) == ["TSI", "DCS"]
    assert session.report.unknown_frames == 1
