"""The desktop window under Xvfb: `estudio190f run` opens it; xdotool clicks and types as a person
would; the widgets are read back through Tk's `send` and the screen through a screenshot."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from estudio190f.panel.lcd_image import LCD_DARK, lcd_line_box, render_lcd
from estudio190f.panel.window import LED_COLOURS
from tests.conftest import REQUIRE_PEERS, need_testdata

pytestmark = pytest.mark.peer


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def console(emu, command: str) -> list[str]:
    """One command over the serial console (`--serial tcp:0`): its result lines."""
    host, port = emu.endpoint("serial tcp").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(command.encode() + b"\r\n")
        data = b""
        while not re.search(rb"(^|\r\n)(OK|ERR[^\r]*)\r\n$", data):
            chunk = sock.recv(4096)
            assert chunk, f"console closed: {data!r}"
            data += chunk
    lines = data.decode().split("\r\n")[:-1]
    assert lines[-1] == "OK", lines
    return lines[:-1]


def steady_lcd(emu, x):
    """A screenshot and the LCD lines the widget shows, read before and after it (the minute may
    turn in between: then try again)."""
    for _ in range(5):
        before = (emu.probe.get("lcd1"), emu.probe.get("lcd2"))
        shot = x.screenshot()
        after = (emu.probe.get("lcd1"), emu.probe.get("lcd2"))
        if before == after:
            return shot, list(after)
    raise AssertionError("the LCD kept changing")


def line_pixels(image: np.ndarray, line: int) -> np.ndarray:
    left, top, right, bottom = lcd_line_box(line)
    return image[top:bottom, left:right]


def led_colour(emu, shot: Image.Image, name: str) -> tuple[int, int, int]:
    left, top, width, height = emu.box(emu.probe.get(f"led_widget,{name}"))
    return shot.getpixel((left + width // 2, top + height // 2))  # type: ignore[return-value]


def test_the_window_opens_on_the_standby_screen(emulator, xserver):
    emu = emulator("--serial", "tcp:0")
    assert re.fullmatch(r"\d\d-\d\d-\d{4} \d\d:\d\d", emu.probe.get("lcd1"))
    assert emu.probe.get("lcd2") == "FAX READY"
    assert emu.probe.get("led,FAX") == "on"
    assert emu.probe.get("status,speed") == "SPEED \u00d720"
    assert emu.endpoint("serial tcp") in emu.probe.get("status,endpoints")
    # What the screen shows in the LCD's place is, pixel for pixel, those two lines drawn.
    shot, lines = steady_lcd(emu, xserver)
    assert np.array_equal(emu.lcd_pixels(shot), np.asarray(render_lcd(lines)))
    assert led_colour(emu, shot, "FAX") == rgb(LED_COLOURS["FAX"][0])
    assert led_colour(emu, shot, "COPY") == rgb(LED_COLOURS["COPY"][1])


def test_clicking_a_key_changes_the_machine_the_widget_and_the_screen(emulator, xserver):
    emu = emulator("--serial", "tcp:0")
    before, _ = steady_lcd(emu, xserver)
    emu.click_key("COPY")
    emu.wait_for(lambda: emu.probe.get("lcd2") == "COPY READY", what="COPY READY on the widget")
    # The machine itself changed (the serial console is served while the window is open).
    assert console(emu, "lcd?")[1] == "COPY READY"
    assert "COPY on" in console(emu, "led?")
    after, lines = steady_lcd(emu, xserver)
    shown = emu.lcd_pixels(after)
    assert np.array_equal(shown, np.asarray(render_lcd(lines)))
    # Line 2 on the screen went from the drawing of FAX READY to that of COPY READY.
    fax = line_pixels(np.asarray(render_lcd(["", "FAX READY"])), 2)
    copy = line_pixels(np.asarray(render_lcd(["", "COPY READY"])), 2)
    assert np.array_equal(line_pixels(emu.lcd_pixels(before), 2), fax)
    assert np.array_equal(line_pixels(shown, 2), copy)
    assert led_colour(emu, after, "COPY") == rgb(LED_COLOURS["COPY"][0])
    assert led_colour(emu, after, "FAX") == rgb(LED_COLOURS["FAX"][1])


def test_keyboard_shortcuts_press_the_keys(emulator):
    emu = emulator()
    emu.keyboard("c")
    emu.wait_for(lambda: emu.probe.get("lcd2") == "COPY READY", what="C for COPY")
    emu.keyboard("x", "5", "5", "7")
    emu.wait_for(lambda: emu.probe.get("lcd2") == "557", what="the digits typed")
    assert emu.probe.get("lcd1") == "FAX NUMBER"
    emu.keyboard("BackSpace")
    emu.wait_for(lambda: emu.probe.get("lcd2") == "55", what="Backspace as CLEAR")
    emu.keyboard("Escape")
    emu.wait_for(lambda: emu.probe.get("lcd2") == "FAX READY", what="Esc as STOP")


def test_a_key_shows_its_shortcut_on_hover(emulator):
    emu = emulator()
    start = emu.probe.get("key,START")

    def tooltip() -> str:
        for child in emu.probe.send("winfo", "children", start).split():
            if emu.probe.send("winfo", "class", child) == "Toplevel":
                label = emu.probe.send("winfo", "children", child).split()[0]
                return emu.probe.send(label, "cget", "-text")
        return ""

    for _ in range(3):  # the pointer comes to rest on START (again, if an Enter got lost)
        emu.point_at(emu.probe.get("key,STOP"))
        emu.point_at(start)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not tooltip():
            time.sleep(0.05)
        if tooltip():
            break
    assert "START" in tooltip() and "Enter" in tooltip()


def test_a_document_loaded_in_the_window_is_copied_into_the_tray(emulator, xserver, tmp_path):
    chart = need_testdata("ccitt", "itu1.pbm")
    emu = emulator("--serial", "tcp:0")
    emu.click_widget(emu.probe.get("path_entry"))
    xserver.xdotool("type", "--delay", "5", str(chart.resolve()))
    xserver.xdotool("key", "Return")
    emu.wait_for(lambda: emu.probe.get("feeder_count") == "1", what="the page in the feeder")
    assert "1 page waiting" in emu.probe.get("feeder_state")
    emu.click_key("COPY")
    emu.click_key("START")
    emu.wait_for(lambda: emu.probe.get("tray_count") == "1", timeout=60, what="a sheet in the tray")
    printed = tmp_path / "out" / "printed" / "0001.png"
    assert emu.probe.get("tray_newest") == str(printed.resolve())
    with Image.open(printed) as sheet:
        pixels = np.asarray(sheet.convert("1"))
    assert sheet.size[0] > 1600 and 0.01 < (~pixels).mean() < 0.5  # a page of text, not blank
    assert console(emu, "state?") == ["standby.copy"]
    assert emu.probe.get("feeder_count") == "0"
    # Clicking the thumbnail opens the sheet at full size in a window of its own.
    emu.click_widget(emu.probe.get("tray_newest_widget"))
    viewer = emu.find_window("Printed sheet 0001.png")
    geometry = xserver.xdotool("getwindowgeometry", viewer)
    width, height = map(int, re.search(r"Geometry: (\d+)x(\d+)", geometry).groups())
    assert height > 500 and width > 400


def test_the_feeder_shows_the_pages_waiting_in_feed_order(emulator, xserver, tmp_path):
    first, second = need_testdata("ccitt", "itu1.pbm"), need_testdata("ccitt", "itu4.pbm")
    spaced = tmp_path / "my scans"
    spaced.mkdir()
    (spaced / "page two.pbm").write_bytes(second.read_bytes())
    emu = emulator()
    emu.click_widget(emu.probe.get("path_entry"))
    # Two paths, the second with spaces, quoted as a shell would.
    xserver.xdotool("type", "--delay", "5", f"{first.resolve()} '{spaced / 'page two.pbm'}'")
    xserver.xdotool("key", "Return")
    emu.wait_for(lambda: emu.probe.get("feeder_count") == "2", what="two pages in the feeder")
    emu.wait_for(lambda: len(emu.probe.get("feeder_pages").splitlines()) == 2, what="thumbnails")
    assert emu.probe.get("feeder_pages").splitlines() == ["1. itu1.pbm", "2. page two.pbm"]
    assert "cover closed" in emu.probe.get("feeder_state")


def test_the_file_dialog_loads_documents_while_the_machine_runs_on(emulator, xserver):
    chart = need_testdata("ccitt", "itu2.pbm")
    emu = emulator("--serial", "tcp:0")
    emu.click_widget(emu.probe.get("load_button"))
    dialog = emu.find_window("Load documents")
    first = console(emu, "time?")[0]
    time.sleep(0.3)  # 6 s of machine time at --speed 20
    assert console(emu, "time?")[0] != first, "the clock stood still while the dialog was open"
    xserver.xdotool("windowfocus", "--sync", dialog)
    xserver.xdotool("type", "--delay", "5", str(chart.resolve()))
    xserver.xdotool("key", "Return")
    emu.wait_for(lambda: emu.probe.get("feeder_count") == "1", what="the page in the feeder")
    assert console(emu, "state?") == ["standby.fax"]


def test_the_faults_menu_sets_and_clears_a_fault(emulator, xserver):
    emu = emulator()
    emu.point_at(emu.probe.get("lcd_widget"))
    # Alt+A opens Faults; the third entry is printer.cover_open.
    xserver.xdotool("key", "alt+a")
    time.sleep(0.3)
    xserver.xdotool("key", "Down", "Down", "Return")
    emu.wait_for(lambda: "COVER OPEN" in emu.probe.get("lcd2"), what="COVER OPEN")
    assert emu.probe.get("faults") == "printer.cover_open"
    assert emu.probe.get("led,ALARM") == "on"
    shot, _ = steady_lcd(emu, xserver)
    assert led_colour(emu, shot, "ALARM") == rgb(LED_COLOURS["ALARM"][0])
    xserver.xdotool("key", "alt+a")
    time.sleep(0.3)
    xserver.xdotool("key", "Down", "Down", "Return")
    emu.wait_for(lambda: emu.probe.get("lcd2") == "FAX READY", what="the cover closed")
    assert emu.probe.get("faults") == ""
    assert emu.probe.get("led,ALARM") == "off"


def test_a_document_jam_shows_in_the_feeder(emulator):
    chart = need_testdata("ccitt", "itu1.pbm")
    emu = emulator()
    faults = emu.probe.get("menu,faults")
    emu.probe.send(faults, "invoke", "3")  # adf.jam, as the menu entry does
    emu.wait_for(lambda: emu.probe.get("faults") == "adf.jam", what="adf.jam set")
    emu.click_widget(emu.probe.get("path_entry"))
    emu.x.xdotool("type", "--delay", "5", str(chart.resolve()))
    emu.x.xdotool("key", "Return")
    emu.wait_for(lambda: emu.probe.get("feeder_count") == "1", what="the page in the feeder")
    emu.click_key("COPY")
    emu.click_key("START")
    emu.wait_for(lambda: emu.probe.get("lcd1") == "DOCUMENT JAM", timeout=30, what="DOCUMENT JAM")
    assert "DOCUMENT JAM" in emu.probe.get("feeder_state")


def test_power_cycle_from_the_machine_menu(emulator, xserver):
    emu = emulator()
    machine = emu.probe.get("menu,machine")
    emu.probe.send(machine, "invoke", "{Power off}")
    emu.wait_for(lambda: emu.probe.get("status,power") == "POWER off", what="power off")
    shot = xserver.screenshot()
    assert (emu.lcd_pixels(shot) == np.array(LCD_DARK, dtype=np.uint8)).all()
    assert emu.probe.get("lcd2") == ""
    emu.probe.send(machine, "invoke", "{Power on}")
    emu.wait_for(lambda: emu.probe.get("lcd2") == "FAX READY", timeout=30, what="standby again")


def test_ctrl_q_is_a_clean_shutdown(emulator, tmp_path):
    emu = emulator("--record", str(tmp_path / "session.txt"))
    emu.click_key("COPY")
    emu.wait_for(lambda: emu.probe.get("lcd2") == "COPY READY", what="COPY READY")
    emu.keyboard("ctrl+q")
    assert emu.proc.wait(timeout=30) == 0
    last = (tmp_path / "out" / "events.jsonl").read_text().splitlines()[-1]
    assert '"ev":"shutdown"' in last
    # The click went through the interpreter: the recording has it as a step.
    assert "press COPY" in (tmp_path / "session.txt").read_text().splitlines()


def test_closing_the_window_is_a_clean_shutdown(emulator, tmp_path):
    emu = emulator()
    # What a window manager does when the user closes the window: run its WM_DELETE_WINDOW.
    handler = emu.probe.send("wm", "protocol", ".", "WM_DELETE_WINDOW")
    emu.probe.send("after", "idle", handler)
    assert emu.proc.wait(timeout=30) == 0
    assert '"ev":"shutdown"' in (tmp_path / "out" / "events.jsonl").read_text().splitlines()[-1]


def test_files_dropped_on_the_feeder_are_loaded(emulator):
    chart = need_testdata("ccitt", "itu3.pbm")
    emu = emulator()
    target = emu.probe.get("drop_target")
    if not target:
        reason = "drag and drop needs the tkdnd Tcl package (Debian: tkdnd)"
        if REQUIRE_PEERS:
            pytest.fail(reason)
        pytest.skip(reason)
    # tkdnd runs the widget's <<Drop:DND_Files>> binding with %D the dropped paths; do the same.
    script = emu.probe.send("bind", target, "<<Drop:DND_Files>>")
    dropped = "{" + str(chart.resolve()) + "}"
    assert emu.probe.send("eval", script.replace("%D", f"[list {dropped}]")) == "copy"
    emu.wait_for(lambda: emu.probe.get("feeder_count") == "1", what="the page in the feeder")


def prompt_run(tmp_path, env, *extra: str) -> tuple[str, str]:
    """`run` fed `press COPY` on standard input, stopped with SIGTERM once the LCD line shows."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "estudio190f.panel.cli", "run", "--speed", "20", "--relay", "none",
         "--out", str(tmp_path / "out"), *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        proc.stdin.write(b"press COPY\n")
        proc.stdin.flush()
        out = b""
        deadline = time.monotonic() + 30
        while b"COPY READY" not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                out += chunk
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        return out.decode(errors="replace"), err.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_headless_keeps_the_prompt_even_with_a_display(xserver, tmp_path):
    out, _ = prompt_run(tmp_path, xserver.env, "--headless")
    assert "COPY READY" in out
    assert xserver.xdotool("search", "--name", "e-STUDIO190F", check=False).strip() == ""


