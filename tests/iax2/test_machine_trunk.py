"""The machine on its PBX trunk (`run --iax2`), with iaxmodem as a Class 1 modem for real fax
software, in real time (a call through the trunk paces virtual time to the wall):

- efax dials the machine's number through iaxmodem (slinear) and sends a page;
- HylaFAX's faxsend does the same (iaxmodem set to A-law);
- the machine dials iaxmodem's number (`[line.peers]` maps it to iaxmodem's UDP port) and HylaFAX's
  faxgetty on iaxmodem receives the page.

The page is identical on both sides each time. How iaxmodem is set up: docs/iax2.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from class1.peers import chart, faxsend_program, hylafax_session_log, hylafax_spool
from conftest import need_program, need_testdata

from estudio190f.firmware.page import Page

from .harness import IAXMODEM_NUMBER
from .machine import free_udp_port, machine_on_trunk, start_iaxmodem
from .spandsp_fax import need_spandsp
from .test_iaxmodem import (
    EFAX_HEADER_ROWS,
    SEND_DONE,
    place,
    received_tiff,
    remove_stale_lock,
    standard_chart,
)

__all__ = ["place"]  # the fixture, shared with test_iaxmodem

MACHINE = "5551234"


def received_pages(fax) -> list[Page]:  # type: ignore[no-untyped-def]
    pages: list[Page] = []
    fax.firmware.fax.documents.add(lambda document: pages.extend(document.images))
    return pages


def last_rx(fax):  # type: ignore[no-untyped-def]
    return fax.firmware.journal.entries()[-1]


@pytest.mark.peer
@pytest.mark.slow
def test_efax_sends_through_iaxmodem_to_the_machine(place: Path) -> None:
    need_program("iaxmodem", "stdbuf", "efax", "efix")
    need_spandsp()
    source = chart(1)  # fine: efax's header is 20 rows there (the test of phase 1 measured it)
    document = place / "page.tif"
    with open(document, "wb") as out:
        subprocess.run(["efix", "-i", "pbm", "-o", "tiffg3", str(need_testdata("ccitt", "itu1.pbm"))],
                       stdout=out, stderr=subprocess.DEVNULL, check=True)  # fmt: skip
    fax, trunk = machine_on_trunk(place)
    fax.settings.set("receive.rings", 1)
    got = received_pages(fax)
    modem = start_iaxmodem(place, trunk, "slinear")
    log_path = place / "efax.log"
    try:
        with open(log_path, "w") as log:
            efax = subprocess.Popen(
                ["efax", "-d", str(modem.device), "-o1", "-l", IAXMODEM_NUMBER, "-v", "ewinchmart",
                 "-t", MACHINE, str(document)],
                stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
            try:
                trunk.run_until(lambda: efax.poll() is not None, 120, "efax to finish")
                trunk.run_until(lambda: fax.lcd[1].endswith("READY"), 10, "the machine in standby")
            finally:
                if efax.poll() is None:
                    efax.kill()
                    efax.wait()
    finally:
        modem.stop()
        fax.sim.close()
    efax_log = log_path.read_text()
    assert efax.returncode == 0, efax_log[-3000:]
    entry = last_rx(fax)
    assert (entry.kind, entry.remote, entry.pages, entry.result) == ("RX", IAXMODEM_NUMBER, 1, "OK")
    assert entry.speed == "V.17 14400"
    [page] = got
    # efax puts 20 blank rows and its header above the page, then the page itself
    assert page.pixels.shape == (source.shape[0] + 20, 1728)
    assert (page.pixels[EFAX_HEADER_ROWS:] == source[8:]).all()
    assert not source[:8].any()
    calls = [e for e in fax.events if e["src"] == "iax2" and e["ev"] == "call_in"]
    assert [(c["number"], c["caller"], c["format"]) for c in calls] == [
        (MACHINE, IAXMODEM_NUMBER, "SLINEAR")
    ]
    assert sorted((place / "out" / "calls").glob("*.wav")), "the call is recorded"


@pytest.mark.peer
@pytest.mark.slow
def test_hylafax_faxsend_sends_through_iaxmodem_to_the_machine(place: Path) -> None:
    need_program("iaxmodem", "stdbuf", "faxsend")
    need_spandsp()
    document, source = standard_chart(place)
    fax, trunk = machine_on_trunk(place)
    fax.settings.set("receive.rings", 1)
    got = received_pages(fax)
    modem = start_iaxmodem(place, trunk, "alaw")
    try:
        spool, devid = hylafax_spool(place, modem.device, document, ecm=False, coding=1)
        send = subprocess.Popen([faxsend_program(), "-l", "-m", devid, "sendq/q1"], cwd=spool,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            trunk.run_until(lambda: send.poll() is not None, 120, "faxsend to finish")
            trunk.run_until(lambda: fax.lcd[1].endswith("READY"), 10, "the machine in standby")
        finally:
            if send.poll() is None:
                send.kill()
                send.wait()
    finally:
        modem.stop()
        fax.sim.close()
    job = (spool / "sendq" / "q1").read_text()
    assert send.returncode == SEND_DONE, f"{job}\n{hylafax_session_log(spool)[-4000:]}"
    entry = last_rx(fax)
    assert (entry.kind, entry.pages, entry.result) == ("RX", 1, "OK")
    [page] = got
    assert page.pixels.shape == source.shape and (page.pixels == source).all()
    calls = [e for e in fax.events if e["src"] == "iax2" and e["ev"] == "call_in"]
    assert [c["format"] for c in calls] == ["ALAW"]


@pytest.mark.peer
@pytest.mark.slow
def test_hylafax_faxgetty_on_iaxmodem_receives_from_the_machine(place: Path) -> None:
    need_program("iaxmodem", "stdbuf", "faxgetty")
    need_spandsp()
    modem_port = free_udp_port()
    fax, trunk = machine_on_trunk(place, peer_port=modem_port)
    scanned: list[Page] = []
    fax.firmware.fax.scanned.add(lambda _f, _n, page: scanned.append(page))
    modem = start_iaxmodem(place, trunk, "slinear", port=modem_port)
    spool = place / "spool"
    devid = str(modem.device).replace("/", "_")
    for folder in ("etc", "recvq", "log", "status", "info", "tmp", "client", "bin"):
        (spool / folder).mkdir(parents=True, exist_ok=True)
    (spool / "etc" / f"config.{devid}").write_text(
        "ModemType: Class1\n"
        "ModemResetDelay: 200\n"
        "ModemSoftResetCmdDelay: 200\n"
        "RingsBeforeAnswer: 1\n"
        "Class1ECMSupport: no\n"
        "SessionTracing: 0xFFF\n"
        f'LocalIdentifier: "{IAXMODEM_NUMBER}"\n'
        f"FAXNumber: {IAXMODEM_NUMBER}\n"
        "RecvFileMode: 0644\n"
    )
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "uucp:uucp", str(spool)], check=False)
    getty = subprocess.Popen(["faxgetty", "-q", str(spool), str(modem.device)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    status = spool / "status" / devid
    try:
        trunk.run_until(lambda: status.exists() and "idle" in status.read_text(), 30,
                        "faxgetty to be running and idle")  # fmt: skip
        trunk.run_for(6.0)  # iaxmodem refuses calls for 5 s after faxgetty's modem reset
        fax.step(f"adf load {need_testdata('ccitt', 'itu1.pbm')}")
        fax.press(*IAXMODEM_NUMBER, "START")
        trunk.run_until(lambda: "COMPLETED" in fax.lcd[0] or "ERROR" in fax.lcd[0], 120,
                        "the machine to finish sending")  # fmt: skip
        trunk.run_until(lambda: bool(list((spool / "recvq").glob("fax*.tif"))), 10, "recvq")
    finally:
        getty.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while getty.poll() is None and time.monotonic() < deadline:
            trunk.run_for(0.2)
        if getty.poll() is None:
            getty.kill()
            getty.wait()
        modem.stop()
        fax.sim.close()
        remove_stale_lock(modem.device)
    entry = fax.firmware.journal.entries()[-1]
    assert (entry.kind, entry.remote, entry.pages, entry.result) == ("TX", IAXMODEM_NUMBER, 1, "OK")
    [fax_file] = sorted((spool / "recvq").glob("fax*.tif"))
    page = received_tiff(fax_file)
    [sent] = scanned
    assert page.shape == sent.pixels.shape and np.array_equal(page, sent.pixels)
    info = subprocess.run(["faxinfo", str(fax_file)], capture_output=True, text=True).stdout
    assert MACHINE in info, info
    calls = [e for e in fax.events if e["src"] == "iax2" and e["ev"] == "call_out"]
    assert [c["number"] for c in calls] == [IAXMODEM_NUMBER]
