"""The T.38 endpoint: two of the project's modems talking through T.38 (signals -> IFP -> UDPTL
-> IFP -> signals) hear what they hear on the virtual phone line; packets are cut to size and
carry the redundancy of their kind; what is lost shows as it would on a line."""

from __future__ import annotations

from collections import Counter

import pytest

from estudio190f.hw.clock import MS, SECOND, Clock
from estudio190f.hw.line import PhoneNetwork
from estudio190f.hw.modem import (
    CARRIER_OFF,
    CARRIER_ON,
    DATA,
    FRAMES,
    TONE_OFF,
    TONE_ON,
    TRAINED,
    DataReceived,
    FrameReceived,
    Modem,
    Signal,
)
from estudio190f.hw.t38 import T38Config, T38Endpoint, T38Receiver, T38Transmitter, chunk_octets
from estudio190f.hw.t38_ifp import T38Data, T38Field, T38Indicator, decode_ifp
from estudio190f.hw.udptl import NetworkImpairment, decode_udptl

CSI = bytes.fromhex("ff0340") + b" 4321 555".ljust(20)
DIS = bytes.fromhex("ff1380 00 ee f8 80 80 91")
DCS = bytes.fromhex("ff1383 00 c6 84")
CFR = bytes.fromhex("ff1384")
MPS = bytes.fromhex("ff134f")
MCF = bytes.fromhex("ff138c")
PAGE = bytes(range(256)) * 40  # 10240 octets of non-ECM "image" data
FCD = [bytes.fromhex("ff0306") + bytes((n,)) + bytes([n]) * 256 for n in range(4)]


class T38Line:
    """Where the phone line would be: a modem's signals go through its station's T.38 endpoint,
    the datagrams through a network, the far endpoint turns them into the far modem's signals."""

    def __init__(self, clock: Clock, near: T38Endpoint, far: T38Endpoint, network=None) -> None:
        self.clock = clock
        self.near, self.far = near, far
        self.network = network or NetworkImpairment()
        self.peer: Modem | None = None
        self.datagrams: list[bytes] = []

    def transmit(self, signal: Signal) -> None:
        for d in self.network.apply(self.near.send(signal, self.clock.now)):
            self.datagrams.append(d.payload)
            self.clock.call_at(d.at, self._arrive, d.payload)

    def _arrive(self, payload: bytes) -> None:
        for signal in self.far.receive(payload, self.clock.now):
            self.peer.on_line_signal(signal)
        deadline = self.far.deadline()
        if deadline is not None:
            self.clock.call_at(deadline, self._poll)

    def _poll(self) -> None:
        for signal in self.far.poll(self.clock.now):
            self.peer.on_line_signal(signal)


def t38_pair(config: T38Config | None = None, network=None):
    clock = Clock()
    a, b = Modem(clock), Modem(clock)
    x, y = T38Endpoint(config), T38Endpoint(config)
    a.line, b.line = T38Line(clock, x, y, network), T38Line(clock, y, x, network)
    a.line.peer, b.line.peer = b, a
    return clock, a, b


def line_pair():
    clock = Clock()
    network = PhoneNetwork(clock)
    lines = [network.add_line(n) for n in ("100", "200")]
    a, b = Modem(clock), Modem(clock)
    lines[0].attach_modem(a)
    lines[1].attach_modem(b)
    lines[1].listeners.add(lambda e: lines[1].go_off_hook() if e.kind == "ring" else None)
    lines[0].dial("200")
    clock.advance(10 * SECOND)
    return clock, a, b


