"""The virtual clock: a discrete-event scheduler, the only source of time in hw/ and firmware/.

Time is an integer number of microseconds since the simulation began. Events due at the same
instant run in the order they were scheduled, so a run is deterministic. When nothing is due the
clock jumps straight to the next deadline: a day of standby costs as many steps as it has events.
A snapshot takes the clock's state (`save_state`: the time, the sequence, the timers still to
run) and puts it back (`load_state`) on the same clock object, which the runners hold.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .listeners import Listeners
from .outside import OutsideWorld

US = 1
MS = 1_000
SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE


def seconds(value: float) -> int:
    """A duration in seconds as clock ticks (microseconds), rounded to the nearest tick."""
    return round(value * SECOND)


@dataclass(order=True, slots=True)
class Timer:
    """A scheduled call. `cancel()` makes it a no-op; the heap drops it lazily."""

    when: int
    seq: int
    fn: Callable[..., Any] = field(compare=False)
    args: tuple[Any, ...] = field(compare=False, default=())
    label: str = field(compare=False, default="")
    cancelled: bool = field(compare=False, default=False)
    owner: object = field(compare=False, default=None)  # the timer group that asked for it

    def cancel(self) -> None:
        self.cancelled = True

    @property
    def active(self) -> bool:
        return not self.cancelled


@dataclass
class ClockState:
    """What a snapshot keeps of a clock: the time, the scheduling sequence, the events run so far
    and the timers still to run (the heap, the end-of-instant calls, the settled calls)."""

    now: int
    seq: int
    events_run: int
    heap: list[Timer]
    last: list[Timer]
    settled: list[Timer]


class Clock:
    """One clock drives every machine, line and modem of a simulation."""

    def __init__(self) -> None:
        self.now: int = 0
        # (when, seq, timer): tuples compare in C, and (when, seq) is the order events run in.
        self._heap: list[tuple[int, int, Timer]] = []
        self._seq = 0
        self.events_run = 0
        # End-of-instant calls (`call_last`), then calls for when the instant has settled
        # (`call_when_settled`), each in the order they were asked for.
        self._last: list[Timer] = []
        self._settled: list[Timer] = []
        # Called after every event (the key-script `until` checks here).
        self.after_event: list[Callable[[], None]] = []
        # Sockets of the machines' edges and what they ask of time (served by the driver).
        self.outside = OutsideWorld()
        # An exception escaping an event: with a listener it is contained (the listener says
        # what the machine does about it) and the clock runs on; with none it propagates.
        self.faults: Listeners[[Timer, Exception]] = Listeners()

    # -- scheduling ---------------------------------------------------------------------
    def call_at(self, when: int, fn: Callable[..., Any], *args: Any, label: str = "") -> Timer:
        if when < self.now:
            when = self.now
        self._seq += 1
        when = int(when)
        timer = Timer(when, self._seq, fn, args, label)
        heapq.heappush(self._heap, (when, self._seq, timer))
        return timer

    def call_later(self, delay: int, fn: Callable[..., Any], *args: Any, label: str = "") -> Timer:
        return self.call_at(self.now + max(0, int(delay)), fn, *args, label=label)

    def call_soon(self, fn: Callable[..., Any], *args: Any, label: str = "") -> Timer:
        """Run at the current instant, after what is already due now."""
        return self.call_at(self.now, fn, *args, label=label)

    def call_last(self, fn: Callable[..., Any], *args: Any, label: str = "") -> Timer:
        """Run at the end of the current instant: after everything due now has run, including
        what those events schedule for now, and before time moves on. A display refreshed here
        shows one picture per instant, never one that is replaced at the same instant."""
        self._seq += 1
        timer = Timer(self.now, self._seq, fn, args, label)
        self._last.append(timer)
        return timer

    def call_when_settled(self, fn: Callable[..., Any], *args: Any, label: str = "") -> Timer:
        """Run once this instant has settled: nothing else is due now and every end-of-instant
        call has run. A key-script step ends here, after the LCD it caused has been drawn."""
        self._seq += 1
        timer = Timer(self.now, self._seq, fn, args, label)
        self._settled.append(timer)
        return timer

    # -- inspection ---------------------------------------------------------------------
    def next_deadline(self) -> int | None:
        if self._last:  # (the driver asks every loop; both lists are most often empty)
            self._last = [t for t in self._last if not t.cancelled]
        if self._settled:
            self._settled = [t for t in self._settled if not t.cancelled]
        if self._last or self._settled:
            return self.now
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    @property
    def pending(self) -> int:
        timers = [entry[2] for entry in self._heap] + self._last + self._settled
        return sum(1 for t in timers if not t.cancelled)

    # -- snapshots ----------------------------------------------------------------------
    def save_state(self, keep: Callable[[Timer], bool]) -> ClockState:
        """The clock as it stands, with the live timers `keep` accepts (a snapshot keeps the
        simulation's timers and leaves out those of the operator's side, a console step's)."""

        def kept(timers: list[Timer]) -> list[Timer]:
            return [t for t in timers if not t.cancelled and keep(t)]

        return ClockState(
            self.now, self._seq, self.events_run,
            sorted(kept([entry[2] for entry in self._heap])), kept(self._last), kept(self._settled),
        )  # fmt: skip

    def load_state(self, state: ClockState, carry: Callable[[Timer], bool] | None = None) -> None:
        """Put a saved state back. The live timers `carry` accepts stay (the operator's side: a
        console step waiting): each keeps the delay it had left, counted from the new time, and
        runs after the saved timers due at the same instant."""
        carried = [
            [t for t in timers if not t.cancelled and carry(t)] if carry is not None else []
            for timers in ([entry[2] for entry in self._heap], self._last, self._settled)
        ]
        old_now = self.now
        self.now = state.now
        self._seq = state.seq
        self.events_run = state.events_run
        self._heap = [(t.when, t.seq, t) for t in state.heap]
        self._last = list(state.last)
        self._settled = list(state.settled)
        for timer in sorted(carried[0]):
            self._seq += 1
            timer.when, timer.seq = self.now + max(0, timer.when - old_now), self._seq
            self._heap.append((timer.when, timer.seq, timer))
        heapq.heapify(self._heap)
        for timers, into in ((carried[1], self._last), (carried[2], self._settled)):
            for timer in timers:
                self._seq += 1
                timer.when, timer.seq = self.now, self._seq
                into.append(timer)

    # -- running ------------------------------------------------------------------------
    def run_one(self, limit: int | None = None) -> bool:
        """Run the next event if it is due at or before `limit` (default: any). True if one ran."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        if (self._last or self._settled) and not (heap and heap[0][0] <= self.now):
            # Nothing else is due at this instant: its end-of-instant calls run now, then
            # what waits for the instant to settle.
            timer = self._last.pop(0) if self._last else self._settled.pop(0)
            if not timer.cancelled:
                self._run(timer)
            return True
        if not heap or (limit is not None and heap[0][0] > limit):
            return False
        when, _, timer = heapq.heappop(heap)
        if when > self.now:
            self.now = when
        self._run(timer)
        return True

    def _run(self, timer: Timer) -> None:
        timer.cancelled = True
        self.events_run += 1
        try:
            timer.fn(*timer.args)
        except Exception as exc:
            if not self.faults:
                raise
            self.faults(timer, exc)
        for hook in self.after_event:
            hook()

    def run_due(self) -> int:
        """Run everything due at the current instant (including what those events schedule now)."""
        count = 0
        while self.run_one(self.now):
            count += 1
        return count

    def advance_to(self, when: int, stop: Callable[[], bool] | None = None) -> bool:
        """Run events in order up to `when`, then set the time to `when`.

        With `stop`, check it after every event and return True as soon as it holds (the
        clock then stays at that event's time). Returns False when `when` was reached.
        """
        if stop is not None and stop():
            return True
        while self.run_one(when):
            if stop is not None and stop():
                return True
        if when > self.now:
            self.now = when
        self.run_due()
        return stop() if stop is not None else False

    def advance(self, delay: int, stop: Callable[[], bool] | None = None) -> bool:
        return self.advance_to(self.now + delay, stop)


class TimerGroup:
    """The timers of one powered domain (a machine's firmware, a motor). A power cut cancels them."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._timers: list[Timer] = []

    def call_later(self, delay: int, fn: Callable[..., Any], *args: Any, label: str = "") -> Timer:
        return self._keep(self.clock.call_later(delay, fn, *args, label=label))

    def call_at(self, when: int, fn: Callable[..., Any], *args: Any, label: str = "") -> Timer:
        return self._keep(self.clock.call_at(when, fn, *args, label=label))

    def call_soon(self, fn: Callable[..., Any], *args: Any, label: str = "") -> Timer:
        return self.call_at(self.clock.now, fn, *args, label=label)

    def call_last(self, fn: Callable[..., Any], *args: Any, label: str = "") -> Timer:
        return self._keep(self.clock.call_last(fn, *args, label=label))

    def _keep(self, timer: Timer) -> Timer:
        self._prune()
        timer.owner = self
        self._timers.append(timer)
        return timer

    def cancel_all(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def _prune(self) -> None:
        if len(self._timers) > 64:
            self._timers = [t for t in self._timers if not t.cancelled]
