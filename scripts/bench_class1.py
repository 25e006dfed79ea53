"""Benchmark: what the Class 1 modem costs on top of the line model, in virtual time (`max`).

A page (ITU chart 1, fine, MH: about 38 KB, 21 s at V.17 14400) goes through the AT interpreter
both ways, in the 4 KB writes a pty delivers: host to line after +FTM=146 (DLE stuffing undone,
flow control, the carrier fed), and line to host after +FRM=146 (DLE stuffing, result codes).
The reference, timed in the same run, is the bare modem model moving the same data to the same
far end (the least any host interface can cost). With `--ecm` the page goes as 256-octet ECM
frames instead: the host writes an HDLC bit stream that the modem unframes (and the far end's
frames reach the host as a bit stream), against the bare modem sending the frames.

    python scripts/bench_class1.py [--repeat 7] [--ecm]

Quoted: medians of wall seconds per page, the ratio to the reference, and how many times faster
than the line the modem could go.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from estudio190f.firmware.codec.encoder import encode
from estudio190f.hw.class1 import Class1Modem, HdlcBitStream
from estudio190f.hw.clock import SECOND, Clock
from estudio190f.hw.line import PhoneNetwork
from estudio190f.hw.modem import MODULATIONS, DataReceived, FrameReceived, Modem

CHART = Path(__file__).resolve().parent.parent.parent / "shared" / "testdata" / "ccitt" / "itu1.pbm"
MODULATION = "V.17/14400"
WRITE = 4096


def page_bytes() -> bytes:
    with Image.open(CHART) as image:
        pixels = ~np.asarray(image, dtype=bool)
    return bytes(encode(pixels, "mh"))


def connected() -> tuple[Clock, Modem, Modem, Class1Modem, bytearray]:
    """The Class 1 modem (5550100) in a call with a bare far end (5559876), in command state."""
    clock = Clock()
    network = PhoneNetwork(clock)
    line, far_line = network.add_line("5550100"), network.add_line("5559876")
    modem, far = Modem(clock), Modem(clock)
    line.attach_modem(modem)
    far_line.attach_modem(far)
    far.receive(MODULATION, "V.21")
    class1 = Class1Modem(clock, modem, line)
    out = bytearray()
    class1.on_output = lambda: out.extend(class1.take_output())
    class1.receive_data(b"ATE0;+FCLASS=1\r")
    far_line.dial("5550100")
    clock.advance(10 * SECOND, stop=lambda: line.state == "ringing")
    line.go_off_hook()
    clock.run_due()
    out.clear()
    return clock, modem, far, class1, out


def detach(class1: Class1Modem) -> None:
    """Take the interpreter off the modem and line, leaving the call up."""
    class1.modem.listeners.discard(class1._modem_event)
    class1.line.listeners.discard(class1._line_event)


def host_to_line(data: bytes) -> tuple[float, int]:
    clock, _modem, far, class1, out = connected()
    heard = bytearray()
    far.listeners.add(lambda e: heard.extend(e.data) if isinstance(e, DataReceived) else None)
    start = time.perf_counter()
    class1.receive_data(b"AT+FTM=146\r")
    stuffed = data.replace(b"\x10", b"\x10\x10") + b"\x10\x03"
    for i in range(0, len(stuffed), WRITE):
        while not class1.wants_input:  # the edge stops reading; the line catches up
            clock.run_one()
        class1.receive_data(stuffed[i : i + WRITE])
    clock.advance(60 * SECOND, stop=lambda: out.endswith(b"OK\r\n"))
    wall = time.perf_counter() - start
    assert bytes(heard) == data
    return wall, clock.now


def line_to_host(data: bytes) -> tuple[float, int]:
    clock, _modem, far, class1, out = connected()
    start = time.perf_counter()
    class1.receive_data(b"AT+FRM=146\r")
    far.send_data(data, MODULATION, short_train=True)
    clock.advance(60 * SECOND, stop=lambda: out.endswith(b"NO CARRIER\r\n"))
    wall = time.perf_counter() - start
    assert data.replace(b"\x10", b"\x10\x10") in out
    return wall, clock.now


def bare(data: bytes) -> tuple[float, int]:
    clock, modem, far, class1, _out = connected()
    detach(class1)  # the bare modem alone from here
    heard = bytearray()
    far.listeners.add(lambda e: heard.extend(e.data) if isinstance(e, DataReceived) else None)
    start = time.perf_counter()
    modem.send_data(b"", MODULATION, short_train=True, end=False)
    for i in range(0, len(data), WRITE):
        modem.feed(data[i : i + WRITE])
    modem.end_carrier()
    clock.advance(60 * SECOND)
    wall = time.perf_counter() - start
    assert bytes(heard) == data
    return wall, clock.now


def ecm_frames(data: bytes) -> list[bytes]:
    return [bytes((0xFF, 0x03, 0x06, n % 256)) + data[i : i + 256]
            for n, i in enumerate(range(0, len(data), 256))]  # fmt: skip


def ecm_host_to_line(data: bytes) -> tuple[float, int]:
    frames = ecm_frames(data)
    clock, _modem, far, class1, out = connected()
    heard: list[bytes] = []
    far.listeners.add(lambda e: heard.append(e.frame) if isinstance(e, FrameReceived) else None)
    start = time.perf_counter()
    encoder = HdlcBitStream()
    stream = b"\x7e" * 20 + b"".join(encoder.frame(f) for f in frames) + encoder.finish()
    class1.receive_data(b"AT+FTM=146\r")
    stuffed = stream.replace(b"\x10", b"\x10\x10") + b"\x10\x03"
    for i in range(0, len(stuffed), WRITE):
        while not class1.wants_input:
            clock.run_one()
        class1.receive_data(stuffed[i : i + WRITE])
    clock.advance(60 * SECOND, stop=lambda: out.endswith(b"OK\r\n"))
    wall = time.perf_counter() - start
    assert heard == frames
    return wall, clock.now


def ecm_bare(data: bytes) -> tuple[float, int]:
    frames = ecm_frames(data)
    clock, modem, far, class1, _out = connected()
    detach(class1)
    heard: list[bytes] = []
    far.listeners.add(lambda e: heard.append(e.frame) if isinstance(e, FrameReceived) else None)
    start = time.perf_counter()
    modem.send_hdlc(frames, MODULATION, short_train=True)
    clock.advance(60 * SECOND)
    wall = time.perf_counter() - start
    assert heard == frames
    return wall, clock.now


def median_of(run: Callable[[bytes], tuple[float, int]], data: bytes, repeat: int) -> float:
    return statistics.median(run(data)[0] for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--ecm", action="store_true")
    args = parser.parse_args()
    data = page_bytes()
    air = MODULATIONS[MODULATION].air_time(len(data)) / SECOND
    print(f"page: ITU chart 1, fine, MH, {len(data)} octets, {air:.1f} s at {MODULATION}; "
          f"medians of {args.repeat}")  # fmt: skip
    if args.ecm:
        cases = [("ECM host -> line (+FTM bit stream)", ecm_host_to_line)]
        reference = median_of(ecm_bare, data, args.repeat)
        print(f"  reference, bare modem sending the frames: {reference * 1000:8.1f} ms")
    else:
        cases = [("host -> line (+FTM)", host_to_line), ("line -> host (+FRM)", line_to_host)]
        reference = median_of(bare, data, args.repeat)
        print(f"  reference, bare modem sending the data:   {reference * 1000:8.1f} ms")
    for name, run in cases:
        wall = median_of(run, data, args.repeat)
        print(f"  {name:<38} {wall * 1000:8.1f} ms  {wall / reference:5.1f}x the reference, "
              f"{air / wall:7.0f}x faster than the line")  # fmt: skip


if __name__ == "__main__":
    main()
