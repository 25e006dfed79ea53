"""Sending from the panel: memory transmission, the LCD and LEDs on the way, the transmit header
inside / outside / off, the transmission report, STOP, direct transmission, broadcast, delayed."""

from __future__ import annotations

import re

import pytest

from estudio190f.firmware.fax.header import header_band, header_rows, header_text

from .conftest import BRANCH, MAIN, bars, blank_page, same


def lcd_trace(station) -> list[tuple[str, str]]:
    """Every LCD text the machine showed, in order (from its event log)."""
    return [tuple(e["lines"]) for e in station.events("panel", "lcd")]


def led_trace(station, name: str) -> list[str]:
    return [e["state"] for e in station.events("panel", "led") if e["led"] == name]


def test_memory_transmission_scans_dials_sends_and_completes(link, charts):
    main, branch = link
    main.step("adf load " + " ".join(str(p) for p in charts(1, 2)))
    main.press(*BRANCH, "START")
    main.step('expect lcd "SCANNING"')
    main.step('expect lcd "F-001" line 2')
    main.step('until lcd "DIALING" within 1m')
    main.step(f'expect lcd "{BRANCH}" line 2')
    main.step("expect led MEMORY on")
    main.step("expect led LINE on")
    main.step('until lcd "SENDING P.001/002" within 1m')
    main.step('expect lcd "V.17 14400" line 2')
    main.step('until lcd "SENDING P.002/002" within 1m')
    main.step('until lcd "COMPLETED" within 1m')
    main.step("expect led MEMORY off")
    main.step("expect led LINE off")
    main.step('until lcd "FAX READY" within 5s')  # COMPLETED shows for 2 s
    words = [line1 for line1, _ in lcd_trace(main)]
    order = [words.index(w) for w in ("SCANNING", "DIALING", "SENDING P.001/002", "COMPLETED")]
    assert order == sorted(order)
    entry = main.journal()[-1]
    assert (entry.kind, entry.remote, entry.pages, entry.result, entry.code) == (
        "TX",
        BRANCH,
        2,
        "OK",
        "",
    )
    assert entry.speed == "V.17 14400" and 15 < entry.duration < 120
    assert entry.detail["file"] == "F-001" and entry.detail["pages_sent"] == [1, 2]
    rx = branch.journal()[-1]
    assert (rx.kind, rx.remote, rx.pages, rx.result) == ("RX", MAIN, 2, "OK")
    branch.step("until printed 2 within 2m")


def test_the_memory_led_shows_a_file_waiting_and_the_line_led_the_call(link, tmp_path):
    main, _ = link
    main.step(f"adf load {blank_page(tmp_path, 'p1')}")
    main.press(*BRANCH, "START")
    main.step('until lcd "COMPLETED" within 3m')
    memory, line = led_trace(main, "MEMORY"), led_trace(main, "LINE")
    assert memory == ["on", "off"]  # from the page stored to the file sent
    assert line == ["on", "off"]  # from off hook to on hook


@pytest.mark.parametrize("resolution", ["standard", "fine", "superfine"])
@pytest.mark.parametrize("mode", ["outside", "inside", "off"])
def test_the_transmit_header_is_on_every_page(link, tmp_path, mode, resolution):
    main, branch = link
    main.set(transmit_header=mode, scan_resolution=resolution)
    pages = [blank_page(tmp_path, f"p{n}", marks=n) for n in (1, 2, 3)]
    main.step("adf load " + " ".join(str(p) for p in pages))
    main.press(*BRANCH, "START")
    main.step('until lcd "COMPLETED" within 5m')
    (tx_event,) = main.events("fax", "transmission")
    scanned, received = main.scanned_pages(), branch.received_pages()
    assert len(received) == 3
    rows = header_rows(resolution)
    for n, (got, sent) in enumerate(zip(received, scanned, strict=True), start=1):
        text = header_text(tx_event["when"], "TOSHIBA", MAIN, 1, n, 3, 1)
        band = header_band(text, resolution, 1728)
        if mode == "off":
            assert same(got, sent)
            continue
        assert (got.pixels[:rows] == band).all(), f"page {n}: header row differs"
        assert got.pixels[:rows].any()
        if mode == "outside":
            assert same(got, sent, skip_rows=rows)  # added above: nothing of the page covered
        else:
            assert got.lines == sent.lines  # over the top: the page keeps its length
            assert (got.pixels[rows:] == sent.pixels[rows:]).all()
        assert bars(got.pixels[rows:]) == n


