"""The 2nd G3 option: a second fax port on its own line. Two calls into the machine at once, a
transmission on one port while the other receives, a broadcast on both ports in about half the
time, the port setting, polling and TEL mode on both, the LCD and `state?` with two jobs, the
journal and the reports naming the ports, and a power cut, a jam and memory full during both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from estudio190f.firmware import reports
from estudio190f.firmware.settings import SettingsFileError, load_settings_file

from .conftest import MAIN, Station, bars, blank_page, same

MAIN2 = "5551235"  # the 2nd G3 port's number in these tests
A, B, C, D = "5550001", "5550002", "5550003", "5550004"
OPTION = '[options]\nsecond_line = true\n[machine]\nnumber2 = "5551235"\n'


@pytest.fixture
def machine(fax_factory, tmp_path) -> Station:
    """A machine with the 2nd G3 option, fitted through its settings file."""
    config = tmp_path / "second_line.toml"
    config.write_text(OPTION)
    return Station(fax_factory(settings_file=config))


def device(main: Station, name: str, number: str) -> Station:
    return Station(main.driver.device(name, number))


def load(station: Station, tmp_path: Path, name: str, pages: int) -> None:
    """`pages` short pages in the feeder; page n carries n bars."""
    files = [blank_page(tmp_path, f"{name}{n}", marks=n) for n in range(1, pages + 1)]
    station.step("adf load " + " ".join(str(f) for f in files))


def dial(station: Station, number: str) -> None:
    station.press(*number, "START")


def journalled(*stations: Station, entries: int = 1, within: float = 300) -> None:
    """Run until each station has `entries` journal entries (its calls are over)."""
    driver = stations[0].driver
    for _ in range(int(within)):
        if all(len(s.journal()) >= entries for s in stations):
            return
        driver.run_for(1)
    raise AssertionError(f"no journal entry within {within} s: {[s.journal() for s in stations]}")


def read_lines(pixels: np.ndarray) -> list[str]:
    """The text of a printed report sheet, cell by cell against the report font."""
    table = {g.tobytes(): ch for ch, g in reports.glyphs().items()}
    lines = []
    row = reports.MARGIN_TOP
    while row + reports.CELL_H <= pixels.shape[0] - reports.MARGIN_BOTTOM:
        chars = []
        for col in range(reports.COLUMNS):
            x = reports.MARGIN_LEFT + col * reports.CELL_W
            cell = pixels[row : row + reports.CELL_H, x : x + reports.CELL_W]
            chars.append(table.get(np.ascontiguousarray(cell).tobytes(), "#"))
        lines.append("".join(chars).rstrip())
        row += reports.LINE_PITCH
    return [line for line in lines if line]


# -- the option --------------------------------------------------------------------------------


def test_the_option_is_off_as_shipped(fax):
    assert fax.settings["options.second_line"] == "off"
    assert fax.board.line2 is None
    assert MAIN2 not in fax.sim.network.lines
    fax.press("FUNCTION", "0", "3", "1")
    fax.expect('lcd "2ND G3 LINE"')
    fax.expect('lcd "2:OFF" line 2')


def test_the_settings_file_fits_the_board_at_number2(machine):
    network = machine.sim.network
    assert network.lines[MAIN] is machine.board.line
    assert network.lines[MAIN2] is machine.board.line2
    assert machine.board.modem2 is not None
    machine.press("FUNCTION", "2", "3")
    machine.expect('lcd "LINE 2 NUMBER" line 1')
    machine.expect(f'lcd "{MAIN2}" line 2')


def test_service_mode_option_setting_fits_and_removes_the_board(fax, tmp_path):
    fax.press("FUNCTION", "#", "9", "9", "9", "9", "7")
    fax.expect('lcd "2ND G3 LINE" line 1')
    fax.expect('lcd "2:OFF" line 2')
    fax.press("1", "SET")
    fax.expect('lcd "COMPLETED"')
    assert fax.settings["options.second_line"] == "on"
    assert fax.sim.network.lines[MAIN2] is fax.board.line2
    # A call to the new number is answered by the new port.
    main = Station(fax)
    caller = device(main, "a", A)
    fax.press("STOP")
    load(caller, tmp_path, "a", 1)
    dial(caller, MAIN2)
    caller.step('until lcd "COMPLETED" within 2m')
    assert main.journal_lines()[-1].endswith("OK PORT 2")
    fax.step('until lcd "FAX READY" within 1m')
    # Taken out: the number is gone from the line.
    fax.press("FUNCTION", "#", "9", "9", "9", "9", "7", "2", "SET")
    assert fax.board.line2 is None and MAIN2 not in fax.sim.network.lines


def test_a_settings_file_giving_port_2_the_number_of_port_1_is_refused(tmp_path):
    config = tmp_path / "clash.toml"
    config.write_text('[machine]\nnumber = "5550100"\nnumber2 = "5550100"\n')
    with pytest.raises(SettingsFileError) as refused:
        load_settings_file(config)
    assert refused.value.line == 3
    assert "machine.number2 must differ from machine.number" in refused.value.reason


def test_number2_follows_the_menu_and_a_taken_number_is_refused(machine):
    machine.settings.set("machine.number2", "5557777")
    assert machine.board.line2.number == "5557777"
    assert machine.sim.network.lines["5557777"] is machine.board.line2
    machine.settings.set("machine.number2", MAIN)  # port 1's number: refused, nothing moves
    assert machine.board.line2.number == "5557777"
    assert machine.events("line", "renumber_refused")


def test_a_factory_reset_leaves_the_board_fitted(machine):
    machine.press("FUNCTION", "0", "2", "SET")
    assert machine.settings["options.second_line"] == "on"
    assert machine.board.line2 is not None


def test_the_version_block_shows_the_board_set_in_the_settings(machine):
    machine.settings.set("options.g3_version", "V20305")
    machine.settings.set("options.g3_model", "ZZ")
    machine.press("FUNCTION", "0", "1")
    assert machine.lcd == ["2ND G3 UF 8K G3B A A", "V20305 ZZ"]
    machine.press("RIGHT")
    assert machine.lcd == ["FIRMWARE VERSION", "V10001"]
    machine.press("RIGHT")
    assert machine.lcd == ["AA", "MODEL NUMBER YC"]
    machine.press("STOP", "STOP", "STOP")
    machine.press("FUNCTION", "#", "9", "9", "9", "9", "8")  # service mode: VERSION
    assert machine.lcd == ["2ND G3 UF 8K G3B A A", "V20305 ZZ"]
    machine.press("SET")
    assert machine.lcd == ["FIRMWARE VERSION", "V10001"]


def test_the_function_list_shows_the_ports_and_the_version_block(machine):
    machine.settings.set("options.g3_version", "V20305")
    machine.press("FUNCTION", "8", "2")
    machine.step("until printed 1 within 2m")
    text = [line for s in machine.board.printer.tray for line in read_lines(s.pixels)]
    assert f"PORT 1  MAIN BOARD   {MAIN}" in text
    assert f"PORT 2  2ND G3 BOARD {MAIN2}" in text
    assert "2ND G3 UF 8K G3B A A V20305 YC" in text
    assert "FIRMWARE VERSION V10001" in text
    assert "MODEL NUMBER YC" in text


# -- two calls at once -------------------------------------------------------------------------


def test_two_calls_into_the_machine_at_once_are_both_received(machine, tmp_path):
    a, b = device(machine, "a", A), device(machine, "b", B)
    load(a, tmp_path, "a", 3)
    load(b, tmp_path, "b", 2)
    dial(a, MAIN)
    dial(b, MAIN2)
    machine.step('until lcd "2:RECEIVING" line 2 within 1m')
    machine.step('until lcd "1:RECEIVING" line 1 within 10s')
    machine.step("expect led LINE on")
    machine.step("expect state job.fax_receive/")
    machine.step('expect state "(port 1)"')
    machine.step('expect state "(port 2)"')
    (state,) = machine.step("state?")
    assert state.count("job.fax_receive") == 2
    journalled(a, b)
    machine.step('until lcd "FAX READY" within 1m')
    machine.step("expect led LINE off")
    # Both sets of pages, each from its caller, in order.
    by_remote = {d.remote: [bars(p.pixels) for p in d.images] for d in machine.documents}
    assert by_remote == {A: [1, 2, 3], B: [1, 2]}
    machine.step("until printed 5 within 3m")
    assert sorted(bars(s.pixels) for s in machine.board.printer.tray) == [1, 1, 2, 2, 3]
    # The journal names each port.
    lines = sorted(machine.journal_lines()[-2:], key=lambda x: x[-1])
    assert lines[0].split()[3:] == ["RX", A, "P003", "OK", "PORT", "1"]
    assert lines[1].split()[3:] == ["RX", B, "P002", "OK", "PORT", "2"]
    # At the same time, not one after the other: the two calls overlap on the line.
    answers = [float(e["t"]) for e in machine.events("fax", "answer")]
    ends = [float(e["t"]) for e in machine.events("fax", "result")]
    durations = [e.duration for e in machine.journal()[-2:]]
    assert len(answers) == len(ends) == 2
    assert max(ends) - min(answers) < max(durations) + 5
    assert min(ends) > max(answers)


def test_sending_on_one_port_while_receiving_on_the_other(machine, tmp_path):
    a, b = device(machine, "a", A), device(machine, "b", B)
    load(machine, tmp_path, "m", 3)
    dial(machine, B)
    machine.step('until lcd "SENDING" within 1m')
    load(a, tmp_path, "a", 2)
    dial(a, MAIN2)  # port 1 is sending: the caller dials the 2nd line
    machine.step('until lcd "2:RECEIVING" line 2 within 1m')
    machine.step('expect lcd "1:SENDING" line 1')
    machine.step('expect state "job.fax_send/"')
    machine.step('expect state "+ job.fax_receive/"')
    journalled(a, b)
    machine.step('until lcd "FAX READY" within 1m')
    assert [bars(p.pixels) for p in b.received_pages()] == [1, 2, 3]
    for got, sent in zip(b.received_pages(), machine.scanned_pages(), strict=True):
        assert same(got, sent, skip_rows=got.lines - sent.lines)  # the header above it
    assert [bars(p.pixels) for p in machine.received_pages()] == [1, 2]
    kinds = {line.split()[3]: line for line in machine.journal_lines()}
    assert kinds["TX"].endswith("P003 OK PORT 1") and B in kinds["TX"]
    assert kinds["RX"].endswith("P002 OK PORT 2") and A in kinds["RX"]


def test_the_operator_sends_while_a_reception_shows(machine, tmp_path):
    a, b = device(machine, "a", A), device(machine, "b", B)
    load(a, tmp_path, "a", 3)
    dial(a, MAIN)
    machine.step('until lcd "RECEIVING" within 1m')
    load(machine, tmp_path, "m", 1)
    machine.press(*B)  # dual access: the number entry opens over the reception
    machine.step('expect state "dial.number"')
    machine.step(f'expect lcd "{B}" line 2')
    machine.press("START")
    machine.step('until lcd "2:DIALING" line 2 within 1m')
    machine.step('expect lcd "1:RECEIVING" line 1')
    journalled(a, b)
    machine.step('until lcd "FAX READY" within 1m')
    assert [bars(p.pixels) for p in b.received_pages()] == [1]
    assert len(machine.received_pages()) == 3
    tx = [e for e in machine.journal() if e.kind == "TX"]
    assert [e.detail["port"] for e in tx] == [2]


def test_a_reception_that_goes_on_shows_again_after_the_other_call(machine, tmp_path):
    a = device(machine, "a", A)
    device(machine, "b", B)
    machine.set(scan_resolution="fine")
    machine.step(f"adf load {machine_charts(1)[0]}")
    load(a, tmp_path, "a", 10)
    dial(machine, B)
    machine.step('until lcd "SENDING" within 1m')
    dial(a, MAIN2)
    machine.step('until lcd "2:RECEIVING" within 1m')
    machine.step('until lcd "1:COMPLETED" line 1 within 2m')  # its last words on its line
    machine.step('expect lcd "2:RECEIVING" line 2')
    machine.step('until lcd "RECEIVING P." line 1 within 5s')  # then the whole LCD
    machine.step('expect state "job.fax_receive/t30"')
    # READY shows only once both calls are over, never in between.
    journalled(a)
    machine.step('until lcd "FAX READY" within 3m')
    (rx_end,) = [float(e["t"]) for e in machine.events("fax", "result")
                 if e["direction"] == "receive"]  # fmt: skip
    lcd = [(float(e["t"]), e["lines"]) for e in machine.events("panel", "lcd")]
    began = min(t for t, lines in lcd if "SENDING" in lines[0])
    assert not [t for t, lines in lcd if began < t < rx_end and "READY" in lines[1]]
    assert [t for t, lines in lcd if t > rx_end and "FAX READY" in lines[1]]


def test_a_reception_that_came_while_the_operator_was_busy_shows_at_standby(machine, tmp_path):
    a = device(machine, "a", A)
    load(a, tmp_path, "a", 6)
    machine.press("FUNCTION", "3")  # the operator is in the menu as the call comes in
    dial(a, MAIN2)
    machine.step("until led LINE on within 1m")
    machine.step('expect state "menu"')  # the reception does not take the LCD from the operator
    machine.press("STOP", "STOP")
    machine.step('expect lcd "RECEIVING"')  # back at standby: the job shows, not READY
    machine.step('expect state "job.fax_receive"')
    machine.press(*B)  # a fax number over the reception: number entry
    machine.step('expect state "dial.number"')
    machine.press("STOP")  # abandoned: the reception shows again
    machine.step('expect lcd "RECEIVING"')
    journalled(a)
    (answered,) = [float(e["t"]) for e in machine.events("fax", "answer")]
    (ended,) = [float(e["t"]) for e in machine.events("fax", "result")]
    lcd = [(float(e["t"]), e["lines"]) for e in machine.events("panel", "lcd")]
    assert not [t for t, lines in lcd if answered < t < ended and "READY" in lines[1]]


# -- broadcast and the port setting ----------------------------------------------------------------


def broadcast_time(main: Station, tmp_path: Path) -> float:
    """Seconds from START to the end of a broadcast of two pages to four machines."""
    for name, number in (("a", A), ("b", B), ("c", C), ("d", D)):
        device(main, name, number)
    load(main, tmp_path, "m", 2)
    main.press(*A, "SET", *B, "SET", *C, "SET", *D, "START")
    start = main.sim.clock.now
    main.step('until lcd "SCANNING" within 5s')
    main.step('until lcd "FAX READY" within 20m')
    return (main.sim.clock.now - start) / 1e6


def test_a_broadcast_uses_both_ports_in_about_half_the_time(fax_factory, machine, tmp_path):
    one = Station(fax_factory())  # the same machine without the option
    single = broadcast_time(one, tmp_path)
    machine.set(transmit_report="always")
    double = broadcast_time(machine, tmp_path)
    assert 0.4 < double / single < 0.6, (single, double)
    tx = [e for e in machine.journal() if e.kind == "TX"]
    assert sorted((e.remote, e.detail["port"]) for e in tx) == [(A, 1), (B, 2), (C, 1), (D, 2)]
    assert all(e.result == "OK" and e.pages == 2 for e in tx)
    assert [line.endswith("OK") for line in one.journal_lines()] == [True] * 4  # no port named
    # The transmission report names the port of each call.
    machine.step("until printed 1 within 2m")
    text = read_lines(machine.board.printer.tray[-1].pixels)
    assert any("PORT" in line and line.endswith("RESULT") for line in text)
    calls = [line for line in text if line.startswith("T-")]
    assert len(calls) == 4
    assert sorted(line.split()[-2] for line in calls) == ["1", "1", "2", "2"]


def test_the_port_setting_chooses_the_port_for_transmission(machine, tmp_path):
    b = device(machine, "b", B)
    machine.set(transmit_port="2")
    load(machine, tmp_path, "m", 1)
    dial(machine, B)
    b.step('until lcd "COMPLETED" within 2m')
    assert machine.journal()[-1].detail["port"] == 2
    assert machine.events("fax", "transmission")[-1]["port"] == 2


def test_port_1_only_waits_for_port_1(machine, tmp_path):
    a, b = device(machine, "a", A), device(machine, "b", B)
    machine.set(transmit_port="1")
    load(a, tmp_path, "a", 4)
    dial(a, MAIN)
    machine.step('until lcd "RECEIVING" within 1m')
    load(machine, tmp_path, "m", 1)
    machine.press(*B, "START")
    machine.step('until lcd "MEMORY TX" within 1m')  # port 2 is free, but may not send
    journalled(a, b)
    assert [e.detail["port"] for e in machine.journal()] == [1, 1]


def test_polling_goes_out_on_the_free_port(machine, tmp_path):
    a, b = device(machine, "a", A), device(machine, "b", B)
    b.step(f"adf load {blank_page(tmp_path, 'poll', marks=2)}")
    b.press("FUNCTION", "6", "6")
    b.step('until lcd "F-001 STORED" within 1m')
    load(a, tmp_path, "a", 3)
    dial(a, MAIN)
    machine.step('until lcd "RECEIVING" within 1m')
    machine.step("wait 3s")
    machine.press(*B)  # over the reception, as with a transmission
    machine.press("FUNCTION", "2", "START")
    machine.step('until lcd "2:RECEIVING" line 2 within 1m')
    machine.step('until lcd "FAX READY" within 3m')
    poll = [e for e in machine.journal() if e.kind == "POLL"]
    assert [(e.remote, e.pages, e.detail["port"]) for e in poll] == [(B, 1, 2)]


def test_a_machine_is_polled_on_its_second_port(machine, tmp_path):
    a = device(machine, "a", A)
    machine.step(f"adf load {blank_page(tmp_path, 'poll', marks=2)}")
    machine.press("FUNCTION", "6", "6")
    machine.step('until lcd "F-001 STORED" within 1m')
    a.press(*MAIN2, "FUNCTION", "2", "START")
    a.step('until lcd "COMPLETED" within 2m')
    assert [bars(p.pixels) for p in a.received_pages()] == [2]
    tx = machine.journal()[-1]
    assert (tx.kind, tx.detail["polled"], tx.detail["port"]) == ("TX", True, 2)


def test_tel_mode_start_answers_each_port(machine, tmp_path):
    a, b = device(machine, "a", A), device(machine, "b", B)
    machine.set(receive_mode="tel")
    load(a, tmp_path, "a", 1)
    load(b, tmp_path, "b", 2)
    dial(a, MAIN)
    dial(b, MAIN2)
    machine.step('until lcd "2:INCOMING CALL" line 2 within 1m')
    machine.step('expect lcd "1:INCOMING CALL" line 1')
    machine.step("wait 20s")
    assert machine.events("fax", "answer") == []  # nobody answers by itself
    machine.press("START")
    machine.step('until lcd "1:RECEIVING" line 1 within 5s')
    machine.step('expect lcd "2:INCOMING CALL" line 2')
    machine.press("START")
    machine.step('until lcd "2:RECEIVING" line 2 within 5s')
    journalled(a, b)
    assert sorted((d.remote, len(d.pages)) for d in machine.documents) == [(A, 1), (B, 2)]


def test_stop_stops_the_operators_call_and_leaves_the_other(machine, tmp_path):
    a = device(machine, "a", A)
    device(machine, "b", B)
    machine.set(transmit_redial_tries=0)
    load(a, tmp_path, "a", 3)
    dial(a, MAIN2)
    machine.step('until lcd "RECEIVING" within 1m')
    machine.step(f"adf load {' '.join(str(p) for p in machine_charts(1, 2))}")
    machine.press(*B, "START")
    machine.step('until lcd "1:SENDING" line 1 within 1m')
    machine.step('expect state "job.fax_send"')  # the operator's job is the foreground one
    machine.press("STOP")
    machine.step('until lcd "1:CANCELLED" line 1 within 30s')
    a.step('until lcd "COMPLETED" within 2m')
    assert [d.remote for d in machine.documents] == [A]
    tx = [e for e in machine.journal() if e.kind == "TX"]
    assert [(e.result, e.code) for e in tx] == [("CANCELLED", "419")]


def machine_charts(*numbers: int) -> list[Path]:
    """ITU charts: a page takes about 20 s on the line at fine resolution."""
    from conftest import need_testdata

    return [need_testdata("ccitt", f"itu{n}.pbm") for n in numbers or (1, 2)]


# -- power, jam and memory full, per port ----------------------------------------------------------


def test_a_power_cut_in_the_middle_of_both_calls_loses_no_page(machine, tmp_path):
    a, b = device(machine, "a", A), device(machine, "b", B)
    machine.step("fault printer.no_paper")  # received pages wait in memory across the cut
    machine.step(f"adf load {' '.join(str(p) for p in machine_charts(1, 2, 3, 4))}")
    dial(machine, B)
    machine.step('until lcd "SENDING" within 1m')
    load(a, tmp_path, "a", 5)
    dial(a, MAIN2)
    machine.step('until lcd "2:RECEIVING P.003" line 2 within 2m')
    machine.step('expect lcd "1:SENDING P.00" line 1')
    machine.step("power off")
    machine.step("wait 10s")
    machine.step("power on")
    # The transmission resumes after the pages the far end confirmed; the caller redials and
    # resumes after the pages the machine confirmed.
    journalled(a, b, entries=2, within=600)
    cut = [e for e in machine.journal() if e.code == "411"]
    assert [(e.kind, e.detail["port"]) for e in cut] == [("RX", 2)]
    assert cut[0].pages >= 2
    # Port 1: every page reached the far end, in order.
    sent = machine.scanned_pages()
    got = b.received_pages()
    assert len(sent) == 4 and len(got) in (4, 5)  # the page in flight may come twice
    numbers = []
    for g in got:
        (number,) = [n for n, s in enumerate(sent, 1) if same(g, s, skip_rows=g.lines - s.lines)]
        numbers.append(number)
    assert sorted(set(numbers)) == [1, 2, 3, 4] and numbers == sorted(numbers)
    # Port 2: every page of the caller's document is in memory (one in flight may come twice).
    machine.step("clear printer.no_paper")
    machine.step("until printed 5 within 5m")
    machine.step("wait 1m")
    printed = [bars(s.pixels) for s in machine.board.printer.tray]
    assert set(printed) == {1, 2, 3, 4, 5} and len(printed) <= 6
    assert sum(e.pages for e in machine.journal() if e.kind == "RX") == len(printed)


def test_a_jam_during_two_receptions_loses_nothing(machine, tmp_path):
    a, b = device(machine, "a", A), device(machine, "b", B)
    machine.step("fault printer.jam")
    load(a, tmp_path, "a", 3)
    load(b, tmp_path, "b", 2)
    dial(a, MAIN)
    dial(b, MAIN2)
    journalled(a, b)
    machine.step('until lcd "PAPER JAM" within 1m')
    machine.step("expect led MEMORY on")
    machine.step("clear printer.jam")
    machine.step("until printed 5 within 3m")
    assert sorted(bars(s.pixels) for s in machine.board.printer.tray) == [1, 1, 2, 2, 3]
    assert sorted(e.pages for e in machine.journal()) == [2, 3]


def test_memory_full_ends_both_calls_properly(machine, tmp_path):
    a, b = device(machine, "a", A), device(machine, "b", B)
    machine.set(memory_size_kb=256)
    machine.step("fault printer.no_paper")
    for sender in (a, b):
        sender.set(scan_resolution="superfine", transmit_redial_tries=0)
    charts = machine_charts() * 4
    for sender in (a, b):
        sender.step("adf load " + " ".join(str(p) for p in charts))
    dial(a, MAIN)
    dial(b, MAIN2)
    journalled(a, b, within=1200)
    rx = {e.remote: e for e in machine.journal() if e.kind == "RX"}
    assert set(rx) == {A, B}
    assert [(e.result, e.code) for e in rx.values()] == [("MEMORY FULL", "414")] * 2
    # What each sender had confirmed is exactly what the machine kept: nothing lost unseen.
    for sender, number in ((a, A), (b, B)):
        assert sender.journal()[-1].pages == rx[number].pages
    kept = sum(e.pages for e in rx.values())
    machine.step("clear printer.no_paper")
    machine.step(f"until printed {kept} within 10m")
