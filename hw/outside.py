"""The world outside the simulation, as the machine's edges meet it: the sockets they talk
through, and what an exchange with the outside asks of virtual time.

An edge (the LAN port's SMTP link, a T.38 or IAX2 port) owns a non-blocking socket and a protocol
core without I/O. It registers the socket here (`watch`), and whoever drives the clock — the
runner of `run`, the step driver of `replay` — polls it and calls the edge back when it can read
or write; nothing here blocks and no clock event ever waits on a socket. Two requests shape time:

- `hold(owner)`: an exchange waits for an answer from outside (a relay's reply). Under `replay`
  virtual time stands still meanwhile, so a run is deterministic (what is due at this instant,
  steps and console commands included, still runs); `run`, whose clock follows the wall, lets
  time go on, so the panel, the line and the console keep working.
- `pace(owner)`: a call runs with a peer outside the process. Virtual time follows the wall (or
  the speed factor both ends use) even under `replay`.

Deadlines on outside peers are wall seconds (`after_wall`); the driver supplies the wall clock
(`wall`), so nothing in `hw/` reads one. A host name is looked up by the driver too (`resolve`):
a name server that is slow or silent must not stop the clock, and the lookup blocks.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

# One answer of `socket.getaddrinfo`: family, type, protocol, canonical name, address.
AddressInfo = tuple[
    socket.AddressFamily,
    socket.SocketKind,
    int,
    str,
    tuple[str, int] | tuple[str, int, int, int] | tuple[int, bytes],
]
# Called with getaddrinfo's answers, or the error the lookup ended in.
LookupDone = Callable[[list[AddressInfo] | OSError], None]
Lookup = Callable[[str, int, LookupDone], None]


class OutsideLink(Protocol):
    """A socket of the machine's edge, served by the driver."""

    def fileno(self) -> int: ...

    def readable(self) -> None:
        """The socket can be read (or has been closed by the peer): read without blocking."""

    def wants_write(self) -> bool:
        """Whether bytes wait to be written (or a connect waits to complete)."""
        ...

    def writable(self) -> None:
        """The socket can be written: write without blocking."""


@dataclass
class WallTimer:
    due: float  # on the driver's wall clock
    fn: Callable[[], None] = field(compare=False)
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class NoDriver(RuntimeError):
    """An edge asked for a wall deadline in a simulation nobody drives against the wall."""


def _no_wall() -> float:
    raise NoDriver("no driver serves the outside world of this simulation")


def _no_lookup(host: str, port: int, done: LookupDone) -> None:
    raise NoDriver("no driver serves the outside world of this simulation")


class OutsideWorld:
    def __init__(self) -> None:
        self.links: dict[int, OutsideLink] = {}
        self.holds: set[object] = set()
        self.paces: set[object] = set()
        self.timers: list[WallTimer] = []
        self.wall: Callable[[], float] = _no_wall  # set by the driver (panel.runner)
        self.lookup: Lookup = _no_lookup  # set by the driver: looks a name up off the clock

    # -- the edges' side -------------------------------------------------------------------------
    def watch(self, link: OutsideLink) -> None:
        self.links[link.fileno()] = link

    def unwatch(self, link: OutsideLink) -> None:
        for fd, known in list(self.links.items()):
            if known is link:
                del self.links[fd]

    def hold(self, owner: object, on: bool) -> None:
        """While any owner holds, `replay` keeps virtual time at this instant."""
        (self.holds.add if on else self.holds.discard)(owner)

    def pace(self, owner: object, on: bool) -> None:
        """While any owner paces, virtual time follows the wall."""
        (self.paces.add if on else self.paces.discard)(owner)

    def resolve(self, host: str, port: int, done: LookupDone) -> None:
        """Look `host` up for a TCP connection to `port`; `done` is called later, from the
        driver's loop, with the answers or the error (never inside this call)."""
        self.lookup(host, port, done)

    def after_wall(self, seconds: float, fn: Callable[[], None]) -> WallTimer:
        """Call `fn` once `seconds` of wall time have passed (a deadline on an outside peer)."""
        timer = WallTimer(self.wall() + seconds, fn)
        self.timers.append(timer)
        return timer

    # -- the driver's side -----------------------------------------------------------------------
    @property
    def held(self) -> bool:
        return bool(self.holds)

    @property
    def paced(self) -> bool:
        return bool(self.paces)

    @property
    def quiet(self) -> bool:
        """Nothing to serve: no socket, no wall timer, no request on time."""
        return not (self.links or self.timers or self.holds or self.paces)

    def busy(self) -> bool:
        return not self.quiet

    def next_timer(self) -> float | None:
        self.timers = [t for t in self.timers if not t.cancelled]
        return min((t.due for t in self.timers), default=None)

    def run_timers(self, now: float) -> bool:
        """Run the wall timers due at `now`; True if any ran."""
        due = [t for t in self.timers if not t.cancelled and t.due <= now]
        if not due:
            return False
        self.timers = [t for t in self.timers if not t.cancelled and t.due > now]
        for timer in sorted(due, key=lambda t: t.due):
            timer.cancelled = True
            timer.fn()
        return True
