"""Two machines on one line, driven through the panel: the main machine (5551234) and "branch"
(5559876), with what each scanned, received and journalled kept for the tests to look at."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import REQUIRE_PEERS, need_testdata  # tests/conftest.py (tests/ is on sys.path)
from PIL import Image

from estudio190f.firmware.fax.receiving import ReceivedDocument
from estudio190f.firmware.fax_call import CallResult
from estudio190f.firmware.page import Page
from estudio190f.hw.spandsp import SpanDspMissing, load_spandsp
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


# -- the line each test's calls travel on ---------------------------------------------------------
# The audio line (issue 16): every test here that puts a machine on the line runs twice, the second
# time with every call carried as 8 kHz sound through SpanDSP's modems (`--line audio`); the T.30
# engine and the modem are the same on either line. The audio runs are marked slow (CI runs them).
# ESTUDIO190F_FAX_LINE=audio runs every test on the audio line alone. These stay on the signal line:
SIGNAL_ONLY = {
    # the audio line's noise is a signal-to-noise ratio, not a bit-error rate per modulation:
    # its fallback (one step, at the SNR of docs/audio.md) is tests/audio/test_machine_line.py's
    "test_a_noisy_line_falls_back_and_still_delivers_every_pixel",
    # `line.impair` sets bit-error rates on signals, which the audio line does not carry
    "test_a_spoiled_page_is_refused_and_sent_again_slower",
    # it reads the far end's journal at the instant the caller shows COMM. ERROR; on the audio line
    # the far end's line drops when the caller's last sound has reached it (150 ms later)
    "test_the_polling_password_must_match",
    # a race between the scanner (11 s a page) and the far end's T2 that the audio line's later
    # recognition of each signal (about 1.5 s over the call) tips the other way
    "test_a_direct_transmission_that_outruns_the_scanner_loses_and_doubles_nothing",
}
ALL_AUDIO = os.environ.get("ESTUDIO190F_FAX_LINE") == "audio"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "line_mode" not in metafunc.fixturenames:
        return
    if ALL_AUDIO:
        metafunc.parametrize("line_mode", ["audio"], indirect=True)
    elif metafunc.function.__name__ not in SIGNAL_ONLY:
        audio = pytest.param("audio", marks=pytest.mark.slow)
        metafunc.parametrize("line_mode", ["signal", audio], indirect=True)


@pytest.fixture
def line_mode(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "signal"))


@pytest.fixture
def fax(fax_factory: Callable[..., FaxDriver], line_mode: str) -> FaxDriver:
    """The machine under test, on the line of `line_mode`."""
    if line_mode == "audio":
        need_spandsp()
    return fax_factory(line=line_mode)


def need_spandsp() -> None:
    try:
        load_spandsp()
    except SpanDspMissing as exc:
        if REQUIRE_PEERS:
            pytest.fail(f"{exc} (.ci/run installs it)")
        pytest.skip(str(exc))
