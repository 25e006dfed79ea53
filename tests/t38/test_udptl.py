"""UDPTL: the datagram coding, redundancy, and a receiver that recovers, drops duplicates, waits
for late packets a little, and reports the holes nothing filled."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from estudio190f.hw.clock import MS
from estudio190f.hw.udptl import (
    Datagram,
    FecInfo,
    IfpArrived,
    IfpLost,
    NetworkImpairment,
    UdptlError,
    UdptlPacket,
    UdptlReceiver,
    UdptlSender,
    decode_udptl,
    encode_udptl,
)


def ifp(n: int) -> bytes:
    """A distinct stand-in IFP payload per sequence number (UDPTL does not look inside)."""
    return b"\xd0\x01\xe0\x00\x01" + n.to_bytes(2, "big")


def test_a_datagram_with_redundancy():
    packet = UdptlPacket(0x0102, b"\x06", (b"\x02", b"\x00\x00"))
    data = encode_udptl(packet)
    # seq, length + primary, choice 0 (secondary packets), count, each length + packet
    assert data == bytes.fromhex("0102 01 06 00 02 01 02 02 0000")
    assert decode_udptl(data) == packet


def test_long_packets_take_a_two_octet_length():
    packet = UdptlPacket(7, bytes(300))
    data = encode_udptl(packet)
    assert data[2:4] == (0x8000 | 300).to_bytes(2, "big")
    assert decode_udptl(data) == packet


def test_fec_datagrams_are_read():
    # as Asterisk sends them: choice 1, fec-npackets as a one-octet integer, the parity blocks
    data = bytes.fromhex("0005 01 02 80 01 03 02 02 aabb 01 cc")
    packet = decode_udptl(data)
    assert packet.primary == b"\x02"
    assert packet.fec == FecInfo(3, (b"\xaa\xbb", b"\xcc"))
    assert encode_udptl(packet) == data


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"\x00\x01\x05\x06", b"\x00\x01\x01\x06", b"\x00\x01\x01\x06\x00\x01",
     b"\x00\x01\x01\x06\x00\x00\xff", b"\x00\x01\x00\x00\x00", b"\x00\x01\x01\x06\x40\x00"],
)  # fmt: skip
def test_what_is_not_a_udptl_datagram(data):
    with pytest.raises(UdptlError):
        decode_udptl(data)


@given(st.binary(max_size=60))
def test_any_octets_decode_or_raise_a_udptl_error(data):
    try:
        packet = decode_udptl(data)
    except UdptlError:
        return
    assert decode_udptl(encode_udptl(packet)) == packet


def test_the_sender_repeats_as_many_earlier_packets_as_asked():
    sender = UdptlSender()
    packets = [decode_udptl(sender.send(ifp(n), redundancy=3 if n % 2 else 1)) for n in range(6)]
    assert [p.seq for p in packets] == list(range(6))
    assert packets[0].secondary == ()
    assert packets[1].secondary == (ifp(0),)
    assert packets[4].secondary == (ifp(3),)
    assert packets[5].secondary == (ifp(4), ifp(3), ifp(2))


def test_sequence_numbers_wrap():
    sender = UdptlSender(first_seq=65535)
    assert [decode_udptl(sender.send(ifp(n), 0)).seq for n in range(3)] == [65535, 0, 1]


def deliver(receiver: UdptlReceiver, datagrams: list[bytes], step: int = 20 * MS) -> list:
    events = []
    for n, d in enumerate(datagrams):
        events += receiver.receive(d, n * step)
    events += receiver.poll(len(datagrams) * step + receiver.reorder_window)
    return events


def arrived(events: list) -> list[bytes]:
    return [e.ifp for e in events if isinstance(e, IfpArrived)]


def test_in_order_delivery_and_duplicates_dropped():
    sender = UdptlSender()
    sent = [sender.send(ifp(n), 2) for n in range(5)]
    receiver = UdptlReceiver()
    events = deliver(receiver, [sent[0], sent[1], sent[1], sent[2], sent[0], sent[3], sent[4]])
    assert arrived(events) == [ifp(n) for n in range(5)]
    assert receiver.stats.duplicates == 2 and receiver.stats.lost == 0


def test_a_lost_packet_comes_back_from_the_next_ones():
    sender = UdptlSender()
    sent = [sender.send(ifp(n), 3) for n in range(8)]
    receiver = UdptlReceiver()
    events = deliver(receiver, [sent[n] for n in (0, 1, 5, 6, 7)])  # 2, 3, 4 lost: 5 has them
    assert arrived(events) == [ifp(n) for n in range(8)]
    assert [e.recovered for e in events if isinstance(e, IfpArrived)][2:5] == [True] * 3
    assert receiver.stats.recovered == 3 and receiver.stats.lost == 0


def test_reordered_packets_are_put_back_in_order():
    sender = UdptlSender()
    sent = [sender.send(ifp(n), 0) for n in range(6)]
    receiver = UdptlReceiver(reorder_window=60 * MS)
    events = deliver(receiver, [sent[n] for n in (0, 2, 1, 3, 5, 4)])
    assert arrived(events) == [ifp(n) for n in range(6)]
    assert not [e for e in events if isinstance(e, IfpLost)]


def test_a_hole_nothing_fills_is_reported_after_the_window_and_late_copies_dropped():
    sender = UdptlSender()
    sent = [sender.send(ifp(n), 0) for n in range(6)]
    receiver = UdptlReceiver(reorder_window=60 * MS)
    events = receiver.receive(sent[0], 0) + receiver.receive(sent[1], 0)
    events += receiver.receive(sent[4], 10 * MS)  # 2 and 3 missing: wait
    assert arrived(events) == [ifp(0), ifp(1)]
    assert receiver.deadline() == 70 * MS
    assert receiver.poll(69 * MS) == []
    events = receiver.poll(70 * MS)
    assert events == [IfpLost(2, 2), IfpArrived(4, ifp(4))]
    assert receiver.receive(sent[2], 80 * MS) == []  # too late: given up already
    assert arrived(receiver.receive(sent[5], 90 * MS)) == [ifp(5)]
    assert receiver.stats.lost == 2 and receiver.deadline() is None


def test_too_many_packets_held_behind_a_hole_give_it_up_at_once():
    sender = UdptlSender()
    sent = [sender.send(ifp(n), 0) for n in range(10)]
    receiver = UdptlReceiver(reorder_window=10_000 * MS, max_held=4)
    events = []
    for n in (0, 2, 3, 4, 5, 6):
        events += receiver.receive(sent[n], 0)
    assert IfpLost(1, 1) in events and arrived(events) == [ifp(n) for n in (0, 2, 3, 4, 5, 6)]


def test_reception_across_the_sequence_wrap_and_from_a_first_packet_with_redundancy():
    sender = UdptlSender(first_seq=65533)
    sent = [sender.send(ifp(n), 2) for n in range(6)]
    receiver = UdptlReceiver()
    events = deliver(receiver, sent[2:])  # the first two only inside the third's redundancy
    assert arrived(events) == [ifp(n) for n in range(6)]
    assert [e.seq for e in events] == [65533, 65534, 65535, 0, 1, 2]


def test_a_far_end_that_restarts_its_numbering_is_followed():
    first, second = UdptlSender(first_seq=100), UdptlSender(first_seq=30000)
    receiver = UdptlReceiver()
    events = deliver(
        receiver, [first.send(ifp(1), 0), second.send(ifp(2), 0), second.send(ifp(3), 0)]
    )
    assert arrived(events) == [ifp(1), ifp(2), ifp(3)]
    assert IfpLost(101, 30000 - 101) in events


@pytest.mark.parametrize("depth,whole", [(3, True), (0, False)])
def test_five_percent_loss_is_recovered_by_redundancy_3_not_by_none(depth, whole):
    sender = UdptlSender()
    network = NetworkImpairment(loss=0.05, seed=7)
    sent = [Datagram(n * 20 * MS, sender.send(ifp(n), depth)) for n in range(3000)]
    receiver = UdptlReceiver()
    events = []
    for d in network.apply(sent):
        events += receiver.receive(d.payload, d.at)
    events += receiver.poll(10**9)
    assert 120 < network.dropped < 180  # about 5 % of 3000
    got = arrived(events)
    if whole:
        assert got == [ifp(n) for n in range(3000)]
        assert receiver.stats.recovered >= network.dropped - 1
    else:
        lost = sum(e.count for e in events if isinstance(e, IfpLost))
        assert lost == network.dropped and len(got) == 3000 - lost
        assert got == sorted(got)  # still in order, the holes reported


def test_jitter_reorders_within_its_window_and_the_receiver_undoes_it():
    sender = UdptlSender()
    network = NetworkImpairment(jitter=30 * MS, seed=3)
    sent = [Datagram(n * 10 * MS, sender.send(ifp(n), 0)) for n in range(500)]
    through = network.apply(sent)
    order = [decode_udptl(d.payload).seq for d in through]
    assert order != sorted(order)  # some did swap
    assert all(0 <= d.at - n * 10 * MS <= 30 * MS for d, n in zip(through, order, strict=True))
    receiver = UdptlReceiver(reorder_window=40 * MS)
    events = []
    for d in through:
        events += receiver.receive(d.payload, d.at)
    assert arrived(events + receiver.poll(10**9)) == [ifp(n) for n in range(500)]


def test_the_impairment_is_seeded():
    sent = [Datagram(n, bytes((n,))) for n in range(200)]
    a = NetworkImpairment(0.1, 5 * MS, seed=1).apply(sent)
    b = NetworkImpairment(0.1, 5 * MS, seed=1).apply(sent)
    c = NetworkImpairment(0.1, 5 * MS, seed=2).apply(sent)
    assert a == b and a != c
    with pytest.raises(ValueError):
        NetworkImpairment(loss=1.5)


def test_the_first_datagrams_repeat_only_what_was_sent_before_them():
    sender = UdptlSender()
    packets = [decode_udptl(sender.send(bytes([n + 1]), 3)) for n in range(5)]
    assert [len(p.secondary) for p in packets] == [0, 1, 2, 3, 3]
    assert packets[4].secondary == (b"\x04", b"\x03", b"\x02")
