"""What the decoder tells a receiver about a damaged page (T.30 answers MCF, RTP or RTN on it):
lines in error are found, concealed by repeating the line before, counted, and decoding picks up
again at the next EOL. Garbage never raises anything but CodecError (for bad arguments) and
never hangs."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codec.peers import assert_same_page
from codec.samples import chart, generated
from codec.test_codec_roundtrip import eol_ends, stream_bits
from estudio190f.firmware.codec import CodecError, decode, encode


def damage_lines(data: bytes, lines: list[int]) -> bytes:
    """The stream with the data of the given lines (0-based) replaced by a code that is in no
    table (eight zeros then a one inside the line is neither a run code nor an EOL)."""
    bits = stream_bits(data).copy()
    ends = eol_ends(bits)
    for line in lines:
        start = ends[line] + 1  # past the EOL (and an MR tag bit; harmless for MH)
        bits[start : start + 9] = [0, 0, 0, 0, 0, 0, 0, 0, 1]
    return np.packbits(bits, bitorder="little").tobytes()


@pytest.fixture(scope="module")
def text():
    return generated("text", 1728)


def test_a_corrupt_mh_line_is_concealed_and_counted(text):
    result = decode(damage_lines(encode(text, "mh"), [100]), "mh")
    assert (result.lines, result.bad_lines, result.longest_bad_run) == (text.shape[0], 1, 1)
    assert result.rtc_seen
    assert np.array_equal(result.pixels[100], text[99])  # the line before, repeated
    keep = np.ones(text.shape[0], bool)
    keep[100] = False
    assert_same_page(result.pixels[keep], text[keep])


def test_consecutive_bad_lines_make_the_longest_run(text):
    result = decode(damage_lines(encode(text, "mh"), [40, 41, 42, 200]), "mh")
    assert (result.bad_lines, result.longest_bad_run) == (4, 3)
    assert all(np.array_equal(result.pixels[y], text[39]) for y in (40, 41, 42))


def test_a_bad_first_line_is_concealed_with_white():
    page = generated("black", 1728)
    result = decode(damage_lines(encode(page, "mh"), [0]), "mh")
    assert result.bad_lines == 1 and not result.pixels[0].any() and result.pixels[1].all()


def test_in_mr_the_2d_lines_after_a_bad_line_are_concealed_until_the_next_1d_line(text):
    data = damage_lines(encode(text, "mr", k=4), [8])  # line 8 is 1-D; 9, 10, 11 refer to it
    result = decode(data, "mr")
    assert (result.bad_lines, result.longest_bad_run) == (4, 4)
    assert all(np.array_equal(result.pixels[y], text[7]) for y in (8, 9, 10, 11))
    assert_same_page(result.pixels[12:], text[12:])


def test_mmr_stops_at_the_first_bad_line():
    page = chart(1)
    data = bytearray(encode(page, "mmr"))
    data[len(data) // 2] ^= 0xFF
    result = decode(bytes(data), "mmr")
    assert not result.rtc_seen
    assert result.bad_lines <= 1 and result.lines < page.shape[0]


def test_a_truncated_page_has_no_rtc():
    page = chart(2)
    data = encode(page, "mh")
    result = decode(data[: len(data) // 2], "mh")
    assert not result.rtc_seen
    assert 0 < result.lines < page.shape[0]
    assert result.bad_lines <= 1  # at most the line cut in two


def test_junk_between_a_line_and_its_eol_makes_the_line_bad(text):
    bits = stream_bits(encode(text[:3], "mh"))
    ends = eol_ends(bits)
    # a line's codes complete, then a 1 where only fill may be: insert it before EOL 2
    bits = np.insert(bits, ends[2] - 12, [1, 0, 1])
    result = decode(np.packbits(bits, bitorder="little").tobytes(), "mh")
    assert result.bad_lines == 1 and result.lines == 3


def test_what_follows_the_rtc_is_not_read(text):
    data = encode(text, "mh") + bytes(range(256)) * 4
    result = decode(data, "mh")
    assert result.rtc_seen and result.bad_lines == 0
    assert_same_page(result.pixels, text)


def test_max_lines_caps_the_page():
    page = chart(3)
    result = decode(encode(page, "mr"), "mr", max_lines=100)
    assert result.lines == 100
    assert_same_page(result.pixels, page[:100])


@pytest.mark.parametrize(
    ("data", "options"),
    [
        ("text", {}),
        (b"\x00", {"coding": "g3"}),
        (b"\x00", {"width": 0}),
        (b"\x00", {"width": 1 << 20}),
        (b"\x00", {"max_lines": -1}),
        (b"\x00", {"coding": "mr", "eol": False}),
    ],
)
def test_decoder_refuses_bad_arguments_with_codec_error(data, options):
    with pytest.raises(CodecError):
        decode(data, **options)


@pytest.mark.parametrize("coding", ["mh", "mr", "mmr"])
@pytest.mark.parametrize(
    "data", [b"", b"\x00" * 5000, b"\xff" * 5000, bytes(range(256)) * 40, b"\x80" * 3000]
)
def test_degenerate_streams_give_a_result_not_an_exception(coding, data):
    result = decode(data, coding)
    assert result.pixels.shape == (result.lines, 1728)
    assert result.bad_lines <= result.lines


@st.composite
def damaged_streams(draw):
    coding = draw(st.sampled_from(["mh", "mr", "mmr"]))
    page = generated(draw(st.sampled_from(["text", "halftone", "random"])), 1728)[:80]
    data = bytearray(encode(page, coding, k=draw(st.sampled_from([2, 4]))))
    for _ in range(draw(st.integers(1, 8))):
        how = draw(st.sampled_from(["flip", "cut", "insert", "zero"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if how == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "cut":
            del data[at : at + draw(st.integers(1, 40))]
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=40))
        else:
            data[at : at + 20] = bytes(min(20, len(data) - at))
    return coding, bytes(data)


@settings(max_examples=300, deadline=None)
@given(damaged=damaged_streams(), as_coding=st.sampled_from([None, "mh", "mr", "mmr"]))
def test_damaged_streams_decode_quickly_to_a_consistent_result(damaged, as_coding):
    coding, data = damaged
    started = time.perf_counter()
    result = decode(data, as_coding or coding, max_lines=500)
    assert time.perf_counter() - started < 2.0  # generous: it is about hangs, not speed
    assert result.pixels.shape == (result.lines, 1728) and result.pixels.dtype == bool
    assert 0 <= result.longest_bad_run <= result.bad_lines <= result.lines <= 500


@settings(max_examples=100, deadline=None)
@given(
    data=st.binary(max_size=3000),
    coding=st.sampled_from(["mh", "mr", "mmr"]),
    width=st.sampled_from([1, 7, 1728, 2432, 5000]),
    msb_first=st.booleans(),
)
def test_random_bytes_never_raise(data, coding, width, msb_first):
    result = decode(data, coding, width=width, msb_first=msb_first, max_lines=300)
    assert result.pixels.shape == (result.lines, width)
