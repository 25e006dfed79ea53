"""UDPTL (T.38 clause 9): IFP packets in UDP datagrams, numbered, with redundancy, and the network
between two of them.

    UDPTLPacket ::= SEQUENCE { seq-number INTEGER (0..65535),
                               primary-ifp-packet  open type (an IFP packet),
                               error-recovery CHOICE {
                                   secondary-ifp-packets SEQUENCE OF open type,
                                   fec-info SEQUENCE { fec-npackets INTEGER,
                                                       fec-data SEQUENCE OF OCTET STRING } } }

Redundancy: each datagram repeats the IFP packets sent just before it (the most recent first, as
Asterisk and SpanDSP's test UDPTL do), so a receiver rebuilds a lost packet from the next ones.
Gateways send more copies of control packets than of bulk image data; `UdptlSender.send` takes the
depth per packet. FEC datagrams (parity over earlier packets) are read and their primary used; the
parity itself is not used to rebuild packets.

`UdptlReceiver` hands IFP packets over in sequence order, exactly once: duplicates and late copies
are dropped, a hole waits up to `reorder_window` µs for a late or redundant copy to fill it, and a
hole nothing filled is reported (`IfpLost`) before the stream moves on.

`NetworkImpairment` is the network for tests and the `t38.loss` / `t38.jitter` settings: seeded
loss and delay over datagrams. No I/O and no clock: time (virtual µs) is passed in.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from .clock import MS

SEQ_MODULO = 0x10000
MAX_SECONDARY = 15  # how many earlier packets a datagram may repeat (a project limit)
SEQ_JUMP = 2000  # further ahead than this: the far end restarted its numbering (as SpanDSP)


class UdptlError(ValueError):
    """Octets that are not a UDPTL packet."""


@dataclass(frozen=True, slots=True)
class FecInfo:
    npackets: int
    data: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class UdptlPacket:
    seq: int
    primary: bytes  # the IFP packet's octets
    secondary: tuple[bytes, ...] = ()  # packets seq-1, seq-2, ... (most recent first)
    fec: FecInfo | None = None


# -- the codec --------------------------------------------------------------------------------------


_SHORT_LENGTHS = [bytes((n,)) for n in range(0x80)]


def _length(n: int) -> bytes:
    if n < 0x80:
        return _SHORT_LENGTHS[n]
    if n < 0x4000:
        return (0x8000 | n).to_bytes(2, "big")
    raise UdptlError(f"{n} octets or items need PER fragmentation")


def encode_udptl(packet: UdptlPacket) -> bytes:
    if not 0 <= packet.seq < SEQ_MODULO:
        raise UdptlError(f"sequence number {packet.seq} out of 0..65535")
    if not packet.primary:
        raise UdptlError("an empty primary IFP packet")
    out = bytearray(packet.seq.to_bytes(2, "big"))
    out += _length(len(packet.primary)) + packet.primary
    if packet.fec is None:
        out.append(0x00)  # secondary-ifp-packets
        out += _length(len(packet.secondary))
        for ifp in packet.secondary:
            out += _length(len(ifp)) + ifp
    else:
        out.append(0x80)  # fec-info
        n = packet.fec.npackets
        value = n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big", signed=True)
        out += _length(len(value)) + value
        out += _length(len(packet.fec.data))
        for chunk in packet.fec.data:
            out += _length(len(chunk)) + chunk
    return bytes(out)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def octets(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise UdptlError("datagram ends inside a packet")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def length(self) -> int:
        first = self.octets(1)[0]
        if first & 0x80 == 0:
            return first
        if first & 0x40 == 0:
            return ((first & 0x3F) << 8) | self.octets(1)[0]
        raise UdptlError("fragmented length")


def decode_udptl(data: bytes) -> UdptlPacket:
    """The UDPTL packet in a datagram (all of it); UdptlError if it is not one."""
    r = _Reader(bytes(data))
    seq = int.from_bytes(r.octets(2), "big")
    primary = r.octets(r.length())
    if not primary:
        raise UdptlError("an empty primary IFP packet")
    choice = r.octets(1)[0]
    if choice & 0x7F:
        raise UdptlError("padding bits after the error-recovery choice are not zero")
    if choice == 0x00:
        count = r.length()
        if count > MAX_SECONDARY:
            raise UdptlError(f"{count} secondary packets (at most {MAX_SECONDARY} are read)")
        secondary = tuple(r.octets(r.length()) for _ in range(count))
        if any(not s for s in secondary):
            raise UdptlError("an empty secondary IFP packet")
        fec = None
    else:
        npackets = int.from_bytes(r.octets(r.length()), "big", signed=True)
        fec = FecInfo(npackets, tuple(r.octets(r.length()) for _ in range(r.length())))
        secondary = ()
    if r.pos != len(r.data):
        raise UdptlError(f"{len(r.data) - r.pos} octets left over after the packet")
    return UdptlPacket(seq, primary, secondary, fec)


# -- sending ----------------------------------------------------------------------------------------


class UdptlSender:
    """Numbers IFP packets and adds the redundancy each datagram asks for."""

    def __init__(self, first_seq: int = 0) -> None:
        self.seq = first_seq % SEQ_MODULO
        self._history: list[bytes] = []  # the last MAX_SECONDARY packets sent, most recent first

    def send(self, ifp: bytes, redundancy: int) -> bytes:
        """The datagram for `ifp`, repeating the `redundancy` packets sent before it."""
        depth = max(0, min(redundancy, MAX_SECONDARY))
        ifp = bytes(ifp)
        if not ifp:
            raise UdptlError("an empty primary IFP packet")
        # encode_udptl's octets, written straight (this is the path every datagram takes)
        secondary = self._history[:depth]
        out = [
            self.seq.to_bytes(2, "big"),
            _length(len(ifp)),
            ifp,
            b"\x00",
            _length(len(secondary)),
        ]
        for earlier in secondary:
            out += (_length(len(earlier)), earlier)
        self._history.insert(0, ifp)
        del self._history[MAX_SECONDARY:]
        self.seq = (self.seq + 1) % SEQ_MODULO
        return b"".join(out)


# -- receiving --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IfpArrived:
    seq: int
    ifp: bytes
    recovered: bool = False  # rebuilt from a later datagram's redundancy


@dataclass(frozen=True, slots=True)
class IfpLost:
    """Packets first_seq .. first_seq+count-1 never arrived, nor any copy of them."""

    first_seq: int
    count: int


UdptlEvent = IfpArrived | IfpLost


@dataclass
class UdptlStats:
    datagrams: int = 0
    delivered: int = 0
    recovered: int = 0  # delivered from redundancy
    duplicates: int = 0  # datagrams whose primary was already had
    lost: int = 0
    malformed: int = 0


class UdptlReceiver:
    """Datagrams in, IFP packets out in sequence order; holes filled from redundancy or reported."""

    def __init__(self, reorder_window: int = 60 * MS, max_held: int = 64) -> None:
        self.reorder_window = reorder_window
        self.max_held = max_held
        self.expected: int | None = None
        self.stats = UdptlStats()
        self._held: dict[int, tuple[bytes, bool]] = {}  # seq -> (ifp, recovered)
        self._hole_since: int | None = None

    def receive(self, datagram: bytes, now: int) -> list[UdptlEvent]:
        self.stats.datagrams += 1
        try:
            packet = decode_udptl(datagram)
        except UdptlError:
            self.stats.malformed += 1
            return self.poll(now)
        return self.accept(packet, now)

    def accept(self, packet: UdptlPacket, now: int) -> list[UdptlEvent]:
        """A decoded packet (what `receive` does after decoding)."""
        if self.expected is None:
            self.expected = (packet.seq - len(packet.secondary)) % SEQ_MODULO
        events: list[UdptlEvent] = []
        ahead = (packet.seq - self.expected) % SEQ_MODULO
        if SEQ_JUMP < ahead < SEQ_MODULO - SEQ_JUMP:
            # A jump no reordering explains: give up what is missing and follow the new numbers.
            events += self._skip_to(packet.seq, now)
        copies = [(packet.seq, packet.primary, False)]
        copies += [
            ((packet.seq - 1 - i) % SEQ_MODULO, ifp, True) for i, ifp in enumerate(packet.secondary)
        ]
        for seq, ifp, recovered in copies:
            offset = (seq - self.expected) % SEQ_MODULO
            if offset >= SEQ_MODULO - SEQ_JUMP or seq in self._held:
                if not recovered:
                    self.stats.duplicates += 1
                continue
            self._held[seq] = (ifp, recovered)
        events += self._deliver()
        return events + self.poll(now)

    def poll(self, now: int) -> list[UdptlEvent]:
        """Give up holes that waited their reorder window (call at `deadline()`)."""
        events: list[UdptlEvent] = []
        while self._held:
            if self._hole_since is None:
                self._hole_since = now
            waited = now - self._hole_since
            if waited < self.reorder_window and len(self._held) <= self.max_held:
                break
            events += self._skip_to(self._nearest_held(), now)
        return events

    def deadline(self) -> int | None:
        """When the oldest hole will be given up, if one is waiting."""
        if not self._held or self._hole_since is None:
            return None
        return self._hole_since + self.reorder_window

    def _skip_to(self, seq: int, now: int) -> list[UdptlEvent]:
        assert self.expected is not None
        events: list[UdptlEvent] = []
        # Deliver (with their holes reported) whatever is held before `seq`.
        while self._held:
            nearest = self._nearest_held()
            if (nearest - self.expected) % SEQ_MODULO >= (seq - self.expected) % SEQ_MODULO:
                break
            events += self._lose_until(nearest)
            events += self._deliver()
        events += self._lose_until(seq)
        events += self._deliver()
        self._hole_since = now if self._held else None
        return events

    def _nearest_held(self) -> int:
        """The held packet next in sequence (sequence numbers wrap at 65536)."""
        expected = self.expected
        assert expected is not None
        return min(self._held, key=lambda s: (s - expected) % SEQ_MODULO)

    def _lose_until(self, seq: int) -> list[UdptlEvent]:
        assert self.expected is not None
        count = (seq - self.expected) % SEQ_MODULO
        if count == 0:
            return []
        event = IfpLost(self.expected, count)
        self.stats.lost += count
        self.expected = seq
        return [event]

    def _deliver(self) -> list[UdptlEvent]:
        assert self.expected is not None
        events: list[UdptlEvent] = []
        while self.expected in self._held:
            ifp, recovered = self._held.pop(self.expected)
            events.append(IfpArrived(self.expected, ifp, recovered))
            self.stats.delivered += 1
            self.stats.recovered += recovered
            self.expected = (self.expected + 1) % SEQ_MODULO
            self._hole_since = None
        return events


# -- the network between two endpoints ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Datagram:
    at: int  # virtual µs: when it leaves (from an endpoint) or arrives (after a network)
    payload: bytes


@dataclass
class NetworkImpairment:
    """Seeded loss and jitter: each datagram is dropped with probability `loss`, or delayed by
    a uniform 0..`jitter` µs (datagrams closer together than that can swap places)."""

    loss: float = 0.0
    jitter: int = 0
    seed: int = 0
    dropped: int = 0
    passed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.loss <= 1.0:
            raise ValueError(f"loss {self.loss} is not a fraction between 0 and 1")
        if self.jitter < 0:
            raise ValueError("jitter must not be negative")
        self._rng = random.Random(self.seed)

    def apply(self, datagrams: Iterable[Datagram]) -> list[Datagram]:
        """The datagrams that get through, with their arrival times, in arrival order."""
        out: list[Datagram] = []
        for d in datagrams:
            if self.loss and self._rng.random() < self.loss:
                self.dropped += 1
                continue
            delay = self._rng.randint(0, self.jitter) if self.jitter else 0
            out.append(Datagram(d.at + delay, d.payload))
            self.passed += 1
        out.sort(key=lambda d: d.at)
        return out


__all__ = [
    "Datagram",
    "FecInfo",
    "IfpArrived",
    "IfpLost",
    "NetworkImpairment",
    "UdptlError",
    "UdptlEvent",
    "UdptlPacket",
    "UdptlReceiver",
    "UdptlSender",
    "UdptlStats",
    "decode_udptl",
    "encode_udptl",
]
