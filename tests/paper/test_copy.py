"""COPY: scan to memory, then print; the ITU charts at each resolution; STOP, MEMORY FULL,
faults during a copy, bad documents and power cuts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from estudio190f.firmware.copy import CopyJob
from estudio190f.firmware.image_memory import compress
from estudio190f.firmware.journal import Journal
from estudio190f.firmware.paper import PaperHandling
from estudio190f.hw.clock import SECOND
from estudio190f.hw.document import Sheet
from estudio190f.hw.printer import WARM_UP

from .conftest import Rig, View, bars_counted, numbered_page

# Least pixel agreement of a copy with its source, per resolution (measured: docs/paper.md).
AGREEMENT = {"standard": 0.97, "fine": 0.995, "superfine": 0.985, "photo": 0.995}


def agreement(printed: np.ndarray, source: np.ndarray) -> float:
    """Share of equal pixels once the source is brought to the printed sheet's grid.

    The chart is 216 x 297 mm; an A4 sheet shows its middle 210 mm (1680 of 1728 pels) and
    2287 lines at 7.7 lines/mm: the source's 2376 rows are sampled at the sheet's lines.
    """
    rows = ((np.arange(printed.shape[0]) + 0.5) * source.shape[0] / printed.shape[0]).astype(int)
    left = (source.shape[1] - printed.shape[1]) // 2
    expected = source[rows][:, left : left + printed.shape[1]]
    return float((printed == expected).mean())


@pytest.mark.parametrize("resolution", ["standard", "fine", "superfine", "photo"])
@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_a_copy_of_an_itu_chart_matches_it(chart, number: int, resolution: str) -> None:
    rig = Rig(paper_size="a4")
    path = chart(number)
    rig.load(path)
    result = rig.copy(1, resolution)
    assert result.status == "COMPLETED" and result.sheets == 1
    printed = rig.engine.tray[0].pixels
    source = ~np.asarray(Image.open(path), dtype=bool)
    assert printed.shape == (2287, 1680)
    assert agreement(printed, source) >= AGREEMENT[resolution]


def test_copies_are_collated_sets(rig: Rig) -> None:
    rig.feeder.load([Sheet.from_pixels(numbered_page(n), 216, 275, f"p{n}") for n in (1, 2)])
    result = rig.copy(3, "standard")
    assert result.sheets == 6
    assert rig.printed_meta() == [(c, p, 1) for c in (1, 2, 3) for p in (1, 2)]
    assert [bars_counted(s.pixels) for s in rig.engine.tray] == [1, 2] * 3
    assert rig.paper.memory.count() == 0


def test_the_lcd_shows_scanning_then_copying(rig: Rig, chart) -> None:
    rig.load(chart(1))
    view = View(rig.board)
    job, results = rig.copy_job()
    job.start(view, 2, "fine")
    rig.run(600 * SECOND, until=lambda: bool(results))
    words = [a for a, _ in view.shown]
    assert words[0] == "SCANNING" and "COPYING" in words
    assert words.index("COPYING") > words.index("SCANNING")
    assert ("COPYING", "PAGE 1/1 COPY 2/2") in view.shown
    assert view.finished == ("", "")


def test_no_document_says_so(rig: Rig) -> None:
    view = View(rig.board)
    job, results = rig.copy_job()
    job.start(view, 1)
    assert results[0].status == "NO DOCUMENT" and view.finished[0] == "NO DOCUMENT"


def test_stop_while_scanning_leaves_nothing_in_memory(rig: Rig) -> None:
    rig.feeder.load([Sheet.from_pixels(numbered_page(n), 216, 275, f"p{n}") for n in (1, 2, 3)])
    view = View(rig.board)
    job, results = rig.copy_job()
    job.start(view, 1, "fine")
    rig.run(9 * SECOND)  # page 1 is in memory, page 2 is being read
    assert job.pages == 1
    job.cancel()
    rig.run(60 * SECOND, until=lambda: bool(results))
    assert results[0].status == "CANCELLED"
    assert rig.paper.memory.count() == 0 and rig.paper.queue.jobs() == []
    assert rig.engine.delivered_count() == 0
    assert view.finished == ("COPY", "CANCELLED")


def test_stop_while_scanning_can_keep_the_pages(rig: Rig) -> None:
    rig.feeder.load([Sheet.from_pixels(numbered_page(n), 216, 275, f"p{n}") for n in (1, 2, 3)])
    job, results = rig.copy_job()
    job.start(View(rig.board), 1, "fine")
    rig.run(9 * SECOND)
    job.cancel(keep=True)
    rig.run(60 * SECOND, until=lambda: bool(results))
    assert results[0].status == "KEPT"
    (held,) = rig.paper.queue.jobs()
    assert held.state == "held" and rig.paper.memory.count() == 1
    rig.paper.queue.release(held.id)
    rig.run(60 * SECOND, until=lambda: rig.engine.delivered_count() == 1)
    assert [bars_counted(s.pixels) for s in rig.engine.tray] == [1]


def test_stop_while_printing_finishes_the_sheet_in_the_path_only(rig: Rig) -> None:
    rig.feeder.load([Sheet.from_pixels(numbered_page(1), 216, 275, "p1")])
    job, results = rig.copy_job()
    job.start(View(rig.board), 5, "standard")
    rig.run(120 * SECOND, until=lambda: rig.engine.delivered_count() == 1)
    job.cancel()
    rig.run(120 * SECOND, until=lambda: bool(results))
    rig.run(30 * SECOND)
    assert results[0].status == "CANCELLED"
    assert rig.engine.delivered_count() == 2  # the one already picked comes out whole
    assert rig.paper.memory.count() == 0 and rig.paper.queue.jobs() == []


def noisy_sheets(count: int) -> list[Sheet]:
    rng = np.random.default_rng(7)
    return [
        Sheet.from_pixels(rng.random((1100, 1728)) < 0.3, 216, 140, f"n{i}") for i in range(count)
    ]


@pytest.mark.parametrize("keep", [True, False])
def test_memory_full_keeps_or_discards_what_fit(rig: Rig, keep: bool) -> None:
    # Room for one and a half noisy pages, whatever the coding makes of them.
    sample: list = []
    rig.feeder.load(noisy_sheets(1))
    rig.paper.scan.start("fine", "normal", lambda p, s: sample.append(p) or True, lambda r: None)
    rig.run(60 * SECOND, until=lambda: bool(sample))
    page_bytes = len(compress(sample[0].pixels))
    rig.settings.set("memory.size_kb", max(256, page_bytes * 3 // 2 // 1024))
    rig.feeder.load(noisy_sheets(4))
    view = View(rig.board)
    job, results = rig.copy_job()
    job.start(view, 1, "fine")
    rig.run(300 * SECOND, until=lambda: job.scan is not None and job.scan.phase == "memory_full")
    assert view.lcd.text(1).strip() == "MEMORY FULL"
    stored = job.pages
    assert 1 <= stored < 4
    assert len(rig.feeder.tray) == 4 - stored - 1  # the rest stay in the feeder
    if keep:
        assert job.key("START") is True
    else:
        job.cancel()
    rig.run(300 * SECOND, until=lambda: bool(results))
    assert rig.engine.delivered_count() == (stored if keep else 0)
    assert results[0].status == ("COMPLETED" if keep else "MEMORY FULL")
    assert rig.paper.memory.count() == 0


def test_a_paper_jam_during_a_copy_shows_and_resumes(rig: Rig) -> None:
    rig.feeder.load([Sheet.from_pixels(numbered_page(n), 216, 275, f"p{n}") for n in (1, 2, 3)])
    view = View(rig.board)
    job, results = rig.copy_job()
    job.start(view, 2, "standard")
    rig.run(600 * SECOND, until=lambda: rig.engine.delivered_count() == 2)
    rig.board.faults.set("printer.jam")
    rig.run(60 * SECOND, until=lambda: view.lcd.text(1).startswith("PAPER JAM"))
    assert view.lcd.text(2).strip() == "REMOVE PAPER" and "fault" in view.states
    rig.board.faults.clear("printer.jam")
    rig.run(600 * SECOND, until=lambda: bool(results))
    assert results[0].status == "COMPLETED"
    assert rig.printed_meta() == [(c, p, 1) for c in (1, 2) for p in (1, 2, 3)]


def test_a_document_jam_during_a_copy_resumes_with_that_document(rig: Rig) -> None:
    rig.feeder.load([Sheet.from_pixels(numbered_page(n), 216, 275, f"p{n}") for n in (1, 2, 3)])
    view = View(rig.board)
    job, results = rig.copy_job()
    job.start(view, 1, "fine")
    rig.run(9 * SECOND)
    rig.board.faults.set("adf.jam")
    rig.run(60 * SECOND, until=lambda: view.lcd.text(1).startswith("DOCUMENT JAM"))
    rig.board.faults.clear("adf.jam")
    rig.run(600 * SECOND, until=lambda: bool(results))
    assert [bars_counted(s.pixels) for s in rig.engine.tray] == [1, 2, 3]


def test_an_unreadable_document_is_reported_and_the_others_copied(rig: Rig, tmp_path: Path) -> None:
    journal = Journal(rig.board.nvram, lambda: "01-01-2026 09:00")
    bad = tmp_path / "scan.tif"
    bad.write_bytes(b"II*\x00garbage")
    rig.feeder.load([Sheet.from_pixels(numbered_page(1), 216, 275, "p1")])
    rig.load(bad)
    rig.feeder.load([Sheet.from_pixels(numbered_page(2), 216, 275, "p2")])
    view = View(rig.board)
    results: list = []
    job = CopyJob(rig.paper, rig.settings, journal=journal, on_result=results.append)
    job.start(view, 1, "fine")
    rig.run(600 * SECOND, until=lambda: bool(results))
    assert view.saw("CHECK DOCUMENT")
    assert results[0].unreadable == ["scan.tif"]
    assert [bars_counted(s.pixels) for s in rig.engine.tray] == [1, 2]
    assert view.finished == ("CHECK DOCUMENT", "1 NOT COPIED")
    entries = journal.entries()
    assert [(e.kind, e.result) for e in entries] == [("COPY", "CHECK DOCUMENT")] * 2


def test_a_power_cut_while_copying_loses_no_page(rig: Rig) -> None:
    rig.feeder.load([Sheet.from_pixels(numbered_page(n), 216, 275, f"p{n}") for n in (1, 2)])
    job, _ = rig.copy_job()
    job.start(View(rig.board), 2, "standard")
    rig.run(600 * SECOND, until=lambda: rig.engine.delivered_count() == 1)
    rig.board.power_off()  # three sheets still to print
    rig.paper.detach()
    rig.board.power_on()
    rig.run(WARM_UP)
    fresh = PaperHandling(rig.board, rig.settings)
    fresh.queue.recover()
    rig.board.faults.clear("printer.jam")  # whatever was left in the path
    rig.run(600 * SECOND, until=lambda: rig.engine.delivered_count() == 4)
    rig.run(30 * SECOND)
    assert rig.printed_meta() == [(c, p, 1) for c in (1, 2) for p in (1, 2)]
    assert fresh.memory.count() == 0


def test_a_power_cut_while_scanning_prints_what_was_scanned(rig: Rig) -> None:
    rig.feeder.load([Sheet.from_pixels(numbered_page(n), 216, 275, f"p{n}") for n in (1, 2, 3)])
    job, _ = rig.copy_job()
    job.start(View(rig.board), 1, "fine")
    rig.run(9 * SECOND)  # page 1 in memory, page 2 in the feeder's path
    rig.board.power_off()
    rig.paper.detach()
    rig.board.power_on()
    rig.run(WARM_UP)
    fresh = PaperHandling(rig.board, rig.settings)
    fresh.queue.recover()
    assert fresh.scan.check_path() is True  # page 2's document is stuck in the path
    rig.run(120 * SECOND, until=lambda: rig.engine.delivered_count() == 1)
    assert [bars_counted(s.pixels) for s in rig.engine.tray] == [1]
    rig.board.faults.clear("adf.jam")
    assert len(rig.feeder.tray) == 2  # pages 2 and 3 wait for the next COPY


def test_copy_from_the_panel_with_the_main_firmware() -> None:
    from estudio190f.firmware.machine import Firmware
    from estudio190f.hw.board import Board
    from estudio190f.hw.clock import MS, Clock

    clock = Clock()
    board = Board(clock)  # builds the feeder, the scanner and the printer
    feeder = board.feeder
    Firmware(board)  # builds and connects the paper handling
    board.power_on()
    clock.advance(WARM_UP + SECOND)
    feeder.load([Sheet.from_pixels(numbered_page(n), 216, 275, f"p{n}") for n in (1, 2)])
    lcd, leds = board.panel.lcd, board.panel.leds
    seen: set[str] = set()
    clock.after_event.append(lambda: seen.add(lcd.text(1).strip()))

    def press(key: str) -> None:
        board.panel.keys.press(key)
        clock.advance(100 * MS)
        board.panel.keys.release(key)
        clock.run_due()

    for key in ("COPY", "2", "START"):
        press(key)
    clock.advance(12 * SECOND)  # scanned; the first sheet on its way
    board.faults.set("printer.jam")
    clock.advance(30 * SECOND)
    assert lcd.text(1).startswith("PAPER JAM") and leds["ALARM"].state == "on"
    assert leds["MEMORY"].state == "on"
    board.faults.clear("printer.jam")
    clock.advance(300 * SECOND)
    assert {"SCANNING", "COPYING", "PAPER JAM"} <= seen
    assert [bars_counted(s.pixels) for s in board.printer.tray] == [1, 2, 1, 2]
    assert lcd.text(2).strip() == "COPY READY"
    assert leds["ALARM"].state == "off" and leds["MEMORY"].state == "off"