def a_call(clock: Clock, a: Modem, b: Modem, ecm: bool) -> tuple[list, list]:
    """A fax call's worth of modem traffic; what each modem heard, data joined per carrier."""
    heard: tuple[list, list] = ([], [])
    for modem, log in ((a, heard[0]), (b, heard[1])):
        modem.receive("V.21", "V.17/14400")
        modem.listeners.add(lambda e, log=log: _note(log, e))
    a.start_cng()
    start = clock.now
    b.send_silence(1800 * MS)
    b.send_tone("ced")
    b.send_silence(75 * MS)
    t = b.send_hdlc([CSI, DIS])

    def caller() -> None:
        a.send_hdlc([DCS])
        a.send_silence(75 * MS)
        a.send_data(bytes(2700), "V.17/14400")

    def answer(frames: list[bytes]) -> None:
        b.send_silence(75 * MS)
        b.send_hdlc(frames)

    def page() -> None:
        a.send_silence(75 * MS)
        if ecm:
            a.send_hdlc(FCD, "V.17/14400", short_train=True)
        else:
            a.send_data(PAGE, "V.17/14400", short_train=True)
        a.send_silence(75 * MS)
        a.send_hdlc([MPS])

    clock.call_at(t + 100 * MS, caller)
    clock.call_at(t + 5 * SECOND, answer, [CFR])
    clock.call_at(t + 7 * SECOND, page)
    clock.call_at(t + 20 * SECOND, answer, [MCF])
    clock.advance_to(start + 30 * SECOND)
    return heard


def _note(log: list, event: object) -> None:
    if isinstance(event, DataReceived) and log and isinstance(log[-1], DataReceived):
        log[-1] = DataReceived(log[-1].data + event.data, event.modulation)  # join the pieces
    else:
        log.append(event)


@pytest.mark.parametrize("ecm", [False, True], ids=["non-ecm", "ecm"])
def test_modems_hear_over_t38_what_they_hear_on_the_line(ecm):
    over_line = a_call(*line_pair(), ecm=ecm)
    over_t38 = a_call(*t38_pair(), ecm=ecm)
    assert over_t38 == over_line
    caller_heard, answerer_heard = over_t38
    assert FrameReceived(DIS, True, "V.21") in caller_heard
    if ecm:
        assert [e.frame for e in answerer_heard if isinstance(e, FrameReceived)][1:5] == FCD
    else:
        assert DataReceived(PAGE, "V.17/14400") in answerer_heard


def test_signals_become_the_packets_a_gateway_sends():
    tx = T38Transmitter()
    packets = [
        *tx.send(Signal(TONE_ON, tone="cng")),
        *tx.send(Signal(TONE_OFF, tone="cng")),
        *tx.send(Signal(CARRIER_ON, "V.21")),
        *tx.send(Signal(FRAMES, "V.21", frames=((CFR, True),))),
        *tx.send(Signal(CARRIER_OFF, "V.21")),
        *tx.send(Signal(CARRIER_ON, "V.17/9600", short_train=True)),
        *tx.send(Signal(TRAINED, "V.17/9600", short_train=True)),
        *tx.send(Signal(DATA, "V.17/9600", data=bytes(100))),
        *tx.send(Signal(CARRIER_OFF, "V.17/9600")),
    ]
    assert packets == [
        T38Indicator("cng"),
        T38Indicator("no-signal"),
        T38Indicator("v21-preamble"),
        T38Data("v21", (T38Field("hdlc-data", b"\xff"),)),  # one octet per 40 ms at 300 bit/s
        T38Data("v21", (T38Field("hdlc-data", b"\xc8"),)),
        T38Data("v21", (T38Field("hdlc-data", b"\x21"), T38Field("hdlc-fcs-OK"))),
        T38Data("v21", (T38Field("hdlc-sig-end"),)),
        T38Indicator("v17-9600-short-training"),
        T38Data("v17-9600", (T38Field("t4-non-ecm-data", bytes(48)),)),  # 40 ms at 9600
        T38Data("v17-9600", (T38Field("t4-non-ecm-data", bytes(48)),)),
        T38Data("v17-9600", (T38Field("t4-non-ecm-data", bytes(4)),)),
        T38Data("v17-9600", (T38Field("t4-non-ecm-sig-end"),)),
    ]
    assert chunk_octets("V.17/14400") == 72 and chunk_octets("V.27ter/2400") == 12


