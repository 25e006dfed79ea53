"""Captures: the libpcap files we write (Ethernet, IPv4, UDP with right checksums) read back by us
and by Wireshark's tools, and captures of other shapes (pcapng, raw IP, Linux cooked, VLAN)."""

from __future__ import annotations

import struct
import subprocess

import pytest
from conftest import need_program  # tests/conftest.py

from estudio190f.hw.pcap import (
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    CallRecorder,
    CapturedPacket,
    CaptureError,
    internet_checksum,
    ipv4_udp,
    pcap_header,
    pcap_record,
    read_capture,
    udp_datagram,
)


def a_capture() -> tuple[bytes, list[tuple[int, str, str, bytes]]]:
    recorder = CallRecorder(epoch=1_700_000_000 * 10**6)
    sent = [
        (0, "main", "branch", b"\x00\x00\x01\x02\x00\x00"),
        (20_000, "branch", "main", b"\x00\x00\x01\x04\x00\x00"),
        (1_500_123, "main", "branch", bytes(300)),
    ]
    data = recorder.header() + b"".join(recorder.datagram(at, s, d, p) for at, s, d, p in sent)
    return data, sent


def test_each_station_has_its_address_on_port_6000():
    data, sent = a_capture()
    got = [udp_datagram(p) for p in read_capture(data)]
    assert [(d.source, d.destination) for d in got] == [
        ("10.0.0.1:6000", "10.0.0.2:6000"),
        ("10.0.0.2:6000", "10.0.0.1:6000"),
        ("10.0.0.1:6000", "10.0.0.2:6000"),
    ]
    assert [d.payload for d in got] == [p for *_, p in sent]
    assert [d.at - 1_700_000_000 * 10**6 for d in got] == [at for at, *_ in sent]


def test_the_file_is_classic_libpcap_with_ethernet_and_right_checksums():
    data, _ = a_capture()
    magic, major, minor, _zone, _sigfigs, snaplen, link = struct.unpack("<IHHiIII", data[:24])
    assert (magic, major, minor, snaplen, link) == (0xA1B2C3D4, 2, 4, 65535, LINKTYPE_ETHERNET)
    frame = read_capture(data)[0].frame
    assert frame[12:14] == b"\x08\x00"  # IPv4
    ip = frame[14:34]
    assert internet_checksum(ip) == 0  # the header checksum makes the sum come out right
    udp = frame[34:]
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, len(udp))
    assert internet_checksum(pseudo + udp) == 0


def test_tshark_reads_it_and_finds_every_checksum_good(tmp_path):
    need_program("tshark")
    data, _ = a_capture()
    path = tmp_path / "calls.pcap"
    path.write_bytes(data)
    checks = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
    fields = subprocess.run(
        ["tshark", "-r", path, *checks, "-T", "fields", "-e", "ip.src", "-e", "udp.dstport",
         "-e", "ip.checksum.status", "-e", "udp.checksum.status"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split("\n")  # fmt: skip
    assert fields[:3] == ["10.0.0.1\t6000\t1\t1", "10.0.0.2\t6000\t1\t1", "10.0.0.1\t6000\t1\t1"]


def test_pcapng_from_editcap_reads_the_same(tmp_path):
    need_program("editcap")
    data, _ = a_capture()
    (tmp_path / "a.pcap").write_bytes(data)
    subprocess.run(["editcap", "-F", "pcapng", tmp_path / "a.pcap", tmp_path / "a.pcapng"],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    ng = (tmp_path / "a.pcapng").read_bytes()
    assert ng[:4] == b"\x0a\x0d\x0d\x0a"
    assert [udp_datagram(p) for p in read_capture(ng)] == [
        udp_datagram(p) for p in read_capture(data)
    ]


def test_other_link_types_are_read_down_to_udp():
    ip = ipv4_udp("192.0.2.1", 4000, "192.0.2.2", 5000, b"t38")
    cooked = struct.pack("!HHH8sH", 0, 1, 6, b"\x00" * 8, 0x0800) + ip
    vlan = b"\x00" * 12 + b"\x81\x00\x00\x05\x08\x00" + ip
    for link, frame in ((LINKTYPE_RAW, ip), (113, cooked), (LINKTYPE_ETHERNET, vlan)):
        d = udp_datagram(CapturedPacket(0, link, frame))
        assert d is not None and (d.source, d.destination, d.payload) == (
            "192.0.2.1:4000", "192.0.2.2:5000", b"t38")  # fmt: skip
    # not UDP, a fragment, a link type we do not read: nothing, no error
    assert udp_datagram(CapturedPacket(0, LINKTYPE_RAW, ip[:9] + b"\x06" + ip[10:])) is None
    assert udp_datagram(CapturedPacket(0, LINKTYPE_RAW, ip[:6] + b"\x20\x00" + ip[8:])) is None
    assert udp_datagram(CapturedPacket(0, 147, ip)) is None


def test_nanosecond_and_big_endian_captures_are_read():
    ip = ipv4_udp("10.0.0.1", 6000, "10.0.0.2", 6000, b"x")
    data = struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, LINKTYPE_RAW)
    data += struct.pack(">IIII", 3, 500_000_000, len(ip), len(ip)) + ip
    (packet,) = read_capture(data)
    assert packet.at == 3_500_000 and udp_datagram(packet).payload == b"x"


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "not a capture"),
        (b"GIF89a" + bytes(40), "not a capture"),
        (pcap_header()[:20], "truncated capture"),
        (pcap_header() + pcap_record(0, bytes(60))[:30], "truncated capture"),
        (pcap_header() + pcap_record(0, bytes(60))[:10], "truncated capture"),
        (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a", "truncated capture"),
    ],
)
def test_what_is_not_a_whole_capture_is_an_error(data, message):
    with pytest.raises(CaptureError, match=message):
        read_capture(data)


def test_every_record_holds_the_packet_ipv4_udp_builds():
    """The recorder's fast path (checksums from the sums of parts, one pack) writes the same
    octets as the plain builder, datagram after datagram, odd and even lengths."""
    recorder = CallRecorder(epoch=1_700_000_000 * 10**6)
    sent = [(n * 20_000, ("main", "branch")[n % 2], ("branch", "main")[n % 2], bytes(range(n * 5 + 1)))
            for n in range(40)]  # fmt: skip
    data = recorder.header() + b"".join(recorder.datagram(at, s, d, p) for at, s, d, p in sent)
    address = {"main": "10.0.0.1", "branch": "10.0.0.2"}
    for n, (packet, (at, src, dst, payload)) in enumerate(
        zip(read_capture(data), sent, strict=True)
    ):
        assert packet.frame[14:] == ipv4_udp(
            address[src], 6000, address[dst], 6000, payload, ident=n + 1
        )
        assert packet.at == 1_700_000_000 * 10**6 + at
