"""Our encoder and decoder agree with each other, and the streams have the framing T.4/T.6 ask
for (EOL, tag bits, fill, RTC, EOFB, bit order)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codec.peers import assert_same_page
from codec.samples import CHARTS, chart, generated, generated_pages
from estudio190f.firmware.codec import WIDTHS, CodecError, decode, encode
from estudio190f.firmware.codec.tables import BIT_REVERSE

CODINGS = ("mh", "mr", "mmr")


def stream_bits(data: bytes, msb_first: bool = False) -> np.ndarray:
    """The stream's bits in transmission order."""
    order = "big" if msb_first else "little"
    return np.unpackbits(np.frombuffer(data, np.uint8), bitorder=order)


def eol_ends(bits: np.ndarray) -> np.ndarray:
    """Bit positions just after each EOL (eleven or more 0s, then a 1)."""
    ones = np.nonzero(bits)[0]
    gaps = np.diff(np.concatenate(([-1], ones))) - 1  # zeros before each 1
    return ones[gaps >= 11] + 1


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize("n", CHARTS)
def test_itu_chart_comes_back_pixel_for_pixel(n, coding):
    page = chart(n)
    result = decode(encode(page, coding), coding)
    assert_same_page(result.pixels, page)
    assert (result.lines, result.bad_lines, result.longest_bad_run) == (page.shape[0], 0, 0)
    assert result.rtc_seen


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize(("name", "width"), generated_pages())
def test_generated_page_comes_back_pixel_for_pixel(name, width, coding):
    page = generated(name, width)
    result = decode(encode(page, coding), coding, width=width)
    assert_same_page(result.pixels, page)
    assert result.bad_lines == 0 and result.rtc_seen


@pytest.mark.parametrize("coding", ("mh", "mr"))
def test_every_line_lasts_at_least_the_minimum_scan_line_time(coding):
    # 14400 bit/s x 20 ms = 288 bits per line (EOL + data + fill), white lines included.
    page = generated("text", 1728)
    data = encode(page, coding, min_line_bits=288)
    starts = eol_ends(stream_bits(data)) - 12
    line_bits = np.diff(starts)[: page.shape[0]]
    assert line_bits.min() >= 288
    assert_same_page(decode(data, coding).pixels, page)


@pytest.mark.parametrize("coding", ("mh", "mr"))
def test_aligned_eols_end_on_byte_boundaries(coding):
    page = generated("columns", 2048)
    data = encode(page, coding, align_eol=True)
    ends = eol_ends(stream_bits(data, msb_first=False))
    # every line's EOL and the RTC's first; the RTC's other EOLs follow unfilled, as in libtiff
    assert np.all(ends[: page.shape[0] + 1] % 8 == 0)
    assert_same_page(decode(data, coding, width=2048).pixels, page)


@pytest.mark.parametrize("k", (1, 2, 4))
def test_mr_codes_every_kth_line_one_dimensionally(k):
    page = generated("text", 1728)[:20]
    bits = stream_bits(encode(page, "mr", k=k))
    tags = bits[eol_ends(bits)]
    assert list(tags[:20]) == [1 if y % k == 0 else 0 for y in range(20)]
    assert list(tags[20:]) == [1] * 6  # RTC: six EOL+1


def test_mh_page_ends_with_six_eols_and_mmr_with_eofb():
    page = generated("random", 1728)
    mh = stream_bits(encode(page, "mh"))
    assert len(eol_ends(mh)) == page.shape[0] + 6
    mmr = stream_bits(encode(page, "mmr"))
    end = eol_ends(mmr)
    assert len(end) == 2 and end[1] - end[0] == 12  # EOFB = EOL EOL, then pad to a byte
    assert mmr.size - end[1] < 8


def test_without_rtc_the_stream_just_stops():
    page = generated("text", 1728)
    assert len(eol_ends(stream_bits(encode(page, "mh", rtc=False)))) == page.shape[0]
    result = decode(encode(page, "mh", rtc=False), "mh")
    assert_same_page(result.pixels, page)
    assert not result.rtc_seen


def test_msb_first_is_line_order_with_every_byte_reversed():
    page = generated("halftone", 2432)
    lsb = np.frombuffer(encode(page, "mmr"), np.uint8)
    msb = np.frombuffer(encode(page, "mmr", msb_first=True), np.uint8)
    assert np.array_equal(BIT_REVERSE[lsb], msb)
    assert_same_page(decode(msb.tobytes(), "mmr", width=2432, msb_first=True).pixels, page)


def test_mh_without_eols_round_trips():
    page = generated("random", 1728)
    data = encode(page, "mh", eol=False, rtc=False)
    assert len(eol_ends(stream_bits(data))) == 0
    assert_same_page(decode(data, "mh", eol=False).pixels, page)


def test_empty_page_is_just_the_end_of_page():
    page = np.zeros((0, 1728), dtype=bool)
    result = decode(encode(page, "mh"), "mh")
    assert result.lines == 0 and result.rtc_seen


@pytest.mark.parametrize(
    ("pixels", "options"),
    [
        (np.zeros((5, 1000), bool), {}),
        (np.zeros((5, 1728), np.uint8), {}),
        (np.zeros(1728, bool), {}),
        ("not a page", {}),
        (np.zeros((5, 1728), bool), {"coding": "jbig"}),
        (np.zeros((5, 1728), bool), {"coding": "mr", "k": 0}),
        (np.zeros((5, 1728), bool), {"coding": "mr", "eol": False}),
        (np.zeros((5, 1728), bool), {"eol": False, "min_line_bits": 100}),
        (np.zeros((5, 1728), bool), {"min_line_bits": -1}),
    ],
)
def test_encoder_refuses_what_it_cannot_code(pixels, options):
    with pytest.raises(CodecError):
        encode(pixels, **options)


@st.composite
def pages(draw):
    width = draw(st.sampled_from(WIDTHS))
    lines = draw(st.integers(0, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    density = draw(st.sampled_from((0.0, 0.01, 0.1, 0.5, 0.99, 1.0)))
    flips = rng.random((lines, width)) < density
    style = draw(st.sampled_from(("runs", "noise", "copies")))
    if style == "runs":
        page = np.logical_xor.accumulate(flips, axis=1)
    elif style == "noise":
        page = flips
    else:  # lines that differ little from the one before: the 2-D codings' common case
        page = np.logical_xor.accumulate(
            np.logical_xor.accumulate(flips, axis=1) & (rng.random((lines, 1)) < 0.3), axis=0
        )
    return np.ascontiguousarray(page)


@settings(max_examples=150, deadline=None)
@given(
    page=pages(),
    coding=st.sampled_from(CODINGS),
    k=st.integers(1, 6),
    min_line_bits=st.sampled_from((0, 0, 96, 1000)),
    align_eol=st.booleans(),
    rtc=st.booleans(),
    msb_first=st.booleans(),
)
def test_any_page_round_trips_with_any_options(
    page, coding, k, min_line_bits, align_eol, rtc, msb_first
):
    data = encode(
        page,
        coding,
        k=k,
        min_line_bits=min_line_bits,
        align_eol=align_eol,
        rtc=rtc,
        msb_first=msb_first,
    )
    result = decode(data, coding, width=page.shape[1], msb_first=msb_first)
    assert_same_page(result.pixels, page)
    assert result.bad_lines == 0
    assert result.rtc_seen == rtc
