"""Helpers for tests against the real peers: libtiff (through Pillow and libtiff-tools) and
netpbm, run as programs in a temporary folder."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
from conftest import need_program  # tests/conftest.py (tests/ is on sys.path)
from PIL import Image


class Peers:
    """Runs peer programs in a folder; a failure shows the program's stderr."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def run(self, *argv: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        need_program(str(argv[0]))
        result = subprocess.run(
            [str(a) for a in argv], input=stdin, capture_output=True, cwd=self.folder, timeout=30
        )
        stderr = result.stderr.decode(errors="replace")[-2000:]
        assert result.returncode == 0, f"{argv[0]} failed: {stderr}"
        return result

    def path(self, name: str) -> Path:
        return self.folder / name

    def write(self, name: str, data: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(data)
        return path


def assert_same_page(got: np.ndarray, want: np.ndarray) -> None:
    """Pixel-identical, with a message that says where it is not."""
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    rows = np.nonzero((got != want).any(axis=1))[0]
    assert rows.size == 0, f"{rows.size} lines differ, the first is line {rows[0]}"


def pillow_pages(data: bytes) -> list[np.ndarray]:
    """Every page of a TIFF as Pillow (libtiff) decodes it, True = black."""
    pages = []
    with Image.open(io.BytesIO(data)) as image:
        for index in range(image.n_frames):
            image.seek(index)
            pages.append(~np.asarray(image.convert("1"), dtype=bool))
    return pages


def read_pbm(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return ~np.asarray(image, dtype=bool)


def write_pbm(path: Path, page: np.ndarray) -> Path:
    Image.fromarray(~page).save(path, format="PPM")
    return path


def libtiff_strip(page: np.ndarray, compression: str, t4_options: int | None = None) -> bytes:
    """The single strip libtiff (through Pillow) codes `page` into: MSB first, no RTC, T.4
    colours (Pillow writes min-is-black, so it is handed the page's own bits: 1 = black = the
    code's black runs)."""
    extra = {"tiffinfo": {292: t4_options}} if t4_options is not None else {}
    buffer = io.BytesIO()
    Image.fromarray(page).save(
        buffer, format="TIFF", compression=compression, strip_size=1 << 30, **extra
    )
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as image:
        assert image.tag_v2[262] == 1, "Pillow no longer writes min-is-black: revisit this helper"
        offsets, counts = image.tag_v2[273], image.tag_v2[279]
    assert len(offsets) == 1
    return data[offsets[0] : offsets[0] + counts[0]]
