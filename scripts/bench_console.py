"""Benchmark: round-trip time of one console command, as a ratio to a bare loopback echo.

Starts `estudio190f run --headless --speed realtime` with a pty, a tcp and an rfc2217 endpoint,
sends `lcd?` N times through each with pyserial (waiting for each answer), and does the same
against a minimal echo server in another process (the reference: what the transport alone
costs). Prints medians and the ratio console/echo. Usage:

    python scripts/bench_console.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time

import serial

ECHO_SERVER = r"""
import select, socket, sys
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
print(listener.getsockname()[1], flush=True)
conn, _ = listener.accept()
buffer = b""
while True:
    data = conn.recv(4096)
    if not data:
        break
    buffer += data
    while b"\n" in buffer:
        line, buffer = buffer.split(b"\n", 1)
        conn.sendall(b"01-01-2026 09:00\r\nFAX READY\r\nOK\r\n")
"""


def round_trips(url: str, rounds: int) -> list[float]:
    port = serial.serial_for_url(url, timeout=5)
    try:
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            port.write(b"lcd?\r\n")
            while True:
                line = port.readline()
                if not line:
                    raise RuntimeError(f"no answer from {url}")
                if line == b"OK\r\n":
                    break
            times.append(time.perf_counter() - started)
        return times
    finally:
        port.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    echo = subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE, text=True)
    assert echo.stdout is not None
    echo_port = int(echo.stdout.readline())
    with tempfile.TemporaryDirectory() as tmp:
        run = subprocess.Popen(
            [sys.executable, "-m", "estudio190f.panel.cli", "run", "--headless", "--relay", "none",
             "--speed", "realtime", "--out", f"{tmp}/out", "--serial", "pty", "--serial", "tcp:0",
             "--serial", "rfc2217:0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert run.stdout is not None
        urls = {}
        for line in run.stdout:
            m = re.match(r"serial (pty|tcp|rfc2217) (\S+)", line)
            if m:
                kind, where = m.groups()
                urls[kind] = (
                    where
                    if kind == "pty"
                    else {"tcp": "socket://", "rfc2217": "rfc2217://"}[kind] + where
                )
            if line.startswith("machine "):
                break
        try:
            reference = statistics.median(
                round_trips(f"socket://127.0.0.1:{echo_port}", args.rounds)
            )
            print(
                f"echo reference      median {reference * 1e6:8.0f} us  ({args.rounds} round trips)"
            )
            for kind, url in urls.items():
                median = statistics.median(round_trips(url, args.rounds))
                print(
                    f"console {kind:<11} median {median * 1e6:8.0f} us  ratio {median / reference:5.1f}x"
                )
        finally:
            run.terminate()
            run.wait(timeout=20)
            echo.kill()
            echo.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
