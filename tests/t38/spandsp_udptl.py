"""SpanDSP's t38_terminal behind a small UDPTL socket: an independent T.38 fax machine on loopback.

    python tests/t38/spandsp_udptl.py --listen 0 --rx got.tif            # answer one call
    python tests/t38/spandsp_udptl.py --call 127.0.0.1:PORT --tx page.tif  # send a document

It prints `udptl 127.0.0.1:PORT` once bound, then, when SpanDSP's T.30 has ended (phase E),
`result TEXT pages N remote IDENT` and exits 0 if the result is OK (1 if not, 2 on a time-out).
The terminal runs on the wall clock times `--speed` (the factor the machine's `run --speed`
uses). Answering, the first datagram from anyone makes the call; calling, it sends from the
start. `--pcap FILE` writes every datagram it sends and receives, with the real addresses and
ports, as a capture taken at this host would show them (raw IPv4 link type).

UDPTL framing, redundancy and recovery are this project's (`hw.t38_peer.SpanDspT38Peer`); the
fax terminal - T.30, T.4, the TIFF files - is SpanDSP's. No simulator code is involved.
"""

from __future__ import annotations

import argparse
import select
import socket
import sys
import time
from pathlib import Path

from estudio190f.hw.pcap import LINKTYPE_RAW, ipv4_udp, pcap_header, pcap_record
from estudio190f.hw.spandsp import RESULT_OK
from estudio190f.hw.t38 import T38Config
from estudio190f.hw.t38_peer import SpanDspT38Peer

TICK = 0.01  # wall seconds between runs of the terminal
LINGER = 1.0  # wall seconds of sending after phase E (its last packets, late repeats)


def host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main() -> int:
    parser = argparse.ArgumentParser()
    side = parser.add_mutually_exclusive_group(required=True)
    side.add_argument("--listen", type=host_port, metavar="[HOST:]PORT")
    side.add_argument("--call", type=host_port, metavar="HOST:PORT")
    parser.add_argument("--tx", type=Path, help="TIFF to send")
    parser.add_argument("--rx", type=Path, help="TIFF to receive into")
    parser.add_argument("--ecm", action="store_true")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--redundancy", type=int, default=3)
    parser.add_argument("--pcap", type=Path)
    parser.add_argument("--timeout", type=float, default=120.0, help="wall seconds")
    parser.add_argument("--ident", default="SPANDSP")
    args = parser.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(args.listen if args.listen else ("127.0.0.1", 0))
    sock.setblocking(False)
    me = sock.getsockname()
    print(f"udptl {me[0]}:{me[1]}", flush=True)
    pcap = open(args.pcap, "wb") if args.pcap else None
    if pcap is not None:
        pcap.write(pcap_header(LINKTYPE_RAW))
    wall0 = time.monotonic()
    epoch = int(time.time() * 1e6)

    def record(src: tuple[str, int], dst: tuple[str, int], payload: bytes) -> None:
        if pcap is not None:
            at = epoch + int((time.monotonic() - wall0) * 1e6)
            pcap.write(pcap_record(at, ipv4_udp(src[0], src[1], dst[0], dst[1], payload)))

    config = T38Config(redundancy=args.redundancy, image_redundancy=min(1, args.redundancy))
    peer_address = args.call
    terminal: SpanDspT38Peer | None = None
    started = 0.0

    def start(calling: bool) -> SpanDspT38Peer:
        nonlocal started
        started = time.monotonic()
        return SpanDspT38Peer(config, calling=calling, tx_file=args.tx, rx_file=args.rx,
                              ecm=args.ecm, ident=args.ident)  # fmt: skip

    def now_us() -> int:
        return int((time.monotonic() - started) * args.speed * 1e6)

    if args.call:
        terminal = start(calling=True)
    done_at: float | None = None
    try:
        while True:
            wall = time.monotonic()
            if wall - wall0 > args.timeout:
                print("result timeout", flush=True)
                return 2
            if done_at is not None and wall - done_at > LINGER:
                break
            readable, _, _ = select.select([sock], [], [], TICK)
            while readable:
                try:
                    payload, address = sock.recvfrom(65535)
                except BlockingIOError:
                    break
                if peer_address is None:
                    peer_address = address
                if address != peer_address:
                    continue
                record(address, me, payload)
                if terminal is None:
                    terminal = start(calling=False)
                terminal.receive(payload, now_us())
            if terminal is None or peer_address is None:
                continue
            now = now_us()
            deadline = terminal.deadline()
            if deadline is not None and deadline <= now:
                terminal.poll(now)
            for d in terminal.advance(now):
                sock.sendto(d.payload, peer_address)
                record(me, peer_address, d.payload)
            if terminal.done and done_at is None:
                done_at = time.monotonic()
    finally:
        if pcap is not None:
            pcap.close()
    assert terminal is not None
    stats = terminal.terminal.stats()
    pages = stats.pages_rx if args.rx else stats.pages_tx
    remote = terminal.terminal.remote_ident.strip() or "-"
    print(f"result {terminal.terminal.result_text} pages {pages} remote {remote}", flush=True)
    ok = terminal.terminal.result == RESULT_OK
    terminal.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
