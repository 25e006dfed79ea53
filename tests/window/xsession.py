"""Test rig for the window: a private Xvfb display, `estudio190f run` on it, xdotool for the
mouse and keyboard, Tk's `send` to read the window's widgets, and ImageMagick for screenshots."""

from __future__ import annotations

import io
import os
import re
import select
import signal
import subprocess
import sys
import time
import tkinter
from pathlib import Path

import numpy as np
from PIL import Image

APP = "estudio190f"
ARRAY = "panel_window"


class XServer:
    """Xvfb on a display number it picks itself (-displayfd), so parallel runs never collide."""

    def __init__(self, width: int = 1280, height: int = 1024) -> None:
        read_fd, write_fd = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24",
             "-nolisten", "tcp", "-noreset"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        os.close(write_fd)
        number = b""
        deadline = time.monotonic() + 20
        while not number.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([read_fd], [], [], max(0.0, left))
            if not ready:
                self.stop()
                raise RuntimeError("Xvfb did not start")
            chunk = os.read(read_fd, 64)
            if not chunk:
                self.stop()
                raise RuntimeError(
                    f"Xvfb ended: {self.proc.stderr.read().decode(errors='replace')}"
                )
            number += chunk
        os.close(read_fd)
        self.display = f":{int(number)}"
        self.env = {**os.environ, "DISPLAY": self.display}

    def run(self, *args: str, check: bool = True, timeout: float = 20) -> str:
        done = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def xdotool(self, *args: str, check: bool = True) -> str:
        return self.run("xdotool", *args, check=check)

    def screenshot(self) -> Image.Image:
        png = subprocess.run(["import", "-window", "root", "png:-"], env=self.env,
                             capture_output=True, timeout=20, check=True).stdout  # fmt: skip
        return Image.open(io.BytesIO(png)).convert("RGB")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Emulator:
    """`estudio190f run` with its window on the X server; stdout is collected as it comes."""

    def __init__(self, x: XServer, out: Path, *extra: str, cwd: Path | None = None) -> None:
        self.x = x
        self.out = out
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "estudio190f.panel.cli", "run", "--speed", "20", "--relay",
             "none", "--out", str(out), *extra],
            env=x.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=cwd or out.parent,
        )  # fmt: skip
        self.output = ""
        self.read_until("ready")
        self.window = self.find_window("e-STUDIO190F")
        self.probe = TkProbe(x.display)
        self.wait_for(lambda: self.probe.get("lcd2") != "", what="the LCD drawn")
        lcd = self.probe.get("lcd_widget")
        self.wait_for(
            lambda: self.probe.send("winfo", "viewable", lcd) == "1", what="the window mapped"
        )

    def read_until(self, marker: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while marker not in self.output:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {marker!r} in the output: {self.output}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError(
                        f"run ended: {self.output} {self.proc.stderr.read().decode()}"
                    )
                self.output += chunk.decode(errors="replace")
        return self.output

    def endpoint(self, kind: str) -> str:
        found = re.search(rf"^{kind} (\S+)$", self.output, re.M)
        assert found, f"no {kind} line in {self.output!r}"
        return found.group(1)

    def find_window(self, name: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.x.xdotool("search", "--onlyvisible", "--name", name, check=False).split()
            if found:
                return found[0]
            if self.proc.poll() is not None:
                raise AssertionError(f"run ended: {self.output} {self.proc.stderr.read().decode()}")
            time.sleep(0.1)
        raise AssertionError(f"no window named {name!r}")

    def wait_for(self, predicate, timeout: float = 20, what: str = "a condition"):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    # -- the window's widgets --------------------------------------------------------------------
    def box(self, path: str) -> tuple[int, int, int, int]:
        """(left, top, width, height) of a widget on the screen."""
        p = self.probe
        return (int(p.send("winfo", "rootx", path)), int(p.send("winfo", "rooty", path)),
                int(p.send("winfo", "width", path)), int(p.send("winfo", "height", path)))  # fmt: skip

    def point_at(self, path: str) -> None:
        left, top, width, height = self.box(path)
        x, y = left + width // 2, top + height // 2
        # `mousemove --sync` waits for the pointer to move: never ask it to stay where it is.
        where = dict(
            item.split("=") for item in self.x.xdotool("getmouselocation", "--shell").split()
        )
        if (int(where["X"]), int(where["Y"])) != (x, y):
            self.x.xdotool("mousemove", "--sync", str(x), str(y))

    def click_widget(self, path: str) -> None:
        self.point_at(path)
        self.x.xdotool("click", "1")

    def click_key(self, key: str) -> None:
        self.click_widget(self.probe.get(f"key,{key}"))

    def keyboard(self, *keys: str) -> None:
        """Key strokes into the window (the pointer rests on the LCD: focus follows it here)."""
        self.point_at(self.probe.get("lcd_widget"))
        self.x.xdotool("key", "--delay", "60", *keys)

    def lcd_pixels(self, shot: Image.Image) -> np.ndarray:
        left, top, width, height = self.box(self.probe.get("lcd_widget"))
        return np.asarray(shot.crop((left, top, left + width, top + height)))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self.probe.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.probe.close()


class TkProbe:
    """A hidden Tk application on the same display that reads the window with Tk's `send`."""

    def __init__(self, display: str) -> None:
        self.root = tkinter.Tk(screenName=display)
        self.root.withdraw()
        self.closed = False

    def send(self, *command: str) -> str:
        return str(self.root.send(APP, *command))

    def get(self, name: str) -> str:
        return self.send("set", f"{ARRAY}({name})")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.root.destroy()
