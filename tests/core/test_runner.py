"""The real-time runner: virtual time follows the wall clock; I/O callbacks count as events."""

import os
import time

from estudio190f.hw.clock import SECOND
from estudio190f.panel.interpreter import Interpreter, StepTask
from estudio190f.panel.runner import Runner, parse_speed
from estudio190f.panel.script import parse_line
from estudio190f.panel.sim import Simulation


def test_speed_words():
    assert parse_speed("max") is None
    assert parse_speed("realtime") == 1.0
    assert parse_speed("10") == 10.0


def test_virtual_time_follows_the_wall_clock_times_the_factor():
    sim = Simulation()
    runner = Runner(sim.clock, speed=20.0)
    start_virtual, start_wall = sim.clock.now, time.monotonic()
    runner.run(until=lambda: time.monotonic() - start_wall > 0.5)
    virtual = (sim.clock.now - start_virtual) / SECOND
    assert 6 < virtual < 14  # about 10 s of virtual time in 0.5 s of wall time at x20


def test_until_sees_a_change_made_by_an_io_callback_at_once():
    sim = Simulation()
    runner = Runner(sim.clock, speed=1.0)
    interp = Interpreter(sim)
    read_fd, write_fd = os.pipe()

    def readable():
        os.read(read_fd, 100)
        sim.main.press("COPY")  # an edge acting outside any clock event
        sim.main.release("COPY")

    runner.add_reader(read_fd, readable)
    done = []
    StepTask(
        interp, parse_line('until lcd "COPY READY" within 1h'), lambda r, e: done.append(e)
    ).start()
    os.write(write_fd, b"x")
    wall = time.monotonic()
    runner.run(until=lambda: bool(done) or time.monotonic() - wall > 5)
    assert done == [None]
    assert time.monotonic() - wall < 2
    os.close(read_fd)
    os.close(write_fd)


def test_a_stop_request_ends_the_loop_even_while_events_keep_coming_at_one_instant():
    import signal

    sim = Simulation()
    runner = Runner(sim.clock, speed=1.0)

    def again():  # a component that never lets the instant end
        sim.clock.call_soon(again)

    sim.clock.call_soon(again)
    previous = signal.signal(signal.SIGALRM, lambda *_: runner.stop())
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    wall = time.monotonic()
    try:
        runner.run()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - wall < 1.5
