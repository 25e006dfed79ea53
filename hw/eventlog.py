"""The event log: what the machine did, one JSON object a line, stamped with virtual time.

Hardware models and firmware both write here. Listeners (the events.jsonl writer, the serial
console's `events on`, the window) subscribe; the log itself touches no file.
Passwords never reach it: callers pass only what may be shown (see `firmware.settings.SECRET`).
`sequence` counts the events emitted so far: a snapshot keeps it, so the events.jsonl of a run
restored from a snapshot is the tail of the run it was taken from, from that count on.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from .clock import SECOND, Clock
from .listeners import Listeners

Event = dict[str, Any]
KEEP = 100_000


def stamp(ticks: int) -> str:
    """Virtual time as seconds with microsecond precision, e.g. '12.000250'."""
    return f"{ticks // SECOND}.{ticks % SECOND:06d}"


class EventLog:
    def __init__(self, clock: Clock, machine: str = "") -> None:
        self.clock = clock
        self.machine = machine
        self.listeners: Listeners[[Event]] = Listeners()
        # The most recent events, for queries and tests; the full log goes to the listeners
        # (events.jsonl). Bounded so that a machine left running for weeks does not grow.
        self.events: deque[Event] = deque(maxlen=KEEP)
        self.keep = True  # False: listeners only (a log nobody queries)
        self.sequence = 0  # events emitted so far

    def emit(self, source: str, kind: str, /, **fields: Any) -> Event:
        event: Event = {"t": stamp(self.clock.now)}
        if self.machine:
            event["machine"] = self.machine
        event["src"] = source
        event["ev"] = kind
        event.update(fields)
        self.sequence += 1
        if self.keep:
            self.events.append(event)
        self.listeners(event)
        return event

    @staticmethod
    def to_json(event: Event) -> str:
        return json.dumps(event, sort_keys=False, separators=(",", ":"), ensure_ascii=True)
