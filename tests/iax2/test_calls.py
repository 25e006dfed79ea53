"""Calls between two IAX2 endpoints back to back in virtual time: set-up and tear-down in both
roles, authentication, codecs, voice, reliable delivery (acknowledgements, retransmission with
back-off, giving up, duplicates, VNAK, INVAL), PING/PONG and LAGRQ/LAGRP."""

from __future__ import annotations

import numpy as np
import pytest

from estudio190f.hw.clock import MS, SECOND
from estudio190f.hw.iax2 import (
    CALL_TRANSITIONS,
    LINGER,
    PING_INTERVAL,
    AudioReceived,
    CallAccepted,
    CallAnswered,
    CallEnded,
    CallRinging,
    CallState,
    Iax2Endpoint,
    Iax2Error,
    IncomingCall,
    LagReply,
    PingReply,
    Role,
)
from estudio190f.hw.iax2_frames import Command, Format, FrameType, FullFrame, MiniFrame

from .pair import B, EndpointPair

TONE = (8000 * np.sin(2 * np.pi * 1100 * np.arange(160) / 8000)).astype(np.int16)


def placed_call(pair: EndpointPair, **kwargs: object) -> tuple[int, int]:
    """A calls 5551234 at B; returns (A's call, B's call) once B has the offer."""
    a_call = pair.a.call(B, "5551234", pair.now, calling_number="5550100", calling_name="IAX",
                         **kwargs)  # type: ignore[arg-type]  # fmt: skip
    pair.pump()
    offers = pair.of("b", IncomingCall)
    assert offers, pair.names()
    return a_call, offers[-1].call


def answered_call(pair: EndpointPair, **kwargs: object) -> tuple[int, int]:
    a_call, b_call = placed_call(pair, **kwargs)
    pair.b.accept(b_call, pair.now)
    pair.b.ring(b_call, pair.now)
    pair.b.answer(b_call, pair.now)
    pair.pump()
    return a_call, b_call


def test_a_call_is_set_up_rung_answered_and_hung_up_by_the_caller() -> None:
    pair = EndpointPair()
    a_call, b_call = placed_call(pair)
    [offer] = pair.of("b", IncomingCall)
    assert (offer.called_number, offer.calling_number, offer.calling_name) == (
        "5551234", "5550100", "IAX"
    )  # fmt: skip
    assert offer.format == Format.SLINEAR
    assert pair.b.call_info(b_call).state == CallState.OFFERED
    assert pair.a.call_info(a_call).state == CallState.CALLING

    pair.b.accept(b_call, pair.now)
    pair.pump()
    assert pair.of("a", CallAccepted) == [CallAccepted(a_call, Format.SLINEAR)]
    pair.b.ring(b_call, pair.now)
    pair.pump()
    assert pair.of("a", CallRinging) == [CallRinging(a_call)]
    assert pair.a.call_info(a_call).state == CallState.RINGING
    pair.advance(2 * SECOND)
    pair.b.answer(b_call, pair.now)
    pair.pump()
    assert pair.of("a", CallAnswered) == [CallAnswered(a_call)]
    assert pair.a.call_info(a_call).state == pair.b.call_info(b_call).state == CallState.UP

    pair.a.hangup(a_call, pair.now)
    pair.pump()
    assert pair.of("b", CallEnded) == [CallEnded(b_call, "hangup", "Normal Clearing", 16)]
    assert pair.of("a", CallEnded) == []  # the caller's own hang-up is no event
    assert pair.names("a>b") == ["NEW", "ACK", "ACK", "ACK", "HANGUP"]
    assert pair.names("b>a") == ["ACK", "ACCEPT", "RINGING", "ANSWER", "ACK"]
    pair.advance(LINGER + SECOND)
    assert pair.a.calls == [] and pair.b.calls == [] and pair.a.next_deadline() is None


def test_the_called_side_hangs_up() -> None:
    pair = EndpointPair()
    a_call, b_call = answered_call(pair)
    pair.b.hangup(b_call, pair.now, ("Bye", 16))
    pair.pump()
    assert pair.of("a", CallEnded) == [CallEnded(a_call, "hangup", "Bye", 16)]
    assert pair.a.call_info(a_call).state == CallState.DOWN


