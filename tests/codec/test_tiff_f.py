"""TIFF Class F: what we write is profile S (MH, 1728 pels, 204 x 98/196 dpi, the profile's
tags, many pages in one file), libtiff and Pillow read it without a word and to the same pixels,
and we read back what libtiff and Pillow write."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from codec.peers import assert_same_page, pillow_pages
from codec.samples import chart, generated
from estudio190f.firmware.codec import CodecError
from estudio190f.firmware.page import Page
from estudio190f.firmware.tiff_f import read_tiff_f, write_tiff_f


@pytest.fixture(scope="module")
def document():
    """Three pages, standard and fine, as the machine sends them."""
    return [
        Page(chart(1), "fine"),
        Page(generated("text", 1728), "standard"),
        Page(chart(4)[:1100], "standard"),
    ]


def tags_of(data: bytes) -> list[dict[int, object]]:
    pages = []
    with Image.open(io.BytesIO(data)) as image:
        for index in range(image.n_frames):
            image.seek(index)
            pages.append(dict(image.tag_v2))
    return pages


@pytest.mark.parametrize("coding", ["mh", "mr", "mmr"])
def test_pages_come_back_with_their_pixels_and_resolution(document, coding):
    back = read_tiff_f(write_tiff_f(document, coding))
    assert [p.resolution for p in back] == [p.resolution for p in document]
    for got, want in zip(back, document, strict=True):
        assert_same_page(got.pixels, want.pixels)


def test_profile_s_tags(document):
    data = write_tiff_f(document)
    assert data[:4] == b"II*\x00"
    for number, (tags, page) in enumerate(zip(tags_of(data), document, strict=True)):
        assert tags[254] == 2  # NewSubfileType: a page of a multi-page document
        assert (tags[256], tags[257]) == (1728, page.lines)
        assert tags[258] == (1,) or tags[258] == 1
        assert tags[259] == 3  # Group 3 ...
        assert tags[292] == 0  # ... one-dimensional (MH)
        assert tags[262] == 0  # 0 is white
        assert tags[266] == 2  # line order
        assert tags[277] == 1 and tags[278] == page.lines and len(tags[273]) == 1
        assert (float(tags[282]), float(tags[283])) == (204.0, float(page.y_dpi))
        assert tags[296] == 2  # inches
        assert tags[297] == (number, len(document))


def test_ifds_come_in_page_order_each_before_its_strip(document):
    data = write_tiff_f(document)
    offset = struct.unpack_from("<I", data, 4)[0]
    previous_end = 0
    for _ in document:
        assert offset >= previous_end and offset % 2 == 0
        count = struct.unpack_from("<H", data, offset)[0]
        entries = {
            struct.unpack_from("<H", data, offset + 2 + 12 * i)[0]: offset + 2 + 12 * i
            for i in range(count)
        }
        strip_at = struct.unpack_from("<I", data, entries[273] + 8)[0]
        strip_size = struct.unpack_from("<I", data, entries[279] + 8)[0]
        assert strip_at > offset
        previous_end = strip_at + strip_size
        offset = struct.unpack_from("<I", data, offset + 2 + 12 * count)[0]
    assert offset == 0 and previous_end == len(data)


@pytest.mark.peer
@pytest.mark.parametrize("coding", ["mh", "mr", "mmr"])
def test_tiffinfo_reads_every_page_without_errors_or_warnings(peers, document, coding):
    peers.write("doc.tif", write_tiff_f(document, coding, line_errors=[(0, 0), (7, 3), (0, 0)]))
    result = peers.run("tiffinfo", "-D", "doc.tif")  # -D: decode the image data too
    assert result.stderr == b""
    report = result.stdout.decode()
    assert report.count("TIFF Directory") == 3
    assert "Bad Fax Lines: 7" in report and "Consecutive Bad Fax Lines: 3" in report


@pytest.mark.peer
@pytest.mark.parametrize("coding", ["mh", "mr", "mmr"])
def test_tiffcp_copies_it_silently_and_tiffcmp_finds_the_copy_identical(peers, document, coding):
    peers.write("doc.tif", write_tiff_f(document, coding))
    copied = peers.run("tiffcp", "doc.tif", "copy.tif")
    assert copied.stderr == b""
    compared = peers.run("tiffcmp", "doc.tif", "copy.tif")
    assert b"differ" not in compared.stdout.lower()
    assert len(read_tiff_f(peers.path("copy.tif").read_bytes())) == 3


@pytest.mark.peer
@pytest.mark.parametrize("coding", ["mh", "mr", "mmr"])
def test_pillow_reads_every_page_identically(document, coding):
    pages = pillow_pages(write_tiff_f(document, coding))
    assert len(pages) == len(document)
    for got, want in zip(pages, document, strict=True):
        assert_same_page(got, want.pixels)


@pytest.mark.peer
def test_we_read_pillows_g3_and_g4_tiffs_in_strips_and_min_is_black():
    page = chart(3)
    for compression in ("group3", "group4"):
        buffer = io.BytesIO()
        Image.fromarray(~page).save(buffer, format="TIFF", compression=compression)
        (got,) = read_tiff_f(buffer.getvalue())
        assert_same_page(got.pixels, page)


@pytest.mark.peer
def test_we_read_big_endian_files(peers, document):
    peers.write("doc.tif", write_tiff_f(document[:2], "mr"))
    peers.run("tiffcp", "-B", "doc.tif", "big.tif")
    assert peers.path("big.tif").read_bytes()[:2] == b"MM"
    back = read_tiff_f(peers.path("big.tif").read_bytes())
    for got, want in zip(back, document[:2], strict=True):
        assert_same_page(got.pixels, want.pixels)
        assert got.resolution == want.resolution


def test_wider_pages_and_superfine_are_written_too():
    pages = [Page(generated("halftone", 2048), "superfine"), Page(generated("text", 2432), "fine")]
    back = read_tiff_f(write_tiff_f(pages, "mmr"))
    assert [(p.width, p.resolution) for p in back] == [(2048, "superfine"), (2432, "fine")]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GIF89a",
        b"II*\x00\xff\xff\xff\xff",
        b"MM\x00*\x00\x00\x00\x08\x00",
        b"II+\x00" + bytes(12),
    ],
)
def test_what_is_not_a_fax_tiff_is_refused_with_codec_error(data):
    with pytest.raises(CodecError):
        read_tiff_f(data)


def test_writer_refuses_no_pages_and_odd_widths():
    with pytest.raises(CodecError):
        write_tiff_f([])
    with pytest.raises(CodecError):
        write_tiff_f([Page(np.zeros((10, 1000), bool))])


@settings(max_examples=200, deadline=None)
@given(cuts=st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 255)), max_size=6))
def test_damaged_files_give_pages_or_codec_error(cuts):
    data = bytearray(write_tiff_f([Page(generated("random", 1728), "fine")] * 2, "mr"))
    for at, value in cuts:
        if at < len(data):
            data[at] = value
    try:
        pages = read_tiff_f(bytes(data))
    except CodecError:
        return
    assert all(p.pixels.dtype == bool and p.pixels.ndim == 2 for p in pages)
