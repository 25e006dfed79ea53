"""Helpers for the acceptance tests with real fax programs: the emulator as a subprocess
(`estudio190f run --modem-pty ... --serial tcp:0`) driven through its console, the ITU charts as
the programs and the scanner take them, and efix/efax/faxsend invocations.

The link and the HylaFAX spool live in a directory of their own under /tmp, named without `_`
(HylaFAX turns a device path into its device ID by replacing `/` with `_`, and back) and open to
everyone (faxsend works as `uucp`).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from conftest import need_testdata  # tests/conftest.py (tests/ is on sys.path)
from PIL import Image

MACHINE_NUMBER = "5551234"  # the factory setting (DESIGN.md 3.4)
MODEM_NUMBER = "5550100"  # --modem-number's default
FINE_DPI = (203.2, 195.58)  # 8 pels/mm across, 7.7 lines/mm down: the scanner's fine grid


def chart(n: int = 1) -> np.ndarray:
    """ITU chart n (1728 x 2376, fine), True = black."""
    with Image.open(need_testdata("ccitt", f"itu{n}.pbm")) as image:
        return ~np.asarray(image, dtype=bool)


def chart_png_for_scanner(path: Path, n: int = 1) -> Path:
    """The chart as a PNG whose stated resolution is the scanner's fine grid, so the CIS reads
    it pel for pel (PNG's pHYs holds 8000 x 7700 dots per metre exactly)."""
    with Image.open(need_testdata("ccitt", f"itu{n}.pbm")) as image:
        image.save(path, dpi=FINE_DPI)
    return path


def short_dir() -> Path:
    path = Path("/tmp") / f"estudio190f-class1-{secrets.token_hex(4)}"
    path.mkdir(mode=0o755)
    os.chmod(path, 0o755)
    return path


def read_pbm_pages(path: Path) -> np.ndarray:
    """A received efax file decoded by efix (Pillow cannot read efax's TIFFs: no width/length),
    padded by efix to 8.5 x 14 inches; True = black."""
    pbm = subprocess.run(
        ["efix", "-o", "pbm", "-p", "8.5x14", str(path)],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    out = path.with_suffix(".pbm")
    out.write_bytes(pbm)
    with Image.open(out) as image:
        return ~np.asarray(image, dtype=bool)


class Console:
    """A line client of the emulator's serial console on TCP (DESIGN.md 3.2)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rwb")

    def send(self, command: str) -> None:
        self.file.write(command.encode() + b"\r\n")
        self.file.flush()

    def answer(self, timeout: float = 10) -> list[str]:
        """Result lines up to OK; raises on ERR."""
        self.sock.settimeout(timeout)
        lines: list[str] = []
        while True:
            raw = self.file.readline()
            if not raw:
                raise ConnectionError("the console closed")
            line = raw.decode(errors="replace").rstrip("\r\n")
            if line.startswith("! "):
                continue
            if line == "OK":
                return lines
            if line.startswith("ERR"):
                raise AssertionError(f"console: {line} (after {lines})")
            lines.append(line)

    def ask(self, command: str, timeout: float = 10) -> list[str]:
        self.send(command)
        return self.answer(timeout)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class Emulator:
    """`estudio190f run` with the Class 1 modem at `link`, headless, at a speed factor."""

    def __init__(self, workdir: Path, link: Path, *, speed: float, settings: str = "") -> None:
        self.workdir = workdir
        self.link = link
        self.out = workdir / "out"
        self.log_path = workdir / "run.log"
        args = [sys.executable, "-m", "estudio190f.panel.cli", "run", "--headless",
                "--speed", str(speed), "--relay", "none", "--modem-pty", str(link),
                "--serial", "tcp:0", "--out", str(self.out),
                "--documents", str(workdir)]  # fmt: skip
        if settings:
            config = workdir / "settings.toml"
            config.write_text(settings)
            args += ["--config", str(config)]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)  # fmt: skip
        self.lines = self._started()
        port = int(re.search(r"serial tcp 127\.0\.0\.1:(\d+)", self.lines).group(1))  # type: ignore[union-attr]
        self.console = Console(port)

    def _started(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = self.log_path.read_text()
            if re.search(r"machine \d+ ready", text):
                return text
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"the emulator did not start:\n{self.log_path.read_text()}")

    def files(self, folder: str) -> list[Path]:
        return sorted((self.out / folder).glob("*"))

    def stop(self) -> None:
        try:
            self.console.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def efax_command(link: Path, *args: str) -> list[str]:
    return ["efax", "-d", str(link), "-o1", "-l", MODEM_NUMBER, "-v", "ewinchmart", *args]


def faxsend_program() -> str:
    """The faxsend binary itself: Debian's /usr/sbin/faxsend is a wrapper that bind-mounts
    /etc/hylafax over the system spool's etc/ for the run, which a private spool does not need."""
    binary = Path("/usr/lib/hylafax/bin/faxsend")
    return str(binary) if binary.exists() else str(shutil.which("faxsend"))


def hylafax_spool(
    base: Path, link: Path, document: Path, *, ecm: bool, coding: int
) -> tuple[Path, str]:
    """A private HylaFAX spool holding one job: send `document` (TIFF/F) to the machine.
    `coding` is the job's desired data format (0 MH, 1 MR, 4 MMR). Returns (spool, device ID)."""
    spool = base / "spool"
    for folder in ("etc", "sendq", "docq", "log", "status", "info", "tmp", "doneq", "client"):
        (spool / folder).mkdir(parents=True, exist_ok=True)
    devid = str(link).replace("/", "_")
    (spool / "etc" / f"config.{devid}").write_text(
        "ModemType: Class1\n"
        "ModemResetDelay: 200\n"  # a pty needs no settling time after DTR (default 2.6 s)
        "ModemSoftResetCmdDelay: 200\n"  # nor after ATZ (default 3 s)
        f"Class1ECMSupport: {'yes' if ecm else 'no'}\n"
        "SessionTracing: 0xFFF\n"
        f'LocalIdentifier: "{MODEM_NUMBER}"\n'
        f"FAXNumber: {MODEM_NUMBER}\n"
    )
    shutil.copy(document, spool / "docq" / "doc1.tif")
    (spool / "sendq" / "q1").write_text(
        "jobid:1\ngroupid:1\nstate:6\n"
        f"number:{MACHINE_NUMBER}\nexternal:{MACHINE_NUMBER}\n"
        f"client:localhost\nowner:root\nmodem:{devid}\n"
        "mailaddr:root@localhost\nsender:estudio190f test\nnotify:none\n"
        "pagehandling:01P\ntotpages:1\nresolution:196\n"
        f"desireddf:{coding}\ndesiredec:{2 if ecm else 0}\ndesiredbr:5\n"
        "maxtries:1\nmaxdials:1\n"
        "fax:0::docq/doc1.tif\n"
    )
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "uucp:uucp", str(spool)], check=False)
    return spool, devid


def hylafax_session_log(spool: Path) -> str:
    logs = sorted((spool / "log").glob("c*"))
    return "\n".join(p.read_text(errors="replace") for p in logs) or "(no session log)"