def test_a_rejected_call_ends_with_the_cause() -> None:
    pair = EndpointPair()
    a_call, b_call = placed_call(pair)
    pair.b.reject(b_call, pair.now, ("Number unassigned", 1))
    pair.pump()
    assert pair.of("a", CallEnded) == [CallEnded(a_call, "rejected", "Number unassigned", 1)]
    assert pair.a.call_info(a_call).state == pair.b.call_info(b_call).state == CallState.DOWN


def test_a_busy_station_makes_the_caller_hang_up() -> None:
    pair = EndpointPair()
    a_call, b_call = placed_call(pair)
    pair.b.accept(b_call, pair.now)
    pair.b.busy(b_call, pair.now)
    pair.pump()
    assert pair.of("a", CallEnded) == [CallEnded(a_call, "busy")]
    assert pair.names("a>b")[-1] == "HANGUP"


def test_actions_out_of_turn_raise_and_send_nothing() -> None:
    pair = EndpointPair()
    a_call, b_call = placed_call(pair)
    with pytest.raises(Iax2Error):
        pair.b.answer(b_call, pair.now)  # not accepted yet
    with pytest.raises(Iax2Error):
        pair.a.accept(a_call, pair.now)  # the caller does not accept
    with pytest.raises(Iax2Error):
        pair.a.hangup(999, pair.now)
    assert pair.a.take_datagrams() == [] and pair.b.take_datagrams() == []
    assert pair.b.call_info(b_call).state == CallState.OFFERED
    assert not pair.b.send_audio(b_call, TONE, pair.now)  # not up: nothing sent


def test_the_state_table_covers_both_roles_and_ends_everywhere() -> None:
    for role in Role:
        for state, actions in CALL_TRANSITIONS[role].items():
            if state != CallState.DOWN:
                assert actions.get("recv HANGUP") == CallState.DOWN, (role, state)
                assert actions.get("send HANGUP") == CallState.DOWN, (role, state)


@pytest.mark.parametrize("fmt", [Format.SLINEAR, Format.ULAW, Format.ALAW])
def test_voice_flows_both_ways_in_the_agreed_format(fmt: Format) -> None:
    pair = EndpointPair()
    a_call, b_call = answered_call(pair, preferred=fmt)
    assert pair.of("a", CallAccepted)[0].format == fmt
    for _ in range(5):
        assert pair.a.send_audio(a_call, TONE, pair.now)
        assert pair.b.send_audio(b_call, -TONE, pair.now)
        pair.advance(20 * MS)
    heard_b = pair.of("b", AudioReceived)
    heard_a = pair.of("a", AudioReceived)
    assert len(heard_b) == len(heard_a) == 5
    stamps = [e.timestamp for e in heard_b]
    assert np.diff(stamps).tolist() == [20, 20, 20, 20]
    for event in heard_b:
        if fmt == Format.SLINEAR:
            assert (event.samples == TONE).all()
        else:
            assert np.abs(event.samples.astype(int) - TONE).max() <= 0.04 * 8000  # companding
    # one full voice frame, then mini frames
    voice = [f for d, f in pair.wire if d == "a>b" and (isinstance(f, MiniFrame) or
                                                         f.frame_type == FrameType.VOICE)]  # fmt: skip
    assert isinstance(voice[0], FullFrame) and voice[0].subclass == fmt
    assert all(isinstance(f, MiniFrame) for f in voice[1:])


def test_a_full_voice_frame_again_when_the_timestamp_passes_65536_ms() -> None:
    pair = EndpointPair()
    a_call, _ = answered_call(pair)
    full_stamps = []
    for _ in range(3400):  # 68 s of 20 ms frames
        pair.a.send_audio(a_call, TONE, pair.now)
        for data, _address in pair.a.take_datagrams():
            pair.b.receive_datagram(data, ("127.0.0.1", 4569), pair.now)
            frame = FullFrame if data[0] & 0x80 else MiniFrame
            if frame is FullFrame and data[10] == FrameType.VOICE:
                full_stamps.append(int.from_bytes(data[4:8], "big"))
        pair.now += 20 * MS
    assert len(full_stamps) == 2 and full_stamps[1] >= 65536 > full_stamps[1] - 20
    heard = [e.timestamp for e in iter(pair.b.next_event, None) if isinstance(e, AudioReceived)]
    assert len(heard) == 3400 and np.diff(heard).tolist() == [20] * 3399


