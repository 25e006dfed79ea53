"""Take docs/window.png: the window of `estudio190f run` on a private Xvfb display, with a copy made
(a sheet in the output tray), pages waiting in the feeder, one-touch names and a tooltip showing.

    python scripts/screenshot_window.py [--out docs/window.png]

Needs Xvfb, xdotool and ImageMagick's `import` (Debian: xvfb xdotool imagemagick) and the ITU test
charts in ../shared/testdata/ccitt/. The machine is driven through its serial console (`--serial
tcp:0`), the pointer with xdotool.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tkinter
from pathlib import Path

from PIL import Image
from testdata_path import CHARTS

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = """\
[machine]
station_name = "TOSHIBA"
[[one_touch]]
slot = 1
name = "OFFICE"
fax = "5559876"
[[one_touch]]
slot = 2
name = "BRANCH"
email = "branch@example.com"
[[one_touch]]
slot = 3
name = "SALES"
fax = "5550123"
"""


def start_xvfb() -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write_fd)
    number = b""
    while not number.endswith(b"\n"):
        ready, _, _ = select.select([read_fd], [], [], 20)
        chunk = os.read(read_fd, 64) if ready else b""
        if not chunk:
            raise SystemExit("Xvfb did not start")
        number += chunk
    os.close(read_fd)
    return xvfb, {**os.environ, "DISPLAY": f":{int(number)}"}


def read_until(proc: subprocess.Popen[bytes], marker: str, seen: list[str]) -> str:
    deadline = time.monotonic() + 30
    while marker not in "".join(seen):
        if time.monotonic() > deadline:
            raise SystemExit(f"no {marker!r} from estudio190f run: {''.join(seen)}")
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)  # type: ignore[union-attr]
            if not chunk:
                raise SystemExit(f"estudio190f run ended: {''.join(seen)}")
            seen.append(chunk.decode(errors="replace"))
    return "".join(seen)


def xdotool(env: dict[str, str], *args: str) -> str:
    return subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True,
                          check=True, timeout=30).stdout  # fmt: skip


def find_window(env: dict[str, str]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "e-STUDIO190F"],
                               env=env, capture_output=True, text=True).stdout.split()  # fmt: skip
        if found:
            return found[0]
        time.sleep(0.1)
    raise SystemExit("the window did not appear")


class Console:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""

    def __call__(self, command: str) -> list[str]:
        self.sock.sendall(command.encode() + b"\r\n")
        while not re.search(rb"(^|\r\n)(OK|ERR[^\r]*)\r\n", self.buffer):
            self.buffer += self.sock.recv(4096)
        end = re.search(rb"(^|\r\n)(OK|ERR[^\r]*)\r\n", self.buffer)
        assert end is not None
        answer, self.buffer = self.buffer[: end.end()], self.buffer[end.end() :]
        lines = answer.decode().split("\r\n")[:-1]
        if lines[-1] != "OK":
            raise SystemExit(f"{command}: {lines[-1]}")
        return lines[:-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "window.png")
    args = parser.parse_args()
    if not (CHARTS / "itu1.pbm").exists():
        raise SystemExit(f"the ITU charts are not in {CHARTS}")
    xvfb, env = start_xvfb()
    with tempfile.TemporaryDirectory(prefix="estudio190f-shot-") as tmp:
        config = Path(tmp) / "settings.toml"
        config.write_text(SETTINGS)
        run = subprocess.Popen(
            [sys.executable, "-m", "estudio190f.panel.cli", "run", "--speed", "10", "--serial",
             "tcp:0", "--config", str(config), "--out", str(Path(tmp) / "out")],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=tmp,
        )  # fmt: skip
        try:
            seen: list[str] = []
            text = read_until(run, "ready", seen)
            port = int(re.search(r"serial tcp 127\.0\.0\.1:(\d+)", text).group(1))  # type: ignore[union-attr]
            console = Console(port)
            console(f"adf load {CHARTS / 'itu1.pbm'}")
            console("press COPY START")
            console('until lcd "COPY READY" within 2m')
            console("wait 5s")
            console(f"adf load {CHARTS / 'itu2.pbm'} {CHARTS / 'itu3.pbm'} {CHARTS / 'itu4.pbm'}")
            console("press FAX 5 5 5 9 8 7 6")
            window = find_window(env)
            geometry = xdotool(env, "getwindowgeometry", window)
            width, height = map(int, re.search(r"Geometry: (\d+)x(\d+)", geometry).groups())  # type: ignore[union-attr]
            # Rest the pointer on START so its tooltip (the keyboard shortcut) shows; Tk's `send`
            # tells where the key is (docs/window.md).
            probe = tkinter.Tk(screenName=env["DISPLAY"])
            probe.withdraw()
            start = probe.send("estudio190f", "set", "panel_window(key,START)")
            x, y, w, h = (int(probe.send("estudio190f", "winfo", what, start))
                          for what in ("rootx", "rooty", "width", "height"))  # fmt: skip
            probe.destroy()
            xdotool(env, "mousemove", "--sync", str(x + w // 2), str(y + h // 2))
            time.sleep(1.5)
            shot = subprocess.run(["import", "-window", "root", "png:-"], env=env,
                                  capture_output=True, check=True).stdout  # fmt: skip
            image = Image.open(io.BytesIO(shot)).convert("RGB").crop((0, 0, width, height))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            image.save(args.out, optimize=True)
            print(f"wrote {args.out} ({width}x{height})")
        finally:
            run.send_signal(signal.SIGTERM)
            try:
                run.wait(timeout=30)
            except subprocess.TimeoutExpired:
                run.kill()
            xvfb.terminate()
            xvfb.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
