"""Paper handling through the panel and the key-script language: copy, faults, reports, sensors."""

from PIL import Image

from tests.conftest import need_testdata


def test_copy_of_a_chart_prints_one_sheet_written_as_png(fax, tmp_path):
    chart = need_testdata("ccitt", "itu1.pbm")
    fax.step(f"adf load {chart}")
    fax.step("press COPY START")
    fax.step('until lcd "SCANNING" within 5s')
    fax.step('until lcd "COPY READY" within 3m')
    fax.step("expect printed 1")
    png = tmp_path / "machine1" / "out" / "printed" / "0001.png"
    assert png.exists()
    with Image.open(png) as im:
        assert im.size[0] > 1000


def test_no_paper_is_shown_in_standby_with_the_alarm_led_and_printing_resumes(fax, tmp_path):
    page = tmp_path / "page.png"
    Image.new("1", (1728, 1000), 1).save(page)
    fax.step("fault printer.no_paper")
    fax.step(f"adf load {page}")
    fax.step("press COPY START")
    fax.step('until lcd "NO PAPER" within 1m')
    fax.step("expect led ALARM on")
    fax.step("expect led MEMORY on")
    fax.step("clear printer.no_paper")
    fax.step('until lcd "COPY READY" within 2m')
    fax.step("expect printed 1")
    fax.step("expect led ALARM off")
    fax.step("expect led MEMORY off")


def test_a_file_that_is_not_an_image_says_check_document(fax, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    fax.step(f"adf load {bad}")
    fax.step("press COPY START")
    fax.step('until lcd "CHECK DOCUMENT" within 30s')
    fax.step('until lcd "COPY READY" within 30s')
    fax.step("expect printed 0")


def test_the_journal_report_prints_from_the_function_menu(fax):
    fax.step("press FUNCTION 8 1")
    fax.step('until lcd "PRINTING" within 30s')
    fax.step('until lcd "FAX READY" within 2m')
    fax.step("expect printed 1")


def test_service_print_test_and_live_sensor_test(fax, tmp_path):
    fax.step("press FUNCTION # 9 9 9 9 5")
    assert fax.lcd == ["ADF D0 R0 E0 C1", "PR P1 K0 R0 E0 C1 W1"]
    page = tmp_path / "page.png"
    Image.new("1", (1728, 1000), 1).save(page)
    fax.step(f"adf load {page}")
    fax.step("wait 200ms")
    assert fax.lcd[0] == "ADF D1 R0 E0 C1"
    fax.step("press STOP")
    assert fax.state == "service.browse"
    fax.step("press 6")
    assert fax.lcd == ["PRINT TEST", "PRINTING"]
    fax.step("until printed 1 within 2m")
    fax.step("press STOP")
    assert fax.state == "standby.fax"


def test_pages_waiting_for_paper_survive_a_power_cut(fax, tmp_path):
    page = tmp_path / "page.png"
    Image.new("1", (1728, 1000), 1).save(page)
    fax.step("fault printer.no_paper")
    fax.step(f"adf load {page} {page}")
    fax.step("press COPY START")
    fax.step('until lcd "NO PAPER" within 1m')
    fax.step("power off")
    fax.step("power on")
    fax.step("until lcd /^01-01-2026/ line 1 within 30s")
    fax.step('expect lcd "NO PAPER" line 2')
    fax.step("expect led MEMORY on")
    fax.step("clear printer.no_paper")
    fax.step("until printed 2 within 3m")
    fax.step("wait 10s")
    fax.step("expect printed 2")
    fax.step("expect led MEMORY off")


def test_a_document_jam_stops_the_copy_and_clear_resumes_it(fax, tmp_path):
    page = tmp_path / "page.png"
    Image.new("1", (1728, 1000), 1).save(page)
    fax.step(f"adf load {page} {page}")
    fax.step("fault adf.jam")
    fax.step("press COPY START")
    fax.step('until lcd "DOCUMENT JAM" within 1m')
    fax.step("expect led ALARM on")
    fax.step("clear adf.jam")
    fax.step("until printed 2 within 3m")
    fax.step("wait 10s")
    fax.step("expect printed 2")
    fax.step("expect led ALARM off")


def test_a_paper_jam_loses_and_doubles_nothing(fax, tmp_path):
    page = tmp_path / "page.png"
    Image.new("1", (1728, 1000), 1).save(page)
    fax.step(f"adf load {page} {page} {page}")
    fax.step("fault printer.jam")
    fax.step("press COPY START")
    fax.step('until lcd "PAPER JAM" within 2m')
    fax.step("clear printer.jam")
    fax.step("until printed 3 within 3m")
    fax.step("wait 30s")
    fax.step("expect printed 3")
