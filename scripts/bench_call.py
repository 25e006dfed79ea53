"""Benchmark: a fax call of ITU charts 1-4 between two machines in virtual time (`max` speed).

Two boards on one virtual line and clock; station A dials B and sends the four charts (fine,
MR, V.17 14400 by default); B answers after two rings and decodes every page. The call's own air
time (answer to hang-up, on the virtual clock) is the reference: the figure is the speed-up over
it, and the wall seconds per page. A host reference is timed in the same run: the codec alone
coding and decoding the same pages (the least a call can cost), quoted as a ratio. The codec's
JIT compilation is warmed up by one call first; then `--repeat` calls are timed, medians quoted.

    python scripts/bench_call.py [--repeat 7] [--coding mh|mr|mmr] [--ecm] [--resolution fine]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time

import numpy as np
from PIL import Image
from testdata_path import CHARTS

from estudio190f.firmware.fax_call import CallResult, FaxCall, PageStore
from estudio190f.firmware.page import Page
from estudio190f.firmware.t30.session import StationConfig
from estudio190f.hw.board import Board
from estudio190f.hw.clock import SECOND, Clock
from estudio190f.hw.line import LineEvent, PhoneNetwork
from estudio190f.panel.allocator import keep_freed_memory


def load_pages(resolution: str) -> list[Page]:
    pages = []
    for n in (1, 2, 3, 4):
        with Image.open(CHARTS / f"itu{n}.pbm") as image:
            pixels = ~np.asarray(image, dtype=bool)
        if resolution == "standard":
            pixels = np.ascontiguousarray(pixels[::2])
        pages.append(Page(pixels, resolution))
    return pages


def one_call(pages: list[Page], coding: str, ecm: bool) -> tuple[float, CallResult, list, int]:
    """(wall seconds, sender's result, pages received, clock events) of one call. The garbage of
    the calls before is collected first, not timed (see bench_fax.py)."""
    gc.collect()
    keep_freed_memory()  # as Simulation() does for every simulating process
    start = time.perf_counter()
    clock = Clock()
    network = PhoneNetwork(clock)
    a, b = Board(clock, "a"), Board(clock, "b")
    network.attach(a, "5551234")
    network.attach(b, "5559876")
    store = PageStore()
    calls: dict[str, FaxCall] = {}

    def answer(event: LineEvent) -> None:
        if event.kind == "ring_off" and event.n == 2:
            calls["rx"] = FaxCall.answer(
                b, StationConfig(ident="5559876", coding=coding, ecm=ecm), sink=store
            )

    b.line.listeners.add(answer)
    tx = FaxCall.dial(a, "5559876", pages, StationConfig(ident="5551234", coding=coding, ecm=ecm))
    clock.advance(3600 * SECOND, stop=lambda: tx.done and "rx" in calls and calls["rx"].done)
    wall = time.perf_counter() - start
    assert tx.result is not None
    return wall, tx.result, store.pages, clock.events_run


def codec_reference(pages: list[Page], coding: str) -> float:
    """Wall seconds for the codec to code and decode the pages once (k as the call uses it)."""
    from estudio190f.firmware import codec

    start = time.perf_counter()
    for page in pages:
        data = (
            codec.encode(page.pixels, coding, k=4)
            if coding != "mmr"
            else codec.encode(page.pixels, "mmr")
        )
        codec.decode(data, coding)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--coding", choices=("mh", "mr", "mmr"), default="mr")
    parser.add_argument("--ecm", action="store_true", help="error correction mode (needed for MMR)")
    parser.add_argument("--resolution", choices=("standard", "fine"), default="fine")
    args = parser.parse_args(argv)
    if not CHARTS.exists():
        print(f"no test data at {CHARTS}", file=sys.stderr)
        return 2
    pages = load_pages(args.resolution)
    one_call(pages, args.coding, args.ecm)  # warm-up: the codec compiles its kernels once
    walls, speedups, references = [], [], []
    result: CallResult | None = None
    for _ in range(args.repeat):
        wall, result, received, events = one_call(pages, args.coding, args.ecm)
        if not result.ok or len(received) != len(pages):
            print(f"call failed: {result.outcome}", file=sys.stderr)
            return 1
        for sent, got in zip(pages, received, strict=True):
            assert got.page is not None and np.array_equal(got.page.pixels, sent.pixels)
        walls.append(wall)
        speedups.append(result.duration / wall)
        references.append(codec_reference(pages, args.coding))
    assert result is not None
    wall = statistics.median(walls)
    print(f"call: ITU charts 1-4, {args.resolution}, {args.coding.upper()}, "
          f"{'ECM' if args.ecm else 'no ECM'}, {result.speed}")  # fmt: skip
    print(
        f"air time on the line: {result.duration:.1f} s ({result.duration / len(pages):.1f} s a page)"
    )
    print(f"clock events per call: {events}")
    print(
        f"wall time, median of {args.repeat}: {wall * 1000:.1f} ms ({wall / len(pages) * 1000:.1f} ms a page)"
    )
    reference = statistics.median(references)
    print(f"reference, codec alone (code + decode the pages), median: {reference * 1000:.1f} ms; "
          f"call / reference: {wall / reference:.1f}")  # fmt: skip
    print(f"speed-up over the real line, median: {statistics.median(speedups):.0f}x "
          f"(min {min(speedups):.0f}x, max {max(speedups):.0f}x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