def test_the_header_text_follows_the_sister_models_format():
    text = header_text("01-31-2005 10:00", "TOSHIBA", "+1-714-583-0000", 123, 1, 3, 30)
    assert text == "01-31-2005 10:00 FROM: TOSHIBA +1-714-583-0000 T-123 P.001/003 F-030"


@pytest.mark.parametrize(
    "setting,fails,printed",
    [("always", False, 1), ("error", False, 0), ("error", True, 1), ("off", True, 0)],
)
def test_the_transmission_report_prints_as_set(link, tmp_path, setting, fails, printed):
    main, _ = link
    main.set(transmit_report=setting, transmit_redial_tries=0)
    if fails:
        main.step("fault line.busy")
    main.step(f"adf load {blank_page(tmp_path, 'p1')}")
    main.press(*BRANCH, "START")
    main.step(f'until lcd "{"BUSY" if fails else "COMPLETED"}" within 3m')
    main.step('until lcd "FAX READY" within 1m')
    main.step("wait 1m")
    main.step(f"expect printed {printed}")


def test_the_transmission_report_lists_the_call(link, tmp_path):
    main, _ = link
    main.set(transmit_report="always")
    main.step(f"adf load {blank_page(tmp_path, 'p1')}")
    main.press(*BRANCH, "START")
    main.step("until printed 1 within 5m")
    (report,) = [e for e in main.events("report", "queued") if e["report"] == "transmission"]
    assert report["file"] == "F-001"
    sheet = main.board.printer.tray[-1].pixels
    assert sheet.any()


def test_stop_during_the_call_ends_it_and_deletes_the_file(link, charts):
    main, branch = link
    main.step("adf load " + " ".join(str(p) for p in charts(1, 2)))
    main.press(*BRANCH, "START")
    main.step('until lcd "SENDING P.001" within 2m')
    main.press("STOP")
    main.step('until lcd "CANCELLED" within 30s')
    main.step('expect lcd "F-001 DELETED" line 2')
    main.step("expect led LINE off")
    main.step("until printed 1 within 2m")  # the report: the transmission did not complete
    main.step("expect led MEMORY off")
    assert main.firmware.fax.files.files() == []
    entry = main.journal()[-1]
    assert (entry.kind, entry.result, entry.code) == ("TX", "CANCELLED", "419")
    main.step("wait 5m")
    assert len(main.journal()) == 1  # nothing is sent again on its own
    assert branch.journal()[-1].result == "COMM. ERROR"  # the receiver was told (DCN)


def test_stop_while_scanning_keeps_nothing(link, charts):
    main, branch = link
    main.step("adf load " + " ".join(str(p) for p in charts(1, 2, 3)))
    main.press(*BRANCH, "START")
    main.step('until lcd "PAGE 2" within 1m')
    main.press("STOP")
    main.step('until lcd "CANCELLED" within 30s')
    main.step('until lcd "FAX READY" within 10s')
    main.step("expect led MEMORY off")
    assert main.firmware.fax.files.files() == [] and main.firmware.paper.memory.count() == 0
    assert main.journal() == [] and branch.journal() == []


def test_direct_transmission_sends_as_it_scans_and_keeps_nothing_in_memory(link, charts):
    main, branch = link
    main.set(transmit_mode="direct", transmit_header="outside", scan_resolution="fine")
    main.step("adf load " + " ".join(str(p) for p in charts(1, 2, 3)))
    main.press(*BRANCH, "START")
    main.step('until lcd "DIALING" within 1m')
    assert len(main.scanned) == 1  # dialled once the first page was read
    main.step('until lcd "COMPLETED" within 5m')
    assert led_trace(main, "MEMORY") == []  # never on: nothing was stored
    assert all(file_no is None for file_no, _, _ in main.scanned)
    rows = header_rows("fine")
    received = branch.received_pages()
    assert len(received) == 3
    for got, sent in zip(received, main.scanned_pages(), strict=True):
        assert same(got, sent, skip_rows=rows)
    (tx_event,) = main.events("fax", "transmission")
    first = header_band(header_text(tx_event["when"], "TOSHIBA", MAIN, 1, 1, 0, None), "fine", 1728)
    assert (received[0].pixels[:rows] == first).all()  # no F-nnn: there is no memory file
    assert main.journal()[-1].detail["file"] == "DIRECT"


