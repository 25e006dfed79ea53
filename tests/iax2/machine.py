"""The machine on the PBX trunk, for the iaxmodem tests: a simulation with `--iax2` (loopback, a
port of the system's choosing) driven as `replay` drives it (`panel.runner.advance`: virtual time
runs freely, and follows the wall while a call through the trunk is up), with the phase-1
`IaxModem` harness pointed at its trunk.

`SimTrunk` gives `IaxModem` what it expects of a trunk: the address, the endpoint (to see
iaxmodem register), a wall-clock time in the endpoint's units, a place for extra readers (iaxmodem's
output, served as one of the outside world's links) and `run_until`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from estudio190f.hw.clock import HOUR, MS
from estudio190f.hw.iax2 import Iax2Endpoint
from estudio190f.hw.iax2_frames import Address
from estudio190f.panel.pytest_plugin import FaxDriver, make_driver
from estudio190f.panel.runner import advance, serve_outside

from .harness import IAXMODEM_NUMBER, PEER_NAME, IaxModem, free_udp_port

STEP = 20 * MS


class _Reader:
    """A descriptor read by a callback, as one of the outside world's links."""

    def __init__(self, fd: int, callback: Callable[[], None]) -> None:
        self.fd = fd
        self.callback = callback

    def fileno(self) -> int:
        return self.fd

    def readable(self) -> None:
        self.callback()

    def wants_write(self) -> bool:
        return False

    def writable(self) -> None:
        pass


class _Readers(dict[int, Callable[[], None]]):
    """`extra_readers` of the harness's trunk: each one watched by the simulation's clock."""

    def __init__(self, fax: FaxDriver) -> None:
        super().__init__()
        self.outside = fax.sim.clock.outside
        self.links: dict[int, _Reader] = {}

    def __setitem__(self, fd: int, callback: Callable[[], None]) -> None:
        super().__setitem__(fd, callback)
        self.links[fd] = _Reader(fd, callback)
        self.outside.watch(self.links[fd])

    def pop(self, fd: int, default: Any = None) -> Any:  # type: ignore[override]
        link = self.links.pop(fd, None)
        if link is not None:
            self.outside.unwatch(link)
        return super().pop(fd, default)


class SimTrunk:
    def __init__(self, fax: FaxDriver) -> None:
        assert fax.sim.iax2 is not None
        self.fax = fax
        self.trunk = fax.sim.iax2
        self.extra_readers = _Readers(fax)
        self.log: list[str] = []

    @property
    def address(self) -> Address:
        return self.trunk.address

    @property
    def endpoint(self) -> Iax2Endpoint:
        return self.trunk.endpoint

    def now(self) -> int:
        return int(time.monotonic() * 1_000_000)  # the trunk's endpoint runs on the wall clock

    def run_until(self, done: Callable[[], bool], timeout: float, what: str = "") -> None:
        clock = self.fax.sim.clock
        limit = time.monotonic() + timeout
        while not done():
            if time.monotonic() > limit:
                events = [e for e in self.fax.events if e["src"] in ("iax2", "t30", "fax", "line")]
                tail = "\n".join(str(e) for e in events[-30:])
                raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tail}")
            if clock.outside.paced:
                # A call is up: virtual time follows the wall, in one run (each run of the
                # driver anchors virtual to wall time anew: many short ones would drift).
                advance(clock, HOUR, stop=lambda: done() or not clock.outside.paced
                        or time.monotonic() > limit)  # fmt: skip
            else:
                serve_outside(clock, 0.02)  # idle: wait on the sockets, not on the clock
                advance(clock, STEP)

    def run_for(self, seconds: float) -> None:
        limit = time.monotonic() + seconds
        self.run_until(lambda: time.monotonic() >= limit, seconds + 5, "time to pass")


def machine_on_trunk(place: Path, *, peer_port: int | None = None) -> tuple[FaxDriver, SimTrunk]:
    """The machine with the trunk on loopback; with `peer_port`, iaxmodem's number is mapped to
    that port in `[line.peers]` (the machine dials it through the trunk)."""
    settings = place / "settings.toml"
    lines = (
        ["[line.peers]", f'"{IAXMODEM_NUMBER}" = "iax2:127.0.0.1:{peer_port}"'] if peer_port else []
    )
    settings.write_text("\n".join(["[transmit]", 'header = "off"', *lines]) + "\n")
    fax = make_driver(place, settings_file=settings, iax2=("127.0.0.1", 0))
    return fax, SimTrunk(fax)


def start_iaxmodem(place: Path, trunk: SimTrunk, codec: str, port: int | None = None) -> IaxModem:
    """iaxmodem registered with the machine's trunk (on `port` when given: the one mapped in
    `[line.peers]`)."""
    modem = IaxModem(place, trunk, codec=codec, port=port)  # type: ignore[arg-type]
    try:
        modem.wait_registered()
    except AssertionError:
        modem.stop()
        raise AssertionError(modem.output()) from None
    assert trunk.endpoint.registered_address(PEER_NAME, trunk.now()) is not None
    return modem


__all__ = ["SimTrunk", "free_udp_port", "machine_on_trunk", "start_iaxmodem"]
