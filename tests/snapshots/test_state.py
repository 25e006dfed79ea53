"""What a snapshot holds and what it leaves out, in one process: the machines restored into the
objects that were there, NVRAM, paper, random generators; the operator's listeners left out; a
call with a peer outside refused; an SMTP session in progress saved as cut; and every listener
of a busy simulation a method or a function (the guard against an unpicklable one)."""

from __future__ import annotations

import functools
import mailbox
import stat
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from estudio190f.hw.clock import SECOND
from estudio190f.hw.line import Call
from estudio190f.hw.listeners import Listeners
from estudio190f.hw.modem import Signal
from estudio190f.panel.pytest_plugin import FaxDriver
from estudio190f.panel.runner import advance
from estudio190f.panel.sim import Simulation
from estudio190f.panel.snapshot import SnapshotError, dumps, read_header, simulation_side


def short_page(tmp_path: Path, name: str = "page", lines: int = 500) -> Path:
    pixels = np.full((lines, 1728), 255, dtype=np.uint8)
    pixels[40:60, 1000:1400] = 0
    path = tmp_path / f"{name}.png"
    Image.fromarray(pixels, "L").convert("1").save(path)
    return path


def test_a_restore_puts_the_saved_machine_back_into_the_same_objects(fax: FaxDriver, tmp_path):
    machine, clock = fax.machine, fax.sim.clock
    fax.step("paper 7")
    fax.press("FUNCTION", "3", "2", "CLEAR", "4", "SET")  # RECEIVE, rings: 4
    fax.step('until lcd "FAX READY" within 10s')
    fax.step(f"adf load {short_page(tmp_path)}")
    fax.step("snapshot saved.snap")
    at = clock.now
    rng = machine.board.random.getstate()
    fax.press("COPY")
    fax.step("paper 2")
    fax.settings.set("receive.rings", 6)
    fax.run_for("1h")
    fax.step("restore saved.snap")
    assert fax.machine is machine and fax.sim.main is machine and fax.sim.clock is clock
    assert clock.now == at
    assert fax.lcd[1] == "FAX READY" and fax.leds["FAX"] == "on" and fax.leds["MEMORY"] == "off"
    assert fax.settings["receive.rings"] == 4
    assert machine.board.printer.sheets == 7
    assert machine.board.feeder.document_set
    assert machine.board.random.getstate() == rng
    # and it goes on: the page in the feeder is copied
    fax.press("COPY", "START")
    fax.until("printed 1", within="2m")
    assert (fax.sim.out_dir / "printed" / "0001.png").exists()


def test_a_snapshot_loads_into_a_new_simulation_with_its_memory_and_journal(tmp_path):
    from estudio190f.panel.pytest_plugin import make_driver

    first = make_driver(tmp_path / "a")
    branch = first.device("branch", "5559876")
    first.step(f"adf load {short_page(tmp_path)}")
    first.step("fault line.busy")
    first.press("5", "5", "5", "9", "8", "7", "6", "START")
    first.step('until lcd "REDIAL" within 2m')
    first.step("snapshot " + str(tmp_path / "memory.snap"))
    files_before = [f.no for f in first.firmware.fax.files.files()]
    journal = first.journal
    first.sim.close()

    second = make_driver(tmp_path / "b", restore=tmp_path / "memory.snap")
    assert [f.no for f in second.firmware.fax.files.files()] == files_before != []
    assert second.journal == journal
    assert second.leds["MEMORY"] == "on"
    assert set(second.sim.machines) == {"main", "branch"}
    second.step("clear line.busy")
    second.step('until lcd "COMPLETED" within 5m')
    assert second.sim.machine("branch").firmware.journal.entries()[-1].result == "OK"
    assert branch is not second.sim.machine("branch")
    second.sim.close()


def test_the_operators_listeners_are_left_out_and_the_simulations_kept(fax: FaxDriver):
    seen: list[object] = []
    board = fax.board
    board.log.listeners.add(seen.append)  # a test's: the operator's side
    board.log.listeners.add(lambda event: None)
    assert not simulation_side(seen.append)
    assert simulation_side(board.printer._on_power)
    assert simulation_side(functools.partial(fax.firmware.panel.fire, "home"))
    assert simulation_side(fax.machine._setting_changed)  # panel.sim's Machine is simulation
    before = fax.sim.save(Path(fax.interp.base_dir or ".") / "ops.snap")
    assert before.machines[0].name == "main"
    fax.step("restore ops.snap")
    restored_log = list(fax.board.log.listeners)
    assert seen.append not in restored_log
    assert not any(getattr(fn, "__module__", "") == __name__ for fn in restored_log)
    # the output writer, attached again after the restore (and coverage, when recorded)
    assert fax.machine.outputs is not None and fax.machine.outputs._events._write in restored_log
    assert fax.machine._setting_changed in fax.firmware.settings.listeners


