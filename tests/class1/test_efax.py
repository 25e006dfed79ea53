"""efax through the virtual Class 1 modem, both ways, against the emulator as a user runs it
(`estudio190f run --modem-pty`), the machine driven through its serial console.

Speed factor 5: efax times its own steps in wall seconds. It sleeps 1 s after CONNECT before a
page, wants a page phase of at least a second (it divides by the whole seconds spent) and a
character at least every 5.1 s; at 5x an ITU chart page (fine, MH, 20.8 s on the line) takes
about 4 s, and a call about 10 s. efax still notes "flow control did not work" (it compares the
bytes sent with its wall-clock time), which is only a message.

"Printed" is checked twice: the received page as decoded by the machine (its TIFF in
received/, before the printer's layout) and the sheet the printer delivered (printed/0001.png).
The paper is Legal so that the 12-inch chart is not reduced to fit the sheet.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from conftest import need_program, need_testdata
from PIL import Image

from .peers import (
    MACHINE_NUMBER,
    MODEM_NUMBER,
    Emulator,
    chart,
    chart_png_for_scanner,
    efax_command,
    read_pbm_pages,
    short_dir,
)

pytestmark = [pytest.mark.peer, pytest.mark.slow]

SPEED = 5
SETTINGS = '[scan]\nresolution = "fine"\n[paper]\nsize = "legal"\n'
EFAX_HEADER_ROWS = 28  # efax puts 20 blank rows above the page and its header text on rows 4-27
MACHINE_HEADER_ROWS = 30  # the machine's transmit header band at fine (OUTSIDE: above the page)


@pytest.fixture
def place():
    base = short_dir()
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_efax_sends_a_chart_that_the_machine_prints_pel_for_pel(place) -> None:
    need_program("efax", "efix")
    source = chart(1)
    page = place / "page.tif"
    with open(page, "wb") as out:
        subprocess.run(["efix", "-i", "pbm", "-o", "tiffg3", str(need_testdata("ccitt", "itu1.pbm"))],
                       stdout=out, stderr=subprocess.DEVNULL, check=True)  # fmt: skip
    link = place / "modem"
    emulator = Emulator(place, link, speed=SPEED, settings=SETTINGS)
    try:
        assert f"modem pty {link} number {MODEM_NUMBER}" in emulator.lines
        emulator.console.send("until printed 1 within 15m")
        efax = subprocess.run(
            efax_command(link, "-h", "TEST PAGE %d/%d", "-t", MACHINE_NUMBER, str(page)),
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert efax.returncode == 0, efax.stderr[-4000:]
        assert "received MCF" in efax.stderr
        emulator.console.answer(timeout=60)
        assert any("RX" in line and "OK" in line for line in emulator.console.ask("journal?"))

        # The page as the machine received and decoded it (its TIFF in received/).
        [tiff] = emulator.files("received")
        with Image.open(tiff) as image:
            received = ~np.asarray(image.convert("1"), dtype=bool)
        assert received.shape == (source.shape[0] + 20, 1728)
        assert (received[EFAX_HEADER_ROWS:] == source[8:]).all()
        assert received[4:EFAX_HEADER_ROWS].any(), "efax's header text"
        assert not source[:8].any(), "what the header covers of the chart is white anyway"

        # The sheet the printer delivered: the page at the top of a Legal sheet, 1:1.
        [sheet] = emulator.files("printed")
        with Image.open(sheet) as image:
            printed = np.asarray(image.convert("L")) < 128
        rows, width = received.shape[0], printed.shape[1]
        assert width == 1727 and not source[:, width:].any()
        assert (printed[:rows] == received[:, :width]).all()
        assert (printed[EFAX_HEADER_ROWS:rows] == source[8:, :width]).all()
        assert not printed[rows:].any()
    finally:
        emulator.stop()


def test_the_machine_sends_to_efax_whose_files_decode_to_the_pages_sent(place) -> None:
    """Two pages (charts 1 and 2), so that efax must find each page's end (RTC) to file them
    apart: efax.001 and efax.002."""
    need_program("efax", "efix")
    sources = [chart(1), chart(2)]
    pngs = [chart_png_for_scanner(place / f"chart{n}.png", n) for n in (1, 2)]
    link = place / "modem"
    emulator = Emulator(place, link, speed=SPEED, settings=SETTINGS)
    log_path = place / "efax.log"
    log = open(log_path, "w")  # a file, not a pipe: efax -v writes a lot and must never block
    receiver = subprocess.Popen(
        efax_command(link, "-w", "-iS0=2", "-r", str(place / "fax")),
        stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    try:
        emulator.console.ask(f"adf load {pngs[0]} {pngs[1]}")
        emulator.console.ask("press FAX 5 5 5 0 1 0 0 START")
        emulator.console.ask('until lcd "COMPLETED" within 4m', timeout=120)
        receiver.wait(timeout=60)
        efax_log = log_path.read_text()
        assert receiver.returncode == 0, efax_log[-4000:]
        assert "unexpected response" not in efax_log, "efax missed a page end"
        files = sorted(place.glob("fax.*"))
        assert [f.name for f in files] == ["fax.001", "fax.002"]
        for fax, source in zip(files, sources, strict=True):
            page = read_pbm_pages(fax)
            top = MACHINE_HEADER_ROWS
            bottom = top + source.shape[0]
            assert (page[top:bottom, :1728] == source).all()
            assert page[:top].any(), "the machine's transmit header"
            assert not page[bottom:].any() and not page[:, 1728:].any()
        assert any("TX" in line and "P002 OK" in line for line in emulator.console.ask("journal?"))
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()
        log.close()
        emulator.stop()
