"""Packet captures: classic libpcap files written (UDP over IPv4 over Ethernet), and captures read
back (libpcap or pcapng, the link types capture tools commonly write) down to their UDP datagrams.

Writing is sans I/O: `pcap_header()` and `pcap_record()` return the octets of the file's header
and of one packet; `CallRecorder` gives each station of a simulation its own IPv4 address
(10.0.0.1, 10.0.0.2, ... in the order stations appear) on UDP port 6000, so that
`tshark -r calls.pcap -d udp.port==6000,t38` reads the T.38 calls in it. IPv4 and UDP checksums
are computed (Wireshark flags wrong ones only when asked, but a capture should be right).

Reading takes the whole file's octets (`read_capture`) and raises CaptureError, with a one-line
reason, for anything that is not a capture or ends early; `udp_datagram()` digs the UDP datagram
out of a captured frame (Ethernet with or without VLAN tags, raw IP, Linux cooked v1/v2, BSD
loopback; IPv4 or IPv6), or gives None for anything else.
"""

from __future__ import annotations

import ipaddress
import itertools
import struct
from dataclasses import dataclass

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
SNAPLEN = 65535
T38_PORT = 6000
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_VLAN = (0x8100, 0x88A8, 0x9100)
IPPROTO_UDP = 17


class CaptureError(ValueError):
    """The octets are not a capture this reader knows, or the capture ends early."""


@dataclass(frozen=True, slots=True)
class CapturedPacket:
    at: int  # µs since the Unix epoch (as the capture stamps it)
    linktype: int
    frame: bytes


@dataclass(frozen=True, slots=True)
class UdpDatagram:
    at: int
    src: str  # address
    sport: int
    dst: str
    dport: int
    payload: bytes

    @property
    def source(self) -> str:
        return _endpoint(self.src, self.sport)

    @property
    def destination(self) -> str:
        return _endpoint(self.dst, self.dport)


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


# -- writing ----------------------------------------------------------------------------------------


def pcap_header(linktype: int = LINKTYPE_ETHERNET, snaplen: int = SNAPLEN) -> bytes:
    """The 24-octet global header of a little-endian libpcap 2.4 file with µs time stamps."""
    return struct.pack("<IHHiIII", PCAP_MAGIC_US, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(at: int, frame: bytes, snaplen: int = SNAPLEN) -> bytes:
    """One packet record: `at` µs since the epoch, the frame (cut at `snaplen`)."""
    if at < 0:
        raise ValueError("a packet cannot be stamped before the epoch")
    kept = frame[:snaplen]
    seconds, micros = divmod(at, 1_000_000)
    return struct.pack("<IIII", seconds, micros, len(kept), len(frame)) + kept


def internet_checksum(data: bytes) -> int:
    """The ones' complement sum of 16-bit words (RFC 1071), complemented.

    Computed on the octets as one big number: 2**16 is 1 modulo 0xFFFF, so the words' sum
    with end-around carry is that number modulo 0xFFFF (0xFFFF for a non-zero multiple)."""
    return _fold(int.from_bytes(data + b"\x00" * (len(data) & 1), "big"))


def _fold(number: int) -> int:
    """`internet_checksum` of octets given as the number they spell (see there)."""
    total = number % 0xFFFF
    if total == 0 and number:
        total = 0xFFFF
    return ~total & 0xFFFF


def ipv4_udp(
    src: str, sport: int, dst: str, dport: int, payload: bytes, ident: int = 0, ttl: int = 64
) -> bytes:
    """An IPv4 packet carrying one UDP datagram, both checksums filled in."""
    s, d = ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed
    return _ipv4_udp(s, sport, d, dport, payload, ident, ttl)


def _ipv4_udp(
    s: bytes, sport: int, d: bytes, dport: int, payload: bytes, ident: int, ttl: int = 64
) -> bytes:
    udp_len = 8 + len(payload)
    if 20 + udp_len > 0xFFFF:
        raise ValueError(f"a UDP payload of {len(payload)} octets does not fit in IPv4")
    pseudo = s + d + struct.pack("!BBH", 0, IPPROTO_UDP, udp_len)
    header = struct.pack("!HHHH", sport, dport, udp_len, 0)
    udp_sum = internet_checksum(pseudo + header + payload) or 0xFFFF  # 0 means "none" in UDP
    udp = struct.pack("!HHHH", sport, dport, udp_len, udp_sum) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, ident & 0xFFFF, 0x4000, ttl,
                     IPPROTO_UDP, 0, s, d)  # fmt: skip
    ip = ip[:10] + struct.pack("!H", internet_checksum(ip)) + ip[12:]
    return ip + udp


