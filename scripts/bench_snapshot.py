"""Snapshots and coverage: what they cost.

    python scripts/bench_snapshot.py [--runs 7] [--chart PATH]

Snapshots: the file's size and the wall time to save and to load it (`Simulation.save`,
`Simulation.load` into a new simulation), median of the runs, for a booted machine and for two
machines in the middle of a call (phase C, ECM). References in the same run: booting a fresh
`Simulation()` (what a load replaces for a booted machine), and replaying the way to the middle of
the call (what a load replaces there).

Coverage: the wall time of the same replay (a fax call with fallback and PPR between two machines,
then a copy and the FUNCTION menu) with and without a coverage recorder following the machines,
alternated; the overhead is the median of each pair's ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from estudio190f.panel.coverage_recorder import CoverageRecorder
from estudio190f.panel.interpreter import Interpreter, run_step
from estudio190f.panel.script import parse_line
from estudio190f.panel.sim import Simulation

ROOT = Path(__file__).resolve().parent.parent
# The shared test data as the tests find it: ESTUDIO190F_TESTDATA, beside the project, or the
# workplace's copy.
_DATA = [os.environ.get("ESTUDIO190F_TESTDATA", ""), ROOT.parent / "shared" / "testdata",
         "/work/shared/testdata"]  # fmt: skip
CHART = next((Path(d) for d in _DATA if d and Path(d).is_dir()), Path()) / "ccitt" / "itu1.pbm"

TO_PHASE_C = [
    "device branch 5559876", "adf load {chart}", "fault line.noise",
    "press 5 5 5 9 8 7 6 START", 'until state "phase_c" within 2m', "wait 3s",
]  # fmt: skip
TEN_PAGES_STORED = [
    "device branch 5559876", "adf load " + " ".join(["{chart}"] * 10), "fault line.busy",
    "press 5 5 5 9 8 7 6 START", 'until lcd "REDIAL" within 10m',
]  # fmt: skip
REST = [
    'until lcd "COMPLETED" within 3m', "on branch until printed 1 within 2m", "paper 20",
    "press COPY", "adf load {chart}", "press START", "until printed 1 within 2m",
    "press FUNCTION 3 2", "press CLEAR 4 SET", 'until lcd "READY" within 10s',
]  # fmt: skip


def steps(sim: Simulation, lines: list[str], chart: Path) -> None:
    interp = Interpreter(sim)
    for line in lines:
        step = parse_line(line.format(chart=chart))
        assert step is not None
        run_step(interp, step)


def timed(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def snapshots(runs: int, chart: Path, folder: Path) -> None:
    booted = Simulation()
    path = folder / "booted.snap"
    save_s, _ = timed(lambda: booted.save(path), runs)
    load_s, _ = timed(lambda: Simulation.load(path).close(), runs)
    boot_s, _ = timed(lambda: Simulation().close(), runs)
    print("| a booted machine | "
          f"{path.stat().st_size / 1024:.0f} KiB | {save_s * 1e3:.1f} ms | {load_s * 1e3:.1f} ms | "
          f"boot `Simulation()`: {boot_s * 1e3:.1f} ms |")  # fmt: skip

    def to_memory() -> Simulation:
        sim = Simulation()
        steps(sim, TEN_PAGES_STORED, chart)
        return sim

    way_s, stored = timed(to_memory, max(3, runs // 2))
    assert isinstance(stored, Simulation) and stored.main.leds()["MEMORY"] == "on"
    path = folder / "memory.snap"
    save_s, _ = timed(lambda: stored.save(path), runs)
    load_s, _ = timed(lambda: Simulation.load(path).close(), runs)
    print("| ten pages (ITU chart 1) in memory, waiting to redial | "
          f"{path.stat().st_size / 1024:.0f} KiB | {save_s * 1e3:.1f} ms | {load_s * 1e3:.1f} ms | "
          f"replaying the way there: {way_s * 1e3:.0f} ms |")  # fmt: skip

    def to_phase_c() -> Simulation:
        sim = Simulation()
        steps(sim, TO_PHASE_C, chart)
        return sim

    way_s, call = timed(to_phase_c, runs)
    assert isinstance(call, Simulation) and "phase_c" in call.main.state()
    path = folder / "call.snap"
    save_s, _ = timed(lambda: call.save(path), runs)
    load_s, _ = timed(lambda: Simulation.load(path).close(), runs)
    print("| two machines in phase C (ECM, noisy line) | "
          f"{path.stat().st_size / 1024:.0f} KiB | {save_s * 1e3:.1f} ms | {load_s * 1e3:.1f} ms | "
          f"replaying the way there: {way_s * 1e3:.0f} ms |")  # fmt: skip


def coverage(runs: int, chart: Path) -> None:
    def replay() -> None:
        sim = Simulation()
        steps(sim, TO_PHASE_C + REST, chart)
        sim.close()

    plain, covered, ratios = [], [], []
    replay()  # warm-up (numba, caches)
    for _ in range(runs):
        started = time.perf_counter()
        replay()
        plain.append(time.perf_counter() - started)
        recorder = CoverageRecorder().install()
        started = time.perf_counter()
        replay()
        covered.append(time.perf_counter() - started)
        recorder.uninstall()
        ratios.append(covered[-1] / plain[-1])
    a, b = statistics.median(plain), statistics.median(covered)
    print(f"| replay, no coverage | {a * 1e3:.0f} ms | |")
    print(
        f"| replay, coverage recorded | {b * 1e3:.0f} ms | {statistics.median(ratios):.3f}x "
        "(median of the runs' ratios) |"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--chart", type=Path, default=CHART)
    args = parser.parse_args()
    if not args.chart.exists():
        print(f"no chart at {args.chart}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        print("| simulation | file | save | load | reference (same run) |")
        print("|---|---|---|---|---|")
        snapshots(args.runs, args.chart, Path(folder))
    print()
    print("| measure | median | ratio |")
    print("|---|---|---|")
    coverage(args.runs, args.chart)
    return 0


if __name__ == "__main__":
    sys.exit(main())
