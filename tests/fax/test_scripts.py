"""A fax key script replayed with `estudio190f replay`, as a test rig would run it: two machines,
a busy line, the redial, and the files the run leaves under --out."""

from __future__ import annotations

import subprocess
import sys

from conftest import need_testdata

SCRIPT = """\
# Memory transmission to a busy line: the file waits, redials after 2 minutes, gets through.
device branch 5559876
adf load {chart}
fault line.busy
press 5 5 5 9 8 7 6 START
expect lcd "SCANNING"
until lcd "DIALING" within 1m
expect led LINE on
until lcd "BUSY" within 1m
expect lcd "REDIAL IN 2 MIN" line 2
until lcd /FAX READY +REDIAL/ within 5s
expect led MEMORY on
clear line.busy
until lcd "SENDING" within 3m
on branch until lcd "RECEIVING" within 5s
until lcd "COMPLETED" within 3m
expect led MEMORY off
expect journal /TX +5559876 +P000 BUSY/
expect journal /TX +5559876 +P001 OK/
on branch expect journal /RX +5551234 +P001 OK/
on branch until printed 1 within 2m
"""


def test_busy_then_redial_script_passes(tmp_path):
    script = tmp_path / "busy_then_redial.txt"
    script.write_text(SCRIPT.format(chart=need_testdata("ccitt", "itu1.pbm")))
    proc = subprocess.run(
        [sys.executable, "-m", "estudio190f.panel.cli", "replay", str(script),
         "--out", str(tmp_path / "out"), "--relay", "none"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(list((tmp_path / "out" / "branch" / "received").glob("*.tif"))) == 1
    assert len(list((tmp_path / "out" / "branch" / "printed").glob("*.png"))) == 1
    assert (tmp_path / "out" / "events.jsonl").stat().st_size > 0
