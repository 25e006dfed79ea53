"""The printer as print control drives it: speed, warm-up, faults at each stage, long pages,
and pages in memory that survive a power cut."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from estudio190f.firmware.page import Page
from estudio190f.firmware.paper import PaperHandling
from estudio190f.firmware.print_control import COVER_OPEN, NO_PAPER, PAPER_JAM, layout
from estudio190f.hw.clock import SECOND
from estudio190f.hw.printer import WARM_UP, sheet_lines

from .conftest import Rig, bars_counted, numbered_page


def pages(count: int) -> list[Page]:
    return [Page(numbered_page(n, rows=2100)[::1], "fine") for n in range(1, count + 1)]


def printed_numbers(rig: Rig) -> list[int]:
    return [bars_counted(sheet.pixels) for sheet in rig.engine.tray]


def print_pages(rig: Rig, count: int, limit: int = 600) -> str:
    job = rig.paper.queue.submit(pages(count))
    rig.run(limit * SECOND, until=lambda: rig.engine.delivered_count() >= count)
    return job


def test_sheets_carry_their_pages_in_order(rig: Rig) -> None:
    print_pages(rig, 3)
    assert printed_numbers(rig) == [1, 2, 3]
    assert rig.paper.memory.count() == 0  # printed pages leave memory
    sheet = rig.engine.tray[0]
    assert sheet.pixels.shape == (2287, 1680)  # A4 at 8 x 7.7 dots/mm
    assert sheet.image().size == (1680, 2287)


def test_print_speed_is_ten_letter_sheets_a_minute() -> None:
    rig = Rig(paper_size="letter")
    start = rig.clock.now
    print_pages(rig, 6)
    first_out = float(next(e["t"] for e in rig.board.log.events if e["ev"] == "delivered"))
    last_out = rig.clock.now / SECOND
    per_sheet = (last_out - first_out) / 5
    assert per_sheet == pytest.approx((279.4 + 70) / 60, rel=0.01)  # sheet + pick spacing
    assert first_out - start / SECOND == pytest.approx((200 + 279.4) / 60, rel=0.01)


def test_nothing_prints_before_the_fuser_is_warm() -> None:
    rig = Rig(warm=False)
    rig.paper.queue.submit(pages(1))
    rig.run(WARM_UP - SECOND)
    assert rig.engine.delivered_count() == 0 and not rig.engine.warmed_up
    rig.run(30 * SECOND, until=lambda: rig.engine.delivered_count() == 1)
    assert rig.engine.delivered_count() == 1


def test_no_paper_waits_and_resumes_without_doubling(rig: Rig) -> None:
    rig.engine.load_paper(2)
    rig.paper.queue.submit(pages(4))
    rig.run(120 * SECOND)
    assert printed_numbers(rig) == [1, 2]
    assert rig.alert_words() == [NO_PAPER]
    assert rig.paper.memory.count() == 4  # still in memory (MEMORY LED)
    rig.engine.load_paper(10)  # `paper 10`
    rig.run(120 * SECOND, until=lambda: rig.engine.delivered_count() == 4)
    assert printed_numbers(rig) == [1, 2, 3, 4]
    assert rig.alerts[-1] == ("printer", None)


def test_the_no_paper_fault_and_its_clear(rig: Rig) -> None:
    rig.board.faults.set("printer.no_paper")
    rig.paper.queue.submit(pages(2))
    rig.run(60 * SECOND)
    assert rig.engine.delivered_count() == 0 and rig.alert_words() == [NO_PAPER]
    rig.board.faults.clear("printer.no_paper")
    rig.run(60 * SECOND, until=lambda: rig.engine.delivered_count() == 2)
    assert printed_numbers(rig) == [1, 2]
    assert rig.engine.sheets == 250 - 2


@pytest.mark.parametrize("stage", ["pickup", "inside", "exit"])
def test_a_paper_jam_at_each_stage_loses_and_doubles_nothing(rig: Rig, stage: str) -> None:
    rig.engine.jam_stage = stage
    rig.paper.queue.submit(pages(4))
    rig.run(9 * SECOND)  # the first sheet is on its way, the second picked
    rig.board.faults.set("printer.jam")
    rig.run(120 * SECOND, until=lambda: PAPER_JAM in rig.alert_words())
    assert PAPER_JAM in rig.alert_words()
    assert not rig.engine.motor_on
    out_before = rig.engine.delivered_count()
    rig.run(60 * SECOND)
    assert rig.engine.delivered_count() == out_before  # it waits for the operator
    rig.board.faults.clear("printer.jam")
    rig.run(300 * SECOND, until=lambda: rig.engine.delivered_count() == 4)
    rig.run(30 * SECOND)
    assert printed_numbers(rig) == [1, 2, 3, 4]
    assert rig.alerts[-1] == ("printer", None)
    jams = [e for e in rig.board.log.events if e["src"] == "print" and e["ev"] == "jam"]
    assert [j["stage"] for j in jams] == [{"pickup": "pick-up"}.get(stage, stage)]


def test_a_cover_opened_while_printing_stops_and_resumes(rig: Rig) -> None:
    rig.paper.queue.submit(pages(3))
    rig.run(5 * SECOND)
    rig.board.faults.set("printer.cover_open")
    assert rig.alert_words() == [COVER_OPEN] and not rig.engine.motor_on
    rig.run(60 * SECOND)
    assert rig.engine.delivered_count() == 0
    rig.board.faults.clear("printer.cover_open")
    rig.run(120 * SECOND, until=lambda: rig.engine.delivered_count() == 3)
    assert printed_numbers(rig) == [1, 2, 3]


def test_a_long_page_is_reduced_to_fit_the_sheet() -> None:
    rig = Rig(paper_size="letter")
    long_page = Page(numbered_page(2, rows=3000), "fine")  # 390 mm
    rig.paper.queue.submit([long_page])
    rig.run(60 * SECOND, until=lambda: rig.engine.delivered_count() == 1)
    rig.run(10 * SECOND)
    assert rig.engine.delivered_count() == 1
    sheet = rig.engine.tray[0].pixels
    assert sheet.shape[0] == sheet_lines("letter")
    assert sheet[-8:].mean() > 0.9  # the page's bottom frame is on the sheet
    assert bars_counted(sheet) == 2


def test_a_long_page_continues_on_another_sheet_when_set() -> None:
    rig = Rig(paper_size="letter")
    rig.settings.set("paper.long_page", "continue")
    rig.paper.queue.submit([Page(numbered_page(2, rows=3000), "fine")])
    rig.run(60 * SECOND, until=lambda: rig.engine.delivered_count() == 2)
    rig.run(10 * SECOND)
    first, second = (s.pixels for s in rig.engine.tray)
    assert rig.engine.delivered_count() == 2
    assert bars_counted(first) == 2
    assert second[3000 - 2151 - 16 : 3000 - 2151].mean() > 0.9  # bottom frame, on sheet two
    assert not second[3000 - 2151 + 1 :].any()


def test_a_blank_tail_is_not_printed_on_a_sheet_of_its_own() -> None:
    page = np.zeros((2400, 1728), dtype=bool)
    page[:100] = True
    assert len(layout(Page(page, "fine"), "letter", "continue")) == 1


def test_standard_pages_are_printed_at_double_line_height() -> None:
    page = np.zeros((1000, 1728), dtype=bool)
    page[500] = True
    (raster,) = layout(Page(page, "standard"), "a4")
    assert raster[1000:1002].all() and raster.sum() == 2 * 1728


def test_pages_waiting_survive_a_power_cut(rig: Rig) -> None:
    rig.engine.load_paper(1)
    rig.paper.queue.submit(pages(4))
    rig.run(60 * SECOND)
    assert printed_numbers(rig) == [1]
    rig.board.power_off()  # 3 pages wait in memory
    rig.paper.detach()  # the old firmware's RAM is gone
    rig.board.power_on()
    rig.run(WARM_UP)
    fresh = PaperHandling(rig.board, rig.settings)
    rig.engine.load_paper(50)
    fresh.queue.recover()
    rig.run(120 * SECOND, until=lambda: rig.engine.delivered_count() == 4)
    assert printed_numbers(rig) == [1, 2, 3, 4]
    assert fresh.memory.count() == 0


def test_a_power_cut_mid_sheet_reprints_that_sheet_once(rig: Rig) -> None:
    rig.paper.queue.submit(pages(3))
    rig.run(11 * SECOND)  # sheet 1 out at 8 s; sheet 2 in the path
    assert rig.engine.delivered_count() == 1
    rig.board.power_off()
    rig.paper.detach()
    rig.board.power_on()
    rig.run(WARM_UP)
    fresh = PaperHandling(rig.board, rig.settings)
    fresh.printer.alert_listeners.add(lambda s, w: rig.alerts.append((s, w)))
    fresh.queue.recover()
    assert rig.alert_words()[-1] == PAPER_JAM  # paper left in the path
    rig.board.faults.clear("printer.jam")
    rig.run(120 * SECOND, until=lambda: rig.engine.delivered_count() == 3)
    assert printed_numbers(rig) == [1, 2, 3]


def test_pages_in_nvram_print_on_a_new_machine_after_a_cut(tmp_path: Path) -> None:
    first = Rig(state_dir=tmp_path)
    first.engine.load_paper(0)
    first.paper.queue.submit(pages(2))
    first.run(30 * SECOND)
    first.board.power_off()
    first.board.nvram.close()
    second = Rig(state_dir=tmp_path)  # new hardware and firmware, the same NVRAM file
    assert second.paper.memory.count() == 2
    second.paper.queue.recover()
    second.run(120 * SECOND, until=lambda: second.engine.delivered_count() == 2)
    assert printed_numbers(second) == [1, 2]
