"""A fault in one event is contained, NVRAM that lies or cannot be written is survived, the clock
holds only the dates its chip holds, settings are refused with their reason alike in the menu and
the settings file, and journal entries made while the machine starts carry the clock's time."""

from __future__ import annotations

import datetime as dt
import json
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from .conftest import Running, cli
from .test_console_clients import answer, client


def page(tmp_path: Path, name: str = "page", lines: int = 800) -> Path:
    path = tmp_path / f"{name}.png"
    Image.new("1", (1728, lines), 1).save(path)
    return path


# -- one event's fault ------------------------------------------------------------------------------
def test_an_exception_in_one_event_is_shown_journalled_and_the_machine_runs_on(fax, tmp_path):
    def boom() -> None:
        raise ZeroDivisionError("a bug")

    fax.firmware.board.timers.call_later(0, boom, label="test fault")
    fax.run_for("100ms")
    assert fax.lcd == ["SYSTEM ERROR", "SEE JOURNAL"]
    assert fax.journal[-1].endswith("SYSTEM ERROR")
    [event] = [e for e in fax.events if e["ev"] == "fault" and e["src"] == "firmware"]
    assert event["where"] == "test fault" and event["error"] == "ZeroDivisionError"
    assert "a bug" not in json.dumps(list(fax.events))  # the text is not shown anywhere
    fax.run_for("5s")
    fax.step(f"adf load {page(tmp_path)}")
    fax.press("COPY", "START")
    fax.until("printed 1", within="2m")  # it runs on


def test_faults_that_keep_coming_make_the_watchdog_restart_the_machine(fax):
    def storm() -> None:
        fax.firmware.board.timers.call_soon(storm, label="storm")
        raise RuntimeError("again")

    fax.firmware.board.timers.call_later(0, storm, label="storm")
    fax.run_for("1s")
    assert any(e["ev"] == "watchdog" for e in fax.events)
    fax.until('lcd "FAX READY"', within="1m")  # restarted, without the storm (RAM is gone)
    assert fax.state == "standby.fax"


# -- NVRAM ------------------------------------------------------------------------------------------
def test_a_stored_setting_of_the_wrong_type_is_put_back_and_journalled(tmp_path):
    state = tmp_path / "state"
    run = Running(tmp_path, "--state", state, "--serial", "tcp:0")
    port = client(run.tcp_port())
    assert answer(port, "lcd?")[-1] == "OK"
    assert run.terminate() == 0
    db = sqlite3.connect(state / "nvram.sqlite")
    db.execute("INSERT OR REPLACE INTO kv VALUES ('settings', 'receive.rings', '\"many\"')")
    db.execute("INSERT OR REPLACE INTO kv VALUES ('settings', 'scan.resolution', '7')")
    db.commit()
    db.close()
    run = Running(tmp_path, "--state", state, "--serial", "tcp:0")
    port = client(run.tcp_port())
    journal = answer(port, "journal?")
    assert journal[-2].endswith("SETTINGS RESET") and journal[-1] == "OK"
    assert answer(port, "press RESOLUTION")[-1] == "OK"
    assert answer(port, "lcd?")[:2] == ["RESOLUTION", "STANDARD"]  # the factory value
    assert run.terminate() == 0


def test_a_read_only_nvram_file_is_survived_and_a_received_fax_still_prints(tmp_path):
    state = tmp_path / "state"
    run = Running(tmp_path, "--state", state, "--serial", "tcp:0")
    client(run.tcp_port())
    assert run.terminate() == 0
    nvram = state / "nvram.sqlite"
    if subprocess.run(["chattr", "+i", str(nvram)], capture_output=True).returncode != 0:
        pytest.fail("chattr +i is needed to make the file unwritable for root")
    try:
        run = Running(tmp_path, "--state", state, "--serial", "tcp:0", "--documents", tmp_path,
                      "--speed", "20")  # fmt: skip
        port = client(run.tcp_port())
        assert answer(port, 'until lcd "NVRAM READ ONLY" within 30s')[-1] == "OK"
        for step in ("device branch 5559876", f"on branch adf load {page(tmp_path)}",
                     "on branch type 5551234", "on branch press START",
                     "until printed 1 within 5m"):  # fmt: skip
            assert answer(port, step, timeout=60)[-1] == "OK", step
        assert answer(port, "journal?")[-2].endswith("OK")  # the RX entry, in RAM
        assert run.terminate() == 0
    finally:
        subprocess.run(["chattr", "-i", str(nvram)], check=True)