def test_without_an_x_server_run_falls_back_to_the_prompt(tmp_path):
    env = {**os.environ, "DISPLAY": ":4093"}  # no X server there
    out, err = prompt_run(tmp_path, env)
    assert "COPY READY" in out
    assert "no window" in err


def test_the_window_follows_a_snapshot_restored_in_place(emulator, xserver, tmp_path):
    emu = emulator("--serial", "tcp:0")
    snapshot = tmp_path / "standby.snap"
    console(emu, f"snapshot {snapshot}")  # FAX standby
    emu.click_key("COPY")
    emu.wait_for(lambda: emu.probe.get("lcd2") == "COPY READY", what="COPY READY on the widget")
    console(emu, f"restore {snapshot}")
    # The widget shows the restored machine, not the one it was built on...
    emu.wait_for(lambda: emu.probe.get("lcd2") == "FAX READY", what="FAX READY after the restore")
    assert emu.probe.get("led,FAX") == "on" and emu.probe.get("led,COPY") == "off"
    # ...and its keys drive it: a click changes what the console reads.
    emu.click_key("SCAN")
    emu.wait_for(lambda: emu.probe.get("lcd2") == "SCAN READY", what="SCAN READY on the widget")
    assert console(emu, "lcd?")[1] == "SCAN READY"
    shot, lines = steady_lcd(emu, xserver)
    assert np.array_equal(emu.lcd_pixels(shot), np.asarray(render_lcd(lines)))
