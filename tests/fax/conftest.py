"""Two machines on one line, driven through the panel: the main machine (5551234) and "branch"
(5559876), with what each scanned, received and journalled kept for the tests to look at."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import need_testdata  # tests/conftest.py (tests/ is on sys.path)
from PIL import Image

from estudio190f.firmware.fax.receiving import ReceivedDocument
from estudio190f.firmware.fax_call import CallResult
from estudio190f.firmware.page import Page
from estudio190f.panel.pytest_plugin import FaxDriver

BRANCH = "5559876"
MAIN = "5551234"


class Station:
    """One machine with what it scanned to send, received, and the results of its calls."""

    def __init__(self, driver: FaxDriver) -> None:
        self.driver = driver
        self.scanned: list[tuple[int | None, int, Page]] = []
        self.documents: list[ReceivedDocument] = []
        self.results: list[tuple[str, CallResult]] = []
        fax = driver.firmware.fax
        fax.scanned.add(lambda f, n, p: self.scanned.append((f, n, p)))
        fax.documents.add(self.documents.append)
        fax.calls.add(lambda kind, r: self.results.append((kind, r)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.driver, name)

    def set(self, **settings: Any) -> None:
        """Settings as a settings file would give them (`modem_coding="mr"`)."""
        for key, value in settings.items():
            self.driver.firmware.settings.set(key.replace("_", ".", 1), value)

    def journal(self) -> list[Any]:
        return self.driver.firmware.journal.entries()

    def journal_lines(self) -> list[str]:
        return [e.line() for e in self.journal()]

    def scanned_pages(self) -> list[Page]:
        return [p for _, _, p in self.scanned]

    def received_pages(self) -> list[Page]:
        return [p for d in self.documents for p in d.images]

    def events_all(self) -> list[dict[str, Any]]:
        return list(self.driver.events)

    def events(self, src: str, ev: str) -> list[dict[str, Any]]:
        return [e for e in self.driver.events if e["src"] == src and e["ev"] == ev]


@pytest.fixture
def link(fax: FaxDriver) -> tuple[Station, Station]:
    """(main, branch): main sends to branch unless a test says otherwise."""
    branch = fax.device("branch", BRANCH)
    return Station(fax), Station(branch)


@pytest.fixture
def charts() -> Callable[..., list[Path]]:
    def paths(*numbers: int) -> list[Path]:
        return [need_testdata("ccitt", f"itu{n}.pbm") for n in numbers]

    return paths


def blank_page(tmp_path: Path, name: str, lines: int = 600, marks: int = 1) -> Path:
    """A short page (1728 wide, square pels, so 216 x 75 mm) with `marks` black bars: quick to
    scan and send, and each page tells which it is by its bars."""
    pixels = np.ones((lines, 1728), dtype=np.uint8) * 255
    for i in range(marks):
        top = 40 + i * 40
        pixels[top : top + 20, 1000:1400] = 0  # right of where the transmit header's text ends
    path = tmp_path / f"{name}.png"
    Image.fromarray(pixels, "L").convert("1").save(path)
    return path


def bars(pixels: np.ndarray) -> int:
    """How many separate black bars a page carries in the column where `blank_page` draws them."""
    column = pixels[:, 1200].astype(np.int8)
    return int((np.diff(column) == 1).sum() + (column[0] == 1))


def same(received: Page, scanned: Page, skip_rows: int = 0) -> bool:
    """Pixel for pixel, the received page's rows after `skip_rows` equal the scanned page."""
    body = received.pixels[skip_rows:]
    return body.shape == scanned.pixels.shape and bool((body == scanned.pixels).all())
