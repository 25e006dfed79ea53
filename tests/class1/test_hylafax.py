"""HylaFAX's faxsend (Class 1 driver, a private spool) sends to the emulator through the virtual
modem: a two-dimensional (MR) page without ECM, and the same page with ECM, where HylaFAX runs
HDLC itself over +FTM and chooses MMR. The machine must print the chart identical.

Speed factor 10: faxsend's timeouts are generous and it keeps up at 10x (a page of 14 s on the
line takes 1.4 s); a test takes about 11 s of wall time, half of it faxsend's own modem set-up.
faxsend exits 2 when the job is done (send_done).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import need_program, need_testdata
from PIL import Image

from .peers import (
    Emulator,
    chart,
    faxsend_program,
    hylafax_session_log,
    hylafax_spool,
    short_dir,
)

pytestmark = [pytest.mark.peer, pytest.mark.slow]

SPEED = 10
SETTINGS = '[paper]\nsize = "legal"\n'
SEND_DONE = 2


@pytest.fixture
def place():
    base = short_dir()
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize(
    ("ecm", "coding", "dataformat", "negotiated"),
    [(False, 1, "2-D MR", "MR, no ECM"), (True, 4, "2-D MMR", "MMR, ECM 256")],
    ids=["mr", "ecm-mmr"],
)
def test_faxsend_sends_a_page_that_the_machine_prints_identical(
    place, ecm: bool, coding: int, dataformat: str, negotiated: str
) -> None:
    need_program("faxsend")
    source = chart(1)
    document = place / "doc.tif"
    subprocess.run(
        [sys.executable, "-m", "estudio190f.panel.cli", "codec", "encode", "--coding", "mr",
         "--k", "4", str(need_testdata("ccitt", "itu1.pbm")), str(document)],
        check=True, timeout=120,
    )  # fmt: skip
    link = place / "modem"
    emulator = Emulator(place, link, speed=SPEED, settings=SETTINGS)
    try:
        spool, devid = hylafax_spool(place, link, document, ecm=ecm, coding=coding)
        # 30 virtual minutes at 10x: faxsend gets 3 wall minutes on a loaded machine
        emulator.console.send("until printed 1 within 30m")
        send = subprocess.run([faxsend_program(), "-l", "-m", devid, "sendq/q1"], cwd=spool,
                              capture_output=True, timeout=300)  # fmt: skip
        job = (spool / "sendq" / "q1").read_text()
        assert send.returncode == SEND_DONE, f"{job}\n{hylafax_session_log(spool)[-6000:]}"
        assert f"dataformat:{dataformat}" in job
        emulator.console.answer(timeout=60)
        events = [
            json.loads(line) for line in (emulator.out / "events.jsonl").read_text().splitlines()
        ]
        [session] = [e["params"] for e in events if e.get("ev") == "negotiated"]
        assert f"fine, {negotiated}" in session, session

        [tiff] = emulator.files("received")
        with Image.open(tiff) as image:
            received = ~np.asarray(image.convert("1"), dtype=bool)
        assert (received == source).all()

        [sheet] = emulator.files("printed")
        with Image.open(sheet) as image:
            printed = np.asarray(image.convert("L")) < 128
        rows, width = source.shape[0], printed.shape[1]
        assert not source[:, width:].any()
        assert (printed[:rows] == source[:, :width]).all()
        assert not printed[rows:].any()
    finally:
        emulator.stop()
