"""Bit-exact with libtiff: our streams decode there to the same pixels, libtiff's decode here,
and where the framing rules agree our bytes are libtiff's bytes.

libtiff is reached two ways: through Pillow (its TIFF plugin codes G3/G4 with the libtiff it
bundles) and through libtiff-tools (fax2tiff reads raw streams, tiffcp re-codes TIFFs)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from codec.peers import assert_same_page, libtiff_strip, pillow_pages
from codec.samples import CHARTS, chart, generated, generated_pages
from estudio190f.firmware.codec import decode, encode
from estudio190f.firmware.page import Page
from estudio190f.firmware.tiff_f import read_tiff_f, write_tiff_f

pytestmark = pytest.mark.peer

CODINGS = ("mh", "mr", "mmr")
FAX2TIFF_CODING = {"mh": "-1", "mr": "-2", "mmr": "-4"}
PAGES = [("chart", n) for n in CHARTS] + generated_pages()


def page_for(kind, arg):
    return chart(arg) if kind == "chart" else generated(kind, arg)


def assert_fax2tiff_page(path, page):
    """fax2tiff turns the EOLs of an RTC (and an EOFB) into a few more white lines at the
    bottom; nothing else may differ."""
    (decoded,) = pillow_pages(path.read_bytes())
    lines = page.shape[0]
    assert_same_page(decoded[:lines], page)
    assert decoded.shape[0] - lines <= 6 and not decoded[lines:].any()


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize(("kind", "arg"), PAGES)
def test_libtiff_in_pillow_decodes_our_stream_to_the_same_pixels(kind, arg, coding):
    page = page_for(kind, arg)
    (decoded,) = pillow_pages(write_tiff_f([Page(page, "fine")], coding))
    assert_same_page(decoded, page)


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize(("kind", "arg"), PAGES)
def test_fax2tiff_reads_our_raw_stream_in_line_order_by_default(peers, kind, arg, coding):
    page = page_for(kind, arg)
    if coding == "mh":
        # libtiff 4.5's fax2tiff loops on "Buffer overflow" for a 1-D line with a change at
        # every pel (1729 runs; netpbm's stream of such a line does the same, and Pillow's
        # libtiff 4.7 reads it): leave those lines out here, the Pillow test covers them.
        changes = (page != np.pad(page, ((0, 0), (1, 0)))[:, :-1]).sum(axis=1)
        page = page[changes < page.shape[1]]
    lines, width = page.shape
    peers.write("page.raw", encode(page, coding))
    peers.run(
        "fax2tiff", FAX2TIFF_CODING[coding], "-X", str(width), "-u", "-o", "out.tif", "page.raw"
    )
    assert_fax2tiff_page(peers.path("out.tif"), page)


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize("n", CHARTS)
def test_fax2tiff_reads_our_msb_first_stream_with_dash_m(peers, n, coding):
    page = chart(n)
    # Without RTC this time; MMR keeps its EOFB, without which fax2tiff drops the last few
    # one-bit lines of the page.
    peers.write("page.raw", encode(page, coding, msb_first=True, rtc=coding == "mmr"))
    peers.run("fax2tiff", "-M", FAX2TIFF_CODING[coding], "-u", "-o", "out.tif", "page.raw")
    assert_fax2tiff_page(peers.path("out.tif"), page)


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize("n", CHARTS)
def test_tiffcp_recodes_our_tiff_to_the_same_pixels(peers, n, coding):
    page = chart(n)
    peers.write("ours.tif", write_tiff_f([Page(page, "fine")], coding))
    peers.run("tiffcp", "-c", "none", "ours.tif", "plain.tif")
    (decoded,) = pillow_pages(peers.path("plain.tif").read_bytes())
    assert_same_page(decoded, page)


LIBTIFF_CODINGS = [
    # (Pillow compression, T4Options, our coding, our options for the same framing)
    ("group3", None, "mh", {}),
    ("group3", 4, "mh", {"align_eol": True}),
    ("group3", 1, "mr", {"k": 2}),  # no resolution in the file: libtiff's K is 2
    ("group3", 5, "mr", {"k": 2, "align_eol": True}),
    ("group4", None, "mmr", {}),
]


@pytest.mark.parametrize(("compression", "t4", "coding", "options"), LIBTIFF_CODINGS)
@pytest.mark.parametrize(("kind", "arg"), PAGES)
def test_we_decode_libtiffs_stream_to_the_same_pixels(kind, arg, compression, t4, coding, options):
    page = page_for(kind, arg)
    strip = libtiff_strip(page, compression, t4)
    result = decode(strip, coding, width=page.shape[1], msb_first=True, max_lines=page.shape[0])
    assert_same_page(result.pixels, page)
    assert result.bad_lines == 0


@pytest.mark.parametrize(("compression", "t4", "coding", "options"), LIBTIFF_CODINGS)
@pytest.mark.parametrize(("kind", "arg"), PAGES)
def test_our_bytes_are_libtiffs_bytes_where_the_framing_agrees(
    kind, arg, compression, t4, coding, options
):
    # libtiff's G3 strips: an EOL before every line, no RTC (TIFF Class F), zero padding to a
    # byte; its G4 strips end with EOFB. With the same framing the codes must be identical.
    page = page_for(kind, arg)
    ours = encode(page, coding, rtc=coding == "mmr", msb_first=True, **options)
    assert ours == libtiff_strip(page, compression, t4)


@pytest.mark.parametrize("compression", ["g3:1d", "g3:1d:fill", "g3:2d", "g3:2d:fill", "g4"])
def test_we_read_the_tiffs_tiffcp_codes(peers, compression):
    pages = [chart(1), generated("text", 1728), generated("halftone", 1728)]
    # An uncompressed three-page TIFF from Pillow (min-is-black), re-coded by tiffcp in strips
    # of 100 lines: Photometric, FillOrder, strips and T4Options all come from libtiff.
    images = [Image.fromarray(~p) for p in pages]
    images[0].save(peers.path("plain.tif"), save_all=True, append_images=images[1:])
    peers.run("tiffcp", "-c", compression, "-r", "100", "plain.tif", "theirs.tif")
    got = read_tiff_f(peers.path("theirs.tif").read_bytes())
    assert len(got) == len(pages)
    for page, want in zip(got, pages, strict=True):
        assert_same_page(page.pixels, want)


def test_we_read_fax2tiffs_class_f_output(peers):
    page = chart(2)
    peers.write("page.g3", encode(page, "mh"))
    peers.run("fax2tiff", "-o", "classf.tif", "page.g3")  # its default: MR, aligned EOLs, LSB
    (got,) = read_tiff_f(peers.path("classf.tif").read_bytes())
    assert_same_page(got.pixels[: page.shape[0]], page)
    assert got.resolution == "fine"  # fax2tiff's default 196 lines/inch