def ethernet(src_mac: bytes, dst_mac: bytes, ethertype: int, payload: bytes) -> bytes:
    return dst_mac + src_mac + struct.pack("!H", ethertype) + payload


def station_mac(address: str) -> bytes:
    """A locally administered MAC address made from an IPv4 address (02:00:a.b.c.d)."""
    return b"\x02\x00" + ipaddress.IPv4Address(address).packed


class CallRecorder:
    """The capture of a simulation's calls: a station per IPv4 address, all on UDP port 6000.

    `header()` once, then `datagram(at, src, dst, payload)` for each UDPTL datagram a station
    sends (`at`: virtual µs; `epoch` µs is added, so a capture can carry wall-clock dates).
    """

    def __init__(self, network: str = "10.0.0.0/24", port: int = T38_PORT, epoch: int = 0) -> None:
        self._network = ipaddress.IPv4Network(network)  # a network, not its hosts() generator:
        self.port = port  # a recorder can be saved in a snapshot
        self.epoch = epoch
        self.addresses: dict[str, str] = {}
        self._ident = 0
        self._links: dict[tuple[str, str], tuple[bytes, bytes, bytes]] = {}  # src, dst, Ethernet

    def address(self, station: str) -> str:
        """The station's IPv4 address (given on first use)."""
        if station not in self.addresses:
            hosts = itertools.islice(self._network.hosts(), len(self.addresses), None)
            try:
                self.addresses[station] = str(next(hosts))
            except StopIteration:
                raise ValueError("no addresses left in the capture's network") from None
        return self.addresses[station]

    def header(self) -> bytes:
        return pcap_header(LINKTYPE_ETHERNET)

    def datagram(self, at: int, src: str, dst: str, payload: bytes) -> bytes:
        """The pcap record of one datagram from station `src` to station `dst`."""
        link = self._links.get((src, dst))
        if link is None:
            a, b = self.address(src), self.address(dst)
            head = ethernet(station_mac(a), station_mac(b), ETHERTYPE_IPV4, b"")
            link = self._links[(src, dst)] = (
                ipaddress.IPv4Address(a).packed,
                ipaddress.IPv4Address(b).packed,
                head,
            )
        self._ident = (self._ident + 1) & 0xFFFF
        s, d, head = link
        udp_len = 8 + len(payload)
        if 20 + udp_len > 0xFFFF:
            raise ValueError(f"a UDP payload of {len(payload)} octets does not fit in IPv4")
        # The two checksums as `_ipv4_udp` computes them, from the sums of their parts (the
        # ones' complement sum of concatenated even-length parts is the sum of theirs).
        port = self.port
        addresses = int.from_bytes(s + d, "big")
        udp_sum = _fold(addresses + IPPROTO_UDP + 2 * udp_len + 2 * port
                        + int.from_bytes(payload + b"\x00" * (len(payload) & 1), "big"))  # fmt: skip
        ip_sum = _fold(addresses + 0x4500 + 20 + udp_len + self._ident + 0x4000 + (64 << 8)
                       + IPPROTO_UDP)  # fmt: skip
        frame = head + struct.pack(
            "!BBHHHBBH4s4sHHHH", 0x45, 0, 20 + udp_len, self._ident, 0x4000, 64, IPPROTO_UDP,
            ip_sum, s, d, port, port, udp_len, udp_sum or 0xFFFF,
        ) + payload  # fmt: skip
        return pcap_record(self.epoch + at, frame)


