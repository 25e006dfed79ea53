"""Two IAX2 endpoints back to back in memory on one virtual clock (like h11's ConnectionPair).

`EndpointPair.pump()` carries every datagram each endpoint has to send to the other until both
are quiet, through `drop` (a test's rule for losing datagrams); `advance(duration)` moves the
clock from deadline to deadline, running the endpoints' timers. Every frame on the wire is kept
in `wire` as (direction, frame) and every event in `events["a"]` / `events["b"]`.
"""

from __future__ import annotations

from collections.abc import Callable

from estudio190f.hw.iax2 import Iax2Endpoint, Iax2Event
from estudio190f.hw.iax2_frames import (
    Address,
    FullFrame,
    MiniFrame,
    decode_datagram,
    frame_name,
)

A = ("127.0.0.1", 4569)
B = ("127.0.0.1", 4570)
Frame = FullFrame | MiniFrame


class EndpointPair:
    def __init__(self, a: Iax2Endpoint | None = None, b: Iax2Endpoint | None = None) -> None:
        self.now = 0
        self.a = a or Iax2Endpoint()
        self.b = b or Iax2Endpoint()
        self.wire: list[tuple[str, Frame]] = []
        self.events: dict[str, list[Iax2Event]] = {"a": [], "b": []}
        self.drop: Callable[[str, Frame], bool] = lambda _direction, _frame: False
        self.dropped: list[tuple[str, Frame]] = []

    def _sides(self) -> list[tuple[str, Iax2Endpoint, Address, Iax2Endpoint, Address]]:
        return [("a>b", self.a, A, self.b, B), ("b>a", self.b, B, self.a, A)]

    def pump(self) -> None:
        for _ in range(10_000):
            moved = False
            for direction, source, source_address, target, target_address in self._sides():
                for data, address in source.take_datagrams():
                    moved = True
                    frame = decode_datagram(data)
                    if address != target_address:
                        self.dropped.append((direction, frame))  # nobody there
                        continue
                    if self.drop(direction, frame):
                        self.dropped.append((direction, frame))
                        continue
                    self.wire.append((direction, frame))
                    target.receive_datagram(data, source_address, self.now)
            self._collect()
            if not moved:
                return
        raise AssertionError("the endpoints never stop talking")

    def _collect(self) -> None:
        for side, endpoint in (("a", self.a), ("b", self.b)):
            while (event := endpoint.next_event()) is not None:
                self.events[side].append(event)

    def advance(self, duration: int) -> None:
        """Move the clock by `duration`, stopping at every deadline on the way."""
        end = self.now + duration
        self.pump()
        while True:
            deadlines = [
                d for d in (self.a.next_deadline(), self.b.next_deadline()) if d is not None
            ]
            due = min(deadlines) if deadlines else None
            if due is None or due > end:
                break
            self.now = max(self.now, due)
            self.a.handle_timers(self.now)
            self.b.handle_timers(self.now)
            self.pump()
        self.now = end
        self.pump()

    def names(self, direction: str | None = None) -> list[str]:
        """The frames on the wire by name (mini frames left out), optionally one way only."""
        return [
            frame_name(f)
            for d, f in self.wire
            if (direction is None or d == direction) and not isinstance(f, MiniFrame)
        ]

    def of(self, side: str, kind: type) -> list:
        return [e for e in self.events[side] if isinstance(e, kind)]
