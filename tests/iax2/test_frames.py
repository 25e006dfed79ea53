"""IAX2 frames on the wire: what iaxmodem really sends decodes to what it meant and encodes back
to the same octets; subclass compression, information elements, refusals; G.711 tables equal to
SpanDSP's own coder (the one iaxmodem links)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from estudio190f.hw import g711
from estudio190f.hw.iax2 import decode_audio, encode_audio, encode_datetime, md5_answer
from estudio190f.hw.iax2_frames import (
    Command,
    Control,
    Format,
    FrameError,
    FrameType,
    FullFrame,
    Ie,
    InformationElements,
    MiniFrame,
    compress_subclass,
    decode_datagram,
    describe,
    frame_name,
    uncompress_subclass,
)

from .spandsp_fax import need_spandsp
from .vectors import IAXMODEM, SILENCE_SLINEAR


@pytest.mark.parametrize("name", sorted(IAXMODEM))
def test_every_captured_iaxmodem_datagram_encodes_back_to_its_octets(name: str) -> None:
    frame = decode_datagram(IAXMODEM[name])
    assert frame.encode() == IAXMODEM[name]
    assert frame_name(frame).split()[0] == name.split()[0].replace("md5", "").strip()


def test_iaxmodem_new_carries_the_numbers_names_and_codecs() -> None:
    new = decode_datagram(IAXMODEM["NEW"])
    assert isinstance(new, FullFrame) and new.is_command(Command.NEW)
    assert (new.dest_call, new.oseqno, new.iseqno, new.retransmission) == (0, 0, 0, False)
    ies = new.ies
    assert ies.number(Ie.VERSION) == 2
    assert ies.text(Ie.CALLED_NUMBER) == "5551234"
    assert ies.text(Ie.DNID) == "5551234"
    assert ies.text(Ie.CALLING_NUMBER) == "5550100"
    assert ies.text(Ie.CALLING_NAME) == "IAXmodem"
    assert ies.text(Ie.USERNAME) == "faxmodem"
    assert ies.number(Ie.FORMAT) == Format.ULAW
    assert ies.number(Ie.CAPABILITY) == Format.SLINEAR | Format.ULAW | Format.ALAW
    # libiax2's order of elements, kept as they came
    assert [code for code, _ in ies.items] == [11, 2, 4, 9, 8, 6, 1, 13]


def test_iaxmodem_registers_with_username_and_refresh_then_answers_the_challenge() -> None:
    first = decode_datagram(IAXMODEM["REGREQ"])
    second = decode_datagram(IAXMODEM["REGREQ md5"])
    assert isinstance(first, FullFrame) and isinstance(second, FullFrame)
    assert first.ies.text(Ie.USERNAME) == "faxmodem" and first.ies.number(Ie.REFRESH) == 60
    assert Ie.MD5_RESULT not in first.ies
    assert (second.oseqno, second.iseqno, second.dest_call) == (1, 1, 1)
    assert len(second.ies.text(Ie.MD5_RESULT) or "") == 32
    release = decode_datagram(IAXMODEM["REGREL"])
    assert isinstance(release, FullFrame) and release.ies.text(Ie.CAUSE) == "Exiting"


def test_voice_full_frames_and_mini_frames() -> None:
    full = decode_datagram(IAXMODEM["VOICE slinear"])
    assert isinstance(full, FullFrame)
    assert (full.frame_type, full.subclass, full.timestamp) == (FrameType.VOICE, Format.SLINEAR, 20)
    assert full.payload == SILENCE_SLINEAR
    mini = decode_datagram(IAXMODEM["mini slinear"])
    assert mini == MiniFrame(source_call=full.source_call, timestamp=40, payload=SILENCE_SLINEAR)
    ulaw = decode_datagram(IAXMODEM["VOICE ulaw"])
    samples = decode_audio(ulaw.payload, Format.ULAW)
    assert len(samples) == 160 and np.abs(samples).max() > 1000  # iaxmodem's CNG tone
    # 1100 Hz: the tone repeats every 80 samples (11 cycles in 10 ms), as the octets show
    assert ulaw.payload[:80] == ulaw.payload[80:]


def test_control_and_pong_frames() -> None:
    answer = decode_datagram(IAXMODEM["ANSWER"])
    assert isinstance(answer, FullFrame)
    assert (answer.frame_type, answer.subclass) == (FrameType.CONTROL, Control.ANSWER)
    pong = decode_datagram(IAXMODEM["PONG"])
    assert isinstance(pong, FullFrame) and pong.ies.number(Ie.RR_DELAY) == 40
    hangup = decode_datagram(IAXMODEM["HANGUP"])
    assert isinstance(hangup, FullFrame) and hangup.ies.text(Ie.CAUSE) == "Normal disconnect"


def test_retransmission_bit_and_call_number_bits() -> None:
    frame = FullFrame(0x7FFF, 0x1234, 0xDEADBEEF, 255, 7, FrameType.IAX, Command.PING,
                      retransmission=True)  # fmt: skip
    data = frame.encode()
    assert data[:4] == bytes.fromhex("ffff9234")
    assert decode_datagram(data) == frame


@pytest.mark.parametrize(
    ("subclass", "octet"),
    [(0x40, 0x40), (0x7F, 0x7F), (0x80, 0x87), (0x100, 0x88), (0x1000, 0x8C), (1 << 31, 0x9F)],
)
def test_subclass_compression_uses_the_c_bit_above_0x7f(subclass: int, octet: int) -> None:
    assert compress_subclass(subclass) == octet
    assert uncompress_subclass(octet) == subclass
    frame = FullFrame(1, 2, 3, 0, 0, FrameType.VOICE, subclass)
    assert decode_datagram(frame.encode()) == frame


def test_a_subclass_that_is_no_power_of_two_cannot_be_compressed() -> None:
    with pytest.raises(FrameError):
        compress_subclass(0x180)


def test_information_elements_build_in_order_and_describe_without_secrets() -> None:
    ies = InformationElements.build(
        (Ie.USERNAME, "alice"),
        (Ie.PASSWORD, "hunter2"),
        (Ie.REFRESH, 60),
        (Ie.CALLING_NAME, None),  # left out
        (Ie.AUTOANSWER, None),  # carries no data
        (Ie.APPARENT_ADDR, ("127.0.0.1", 4569)),
    )
    data = ies.encode()
    assert data[:7] == b"\x06\x05alice"
    assert InformationElements.decode(data) == ies
    assert ies.address(Ie.APPARENT_ADDR) == ("127.0.0.1", 4569)
    assert Ie.AUTOANSWER in ies and Ie.CALLING_NAME not in ies
    text = ies.describe()
    assert "password=***" in text and "hunter2" not in text
    assert "refresh=60" in text and "username='alice'" in text


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x80", "too short"),
        (bytes.fromhex("8001000200000003"), "full header cut short"),
        (bytes.fromhex("0000010200000000"), "meta frame"),
    ],
)
def test_datagrams_that_are_no_frames_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(FrameError):
        decode_datagram(data)


def test_elements_longer_than_their_frame_are_refused() -> None:
    frame = FullFrame(1, 0, 3, 0, 0, FrameType.IAX, Command.NEW, payload=b"\x01\x09555")
    with pytest.raises(FrameError):
        decode_datagram(frame.encode()).ies  # type: ignore[union-attr] # noqa: B018


def test_describe_names_frames_for_logs() -> None:
    assert describe(decode_datagram(IAXMODEM["RINGING"])).startswith("RINGING 25218->2 ts 4")
    assert describe(decode_datagram(IAXMODEM["mini slinear"])) == "mini call 25218 ts 40 320 octets"


def test_md5_answer_matches_what_iaxmodem_computes_for_its_secret() -> None:
    # iaxmodem answered the challenge 913847339 with this digest of challenge + secret.
    from .harness import PEER_SECRET

    second = decode_datagram(IAXMODEM["AUTHREP"])
    assert isinstance(second, FullFrame)
    assert md5_answer("913847339", PEER_SECRET) == second.ies.text(Ie.MD5_RESULT)


def test_datetime_element_packs_the_date_as_rfc_5456_says() -> None:
    # 2026-12-04 05:23:50: year 26 << 25 | month 12 << 21 | day 4 << 16 | 5 << 11 | 23 << 5 | 25
    assert encode_datetime(datetime(2026, 12, 4, 5, 23, 50)) == 897854201


def test_slinear_goes_big_endian_on_the_wire() -> None:
    samples = np.array([1, -2, 0x1234], dtype=np.int16)
    assert encode_audio(samples, Format.SLINEAR) == bytes.fromhex("0001fffe1234")
    assert (decode_audio(bytes.fromhex("0001fffe1234"), Format.SLINEAR) == samples).all()


@pytest.mark.parametrize(("law", "spandsp_mode"), [("alaw", 0), ("ulaw", 1)])
def test_g711_tables_equal_spandsp_for_every_sample_and_code(law: str, spandsp_mode: int) -> None:
    lib = need_spandsp()
    state = lib.g711_init(None, spandsp_mode)
    try:
        linear = np.arange(-32768, 32768, dtype=np.int16)
        theirs = np.zeros(len(linear), dtype=np.uint8)
        lib.g711_encode(state, theirs.ctypes.data, linear.ctypes.data, len(linear))
        encode = getattr(g711, f"{law}_encode")
        assert encode(linear) == theirs.tobytes()
        codes = np.arange(256, dtype=np.uint8)
        decoded = np.zeros(256, dtype=np.int16)
        lib.g711_decode(state, decoded.ctypes.data, codes.ctypes.data, 256)
        assert (getattr(g711, f"{law}_decode")(codes.tobytes()) == decoded).all()
    finally:
        lib.g711_free(state)


@pytest.mark.parametrize("fmt", [Format.ULAW, Format.ALAW])
def test_g711_decoding_then_encoding_gives_the_codes_back(fmt: Format) -> None:
    codes = bytes(range(256))
    again = encode_audio(decode_audio(codes, fmt), fmt)
    differing = [c for c in range(256) if again[c] != codes[c]]
    # µ-law has two zeros (0x7F and 0xFF); the encoder picks 0xFF
    assert differing == ([0x7F] if fmt == Format.ULAW else [])
