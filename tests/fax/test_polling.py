"""Polling: a document left in memory for polling (FUNCTION 6 6), fetched by another machine
(FUNCTION in number entry, 2:POLLING, START), with and without the polling password."""

from __future__ import annotations

from .conftest import BRANCH, MAIN, bars, blank_page, same


def store_polling_document(station, tmp_path, marks: int = 2) -> None:
    station.step(f"adf load {blank_page(tmp_path, 'poll', marks=marks)}")
    station.press("FUNCTION", "6", "6")
    station.step('until lcd "POLLING DOCUMENT" within 1m')
    station.step('expect lcd "F-001 STORED"')
    station.step("expect led MEMORY on")


def poll(main) -> None:
    main.press(*BRANCH, "FUNCTION", "2")
    main.step('expect lcd "POLLING" line 1')
    main.press("START")
    main.step('expect lcd "POLLING"')


def test_a_machine_polls_the_document_another_holds(link, tmp_path):
    main, branch = link
    store_polling_document(branch, tmp_path)
    poll(main)
    main.step('until lcd "RECEIVING P.001" within 1m')
    branch.step('until lcd "SENDING P.001/001" within 1m')
    main.step('until lcd "COMPLETED" within 2m')
    main.step("until printed 1 within 2m")
    (got,) = main.received_pages()
    (sent,) = branch.scanned_pages()
    assert same(got, sent, skip_rows=got.lines - sent.lines)  # with the header above it
    assert bars(main.board.printer.tray[0].pixels) == 2
    poll_entry, tx_entry = main.journal()[-1], branch.journal()[-1]
    assert (poll_entry.kind, poll_entry.remote, poll_entry.pages, poll_entry.result) == (
        "POLL",
        BRANCH,
        1,
        "OK",
    )
    assert (tx_entry.kind, tx_entry.remote, tx_entry.pages) == ("TX", MAIN, 1)
    assert tx_entry.detail["polled"] is True
    branch.step("expect led MEMORY off")  # sent once: deleted (polling.keep = delete)
    assert branch.firmware.fax.polling_file() is None


def test_a_kept_polling_document_can_be_polled_again(link, tmp_path):
    main, branch = link
    branch.set(polling_keep="keep")
    store_polling_document(branch, tmp_path)
    for _ in range(2):
        poll(main)
        main.step('until lcd "COMPLETED" within 2m')
        main.step('until lcd "FAX READY" within 10s')
    assert [e.pages for e in main.journal()] == [1, 1]
    assert branch.firmware.fax.polling_file() is not None


def test_the_polling_password_must_match(link, tmp_path):
    main, branch = link
    branch.set(polling_password="8642")
    store_polling_document(branch, tmp_path)
    main.set(polling_password="9999")
    poll(main)
    main.step('until lcd "COMM. ERROR" within 2m')
    assert main.received_pages() == []
    assert branch.journal()[-1].code in ("401", "406")  # refused: wrong polling password
    assert branch.firmware.fax.polling_file() is not None  # not sent, still there
    main.step('until lcd "FAX READY" within 10s')
    main.set(polling_password="8642")
    poll(main)
    main.step('until lcd "COMPLETED" within 2m')
    assert len(main.received_pages()) == 1


def test_the_polling_password_never_reaches_the_log_or_lcd(link, tmp_path):
    main, branch = link
    branch.set(polling_password="8642")
    main.set(polling_password="8642")
    store_polling_document(branch, tmp_path)
    poll(main)
    main.step('until lcd "COMPLETED" within 2m')
    for station in link:
        assert all("8642" not in str(e) for e in station.events_all())
        assert all("8642" not in "".join(e["lines"]) for e in station.events("panel", "lcd"))


def test_polling_a_machine_without_a_document_is_refused(link):
    main, branch = link
    poll(main)
    main.step('until lcd "COMM. ERROR" within 2m')
    entry = main.journal()[-1]
    assert (entry.kind, entry.pages, entry.result) == ("POLL", 0, "COMM. ERROR")
