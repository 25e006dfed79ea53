"""Benchmark: the simulator at scale (issue 17). Not a test: prints medians and ratios.

    python scripts/bench_scale.py [--machines 1000] [--scripts 1000] [--jobs N] [--runs 3]
                                  [--only machines|standby|suite] [--detail]

- machines: N machines in one simulation (one process, one clock, one line), powered on together
  and run to READY (one 15 s virtual boot for all; booted one after another, each boot would run
  every machine already there through its 15 s). Memory a machine: the growth of the resident
  set divided by N. Reference in the same run: N bare transitions HierarchicalMachines with the
  firmware's states and transitions (the state machine library's own share). `--detail` adds a
  tracemalloc breakdown of the Python objects a machine holds, by package.
- standby: one hour of virtual standby for all N at once (the LCD clock ticks every minute on
  each). Reference in the same run: the same number of bare timers through the same clock (a
  no-op rescheduling itself every minute), the scheduler's own share.
- suite: S short scripts (COPY mode, an expectation, one hour of standby, a query) through
  `estudio190f replay --jobs 1` and `--jobs J` (default: one per CPU), each a fresh process;
  the speed-up and the efficiency (speed-up / J), and the cost a script.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

from transitions.extensions import HierarchicalMachine

from estudio190f.firmware import control_panel as fwm
from estudio190f.hw.clock import HOUR, MINUTE, SECOND, Clock
from estudio190f.panel.jobs import cpu_count
from estudio190f.panel.sim import BOOT_LIMIT, Machine, Simulation

CLI = [sys.executable, "-m", "estudio190f.panel.cli"]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
SHORT_SCRIPT = 'press COPY\nexpect lcd "COPY READY"\nwait 1h\nlcd?\n'


def resident() -> int:
    """This process's resident set, bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def boot_together(count: int) -> tuple[Simulation, list[Machine], float]:
    """A simulation with `count` machines, all powered on at once and run to READY."""
    start = time.perf_counter()
    sim = Simulation(boot=False)
    machines = [sim.main]
    machines += [sim.add_machine(f"m{i}", number=str(6_000_000 + i), boot=False)
                 for i in range(1, count)]  # fmt: skip
    for machine in machines:
        machine.power(True)
    sim.clock.advance(BOOT_LIMIT, stop=lambda: all(m.ready() for m in machines))
    if not all(m.ready() for m in machines):
        raise RuntimeError("not every machine reached standby")
    for machine in machines:
        machine.set_clock(sim.start_time)
    sim.clock.run_due()
    return sim, machines, time.perf_counter() - start


def bare_machines(count: int) -> list[object]:
    class Model:
        pass

    class HSM(HierarchicalMachine):
        state_cls = fwm._State

    models = [Model() for _ in range(count)]
    for model in models:
        HSM(model=model, states=fwm.STATES, transitions=fwm.TRANSITIONS, initial="off",
            auto_transitions=False)  # fmt: skip
    return models


def measure_memory(count: int, detail: bool) -> None:
    gc.collect()
    before = resident()
    sim, machines, wall = boot_together(count)
    gc.collect()
    per_machine = (resident() - before) / count
    gc.collect()
    before = resident()
    bare = bare_machines(count)
    gc.collect()
    per_bare = (resident() - before) / count
    print(f"machines: {count} booted in one process in {wall:.2f} s "
          f"({wall / count * 1000:.1f} ms a machine)")  # fmt: skip
    print(f"  resident memory a machine: {per_machine / 1024:.0f} KiB (goal < 512 KiB); "
          f"a bare HierarchicalMachine with the firmware's states: {per_bare / 1024:.0f} KiB "
          f"({per_bare / per_machine:.0%} of a machine)")  # fmt: skip
    del bare
    if detail:
        breakdown(min(count, 200))
    sim.close()


