"""What the two paper controllers (scan and print control) share: the operator alert each raises,
their hooks into the hardware's listener lists, and a watchdog on the sensor edges they expect.

An expected edge is late at 1.5 times its expected time plus half a second; the watchdog fires at
the earliest due time and the controller decides what a late edge means (a jam, mostly).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import ParamSpec

from estudio190f.hw.board import Board
from estudio190f.hw.clock import MS, Timer
from estudio190f.hw.listeners import Listeners

P = ParamSpec("P")

TIMEOUT_FACTOR = 1.5  # a sensor edge is late at 1.5 x its expected time ...
TIMEOUT_MARGIN = 500 * MS  # ... plus half a second


class SensorWatch:
    """Base of a paper controller. Subclasses say when their edges are due (`_dues`) and what
    happens when the watchdog fires (`_late`)."""

    def __init__(self, board: Board, alert_source: str, watchdog_label: str) -> None:
        self.board = board
        self.log = board.log
        self.timers = board.timers
        self.alert: str | None = None
        # (source, word) when a fault needing the operator appears, (source, None) when cleared.
        self.alert_listeners: Listeners[[str, str | None]] = Listeners()
        self._alert_source = alert_source
        self._watchdog_label = watchdog_label
        self._watchdog: Timer | None = None
        self._detachers: list[Callable[[], None]] = []

    def _listen(self, hooks: Listeners[P], fn: Callable[P, None]) -> None:
        """Hook `fn` into one of the hardware's listener lists, until `detach`."""
        hooks.add(fn)
        self._detachers.append(partial(hooks.discard, fn))

    def detach(self) -> None:
        """Unhook from the hardware (the firmware object is being replaced)."""
        for detach in self._detachers:
            detach()
        self._detachers.clear()

    def _late_at(self, expected: float, factor: float = TIMEOUT_FACTOR) -> int:
        """When an edge expected `expected` clock ticks from now is late."""
        return self.board.clock.now + round(expected * factor) + TIMEOUT_MARGIN

    def _arm(self) -> None:
        """(Re)start the watchdog for the earliest edge due, if any."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        dues = list(self._dues())
        if dues:
            self._watchdog = self.timers.call_at(min(dues), self._fire, label=self._watchdog_label)

    def _fire(self) -> None:
        self._watchdog = None
        self._late()

    def _dues(self) -> Iterable[int]:
        raise NotImplementedError

    def _late(self) -> None:
        raise NotImplementedError

    def _set_alert(self, word: str | None) -> None:
        if word == self.alert:
            return
        self.alert = word
        self.alert_listeners(self._alert_source, word)