def test_a_direct_transmission_that_outruns_the_scanner_loses_and_doubles_nothing(link, tmp_path):
    # Blank super-fine pages go out in MMR in a moment but take 11 s each to scan: the call
    # waits for the scanner, the receiver gives up after T2 and the rest goes on a redial.
    main, branch = link
    main.set(transmit_mode="direct", scan_resolution="superfine", transmit_header="off")
    pages = [blank_page(tmp_path, f"p{n}", lines=2376, marks=n) for n in (1, 2, 3, 4)]
    main.step("adf load " + " ".join(str(p) for p in pages))
    main.press(*BRANCH, "START")
    main.step('until lcd "FAX READY" within 15m')
    main.step("wait 10m")
    got = [bars(p.pixels) for p in branch.received_pages()]
    assert got == [1, 2, 3, 4]
    assert [e.result for e in main.journal()][-1] == "OK"


def test_broadcast_sends_one_memory_file_to_every_number(link, tmp_path):
    main, branch = link
    third = main.device("third", "5550111")
    main.set(transmit_report="always")
    main.step(f"adf load {blank_page(tmp_path, 'p1')} {blank_page(tmp_path, 'p2', marks=2)}")
    main.press(*BRANCH, "SET", *"5550111")
    main.step('expect lcd "BROADCAST 02"')
    main.press("START")
    main.step('until lcd "DIALING" within 1m')
    main.step(f'expect lcd "{BRANCH}"')
    main.step('until lcd "COMPLETED" within 3m')
    main.step('until lcd "DIALING" within 5s')
    main.step('expect lcd "5550111"')
    main.step('until lcd "COMPLETED" within 3m')
    main.step("until printed 1 within 2m")  # one report for the file
    assert len({f for f, _, _ in main.scanned}) == 1 and len(main.scanned) == 2  # scanned once
    entries = main.journal()
    assert [(e.remote, e.pages, e.result) for e in entries] == [
        (BRANCH, 2, "OK"),
        ("5550111", 2, "OK"),
    ]
    assert {e.detail["file"] for e in entries} == {"F-001"}
    assert [e.detail["serial"] for e in entries] == [1, 2]
    for receiver in (branch.journal(), third.firmware.journal.entries()):
        assert [(e.kind, e.pages, e.result) for e in receiver] == [("RX", 2, "OK")]


def test_delayed_transmission_waits_in_memory_for_its_time(link, tmp_path):
    main, branch = link
    main.step(f"adf load {blank_page(tmp_path, 'p1')}")
    main.press(*BRANCH, "FUNCTION")
    main.step('expect lcd "1:DELAYED TX"')
    main.press("1")
    main.step('expect lcd "TIME: __:__"')
    main.step('type "1030"')
    main.step('expect lcd "TIME: 10:30"')
    main.press("SET")
    main.step('expect lcd "DELAYED TX 10:30" line 1')
    main.step(f'expect lcd "{BRANCH}" line 2')
    main.press("START")
    main.step('until lcd "DELAYED TX" within 1m')
    main.step('expect lcd "F-001 AT 10:30"')
    main.step("until lcd /FAX READY +DELAYED/ within 10s")
    main.step("expect led MEMORY on")
    main.step("wait 1h")
    assert branch.journal() == []
    main.step('until lcd "DIALING" within 31m')
    assert main.board.rtc.now().strftime("%H:%M") == "10:30"
    main.step('until lcd "COMPLETED" within 2m')
    assert branch.journal()[-1].pages == 1


def test_an_invalid_delayed_time_is_refused(link):
    main, _ = link
    main.press(*BRANCH, "FUNCTION", "1")
    main.step('type "2560"')
    main.press("SET")
    main.step('expect lcd "INVALID TIME"')
    main.step('until lcd "TIME: __:__" within 5s')
    main.press("STOP")
    main.step('expect lcd "FAX NUMBER" line 1')