def breakdown(count: int) -> None:
    """Python objects a machine holds, by package (tracemalloc over `count` machines)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    sim, _, _ = boot_together(count)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    sizes: dict[str, int] = defaultdict(int)
    for stat in after.compare_to(before, "filename"):
        name = stat.traceback[0].filename
        for marker in ("site-packages/", "estudio190f/", "python3.11/"):
            if marker in name:
                name = name.split(marker, 1)[1]
                break
        parts = name.split("/")
        key = "/".join(parts[:2]) if parts[0] in ("hw", "firmware", "panel") else parts[0]
        sizes[key] += stat.size_diff
    total = sum(sizes.values())
    print(
        f"  Python objects a machine (tracemalloc, {count} machines): {total / count / 1024:.0f} KiB"
    )
    for key, size in sorted(sizes.items(), key=lambda kv: -kv[1])[:12]:
        print(f"    {size / count / 1024:6.1f} KiB  {key}")
    sim.close()


def measure_standby(count: int, runs: int) -> None:
    walls, bares, events = [], [], 0
    for _ in range(runs):
        sim, _, _ = boot_together(count)
        gc.collect()
        before = sim.clock.events_run
        start = time.perf_counter()
        sim.clock.advance(HOUR)
        walls.append(time.perf_counter() - start)
        events = sim.clock.events_run - before
        sim.close()
        del sim
        bares.append(bare_standby(count))
    wall, bare = statistics.median(walls), statistics.median(bares)
    print(f"standby: one virtual hour for all {count} machines: {wall:.2f} s wall "
          f"(goal < 5 s), {events:,} clock events, {wall / events * 1e6:.1f} us an event")  # fmt: skip
    print(f"  reference, the same minutes as bare timers through the clock: {bare:.2f} s "
          f"(the machines cost {wall / bare:.1f}x the scheduling alone)")  # fmt: skip


def bare_standby(count: int) -> float:
    clock = Clock()

    def tick() -> None:
        clock.call_later(MINUTE, tick)

    for i in range(count):
        clock.call_later(MINUTE - i, tick)
    start = time.perf_counter()
    clock.advance(HOUR)
    return time.perf_counter() - start


def measure_suite(scripts: int, jobs: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(scripts):
            path = Path(tmp) / f"s{i:04d}.txt"
            path.write_text(SHORT_SCRIPT)
            paths.append(str(path))
        command = [*CLI, "replay", "--relay", "none", *paths]
        subprocess.run([*CLI, "replay", "--relay", "none", paths[0]], stdout=subprocess.DEVNULL,
                       check=True, env=ENV)  # fmt: skip  # warm-up: bytecode, numba caches
        walls: dict[int, list[float]] = {1: [], jobs: []}
        cpus: dict[int, list[float]] = {1: [], jobs: []}
        for _ in range(runs):
            for n in (1, jobs):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run([*command, "--jobs", str(n)], stdout=subprocess.DEVNULL,
                               check=True, env=ENV)  # fmt: skip
                walls[n].append(time.perf_counter() - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus[n].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    one, many = statistics.median(walls[1]), statistics.median(walls[jobs])
    cpu_one, cpu_many = statistics.median(cpus[1]), statistics.median(cpus[jobs])
    speedup = one / many
    print(f"suite: {scripts} short scripts (COPY, expect, wait 1h, lcd?), median of {runs}, "
          f"load average {os.getloadavg()[0]:.1f} before:")  # fmt: skip
    print(f"  replay --jobs 1: {one:.2f} s wall ({one / scripts * 1000:.1f} ms a script), "
          f"{cpu_one:.2f} s CPU; --jobs {jobs}: {many:.2f} s wall, {cpu_many:.2f} s CPU")  # fmt: skip
    print(f"  speed-up {speedup:.2f}x, {speedup / jobs:.0%} of linear in {jobs} processes "
          f"({cpu_count()} CPUs here); CPU spent with {jobs} processes: "
          f"{cpu_many / cpu_one:.2f}x the serial run's, so on {jobs} idle CPUs the speed-up "
          f"would be {jobs * cpu_one / cpu_many:.2f}x")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=1000)
    parser.add_argument("--scripts", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=0, help="for the suite (0: one per CPU)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=("machines", "standby", "suite"))
    parser.add_argument(
        "--detail", action="store_true", help="Python objects a machine, by package"
    )
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {cpu_count()} CPUs, "
          f"virtual boot {BOOT_LIMIT // SECOND} s at most")  # fmt: skip
    if args.only in (None, "machines"):
        measure_memory(args.machines, args.detail)
    if args.only in (None, "standby"):
        measure_standby(args.machines, args.runs)
    if args.only in (None, "suite"):
        measure_suite(args.scripts, args.jobs or cpu_count(), args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
