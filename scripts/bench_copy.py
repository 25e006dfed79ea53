"""Copy throughput and memory, in max mode (virtual time runs as fast as the host allows).

    python scripts/bench_copy.py [--pages 10] [--repeats 5] [--memory-pages 50] [--chart PATH]

Throughput: wall seconds per copied page of ITU chart 1 at fine (scan to memory, print, the
printed sheet delivered), median of the repeats; once with the sheets kept in the tray only and
once with each written to printed/NNNN.png as `--out` does. The reference, timed in the same run,
is the least a copy can cost on this host: Pillow reading the chart and writing it as a PNG.
Memory: Python's peak allocation (tracemalloc) during a 50-page copy job, the loaded documents
included, and the growth of the process's peak resident size.
"""

from __future__ import annotations

import argparse
import io
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from PIL import Image

from estudio190f.firmware.copy import CopyJob
from estudio190f.firmware.paper import PaperHandling
from estudio190f.firmware.settings import Settings
from estudio190f.hw.board import Board
from estudio190f.hw.clock import HOUR, Clock
from estudio190f.hw.printer import WARM_UP
from estudio190f.panel.documents import load_sheets

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT.parent / "shared" / "testdata" / "ccitt" / "itu1.pbm"


class NoView:
    """The copy job's LCD, which nobody looks at here."""

    def show(self, line1: str, line2: str = "") -> None:
        pass

    def set_state(self, substate: str) -> None:
        pass

    def finish(self, line1: str = "", line2: str = "") -> None:
        pass


def copy_run(chart: Path, pages: int, out_dir: Path | None = None) -> tuple[float, int]:
    """Copy `pages` originals of the chart; wall seconds of the job and clock events it took."""
    clock = Clock()
    board = Board(clock)
    feeder, engine = board.feeder, board.printer
    board.power_on()
    settings = Settings(board.nvram)
    settings.set("paper.size", "a4")
    settings.set("feeder.capacity", 50)
    settings.set("paper.capacity", 500)
    settings.set("memory.size_kb", 65536)
    paper = PaperHandling(board, settings)  # the models follow the settings
    engine.load_paper(500)
    clock.advance(WARM_UP)
    if out_dir is not None:
        from estudio190f.panel.outputs import OutputWriter

        OutputWriter(out_dir, board)  # writes printed/NNNN.png as the emulator does
    sheets = load_sheets(chart)
    feeder.load(sheets * pages)
    results: list = []
    job = CopyJob(paper, settings, on_result=results.append)
    events = clock.events_run
    start = time.perf_counter()
    job.start(NoView(), 1, "fine")
    clock.advance(10 * HOUR, stop=lambda: bool(results))
    wall = time.perf_counter() - start
    if not results or results[0].sheets != pages:
        sys.exit(f"copy failed: {results}")
    return wall, clock.events_run - events


def reference(chart: Path) -> float:
    start = time.perf_counter()
    with Image.open(chart) as img:
        img.load()
        buf = io.BytesIO()
        img.save(buf, format="PNG")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--memory-pages", type=int, default=50)
    ap.add_argument("--chart", type=Path, default=CHART)
    args = ap.parse_args()
    if not args.chart.exists():
        sys.exit(f"test chart {args.chart} is absent")

    copy_run(args.chart, 1)  # warm caches and imports
    refs = [reference(args.chart) for _ in range(max(5, args.repeats))]
    plain, written, events = [], [], 0
    for _ in range(args.repeats):
        wall, events = copy_run(args.chart, args.pages)
        plain.append(wall / args.pages)
        with tempfile.TemporaryDirectory() as tmp:
            wall, _ = copy_run(args.chart, args.pages, Path(tmp))
            written.append(wall / args.pages)
    ref = statistics.median(refs)
    p, w = statistics.median(plain), statistics.median(written)
    print(f"chart {args.chart.name}, fine, A4, {args.pages} pages x {args.repeats} runs (medians)")
    print(f"reference (Pillow: read PBM + write PNG):   {ref * 1000:7.1f} ms/page")
    print(
        f"copy, sheets kept in the tray:              {p * 1000:7.1f} ms/page  ({p / ref:4.1f}x ref)"
    )
    print(
        f"copy, sheets written to printed/NNNN.png:   {w * 1000:7.1f} ms/page  ({w / ref:4.1f}x ref)"
    )
    print(f"clock events per copied page:               {events / args.pages:7.1f}")

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    wall, _ = copy_run(args.chart, args.memory_pages)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{args.memory_pages}-page copy job: peak Python allocation {peak / 2**20:.1f} MiB "
          f"(tracemalloc), peak RSS grew {max(0, rss_after - rss_before) / 1024:.1f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