def test_codec_negotiation_takes_a_common_format_or_refuses() -> None:
    pair = EndpointPair(b=Iax2Endpoint(formats=Format.ALAW))
    a_call, b_call = placed_call(pair, preferred=Format.ULAW)
    assert pair.of("b", IncomingCall)[0].format == Format.ALAW
    pair.b.accept(b_call, pair.now)
    pair.pump()
    assert pair.of("a", CallAccepted) == [CallAccepted(a_call, Format.ALAW)]

    lonely = EndpointPair(a=Iax2Endpoint(formats=Format.SLINEAR),
                          b=Iax2Endpoint(formats=Format.ULAW))  # fmt: skip
    call = lonely.a.call(B, "5551234", 0)
    lonely.pump()
    assert lonely.of("b", IncomingCall) == []
    assert lonely.of("a", CallEnded) == [CallEnded(call, "rejected", "No matching codec", 58)]


def test_a_peer_with_a_secret_answers_the_md5_challenge() -> None:
    secret = "swordfish"
    pair = EndpointPair(b=Iax2Endpoint(peers={"alice": secret}))
    placed_call(pair, username="alice", secret=secret)
    assert pair.names("b>a")[:2] == ["ACK", "AUTHREQ"]
    assert "AUTHREP" in pair.names("a>b")
    assert pair.of("b", IncomingCall)[0].username == "alice"
    wire = b"".join(f.encode() for _, f in pair.wire)
    assert secret.encode() not in wire
    assert secret not in repr(pair.events) + repr(pair.a) + repr(pair.b)


def test_a_wrong_secret_is_rejected_before_the_application_hears_of_the_call() -> None:
    pair = EndpointPair(b=Iax2Endpoint(peers={"alice": "swordfish"}))
    call = pair.a.call(B, "5551234", 0, username="alice", secret="guess")
    pair.pump()
    assert pair.of("b", IncomingCall) == []
    assert pair.of("a", CallEnded) == [CallEnded(call, "rejected", "Authentication failed", 21)]


def test_a_lost_frame_is_retransmitted_once_and_heard_once() -> None:
    pair = EndpointPair()
    a_call, b_call = placed_call(pair)
    lost: list[str] = []

    def lose_first_accept(direction: str, frame: FullFrame | MiniFrame) -> bool:
        if isinstance(frame, FullFrame) and frame.is_command(Command.ACCEPT) and not lost:
            lost.append(direction)
            return True
        return False

    pair.drop = lose_first_accept
    pair.b.accept(b_call, pair.now)
    pair.pump()
    assert pair.of("a", CallAccepted) == []
    pair.advance(199 * MS)
    assert pair.of("a", CallAccepted) == []
    pair.advance(1 * MS)
    assert pair.of("a", CallAccepted) == [CallAccepted(a_call, Format.SLINEAR)]
    [again] = [f for d, f in pair.wire if d == "b>a" and isinstance(f, FullFrame)
               and f.is_command(Command.ACCEPT)]  # fmt: skip
    assert again.retransmission
    pair.advance(10 * SECOND)  # acknowledged: nothing more is sent
    assert pair.names("b>a").count("ACCEPT") == 1


def test_a_duplicate_is_acknowledged_again_but_not_acted_on() -> None:
    pair = EndpointPair()
    _, b_call = placed_call(pair)
    pair.drop = lambda direction, frame: (
        direction == "a>b" and isinstance(frame, FullFrame) and (frame.is_command(Command.ACK))
    )
    pair.b.accept(b_call, pair.now)
    pair.pump()
    pair.advance(250 * MS)  # B did not hear A's ACK: ACCEPT comes again
    assert len(pair.of("a", CallAccepted)) == 1
    assert pair.names("a>b").count("ACK") == 0 and len(pair.dropped) >= 2


def test_retransmissions_back_off_and_the_caller_gives_up() -> None:
    pair = EndpointPair()
    pair.drop = lambda direction, frame: True  # the far end is dead
    call = pair.a.call(B, "5551234", 0)
    pair.advance(30 * SECOND)
    sent = [(f.retransmission) for d, f in pair.dropped if d == "a>b"]
    assert sent == [False] + [True] * 6
    assert pair.of("a", CallEnded) == [CallEnded(call, "timeout", "no response")]
    assert pair.a.calls == []  # forgotten after lingering


