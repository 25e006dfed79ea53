"""Standby: the clock line, the three modes, their LEDs, and the standby fast-forward."""

import re

import pytest


def test_script_starts_in_fax_standby_at_the_factory_time(fax):
    assert fax.lcd == ["01-01-2026 09:00", "FAX READY"]
    assert fax.state == "standby.fax"
    assert fax.leds == {
        "ALARM": "off",
        "MEMORY": "off",
        "LINE": "off",
        "FAX": "on",
        "COPY": "off",
        "SCAN": "off",
    }


def test_mode_keys_change_line_two_and_the_mode_leds(fax):
    fax.press("COPY")
    assert fax.lcd[1] == "COPY READY" and fax.leds["COPY"] == "on" and fax.leds["FAX"] == "off"
    fax.press("SCAN")
    assert fax.lcd[1] == "SCAN READY" and fax.leds["SCAN"] == "on" and fax.leds["COPY"] == "off"
    fax.press("FAX")
    assert fax.lcd[1] == "FAX READY" and fax.state == "standby.fax"


def test_the_standby_clock_follows_virtual_time(fax):
    fax.run_for("59s")
    assert fax.lcd[0] == "01-01-2026 09:00"
    fax.run_for("2s")
    assert fax.lcd[0] == "01-01-2026 09:01"
    fax.run_for("24h")
    assert fax.lcd[0] == "01-02-2026 09:01"


def test_clock_step_sets_date_and_time_in_24_hour_form(fax):
    fax.step("clock 2026-11-28 21:05")
    assert fax.lcd[0] == "11-28-2026 21:05"
    assert re.fullmatch(r"\d\d-\d\d-\d{4} \d\d:\d\d", fax.lcd[0])


def test_resolution_key_steps_through_the_choices_and_shows_them(fax):
    fax.press("RESOLUTION")
    assert fax.lcd == ["RESOLUTION", "STANDARD"]
    fax.press("RESOLUTION")
    assert fax.lcd[1] == "FINE"
    fax.press("RESOLUTION")
    assert fax.lcd[1] == "SUPER FINE"
    fax.press("RESOLUTION")
    assert fax.lcd[1] == "PHOTO"
    fax.run_for("3s")
    assert fax.lcd[1] == "FAX READY"
    fax.press("RESOLUTION")  # shows the choice for the next job
    assert fax.lcd == ["RESOLUTION", "PHOTO"]
    fax.run_for("3s")
    fax.press("STOP")  # STOP in standby forgets it
    fax.press("RESOLUTION")
    assert fax.lcd == ["RESOLUTION", "STANDARD"]


def test_contrast_key_steps_normal_dark_light(fax):
    fax.press("CONTRAST")
    assert fax.lcd == ["CONTRAST", "NORMAL"]
    fax.press("CONTRAST")
    assert fax.lcd[1] == "DARK"
    fax.press("CONTRAST")
    assert fax.lcd[1] == "LIGHT"


def test_power_off_blanks_the_panel_and_power_on_boots_to_standby(fax):
    fax.press("COPY")
    fax.step("power off")
    assert fax.lcd == ["", ""]
    assert set(fax.leds.values()) == {"off"}
    assert fax.state == "off"
    fax.press("FAX")  # nothing happens without power
    fax.step("power on")
    assert fax.lcd[1] == "PLEASE WAIT"
    fax.until_lcd("FAX READY", within="30s")
    assert fax.leds["FAX"] == "on"


@pytest.mark.parametrize(
    ("keys", "state"),
    [
        (["press FAX", "type 555"], "dial.number"),
        (["press COPY", "press 3"], "copies"),
        (["press SCAN", "type tim"], "address"),
        (["press FUNCTION"], "menu.browse"),
        (["press FUNCTION # 9 9 9 9"], "service.browse"),
        (["power off", "power on", "wait 2s"], "booting"),
        (["power off"], "off"),
    ],
)
def test_a_power_cut_in_the_middle_of_anything_comes_back_to_fax_standby(fax, keys, state):
    """Whatever the operator was entering (a number, copies, an address, the FUNCTION menu,
    service mode, or the machine still booting), the power going out and coming back leaves the
    machine in FAX standby with the entry forgotten, as after any boot."""
    for step in keys:
        fax.step(step)
    assert fax.state == state
    fax.step("power off")
    assert fax.state == "off" and fax.lcd == ["", ""]
    fax.step("power on")
    fax.until_lcd("FAX READY", within="30s")
    assert fax.state == "standby.fax"
    assert fax.leds["FAX"] == "on" and fax.leds["COPY"] == "off"
