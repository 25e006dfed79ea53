"""One machine, one truth: the seams a newcomer hit, driven the way users drive the machine.

- `type` works wherever pressing the same keys works (digits in FAX standby start a number);
- READY shows only when nothing runs: not while a received page is still printing;
- page counters name each page once, in order, never one past the last; no picture is shown and
  replaced at the same virtual instant;
- `state?` and the LCD agree (the screen is derived from the state);
- a document jam says the same words and recovers the same way in COPY, FAX and SCAN.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

BRANCH = "5559876"


def page(tmp_path: Path, name: str, marks: int = 1, lines: int = 600) -> Path:
    pixels = np.full((lines, 1728), 255, dtype=np.uint8)
    for i in range(marks):
        pixels[40 + i * 40 : 60 + i * 40, 1000:1400] = 0
    path = tmp_path / f"{name}.png"
    Image.fromarray(pixels).convert("1").save(path)
    return path


def lcd_events(fax) -> list[tuple[str, list[str]]]:
    return [(e["t"], e["lines"]) for e in fax.events if e["src"] == "panel" and e["ev"] == "lcd"]


# -- type ------------------------------------------------------------------------------------------
def test_type_in_fax_standby_starts_a_number_as_the_keys_do(tmp_path):
    script = tmp_path / "newcomer.txt"
    script.write_text(
        "press FAX\n"
        "type 5551234\n"
        'expect lcd "FAX NUMBER" line 1\n'
        'expect lcd "5551234" line 2\n'
        "expect state dial.number\n"
        "press STOP\n"
        'type "555P1234"\n'  # P is a pause once number entry is open
        'expect lcd "555P1234" line 2\n'
    )
    run = subprocess.run(
        [sys.executable, "-m", "estudio190f.panel.cli", "replay", str(script), "--relay", "none"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


def test_type_in_copy_and_scan_standby_opens_their_entry(fax):
    fax.press("COPY")
    fax.type("12")
    assert fax.lcd == ["NO. OF COPIES", "12"]
    fax.press("STOP", "SCAN")
    fax.type("Tim@example.com")
    assert fax.state == "address"
    fax.run_for("2s")
    assert fax.lcd[1] == "TIM@EXAMPLE.COM"


def test_type_refuses_what_the_keys_cannot_enter_there(fax):
    fax.press("COPY")
    with pytest.raises(Exception, match=r"cannot be entered here \(digits\)"):
        fax.type("*")
    fax.press("FAX", "FUNCTION")  # a menu list: no text or numbers
    with pytest.raises(Exception, match="takes no text or numbers"):
        fax.type("1")


# -- READY and the counters while receiving and printing -------------------------------------------
@pytest.fixture
def received_two_pages(fax, tmp_path):
    """main sends two pages to branch; returns branch after its last page is printed."""
    branch = fax.device("branch", BRANCH)
    fax.step(f"adf load {page(tmp_path, 'p1', 1)} {page(tmp_path, 'p2', 2)}")
    fax.type(BRANCH)
    fax.press("START")
    branch.step('until lcd "COMPLETED" within 3m')
    branch.step("until printed 2 within 2m")
    branch.step('until lcd "FAX READY" within 30s')
    return branch


def test_ready_is_not_shown_while_a_received_page_is_still_printing(received_two_pages):
    branch = received_two_pages
    events = branch.events
    queued = [e["t"] for e in events if e["src"] == "queue" and e["ev"] == "ready"]
    delivered = [e["t"] for e in events if e["src"] == "printer" and e["ev"] == "delivered"]
    assert len(queued) == 2 and len(delivered) == 2
    first, last = float(queued[0]), float(delivered[-1])
    readies = [float(t) for t, lines in lcd_events(branch) if "READY" in lines[1]]
    assert readies and all(t < first or t > last for t in readies), (first, last, readies)
    printing = [lines for t, lines in lcd_events(branch) if first <= float(t) <= last]
    assert ["PRINTING", "COMPLETED"] in printing or any(ln[0] == "PRINTING" for ln in printing)


def test_each_page_number_shows_once_in_order_and_never_past_the_last(received_two_pages):
    branch = received_two_pages
    receiving: list[int] = []
    printing: list[tuple[int, int]] = []
    for _, (line1, line2) in lcd_events(branch):
        m = re.fullmatch(r"RECEIVING P\.(\d{3})", line1)
        if m and (not receiving or receiving[-1] != int(m.group(1))):
            receiving.append(int(m.group(1)))
        m = re.fullmatch(r"PAGE (\d+)/(\d+)", line2)
        if line1 == "PRINTING" and m and (not printing or printing[-1] != m.groups()):
            printing.append((int(m.group(1)), int(m.group(2))))
    assert receiving == [1, 2]
    assert printing and all(n <= total for n, total in printing)
    numbers = [n for n, _ in printing]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


def test_no_picture_is_shown_and_replaced_at_the_same_instant(received_two_pages, fax):
    for machine in (fax, received_two_pages):
        stamps = Counter(t for t, _ in lcd_events(machine))
        assert [t for t, n in stamps.items() if n > 1] == []


# -- state and LCD ---------------------------------------------------------------------------------
def test_send_options_is_a_state_of_its_own(fax):
    fax.type("5559876")
    fax.press("FUNCTION")
    assert fax.state == "dial.options" and fax.lcd == ["SEND OPTION", "1:DELAYED TX"]
    fax.press("2")  # POLLING chosen: back to the number
    assert fax.state == "dial.number" and fax.lcd == ["POLLING", "5559876"]


KEYS = ["1", "5", "#", "*", "START", "STOP", "CLEAR", "SET", "FUNCTION", "LEFT", "RIGHT", "FAX",
        "COPY", "SCAN", "RESOLUTION", "REDIAL_PAUSE", "SPEED_DIAL", "ONE_TOUCH_01"]  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_the_lcd_is_always_the_screen_of_the_state(fax, seed):
    rng = np.random.default_rng(seed)
    panel = fax.firmware.panel
    for _ in range(150):
        fax.press(str(rng.choice(KEYS)))
        if rng.random() < 0.1:
            fax.run_for("3s")
        overlay = fax.lcd[0] in ("RESOLUTION", "CONTRAST")
        if not overlay:
            expected = [line.upper()[:20].rstrip() for line in panel.screen.lines()]
            assert fax.lcd == expected, (fax.state, fax.lcd)
        assert fax.state.startswith(panel.screen.state)


# -- one feeder flow -------------------------------------------------------------------------------
def jam_and_clear(machine, tmp_path) -> None:
    machine.step('until lcd "SCANNING" within 10s')
    machine.step("wait 2s")
    machine.step("fault adf.jam")
    machine.step('until lcd "DOCUMENT JAM" within 30s')
    machine.step('expect lcd "REMOVE DOCUMENT" line 2')
    machine.step("expect led ALARM on")
    machine.step("clear adf.jam")
    machine.step('until lcd "SCANNING" within 10s')


def test_a_document_jam_in_copy_says_the_same_and_resumes(fax, tmp_path):
    fax.step(f"adf load {page(tmp_path, 'a', 1)} {page(tmp_path, 'b', 2)} {page(tmp_path, 'c', 3)}")
    fax.press("COPY", "START")
    jam_and_clear(fax, tmp_path)
    fax.step("until printed 3 within 5m")


def test_a_document_jam_in_fax_says_the_same_and_resumes(fax, tmp_path):
    branch = fax.device("branch", BRANCH)
    fax.step(f"adf load {page(tmp_path, 'a', 1)} {page(tmp_path, 'b', 2)} {page(tmp_path, 'c', 3)}")
    fax.type(BRANCH)
    fax.press("START")
    jam_and_clear(fax, tmp_path)
    fax.step('until lcd "COMPLETED" within 5m')
    branch.step("until printed 3 within 5m")


def test_a_document_jam_in_scan_to_email_says_the_same_and_resumes(fax_factory, tmp_path):
    fax = fax_factory(relay=True)
    fax.step(f"adf load {page(tmp_path, 'a', 1)} {page(tmp_path, 'b', 2)} {page(tmp_path, 'c', 3)}")
    fax.press("SCAN")
    fax.type("tim@example.com")
    fax.press("START")
    jam_and_clear(fax, tmp_path)
    fax.step('until lcd "EMAIL SENT" within 5m')
    fax.step('expect lcd "3 PAGES" line 2')
