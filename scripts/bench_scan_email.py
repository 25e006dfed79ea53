"""Benchmark: scan-to-email through the panel, START to the relay's 250.

    python scripts/bench_scan_email.py [--runs 5] [--format tiff|pdf]

ITU charts 1-4 in the feeder, fine; SCAN, an address, START, in max mode against the embedded
relay (aiosmtpd on 127.0.0.1, CRAM-MD5). Wall seconds from START to the end of the job (the relay
has answered 250 and the journal has the entry), split at the engine's stage marks into scanning
(feeder + CIS + thresholding, START to the pages handed over), encoding (TIFF-F MH or PDF/MMR),
message building, and SMTP. The reference in the same run: Pillow reading the four PBM charts,
the least a scan can cost on the host. Medians of --runs, after one warm-up run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image
from testdata_path import CHARTS as CHART_DIR

from estudio190f.panel.pytest_plugin import make_driver
from estudio190f.panel.runner import advance

CHARTS = [CHART_DIR / f"itu{n}.pbm" for n in (1, 2, 3, 4)]


def one_run(fmt: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        fax = make_driver(Path(tmp), relay=True)
        fax.firmware.settings.set("smtp.format", fmt)
        fax.firmware.settings.set("scan.resolution", "fine")
        fax.step("adf load " + " ".join(str(c) for c in CHARTS))
        fax.press("SCAN", "2", "CLEAR")
        fax.type("office@example.com")
        fax.run_for("2s")
        marks: dict[str, float] = {}
        fax.firmware.email.engine.on_stage = lambda name: marks.setdefault(
            name, time.perf_counter()
        )
        done: list[float] = []
        fax.firmware.email.engine.listeners.add(lambda r: done.append(time.perf_counter()))
        t0 = time.perf_counter()
        fax.press("START")
        advance(fax.sim.clock, 600_000_000, stop=lambda: bool(done))  # serves the SMTP socket
        if not done:
            raise RuntimeError(f"no result: {fax.lcd}")
        end = done[0]
        fax.sim.close()
    return {
        "scan": marks["encode"] - t0,
        "encode": marks["build"] - marks["encode"],
        "build": marks["smtp"] - marks["build"],
        "smtp": end - marks["smtp"],
        "total": end - t0,
    }


def reference() -> float:
    t0 = time.perf_counter()
    for chart in CHARTS:
        with Image.open(chart) as img:
            img.load()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--format", choices=("tiff", "pdf"), default="tiff")
    args = parser.parse_args()
    one_run(args.format)  # warm-up: numba caches, imports
    runs = [one_run(args.format) for _ in range(args.runs)]
    refs = [reference() for _ in range(args.runs)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    ref = statistics.median(refs)
    print(f"scan-to-email, ITU 1-4 fine, {args.format}, median of {args.runs} (seconds)")
    for k in ("scan", "encode", "build", "smtp", "total"):
        print(f"  {k:<7} {med[k]:.4f}")
    print(
        f"  reference (Pillow reads the 4 charts): {ref:.4f}; scan / reference {med['scan'] / ref:.1f}x"
    )


if __name__ == "__main__":
    main()