def test_image_packets_carry_less_redundancy_and_ends_go_three_times():
    endpoint = T38Endpoint(T38Config(redundancy=3, image_redundancy=1))
    datagrams = [
        d
        for s in (
            Signal(CARRIER_ON, "V.21"),
            Signal(FRAMES, "V.21", frames=((CFR, True),)),
            Signal(CARRIER_OFF, "V.21"),
            Signal(CARRIER_ON, "V.29/9600"),
            Signal(DATA, "V.29/9600", data=bytes(500)),
            Signal(CARRIER_OFF, "V.29/9600"),
        )
        for d in endpoint.send(s, 0)
    ]
    packets = [decode_udptl(d.payload) for d in datagrams]
    copies = Counter(p.seq for p in packets)
    unique = sorted({p.seq: p for p in packets}.values(), key=lambda p: p.seq)
    depth = [(type(decode_ifp(p.primary)).__name__, len(p.secondary)) for p in unique]
    assert depth[:6] == [("T38Indicator", 0), ("T38Data", 1), ("T38Data", 2), ("T38Data", 3),
                         ("T38Data", 3), ("T38Indicator", 3)]  # fmt: skip
    assert set(depth[6:-1]) == {("T38Data", 1)}  # the image data
    assert depth[-1] == ("T38Data", 3)  # its end
    # indicators and signal ends: three copies of the same datagram; the rest once
    assert [copies[p.seq] for p in unique[:6]] == [3, 1, 1, 1, 3, 3]
    assert copies[unique[-1].seq] == 3 and {copies[p.seq] for p in unique[6:-1]} == {1}
    assert T38Endpoint(T38Config(redundancy=0)).config.copies_of_ends == 1


def test_a_frame_that_lost_a_piece_arrives_with_a_bad_fcs():
    rx = T38Receiver()
    rx.receive(T38Indicator("v21-preamble"))
    rx.receive(T38Data("v21", (T38Field("hdlc-data", b"\xff\xc8"),)))
    rx.lost(1)
    signals = rx.receive(T38Data("v21", (T38Field("hdlc-data", b"\x21"), T38Field("hdlc-fcs-OK"))))
    assert signals == [Signal(FRAMES, "V.21", frames=((bytes.fromhex("ff1384"), False),))]
    signals = rx.receive(T38Data("v21", (T38Field("hdlc-data", b"\xff\xc8\x31"),
                                         T38Field("hdlc-fcs-OK-sig-end"))))  # fmt: skip
    assert signals == [
        Signal(FRAMES, "V.21", frames=((bytes.fromhex("ff138c"), True),)),
        Signal(CARRIER_OFF, "V.21"),
    ]


def test_data_without_its_indicator_starts_the_carrier_and_the_next_indicator_ends_it():
    rx = T38Receiver()
    assert rx.receive(T38Indicator("ced")) == [Signal(TONE_ON, tone="ced")]
    assert rx.receive(T38Indicator("ced")) == []  # a repeat
    signals = rx.receive(T38Data("v29-9600", (T38Field("t4-non-ecm-data", b"\x80"),)))
    assert signals == [
        Signal(TONE_OFF, tone="ced"),
        Signal(CARRIER_ON, "V.29/9600"),
        Signal(TRAINED, "V.29/9600"),
        Signal(DATA, "V.29/9600", data=b"\x01"),
    ]
    assert rx.receive(T38Indicator("v21-preamble")) == [
        Signal(CARRIER_OFF, "V.29/9600"),
        Signal(CARRIER_ON, "V.21"),
    ]
    assert rx.receive(T38Data("v29-9600", (T38Field("t4-non-ecm-sig-end"),))) == []  # stale


def test_with_loss_and_redundancy_3_the_modems_still_hear_everything():
    over_line = a_call(*line_pair(), ecm=False)
    config = T38Config(redundancy=3, image_redundancy=3)
    over_t38 = a_call(*t38_pair(config, NetworkImpairment(0.05, 20 * MS, seed=5)), ecm=False)
    assert over_t38 == over_line


def test_with_loss_and_no_redundancy_the_damage_shows():
    config = T38Config(redundancy=0, image_redundancy=0)
    caller_heard, answerer_heard = a_call(
        *t38_pair(config, NetworkImpairment(0.2, seed=5)), ecm=False
    )
    frames = [e for e in caller_heard + answerer_heard if isinstance(e, FrameReceived)]
    data = b"".join(e.data for e in answerer_heard if isinstance(e, DataReceived))
    assert any(not f.crc_ok for f in frames) or len(frames) < 5
    assert PAGE not in data
