"""Fixtures for the T.38 tests: the ITU chart 1 as a TIFF-F page, and page comparison."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import need_testdata  # tests/conftest.py (tests/ is on sys.path)
from PIL import Image

from estudio190f.firmware.page import Page
from estudio190f.firmware.tiff_f import read_tiff_f, write_tiff_f


@pytest.fixture(scope="session")
def chart_page() -> Page:
    """ITU chart 1 (1728 x 2376) at fine resolution, as a scanner would give it."""
    with Image.open(need_testdata("ccitt", "itu1.pbm")) as image:
        return Page(~np.asarray(image.convert("1"), dtype=bool), "fine")


@pytest.fixture(scope="session")
def chart_tiff(chart_page: Page, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The chart as a TIFF Class F file SpanDSP can send."""
    path = tmp_path_factory.mktemp("chart") / "itu1.tif"
    path.write_bytes(write_tiff_f([chart_page], "mh"))
    return path


def tiff_pages(path: Path) -> list[Page]:
    return read_tiff_f(path.read_bytes()) if path.exists() else []


def same_page(got: Page, want: Page) -> bool:
    """Pixel for pixel, at the same resolution (the tolerance of the other fax tests: none)."""
    return (
        got.resolution == want.resolution
        and got.pixels.shape == want.pixels.shape
        and bool((got.pixels == want.pixels).all())
    )
