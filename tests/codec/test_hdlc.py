"""HDLC as T.30 uses it: FCS-16, flags, zero-bit insertion, aborts, frames cut anywhere."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from estudio190f.hw.hdlc import (
    FLAG_BITS,
    HdlcAbort,
    HdlcDecoder,
    HdlcEncoder,
    HdlcFrame,
    add_fcs,
    check_fcs,
    fcs16,
    stuff,
)

# T.30 frames as a Class 1 host writes them (line order): a final DIS and a non-final CSI.
DIS = bytes.fromhex("ff13800031ce")  # address, control 0x13 (final), DIS, capabilities...
CSI = bytes.fromhex("ff0340") + b"       4321055   "


def bits_of(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little")


def feed_in_chunks(stream: bytes, sizes: list[int]) -> list:
    decoder = HdlcDecoder()
    events, at, i = [], 0, 0
    while at < len(stream):
        size = sizes[i % len(sizes)] if sizes else len(stream)
        events += decoder.feed(stream[at : at + size])
        at += size
        i += 1
    return events


def test_fcs_is_crc16_x25():
    assert fcs16(b"123456789") == 0x906E  # the CRC catalogue's check value for CRC-16/X.25
    assert fcs16(b"") == 0x0000


def test_fcs_goes_low_octet_first_and_checks():
    framed = add_fcs(DIS)
    assert framed[:-2] == DIS and framed[-2:] == fcs16(DIS).to_bytes(2, "little")
    assert check_fcs(framed)


def test_any_single_bit_error_fails_the_check():
    framed = bytearray(add_fcs(CSI))
    for bit in range(len(framed) * 8):
        framed[bit // 8] ^= 1 << (bit % 8)
        assert not check_fcs(bytes(framed))
        framed[bit // 8] ^= 1 << (bit % 8)


def test_zero_insertion_after_five_ones():
    ones = np.ones(16, np.uint8)
    stuffed = stuff(ones)
    assert stuffed.tolist() == [1] * 5 + [0] + [1] * 5 + [0] + [1] * 5 + [0] + [1]


def test_a_frame_between_flags_never_shows_six_ones():
    stream = HdlcEncoder().frames([b"\xff" * 40, b"\x7e" * 40, DIS], preamble_flags=1)
    bits = bits_of(stream)
    flag = bits_of(b"\x7e")
    # find the flags, then check what lies between them
    starts = [i for i in range(len(bits) - 7) if np.array_equal(bits[i : i + 8], flag)]
    body = np.concatenate([bits[a + 8 : b] for a, b in zip(starts, starts[1:], strict=False)])
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate(([0], body, [0])))))[::2]
    assert runs.max() <= 5


def test_preamble_and_frames_come_back_with_good_fcs():
    encoder = HdlcEncoder()
    stream = encoder.frames([CSI, DIS], preamble_flags=38) + encoder.finish()
    assert HdlcDecoder().feed(stream) == [HdlcFrame(CSI, True), HdlcFrame(DIS, True)]


def test_a_bit_error_gives_a_bad_frame_and_the_next_frame_is_still_good():
    encoder = HdlcEncoder()
    stream = bytearray(encoder.frames([CSI, DIS], preamble_flags=4) + encoder.finish())
    stream[10] ^= 0x04  # inside CSI
    decoder = HdlcDecoder()
    events = decoder.feed(bytes(stream))
    assert [type(e) for e in events] == [HdlcFrame, HdlcFrame]
    assert not events[0].fcs_ok and events[1] == HdlcFrame(DIS, True)
    assert (decoder.frames_good, decoder.frames_bad) == (1, 1)


def test_an_abort_voids_the_frame_under_way():
    # flags, five octets of a frame (no run of five 1s, so nothing to stuff), eight 1s
    stream = b"\x7e\x7e" + bytes([0x3B, 0x03, 0x80, 0x11, 0x22]) + b"\xff"
    encoder = HdlcEncoder()
    stream += encoder.frames([DIS], preamble_flags=2) + encoder.finish()
    assert HdlcDecoder().feed(stream) == [HdlcAbort(), HdlcFrame(DIS, True)]


def test_the_encoders_abort_is_seen_as_one():
    encoder = HdlcEncoder()
    stream = encoder.flags(2) + bytes([0x12, 0x34, 0x56, 0x21, 0x43]) + encoder.abort()
    stream += encoder.flags(1) + encoder.frame(CSI) + encoder.finish()
    assert HdlcDecoder().feed(stream) == [HdlcAbort(), HdlcFrame(CSI, True)]


def test_idle_ones_after_the_last_flag_are_not_an_abort():
    encoder = HdlcEncoder()
    stream = encoder.frames([DIS]) + encoder.finish() + b"\xff" * 4
    assert HdlcDecoder().feed(stream) == [HdlcFrame(DIS, True)]


def test_fragments_between_flags_are_ignored():
    # fewer than four octets between two flags is no frame (ISO/IEC 3309)
    stream = b"\x7e\x7e" + bytes([0x12, 0x34]) + b"\x7e\x7e"
    assert HdlcDecoder().feed(stream) == []


def test_frames_back_to_back_share_one_flag():
    encoder = HdlcEncoder()
    stream = encoder.frame(CSI) + encoder.frame(DIS) + encoder.finish()
    bits = "".join(map(str, bits_of(stream)))
    assert bits.count("01111110") == 3  # opening, between the two, closing
    assert HdlcDecoder().feed(stream) == [HdlcFrame(CSI, True), HdlcFrame(DIS, True)]


@settings(max_examples=200, deadline=None)
@given(
    frames=st.lists(st.binary(min_size=2, max_size=300), min_size=1, max_size=6),
    sizes=st.lists(st.integers(1, 97), max_size=5),
    preamble=st.integers(1, 40),
)
def test_frames_survive_any_chunking(frames, sizes, preamble):
    encoder = HdlcEncoder()
    stream = encoder.frames(frames, preamble_flags=preamble) + encoder.finish()
    assert feed_in_chunks(stream, sizes) == [HdlcFrame(f, True) for f in frames]


@settings(max_examples=200, deadline=None)
@given(stream=st.binary(max_size=2000), sizes=st.lists(st.integers(1, 64), max_size=4))
def test_noise_gives_only_frames_and_aborts(stream, sizes):
    for event in feed_in_chunks(stream, sizes):
        assert isinstance(event, HdlcAbort) or (
            isinstance(event, HdlcFrame) and isinstance(event.data, bytes)
        )


@pytest.mark.parametrize("count", [0, 1, 38])
def test_flags_are_whole_octets_0x7e(count):
    encoder = HdlcEncoder()
    assert encoder.flags(count) == b"\x7e" * count


def test_a_frame_that_is_not_whole_octets_is_reported_or_dropped_as_asked() -> None:
    """ISO/IEC 3309: such a frame is invalid. A modem reports it to its host as a bad frame; an
    HDLC receiver (the Class 1 modem unframing a host's ECM stream) drops it."""
    bits = np.concatenate(
        [FLAG_BITS, stuff(bits_of(add_fcs(DIS))), np.array([1, 0, 1], dtype=np.uint8), FLAG_BITS]
    )
    pad = (-bits.size) % 8
    stream = np.packbits(np.concatenate([bits, np.ones(pad, dtype=np.uint8)]), bitorder="little")
    reported = HdlcDecoder().feed(stream.tobytes())
    assert len(reported) == 1 and isinstance(reported[0], HdlcFrame) and not reported[0].fcs_ok
    assert HdlcDecoder(invalid="drop").feed(stream.tobytes()) == []


def test_a_run_without_flags_longer_than_any_frame_is_dropped() -> None:
    decoder = HdlcDecoder(invalid="drop")
    assert decoder.feed(b"\x7e" + bytes(5000) + b"\x7e") == []
    encoder = HdlcEncoder()
    assert decoder.feed(encoder.frames([DIS]) + encoder.finish()) == [HdlcFrame(DIS, True)]
