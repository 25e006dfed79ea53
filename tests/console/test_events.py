"""`events on`: the `! ` lines for the LCD, LEDs, faults, power, jobs, the journal and other
machines on the line; and console steps recorded by `run --record`."""

from __future__ import annotations

import re

from PIL import Image

from estudio190f.panel.console import EventFeed
from estudio190f.panel.interpreter import Interpreter, Recorder, run_step
from estudio190f.panel.runner import Runner
from estudio190f.panel.sim import Simulation

from .rig import START


def test_faults_and_the_alarm_led_are_pushed(make_rig):
    rig = make_rig("tcp:0")
    client = rig.client("tcp")
    client.answer("events on")
    client.send(b"fault printer.cover_open\r\n")
    assert b"! fault set printer.cover_open\r\n" in client.read_until(b"OK\r\n")
    client.send(b"clear printer.cover_open\r\n")
    assert b"! fault clear printer.cover_open\r\n" in client.read_until(b"OK\r\n")


def test_power_off_and_on_are_pushed_with_the_lcd_they_show(make_rig):
    rig = make_rig("tcp:0", speed=20.0)
    client = rig.client("tcp")
    client.answer("events on")
    client.send(b"power off\r\n")
    raw = client.read_until(b"OK\r\n")
    assert b"! power off\r\n" in raw and b'! lcd "" ""\r\n' in raw and b"! led FAX off\r\n" in raw
    client.send(b"power on\r\n")
    client.send(b'until lcd "READY" within 2m\r\n')
    raw = client.read_until(b"OK\r\n") + client.read_until(b"OK\r\n", timeout=30)
    assert b"! power on\r\n" in raw
    assert b'! lcd "E-STUDIO190F" "PLEASE WAIT"\r\n' in raw
    assert re.search(rb'! lcd "\d\d-\d\d-\d{4} \d\d:\d\d" "FAX READY"\r\n', raw)


def test_events_of_another_machine_on_the_line_read_on_name(make_rig):
    rig = make_rig("tcp:0", speed=20.0)
    client = rig.client("tcp")
    assert client.answer("device branch 5559876", timeout=30) == b"OK\r\n"
    client.answer("events on")
    client.send(b"on branch press COPY\r\n")
    raw = client.read_until(b"OK\r\n")
    assert b"! on branch led COPY on\r\n" in raw
    assert re.search(rb'! on branch lcd "[^"]*" "COPY READY"\r\n', raw)
    assert b"! led COPY" not in raw  # the main machine did not change


def test_jobs_begin_and_end_and_journal_entries_are_events(tmp_path):
    page = tmp_path / "page.png"
    Image.new("1", (1728, 800), 1).save(page)
    sim = Simulation(start_time=START)
    feed = EventFeed(sim, Runner(sim.clock, None))
    seen: list[tuple[str, str, str]] = []
    feed.subscribe(lambda machine, kind, detail: seen.append((machine, kind, detail)))
    interp = Interpreter(sim)
    for line in (f"adf load {page}", "press COPY START", 'until lcd "COPY READY" within 2m'):
        step = interp.parse(line)
        assert step is not None
        run_step(interp, step)
    assert ("main", "job", "copy begin") in seen
    assert ("main", "lcd", '"SCANNING" "PAGE 1"') in seen
    assert ("main", "job", "copy end") in seen
    assert ("main", "journal", "001 01-01-2026 09:00 COPY  -                    P001 OK") in seen
    assert seen.index(("main", "job", "copy begin")) < seen.index(("main", "job", "copy end"))
    feed.close()
    run_step(interp, interp.parse("press START"))  # no document: nothing journalled, nobody told
    assert len([s for s in seen if s[1] == "journal"]) == 1
    sim.close()


def test_console_steps_are_recorded_by_run_record(make_rig, tmp_path):
    record = tmp_path / "session.script"

    def recording(rig):
        rig.interp.recorder = Recorder(record, rig.sim.clock)

    rig = make_rig("tcp:0", setup=recording)
    client = rig.client("tcp")
    for step in ("press COPY", "lcd?", "wait 200ms", "press FAX"):
        client.answer(step)
    rig.stop()
    rig.interp.recorder.close()
    steps = [line for line in record.read_text().splitlines() if not line.startswith(("#", "wait"))]
    assert steps == ["press COPY", "press FAX"]