def test_a_lambda_listener_in_the_firmware_is_refused_with_where_it_is(fax: FaxDriver):
    fn = types.FunctionType((lambda key: None).__code__, {}, "<lambda>")
    fn.__module__ = "estudio190f.firmware.control_panel"  # as if the firmware had added it
    fn.__qualname__ = "ControlPanel.__init__.<locals>.<lambda>"
    fax.firmware.panel.key_listeners.add(fn)
    with pytest.raises(SnapshotError) as error:
        fax.sim.save(Path(fax.interp.base_dir or ".") / "x.snap")
    message = str(error.value)
    assert "key_listeners" in message and "lambda or a closure" in message
    assert "\n" not in message


def every_listener(root: object) -> list[tuple[str, object]]:
    """Every listener of every Listeners reachable from `root`, with where it is."""
    found: list[tuple[str, object]] = []
    seen: set[int] = set()
    pending: list[tuple[str, object]] = [("sim", root)]
    while pending:
        path, obj = pending.pop()
        if id(obj) in seen or isinstance(obj, str | bytes | int | float | np.ndarray):
            continue
        seen.add(id(obj))
        if isinstance(obj, Listeners):
            found += [(path, fn) for fn in obj]
            continue
        if isinstance(obj, dict):
            pending += [(f"{path}[{k!r}]", v) for k, v in obj.items()]
        elif isinstance(obj, list | tuple | set):
            pending += [(f"{path}[{i}]", v) for i, v in enumerate(obj)]
        elif isinstance(obj, types.MethodType):
            pending.append((f"{path}.__self__", obj.__self__))
        elif hasattr(obj, "__dict__") and type(obj).__module__.startswith("estudio190f."):
            pending += [(f"{path}.{k}", v) for k, v in vars(obj).items()]
    return found


def test_every_listener_of_a_busy_simulation_is_a_method_or_function_and_it_saves(tmp_path):
    """The guard: a lambda or a closure added as a listener in hw/ or firmware/ fails here."""
    from estudio190f.panel.pytest_plugin import make_driver

    fax = make_driver(tmp_path, relay=True)
    fax.device("branch", "5559876")
    fax.step(f"adf load {short_page(tmp_path, 'a')}")
    fax.step("fault line.noise")
    fax.press("5", "5", "5", "9", "8", "7", "6", "START")
    fax.step('until state "phase_b" within 1m')
    fax.step("on branch press FUNCTION 3")  # a menu open on the far end
    sizes = []
    while "fax_send" in fax.state:
        for path, fn in every_listener(fax.sim):
            if not simulation_side(fn):
                continue
            assert isinstance(fn, types.MethodType | functools.partial | types.FunctionType), path
            name = getattr(fn, "__qualname__", "")
            assert "<lambda>" not in name and "<locals>" not in name, f"{path}: {name}"
        sizes.append(len(dumps(fax.sim)))
        fax.run_for("1.5s")
    assert len(sizes) > 10
    fax.step("fault relay.down")
    fax.step(f"adf load {short_page(tmp_path, 'b')}")
    fax.press("SCAN", "2", "CLEAR")
    fax.type("office@example.com")
    fax.press("START")
    fax.step('until lcd "EMAIL ERROR" within 2m')
    assert dumps(fax.sim)
    fax.sim.close()


class Unreachable:
    """A route to a peer outside the process that never answers (for the refusal)."""

    def place_call(self, call: Call, number: str) -> None:
        self.call = call

    def answered(self, call: Call) -> None:
        pass

    def hung_up(self, call: Call) -> None:
        pass

    def transmit(self, call: Call, signal: Signal) -> None:
        pass


def test_a_call_with_a_peer_outside_the_process_is_refused_in_one_line(fax: FaxDriver, tmp_path):
    fax.sim.network.route("5550000", Unreachable())
    fax.board.line.dial("5550000")
    fax.run_for("5s")
    assert fax.board.line.call is not None and fax.board.line.call.route is not None
    with pytest.raises(SnapshotError, match="peer outside the process") as error:
        fax.sim.save(tmp_path / "x.snap")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "x.snap").exists()
    fax.board.line.hang_up()
    fax.sim.save(tmp_path / "x.snap")  # the dial plan alone is fine: routes are edges
    fax.sim.clock.outside.pace("a peer", True)
    with pytest.raises(SnapshotError, match="T.38 or IAX2"):
        fax.sim.save(tmp_path / "y.snap")