# -- the clock chip ---------------------------------------------------------------------------------
def test_the_clock_holds_2000_to_2099_and_wraps_round(tmp_path):
    script = tmp_path / "far.txt"
    script.write_text("clock 9999-12-31 23:59\n")
    refused = cli("replay", script, "--relay", "none", cwd=tmp_path)
    assert refused.returncode == 2
    assert "the clock holds 2000-01-01 to 2099-12-31" in refused.stdout + refused.stderr
    script.write_text(
        'clock 2099-12-31 23:59\nwait 2m\nexpect lcd "01-01-2000 00:01" line 1\n'
        'press FUNCTION 1\ntype 010121000000\npress SET\nexpect lcd "2000-2099 ONLY" line 2\n'
    )
    ok = cli("replay", script, "--relay", "none", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_a_settings_file_clock_out_of_range_is_refused(tmp_path):
    settings = tmp_path / "s.toml"
    settings.write_text('[machine]\nclock = "1999-12-31 23:00"\n')
    script = tmp_path / "s.txt"
    script.write_text("lcd?\n")
    run = cli("replay", script, "--config", settings, "--relay", "none", cwd=tmp_path)
    assert run.returncode == 2 and "s.toml:2" in run.stderr + run.stdout


# -- settings refused alike -------------------------------------------------------------------------
@pytest.mark.parametrize("text, reason", [
    ('[smtp]\nhost = "[::1]"\n', "without brackets (::1)"),
    ('[smtp]\nfrom = ""\n', "smtp.from cannot be empty"),
    ('[machine]\nnumber = ""\n', "machine.number cannot be empty"),
    ('[[one_touch]]\nslot = 1\nfax = "1"\n[[one_touch]]\nslot = 1\nfax = "2"\n',
     "slot 1 is given twice"),
])  # fmt: skip
def test_the_settings_file_refuses_with_the_reason(tmp_path, text, reason):
    settings = tmp_path / "s.toml"
    settings.write_text(text)
    script = tmp_path / "s.txt"
    script.write_text("lcd?\n")
    run = cli("replay", script, "--config", settings, "--relay", "none", cwd=tmp_path)
    assert run.returncode == 2 and reason in run.stdout + run.stderr


def test_the_menu_refuses_an_empty_sender_and_a_bracketed_host(fax):
    fax.press("FUNCTION", "7", "7")  # E-MAIL, FROM ADDRESS
    fax.press(*["CLEAR"] * 20, "SET")
    fax.expect('lcd "INVALID ENTRY"')
    fax.run_for("3s")
    fax.press("STOP", "1")  # back to the E-MAIL list: SMTP SERVER
    fax.type("[::1]")
    fax.press("SET")
    fax.expect('lcd "INVALID ENTRY"')
    fax.run_for("3s")
    fax.press("STOP", "1")
    fax.type("::1")
    fax.press("SET")
    fax.expect('lcd "COMPLETED"')
    assert fax.settings["smtp.host"] == "::1"


# -- the time of journal entries made while the machine starts --------------------------------------
def test_a_copy_cut_by_a_crash_is_journalled_at_the_restart_with_the_clock_time(tmp_path):
    state = tmp_path / "state"
    pages = " ".join(str(page(tmp_path, f"p{n}", 2200)) for n in range(3))
    run = Running(tmp_path, "--state", state, "--serial", "tcp:0", "--documents", tmp_path)
    port = client(run.tcp_port())
    for step in (f"adf load {pages}", "press COPY START", 'until lcd "PAGE 2" within 30s'):
        assert answer(port, step)[-1] == "OK", step
    run.proc.send_signal(signal.SIGKILL)  # the power goes: no clean shutdown
    run.proc.wait(10)
    run = Running(tmp_path, "--state", state, "--serial", "tcp:0")
    port = client(run.tcp_port())
    assert answer(port, 'until journal "RECOVERED" within 1m')[-1] == "OK"
    [line] = [x for x in answer(port, "journal?") if "RECOVERED" in x]
    assert dt.date.today().strftime("%m-%d-%Y") in line  # the RTC's date, not the factory's
    assert " COPY " in line and "P001" in line
    assert run.terminate() == 0
