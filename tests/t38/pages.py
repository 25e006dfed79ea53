"""Small pages for the T.38 call tests, and the processes those tests start.

A page is drawn on the scanner's fine grid (8 pels/mm across, 7.7 lines/mm down, the PNG saying
so), so that with `SAME_ON_PAPER` (fine resolution, no transmit header) the page a machine sends
is the drawing pel for pel, and what the far end files or prints can be compared to it exactly
(the tolerance of the other fax tests: none). Pages are short (240 lines): the point of these
tests is the path, not the chart, and at real time every second of air time counts.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from itertools import groupby
from pathlib import Path

import numpy as np
from PIL import Image

from estudio190f.firmware.page import Page
from estudio190f.firmware.tiff_f import read_tiff_f, write_tiff_f

FINE_DPI = (203.2, 195.58)  # the scanner's fine grid, as a PNG's pHYs holds it
LINES = 240
SAME_ON_PAPER = '[scan]\nresolution = "fine"\n[transmit]\nheader = "off"\n'
HARNESS = Path(__file__).with_name("spandsp_udptl.py")


def drawing(n: int, lines: int = LINES) -> np.ndarray:
    """Page `n`: 1728 x `lines`, True = black, with `n` bars and a pattern of its own."""
    pixels = np.zeros((lines, 1728), dtype=bool)
    pixels[8:12, :] = True
    for i in range(n):
        pixels[30 + 30 * i : 45 + 30 * i, 100:700] = True
    rng = np.random.default_rng(n)
    pixels[140:220, 800:1600] = rng.random((80, 800)) < 0.1  # a texture no two pages share
    return pixels


def page_png(path: Path, n: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(~drawing(n)).convert("1").save(path, dpi=FINE_DPI)
    return path


def page_tiff(path: Path, *numbers: int) -> Path:
    """Pages as a TIFF Class F file SpanDSP can send (MH, fine)."""
    path.write_bytes(write_tiff_f([Page(drawing(n), "fine") for n in numbers], "mh"))
    return path


def tiff_pages(path: Path) -> list[Page]:
    return read_tiff_f(path.read_bytes())


def is_page(got: Page, n: int) -> bool:
    want = drawing(n)
    return got.pixels.shape == want.shape and bool((got.pixels == want).all())


def t30_frames(capture: str) -> list[tuple[str, str]]:
    """(source address, frame name) of every T.30 frame tshark finds, repeats of one name from
    one address (ECM frames, RCP) counted once."""
    out = subprocess.run(
        ["tshark", "-r", capture, "-d", "udp.port==6000,t38", "-Y", "t30",
         "-T", "fields", "-e", "ip.src", "-e", "_ws.col.Info"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    frames = [
        (line.split("\t")[0], name)
        for line in out.splitlines()
        for name in re.findall(r"HDLC Reassembled: ([A-Z]+) -", line)
    ]
    return [key for key, _ in groupby(frames)]


class Process:
    """A subprocess whose output is read line by line as it comes."""

    def __init__(self, args: list[str], cwd: Path, stdin: bool = False) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.buffer = b""
        self.lines: list[str] = []

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def wait_for(self, prefix: str, timeout: float) -> str:
        """The next output line starting with `prefix` (AssertionError with the output at the
        limit, or when the process ends first)."""
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while True:
            while b"\n" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\n", 1)
                line = raw.decode(errors="replace")
                self.lines.append(line)
                if line.startswith(prefix):
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {prefix!r} within {timeout} s: {self.output()}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError(f"ended before {prefix!r}: {self.output()}")
                self.buffer += chunk

    def step(self, line: str, timeout: float) -> None:
        """A script step at `run`'s prompt, done (OK) within `timeout` wall seconds."""
        self.send(line)
        answer = self.wait_for_any(("OK", "ERR"), timeout)
        assert answer == "OK", f"{line}: {answer}\n{self.output()}"

    def wait_for_any(self, prefixes: tuple[str, ...], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.wait_for("", max(0.01, deadline - time.monotonic()))
            if line.startswith(prefixes):
                return line

    def output(self) -> str:
        return "\n".join(self.lines) + "\n" + self.buffer.decode(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()

    def finish(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"still running after {timeout} s: {self.output()}") from None


def run_machine(
    workdir: Path, *extra: str, speed: float, config: str = "", prefix: tuple[str, ...] = ()
) -> Process:
    """`estudio190f run --headless` in `workdir` (output in workdir/out), at `speed`, taking
    steps at its prompt (`prefix`: what runs it, e.g. `ip netns exec NAME`)."""
    args = [*prefix, sys.executable, "-m", "estudio190f.panel.cli", "run", "--headless",
            "--relay", "none", "--speed", str(speed), "--out", str(workdir / "out"), *extra]  # fmt: skip
    workdir.mkdir(parents=True, exist_ok=True)
    if config:
        (workdir / "settings.toml").write_text(config)
        args += ["--config", str(workdir / "settings.toml")]
    return Process(args, workdir, stdin=True)


def spandsp_udptl(workdir: Path, *extra: str) -> Process:
    """SpanDSP's T.38 terminal behind a UDPTL socket (spandsp_udptl.py); its `udptl` line read."""
    workdir.mkdir(parents=True, exist_ok=True)
    process = Process([sys.executable, str(HARNESS), *extra], workdir)
    return process


def address_of(line: str) -> tuple[str, int]:
    """`t38 udptl 127.0.0.1:PORT` or `udptl 127.0.0.1:PORT` -> the address."""
    host, _, port = line.split()[-1].rpartition(":")
    return host, int(port)