def test_no_document_says_so(link):
    main, _ = link
    main.press(*BRANCH, "START")
    main.step('expect lcd "NO DOCUMENT"')
    main.step('until lcd "FAX READY" within 5s')


def test_states_follow_the_call(link, tmp_path):
    main, _ = link
    main.step(f"adf load {blank_page(tmp_path, 'p1')}")
    main.press(*BRANCH, "START")
    main.step("expect state job.fax_send/scan")
    main.step("until state job.fax_send/dial within 1m")
    main.step("until state job.fax_send/t30.phase_c within 1m")
    main.step('until lcd "COMPLETED" within 1m')
    assert re.search(r"FAX READY", main.lcd[1]) is None  # the notice shows, not standby


def test_memory_full_while_scanning_offers_to_send_what_fit(link, charts):
    main, branch = link
    main.set(memory_size_kb=256, scan_resolution="superfine")
    main.step("adf load " + " ".join(str(p) for p in charts(1, 2, 3, 4) * 3))
    main.press(*BRANCH, "START")
    main.step('until lcd "MEMORY FULL" within 10m')
    main.step('expect lcd "START=SEND STOP=CLR"')
    stored = len(main.scanned)
    assert 0 < stored < 12
    main.press("START")
    main.step('until lcd "DIALING" within 10s')
    main.step('until lcd "COMPLETED" within 20m')
    assert branch.journal()[-1].pages == stored


def test_memory_full_while_scanning_stop_deletes_what_fit(link, charts):
    main, _ = link
    main.set(memory_size_kb=256, scan_resolution="superfine")
    main.step("adf load " + " ".join(str(p) for p in charts(1, 2, 3, 4) * 3))
    main.press(*BRANCH, "START")
    main.step('until lcd "MEMORY FULL" within 10m')
    main.press("STOP")
    main.step('until lcd "FAX READY" within 10s')
    main.step("expect led MEMORY off")
    assert main.firmware.fax.files.files() == [] and main.journal() == []


def test_cancel_memory_tx_from_the_function_menu(link, tmp_path):
    main, branch = link
    main.step(f"adf load {blank_page(tmp_path, 'p1')}")
    main.press(*BRANCH, "FUNCTION", "1")
    main.step('type "1700"')
    main.press("SET", "START")
    main.step("until lcd /FAX READY +DELAYED/ within 1m")
    main.press("FUNCTION", "6", "9")
    main.step('expect lcd "1 FILE DELETED"')
    main.step('until lcd "PRINTING" within 5s')  # the report says the transmission was cancelled
    main.step("until printed 1 within 2m")
    main.step('until lcd "FAX READY" within 1m')
    assert "DELAYED" not in main.lcd[1]
    main.step("expect led MEMORY off")
    main.step("wait 9h")
    assert branch.journal() == []
    assert [(e.result, e.code) for e in main.journal()] == []


def test_monitor_is_not_available(link):
    main, _ = link
    main.press("MONITOR")
    main.step('expect lcd "NOT AVAILABLE"')


def test_a_document_sent_while_the_line_is_busy_waits_in_memory_for_it(link, tmp_path, charts):
    main, branch = link
    main.device("third", "5550111")
    branch.step(f"adf load {blank_page(tmp_path, 'b1')}")
    branch.press(*"5550111")  # the operator is entering a number when a call comes in
    main.step("adf load " + " ".join(str(p) for p in charts(1, 2)))
    main.press(*BRANCH, "START")
    main.step('until lcd "SENDING" within 1m')
    branch.step('expect lcd "5550111" line 2')  # the reception does not take the LCD ...
    branch.step("expect led LINE on")  # ... the LINE LED shows it
    branch.press("START")
    branch.step('until lcd "MEMORY TX" within 1m')
    branch.step('expect lcd "F-001 STORED"')
    # READY shows only when no job runs (DESIGN.md 3.3): the reception, going on, shows again.
    branch.step('until lcd "RECEIVING" within 5s')
    branch.step("expect led MEMORY on")
    main.step('until lcd "COMPLETED" within 5m')
    branch.step('until lcd "DIALING" within 10s')
    branch.step('until lcd "COMPLETED" within 3m')
    assert [e.kind for e in branch.journal()] == ["RX", "TX"]
