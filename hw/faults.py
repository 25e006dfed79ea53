"""Named fault conditions that a script or the window can set and clear.

A hardware model registers the faults it can suffer; `fault NAME` sets the condition and
`clear NAME` is the operator's fix. A fault whose part this machine lacks (a machine on no
phone line has no `line.*`, a simulation with no relay has no `relay.down`) raises
`FaultNotAvailable`, saying which part is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .eventlog import EventLog

# The fault names of DESIGN.md 3.2, and the part of the machine (or world) that owns each.
FAULT_NAMES: dict[str, str] = {
    "printer.jam": "printer paper path",
    "printer.no_paper": "printer cassette",
    "printer.cover_open": "printer cover",
    "adf.jam": "document feeder",
    "line.busy": "phone line",
    "line.no_answer": "phone line",
    "line.drop": "phone line",
    "line.noise": "phone line",
    "relay.down": "SMTP relay",
}


class FaultNotAvailable(Exception):
    pass


@dataclass
class _Handler:
    on_set: Callable[[], None]
    on_clear: Callable[[], None]


class FaultRegistry:
    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._handlers: dict[str, _Handler] = {}
        self.active: set[str] = set()

    def register(self, name: str, on_set: Callable[[], None], on_clear: Callable[[], None]) -> None:
        self._handlers[name] = _Handler(on_set, on_clear)

    def available(self, name: str) -> bool:
        return name in self._handlers

    def set(self, name: str) -> None:
        handler = self._require(name)
        self.active.add(name)
        self.log.emit("fault", "set", fault=name)
        handler.on_set()

    def clear(self, name: str) -> None:
        handler = self._require(name)
        self.active.discard(name)
        self.log.emit("fault", "clear", fault=name)
        handler.on_clear()

    def _require(self, name: str) -> _Handler:
        if name not in FAULT_NAMES:
            raise KeyError(f"no fault named {name!r} (known: {', '.join(FAULT_NAMES)})")
        handler = self._handlers.get(name)
        if handler is None:
            raise FaultNotAvailable(f"fault {name}: this machine has no {FAULT_NAMES[name]}")
        return handler
