#!/usr/bin/env python3
"""Benchmark: scan-to-email of ITU charts 1-4 (fine) to the embedded relay, wall seconds.

    python scripts/bench_email.py [--runs 5] [--format tiff|pdf]

Times one job of the four pages from `submit()` to the relay's 250 (the engine's stage
listener marks the boundaries), split into encoding, message building and SMTP, and compares
with a reference in the same run: libtiff's G3 encoder through Pillow for the same pages, plus
plain `smtplib.sendmail` of the same message bytes to the same relay. Medians of --runs.
Scanning is not part of this engine (the panel flow scans); it is not timed here.
"""

from __future__ import annotations

import argparse
import io
import smtplib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from testdata_path import CHARTS as TESTDATA


def load_pages() -> list:
    from estudio190f.firmware.page import Page

    pages = []
    for n in (1, 2, 3, 4):
        with Image.open(TESTDATA / f"itu{n}.pbm") as img:
            pages.append(Page(~np.asarray(img.convert("1"), dtype=bool), "fine"))
    return pages


def one_run(pages: list, fmt: str, port: int, user: str, password: str) -> dict[str, float]:
    from estudio190f.firmware.email import ScanToEmail
    from estudio190f.firmware.journal import Journal
    from estudio190f.firmware.settings import Settings
    from estudio190f.hw.board import Board
    from estudio190f.hw.clock import HOUR, Clock
    from estudio190f.panel.runner import advance

    board = Board(Clock())
    settings = Settings(board.nvram)
    for key, value in {
        "smtp.host": "127.0.0.1",
        "smtp.port": port,
        "smtp.user": user,
        "smtp.password": password,
        "smtp.format": fmt,
    }.items():
        settings.set(key, value)
    board.power_on()
    engine = ScanToEmail(board, settings, Journal(board.nvram, lambda: "01-01-2026 09:00"))
    marks: list[tuple[str, float]] = []
    engine.on_stage = lambda name: marks.append((name, time.perf_counter()))
    start = time.perf_counter()
    marks.append(("submit", start))
    engine.submit(["office@example.com"], pages, "fine")
    # replay's driver: it serves the LAN port's socket while the clock waits at the instant
    advance(board.clock, HOUR, stop=lambda: not engine.pending())
    assert marks[-1][0] == "done", marks
    split = {"encode": 0.0, "build": 0.0, "smtp": 0.0, "other": 0.0}
    for (name, t0), (_, t1) in zip(marks, marks[1:], strict=False):
        split[name if name in split else "other"] += t1 - t0
    split["total"] = marks[-1][1] - start
    return split


def reference_run(pages: list, port: int, user: str, password: str) -> dict[str, float]:
    """libtiff's G3 (Pillow) for the pages, then smtplib.sendmail of a message that size."""
    t0 = time.perf_counter()
    images = [Image.fromarray(~p.pixels) for p in pages]
    out = io.BytesIO()
    images[0].save(out, "TIFF", compression="group3", save_all=True, append_images=images[1:])
    t1 = time.perf_counter()
    from email.message import EmailMessage
    from email.policy import SMTP

    msg = EmailMessage(policy=SMTP)
    msg["From"], msg["To"], msg["Subject"] = "fax@example.com", "office@example.com", "ref"
    msg.add_attachment(out.getvalue(), maintype="image", subtype="tiff", filename="ref.tif")
    data = msg.as_bytes()
    t2 = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.ehlo()
        smtp.user, smtp.password = user, password
        smtp.auth("CRAM-MD5", smtp.auth_cram_md5, initial_response_ok=False)
        smtp.sendmail("fax@example.com", ["office@example.com"], data)
    t3 = time.perf_counter()
    return {"encode": t1 - t0, "build": t2 - t1, "smtp": t3 - t2, "total": t3 - t0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--format", choices=("tiff", "pdf"), default="tiff")
    args = parser.parse_args(argv)
    if not TESTDATA.exists():
        print(f"test data absent: {TESTDATA}", file=sys.stderr)
        return 2
    from estudio190f.panel.relay import EmbeddedRelay

    pages = load_pages()
    user, password = "tim", "tanstaaftanstaaf"
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRelay(Path(tmp), {user: password}) as relay:
        one_run(pages, args.format, relay.port, user, password)  # warm-up (codec tables, JIT)
        reference_run(pages, relay.port, user, password)
        ours, ref = [], []
        for _ in range(args.runs):
            ours.append(one_run(pages, args.format, relay.port, user, password))
            ref.append(reference_run(pages, relay.port, user, password))

    def median(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    print(f"scan-to-email, ITU charts 1-4 fine, {args.format}, median of {args.runs} runs (s)")
    print(f"{'stage':<8} {'ours':>8} {'reference':>10} {'ours/ref':>9}")
    for key in ("encode", "build", "smtp", "total"):
        a, b = median(ours, key), median(ref, key)
        print(f"{key:<8} {a:8.4f} {b:10.4f} {a / b if b else float('nan'):9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
