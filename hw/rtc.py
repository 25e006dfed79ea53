"""The battery-backed real-time clock: calendar time derived from the virtual clock.

Like the clock chip of a fax machine of its period it counts years in two digits: it holds
2000-01-01 00:00 to 2099-12-31 23:59:59, refuses to be set outside that, and after its last
second comes 2000 again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .clock import Clock

FACTORY_TIME = datetime(2026, 1, 1, 9, 0)
FIRST = datetime(2000, 1, 1)
LAST = datetime(2099, 12, 31, 23, 59, 59, 999999)
_SPAN = FIRST.replace(year=2100) - FIRST


class RtcRange(ValueError):
    """A date the clock chip cannot hold."""


def check_date(when: datetime) -> datetime:
    """`when` if the clock chip can hold it, else RtcRange saying what it holds."""
    if not FIRST <= when.replace(tzinfo=None) <= LAST:
        raise RtcRange(f"the clock holds 2000-01-01 to 2099-12-31, not {when:%Y-%m-%d}")
    return when


class RealTimeClock:
    def __init__(self, clock: Clock, start: datetime = FACTORY_TIME) -> None:
        self.clock = clock
        self._base = check_date(start).replace(tzinfo=None)
        self._base_tick = clock.now

    def now(self) -> datetime:
        elapsed = timedelta(microseconds=self.clock.now - self._base_tick)
        offset = (self._base - FIRST + elapsed) % _SPAN  # the century wraps round
        return FIRST + offset

    def set(self, when: datetime) -> None:
        self._base = check_date(when).replace(tzinfo=None)
        self._base_tick = self.clock.now

    def ticks_until(self, when: datetime) -> int:
        """Virtual ticks from now until the calendar time `when` (0 if past)."""
        delta = when - self.now()
        return max(0, delta // timedelta(microseconds=1))
