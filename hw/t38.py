"""A station's T.38 endpoint: the modem's line signals as T.38 IFP packets in UDPTL, and back.

The simulated modem already works in the units T.38 carries (hw/modem.py `Signal`): tones, the
start of a V.21 preamble or of a training, HDLC frames with their FCS verdict, non-ECM data,
carrier ends. `T38Transmitter` turns each signal into IFP packets, `T38Receiver` turns IFP packets
from the far end into signals for the modem, and `T38Endpoint` adds UDPTL (numbering, redundancy,
recovery, reordering) around both:

    signal -> IFP packets              IFP packets -> signals
    TONE_ON cng/ced -> cng/ced         cng/ced -> TONE_ON (TONE_OFF at the next indicator)
    TONE_OFF -> no-signal              no-signal -> TONE_OFF / CARRIER_OFF of what was on
    CARRIER_ON V.21 -> v21-preamble    v21-preamble -> CARRIER_ON V.21
    CARRIER_ON fast -> its training    a training -> CARRIER_ON, TRAINED
    FRAMES -> hdlc-data..., fcs-OK/BAD hdlc-data... hdlc-fcs-OK/BAD -> FRAMES (frame, verdict)
    DATA -> t4-non-ecm-data...         t4-non-ecm-data -> DATA
    CARRIER_OFF -> hdlc-sig-end or     any *-sig-end -> CARRIER_OFF
                   t4-non-ecm-sig-end

HDLC and T.4 octets are cut into packets of at most `chunk_ms` of air time (one V.21 octet, 72
V.17 14400 octets at 40 ms). A frame that lost a piece on the way (a UDPTL hole nothing filled)
is handed to the modem with a bad FCS, as a demodulator would; lost non-ECM data is just missing.
Data that arrives without its indicator (lost) starts its carrier by itself.

Sans I/O: `send(signal, now)` returns datagrams, `receive(payload, now)` returns signals; time is
virtual µs passed in; `deadline()`/`poll(now)` give up UDPTL holes that waited long enough.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .clock import MS, SECOND
from .hdlc import reverse_bits
from .modem import (
    CARRIER_OFF,
    CARRIER_ON,
    DATA,
    FRAMES,
    MODULATIONS,
    TONE_OFF,
    TONE_ON,
    TRAINED,
    Signal,
)
from .t38_ifp import (
    DATA_FOR_MODULATION,
    FIELDS,
    INDICATORS,
    TRAINING_FOR,
    IfpError,
    IfpPacket,
    T38Data,
    T38Field,
    T38Indicator,
    decode_ifp,
    encode_ifp,
)
from .udptl import Datagram, IfpArrived, IfpLost, UdptlReceiver, UdptlSender, UdptlStats

CHUNK_MS = 40  # air time of data in one packet


@dataclass(frozen=True, slots=True)
class T38Config:
    """How an endpoint speaks: the settings `t38.*` map here."""

    redundancy: int = 3  # earlier packets repeated in control packets (indicators, V.21, ends)
    image_redundancy: int = 1  # ... in bulk high-speed packets (non-ECM data, ECM frames)
    version: int = 0  # T.38 ASN.1 version: 0 (1998, SpanDSP 0.0.6's default) to 3
    chunk_ms: int = CHUNK_MS
    reorder_window: int = 60 * MS  # µs a UDPTL hole waits for a late or redundant copy
    # Copies of each datagram carrying an indicator or a signal end: nothing may follow those for
    # seconds, so no later packet's redundancy would bring them back. None: 3 (SpanDSP's count
    # for these packets) with redundancy, 1 without.
    end_copies: int | None = None

    def __post_init__(self) -> None:
        if self.redundancy < 0 or self.image_redundancy < 0:
            raise ValueError("redundancy must not be negative")
        if self.version not in (0, 1, 2, 3):
            raise ValueError(f"T.38 version {self.version} (0 to 3 exist)")
        if self.chunk_ms <= 0:
            raise ValueError("chunk_ms must be positive")
        if self.end_copies is not None and self.end_copies < 1:
            raise ValueError("end_copies must be at least 1")

    def redundancy_for(self, packet: IfpPacket) -> int:
        """The earlier packets a datagram carrying `packet` repeats: fewer for bulk image data."""
        image = isinstance(packet, T38Data) and packet.is_image
        return self.image_redundancy if image else self.redundancy

    @property
    def copies_of_ends(self) -> int:
        if self.end_copies is not None:
            return self.end_copies
        return 3 if self.redundancy > 0 else 1


def chunk_octets(modulation: str, chunk_ms: int = CHUNK_MS) -> int:
    """Octets of `chunk_ms` air time at the modulation's rate (at least one)."""
    return max(1, MODULATIONS[modulation].rate * chunk_ms * MS // (8 * SECOND))


def ends_something(packet: IfpPacket) -> bool:
    """An indicator, or data that ends its carrier: a state change the far end must not miss."""
    if isinstance(packet, T38Indicator):
        return True
    return any(FIELDS[f.type].sig_end for f in packet.fields)


class T38Transmitter:
    """Signals from our modem to IFP packets."""

    def __init__(self, chunk_ms: int = CHUNK_MS) -> None:
        self.chunk_ms = chunk_ms
        self._carrier: str | None = None  # modulation of our carrier on the line
        self._carrier_kind = ""  # hdlc | t4 | "" (nothing sent on it yet)
        self._tone: str | None = None

    def send(self, signal: Signal) -> list[IfpPacket]:
        kind = signal.kind
        if kind == TONE_ON:
            self._tone = signal.tone
            return [T38Indicator(signal.tone)] if signal.tone in INDICATORS else []
        if kind == TONE_OFF:
            if self._tone is None:
                return []
            self._tone = None
            return [T38Indicator("no-signal")]
        if kind == CARRIER_ON:
            return self._start(signal.modulation, signal.short_train)
        if kind == TRAINED:
            return []
        if kind == FRAMES:
            out = self._ensure(signal.modulation)
            self._carrier_kind = "hdlc"
            for frame, ok in signal.frames:
                out += self._frame(signal.modulation, frame, ok)
            return out
        if kind == DATA:
            out = self._ensure(signal.modulation)
            self._carrier_kind = "t4"
            dtype = DATA_FOR_MODULATION[signal.modulation].name
            for piece in self._pieces(signal.modulation, signal.data):
                out.append(T38Data(dtype, (T38Field("t4-non-ecm-data", piece),)))
            return out
        if kind == CARRIER_OFF:
            return self._end()
        raise ValueError(f"unknown signal kind {kind!r}")

    def _start(self, modulation: str, short_train: bool) -> list[IfpPacket]:
        out = self._end() if self._carrier is not None else []
        self._tone = None
        self._carrier = modulation
        self._carrier_kind = ""
        if modulation == "V.21":
            out.append(T38Indicator("v21-preamble"))
        else:
            out.append(T38Indicator(TRAINING_FOR[(modulation, short_train)].name))
        return out

    def _ensure(self, modulation: str) -> list[IfpPacket]:
        """Data on a carrier we did not announce (a caller skipped CARRIER_ON): announce it."""
        if self._carrier == modulation:
            return []
        return self._start(modulation, False)

    def _end(self) -> list[IfpPacket]:
        carrier, kind = self._carrier, self._carrier_kind
        self._carrier = None
        self._carrier_kind = ""
        if carrier is None:
            return []
        dtype = DATA_FOR_MODULATION[carrier].name
        if kind == "t4":
            return [T38Data(dtype, (T38Field("t4-non-ecm-sig-end"),))]
        if kind == "hdlc" or carrier == "V.21":
            return [T38Data(dtype, (T38Field("hdlc-sig-end"),))]
        return [T38Indicator("no-signal")]  # a training with nothing after it

    def _pieces(self, modulation: str, data: bytes) -> list[bytes]:
        size = chunk_octets(modulation, self.chunk_ms)
        wire = reverse_bits(data)
        return [wire[i : i + size] for i in range(0, len(wire), size)]

    def _frame(self, modulation: str, frame: bytes, ok: bool) -> list[IfpPacket]:
        dtype = DATA_FOR_MODULATION[modulation].name
        pieces = self._pieces(modulation, frame)
        verdict = T38Field("hdlc-fcs-OK" if ok else "hdlc-fcs-BAD")
        out: list[IfpPacket] = [T38Data(dtype, (T38Field("hdlc-data", p),)) for p in pieces[:-1]]
        last = (T38Field("hdlc-data", pieces[-1]),) if pieces else ()
        out.append(T38Data(dtype, (*last, verdict)))
        return out


class T38Receiver:
    """IFP packets from the far end to signals for our modem."""

    def __init__(self) -> None:
        self.carrier: str | None = None  # the far end's carrier as we have it
        self.tone: str | None = None
        self._frame = bytearray()
        self._damaged = False  # part of the frame being gathered was lost
        self.frames_good = 0
        self.frames_bad = 0

    def receive(self, packet: IfpPacket) -> list[Signal]:
        if isinstance(packet, T38Indicator):
            return self._indicator(packet)
        return self._data(packet)

    def lost(self, count: int) -> list[Signal]:
        """`count` packets will never come: the frame being gathered (or the next one, if the
        loss fell between frames) is damaged."""
        if count > 0:
            self._damaged = True
        return []

    def _indicator(self, packet: T38Indicator) -> list[Signal]:
        kind = packet.type
        if kind.tone and self.tone == kind.tone and self.carrier is None:
            return []  # a repeat of the indicator in force
        if kind.modulation and self.carrier == kind.modulation and self.tone is None:
            return []
        out = self._stop()
        if kind.tone:
            self.tone = kind.tone
            out.append(Signal(TONE_ON, tone=kind.tone))
        elif kind.modulation:
            out += self._carrier_on(kind.modulation, kind.short_train)
        return out  # no-signal, and V.8/V.34/V.33 indicators the modem lacks: silence

    def _stop(self) -> list[Signal]:
        out: list[Signal] = []
        if self.tone is not None:
            out.append(Signal(TONE_OFF, tone=self.tone))
            self.tone = None
        if self.carrier is not None:
            out.append(Signal(CARRIER_OFF, self.carrier))
            self.carrier = None
        self._frame.clear()
        self._damaged = False
        return out

    def _carrier_on(self, modulation: str, short_train: bool) -> list[Signal]:
        self.carrier = modulation
        self._frame.clear()
        self._damaged = False
        out = [Signal(CARRIER_ON, modulation, short_train=short_train)]
        if modulation != "V.21":
            out.append(Signal(TRAINED, modulation, short_train=short_train))
        return out

    def _data(self, packet: T38Data) -> list[Signal]:
        modulation = packet.modulation
        if not modulation:
            return []  # V.8 / V.34 / V.33 data: not a modem we have
        out: list[Signal] = []
        if self.carrier != modulation:
            if not packet.fields or all(FIELDS[f.type].sig_end for f in packet.fields):
                return []  # the end of a carrier we do not have on: a late repeat
            out += self._stop()
            out += self._carrier_on(modulation, False)
        frames: list[tuple[bytes, bool]] = []
        for f in packet.fields:
            kind = FIELDS[f.type]
            if kind.name == "hdlc-data":
                self._frame += f.data
            elif kind.frame_end:
                self._frame += f.data  # T.38 allows the last octets with the verdict
                if self._frame:
                    good = kind.fcs_ok and not self._damaged
                    frames.append((reverse_bits(bytes(self._frame)), good))
                    if good:
                        self.frames_good += 1
                    else:
                        self.frames_bad += 1
                self._frame.clear()
                self._damaged = False
            elif kind.name in ("t4-non-ecm-data", "t4-non-ecm-sig-end") and f.data:
                if frames:
                    out.append(Signal(FRAMES, modulation, frames=tuple(frames)))
                    frames = []
                out.append(Signal(DATA, modulation, data=reverse_bits(f.data)))
            if kind.sig_end:
                if frames:
                    out.append(Signal(FRAMES, modulation, frames=tuple(frames)))
                    frames = []
                out.append(Signal(CARRIER_OFF, modulation))
                self.carrier = None
                self._frame.clear()
                self._damaged = False
                break
        if frames:
            out.append(Signal(FRAMES, modulation, frames=tuple(frames)))
        return out


@dataclass
class T38Stats:
    sent: int = 0  # datagrams
    ifp_received: int = 0
    ifp_malformed: int = 0
    udptl: UdptlStats = field(default_factory=UdptlStats)


class T38Endpoint:
    """One station's end of a T.38 session: signals <-> UDPTL datagrams, sans I/O."""

    def __init__(self, config: T38Config | None = None, first_seq: int = 0) -> None:
        self.config = config or T38Config()
        self.transmitter = T38Transmitter(self.config.chunk_ms)
        self.receiver = T38Receiver()
        self.udptl_out = UdptlSender(first_seq)
        self.udptl_in = UdptlReceiver(self.config.reorder_window)
        self.stats = T38Stats(udptl=self.udptl_in.stats)

    # -- outgoing ------------------------------------------------------------------------------------
    def send(self, signal: Signal, now: int) -> list[Datagram]:
        """The datagrams for a signal of our modem completing at `now`, to go out at once."""
        return [d for p in self.transmitter.send(signal) for d in self.send_ifp(p, now)]

    def send_ifp(self, packet: IfpPacket, now: int) -> list[Datagram]:
        """One IFP packet in a datagram (repeated when it is an indicator or a signal end)."""
        ends = ends_something(packet)
        depth = self.config.redundancy_for(packet)
        payload = self.udptl_out.send(encode_ifp(packet, self.config.version), depth)
        copies = self.config.copies_of_ends if ends else 1
        self.stats.sent += copies
        return [Datagram(now, payload)] * copies

    # -- incoming ------------------------------------------------------------------------------------
    def receive(self, payload: bytes, now: int) -> list[Signal]:
        """The signals a datagram from the far end brings, for our modem, at `now`."""
        return self._signals(self.udptl_in.receive(payload, now))

    def poll(self, now: int) -> list[Signal]:
        """Signals released because a hole in the sequence waited its window: call at deadline()."""
        return self._signals(self.udptl_in.poll(now))

    def deadline(self) -> int | None:
        return self.udptl_in.deadline()

    def _signals(self, events: list[IfpArrived | IfpLost]) -> list[Signal]:
        out: list[Signal] = []
        for event in events:
            if isinstance(event, IfpLost):
                out += self.receiver.lost(event.count)
                continue
            try:
                packet = decode_ifp(event.ifp, self.config.version)
            except IfpError:
                self.stats.ifp_malformed += 1
                out += self.receiver.lost(1)
                continue
            self.stats.ifp_received += 1
            out += self.receiver.receive(packet)
        return out


__all__ = [
    "CHUNK_MS",
    "T38Config",
    "T38Endpoint",
    "T38Receiver",
    "T38Stats",
    "T38Transmitter",
    "chunk_octets",
    "ends_something",
]
