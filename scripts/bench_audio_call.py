#!/usr/bin/env python3
"""Benchmark: a fax call in `replay` on the audio line and on the signal line, in one run.

The same key script runs on fresh simulations as `estudio190f replay` runs it (the interpreter's
step driver, virtual time as fast as the host goes; no --out, no relay): two machines, ITU charts
1-4 in the main machine's feeder, FAX + 5559876 + START, until COMPLETED. Timed: the wall time of
the call, from the answer to the hang-up (the line's `answered` and `on_hook` events on the
caller, stamped with the wall clock as they happen); its air time is the same span on the virtual
clock. The figure is air time / wall time. On the audio line every call is carried as 8 kHz sound
through SpanDSP's modems (`--line audio`); on the signal line as modem signals. One warm-up run of
each first (numba's kernels compile once); then the two lines alternate, medians of `--repeat`.

    python scripts/bench_audio_call.py [--repeat 5] [--coding mr] [--ecm on|off]
                                       [--resolution fine] [--profile N]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time

from testdata_path import CHARTS

from estudio190f.panel.interpreter import Interpreter, run_step
from estudio190f.panel.script import parse_line
from estudio190f.panel.sim import Simulation

BRANCH = "5559876"


SCRIPT = (
    f"device branch {BRANCH}",
    "adf load " + " ".join(str(CHARTS / f"itu{n}.pbm") for n in (1, 2, 3, 4)),
    f"press {' '.join(BRANCH)} START",
    'until lcd "COMPLETED" within 20m',
)


class Call:
    """One run: the wall and virtual instants of the caller's answer and hang-up."""

    def __init__(self, line: str, coding: str, ecm: str, resolution: str) -> None:
        self.line = line
        self.sim = Simulation(line=line) if line != "signal" else Simulation()
        self.interp = Interpreter(self.sim)
        self.marks: dict[str, tuple[float, int]] = {}
        self.options = {"modem.coding": coding, "modem.ecm": ecm, "scan.resolution": resolution}
        self.sim.main.board.line.listeners.add(self._line_event)  # type: ignore[union-attr]

    def _line_event(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.kind in ("answered", "on_hook") and event.kind not in self.marks:
            self.marks[event.kind] = (time.perf_counter(), self.sim.clock.now)

    def run(self) -> tuple[float, float]:
        run_step(self.interp, parse_line(SCRIPT[0], 1))  # type: ignore[arg-type]
        for machine in self.sim.machines.values():  # as a settings file would set them
            for key, value in self.options.items():
                machine.firmware.settings.set(key, value)
        for n, text in enumerate(SCRIPT[1:], start=2):
            run_step(self.interp, parse_line(text, n))  # type: ignore[arg-type]
        entry = self.sim.main.firmware.journal.entries()[-1]
        assert entry.result == "OK" and entry.pages == 4, entry.line()
        wall = self.marks["on_hook"][0] - self.marks["answered"][0]
        air = (self.marks["on_hook"][1] - self.marks["answered"][1]) / 1e6
        self.sim.close()
        return air, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--coding", default="mr", choices=("mh", "mr", "mmr"))
    parser.add_argument("--ecm", default="off", choices=("on", "off"))
    parser.add_argument("--resolution", default="fine", choices=("standard", "fine", "superfine"))
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest functions")
    parser.add_argument(
        "--lines",
        default="signal,audio",
        help="which lines (signal alone also runs on a tree without the audio line, to compare)",
    )
    args = parser.parse_args()
    options = (args.coding, args.ecm, args.resolution)
    lines = args.lines.split(",")
    for line in lines:
        Call(line, *options).run()  # warm-up
    results: dict[str, list[tuple[float, float]]] = {line: [] for line in lines}
    for _ in range(args.repeat):
        for line in lines:
            results[line].append(Call(line, *options).run())
    print(f"4 charts, {args.resolution}, {args.coding.upper()}, ECM {args.ecm}; "
          f"median of {args.repeat} (wall times in ms)")  # fmt: skip
    print("| line | air time | wall, median (min-max) | x air time, median (min-max) |")
    print("|---|---|---|---|")
    for line, runs in results.items():
        air = statistics.median(a for a, _ in runs)
        walls = [w for _, w in runs]
        speeds = [a / w for a, w in runs]
        print(f"| {line} | {air:.1f} s | {statistics.median(walls) * 1000:.0f} "
              f"({min(walls) * 1000:.0f}-{max(walls) * 1000:.0f}) | "
              f"{statistics.median(speeds):.0f}x ({min(speeds):.0f}-{max(speeds):.0f}) |")  # fmt: skip
    if args.profile:
        profile = cProfile.Profile()
        call = Call("audio", *options)
        profile.enable()
        call.run()
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)


if __name__ == "__main__":
    main()
