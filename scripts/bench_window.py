"""What the window costs: how soon a click shows on the LCD, and the CPU it uses while idle.

    python scripts/bench_window.py [--clicks 21] [--idle 5]

Latency: `run --speed realtime` with the window under Xvfb; xdotool clicks COPY and FAX in turn and
Tk's `send` polls the window's LCD line until it changes, timed from the button's release (which is
when a Tk button acts) and including the xdotool process (wall seconds, median of the clicks). The
reference, timed in the same run, is the console path: `events on`, `press KEY` over `--serial
tcp:0`, until the `! lcd` event line arrives.
CPU: the `run` process's user+system CPU seconds over `--idle` wall seconds in standby, with the
window, against the same `run --headless` (the reference).
Needs Xvfb, xdotool and ImageMagick (the window tests' peers).
"""

from __future__ import annotations

import argparse
import os
import re
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tkinter
from pathlib import Path

from screenshot_window import find_window, read_until, start_xvfb, xdotool


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_run(env: dict[str, str], tmp: str, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    run = subprocess.Popen(
        [sys.executable, "-m", "estudio190f.panel.cli", "run", "--speed", "realtime", "--relay",
         "none", "--serial", "tcp:0", "--out", str(Path(tmp) / "out"), *extra],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=tmp,
    )  # fmt: skip
    text = read_until(run, "ready", [])
    return run, text


def stop(run: subprocess.Popen[bytes]) -> None:
    run.send_signal(signal.SIGTERM)
    try:
        run.wait(timeout=30)
    except subprocess.TimeoutExpired:
        run.kill()


def idle_cpu(run: subprocess.Popen[bytes], seconds: float) -> float:
    time.sleep(2.0)  # settle after start
    before = cpu_seconds(run.pid)
    time.sleep(seconds)
    return cpu_seconds(run.pid) - before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=21)
    parser.add_argument("--idle", type=float, default=5.0)
    args = parser.parse_args()
    xvfb, env = start_xvfb()
    try:
        with tempfile.TemporaryDirectory(prefix="estudio190f-bench-") as tmp:
            run, text = start_run(env, tmp)
            try:
                find_window(env)
                probe = tkinter.Tk(screenName=env["DISPLAY"])
                probe.withdraw()

                def get(name: str) -> str:
                    return str(probe.send("estudio190f", "set", f"panel_window({name})"))

                while get("lcd2") == "":
                    time.sleep(0.05)
                clicks, console = [], []
                port = int(re.search(r"serial tcp 127\.0\.0\.1:(\d+)", text).group(1))  # type: ignore[union-attr]
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                sock.sendall(b"events on\r\n")
                time.sleep(0.2)
                sock.recv(65536)
                for i in range(args.clicks):
                    key, want = ("COPY", "COPY READY") if i % 2 == 0 else ("FAX", "FAX READY")
                    path = get(f"key,{key}")
                    x, y, w, h = (int(probe.send("estudio190f", "winfo", what, path))
                                  for what in ("rootx", "rooty", "width", "height"))  # fmt: skip
                    xdotool(env, "mousemove", "--sync", str(x + w // 2 + i % 2), str(y + h // 2))
                    # A Tk button acts on the release: time from the release (`xdotool click`
                    # itself holds the button down about 100 ms).
                    xdotool(env, "mousedown", "1")
                    time.sleep(0.05)
                    started = time.perf_counter()
                    xdotool(env, "mouseup", "1")
                    while get("lcd2") != want:
                        time.sleep(0.001)
                    clicks.append(time.perf_counter() - started)
                    # the console path: press the other mode key, wait for its LCD event
                    other, other_want = (
                        ("FAX", "FAX READY") if key == "COPY" else ("COPY", "COPY READY")
                    )
                    time.sleep(0.15)
                    while select_ready(sock):
                        sock.recv(65536)
                    started = time.perf_counter()
                    sock.sendall(f"press {other}\r\n".encode())
                    seen = b""
                    while other_want.encode() not in seen:
                        seen += sock.recv(65536)
                    console.append(time.perf_counter() - started)
                    time.sleep(0.15)
                    while select_ready(sock):
                        sock.recv(65536)
                    # back to the state the next click expects
                    if i % 2 == 0:
                        sock.sendall(b"press COPY\r\n")
                    else:
                        sock.sendall(b"press FAX\r\n")
                    time.sleep(0.3)
                    while select_ready(sock):
                        sock.recv(65536)
                sock.close()
                probe.destroy()
                window_cpu = idle_cpu(run, args.idle)
            finally:
                stop(run)
            run, _ = start_run(env, tmp, "--headless")
            try:
                headless_cpu = idle_cpu(run, args.idle)
            finally:
                stop(run)
    finally:
        xvfb.terminate()
        xvfb.wait()
    click_ms = statistics.median(clicks) * 1000
    console_ms = statistics.median(console) * 1000
    print(
        f"click to LCD widget: median {click_ms:.1f} ms over {len(clicks)} clicks "
        f"(console press to '! lcd': median {console_ms:.1f} ms; ratio {click_ms / console_ms:.2f})"
    )
    print(
        f"idle CPU over {args.idle:g} s: window {window_cpu:.2f} s, headless {headless_cpu:.2f} s "
        f"({100 * window_cpu / args.idle:.1f} % vs {100 * headless_cpu / args.idle:.1f} % of a core)"
    )
    return 0


def select_ready(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


if __name__ == "__main__":
    sys.exit(main())
