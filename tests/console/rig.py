"""Test helpers for the serial console: a machine with console endpoints served by the real-time
runner in a background thread (the test thread acts as the client), and a line-oriented client
on pyserial that keeps the exact bytes it received."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import serial

from estudio190f.panel.console import PtyEndpoint, SocketEndpoint, open_endpoint
from estudio190f.panel.interpreter import Interpreter
from estudio190f.panel.runner import Runner
from estudio190f.panel.sim import Simulation

START = datetime(2026, 1, 1, 9, 0)
LCD_DATE = re.compile(r"\d\d-\d\d-\d{4} \d\d:\d\d")


class ConsoleRig:
    """A simulation, its runner in a thread, and console endpoints opened as `run --serial` does.

    Everything is built, run and closed in the runner's thread (NVRAM's SQLite connection
    belongs to the thread that made it); `setup(rig)` runs there before the loop starts. From
    the test thread drive the machine through the console, as a user would, and only look.
    """

    def __init__(self, tmp_path: Path, specs: list[str], speed: float | None = 1.0,
                 setup: Callable[[ConsoleRig], None] | None = None) -> None:  # fmt: skip
        self.tmp_path = tmp_path
        self.specs = specs
        self.speed = speed
        self.setup = setup
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._main, name="runner", daemon=True)
        self.thread.start()
        if not self.ready.wait(60) or self.error is not None:
            self.stop()
            raise AssertionError(f"the rig did not start: {self.error!r}")

    def _main(self) -> None:
        # a pipe to wake the select loop, so stop() need not wait out its slice
        self._wake_r, self._wake_w = os.pipe()
        try:
            self.sim = Simulation(start_time=START)
            self.runner = Runner(self.sim.clock, self.speed)
            self.interp = Interpreter(self.sim, base_dir=self.tmp_path)
            self.endpoints = [
                open_endpoint(s, self.sim, self.runner, self.interp) for s in self.specs
            ]
            self.runner.add_reader(self._wake_r, lambda: os.read(self._wake_r, 64) and None)
            if self.setup is not None:
                self.setup(self)
        except BaseException as exc:
            self.error = exc
            self.ready.set()
            return
        self.ready.set()
        try:
            self.runner.run()
        except BaseException as exc:  # surfaced by stop(): a crash in the loop fails the test
            self.error = exc
        finally:
            for endpoint in self.endpoints:
                endpoint.close()
            self.sim.close()
            os.close(self._wake_r)
            os.close(self._wake_w)

    def stop(self) -> None:
        if self.thread.is_alive():
            if hasattr(self, "runner"):
                self.runner.stop()
                os.write(self._wake_w, b"!")
            self.thread.join(timeout=10)
            assert not self.thread.is_alive(), "the runner did not stop"
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def endpoint(self, kind: str) -> PtyEndpoint | SocketEndpoint:
        for endpoint in self.endpoints:
            if endpoint.describe().split()[1] == kind:
                return endpoint
        raise KeyError(kind)

    def url(self, kind: str) -> str:
        words = self.endpoint(kind).describe().split()
        if kind == "pty":
            return words[2]
        return ("socket://" if kind == "tcp" else "rfc2217://") + words[2]

    def address(self, kind: str) -> tuple[str, int]:
        host, port = self.endpoint(kind).describe().split()[2].split(":")
        return host, int(port)


class LineClient:
    """A console client on pyserial: sends lines, collects what comes back, byte for byte."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.port = serial.serial_for_url(url, timeout=0.05)
        self.timeout = timeout
        self.received = b""  # everything, for exact checks
        self.pending = b""  # not yet handed out as lines

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        self.port.write(data)
        self.port.flush()

    def _fill(self) -> bool:
        data = self.port.read(self.port.in_waiting or 1)
        self.received += data
        self.pending += data
        return bool(data)

    def read_until(self, pattern: bytes | re.Pattern[bytes], timeout: float | None = None) -> bytes:
        """Bytes up to and including the first match of `pattern` (consumed from `pending`)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        rx = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
        while True:
            m = rx.search(self.pending)
            if m:
                out, self.pending = self.pending[: m.end()], self.pending[m.end() :]
                return out
            if time.monotonic() > deadline:
                raise AssertionError(f"no {rx.pattern!r} within the timeout; got {self.pending!r}")
            self._fill()

    def answer(self, line: str, timeout: float | None = None) -> bytes:
        """Send one command; the bytes of its answer, events left out, up to OK or ERR."""
        self.send(line.encode() + b"\r\n")
        raw = self.read_until(FINAL, timeout)
        return b"".join(x for x in raw.splitlines(keepends=True) if not x.startswith(b"! "))

    def lines(self, line: str, timeout: float | None = None) -> list[str]:
        return self.answer(line, timeout).decode().split("\r\n")[:-1]

    def close(self) -> None:
        self.port.close()


FINAL = re.compile(rb"(?m)^(OK|ERR[^\r\n]*)\r\n")
