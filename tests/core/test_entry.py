"""Number entry in FAX mode, copies in COPY mode, addresses in SCAN mode, directory recall."""

from estudio190f.firmware.directory import Entry


def test_digits_are_shown_clear_deletes_and_stop_cancels(fax):
    fax.press("5", "5", "5", "1", "2")
    assert fax.lcd == ["FAX NUMBER", "55512"]
    assert fax.state == "dial.number"
    fax.press("CLEAR")
    assert fax.lcd[1] == "5551"
    fax.press("STOP")
    assert fax.lcd[1] == "FAX READY"


def test_clear_on_an_empty_number_returns_to_standby(fax):
    fax.press("7", "CLEAR", "CLEAR")
    assert fax.state == "standby.fax"


def test_redial_pause_inserts_a_pause_and_recalls_the_last_number(fax):
    fax.press("9", "REDIAL_PAUSE", "5", "5", "5")
    assert fax.lcd[1] == "9P555"
    fax.press("STOP")
    fax.type("5559876")
    fax.press("START")  # nothing in the feeder: NO DOCUMENT, but the number is the last one
    assert fax.lcd == ["NO DOCUMENT", "LOAD DOCUMENT"]
    fax.press("STOP", "REDIAL_PAUSE")
    assert fax.lcd == ["REDIAL", "5559876"]


def test_redial_with_no_last_number_says_so(fax):
    fax.press("REDIAL_PAUSE")
    assert fax.lcd == ["REDIAL", "NO NUMBER"]


def test_one_touch_recalls_name_and_number(fax):
    fax.firmware.directory.put(Entry("one_touch", 1, "OFFICE", fax="5559876"))
    fax.press("ONE_TOUCH_01")
    assert fax.lcd == ["OFFICE", "5559876"]


def test_an_empty_one_touch_says_not_registered(fax):
    fax.press("ONE_TOUCH_05")
    assert fax.lcd == ["NOT REGISTERED", "ONE-TOUCH 05"]
    fax.run_for("2s")
    assert fax.lcd[1] == "FAX READY"


def test_speed_dial_three_digits_recall_an_entry(fax):
    fax.firmware.directory.put(Entry("speed_dial", 7, "BRANCH", fax="5550007"))
    fax.press("SPEED_DIAL")
    assert fax.lcd[0] == "SPEED DIAL"
    fax.press("0", "0", "7")
    assert fax.lcd == ["BRANCH", "5550007"]


def test_set_adds_numbers_for_a_broadcast(fax):
    fax.press("1", "1", "SET", "2", "2")
    assert fax.lcd == ["BROADCAST 02", "22"]
    fax.press("CLEAR", "CLEAR", "CLEAR")  # the empty entry takes the first number back
    assert fax.lcd == ["FAX NUMBER", "11"]


def test_copies_entry_takes_up_to_two_digits(fax):
    fax.press("COPY", "1", "2", "3")
    assert fax.lcd == ["NO. OF COPIES", "12"]
    fax.press("CLEAR", "CLEAR", "CLEAR")
    assert fax.state == "standby.copy"


def test_an_address_is_typed_by_multi_tap_in_scan_mode(fax):
    fax.press("SCAN")
    fax.step("press 2")
    assert fax.state == "address"
    fax.press("CLEAR")
    fax.type("tim@example.com")
    fax.run_for("2s")
    assert fax.firmware.screens.address.entry.value == "tim@example.com"
    assert fax.lcd[1] == "TIM@EXAMPLE.COM"


def test_one_touch_in_scan_mode_recalls_the_email_address(fax):
    fax.firmware.directory.put(Entry("one_touch", 2, "OFFICE", email="office@example.com"))
    fax.press("SCAN", "ONE_TOUCH_02")
    assert fax.lcd == ["OFFICE", "OFFICE@EXAMPLE.COM"]


def test_an_entry_left_alone_returns_to_standby_after_the_panel_timeout(fax):
    fax.press("5")
    fax.run_for("59s")
    assert fax.state == "dial.number"
    fax.run_for("2s")
    assert fax.state == "standby.fax"


def test_monitor_says_on_hook_dialing_is_not_available(fax):
    fax.press("MONITOR")
    assert fax.lcd == ["MONITOR", "NOT AVAILABLE"]


def test_an_unregistered_speed_dial_returns_to_the_number_being_entered(fax):
    fax.press("5", "5", "SPEED_DIAL", "0", "0", "9")
    assert fax.lcd == ["NOT REGISTERED", "SPEED DIAL 009"]
    fax.run_for("2s")
    assert fax.state == "dial.number" and fax.lcd[1] == "55"
    fax.press("1")
    assert fax.lcd[1] == "551"


def test_an_unregistered_one_touch_during_entry_keeps_the_number(fax):
    fax.press("4", "4", "ONE_TOUCH_09")
    fax.run_for("2s")
    fax.press("4")
    assert fax.state == "dial.number" and fax.lcd[1] == "444"


def test_speed_dial_adds_a_broadcast_number_during_entry(fax):
    fax.firmware.directory.put(Entry("speed_dial", 1, "BRANCH", fax="5559876"))
    fax.press("1", "1", "SPEED_DIAL", "0", "0", "1")
    assert fax.lcd == ["BRANCH", "5559876"]
    fax.press("SET", "CLEAR")  # the list holds 11 and the recalled number, shown again
    assert fax.lcd == ["BROADCAST 02", "5559876"]


def test_zero_copies_is_refused_and_entry_resumes(fax):
    fax.press("COPY", "0", "START")
    assert fax.lcd[1] == "OUT OF RANGE 1-99"
    fax.run_for("2s")
    assert fax.state == "copies"
    fax.press("2")
    assert fax.lcd[1] == "2"
