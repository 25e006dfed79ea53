"""The machine's power supply: whether the board is powered, and the line every part watches.

Switching off tells every listener at once (motors stop, the line goes on hook, the firmware's
RAM is gone); the firmware's own timers live in the powered domain `timers`, which a power cut
cancels before anyone is told.
"""

from __future__ import annotations

from .clock import Clock, TimerGroup
from .eventlog import EventLog
from .listeners import Listeners


class PowerSupply:
    def __init__(self, clock: Clock, log: EventLog) -> None:
        self.log = log
        self.on = False
        # The firmware's powered domain: every firmware timer goes here; a power cut cancels them.
        self.timers = TimerGroup(clock)
        self.changed: Listeners[[bool]] = Listeners()

    def switch(self, on: bool) -> None:
        if on == self.on:
            return
        self.on = on
        if not on:
            self.timers.cancel_all()
        self.log.emit("board", "power", on=on)
        self.changed(on)