def test_retransmission_times_double_up_to_four_seconds() -> None:
    times: list[int] = []
    pair = EndpointPair()

    def record(direction: str, frame: FullFrame | MiniFrame) -> bool:
        times.append(pair.now)
        return True

    pair.drop = record
    pair.a.call(B, "5551234", 0)
    pair.advance(30 * SECOND)
    gaps = np.diff(times).tolist()
    assert gaps == [200 * MS, 400 * MS, 800 * MS, 1600 * MS, 3200 * MS, 4000 * MS]


def test_a_gap_in_sequence_numbers_asks_for_a_vnak_resend() -> None:
    pair = EndpointPair()
    a_call, b_call = placed_call(pair)
    pair.b.accept(b_call, pair.now)
    pair.pump()
    pair.drop = lambda direction, frame: (
        isinstance(frame, FullFrame)
        and frame.subclass == 3
        and (frame.frame_type == FrameType.CONTROL)
    )  # lose RINGING
    pair.b.ring(b_call, pair.now)
    pair.pump()
    pair.drop = lambda direction, frame: False
    pair.b.answer(b_call, pair.now)  # arrives ahead of the lost RINGING
    pair.pump()
    assert "VNAK" in pair.names("a>b")
    assert [type(e) for e in pair.events["a"]] == [CallAccepted, CallRinging, CallAnswered]
    assert pair.a.call_info(a_call).state == CallState.UP


def test_a_frame_for_an_unknown_call_gets_inval_and_inval_ends_a_call() -> None:
    pair = EndpointPair()
    a_call, b_call = answered_call(pair)
    stray = FullFrame(source_call=77, dest_call=4242, timestamp=5, oseqno=0, iseqno=0,
                      frame_type=FrameType.IAX, subclass=Command.PING)  # fmt: skip
    pair.b.receive_datagram(stray.encode(), ("127.0.0.1", 4569), pair.now)
    [(data, _)] = pair.b.take_datagrams()
    inval = FullFrame(source_call=a_call, dest_call=b_call, timestamp=9, oseqno=0, iseqno=0,
                      frame_type=FrameType.IAX, subclass=Command.INVAL)  # fmt: skip
    assert data[10:12] == bytes((FrameType.IAX, Command.INVAL))
    pair.b.receive_datagram(inval.encode(), ("127.0.0.1", 4569), pair.now)
    assert [e for e in iter(pair.b.next_event, None) if isinstance(e, CallEnded)] == [
        CallEnded(b_call, "invalid")
    ]


def test_calls_that_are_up_ping_and_answer_lag_requests() -> None:
    pair = EndpointPair()
    a_call, _ = answered_call(pair)
    pair.advance(PING_INTERVAL)
    assert "PING" in pair.names("a>b") and "PONG" in pair.names("b>a")
    assert pair.of("a", PingReply) == [PingReply(a_call, 0)]
    pair.a.lag_request(a_call, pair.now)
    pair.pump()
    assert "LAGRP" in pair.names("b>a") and pair.of("a", LagReply) == [LagReply(a_call, 0)]
    pong = next(f for d, f in pair.wire if d == "b>a" and isinstance(f, FullFrame)
                and f.is_command(Command.PONG))  # fmt: skip
    ping = next(f for d, f in pair.wire if d == "a>b" and isinstance(f, FullFrame)
                and f.is_command(Command.PING))  # fmt: skip
    assert pong.timestamp == ping.timestamp  # PONG carries the PING's timestamp


def test_every_counted_frame_is_acknowledged() -> None:
    pair = EndpointPair()
    a_call, b_call = answered_call(pair)
    pair.a.hangup(a_call, pair.now)
    pair.advance(LINGER + SECOND)
    for direction, frame in pair.wire:
        if isinstance(frame, FullFrame) and frame.counted:
            back = "b>a" if direction == "a>b" else "a>b"
            acks = [f for d, f in pair.wire if d == back and isinstance(f, FullFrame)
                    and f.timestamp == frame.timestamp and not f.counted]  # fmt: skip
            answered_by = {Command.PING: Command.PONG, Command.NEW: Command.ACCEPT}
            assert acks or frame.subclass in answered_by, frame
    assert pair.a.next_deadline() is None and pair.b.next_deadline() is None