def test_a_class1_modem_on_a_pty_is_refused_naming_it(fax: FaxDriver, tmp_path):
    from estudio190f.panel.class1 import open_modem_pty
    from estudio190f.panel.runner import Runner

    modem = open_modem_pty(tmp_path / "modem", "5550100", fax.sim, Runner(fax.sim.clock, 1.0))
    try:
        with pytest.raises(SnapshotError) as error:
            fax.sim.save(tmp_path / "x.snap")
    finally:
        modem.close()
    message = str(error.value)
    assert message.startswith("a Class 1 modem on a pty talks to a program outside the process")
    assert "['lines']['5550100']" in message and "\n" not in message


def test_an_smtp_session_in_progress_is_saved_as_cut_and_tried_again(tmp_path):
    from estudio190f.panel.pytest_plugin import make_driver

    fax = make_driver(tmp_path / "a", relay=True)
    snap = tmp_path / "cut.snap"

    def cut_in_data(step: str, point: str) -> None:
        if (step, point) == ("data", "sending") and not snap.exists():
            fax.sim.save(snap)  # half the message is on the wire

    fax.board.lan.step_hooks.add(cut_in_data)
    fax.step(f"adf load {short_page(tmp_path)}")
    fax.press("SCAN", "2", "CLEAR")
    fax.type("office@example.com")
    fax.press("START")
    fax.step('until lcd "EMAIL SENT" within 1m')
    assert snap.exists()
    fax.sim.close()

    again = make_driver(tmp_path / "b", restore=snap)
    assert again.sim.relay is None
    again.sim.start_relay(tmp_path / "b" / "mail")
    # restored: the relay dropped the connection, as the machine sees it; it tries again at once
    again.step('until lcd "EMAIL SENT" within 1m')
    before = read_header(snap).machines[0].events
    smtp = [e for e in again.events[before:] if e["src"] == "lan"]
    assert smtp[0]["step"] == "data" and smtp[0]["failure"] == "dropped"
    assert [e["step"] for e in smtp[1:3]] == ["connect", "ehlo"]
    box = mailbox.Maildir(str(tmp_path / "b" / "mail"), create=False)
    assert len(box.keys()) == 1
    again.sim.close()


def test_nvram_restored_with_a_state_directory_is_kept_there(tmp_path):
    sim = Simulation(out_dir=tmp_path / "out")
    sim.main.firmware.settings.set("machine.station_name", "SNAPSHOT")
    sim.save(tmp_path / "s.snap")
    sim.close()
    state = tmp_path / "state"
    loaded = Simulation.load(tmp_path / "s.snap", state_dir=state)
    loaded.main.firmware.settings.set("receive.rings", 5)
    loaded.close()
    nvram = state / "nvram.sqlite"
    assert stat.S_IMODE(nvram.stat().st_mode) == 0o600
    booted = Simulation(state_dir=state)
    assert booted.main.firmware.settings.text("machine.station_name") == "SNAPSHOT"
    assert booted.main.firmware.settings.number("receive.rings") == 5
    booted.close()


def test_a_console_step_waiting_keeps_its_time_across_a_restore(fax: FaxDriver, tmp_path):
    """A timer of the operator's side (a console client's `wait`) is carried: it runs after the
    same delay, counted from the restored time."""
    fax.sim.save(tmp_path / "s.snap")
    fax.run_for("10m")
    fired: list[int] = []
    clock = fax.sim.clock
    clock.call_later(3 * SECOND, lambda: fired.append(clock.now))
    fax.sim.restore(tmp_path / "s.snap")
    start = clock.now
    advance(clock, 5 * SECOND)
    assert fired == [start + 3 * SECOND]


def test_the_sans_io_cores_of_hw_pickle_and_go_on_where_they_were():
    """What other front ends put into a simulation (T.38 endpoints, captures, IAX2, the Class 1
    modem's interpreter) can be saved with it."""
    import pickle

    from estudio190f.hw.class1 import Class1Modem
    from estudio190f.hw.clock import Clock
    from estudio190f.hw.eventlog import EventLog
    from estudio190f.hw.iax2 import Iax2Endpoint
    from estudio190f.hw.line import PhoneNetwork
    from estudio190f.hw.modem import Modem
    from estudio190f.hw.t38 import T38Config, T38Endpoint
    from estudio190f.hw.t38_capture import CallCapture

    capture = CallCapture()
    assert [capture.recorder.address(s) for s in ("a", "b")] == ["10.0.0.1", "10.0.0.2"]
    again = pickle.loads(pickle.dumps(capture))
    assert again.recorder.address("c") == "10.0.0.3" and again.recorder.address("a") == "10.0.0.1"
    clock = Clock()
    line = PhoneNetwork(clock).add_line("5550100")
    modem = Modem(clock)
    line.attach_modem(modem)
    for core in (T38Endpoint(T38Config()), Iax2Endpoint(), Class1Modem(clock, modem, line,
                                                                         EventLog(clock))):  # fmt: skip
        assert type(pickle.loads(pickle.dumps(core))) is type(core)
