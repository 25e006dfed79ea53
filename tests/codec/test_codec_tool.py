"""`estudio190f codec encode|decode` (DESIGN.md 3.1), driven through the tool's own entry
point (`add_arguments` + `run`, which panel/cli.py wires under `codec`)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from codec.peers import assert_same_page, pillow_pages, read_pbm, write_pbm
from codec.samples import chart, generated
from codec.test_codec_roundtrip import eol_ends, stream_bits
from estudio190f.firmware.codec import decode
from estudio190f.firmware.page import Page
from estudio190f.firmware.tiff_f import read_tiff_f, write_tiff_f
from estudio190f.panel import codec_tool


def tool(*argv) -> int:
    parser = argparse.ArgumentParser(prog="estudio190f codec")
    codec_tool.add_arguments(parser)
    return codec_tool.run(parser.parse_args([str(a) for a in argv]))


@pytest.fixture
def itu1(tmp_path):
    return write_pbm(tmp_path / "itu1.pbm", chart(1))


@pytest.mark.peer
def test_a_g3_file_is_in_line_order_as_fax2tiff_reads_by_default(peers, itu1):
    assert tool("encode", itu1, peers.path("page.g3")) == 0
    peers.run("fax2tiff", "-u", "-o", "out.tif", "page.g3")
    (got,) = pillow_pages(peers.path("out.tif").read_bytes())
    assert_same_page(got[:2376], chart(1))


@pytest.mark.peer
def test_msb_first_is_what_fax2tiff_dash_m_reads(peers, itu1):
    assert tool("encode", "--msb-first", "--coding", "mr", itu1, peers.path("page.t4")) == 0
    peers.run("fax2tiff", "-M", "-2", "-u", "-o", "out.tif", "page.t4")
    (got,) = pillow_pages(peers.path("out.tif").read_bytes())
    assert_same_page(got[:2376], chart(1))


def test_g4_files_are_mmr_and_decode_back_to_the_same_image(tmp_path, itu1, capsys):
    assert tool("encode", itu1, tmp_path / "page.g4") == 0
    result = decode((tmp_path / "page.g4").read_bytes(), "mmr")
    assert result.rtc_seen
    assert tool("decode", tmp_path / "page.g4", tmp_path / "back.pbm") == 0
    assert_same_page(read_pbm(tmp_path / "back.pbm"), chart(1))
    assert "2376 lines, 0 bad" in capsys.readouterr().out


def test_mr_with_k_4(tmp_path, itu1):
    assert tool("encode", "--coding", "mr", "--k", "4", itu1, tmp_path / "page.t4") == 0
    bits = stream_bits((tmp_path / "page.t4").read_bytes())
    assert list(bits[eol_ends(bits)][:8]) == [1, 0, 0, 0, 1, 0, 0, 0]
    assert tool("decode", "--coding", "mr", tmp_path / "page.t4", tmp_path / "back.png") == 0
    with Image.open(tmp_path / "back.png") as image:
        assert_same_page(~np.asarray(image, dtype=bool), chart(1))


def test_a_tif_out_is_tiff_class_f_with_every_page(tmp_path):
    pages = [generated("text", 1728), generated("halftone", 1728)]
    frames = [Image.fromarray(~p) for p in pages]
    frames[0].save(tmp_path / "two.tif", save_all=True, append_images=frames[1:], dpi=(204, 98))
    assert tool("encode", tmp_path / "two.tif", tmp_path / "fax.tif") == 0
    back = read_tiff_f((tmp_path / "fax.tif").read_bytes())
    assert [p.resolution for p in back] == ["standard", "standard"]
    for got, want in zip(back, pages, strict=True):
        assert_same_page(got.pixels, want)


def test_decoding_a_fax_tiff_to_png_keeps_the_resolution(tmp_path):
    (tmp_path / "in.tif").write_bytes(write_tiff_f([Page(chart(2), "fine")]))
    assert tool("decode", tmp_path / "in.tif", tmp_path / "out.png") == 0
    with Image.open(tmp_path / "out.png") as image:
        assert image.size == (1728, 2376)
        assert [round(v) for v in image.info["dpi"]] == [204, 196]
        assert_same_page(~np.asarray(image, dtype=bool), chart(2))


def test_raw_stream_of_another_width(tmp_path):
    page = generated("columns", 2432)
    write_pbm(tmp_path / "wide.pbm", page)
    assert tool("encode", tmp_path / "wide.pbm", tmp_path / "wide.g3") == 0
    assert tool("decode", "--width", "2432", tmp_path / "wide.g3", tmp_path / "back.pbm") == 0
    assert_same_page(read_pbm(tmp_path / "back.pbm"), page)


def test_grey_pixels_are_thresholded_not_dithered(tmp_path):
    grey = np.full((40, 1728), 100, np.uint8)
    grey[:, :864] = 200
    Image.fromarray(grey).save(tmp_path / "grey.png")
    assert tool("encode", tmp_path / "grey.png", tmp_path / "grey.g3") == 0
    result = decode((tmp_path / "grey.g3").read_bytes())
    assert not result.pixels[:, :864].any() and result.pixels[:, 864:].all()


def test_a_page_of_another_width_is_refused(tmp_path, capsys):
    Image.new("1", (1700, 30), 1).save(tmp_path / "a4ish.png")
    assert tool("encode", tmp_path / "a4ish.png", tmp_path / "out.g3") == 2
    message = capsys.readouterr().err
    assert "1700" in message and "1728" in message and "resample" in message
    assert not (tmp_path / "out.g3").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["encode", "missing.pbm", "out.g3"],
        ["encode", "itu1.pbm", "out.jpg"],
        ["decode", "missing.g3", "out.pbm"],
        ["decode", "itu1.pbm", "out.png"],
        ["decode", "garbage.g3", "out.png"],
        ["encode", "garbage.png", "out.g3"],
    ],
)
def test_mistakes_exit_2_with_a_message(tmp_path, itu1, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "garbage.g3").write_bytes(b"\xff" * 100)
    (tmp_path / "garbage.png").write_bytes(b"not a png at all")
    assert tool(*argv) == 2
    assert capsys.readouterr().err.startswith("estudio190f codec")


def test_several_pages_do_not_go_into_one_raw_stream(tmp_path, capsys):
    (tmp_path / "two.tif").write_bytes(write_tiff_f([Page(chart(1)), Page(chart(2))]))
    assert tool("encode", tmp_path / "two.tif", tmp_path / "out.g3") == 2
    assert "2 pages" in capsys.readouterr().err


def test_decode_reports_bad_lines(tmp_path, itu1, capsys):
    assert tool("encode", itu1, tmp_path / "page.g3") == 0
    data = bytearray((tmp_path / "page.g3").read_bytes())
    data[len(data) // 2] ^= 0x24
    (tmp_path / "bad.g3").write_bytes(bytes(data))
    assert tool("decode", tmp_path / "bad.g3", tmp_path / "bad.pbm") == 0
    out = capsys.readouterr().out
    assert "bad" in out and "0 bad" not in out


def test_python_dash_m_runs_the_same_tool(tmp_path, itu1):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "estudio190f.panel.codec_tool",
            "encode",
            str(itu1),
            str(tmp_path / "p.g4"),
        ],
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert decode((tmp_path / "p.g4").read_bytes(), "mmr").lines == 2376
