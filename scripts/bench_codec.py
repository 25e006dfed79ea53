#!/usr/bin/env python3
"""Benchmark: the machine's T.4/T.6 codec against libtiff (through Pillow), in the same run.

For each ITU chart and each coding, encode and decode one page many times, take the median,
and report pages per second for us and for libtiff and the ratio (ours / libtiff; above 1 is
faster than libtiff). The target (docs/benchmarks.md): encode + decode at least 0.5x
libtiff for every coding on every chart.

What is timed, on both sides, is the codec: a numpy bool page in, a coded strip out, and back.
libtiff is handed the page as Pillow's mode "1" image made beforehand; Pillow writes it
min-is-black, so the bits it codes are the page's own (1 = black run) and no inversion runs in
Python (passing tiffinfo={262: 0} would make Pillow invert the page in a Python loop, timing
Pillow rather than libtiff). libtiff's MR is Pillow's group3 with T4Options = 1 (K = 2).

Also measured, each in a fresh interpreter: the start-up cost of the codec (import and first
call) with an empty numba cache (compilation) and with the cache filled.

    python scripts/bench_codec.py [--repeat 21] [--charts 1 2 3 4] [--no-startup]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np
from PIL import Image
from testdata_path import CHARTS

from estudio190f.firmware.codec import decode, encode

PILLOW = {"mh": ("group3", None), "mr": ("group3", 1), "mmr": ("group4", None)}

STARTUP = """
import time
started = time.perf_counter()
import numpy as np
from estudio190f.firmware.codec import decode, encode
imported = time.perf_counter()
page = np.zeros((8, 1728), bool)
page[:, 100:200] = True
for coding in ("mh", "mr", "mmr"):
    decode(encode(page, coding), coding)
done = time.perf_counter()
print(f"{imported - started:.3f} {done - imported:.3f}")
"""


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm: first-call costs are reported separately
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def libtiff_codec(page: np.ndarray, coding: str) -> tuple[Callable[[], bytes], Callable[[], None]]:
    compression, t4 = PILLOW[coding]
    image = Image.fromarray(page)  # made once, outside the timing
    options = {"tiffinfo": {292: t4}} if t4 is not None else {}

    def encode_page() -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="TIFF", compression=compression, strip_size=1 << 30, **options)
        return buffer.getvalue()

    data = encode_page()

    def decode_page() -> None:
        with Image.open(io.BytesIO(data)) as decoded:
            decoded.load()

    return encode_page, decode_page


def bench(charts: list[int], repeat: int) -> list[dict[str, float | int | str]]:
    rows = []
    for n in charts:
        with Image.open(CHARTS / f"itu{n}.pbm") as image:
            page = ~np.asarray(image, dtype=bool)
        for coding in ("mh", "mr", "mmr"):
            data = encode(page, coding)
            assert np.array_equal(decode(data, coding).pixels, page)
            ours_enc = median_seconds(lambda: encode(page, coding), repeat)  # noqa: B023
            ours_dec = median_seconds(lambda: decode(data, coding), repeat)  # noqa: B023
            lib_encode, lib_decode = libtiff_codec(page, coding)
            lib_enc = median_seconds(lib_encode, repeat)
            lib_dec = median_seconds(lib_decode, repeat)
            rows.append(
                {
                    "chart": n,
                    "coding": coding,
                    "bytes": len(data),
                    "ours_enc": ours_enc,
                    "ours_dec": ours_dec,
                    "lib_enc": lib_enc,
                    "lib_dec": lib_dec,
                }
            )
    return rows


def startup() -> tuple[tuple[float, float], tuple[float, float]]:
    """(import, first calls) in seconds: with an empty numba cache, then with it filled."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        runs = []
        for _ in range(2):
            out = subprocess.run(
                [sys.executable, "-c", STARTUP], env=env, check=True, capture_output=True, text=True
            ).stdout.split()
            runs.append((float(out[0]), float(out[1])))
    return runs[0], runs[1]


def report(rows: list[dict[str, float | int | str]], repeat: int) -> str:
    lines = [
        f"Median of {repeat} runs per cell; pages/s = 1 / median seconds; ratio = ours / libtiff.",
        "",
        "| chart | coding | bytes | ours enc p/s | ours dec p/s | libtiff enc p/s | "
        "libtiff dec p/s | enc ratio | dec ratio | enc+dec ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    worst = float("inf")
    for r in rows:
        ours = float(r["ours_enc"]) + float(r["ours_dec"])
        lib = float(r["lib_enc"]) + float(r["lib_dec"])
        worst = min(worst, lib / ours)
        lines.append(
            f"| {r['chart']} | {str(r['coding']).upper()} | {r['bytes']} "
            f"| {1 / float(r['ours_enc']):.0f} | {1 / float(r['ours_dec']):.0f} "
            f"| {1 / float(r['lib_enc']):.0f} | {1 / float(r['lib_dec']):.0f} "
            f"| {float(r['lib_enc']) / float(r['ours_enc']):.2f} "
            f"| {float(r['lib_dec']) / float(r['ours_dec']):.2f} | {lib / ours:.2f} |"
        )
    lines += ["", f"Lowest encode+decode ratio: {worst:.2f} (target: at least 0.5)"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--charts", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up runs")
    args = parser.parse_args()
    if not CHARTS.exists():
        print(f"the ITU charts are not at {CHARTS}", file=sys.stderr)
        return 2
    print(report(bench(args.charts, args.repeat), args.repeat))
    if not args.no_startup:
        (cold_import, cold_call), (warm_import, warm_call) = startup()
        print()
        print(
            f"Start-up, empty numba cache: import {cold_import:.2f} s, first encode+decode of "
            f"each coding {cold_call:.2f} s (compiling)"
        )
        print(
            f"Start-up, cache filled:      import {warm_import:.2f} s, first encode+decode of "
            f"each coding {warm_call:.2f} s (loading)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
