"""The real-time runner: maps virtual time to wall time and serves file descriptors.

This is the edge where the wall clock is read. One thread, one `select` loop: it sleeps until
the next clock deadline (scaled by the speed factor) or until a descriptor is ready (the prompt,
ptys, sockets), then runs every event that is due (in slices of wall time, so that a stop request or
a descriptor is served even while events keep coming at one instant). When an event blocks on the outside world (an
SMTP session), virtual time stands still meanwhile and the mapping is re-anchored afterwards, so
the clock never leaps ahead to catch up.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable

from estudio190f.hw.clock import SECOND, Clock

LAG_REANCHOR = 0.25  # wall seconds an event batch may take before the mapping is re-anchored
MAX_SLICE = 0.5  # wall seconds between checks of the stop flag


def parse_speed(text: str) -> float | None:
    """`max` -> None (as fast as possible), `realtime` -> 1.0, a number -> that factor."""
    if text == "max":
        return None
    if text == "realtime":
        return 1.0
    try:
        factor = float(text)
    except ValueError:
        raise ValueError(f"speed must be max, realtime or a factor, not {text!r}") from None
    if factor <= 0:
        raise ValueError("speed factor must be positive")
    return factor


class Runner:
    def __init__(self, clock: Clock, speed: float | None = 1.0) -> None:
        self.clock = clock
        self.speed = speed
        self.readers: dict[int, Callable[[], None]] = {}
        self.writers: dict[int, Callable[[], None]] = {}
        self.idle_hooks: list[Callable[[], None]] = []
        # The longest one select may wait; a plug-in that must run often (the window, 50 times
        # a second) lowers it.
        self.max_wait = MAX_SLICE
        self.stopping = False
        self._anchor()

    def _anchor(self) -> None:
        self.wall0 = time.monotonic()
        self.virtual0 = self.clock.now

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        self.readers[fd] = callback

    def remove_reader(self, fd: int) -> None:
        self.readers.pop(fd, None)

    def add_writer(self, fd: int, callback: Callable[[], None]) -> None:
        self.writers[fd] = callback

    def remove_writer(self, fd: int) -> None:
        self.writers.pop(fd, None)

    def virtual_target(self) -> int:
        if self.speed is None:
            return self.clock.next_deadline() or self.clock.now
        elapsed = time.monotonic() - self.wall0
        return self.virtual0 + int(elapsed * self.speed * SECOND)

    def stop(self) -> None:
        self.stopping = True

    def run(self, until: Callable[[], bool] | None = None) -> None:
        self._anchor()
        while not self.stopping and not (until is not None and until()):
            self.run_once()

    def run_once(self) -> None:
        clock = self.clock
        nxt = clock.next_deadline()
        if self.speed is None:
            timeout = 0.0 if nxt is not None else self.max_wait
        elif nxt is None:
            timeout = self.max_wait
        else:
            wall_due = self.wall0 + (nxt - self.virtual0) / SECOND / self.speed
            timeout = min(self.max_wait, max(0.0, wall_due - time.monotonic()))
        self._poll(timeout)
        started = time.monotonic()
        if self.speed is None:
            if nxt is not None:
                clock.run_one()
        else:
            self._run_until(max(clock.now, self.virtual_target()), started + self.max_wait)
        for hook in list(self.idle_hooks):
            hook()
        if self.speed is not None and time.monotonic() - started > LAG_REANCHOR:
            self._anchor()

    def _run_until(self, target: int, wall_deadline: float) -> None:
        """Run the events due up to `target`, then move the clock there. A batch that takes longer
        than `wall_deadline` (or a stop request) ends early, so descriptors and signals are served
        even while a component keeps scheduling work at one instant; the rest runs next turn."""
        clock = self.clock
        while clock.run_one(target):
            if self.stopping or time.monotonic() > wall_deadline:
                return
        clock.advance_to(target)  # nothing is due before it any more: just sets the time

    def _poll(self, timeout: float) -> None:
        rlist = list(self.readers)
        wlist = list(self.writers)
        if not rlist and not wlist:
            if timeout > 0:
                time.sleep(timeout)
            return
        try:
            readable, writable, _ = select.select(rlist, wlist, [], timeout)
        except InterruptedError:
            return
        except OSError:
            # a descriptor went away; drop the dead ones
            for fd in rlist:
                if not _alive(fd):
                    self.readers.pop(fd, None)
            for fd in wlist:
                if not _alive(fd):
                    self.writers.pop(fd, None)
            return
        for fd in readable:
            callback = self.readers.get(fd)
            if callback is not None:
                callback()
                self._after_io()
        for fd in writable:
            callback = self.writers.get(fd)
            if callback is not None:
                callback()
                self._after_io()

    def _after_io(self) -> None:
        """What an I/O callback changed (a key, a hang-up) is seen by `until` like a clock event."""
        for hook in list(self.clock.after_event):
            hook()


def _alive(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
