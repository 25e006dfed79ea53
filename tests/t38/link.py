"""Two SpanDSP T.38 terminals faxing each other through this project's T.38 layer, in virtual time.

    SpanDSP A  <-UDPTL->  T38Endpoint X  <-line signals->  T38Endpoint Y  <-UDPTL->  SpanDSP B

Each SpanDSP terminal sits behind a UDPTL edge made of our `UdptlSender`/`UdptlReceiver`
(`SpanDspT38Peer`, what a socket wrapper around it uses); X and Y are two stations' T.38
endpoints whose modem signals are wired to each other, as the virtual line would carry them.
Every packet between A and B is thus UDPTL-coded, IFP-decoded into modem signals and IFP-encoded
again by our code. Both UDPTL hops go through a seeded `NetworkImpairment`. Time advances in
20 ms steps (160 samples) of virtual time; a datagram is delivered at the first step at or after
its arrival time.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from estudio190f.hw.clock import MS, SECOND
from estudio190f.hw.modem import Signal
from estudio190f.hw.pcap import CallRecorder
from estudio190f.hw.spandsp import T38Terminal
from estudio190f.hw.t38 import T38Config, T38Endpoint
from estudio190f.hw.t38_peer import SpanDspT38Peer
from estudio190f.hw.udptl import Datagram, NetworkImpairment

STEP = 20 * MS


class Wire:
    """One direction of a UDPTL hop: datagrams in flight through an impairment, by arrival time."""

    def __init__(
        self, impairment: NetworkImpairment, tap: Callable[[Datagram], None] | None
    ) -> None:
        self.impairment = impairment
        self.tap = tap  # sees each datagram as it arrives (a capture at the receiving host)
        self._flight: list[tuple[int, int, bytes]] = []
        self._n = 0

    def put(self, datagrams: list[Datagram]) -> None:
        for d in self.impairment.apply(datagrams):
            self._n += 1
            heapq.heappush(self._flight, (d.at, self._n, d.payload))

    def due(self, now: int) -> list[Datagram]:
        out = []
        while self._flight and self._flight[0][0] <= now:
            at, _, payload = heapq.heappop(self._flight)
            out.append(Datagram(at, payload))
            if self.tap is not None:
                self.tap(Datagram(at, payload))
        return out


@dataclass
class CallResult:
    a: T38Terminal
    b: T38Terminal
    seconds: float  # virtual
    finished: bool
    x: T38Endpoint
    y: T38Endpoint
    signals_x_to_y: list[Signal] = field(default_factory=list)
    signals_y_to_x: list[Signal] = field(default_factory=list)


class T38Call:
    """A (calling, sending `tx`) faxes B (answering, receiving to `rx`)."""

    def __init__(
        self,
        tx: Path,
        rx: Path,
        *,
        ecm: bool = False,
        config: T38Config | None = None,
        loss: float = 0.0,
        jitter: int = 0,
        seed: int = 1,
        tap_a: Callable[[str, Datagram], None] | None = None,
    ) -> None:
        self.config = config or T38Config()
        self.tap_a = tap_a

        def wire(n: int, tap: Callable[[Datagram], None] | None = None) -> Wire:
            return Wire(NetworkImpairment(loss, jitter, seed * 10 + n), tap)

        # wires: a->x, x->a, b->y, y->b; a capture at A's host sees what A sends and what arrives
        self.a_to_x = wire(1)
        self.x_to_a = wire(2, (lambda d: tap_a("x", d)) if tap_a else None)
        self.b_to_y = wire(3)
        self.y_to_b = wire(4)
        self.a = SpanDspT38Peer(self.config, calling=True, tx_file=tx, ecm=ecm, ident="SPANDSP A")
        self.b = SpanDspT38Peer(self.config, calling=False, rx_file=rx, ecm=ecm, ident="SPANDSP B")
        self.x = T38Endpoint(self.config)
        self.y = T38Endpoint(self.config)
        self.result = CallResult(self.a.terminal, self.b.terminal, 0.0, False, self.x, self.y)

    def _line(
        self, signals: list[Signal], to: T38Endpoint, wire: Wire, now: int, log: list
    ) -> None:
        for signal in signals:
            log.append(signal)
            wire.put(to.send(signal, now))

    def run(self, limit: int = 300 * SECOND) -> CallResult:
        now = 0
        r = self.result
        while now < limit and not (self.a.done and self.b.done):
            now += STEP
            # the network delivers, the endpoints turn datagrams into line signals and back
            x_in = self.a_to_x.due(now)
            signals = [s for d in x_in for s in self.x.receive(d.payload, now)] + self.x.poll(now)
            self._line(signals, self.y, self.y_to_b, now, r.signals_x_to_y)
            y_in = self.b_to_y.due(now)
            signals = [s for d in y_in for s in self.y.receive(d.payload, now)] + self.y.poll(now)
            self._line(signals, self.x, self.x_to_a, now, r.signals_y_to_x)
            for peer, wire in ((self.a, self.x_to_a), (self.b, self.y_to_b)):
                for d in wire.due(now):
                    peer.receive(d.payload, now)
                peer.poll(now)
            # the terminals' time moves on; what they send goes out stamped now
            for peer, wire in ((self.a, self.a_to_x), (self.b, self.b_to_y)):
                sent = peer.advance(now)
                if self.tap_a is not None and peer is self.a:
                    for d in sent:
                        self.tap_a("a", d)
                wire.put(sent)
        r.seconds = now / SECOND
        r.finished = self.a.done and self.b.done
        assert self.a.refused == 0 and self.b.refused == 0, "SpanDSP refused packets of ours"
        return r


def captured_call(tx: Path, rx: Path, **options) -> tuple[CallResult, bytes]:
    """A call as `T38Call` runs it, captured at SpanDSP A's host: what A sends and what reaches
    it from our endpoint X. A ("spandsp") is 10.0.0.1, X ("machine") 10.0.0.2, both on port 6000."""
    recorder = CallRecorder()
    recorder.address("spandsp")
    recorder.address("machine")
    capture = bytearray(recorder.header())

    def tap(who: str, d: Datagram) -> None:
        src, dst = ("spandsp", "machine") if who == "a" else ("machine", "spandsp")
        capture.extend(recorder.datagram(d.at, src, dst, d.payload))

    result = T38Call(tx, rx, tap_a=tap, **options).run()
    return result, bytes(capture)