# -- reading ----------------------------------------------------------------------------------------


def read_capture(data: bytes) -> list[CapturedPacket]:
    """Every packet of a libpcap or pcapng capture, in file order."""
    if len(data) < 4:
        raise CaptureError("not a capture: the file is shorter than any capture header")
    if struct.unpack("<I", data[:4])[0] == PCAPNG_SHB:
        return _read_pcapng(data)
    return _read_pcap(data)


def _read_pcap(data: bytes) -> list[CapturedPacket]:
    for order in "<>":
        magic = struct.unpack(order + "I", data[:4])[0]
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            break
    else:
        raise CaptureError("not a capture: no libpcap or pcapng magic number")
    if len(data) < 24:
        raise CaptureError("truncated capture: the file header is cut short")
    linktype = struct.unpack(order + "I", data[20:24])[0] & 0x0FFFFFFF
    divisor = 1000 if magic == PCAP_MAGIC_NS else 1
    packets: list[CapturedPacket] = []
    pos = 24
    while pos < len(data):
        if pos + 16 > len(data):
            raise CaptureError(
                f"truncated capture: packet {len(packets) + 1}'s header is cut short"
            )
        seconds, frac, incl, _orig = struct.unpack(order + "IIII", data[pos : pos + 16])
        pos += 16
        if pos + incl > len(data):
            raise CaptureError(f"truncated capture: packet {len(packets) + 1} is cut short")
        at = seconds * 1_000_000 + frac // divisor
        packets.append(CapturedPacket(at, linktype, data[pos : pos + incl]))
        pos += incl
    return packets


