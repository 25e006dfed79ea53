"""Benchmark: T.38 calls between two `estudio190f run` processes, and what `--capture` costs.

1. Two processes, each `run --headless --t38 PORT --speed S`, the first sending ITU charts 1 and
   2 (fine resolution, the factory's ECM and MMR) to the second over loopback UDPTL. For each
   page: its air time (virtual time from the T.30 page start to the next page's start, or to the
   call's result, from the sender's events.jsonl) against the wall time between the LCD lines
   `SENDING P.00k` the sender's prompt printed (read as they came). With the clocks following the
   wall, wall x speed / air is 1.0 when both processes keep up; above it, they fell behind.
2. `replay` of a fax call on the virtual line (two simulated machines, charts 1 and 2, ECM/MMR)
   with and without `--capture`, alternated in one process (the replay's own wall time, as its
   PASS line reports it): medians and best times, and the time spent inside the capture (its
   hook on the exchange, opening and closing the file, timed in place), as ratios. Twice: the
   replay ending when the sender shows COMPLETED, and ending when the receiver has printed.

    python scripts/bench_t38_calls.py [--speeds 1,4] [--replays 15] [--part calls|capture|all]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testdata_path import TESTDATA

CHARTS = [TESTDATA / "ccitt" / f"itu{n}.pbm" for n in (1, 2)]
SENDER, RECEIVER = "5551234", "5559876"


class Prompt:
    """`estudio190f run --headless`, its output lines stamped with the wall time they came."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "estudio190f.panel.cli", "run", "--headless", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.buffer = b""
        self.lines: list[tuple[float, str]] = []

    def until(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        seen = len(self.lines)
        while True:
            for _, line in self.lines[seen:]:
                if line.startswith(prefix):
                    return line
            seen = len(self.lines)
            left = deadline - time.monotonic()
            if left <= 0:
                raise SystemExit(f"no {prefix!r}: {[t for _, t in self.lines][-20:]}")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise SystemExit(f"the process ended: {[t for _, t in self.lines][-20:]}")
                self.buffer += chunk
                now = time.monotonic()
                while b"\n" in self.buffer:
                    raw, self.buffer = self.buffer.split(b"\n", 1)
                    self.lines.append((now, raw.decode(errors="replace")))

    def step(self, text: str, timeout: float) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()
        answer = self.until_any(("OK", "ERR"), timeout)
        if answer != "OK":
            raise SystemExit(f"{text}: {answer}")

    def until_any(self, prefixes: tuple[str, ...], timeout: float) -> str:
        start = len(self.lines)
        deadline = time.monotonic() + timeout
        while True:
            self.until("", max(0.01, deadline - time.monotonic()))
            for _, line in self.lines[start:]:
                if line.startswith(prefixes):
                    return line
            start = len(self.lines)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def call_between_processes(speed: float, folder: Path) -> list[tuple[float, float]]:
    """(air seconds, wall seconds) of each page of a call between two processes."""
    port_a, port_b = free_ports(2)
    config = folder / "{}.toml"
    for name, number, port in (("a", RECEIVER, port_b), ("b", SENDER, port_a)):
        Path(str(config).format(name)).write_text(
            f'[scan]\nresolution = "fine"\n[line.peers]\n"{number}" = "t38:127.0.0.1:{port}"\n'
        )
    common = ["--relay", "none", "--speed", str(speed)]
    a = Prompt([*common, "--t38", str(port_a), "--out", str(folder / "a"),
                "--config", str(config).format("a")])  # fmt: skip
    b = Prompt([*common, "--t38", str(port_b), "--out", str(folder / "b"), "--number", RECEIVER,
                "--config", str(config).format("b")])  # fmt: skip
    try:
        for p in (a, b):
            p.until("machine", 30)
        a.step("adf load " + " ".join(str(c) for c in CHARTS), 30)
        a.step(f"press {' '.join(RECEIVER)} START", 30)
        a.step('until lcd "COMPLETED" within 10m', 600 / speed + 60)
    finally:
        a.stop()
        b.stop()
    walls = [t for t, line in a.lines if re.match(r"LCD \|SENDING P\.\d{3}", line)]
    walls.append(next(t for t, line in a.lines if line.startswith("LCD |COMPLETED")))
    events = [json.loads(x) for x in (folder / "a" / "events.jsonl").read_text().splitlines()]
    starts = [float(e["t"]) for e in events
              if e["src"] == "t30" and e["ev"] == "page" and e.get("event") == "start"]  # fmt: skip
    starts.append(next(float(e["t"]) for e in events if e["src"] == "fax" and e["ev"] == "result"))
    # one LCD line per page start (the line changes as the page starts)
    walls = _firsts(walls, len(starts))
    return [(starts[i + 1] - starts[i], walls[i + 1] - walls[i]) for i in range(len(starts) - 1)]


def _firsts(times: list[float], count: int) -> list[float]:
    if len(times) < count:
        raise SystemExit(f"{len(times)} SENDING lines for {count} page marks")
    return times[-count:]


SCRIPTS = {
    "the call": 'until lcd "COMPLETED" within 5m\n',
    "the call and the printout": 'until lcd "COMPLETED" within 5m\non branch until printed 2 within 2m\n',
}


INSIDE = [0.0]  # seconds spent inside the capture during one replay


def capture_cost(replays: int, folder: Path, ending: str) -> tuple[list[float], list[float], float]:
    """Wall seconds of each replay of a fax call without and with --capture, and the seconds
    spent inside the capture (its hook on the exchange, opening and closing the file) per
    replay with it (median)."""
    from estudio190f.panel import call_capture
    from estudio190f.panel.cli import replay_one

    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "call.txt"
    script.write_text(
        "device branch 5559876\n"
        f"adf load {' '.join(str(c) for c in CHARTS)}\n"
        "press 5 5 5 9 8 7 6 START\n" + ending
    )
    inside = INSIDE
    capture_file = call_capture.CallCaptureFile
    if not getattr(capture_file, "_timed", False):
        for name in ("__init__", "_tap", "close"):
            setattr(capture_file, name, _timed(getattr(capture_file, name), inside))
        capture_file._timed = True  # type: ignore[attr-defined]
    plain: list[float] = []
    captured: list[float] = []
    spent: list[float] = []
    devnull = open(os.devnull, "w")
    stdout = sys.stdout
    for i in range(replays + 1):
        for capture, into in ((False, plain), (True, captured)):
            out = folder / f"r{i}-{int(capture)}"
            inside[0] = 0.0
            sys.stdout = devnull
            try:
                result = replay_one(script, None, out, 0, relay=False, capture=capture)
            finally:
                sys.stdout = stdout
            if result.status != "passed":
                raise SystemExit(f"replay {result.status}: {result.message}")
            if i:  # the first round warms up (imports, the codec's compiled kernels)
                into.append(result.wall_seconds)
                if capture:
                    spent.append(inside[0])
    return plain, captured, statistics.median(spent)


def _timed(fn, into: list[float]):  # type: ignore[no-untyped-def]
    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            into[0] += time.perf_counter() - start

    return timed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--speeds", default="1,4")
    parser.add_argument("--replays", type=int, default=15)
    parser.add_argument("--part", choices=("calls", "capture", "all"), default="all")
    args = parser.parse_args()
    for chart in CHARTS:
        if not chart.exists():
            raise SystemExit(f"{chart}: missing (set ESTUDIO190F_TESTDATA)")
    with tempfile.TemporaryDirectory(prefix="bench-t38-") as tmp:
        folder = Path(tmp)
        if args.part in ("calls", "all"):
            print("| speed | page | air time | wall time | wall x speed / air |")
            print("|---|---|---|---|---|")
            for speed in (float(s) for s in args.speeds.split(",")):
                where = folder / f"speed{speed:g}"
                where.mkdir()
                for n, (air, wall) in enumerate(call_between_processes(speed, where), start=1):
                    print(f"| {speed:g} | {n} | {air:.2f} s | {wall:.2f} s | "
                          f"{wall * speed / air:.3f} |", flush=True)  # fmt: skip
        if args.part in ("capture", "all"):
            print(
                "| replay of a 2-page fax call, until | median without | median with --capture "
                "| ratio | best without | best with | ratio | time inside the capture |"
            )
            print("|---|---|---|---|---|---|---|---|")
            for what, ending in SCRIPTS.items():
                plain, captured, spent = capture_cost(args.replays, folder / what[4:8], ending)
                a, b = statistics.median(plain), statistics.median(captured)
                c, d = min(plain), min(captured)
                print(f"| {what} | {a * 1e3:.0f} ms | {b * 1e3:.0f} ms | {b / a:.3f} | "
                      f"{c * 1e3:.0f} ms | {d * 1e3:.0f} ms | {d / c:.3f} | "
                      f"{spent * 1e3:.1f} ms = {spent / a:.1%} of the median without |",
                      flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
