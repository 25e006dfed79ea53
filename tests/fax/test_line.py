"""The line as the operator meets it: a noisy line makes the call fall back to a slower speed (and
the LCD, journal and report say which); a page spoiled on the way is refused (RTN) and sent again."""

from __future__ import annotations

from .conftest import BRANCH, same


def test_a_noisy_line_falls_back_and_still_delivers_every_pixel(link, charts):
    main, branch = link
    main.set(scan_resolution="fine", transmit_header="off")  # ECM on (factory setting)
    main.step("fault line.noise")
    main.step("adf load " + " ".join(str(p) for p in charts(1, 2)))
    main.press(*BRANCH, "START")
    main.step('until lcd "SENDING P.001/002" within 3m')
    main.step('expect lcd "V.17 9600" line 2')
    main.step('until lcd "COMPLETED" within 5m')
    trained = [e["params"].split(",")[0] for e in main.events("t30", "negotiated")]
    assert trained == ["V.17 14400", "V.17 12000", "V.17 9600"]  # FTT, FTT, then CFR
    assert main.journal()[-1].speed == "V.17 9600"
    assert branch.journal()[-1].speed == "V.17 9600"
    for got, sent in zip(branch.received_pages(), main.scanned_pages(), strict=True):
        assert same(got, sent)  # ECM corrected what the noise spoiled


def test_a_spoiled_page_is_refused_and_sent_again_slower(link, charts):
    main, branch = link
    for station in link:
        station.set(modem_ecm="off", modem_coding="mr")
    main.set(scan_resolution="fine", transmit_header="off")
    main.step("adf load " + " ".join(str(p) for p in charts(1)))
    main.press(*BRANCH, "START")
    main.step("until state job.fax_send/t30.phase_c within 2m")
    # The page's data at 14400 gets a burst of errors (TCF had passed): the receiver says RTN.
    main.board.line.impair(ber={"V.17/14400": 1e-3})
    main.step('until lcd "COMPLETED" within 5m')
    responses = [e["frame"] for e in main.events("t30", "recv") if e["frame"] in ("MCF", "RTN")]
    assert responses == ["RTN", "MCF"]
    assert main.journal()[-1].speed == "V.17 12000"
    (got,) = branch.received_pages()
    assert same(got, main.scanned_pages()[0])  # the copy kept is the clean second one
    assert branch.journal()[-1].pages == 1
    branch.step("until printed 1 within 2m")
