"""Redial: busy and no answer are called again per the settings while the file waits in memory; a
call cut in the middle of a document resumes with the first page the far end did not confirm."""

from __future__ import annotations

from .conftest import BRANCH, bars, blank_page


def test_busy_then_redial_after_the_interval(link, tmp_path):
    main, branch = link
    main.step("fault line.busy")
    main.step(f"adf load {blank_page(tmp_path, 'p1')}")
    main.press(*BRANCH, "START")
    main.step('until lcd "BUSY" within 1m')
    main.step('expect lcd "REDIAL IN 2 MIN" line 2')
    main.step("until lcd /FAX READY +REDIAL/ within 5s")  # standby says a file waits
    main.step("expect led MEMORY on")
    main.step("expect led LINE off")
    main.step("clear line.busy")
    main.step("wait 1m")
    assert branch.journal() == []  # not before the interval
    main.step('until lcd "DIALING" within 1m')
    main.step('until lcd "COMPLETED" within 2m')
    main.step("expect led MEMORY off")
    main.step('until lcd "FAX READY" within 5s')
    assert "REDIAL" not in main.lcd[1]
    tx = main.journal()
    assert [(e.result, e.pages) for e in tx] == [("BUSY", 0), ("OK", 1)]
    assert [e.when for e in tx] == ["01-01-2026 09:00", "01-01-2026 09:02"]
    assert branch.journal()[-1].pages == 1


def test_redials_stop_after_the_set_number_of_tries(link, tmp_path):
    main, branch = link
    main.set(transmit_redial_tries=2, transmit_redial_interval=1)
    main.step("fault line.busy")
    main.step(f"adf load {blank_page(tmp_path, 'p1')}")
    main.press(*BRANCH, "START")
    main.step('until lcd "BUSY" within 1m')
    main.step("wait 10m")
    results = [(e.result, e.code) for e in main.journal()]
    assert results == [("BUSY", "")] * 3  # the call and two redials
    main.step("expect led MEMORY off")  # the file is given up: deleted, reported
    assert main.firmware.fax.files.files() == []
    assert "REDIAL" not in main.lcd[1]
    main.step("expect printed 1")  # transmission report (on error)


def test_no_answer_after_t0(link, tmp_path):
    main, branch = link
    main.set(transmit_redial_tries=0)
    branch.step("fault line.no_answer")
    main.step(f"adf load {blank_page(tmp_path, 'p1')}")
    main.press(*BRANCH, "START")
    main.step('until lcd "DIALING" within 1m')
    main.step('until lcd "NO ANSWER" within 2m')
    entry = main.journal()[-1]
    assert (entry.result, entry.pages) == ("NO ANSWER", 0)
    assert branch.journal() == []


def test_a_line_that_answers_again_gets_the_redial(link, tmp_path):
    main, branch = link
    main.set(transmit_redial_tries=1)
    branch.step("fault line.no_answer")
    main.step(f"adf load {blank_page(tmp_path, 'p1')}")
    main.press(*BRANCH, "START")
    main.step('until lcd "NO ANSWER" within 2m')
    main.step("expect led MEMORY on")  # kept for the redial
    branch.step("clear line.no_answer")
    main.step('until lcd "COMPLETED" within 10m')
    assert [e.result for e in main.journal()] == ["NO ANSWER", "OK"]
    branch.step("until printed 1 within 2m")


def test_a_drop_in_page_2_of_3_resumes_with_page_2(link, tmp_path, charts):
    main, branch = link
    main.set(modem_ecm="off", modem_coding="mh", scan_resolution="fine")
    main.step("adf load " + " ".join(str(p) for p in charts(1, 2, 3)))
    main.press(*BRANCH, "START")
    main.step('until lcd "SENDING P.002/003" within 3m')
    main.step("wait 3s")  # in the middle of page 2's data
    main.step("fault line.drop")
    main.step('until lcd "COMM. ERROR" within 30s')
    main.step('expect lcd "411 REDIAL IN 2 MIN"')
    main.step("clear line.drop")
    main.step('until lcd "SENDING P.002/003" within 3m')  # the redial starts at page 2
    main.step('until lcd "COMPLETED" within 3m')
    first, second = main.journal()
    assert (first.result, first.code, first.pages) == ("COMM. ERROR", "411", 1)
    assert first.detail["pages_sent"] == [1] and first.detail["unsent"] == [2, 3]
    assert (second.result, second.pages, second.detail["pages_sent"]) == ("OK", 2, [2, 3])
    assert second.detail["resumed"] is True
    rx = branch.journal()
    assert [(e.result, e.pages) for e in rx] == [("COMM. ERROR", 1), ("OK", 2)]
    # Every page once, in order, as scanned: no page lost or doubled.
    received = branch.received_pages()
    scanned = main.scanned_pages()
    assert len(received) == 3
    for got, sent in zip(received, scanned, strict=True):
        assert (got.pixels[-sent.lines :] == sent.pixels).all()
    branch.step("until printed 3 within 3m")


def test_stop_in_standby_cancels_a_waiting_redial(link, tmp_path):
    main, branch = link
    main.step("fault line.busy")
    main.step(f"adf load {blank_page(tmp_path, 'p1', marks=2)}")
    main.press(*BRANCH, "START")
    main.step("until lcd /FAX READY +REDIAL/ within 1m")
    main.press("STOP")
    main.step('expect lcd "REDIAL CANCELLED"')
    main.step('until lcd "FAX READY" within 5s')
    assert "REDIAL" not in main.lcd[1]
    main.step("clear line.busy")
    main.step("wait 10m")
    assert [e.result for e in main.journal()] == ["BUSY"]
    assert branch.journal() == []
    assert main.firmware.fax.files.files() == []


def test_a_waiting_file_survives_a_power_cut_and_is_sent_after(link, tmp_path):
    main, branch = link
    main.step("fault line.busy")
    main.step(f"adf load {blank_page(tmp_path, 'p1', marks=3)}")
    main.press(*BRANCH, "START")
    main.step("until lcd /FAX READY +REDIAL/ within 1m")
    main.step("power off")
    main.step("clear line.busy")
    main.step("wait 10s")
    main.step("power on")
    main.step('until lcd "COMPLETED" within 5m')
    assert [bars(p.pixels) for p in branch.received_pages()] == [3]


def test_a_power_cut_on_the_sender_mid_document_resumes_after_the_confirmed_pages(link, tmp_path):
    main, branch = link
    pages = [blank_page(tmp_path, f"p{n}", marks=n) for n in (1, 2, 3)]
    main.step("adf load " + " ".join(str(p) for p in pages))
    main.press(*BRANCH, "START")
    main.step('until lcd "SENDING P.002/003" within 3m')
    main.step("power off")
    main.step("wait 30s")
    main.step("power on")
    main.step('until lcd "SENDING P.002/003" within 3m')  # page 1 was confirmed before the cut
    main.step('until lcd "COMPLETED" within 3m')
    assert [bars(p.pixels) for p in branch.received_pages()] == [1, 2, 3]
