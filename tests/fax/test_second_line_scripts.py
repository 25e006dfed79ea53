"""Key scripts replayed with `estudio190f replay --config`, as a test rig drives a machine with
the 2nd G3 option: two calls into it at once, then a transmission on one port while the other
receives; both sets of pages, the journal and the files under --out."""

from __future__ import annotations

import subprocess
import sys

from .conftest import blank_page

SCRIPT = """\
# Two machines call the two numbers of a machine with the 2nd G3 option at once.
device a 5550001
device b 5550002
on a adf load {a1} {a2} {a3}
on b adf load {b1} {b2}
on a press 5 5 5 1 2 3 4 START
on b press 5 5 5 1 2 3 5 START
until lcd "2:RECEIVING" line 2 within 1m
until lcd "1:RECEIVING" line 1 within 10s
expect led LINE on
expect state "(port 1)"
expect state "(port 2)"
until lcd "FAX READY" within 3m
expect led LINE off
expect journal /RX +5550001 +P003 OK PORT 1/
expect journal /RX +5550002 +P002 OK PORT 2/
on a expect journal /TX +5551234 +P003 OK/
on b expect journal /TX +5551234 +P002 OK/
until printed 5 within 2m
# Then it sends on port 1 while b calls its second number.
adf load {m1} {m2}
press 5 5 5 0 0 0 1 START
until lcd "SENDING" within 1m
on b adf load {b1}
on b press 5 5 5 1 2 3 5 START
until lcd "2:RECEIVING" line 2 within 1m
expect lcd "1:SENDING" line 1
until lcd "FAX READY" within 3m
expect journal /TX +5550001 +P002 OK PORT 1/
expect journal /RX +5550002 +P001 OK PORT 2/
on a expect journal /RX +5551234 +P002 OK/
"""


def test_two_calls_at_once_then_dual_access_script_passes(tmp_path):
    pages = {f"{who}{n}": blank_page(tmp_path, f"{who}{n}", marks=n)
             for who in "abm" for n in (1, 2, 3)}  # fmt: skip
    script = tmp_path / "second_line.txt"
    script.write_text(SCRIPT.format(**pages))
    config = tmp_path / "machine.toml"
    config.write_text('[options]\nsecond_line = true\n[machine]\nnumber2 = "5551235"\n')
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "estudio190f.panel.cli", "replay", str(script), "--config",
         str(config), "--out", str(out), "--relay", "none"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(list((out / "received").glob("*.tif"))) == 3
    assert len(list((out / "a" / "received").glob("*.tif"))) == 1
    assert len(list((out / "printed").glob("*.png"))) == 6


def test_a_script_that_expects_the_wrong_port_fails(tmp_path):
    script = tmp_path / "wrong_port.txt"
    page = blank_page(tmp_path, "a1")
    script.write_text(
        "device a 5550001\n"
        f"on a adf load {page}\n"
        "on a press 5 5 5 1 2 3 5 START\n"
        'until lcd "COMPLETED" within 2m\n'
        "expect journal /PORT 1/\n"
    )
    config = tmp_path / "machine.toml"
    config.write_text("[options]\nsecond_line = true\n")
    proc = subprocess.run(
        [sys.executable, "-m", "estudio190f.panel.cli", "replay", str(script), "--config",
         str(config), "--out", str(tmp_path / "out"), "--relay", "none"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "wrong_port.txt:5: expect journal /PORT 1/" in proc.stdout + proc.stderr
