"""Files become originals: sizes from the file's resolution, every page of a TIFF, bad files."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from estudio190f.panel.documents import load_sheets

from .conftest import save_png


def test_a_missing_file_is_the_callers_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_sheets(tmp_path / "nothing.png")


def test_without_a_resolution_the_image_spans_the_scan_width(chart) -> None:
    (sheet,) = load_sheets(chart(1))
    assert sheet.readable
    assert sheet.width_mm == pytest.approx(216.0)
    assert sheet.length_mm == pytest.approx(297.0)  # 2376 square pels at 8/mm: A4


def test_a_png_at_200_dpi_is_letter_sized(tmp_path: Path) -> None:
    black = np.zeros((2200, 1700), dtype=bool)
    (sheet,) = load_sheets(save_png(tmp_path / "letter.png", black, dpi=(200, 200)))
    assert sheet.width_mm == pytest.approx(215.9, abs=0.1)
    assert sheet.length_mm == pytest.approx(279.4, abs=0.1)


def test_a_narrow_original_keeps_its_size(tmp_path: Path) -> None:
    black = np.zeros((826, 583), dtype=bool)  # A6 at 100 dpi
    (sheet,) = load_sheets(save_png(tmp_path / "a6.png", black, dpi=(100, 100)))
    assert sheet.width_mm == pytest.approx(148.1, abs=0.3)


def test_an_original_wider_than_the_feeder_is_scaled_to_its_width(tmp_path: Path) -> None:
    black = np.zeros((3300, 2550), dtype=bool)  # Letter at 300 dpi claimed as 72 dpi
    (sheet,) = load_sheets(save_png(tmp_path / "wide.png", black, dpi=(72, 72)))
    assert sheet.width_mm == pytest.approx(216.0)
    assert sheet.length_mm == pytest.approx(216.0 * 3300 / 2550)


def test_every_page_of_a_multipage_tiff_is_a_sheet(tmp_path: Path) -> None:
    pages = [Image.fromarray(np.full((1100, 1728), 255 - 80 * i, dtype=np.uint8)) for i in range(3)]
    path = tmp_path / "three.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:], dpi=(204, 98))
    sheets = load_sheets(path)
    assert [s.name for s in sheets] == ["three.tif#1", "three.tif#2", "three.tif#3"]
    assert all(s.readable for s in sheets)
    # 1100 lines at 98 dpi: 285 mm; 1728 pels at 204 dpi: 215 mm.
    assert sheets[0].length_mm == pytest.approx(285.1, abs=0.2)
    assert sheets[0].width_mm == pytest.approx(215.2, abs=0.2)
    greys = [int(np.median(s.grey())) for s in sheets]
    assert greys == [255, 175, 95]


def test_a_fax_tiff_without_a_unit_keeps_its_pixel_aspect(tmp_path: Path) -> None:
    path = tmp_path / "fax.tif"
    Image.new("1", (1728, 1100), 1).save(path, tiffinfo={282: 204.0, 283: 98.0, 296: 1})
    (sheet,) = load_sheets(path)
    assert sheet.width_mm == pytest.approx(216.0)
    assert sheet.length_mm == pytest.approx(1100 * 204 / 98 / 8, rel=0.01)


def test_jpeg_greys_are_kept(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 255, 800).astype(np.uint8), (600, 1))
    path = tmp_path / "photo.jpg"
    Image.fromarray(ramp).convert("RGB").save(path, dpi=(100, 100), quality=95)
    (sheet,) = load_sheets(path)
    grey = sheet.grey()
    assert sheet.mode == "L"
    assert grey[:, :50].mean() < 20 and grey[:, -50:].mean() > 235
    assert sheet.width_mm == pytest.approx(203.2, abs=0.2)


def test_transparency_shows_white_paper(tmp_path: Path) -> None:
    path = tmp_path / "clear.png"
    Image.new("RGBA", (400, 400), (0, 0, 0, 0)).save(path)
    (sheet,) = load_sheets(path)
    assert sheet.grey().min() == 255


@pytest.mark.parametrize(
    "name, content",
    [
        ("notes.png", b"this is not an image at all\n"),
        ("empty.pbm", b""),
        ("cut.png", None),  # a real PNG cut in half
    ],
)
def test_a_file_that_is_not_a_readable_image_is_a_sheet_that_says_so(
    tmp_path: Path, name: str, content: bytes | None
) -> None:
    path = tmp_path / name
    if content is None:
        save_png(path, np.random.default_rng(1).random((800, 800)) < 0.5)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(content)
    (sheet,) = load_sheets(path)
    assert not sheet.readable
    assert sheet.problem


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(100_000, 100_000))  # 10 Gpixel declared, 100 bytes on disk
    (sheet,) = load_sheets(path)
    assert not sheet.readable
    assert "bomb" in (sheet.problem or "")


def test_a_zero_size_image_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "zero.pbm"
    path.write_bytes(b"P4\n0 0\n")
    (sheet,) = load_sheets(path)
    assert not sheet.readable
