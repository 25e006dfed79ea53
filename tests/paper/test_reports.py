"""Printed reports, read back from the page the way an operator reads them."""

from __future__ import annotations

import numpy as np

from estudio190f.firmware import reports
from estudio190f.firmware.directory import Directory, Entry
from estudio190f.firmware.journal import Journal
from estudio190f.firmware.settings import SETTINGS, Settings
from estudio190f.hw.clock import SECOND
from estudio190f.hw.nvram import Nvram

from .conftest import Rig

HEADER = reports.ReportHeader("01-01-2026 09:00", "TOSHIBA", "5551234")


def read_lines(page) -> list[str]:
    """The text on a report page, cell by cell against the font (unknown cells read '#')."""
    table = {g.tobytes(): ch for ch, g in reports.glyphs().items()}
    px = page.pixels
    lines = []
    row = reports.MARGIN_TOP
    while row + reports.CELL_H <= px.shape[0] - reports.MARGIN_BOTTOM:
        chars = []
        for col in range(reports.COLUMNS):
            x = reports.MARGIN_LEFT + col * reports.CELL_W
            cell = px[row : row + reports.CELL_H, x : x + reports.CELL_W]
            chars.append(table.get(np.ascontiguousarray(cell).tobytes(), "#"))
        lines.append("".join(chars).rstrip())
        row += reports.LINE_PITCH
    while lines and not lines[-1]:
        lines.pop()
    return lines


def test_the_function_list_shows_every_setting_and_masks_the_password() -> None:
    settings = Settings(Nvram())
    settings.set("smtp.password", "tanstaaftanstaaf")
    settings.set("machine.station_name", "HEAD OFFICE")
    text = "\n".join(
        line for page in reports.function_list(settings, HEADER) for line in read_lines(page)
    )
    assert "*** FUNCTION LIST ***" in text
    for s in SETTINGS:
        assert s.key in text
    assert "tanstaaf" not in text
    assert "PASSWORD              smtp.password             ****************" in text
    assert "machine.station_name      HEAD OFFICE" in text


def test_the_same_report_prints_the_same_pixels() -> None:
    settings = Settings(Nvram())
    one = reports.function_list(settings, HEADER)
    two = reports.function_list(settings, HEADER)
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in zip(one, two, strict=True))
    settings.set("smtp.password", "secret-1")
    masked_a = reports.function_list(settings, HEADER)[0].pixels
    settings.set("smtp.password", "secret-2")
    masked_b = reports.function_list(settings, HEADER)[0].pixels
    assert np.array_equal(masked_a, masked_b)  # nothing of the password reaches the paper


def test_the_activity_report_lists_the_journal_over_pages() -> None:
    nvram = Nvram()
    journal = Journal(nvram, lambda: "01-02-2026 10:30")
    for i in range(90):
        journal.add("TX", remote=f"555{i:04d}", pages=i % 5 + 1, result="OK", duration=75.0)
    journal.add("RX", remote="BRANCH", pages=2, result="COMM. ERROR", code="407")
    pages = reports.journal_report(journal.entries(), HEADER)
    assert len(pages) == 2
    first, second = (read_lines(p) for p in pages)
    assert first[0].endswith("P.001/002") and second[0].endswith("P.002/002")
    assert first[1] == "01-01-2026 09:00  TOSHIBA  5551234"
    body = [ln for ln in first + second if ln[:3].isdigit()]
    assert len(body) == 91
    assert body[0].startswith("001 01-02-2026 10:30 TX    5550000")
    assert body[0].endswith("1  01'15\"        OK")
    assert body[-1].endswith("COMM. ERROR 407") and "BRANCH" in body[-1]


def test_the_directory_list_shows_one_touch_and_speed_dial_entries() -> None:
    directory = Directory(Nvram())
    directory.put(Entry("one_touch", 1, "OFFICE", email="office@example.com"))
    directory.put(Entry("speed_dial", 12, "BRANCH", fax="5559876"))
    lines = read_lines(reports.directory_list(directory, HEADER)[0])
    assert "ONE-TOUCH 01    OFFICE            office@example.com" in lines
    assert "SPEED DIAL 012  BRANCH            5559876" in lines


def test_an_empty_directory_says_so() -> None:
    lines = read_lines(reports.directory_list(Directory(Nvram()), HEADER)[0])
    assert "NO ENTRIES" in lines


def test_the_test_pattern_has_its_frame_and_grey_steps() -> None:
    (page,) = reports.test_pattern(HEADER, "letter")
    px = page.pixels
    assert px.shape == (2151, 1728) and page.resolution == "fine"
    lpm = 7.7
    frame_row = round(4 * lpm) + 2
    assert px[frame_row, 40:-40].all()
    steps = px[round(125 * lpm) : round(145 * lpm)]
    x0, w = 32 + 80, (1728 - 64 - 160) // 10
    density = [steps[:, x0 + i * w : x0 + (i + 1) * w].mean() for i in range(10)]
    assert np.allclose(density, [i / 10 for i in range(10)], atol=0.07)
    assert density == sorted(density)


def test_a_report_prints_through_the_queue(rig: Rig) -> None:
    rig.paper.queue.submit(reports.test_pattern(HEADER, "a4"), kind="report")
    rig.run(60 * SECOND, until=lambda: rig.engine.delivered_count() == 1)
    assert rig.engine.tray[0].pixels.mean() > 0.05
