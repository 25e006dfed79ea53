"""The drivers of virtual time: the real-time runner of `run`, and `advance_to` for `replay`.

This is the edge where the wall clock is read. The runner is one thread and one `select` loop: it
sleeps until the next clock deadline (scaled by the speed factor) or until a descriptor is ready
(the prompt, ptys, the machines' sockets), then runs every event that is due (in slices of wall
time, so that a stop request or a descriptor is served even while events keep coming at one
instant). `advance_to` runs the clock as fast as it can, as `replay` and the pytest plugin do,
except where the outside world asks otherwise (`hw.outside`): while an exchange holds time it
stands still (the sockets are served, what is due now still runs); while a call with an outside
peer paces it, virtual time follows the wall.
"""

from __future__ import annotations

import os
import queue
import select
import socket
import threading
import time
import weakref
from collections.abc import Callable

from estudio190f.hw.clock import SECOND, Clock
from estudio190f.hw.outside import AddressInfo, LookupDone, OutsideWorld

LAG_REANCHOR = 0.25  # wall seconds an event batch may take before the mapping is re-anchored
MAX_SLICE = 0.5  # wall seconds between checks of the stop flag
OUTSIDE_POLL = 0.05  # wall seconds the replay driver waits on sockets at a time


class HostLookups:
    """Host names looked up off the clock (a name server may take seconds, or never answer): each
    lookup in a thread of its own (a daemon: a silent name server does not hold the process at
    exit), its answer handed to the driver's loop through a socket pair that this watches."""

    def __init__(self, outside: OutsideWorld) -> None:
        self.outside = outside
        self._answers: queue.SimpleQueue[tuple[LookupDone, list[AddressInfo] | OSError]] = (
            queue.SimpleQueue()
        )
        self._waiting = 0
        self._pair: tuple[socket.socket, socket.socket] | None = None

    def lookup(self, host: str, port: int, done: LookupDone) -> None:
        if self._pair is None:
            self._pair = socket.socketpair()
            self._pair[0].setblocking(False)
        self._waiting += 1
        self.outside.watch(self)
        threading.Thread(target=self._look_up, args=(host, port, done), daemon=True,
                         name=f"lookup {host}").start()  # fmt: skip

    def _look_up(self, host: str, port: int, done: LookupDone) -> None:
        """In the lookup's own thread: the blocking call, then a byte to wake the loop."""
        answer: list[AddressInfo] | OSError
        try:
            answer = list(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            answer = exc
        except UnicodeError as exc:  # a name the IDNA codec refuses
            answer = OSError(str(exc))
        self._answers.put((done, answer))
        if self._pair is not None:
            try:
                self._pair[1].send(b"\0")
            except OSError:
                pass

    # -- OutsideLink ---------------------------------------------------------------------------
    def fileno(self) -> int:
        return self._pair[0].fileno() if self._pair is not None else -1

    def wants_write(self) -> bool:
        return False

    def writable(self) -> None:
        pass

    def readable(self) -> None:
        if self._pair is not None:
            try:
                self._pair[0].recv(4096)
            except OSError:
                pass
        while True:
            try:
                done, answer = self._answers.get_nowait()
            except queue.Empty:
                return
            self._waiting -= 1
            if self._waiting == 0:
                self.outside.unwatch(self)
            done(answer)


_LOOKUPS: weakref.WeakKeyDictionary[OutsideWorld, HostLookups] = weakref.WeakKeyDictionary()


def drive(outside: OutsideWorld) -> None:
    """This process's drivers serve `outside`: the wall clock, and host lookups off the clock."""
    outside.wall = time.monotonic
    lookups = _LOOKUPS.get(outside)
    if lookups is None:
        lookups = _LOOKUPS[outside] = HostLookups(outside)
        outside.lookup = lookups.lookup


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
        self.requested_speed = speed
        self.speed = speed
        drive(clock.outside)
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

    def _follow_outside(self) -> None:
        """At max speed, a call with an outside peer makes the clock follow the wall."""
        outside = self.clock.outside
        speed = 1.0 if self.requested_speed is None and outside.paced else self.requested_speed
        if speed != self.speed:
            self.speed = speed
            self._anchor()

    def run_once(self) -> None:
        clock = self.clock
        self._follow_outside()
        outside = clock.outside
        held = self.speed is None and outside.held
        nxt = clock.next_deadline()
        if held and nxt is not None and nxt > clock.now:
            nxt = None  # time stands still while an outside exchange holds it (max speed)
        wall_timer = outside.next_timer()
        if self.speed is None:
            timeout = 0.0 if nxt is not None else self.max_wait
        elif nxt is None:
            timeout = self.max_wait
        else:
            wall_due = self.wall0 + (nxt - self.virtual0) / SECOND / self.speed
            timeout = min(self.max_wait, max(0.0, wall_due - time.monotonic()))
        if wall_timer is not None:
            timeout = min(timeout, max(0.0, wall_timer - time.monotonic()))
        self._poll(timeout)
        if outside.run_timers(time.monotonic()):
            self._after_io()
        started = time.monotonic()
        if self.speed is None:
            if nxt is not None:
                clock.run_one(clock.now if held else None)
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
        links = self.clock.outside.links
        rlist = [*self.readers, *links]
        wlist = [*self.writers, *(fd for fd, link in links.items() if link.wants_write())]
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
                    links.pop(fd, None)
            for fd in wlist:
                if not _alive(fd):
                    self.writers.pop(fd, None)
                    links.pop(fd, None)
            return
        for fd in readable:
            callback = self.readers.get(fd)
            link = links.get(fd)
            if callback is not None:
                callback()
            elif link is not None:
                link.readable()
            self._after_io()
        for fd in writable:
            callback = self.writers.get(fd)
            link = links.get(fd)
            if callback is not None:
                callback()
            elif link is not None:
                link.writable()
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


# -- replay: as fast as the outside world allows ------------------------------------------------------
def serve_outside(clock: Clock, timeout: float) -> bool:
    """Wait up to `timeout` wall seconds for the machines' sockets and serve them, then run the
    wall timers that are due. True if anything was served."""
    outside = clock.outside
    drive(outside)
    links = outside.links
    served = False
    if links:
        rlist = list(links)
        wlist = [fd for fd, link in links.items() if link.wants_write()]
        try:
            readable, writable, _ = select.select(rlist, wlist, [], timeout)
        except (InterruptedError, OSError):
            readable, writable = [], []
        for fd in readable:
            if fd in links:
                links[fd].readable()
                served = True
        for fd in writable:
            if fd in links:
                links[fd].writable()
                served = True
    elif timeout > 0:
        time.sleep(timeout)
    served = outside.run_timers(time.monotonic()) or served
    if served:
        for hook in list(clock.after_event):
            hook()
    return served


def advance_to(clock: Clock, when: int, stop: Callable[[], bool] | None = None) -> bool:
    """Run the clock to `when` (or until `stop` holds: True), as fast as possible, except where
    the outside world asks otherwise (see the module's text)."""
    outside = clock.outside
    drive(outside)
    wall0, virtual0 = time.monotonic(), clock.now
    while True:
        if outside.quiet:
            # Nothing outside: straight on, until an event opens something to the outside.
            if not clock.advance_to(when, _either(stop, outside.busy)):
                return False
            if stop is not None and stop():
                return True
            wall0, virtual0 = time.monotonic(), clock.now
        if stop is not None and stop():
            return True
        serve_outside(clock, 0.0)
        if outside.held:
            # Time stands still: what is due now runs, and the sockets are waited on.
            if not clock.run_one(clock.now):
                serve_outside(clock, _wait(outside, OUTSIDE_POLL))
            wall0, virtual0 = time.monotonic(), clock.now
            continue
        nxt = clock.next_deadline()
        target = when if nxt is None else min(nxt, when)
        if outside.paced and target > clock.now:
            late = wall0 + (target - virtual0) / SECOND - time.monotonic()
            if late > 0:
                serve_outside(clock, _wait(outside, min(late, OUTSIDE_POLL)))
                continue
        elif not outside.paced:
            wall0, virtual0 = time.monotonic(), clock.now
        if nxt is not None and nxt <= when:
            clock.run_one(when)
            continue
        if outside.quiet:
            continue
        clock.advance_to(when)
        return stop() if stop is not None else False


def _either(stop: Callable[[], bool] | None, other: Callable[[], bool]) -> Callable[[], bool]:
    if stop is None:
        return other
    return lambda: stop() or other()


def advance(clock: Clock, ticks: int, stop: Callable[[], bool] | None = None) -> bool:
    return advance_to(clock, clock.now + ticks, stop)


def _wait(outside: OutsideWorld, limit: float) -> float:
    """How long to wait on the sockets: at most `limit`, less if a wall timer is due sooner."""
    due = outside.next_timer()
    if due is None:
        return limit
    return max(0.0, min(limit, due - time.monotonic()))
