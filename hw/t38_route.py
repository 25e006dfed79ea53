"""Calls with T.38 peers: the exchange's way out (`OutsideRoute`) over UDPTL.

A call between a station of the virtual line and a T.38 peer is a `T38Session`: the station's
modem signals go through a `T38Endpoint` into UDPTL datagrams, the peer's datagrams come back
as signals for the station, and the network in between loses and delays datagrams as the
settings `t38.loss` and `t38.jitter` say (seeded: `NetworkImpairment`, each direction its own).
The session does its work on the clock: a tick every 20 ms while it lasts gives up UDPTL holes
that waited their window, drives whatever sits behind it (SpanDSP's terminal for a
`spandsp-t38` device, panel/t38_device.py), and keeps the clock's next deadline near, so a
datagram the driver hands over is stamped at most a tick late.

`UdpT38Route` carries sessions over a UDP socket (`hw.udp_port.UdpPort`, served by the clock's
driver). T.38 has no call signalling of its own, so this route gives calls their meaning:
- Dialling a number of the dial plan (`[line.peers]`: `"5559876" = "t38:HOST:PORT"`) opens a
  session to that address: a `no-signal` indicator goes out at once and again every ring cycle
  (6 s), and the caller hears ring-back, until the peer's first datagram arrives: that is the
  answer. A peer that never sends rings out unanswered (the caller's T0 ends it: NO ANSWER).
- A datagram from an address with no session (on the listening port of `run --t38`) is a call
  from that peer to the machine under test (`answer_number`): it rings and answers as its
  receive mode says. Until then the peer's packets are read (UDPTL numbering) but not heard.
- The call ends when our station hangs up (after DCN, or when T.30 gives up), or when nothing
  has gone either way for `SILENCE_LIMIT` (60 s: longer than any T.30 wait, so the peer is gone).
  The peer's datagrams that still come in the `QUIET_AFTER_END` (3 wall seconds) after the end
  are the old call's stragglers and are dropped; the next one after that is a new call (a call
  to us knocks again every ring cycle, so it gets through).
While a session lasts the route asks the clock's driver to pace (`clock.outside.pace`): virtual
time follows the wall (or the speed factor of `run`), as the peer's does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .clock import MS, SECOND, Clock, Timer
from .eventlog import EventLog
from .line import RING_OFF, RING_ON, Call, LineInterface, PhoneNetwork
from .modem import Signal
from .outside import WallTimer
from .t38 import T38Config, T38Endpoint
from .t38_ifp import T38Indicator
from .udp_port import Address, UdpPort
from .udptl import Datagram, NetworkImpairment

TICK = 20 * MS  # a session's clock work, and the most a handed-over datagram is stamped late
RING_CYCLE = RING_ON + RING_OFF  # a call to a peer knocks again and rings back this often
SILENCE_LIMIT = 60 * SECOND  # nothing either way this long: the peer is gone
QUIET_AFTER_END = 3.0  # wall seconds a peer's late packets are still taken as the old call's
REORDER_MARGIN = 20 * MS  # the reorder window is at least the jitter plus this


@dataclass(frozen=True, slots=True)
class T38Settings:
    """How a session speaks and what the network does to it (the settings `t38.*`)."""

    config: T38Config = field(default_factory=T38Config)
    loss: float = 0.0  # fraction of datagrams dropped, each direction
    jitter: int = 0  # µs: each datagram delayed by a uniform 0..jitter (so reordered within it)
    seed: int = 0

    @classmethod
    def from_values(
        cls, redundancy: int, image_redundancy: int, loss: float, jitter_ms: int, seed: int = 0
    ) -> T38Settings:
        """From the settings' values: redundancy 0 turns redundancy off for image data too; the
        reorder window grows to cover the jitter."""
        jitter = jitter_ms * MS
        config = T38Config(
            redundancy=redundancy,
            image_redundancy=min(image_redundancy, redundancy),
            reorder_window=max(T38Config().reorder_window, jitter + REORDER_MARGIN),
        )
        return cls(config, loss, jitter, seed)


class T38Session:
    """One call between a station of the exchange and a T.38 peer, on the clock.

    `send` puts a datagram on the way to the peer (a socket, SpanDSP's terminal); `datagram()`
    takes one from it. Signals reach the station only while the call is connected (the
    exchange's rule), but every datagram goes through the endpoint, so UDPTL numbering is kept
    from the first. `on_tick` (set by the owner) runs every tick; `on_end` once, at the end.
    """

    def __init__(
        self,
        clock: Clock,
        network: PhoneNetwork,
        call: Call,
        peer: str,
        settings: T38Settings,
        send: Callable[[bytes], None],
        *,
        outgoing: bool,
        log: EventLog | None = None,
    ) -> None:
        self.clock = clock
        self.network = network
        self.call = call
        self.peer = peer
        self.settings = settings
        self.outgoing = outgoing
        self.log = log
        self.endpoint = T38Endpoint(settings.config)
        self.outbound = NetworkImpairment(settings.loss, settings.jitter, settings.seed * 2)
        self.inbound = NetworkImpairment(settings.loss, settings.jitter, settings.seed * 2 + 1)
        self._send = send
        self.state = "calling" if outgoing else "ringing"  # ... | connected | ended
        self.started = clock.now
        self.last_in = clock.now
        self.last_out = clock.now
        self.received = 0  # datagrams from the peer (before the impairment)
        self.on_tick: Callable[[], None] | None = None
        self.on_end: Callable[[T38Session, str], None] | None = None
        self._timers: list[Timer] = []
        self._tick_timer = clock.call_later(TICK, self._tick, label="t38 tick")
        self._emit("session", peer=peer, caller="station" if outgoing else "peer",
                   redundancy=settings.config.redundancy,
                   image_redundancy=settings.config.image_redundancy,
                   loss=settings.loss, jitter_ms=settings.jitter // MS)  # fmt: skip

    @property
    def ended(self) -> bool:
        return self.state == "ended"

    # -- our station to the peer ------------------------------------------------------------------
    def transmit(self, signal: Signal) -> None:
        """A signal of our station's modem, completing now."""
        if not self.ended:
            self.send_datagrams(self.endpoint.send(signal, self.clock.now))

    def knock(self) -> None:
        """A `no-signal` indicator: the first packet of a call to a peer (T.38 has no setup)."""
        if not self.ended:
            self.send_datagrams(self.endpoint.send_ifp(T38Indicator("no-signal"), self.clock.now))

    def send_datagrams(self, datagrams: list[Datagram]) -> None:
        now = self.clock.now
        self.last_out = now
        for d in self.outbound.apply(datagrams):
            if d.at <= now:
                self._send(d.payload)
            else:
                self._later(d.at, self._send_late, d.payload)

    def _send_late(self, payload: bytes) -> None:
        if not self.ended:
            self._send(payload)

    # -- the peer to our station --------------------------------------------------------------------
    def datagram(self, payload: bytes) -> None:
        """A datagram from the peer, now (then through the network's loss and delay)."""
        if self.ended:
            return
        now = self.clock.now
        self.received += 1
        self.last_in = now
        for d in self.inbound.apply([Datagram(now, payload)]):
            if d.at <= now:
                self._arrive(d.payload)
            else:
                self._later(d.at, self._arrive, d.payload)

    def _arrive(self, payload: bytes) -> None:
        if not self.ended:
            self._deliver(self.endpoint.receive(payload, self.clock.now))

    def _deliver(self, signals: list[Signal]) -> None:
        for signal in signals:
            if self.ended:
                return
            self.network.outside_signal(self.call, signal)

    # -- the call --------------------------------------------------------------------------------------
    def connect(self) -> None:
        """The call is answered (by the peer, or by our station)."""
        if self.state in ("calling", "ringing"):
            self.state = "connected"
            self._emit("answered", peer=self.peer)

    def end(self, reason: str) -> None:
        """The session is over (no more datagrams either way); `on_end` hears why."""
        if self.ended:
            return
        self.state = "ended"
        self._tick_timer.cancel()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        stats = self.endpoint.stats
        self._emit("ended", peer=self.peer, reason=reason, sent=stats.sent,
                   received=self.received, recovered=stats.udptl.recovered,
                   lost=stats.udptl.lost, dropped_out=self.outbound.dropped,
                   dropped_in=self.inbound.dropped,
                   frames_bad=self.endpoint.receiver.frames_bad)  # fmt: skip
        if self.on_end is not None:
            self.on_end(self, reason)

    # -- clock work -----------------------------------------------------------------------------------
    def _tick(self) -> None:
        if self.ended:
            return
        now = self.clock.now
        if self.on_tick is not None:
            self.on_tick()
            if self.ended:
                return
        deadline = self.endpoint.deadline()
        if deadline is not None and deadline <= now:
            self._deliver(self.endpoint.poll(now))
        if now - max(self.last_in, self.last_out) >= SILENCE_LIMIT:
            self.end("silence")
            return
        self._tick_timer = self.clock.call_later(TICK, self._tick, label="t38 tick")

    def _later(self, when: int, fn: Callable[..., Any], *args: Any) -> None:
        if len(self._timers) > 256:
            self._timers = [t for t in self._timers if not t.cancelled]
        self._timers.append(self.clock.call_at(when, fn, *args, label="t38 network"))

    def _emit(self, kind: str, **fields: Any) -> None:
        if self.log is not None:
            self.log.emit("t38", kind, **fields)


def describe(address: Address) -> str:
    host, port = address
    return f"t38:[{host}]:{port}" if ":" in host else f"t38:{host}:{port}"


class UdpT38Route:
    """T.38 over UDPTL: calls to the dial plan's peers, and calls from any peer (module text).

    `settings_for(line)` gives the T.38 settings of the station in a call (its machine's `t38.*`
    settings); `answer_number()` the number a call from a new peer rings. The socket is the
    listening one (`listen`, `run --t38`) or, without it, one bound to a free loopback port while
    calls run (closed when the last ends).
    """

    def __init__(
        self,
        clock: Clock,
        network: PhoneNetwork,
        *,
        settings_for: Callable[[LineInterface], T38Settings],
        answer_number: Callable[[], str],
        log: EventLog | None = None,
        seed: int = 0,
    ) -> None:
        self.clock = clock
        self.network = network
        self.settings_for = settings_for
        self.answer_number = answer_number
        self.log = log  # for what happens outside any call (a call refused)
        self.seed = seed
        self.peers: dict[str, Address] = {}  # number -> address
        self.port: UdpPort | None = None
        self.listening = False
        self.sessions: dict[Address, T38Session] = {}
        self._by_call: dict[Call, T38Session] = {}
        self._quiet: dict[Address, WallTimer] = {}  # peers whose late packets are dropped
        self._count = 0
        self._closing = False

    # -- set-up ----------------------------------------------------------------------------------------
    def listen(self, host: str = "127.0.0.1", port: int = 0) -> Address:
        """Listen for calls on HOST:PORT (port 0: one the system chooses); the bound address."""
        if self.port is not None:
            raise RuntimeError("the T.38 route has its socket already")
        self.port = UdpPort(self._datagram, host, port)
        self.port.watch(self.clock.outside)
        self.listening = True
        return self.port.address

    def add_peer(self, number: str, address: Address) -> None:
        """Dialling `number` opens a session to `address` (an IPv4 address and a port)."""
        self.network.route(number, self)
        self.peers[number] = address

    def close(self) -> None:
        self._closing = True
        for session in list(self.sessions.values()):
            session.end("closed")
        for timer in self._quiet.values():
            timer.cancel()
        self._quiet.clear()
        if self.port is not None:
            self.port.close()
            self.port = None
        self.listening = False

    def describe(self, call: Call) -> str:
        """The peer of a call, as a capture names its station."""
        session = self._by_call.get(call)
        return session.peer if session is not None else "t38"

    # -- the exchange's side (OutsideRoute) -----------------------------------------------------------
    def place_call(self, call: Call, number: str) -> None:
        address = self.peers[number]
        if address in self.sessions or call.caller is None:
            self.network.outside_busy(call)
            return
        try:
            self._open_port()
        except OSError as exc:
            self._log(call.caller, "no_socket", reason=exc.strerror or str(exc))
            self.network.outside_busy(call)
            return
        session = self._open(call, address, call.caller, outgoing=True)
        self._knock(session)

    def answered(self, call: Call) -> None:
        session = self._by_call.get(call)
        if session is not None:
            session.connect()

    def hung_up(self, call: Call) -> None:
        session = self._by_call.get(call)
        if session is not None:
            session.end("hung up")

    def transmit(self, call: Call, signal: Signal) -> None:
        session = self._by_call.get(call)
        if session is not None:
            session.transmit(signal)

    # -- sessions ----------------------------------------------------------------------------------------
    def _open(
        self, call: Call, address: Address, line: LineInterface, *, outgoing: bool
    ) -> T38Session:
        self._count += 1
        settings = self.settings_for(line)
        settings = T38Settings(settings.config, settings.loss, settings.jitter,
                               self.seed * 1000 + self._count)  # fmt: skip
        port = self.port
        assert port is not None

        def send(payload: bytes) -> None:
            port.send(payload, address)

        session = T38Session(self.clock, self.network, call, describe(address), settings, send,
                             outgoing=outgoing, log=line.log)  # fmt: skip
        session.on_end = self._ended
        self.sessions[address] = session
        self._by_call[call] = session
        self.clock.outside.pace(session, True)
        return session

    def _knock(self, session: T38Session) -> None:
        if session.state != "calling":
            return
        session.knock()
        self.network.outside_ringing(session.call)
        self.clock.call_later(RING_CYCLE, self._knock, session, label="t38 knock")

    def _ended(self, session: T38Session, reason: str) -> None:
        self.clock.outside.pace(session, False)
        self._by_call.pop(session.call, None)
        address = next((a for a, s in self.sessions.items() if s is session), None)
        if address is not None:
            del self.sessions[address]
            if not self._closing:
                self._keep_quiet(address)
        if reason != "hung up" and session.call.state != "ended":
            self.network.outside_ended(session.call)
        if not self.sessions and not self.listening and self.port is not None:
            self.port.close()
            self.port = None

    def _open_port(self) -> None:
        if self.port is None:
            self.port = UdpPort(self._datagram)
        self.port.watch(self.clock.outside)

    # -- datagrams from the socket ----------------------------------------------------------------------
    def _datagram(self, payload: bytes, address: Address) -> None:
        """From the driver, outside any clock event: handled as one, at once."""
        self.clock.call_soon(self._arrived, payload, address, label="t38 in")

    def _arrived(self, payload: bytes, address: Address) -> None:
        session = self.sessions.get(address)
        if session is None:
            if address in self._quiet:
                return  # the old call's stragglers
            if not self.listening:
                return  # nobody called this port: it is ours for dialling out
            session = self._incoming(address)
            if session is None:
                return
        if session.state == "calling":
            session.connect()
            self.network.outside_answered(session.call)
        session.datagram(payload)

    def _incoming(self, address: Address) -> T38Session | None:
        number = self.answer_number()
        call = self.network.call_from_outside(number, self)
        if call is None or call.callee is None:
            self._keep_quiet(address)
            if self.log is not None:
                self.log.emit("t38", "call_refused", peer=describe(address), number=number)
            return None
        return self._open(call, address, call.callee, outgoing=False)

    def _keep_quiet(self, address: Address) -> None:
        timer = self._quiet.pop(address, None)
        if timer is not None:
            timer.cancel()
        self._quiet[address] = self.clock.outside.after_wall(
            QUIET_AFTER_END, lambda: self._forget(address)
        )

    def _forget(self, address: Address) -> None:
        self._quiet.pop(address, None)

    def _log(self, line: LineInterface, kind: str, **fields: Any) -> None:
        if line.log is not None:
            line.log.emit("t38", kind, **fields)


__all__ = [
    "QUIET_AFTER_END",
    "RING_CYCLE",
    "SILENCE_LIMIT",
    "TICK",
    "T38Session",
    "T38Settings",
    "UdpT38Route",
    "describe",
]