def _read_pcapng(data: bytes) -> list[CapturedPacket]:
    packets: list[CapturedPacket] = []
    interfaces: list[tuple[int, int]] = []  # (link type, ticks per second)
    order = "<"
    pos = 0
    while pos < len(data):
        if pos + 12 > len(data):
            raise CaptureError("truncated capture: a pcapng block header is cut short")
        kind = struct.unpack(order + "I", data[pos : pos + 4])[0]
        if kind == PCAPNG_SHB:  # the same octets in either byte order
            magic = data[pos + 8 : pos + 12]
            order = (
                "<" if magic == b"\x4d\x3c\x2b\x1a" else ">" if magic == b"\x1a\x2b\x3c\x4d" else ""
            )
            if not order:
                raise CaptureError("not a capture: bad pcapng byte-order magic")
            interfaces = []
        length = struct.unpack(order + "I", data[pos + 4 : pos + 8])[0]
        if length < 12 or length % 4 or pos + length > len(data):
            raise CaptureError("truncated capture: a pcapng block is cut short")
        body = data[pos + 8 : pos + length - 4]
        if kind == 1:  # interface description
            if len(body) < 8:
                raise CaptureError("malformed capture: short interface block")
            linktype = struct.unpack(order + "H", body[:2])[0]
            interfaces.append((linktype, _ticks_per_second(body[8:], order)))
        elif kind in (6, 3):  # enhanced / simple packet block
            if kind == 6:
                if len(body) < 20:
                    raise CaptureError("malformed capture: short packet block")
                iface, high, low, caplen, _orig = struct.unpack(order + "IIIII", body[:20])
                frame = body[20 : 20 + caplen]
                ticks = (high << 32) | low
            else:
                if len(body) < 4:
                    raise CaptureError("malformed capture: short packet block")
                iface, ticks = 0, 0
                frame = body[4:]
            if iface >= len(interfaces):
                raise CaptureError("malformed capture: a packet names no interface")
            linktype, per_second = interfaces[iface]
            if len(frame) < (caplen if kind == 6 else 0):
                raise CaptureError("truncated capture: a packet is cut short")
            packets.append(CapturedPacket(ticks * 1_000_000 // per_second, linktype, frame))
        pos += length
    return packets


def _ticks_per_second(options: bytes, order: str) -> int:
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack(order + "HH", options[pos : pos + 4])
        if code == 0:
            break
        if code == 9 and length >= 1:  # if_tsresol
            value = options[pos + 4]
            return 2 ** (value & 0x7F) if value & 0x80 else 10**value
        pos += 4 + length + (-length % 4)
    return 1_000_000


def udp_datagram(packet: CapturedPacket) -> UdpDatagram | None:
    """The UDP datagram in a captured frame, or None (not UDP, a fragment, cut short)."""
    frame = packet.frame
    link = packet.linktype
    if link == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return None
        ethertype, pos = struct.unpack("!H", frame[12:14])[0], 14
        while ethertype in ETHERTYPE_VLAN and len(frame) >= pos + 4:
            ethertype, pos = struct.unpack("!H", frame[pos + 2 : pos + 4])[0], pos + 4
        return _ip(packet.at, ethertype, frame[pos:])
    if link in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        version = frame[0] >> 4 if frame else 0
        return _ip(packet.at, ETHERTYPE_IPV4 if version == 4 else ETHERTYPE_IPV6, frame)
    if link == LINKTYPE_LINUX_SLL and len(frame) >= 16:
        return _ip(packet.at, struct.unpack("!H", frame[14:16])[0], frame[16:])
    if link == LINKTYPE_LINUX_SLL2 and len(frame) >= 20:
        return _ip(packet.at, struct.unpack("!H", frame[0:2])[0], frame[20:])
    if link in (LINKTYPE_NULL, LINKTYPE_LOOP) and len(frame) >= 4:
        family = max(struct.unpack("<I", frame[:4])[0], struct.unpack(">I", frame[:4])[0])
        version = frame[4] >> 4 if len(frame) > 4 else 0
        if family == 2 or version == 4:
            return _ip(packet.at, ETHERTYPE_IPV4, frame[4:])
        return _ip(packet.at, ETHERTYPE_IPV6, frame[4:])
    return None


def _ip(at: int, ethertype: int, data: bytes) -> UdpDatagram | None:
    if ethertype == ETHERTYPE_IPV4:
        if len(data) < 20 or data[0] >> 4 != 4:
            return None
        ihl = (data[0] & 0x0F) * 4
        total = struct.unpack("!H", data[2:4])[0]
        flags_frag = struct.unpack("!H", data[6:8])[0]
        if data[9] != IPPROTO_UDP or flags_frag & 0x3FFF or ihl < 20:  # fragments: not read
            return None
        src, dst = str(ipaddress.IPv4Address(data[12:16])), str(ipaddress.IPv4Address(data[16:20]))
        udp = data[ihl : total if total >= ihl else len(data)]
    elif ethertype == ETHERTYPE_IPV6:
        if len(data) < 40 or data[0] >> 4 != 6 or data[6] != IPPROTO_UDP:
            return None  # extension headers before UDP: not read
        src, dst = str(ipaddress.IPv6Address(data[8:24])), str(ipaddress.IPv6Address(data[24:40]))
        udp = data[40 : 40 + struct.unpack("!H", data[4:6])[0]]
    else:
        return None
    if len(udp) < 8:
        return None
    sport, dport, length = struct.unpack("!HHH", udp[:6])
    if length < 8 or length > len(udp):
        return None
    return UdpDatagram(at, src, sport, dst, dport, bytes(udp[8:length]))


__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_RAW",
    "T38_PORT",
    "CallRecorder",
    "CaptureError",
    "CapturedPacket",
    "UdpDatagram",
    "ethernet",
    "internet_checksum",
    "ipv4_udp",
    "pcap_header",
    "pcap_record",
    "read_capture",
    "udp_datagram",
]
