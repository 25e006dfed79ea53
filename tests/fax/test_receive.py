"""Receiving: answering after the ring count, TEL mode and START, pages printed as they arrive or
kept in memory without paper, memory full, a power cut, and the TIFF Class F file in received/."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from conftest import need_program
from PIL import Image

from .conftest import BRANCH, MAIN, bars, blank_page


def send(main, tmp_path, pages: int = 1) -> None:
    files = [blank_page(tmp_path, f"p{n}", marks=n) for n in range(1, pages + 1)]
    main.step("adf load " + " ".join(str(f) for f in files))
    main.press(*BRANCH, "START")


@pytest.mark.parametrize("rings", [1, 2, 4])
def test_auto_mode_answers_after_the_ring_count(link, tmp_path, rings):
    main, branch = link
    branch.set(receive_rings=rings)
    send(main, tmp_path)
    main.step('until lcd "COMPLETED" within 3m')
    ring_events = branch.events("fax", "ring")
    assert [e["n"] for e in ring_events] == list(range(1, rings + 1))
    (answer,) = branch.events("fax", "answer")
    last_ring_off = [e for e in branch.events("line", "ring_off") if e["n"] == rings][0]
    assert answer["t"] == last_ring_off["t"]


def test_the_receiver_shows_receiving_and_the_page(link, tmp_path):
    main, branch = link
    send(main, tmp_path, pages=2)
    branch.step('until lcd "RECEIVING" within 2m')
    branch.step("expect led LINE on")
    branch.step('until lcd "RECEIVING P.002" within 2m')
    branch.step('until lcd "COMPLETED" within 2m')
    branch.step('expect lcd "2 PAGES" line 2')
    branch.step("expect led LINE off")
    branch.step("until printed 2 within 2m")
    sheets = branch.board.printer.tray
    assert [bars(s.pixels) for s in sheets] == [1, 2]


def test_tel_mode_rings_until_start_is_pressed(link, tmp_path):
    main, branch = link
    branch.set(receive_mode="tel")
    send(main, tmp_path)
    branch.step('until lcd "INCOMING CALL" within 1m')
    branch.step('expect lcd "START TO RECEIVE"')
    branch.step("wait 20s")  # rings on: nobody answers by itself
    assert branch.events("fax", "answer") == []
    assert len(branch.events("fax", "ring")) >= 3
    branch.press("START")
    branch.step('until lcd "RECEIVING" within 5s')
    main.step('until lcd "COMPLETED" within 2m')
    assert branch.journal()[-1].pages == 1


def test_tel_mode_start_from_standby_answers_too(link, tmp_path):
    main, branch = link
    branch.set(receive_mode="tel")
    branch.press("COPY")  # the operator was elsewhere: the call does not take the LCD
    send(main, tmp_path)
    branch.step('until lcd "INCOMING CALL" within 1m')
    branch.press("STOP")  # dismissed: the line rings on
    branch.press("FAX", "START")
    branch.step('until lcd "RECEIVING" within 5s')
    main.step('until lcd "COMPLETED" within 2m')


def test_tel_mode_caller_gives_up(link, tmp_path):
    main, branch = link
    branch.set(receive_mode="tel")
    main.set(transmit_redial_tries=0)
    send(main, tmp_path)
    branch.step('until lcd "INCOMING CALL" within 1m')
    main.step('until lcd "NO ANSWER" within 2m')
    branch.step('until lcd "FAX READY" within 5s')


def test_without_paper_pages_are_received_into_memory_and_print_after(link, tmp_path):
    main, branch = link
    branch.step("fault printer.no_paper")
    send(main, tmp_path, pages=3)
    main.step('until lcd "COMPLETED" within 3m')
    branch.step('until lcd "NO PAPER" within 10s')
    branch.step("expect led MEMORY on")
    branch.step("expect led ALARM on")
    branch.step("wait 1m")
    branch.step("expect printed 0")
    assert branch.journal()[-1].result == "OK" and branch.journal()[-1].pages == 3
    branch.step("clear printer.no_paper")
    branch.step("until printed 3 within 3m")
    branch.step("expect led MEMORY off")
    assert [bars(s.pixels) for s in branch.board.printer.tray] == [1, 2, 3]


def test_a_paper_jam_while_receiving_loses_nothing(link, tmp_path):
    main, branch = link
    branch.step("fault printer.jam")
    send(main, tmp_path, pages=3)
    main.step('until lcd "COMPLETED" within 3m')
    branch.step('until lcd "PAPER JAM" within 1m')
    branch.step("clear printer.jam")
    branch.step("until printed 3 within 3m")
    assert [bars(s.pixels) for s in branch.board.printer.tray] == [1, 2, 3]


def test_pages_in_memory_survive_a_power_cut(link, tmp_path):
    main, branch = link
    branch.step("fault printer.no_paper")
    send(main, tmp_path, pages=3)
    main.step('until lcd "COMPLETED" within 3m')
    branch.step("power off")
    branch.step("wait 1m")
    branch.step("power on")
    branch.step('until lcd "NO PAPER" within 1m')
    branch.step("expect led MEMORY on")
    branch.step("clear printer.no_paper")
    branch.step("until printed 3 within 3m")
    assert [bars(s.pixels) for s in branch.board.printer.tray] == [1, 2, 3]


def test_a_power_cut_in_the_middle_of_a_reception_keeps_what_came(link, tmp_path, charts):
    main, branch = link
    branch.step("fault printer.no_paper")
    main.set(transmit_redial_tries=0)
    main.step("adf load " + " ".join(str(p) for p in charts(1, 2, 3)))
    main.press(*BRANCH, "START")
    branch.step('until lcd "RECEIVING P.003" within 3m')
    branch.step("power off")
    main.step('until lcd "COMM. ERROR" within 1m')
    branch.step("power on")
    branch.step('until lcd "NO PAPER" within 1m')
    entry = branch.journal()[-1]
    assert (entry.kind, entry.pages, entry.result, entry.code) == ("RX", 2, "COMM. ERROR", "411")
    branch.step("clear printer.no_paper")
    branch.step("until printed 2 within 3m")
    assert main.journal()[-1].pages == 2


def test_memory_full_ends_the_call_properly(link, tmp_path, charts):
    main, branch = link
    branch.set(memory_size_kb=256)
    branch.step("fault printer.no_paper")
    main.set(scan_resolution="superfine", transmit_redial_tries=0)
    main.step("adf load " + " ".join(str(p) for p in charts(1, 2, 3, 4) * 3))
    main.press(*BRANCH, "START")
    branch.step('until lcd "MEMORY FULL" within 20m')
    branch.step('expect lcd "CODE 414"')
    entry = branch.journal()[-1]
    assert (entry.result, entry.code) == ("MEMORY FULL", "414")
    assert entry.detail["memory_full"] is True
    assert 0 < entry.pages < 12
    main.step('until lcd "COMM. ERROR" within 1m')
    tx = main.journal()[-1]
    assert tx.code == "409" and tx.pages == entry.pages  # PIP: the pages kept were confirmed
    frames = [e["frame"] for e in branch.events("t30", "send")]
    assert frames[-1] in ("PIP", "PIN")


def test_each_received_document_is_one_tiff_class_f_file(link, tmp_path, charts):
    main, branch = link
    main.set(scan_resolution="fine")
    main.step("adf load " + " ".join(str(p) for p in charts(1, 2)))
    main.press(*BRANCH, "START")
    main.step('until lcd "COMPLETED" within 3m')
    folder = tmp_path / "machine1" / "out" / "branch" / "received"
    (tiff,) = sorted(folder.glob("*.tif"))
    assert tiff.name == f"0001-{MAIN}.tif"
    decoded = branch.received_pages()
    with Image.open(tiff) as image:
        assert image.n_frames == 2
        for n, page in enumerate(decoded):
            image.seek(n)
            assert image.size == (1728, page.lines)
            assert image.info["compression"] == "group3"
            assert tuple(round(v) for v in image.info["dpi"]) == (204, 196)
            pixels = ~np.asarray(image.convert("1"), dtype=bool)
            assert (pixels == page.pixels).all()


@pytest.mark.peer
def test_the_received_tiff_reads_in_tiffinfo(link, tmp_path, charts):
    need_program("tiffinfo")
    main, branch = link
    main.step("adf load " + " ".join(str(p) for p in charts(1)))
    main.press(*BRANCH, "START")
    main.step('until lcd "COMPLETED" within 3m')
    (tiff,) = (tmp_path / "machine1" / "out" / "branch" / "received").glob("*.tif")
    out = subprocess.run(["tiffinfo", str(tiff)], capture_output=True, text=True, check=True)
    assert "CCITT Group 3" in out.stdout
    assert "Image Width: 1728" in out.stdout
    assert "min-is-white" in out.stdout
    assert "Bad Fax Lines: 0" in out.stdout
    assert out.stderr.strip() == ""
