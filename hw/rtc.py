"""The battery-backed real-time clock: calendar time derived from the virtual clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from .clock import Clock

FACTORY_TIME = datetime(2026, 1, 1, 9, 0)


class RealTimeClock:
    def __init__(self, clock: Clock, start: datetime = FACTORY_TIME) -> None:
        self.clock = clock
        self._base = start.replace(tzinfo=None)
        self._base_tick = clock.now

    def now(self) -> datetime:
        return self._base + timedelta(microseconds=self.clock.now - self._base_tick)

    def set(self, when: datetime) -> None:
        self._base = when.replace(tzinfo=None)
        self._base_tick = self.clock.now

    def ticks_until(self, when: datetime) -> int:
        """Virtual ticks from now until the calendar time `when` (0 if past)."""
        delta = when - self.now()
        return max(0, delta // timedelta(microseconds=1))
