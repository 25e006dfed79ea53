"""Fixtures for the T.38 tests: SpanDSP present, the ITU chart 1 as a TIFF-F page, page comparison."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import REQUIRE_PEERS, need_testdata  # tests/conftest.py (tests/ is on sys.path)
from PIL import Image

from estudio190f.firmware.page import Page
from estudio190f.firmware.tiff_f import read_tiff_f, write_tiff_f
from estudio190f.hw.spandsp import SpanDspMissing, load_spandsp


@pytest.fixture
def spandsp() -> None:
    """SpanDSP's library is here (Debian libspandsp2): else skip, or fail where peers are required."""
    try:
        load_spandsp()
    except SpanDspMissing as exc:
        if REQUIRE_PEERS:
            pytest.fail(str(exc))
        pytest.skip(str(exc))


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
