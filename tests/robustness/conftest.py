"""Helpers for the robustness tests: `estudio190f` as a user starts it, in a subprocess."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "estudio190f.panel.cli"]


def cli(
    *args: object, cwd: Path, timeout: float = 60, **kwargs
) -> subprocess.CompletedProcess[str]:
    """One `estudio190f` command to its end."""
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout, **kwargs
    )


class Running:
    """`estudio190f run --headless ...` in the background; its start lines read."""

    def __init__(self, cwd: Path, *args: object, prefix: tuple[str, ...] = ()) -> None:
        """`prefix`: what the command runs under (`ip netns exec NAME`)."""
        self.proc = subprocess.Popen(
            [*prefix, *CLI, "run", "--headless", "--relay", "none", "--out", str(cwd / "out"),
             *map(str, args)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
        )  # fmt: skip
        self.out = b""

    def read_until(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.out.decode(errors="replace"))
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                err = self.proc.stderr.read() if self.proc.poll() is not None else b""  # type: ignore[union-attr]
                raise AssertionError(f"no {pattern!r} in {self.out!r} {err!r}")
            if select.select([fd], [], [], left)[0]:
                self.out += os.read(fd, 65536)

    def tcp_port(self) -> int:
        return int(self.read_until(r"serial tcp 127\.0\.0\.1:(\d+)").group(1))

    def terminate(self, timeout: float = 10) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


@pytest.fixture
def running(tmp_path):
    made: list[Running] = []

    def start(*args: object) -> Running:
        r = Running(tmp_path, *args)
        made.append(r)
        return r

    yield start
    for r in made:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()
