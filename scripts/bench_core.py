"""Benchmarks of the machine core (issues 2 and 14). Not a test: prints medians and ratios.

    python scripts/bench_core.py [--runs 7] [--startup-only]

Start-up, each against a bare `python -c pass` started the same way in the same run (ratio), each
in a fresh process (median of the runs):
- `estudio190f --help`: wall time;
- a trivial `replay` (one `lcd?` step, `--relay none`, and with the default embedded relay):
  wall time and peak resident memory (ru_maxrss of the child, read by a wrapper process);
- `run --headless --relay none --speed max` from start to the first READY on the LCD.

Then the core itself, in this process:
- boot, in process: Simulation() construction to READY (virtual boot included), against building one
  bare transitions HierarchicalMachine with the same states (ratio).
- replay throughput: key presses per second through the interpreter in max mode (press + 100 ms
  hold + release each), against raw triggers of a transitions HierarchicalMachine (ratio).
- standby fast-forward: wall time of `wait 24h` in standby (target < 1 s).
"""

from __future__ import annotations

import argparse
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time

from transitions.extensions import HierarchicalMachine

from estudio190f.firmware import control_panel as fwm
from estudio190f.panel.interpreter import Interpreter, run_step
from estudio190f.panel.script import parse_line
from estudio190f.panel.sim import Simulation


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


CLI = [sys.executable, "-m", "estudio190f.panel.cli"]
# Children write and use bytecode caches as an installed program does (some shells here set
# PYTHONDONTWRITEBYTECODE, which makes every start compile ~100 modules: 0.15-0.2 s).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
# The peak resident memory of one child, in KiB: only the child counts, not this wrapper.
PEAK = (
    "import resource, subprocess, sys\n"
    "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def wall_and_peak(command: list[str], runs: int, cwd: str) -> tuple[float, float]:
    """Median wall seconds and median peak RSS (MiB) of `command`, each run a fresh process."""
    walls, peaks = [], []
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True, cwd=cwd, env=ENV)  # warm-up
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True, cwd=cwd, env=ENV)
        walls.append(time.perf_counter() - t)
        out = subprocess.run([sys.executable, "-c", PEAK, *command], capture_output=True,
                             text=True, check=True, cwd=cwd, env=ENV)  # fmt: skip
        peaks.append(int(out.stdout) / 1024)
    return statistics.median(walls), statistics.median(peaks)


def run_to_ready() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [*CLI, "run", "--headless", "--speed", "max", "--relay", "none", "--out", tmp],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=ENV,
        )  # fmt: skip
        buf = b""
        fd = proc.stdout.fileno()  # type: ignore[union-attr]
        while b"READY" not in buf:
            select.select([fd], [], [], 10)
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
        proc.terminate()
        proc.wait()
        if b"READY" not in buf:
            raise RuntimeError("run never showed READY")


def startup(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "trivial.txt")
        with open(script, "w") as f:
            f.write("lcd?\n")
        python_wall, python_peak = wall_and_peak([sys.executable, "-c", "pass"], runs, tmp)
        help_wall, _ = wall_and_peak([*CLI, "--help"], runs, tmp)
        bare_wall, bare_peak = wall_and_peak([*CLI, "replay", "--relay", "none", script], runs, tmp)
        relay_wall, relay_peak = wall_and_peak([*CLI, "replay", script], runs, tmp)
    run_to_ready()  # warm-up
    ready = median_time(run_to_ready, runs)
    print(f"start-up, median of {runs} fresh processes each "
          f"(bare python: {python_wall * 1000:.0f} ms, {python_peak:.0f} MiB):")  # fmt: skip
    rows = [
        ("--help", help_wall, None, 0.4),
        ("replay, one lcd? step, --relay none", bare_wall, bare_peak, 0.4),
        ("replay, one lcd? step, embedded relay", relay_wall, relay_peak, 0.4),
        ("run --headless to READY", ready, None, 0.5),
    ]
    for name, wall, peak, target in rows:
        memory = f", peak {peak:.0f} MiB (target < 60)" if peak is not None else ""
        print(f"  {name:<40} {wall * 1000:5.0f} ms ({wall / python_wall:4.1f}x bare python; "
              f"target < {target * 1000:.0f} ms){memory}")  # fmt: skip


def bare_hsm() -> HierarchicalMachine:
    class M:
        pass

    class HM(HierarchicalMachine):
        state_cls = fwm._State

    return HM(model=M(), states=fwm.STATES, initial="off", auto_transitions=False)


def presses_per_second(count: int) -> float:
    sim = Simulation()
    interp = Interpreter(sim)
    steps = [
        parse_line(line) for line in ("press COPY", "press 1 2", "press CLEAR CLEAR", "press FAX")
    ]
    keys = 6
    t = time.perf_counter()
    for _ in range(count // keys):
        for step in steps:
            run_step(interp, step)  # type: ignore[arg-type]
    return (count // keys * keys) / (time.perf_counter() - t)


def raw_triggers_per_second(count: int) -> float:
    class M:
        pass

    class HM(HierarchicalMachine):
        state_cls = fwm._State

    model = M()
    HM(model=model, states=fwm.STATES, initial="standby.fax", auto_transitions=True)
    t = time.perf_counter()
    for _ in range(count // 2):
        model.trigger("to_standby.copy")  # type: ignore[attr-defined]
        model.trigger("to_standby.fax")  # type: ignore[attr-defined]
    return (count // 2 * 2) / (time.perf_counter() - t)


def standby_day() -> float:
    sim = Simulation()
    interp = Interpreter(sim)
    step = parse_line("wait 24h")
    t = time.perf_counter()
    run_step(interp, step)  # type: ignore[arg-type]
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--startup-only", action="store_true")
    args = parser.parse_args()
    runs = args.runs
    startup(runs)
    if args.startup_only:
        return

    boot_inproc = median_time(Simulation, runs * 3)
    hsm = median_time(bare_hsm, runs * 3)
    press_rates = [presses_per_second(3000) for _ in range(runs)]
    trigger_rates = [raw_triggers_per_second(3000) for _ in range(runs)]
    days = [standby_day() for _ in range(runs)]

    press, trig = statistics.median(press_rates), statistics.median(trigger_rates)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, median of {runs}")
    print(
        f"boot, in process to READY:    {boot_inproc * 1000:.1f} ms "
        f"(one bare HierarchicalMachine {hsm * 1000:.2f} ms, ratio {boot_inproc / hsm:.1f}x)"
    )
    print(
        f"replay: {press:,.0f} key presses/s "
        f"(raw HSM triggers {trig:,.0f}/s; presses cost {trig / press:.1f} triggers each)"
    )
    day = statistics.median(days)
    print(
        f"standby, wait 24h: {day * 1000:.0f} ms wall ({86400 / day:,.0f}x real time; target < 1 s)"
    )


if __name__ == "__main__":
    main()
