"""Sensor edges as interrupt lines: every listener sees every edge, in the order they happened.

An edge raised while listeners are still being told of an earlier one (the firmware picks the
next document on an exit edge, which moves paper, which raises another edge) waits its turn, so
all listeners see the same order.
"""

from __future__ import annotations

from collections import deque

from .eventlog import EventLog
from .listeners import Listeners


class SensorEdges:
    def __init__(self, log: EventLog, source: str) -> None:
        self.log = log
        self.source = source
        self.listeners: Listeners[[str, bool]] = Listeners()
        self._edges: deque[tuple[str, bool]] = deque()
        self._dispatching = False

    def notify(self, sensor: str, state: bool) -> None:
        self._edges.append((sensor, state))
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._edges:
                edge_sensor, edge_state = self._edges.popleft()
                self.log.emit(self.source, "sensor", sensor=edge_sensor, on=edge_state)
                self.listeners(edge_sensor, edge_state)
        finally:
            self._dispatching = False
