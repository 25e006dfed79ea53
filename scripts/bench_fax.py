"""Benchmark: a fax of ITU charts 1-4 from one machine's panel to another's output tray, in `max` mode.

Two machines in one simulation (virtual time as fast as the host goes), as a key script drives
them: the four charts go into the main machine's feeder, FAX + 5559876 + START; the main machine
scans them into memory, dials, sends (fine, MR, V.17 14400 by default, the issue's case); the
branch machine answers after two rings, decodes, and prints each page. Timed: from START until
the branch machine has delivered the fourth sheet (scanning, memory, the call, decoding,
printing). The yardstick is the call's own air time (answer to hang-up, on the virtual clock):
the figure is the speed-up over it, and the wall milliseconds per page. A host reference is
timed in the same run: the codec alone coding and decoding the four pages once, quoted as a
ratio. One warm-up run first (numba compiles the codec once); medians of `--repeat` runs.

    python scripts/bench_fax.py [--repeat 5] [--coding mr] [--ecm on|off] [--resolution fine]
                                [--profile N]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import resource
import statistics
import sys
import time

import numpy as np
from PIL import Image
from testdata_path import CHARTS

from estudio190f.hw.clock import MINUTE, SECOND
from estudio190f.panel.sim import Simulation

BRANCH = "5559876"


class Run:
    """One simulation with two machines set for the benchmark, ready for START."""

    def __init__(self, coding: str, ecm: str, resolution: str) -> None:
        from estudio190f.panel.documents import load_sheets

        self.sim = Simulation()
        self.main = self.sim.main
        self.branch = self.sim.add_machine("branch", number=BRANCH)
        for machine in (self.main, self.branch):
            settings = machine.firmware.settings
            settings.set("modem.coding", coding)
            settings.set("modem.ecm", ecm)
            settings.set("scan.resolution", resolution)
        sheets = []
        for n in (1, 2, 3, 4):
            sheets += load_sheets(CHARTS / f"itu{n}.pbm")
        self.main.board.feeder.load(sheets)
        self.results: list = []
        self.main.firmware.fax.calls.add(lambda kind, r: self.results.append(r))
        self.received: list = []
        self.branch.firmware.fax.documents.add(self.received.append)
        self.events_before = self.sim.clock.events_run

    def send(self) -> float:
        """Press the keys and run until the fourth sheet is out; wall seconds. The garbage of
        the runs before is collected first (not timed), so that every run starts from the same
        heap: otherwise the cyclic garbage of old simulations piles up and each run pays the
        kernel for fresh memory (on the 2-core VM here, sys time went from 10 to 70-90 ms a run)."""
        clock = self.sim.clock
        gc.collect()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        for key in [*BRANCH, "START"]:
            self.main.press(key)
            clock.advance(100_000)
            self.main.release(key)
        done = clock.advance(30 * MINUTE, stop=lambda: self.branch.printed_count() >= 4)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu = (after.ru_utime - usage.ru_utime, after.ru_stime - usage.ru_stime)
        if not done:
            raise RuntimeError(f"the fax did not come out: {self.branch.lcd_lines()}")
        return wall

    @property
    def events(self) -> int:
        return self.sim.clock.events_run - self.events_before


def codec_reference(coding: str, resolution: str) -> float:
    """Wall seconds for the codec to code and decode the four charts once (after a collection,
    as the runs)."""
    from estudio190f.firmware import codec

    pages = []
    for n in (1, 2, 3, 4):
        with Image.open(CHARTS / f"itu{n}.pbm") as image:
            pixels = ~np.asarray(image, dtype=bool)
        pages.append(pixels[::2] if resolution == "standard" else pixels)
    gc.collect()
    start = time.perf_counter()
    for pixels in pages:
        data = codec.encode(pixels, coding, k=4) if coding != "mmr" else codec.encode(pixels, "mmr")
        codec.decode(data, coding)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--coding", choices=("mh", "mr", "mmr"), default="mr")
    parser.add_argument("--ecm", choices=("on", "off"), default="off")
    parser.add_argument("--resolution", choices=("standard", "fine", "superfine"), default="fine")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="profile one run and print the N most expensive functions")  # fmt: skip
    args = parser.parse_args(argv)
    if not CHARTS.exists():
        print(f"no test data at {CHARTS}", file=sys.stderr)
        return 2
    Run(args.coding, args.ecm, args.resolution).send()  # warm-up
    walls, speedups, references, airs, users, systems = [], [], [], [], [], []
    run: Run | None = None
    for _ in range(args.repeat):
        run = Run(args.coding, args.ecm, args.resolution)
        wall = run.send()
        (result,) = run.results
        if not result.ok or len(run.received[0].pages) != 4:
            print(f"the call failed: {result.outcome}", file=sys.stderr)
            return 1
        walls.append(wall)
        users.append(run.cpu[0])
        systems.append(run.cpu[1])
        airs.append(result.duration)
        speedups.append(result.duration / wall)
        references.append(codec_reference(result.params.coding, args.resolution))
    assert run is not None
    result = run.results[0]
    wall, air = statistics.median(walls), statistics.median(airs)
    print(f"fax: ITU charts 1-4 through the panels, {args.resolution}, {result.params.coding.upper()}, "
          f"ECM {args.ecm}, {result.speed}")  # fmt: skip
    print(f"air time on the line (answer to hang-up): {air:.1f} s ({air / 4:.1f} s a page); "
          f"START to the fourth sheet out: {run.sim.clock.now / SECOND:.0f} s of virtual time")  # fmt: skip
    print(f"clock events per run: {run.events}")
    print(f"wall time, START to the 4th sheet, median of {args.repeat}: {wall * 1000:.1f} ms "
          f"({wall / 4 * 1000:.1f} ms a page)")  # fmt: skip
    print(f"CPU a run, median: user {statistics.median(users) * 1000:.1f} ms, "
          f"system {statistics.median(systems) * 1000:.1f} ms")  # fmt: skip
    reference = statistics.median(references)
    print(f"reference, codec alone (code + decode the 4 pages), median: {reference * 1000:.1f} ms; "
          f"run / reference: {wall / reference:.1f}")  # fmt: skip
    print(f"speed-up over the call's air time, median: {statistics.median(speedups):.0f}x "
          f"(min {min(speedups):.0f}x, max {max(speedups):.0f}x)")  # fmt: skip
    if args.profile:
        profiled = Run(args.coding, args.ecm, args.resolution)
        profiler = cProfile.Profile()
        profiler.enable()
        profiled.send()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
