"""The FUNCTION menu: numbered choices, SET stores, COMPLETED for 2 s, refusals store nothing."""

import pytest

from estudio190f.firmware.menu import MENU, walk
from estudio190f.firmware.settings import BY_KEY


def test_function_opens_the_numbered_menu_and_arrows_step_through_it(fax):
    fax.press("FUNCTION")
    assert fax.lcd == ["FUNCTION", "1:DATE & TIME"]
    fax.press("RIGHT")
    assert fax.lcd[1] == "2:STATION ID"
    fax.press("LEFT", "LEFT")
    assert fax.lcd[1] == "0:MAINTENANCE"
    fax.press("STOP")
    assert fax.state == "standby.fax"


def test_a_choice_is_stored_with_set_and_completed_shows_for_two_seconds(fax):
    fax.press("FUNCTION", "3", "1")
    assert fax.lcd == ["RECEIVE MODE", "3:AUTO"]
    fax.press("RIGHT")
    assert fax.lcd[1] == "1:FAX"
    fax.press("SET")
    assert fax.lcd == ["RECEIVE MODE", "COMPLETED"]
    fax.run_for("1.8s")
    assert "COMPLETED" in fax.lcd[1]
    fax.run_for("0.3s")
    assert fax.lcd[1] == "FAX READY"
    assert fax.firmware.settings.get("receive.mode") == "fax"


def test_ring_count_out_of_range_is_refused_and_nothing_is_stored(fax):
    fax.press("FUNCTION", "3", "2")
    assert fax.lcd == ["RING COUNT 1-9", "2"]
    fax.press("0", "SET")
    assert fax.lcd == ["RING COUNT 1-9", "OUT OF RANGE"]
    assert fax.firmware.settings.get("receive.rings") == 2
    fax.run_for("2s")
    assert fax.state == "menu.edit"
    fax.press("4", "SET")
    assert fax.firmware.settings.get("receive.rings") == 4


def test_stop_in_an_editor_stores_nothing(fax):
    fax.press("FUNCTION", "3", "2", "7", "STOP")
    assert fax.state == "menu.browse"
    assert fax.firmware.settings.get("receive.rings") == 2


def test_station_number_and_name_by_keypad_and_multi_tap(fax):
    fax.press("FUNCTION", "2", "1")
    fax.type("5550199")
    fax.press("SET")
    fax.run_for("2s")
    fax.press("FUNCTION", "2", "2")
    assert fax.lcd == ["STATION NAME    [A]", "TOSHIBA"]
    fax.type("ACME FAX")
    fax.press("SET")
    assert fax.firmware.settings.get("machine.number") == "5550199"
    assert fax.firmware.settings.get("machine.station_name") == "ACME FAX"


def test_multi_tap_steps_through_the_letters_of_a_key(fax):
    fax.press("FUNCTION", "2", "2", "7")
    assert fax.lcd[1] == "P"
    fax.press("7", "7")
    assert fax.lcd[1] == "R"
    fax.press("RIGHT", "7")
    assert fax.lcd[1] == "RP"
    fax.run_for("2s")
    fax.press("7")
    assert fax.lcd[1] == "RPP"


def test_the_password_is_shown_masked(fax):
    fax.press("FUNCTION", "7", "6")
    fax.type("tanstaaftanstaaf")
    assert fax.lcd[1] == "*" * 16
    fax.press("SET")
    assert fax.firmware.settings.get("smtp.password") == "tanstaaftanstaaf"
    assert not any("tanstaaf" in str(e) for e in fax.events)


def test_an_invalid_email_address_is_refused(fax):
    fax.press("FUNCTION", "7", "7")
    fax.type("not-an-address")
    fax.press("SET")
    assert fax.lcd[1] == "INVALID ENTRY"
    assert fax.firmware.settings.get("smtp.from") == "fax@example.com"


def test_date_and_time_are_entered_in_the_template(fax):
    fax.press("FUNCTION", "1")
    assert fax.lcd == ["DATE & TIME", "01-01-2026 09:00"]
    fax.type("112820262130")
    assert fax.lcd[1] == "11-28-2026 21:30"
    fax.press("SET")
    fax.run_for("2s")
    assert fax.lcd[0] == "11-28-2026 21:30"


def test_an_impossible_date_is_refused(fax):
    fax.press("FUNCTION", "1")
    fax.type("023020260900")
    fax.press("SET")
    assert fax.lcd[1] == "INVALID DATE"
    fax.run_for("2s")
    assert fax.lcd[0] == "DATE & TIME"


def test_a_one_touch_entry_is_made_from_the_menu(fax):
    fax.press("FUNCTION", "4", "1", "ONE_TOUCH_03")
    assert fax.lcd[0].startswith("NAME 03")
    fax.type("OFFICE")
    fax.press("SET")
    assert fax.lcd == ["ONE-TOUCH 03", "1:FAX"]
    fax.press("2", "SET")
    fax.type("office@example.com")
    fax.press("SET")
    assert fax.lcd == ["ONE-TOUCH 03", "COMPLETED"]
    entry = fax.firmware.directory.get("one_touch", 3)
    assert (entry.name, entry.email, entry.fax) == ("OFFICE", "office@example.com", None)


def test_a_speed_dial_entry_is_made_and_deleted(fax):
    fax.press("FUNCTION", "4", "2", "0", "4", "2")
    fax.type("BRANCH")
    fax.press("SET", "SET")
    fax.type("5559876")
    fax.press("SET")
    assert fax.firmware.directory.get("speed_dial", 42).fax == "5559876"
    fax.run_for("2s")
    fax.press("FUNCTION", "4", "2", "0", "4", "2", "SET", "SET")
    for _ in range(7):
        fax.press("CLEAR")
    fax.press("SET")
    assert fax.lcd[1] == "DELETED"
    assert fax.firmware.directory.get("speed_dial", 42) is None


def test_firmware_version_block_is_shown_page_by_page(fax):
    fax.press("FUNCTION", "0", "1")
    assert fax.lcd == ["2ND G3 UF 8K G3B A A", "V10001 YC"]
    fax.press("RIGHT")
    assert fax.lcd == ["FIRMWARE VERSION", "V10001"]
    fax.press("RIGHT")
    assert fax.lcd == ["AA", "MODEL NUMBER YC"]


def test_factory_reset_restores_defaults_and_empties_the_directory(fax):
    fax.step("press FUNCTION 3 2 5 SET")
    fax.run_for("2s")
    fax.press("FUNCTION", "0", "2")
    assert fax.lcd == ["FACTORY RESET?", "SET=YES STOP=NO"]
    fax.press("SET")
    assert fax.lcd[1] == "COMPLETED"
    assert fax.firmware.settings.get("receive.rings") == 2


@pytest.mark.parametrize("path,item", [(p, i) for p, i in walk() if i.setting])
def test_every_setting_in_the_menu_opens_its_editor(fax, path, item):
    fax.press("FUNCTION", *path.split("-"))
    assert fax.state == "menu.edit"
    assert fax.lcd[0].startswith(BY_KEY[item.setting].label[:16])


def test_every_setting_is_offered_by_the_menu():
    in_menu = {i.setting for _, i in walk(MENU) if i.setting}
    assert in_menu == set(BY_KEY)


def test_the_menu_times_out_to_standby(fax):
    fax.press("FUNCTION", "3")
    fax.run_for("61s")
    assert fax.state == "standby.fax"


def test_generated_docs_are_up_to_date():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, str(root / "scripts" / "make_docs.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout
