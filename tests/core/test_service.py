"""Service mode: entry code, key test, LCD test, LED test, memory clear."""


def enter_service(fax):
    fax.press("FUNCTION", "#", "9", "9", "9", "9")


def test_the_entry_code_opens_service_mode(fax):
    enter_service(fax)
    assert fax.lcd == ["SERVICE MODE", "1:KEY TEST"]
    assert fax.state == "service.browse"
    fax.press("STOP")
    assert fax.state == "standby.fax"


def test_a_wrong_code_returns_to_the_menu(fax):
    fax.press("FUNCTION", "#", "1", "2", "3", "4")
    assert fax.state == "menu.browse"


def test_key_test_names_each_key_and_two_stops_end_it(fax):
    enter_service(fax)
    fax.press("1")
    fax.press("ONE_TOUCH_12")
    assert fax.lcd[1] == "ONE_TOUCH_12"
    fax.press("START")
    assert fax.lcd[1] == "START"
    fax.press("STOP")
    assert fax.state == "service.test"
    fax.press("STOP")
    assert fax.state == "service.browse"


def test_lcd_test_fills_the_display(fax):
    enter_service(fax)
    fax.press("2")
    assert fax.lcd == ["#" * 20, "#" * 20]
    fax.press("SET")
    assert fax.lcd[0] == "0123456789ABCDEFGHIJ"


def test_led_test_lights_blinks_and_restores(fax):
    enter_service(fax)
    fax.press("3")
    assert set(fax.leds.values()) == {"on"}
    fax.press("SET")
    assert set(fax.leds.values()) == {"blink"}
    fax.press("SET", "SET")
    assert fax.leds["FAX"] == "on" and fax.leds["ALARM"] == "off"


def test_memory_clear_empties_the_journal(fax):
    fax.firmware.journal.add("TX", remote="5559876", pages=1)
    enter_service(fax)
    fax.press("4")
    assert fax.lcd == ["CLEAR MEMORY?", "SET=YES STOP=NO"]
    fax.press("SET")
    assert fax.lcd == ["MEMORY CLEAR", "COMPLETED"]
    assert fax.firmware.journal.entries() == []
