"""Benchmark: what the T.38 layer costs, in virtual time.

- IFP: encode + decode of the packets a real SpanDSP call sends (ITU chart 1, fine, V.17 14400,
  non-ECM and ECM mixed), per packet;
- UDPTL: a datagram through `UdptlSender` (redundancy 3) and `UdptlReceiver`;
- endpoint: a page of modem signals (the chart's 26 KB of non-ECM data in the modem's 1 s
  blocks) through `T38Endpoint.send` and the far endpoint's `receive`, and the same page's
  datagrams written as capture records;
- a whole call: SpanDSP A faxes the page to SpanDSP B through two of our endpoints (UDPTL, IFP,
  modem signals and back, as tests/t38 runs it), against the same two terminals wired IFP to IFP
  in the same run (the reference: SpanDSP's own cost).

    python scripts/bench_t38.py [--repeat 5] [--ecm]

Quoted: medians of wall time; a page's air time is the virtual time of the call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from estudio190f.firmware.page import Page
from estudio190f.firmware.tiff_f import write_tiff_f
from estudio190f.hw.clock import MS, SECOND
from estudio190f.hw.modem import CARRIER_OFF, CARRIER_ON, DATA, TRAINED, Signal
from estudio190f.hw.pcap import CallRecorder
from estudio190f.hw.spandsp import T38Terminal
from estudio190f.hw.t38 import T38Config, T38Endpoint
from estudio190f.hw.t38_ifp import decode_ifp, encode_ifp
from estudio190f.hw.t38_peer import SpanDspT38Peer
from estudio190f.hw.udptl import UdptlReceiver, UdptlSender

CHART = (
    Path(
        os.environ.get("ESTUDIO190F_TESTDATA")
        or Path(__file__).resolve().parent.parent.parent / "shared" / "testdata"
    )
    / "ccitt"
    / "itu1.pbm"
)
STEP = 20 * MS
LIMIT = 300 * SECOND


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def direct_call(tx: Path, rx: Path, ecm: bool, sent: list[bytes] | None = None) -> float:
    """SpanDSP to SpanDSP, IFP to IFP: the virtual seconds the call took."""
    inbox: tuple[list[bytes], list[bytes]] = ([], [])

    def to(i: int) -> Callable[[bytes, int], None]:
        def put(ifp: bytes, _n: int) -> None:
            inbox[i].append(ifp)
            if sent is not None:
                sent.append(ifp)

        return put

    a = T38Terminal(calling=True, on_packet=to(1), tx_file=tx, ecm=ecm, ident="A")
    b = T38Terminal(calling=False, on_packet=to(0), rx_file=rx, ecm=ecm, ident="B")
    seq = [0, 0]
    now = 0
    while now < LIMIT and not (a.done and b.done):
        now += STEP
        for i, terminal in enumerate((a, b)):
            for ifp in inbox[i]:
                terminal.receive_ifp(ifp, seq[i])
                seq[i] += 1
            inbox[i].clear()
        a.advance(160)
        b.advance(160)
    assert a.result == b.result == 0, (a.result_text, b.result_text)
    a.close()
    b.close()
    return now / SECOND


def layered_call(tx: Path, rx: Path, ecm: bool) -> float:
    """SpanDSP A <-UDPTL-> endpoint X <-signals-> endpoint Y <-UDPTL-> SpanDSP B."""
    config = T38Config()
    a = SpanDspT38Peer(config, calling=True, tx_file=tx, ecm=ecm, ident="A")
    b = SpanDspT38Peer(config, calling=False, rx_file=rx, ecm=ecm, ident="B")
    x, y = T38Endpoint(config), T38Endpoint(config)
    to_x: list[bytes] = []
    to_y: list[bytes] = []
    to_a: list[bytes] = []
    to_b: list[bytes] = []
    now = 0
    while now < LIMIT and not (a.done and b.done):
        now += STEP
        for payload in to_x:
            for s in x.receive(payload, now):
                to_b += [d.payload for d in y.send(s, now)]
        for payload in to_y:
            for s in y.receive(payload, now):
                to_a += [d.payload for d in x.send(s, now)]
        to_x.clear()
        to_y.clear()
        for peer, inbox in ((a, to_a), (b, to_b)):
            for payload in inbox:
                peer.receive(payload, now)
            inbox.clear()
        to_x += [d.payload for d in a.advance(now)]
        to_y += [d.payload for d in b.advance(now)]
    assert a.terminal.result == b.terminal.result == 0, (
        a.terminal.result_text,
        b.terminal.result_text,
    )
    a.close()
    b.close()
    return now / SECOND


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--ecm", action="store_true", help="the whole call with ECM")
    args = parser.parse_args()
    with Image.open(CHART) as image:
        page = Page(~np.asarray(image.convert("1"), dtype=bool), "fine")
    folder = Path(tempfile.mkdtemp(prefix="bench_t38_"))
    tx = folder / "itu1.tif"
    tx.write_bytes(write_tiff_f([page], "mh"))
    rx = folder / "rx.tif"

    # IFP: the packets of real calls
    packets: list[bytes] = []
    direct_call(tx, rx, False, packets)
    direct_call(tx, rx, True, packets)
    decoded = [decode_ifp(p) for p in packets]
    t = median_time(lambda: [encode_ifp(decode_ifp(p)) for p in packets], args.repeat)
    print(f"IFP encode+decode: {len(packets)} packets, {len(packets) / t:,.0f} packets/s")

    # UDPTL with redundancy 3
    def udptl() -> None:
        sender, receiver = UdptlSender(), UdptlReceiver()
        for n, p in enumerate(packets):
            receiver.receive(sender.send(p, 3), n)

    t = median_time(udptl, args.repeat)
    print(f"UDPTL send+receive (redundancy 3): {len(packets) / t:,.0f} datagrams/s")
    assert len(decoded) == len(packets)

    # the endpoint: one page of modem signals, and its capture
    from estudio190f.firmware.codec import encode

    data = encode(page.pixels, "mh")
    block = 14400 // 8
    signals = [Signal(CARRIER_ON, "V.17/14400"), Signal(TRAINED, "V.17/14400")]
    signals += [
        Signal(DATA, "V.17/14400", data=data[i : i + block]) for i in range(0, len(data), block)
    ]
    signals.append(Signal(CARRIER_OFF, "V.17/14400"))
    air = len(data) * 8 / 14400
    payloads: list[bytes] = []

    def endpoint() -> None:
        near, far = T38Endpoint(), T38Endpoint()
        payloads.clear()
        for s in signals:
            for d in near.send(s, 0):
                payloads.append(d.payload)
                far.receive(d.payload, 0)

    t = median_time(endpoint, args.repeat)
    print(
        f"endpoint, a page of {len(data):,} octets ({air:.1f} s on the line, {len(payloads)} "
        f"datagrams): {t * 1000:.1f} ms, {air / t:,.0f}x faster than the line"
    )
    recorder = CallRecorder()

    def capture() -> None:
        for p in payloads:
            recorder.datagram(0, "a", "b", p)

    t_cap = median_time(capture, args.repeat)
    print(f"capture records for that page: {t_cap * 1000:.1f} ms ({t_cap / t:.0%} of the endpoint)")

    # a whole call, ours against SpanDSP's own cost
    virtual = 0.0

    def ours() -> None:
        nonlocal virtual
        virtual = layered_call(tx, rx, args.ecm)

    t_ref = median_time(lambda: direct_call(tx, rx, args.ecm), args.repeat)
    t_ours = median_time(ours, args.repeat)
    mode = "ECM" if args.ecm else "non-ECM"
    print(
        f"call, one page {mode}: {virtual:.1f} s virtual; SpanDSP to SpanDSP {t_ref:.3f} s wall, "
        f"through our T.38 layer {t_ours:.3f} s wall ({t_ours / t_ref:.2f}x; "
        f"{virtual / t_ours:,.0f}x faster than real time)"
    )


if __name__ == "__main__":
    main()
