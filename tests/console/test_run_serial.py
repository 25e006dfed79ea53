"""`estudio190f run --serial ...` as a user starts it: the endpoint lines it prints, pyserial
through all three endpoints of one running machine, events, random bytes, a clean shutdown."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import serial

from .rig import FINAL, LineClient

ENDPOINT = re.compile(r"^serial (pty|tcp|rfc2217) (\S+)$")
LCD = re.compile(rb"\d\d-\d\d-\d{4} \d\d:\d\d\r\nFAX READY\r\nOK\r\n")


class RunningMachine:
    """`estudio190f run` in a subprocess; its stdout (an LCD line per change, a flood at
    `--speed max`) is read by a thread that keeps only the endpoint lines."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "estudio190f.panel.cli", "run", "--headless", *args,
             "--relay", "none", "--out", str(tmp_path / "out")],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=tmp_path,
        )  # fmt: skip
        self.endpoints: dict[str, str] = {}
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.ready.wait(30):
            self.proc.kill()
            raise AssertionError(
                f"no ready line; stdout {self.lines} stderr {self.proc.stderr.read()}"
            )

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            if not self.ready.is_set():
                self.lines.append(line)
                m = ENDPOINT.match(line)
                if m:
                    self.endpoints[m.group(1)] = m.group(2)
                if line.startswith("machine ") and " ready" in line:
                    self.ready.set()

    def url(self, kind: str) -> str:
        where = self.endpoints[kind]
        return where if kind == "pty" else ("socket://" if kind == "tcp" else "rfc2217://") + where

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        finally:
            self.reader.join(timeout=5)


@pytest.fixture
def machine(tmp_path):
    link = tmp_path / "fax-console"
    running = RunningMachine(tmp_path, "--speed", "max", "--serial", f"pty:{link}",
                             "--serial", "tcp:0", "--serial", "rfc2217:0")  # fmt: skip
    running.link = link
    yield running
    if running.proc.poll() is None:
        running.proc.kill()
        running.proc.wait()


def test_it_prints_one_line_per_endpoint_in_the_order_given(machine):
    serial_lines = [line for line in machine.lines if line.startswith("serial ")]
    assert serial_lines == [
        f"serial pty {machine.link}",
        f"serial tcp 127.0.0.1:{machine.endpoints['tcp'].split(':')[1]}",
        f"serial rfc2217 127.0.0.1:{machine.endpoints['rfc2217'].split(':')[1]}",
    ]
    assert all(int(machine.endpoints[k].split(":")[1]) > 0 for k in ("tcp", "rfc2217"))


@pytest.mark.parametrize("kind", ["pty", "tcp", "rfc2217"])
def test_pyserial_reaches_the_console(machine, kind):
    client = LineClient(machine.url(kind))
    try:
        raw = client.answer("lcd?")
        assert LCD.fullmatch(raw), raw
        assert client.answer("state?") == b"standby.fax\r\nOK\r\n"
        assert client.answer("press COPY") == b"OK\r\n"
        assert client.answer("state?") == b"standby.copy\r\nOK\r\n"
        assert client.answer("press FAX") == b"OK\r\n"
        assert client.answer("nonsense") == b"ERR unknown verb 'nonsense'\r\n"
    finally:
        client.close()


def test_all_three_at_once_and_events_pushed_to_the_one_that_asked(machine):
    clients = {kind: LineClient(machine.url(kind)) for kind in ("pty", "tcp", "rfc2217")}
    try:
        assert clients["rfc2217"].answer("events on") == b"OK\r\n"
        # the clock races at --speed max: LCD lines pour in
        clients["rfc2217"].read_until(
            re.compile(rb'! lcd "\d\d-\d\d-\d{4} \d\d:\d\d" "FAX READY"\r\n')
        )
        assert clients["tcp"].answer("press SCAN") == b"OK\r\n"
        clients["rfc2217"].read_until(b"! led SCAN on\r\n")
        assert clients["pty"].answer("state?") == b"standby.scan\r\nOK\r\n"
        assert clients["rfc2217"].answer("events off").endswith(b"OK\r\n")
        assert b"! " not in clients["tcp"].received + clients["pty"].received
    finally:
        for client in clients.values():
            client.close()


def test_random_bytes_then_lcd_still_answers(machine):
    rng = random.Random(2026)
    for kind in ("pty", "tcp", "rfc2217"):
        client = LineClient(machine.url(kind))
        try:
            for _ in range(10):
                blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5000)))
                client.send(blob + b"\r\nlcd?\r\n")
                client.read_until(LCD, timeout=20)
            errs = [line for line in client.received.split(b"\r\n") if line.startswith(b"ERR ")]
            assert errs  # the garbage was refused, line by line
        finally:
            client.close()


def test_sigterm_shuts_it_down_cleanly_and_removes_the_link(machine):
    host, port = machine.endpoints["tcp"].split(":")
    client = LineClient(machine.url("tcp"))
    assert FINAL.search(client.answer("state?"))
    assert os.path.islink(machine.link)
    assert machine.stop() == 0
    assert not os.path.lexists(machine.link)
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=2)
    client.close()


def test_a_bad_endpoint_is_refused_at_start(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "estudio190f.panel.cli", "run", "--headless", "--relay", "none",
         "--out", str(tmp_path / "out"), "--serial", f"pty:{tmp_path}/ok", "--serial", "tcp:99999"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "tcp:PORT needs a port number" in proc.stderr
    assert not os.path.lexists(tmp_path / "ok")  # the endpoint opened before it was closed


def test_the_link_is_a_serial_port_for_pyserial(machine):
    port = serial.Serial(str(machine.link), baudrate=9600, timeout=0.05)
    try:
        port.write(b"time?\r\n")
        deadline = time.monotonic() + 10
        data = b""
        while not FINAL.search(data) and time.monotonic() < deadline:
            data += port.read(100)
        assert re.fullmatch(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\r\nOK\r\n", data)
    finally:
        port.close()
