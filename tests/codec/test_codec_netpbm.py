"""netpbm's G3 tools (pbmtog3, g3topbm) against our MH codec: pixel-identical both ways, and
the same bytes up to the end-of-page sequence, which netpbm frames differently."""

from __future__ import annotations

import pytest

from codec.peers import assert_same_page, read_pbm, write_pbm
from codec.samples import CHARTS, chart, generated, generated_pages
from estudio190f.firmware.codec import decode, encode

pytestmark = pytest.mark.peer

PAGES = [("chart", n) for n in CHARTS] + generated_pages()


def page_for(kind, arg):
    return chart(arg) if kind == "chart" else generated(kind, arg)


@pytest.mark.parametrize("lsb_first", [False, True])
@pytest.mark.parametrize(("kind", "arg"), PAGES)
def test_we_decode_pbmtog3_to_the_same_pixels(peers, kind, arg, lsb_first):
    page = page_for(kind, arg)
    write_pbm(peers.path("in.pbm"), page)
    flags = ["-nofixedwidth"] + (["-reversebits"] if lsb_first else [])
    stream = peers.run("pbmtog3", *flags, "in.pbm").stdout
    result = decode(stream, "mh", width=page.shape[1], msb_first=not lsb_first)
    assert_same_page(result.pixels, page)
    assert result.bad_lines == 0 and result.rtc_seen


@pytest.mark.parametrize("lsb_first", [False, True])
@pytest.mark.parametrize(("kind", "arg"), PAGES)
def test_g3topbm_decodes_our_stream_to_the_same_pixels(peers, kind, arg, lsb_first):
    page = page_for(kind, arg)
    peers.write("ours.g3", encode(page, "mh", msb_first=not lsb_first))
    flags = ["-reversebits"] if lsb_first else []
    peers.path("out.pbm").write_bytes(peers.run("g3topbm", *flags, "ours.g3").stdout)
    assert_same_page(read_pbm(peers.path("out.pbm")), page)


@pytest.mark.parametrize(("align", "flag"), [(False, []), (True, ["-align8"])])
@pytest.mark.parametrize("n", CHARTS)
def test_our_bytes_are_pbmtog3s_up_to_its_end_of_page(peers, n, align, flag):
    # pbmtog3 ends a page with fill and seven EOLs (and with -align8 aligns every one of them);
    # we send T.4's six EOLs, only the first aligned. Everything before is the same bytes.
    page = chart(n)
    write_pbm(peers.path("in.pbm"), page)
    theirs = peers.run("pbmtog3", *flag, "in.pbm").stdout
    ours = encode(page, "mh", msb_first=True, rtc=False, align_eol=align)
    assert theirs.startswith(ours[:-1])
    assert decode(theirs[len(ours) - 1 :], "mh", msb_first=True).rtc_seen  # the rest: the RTC
