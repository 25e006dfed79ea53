"""Limits on work and on what the feeder and the cassette take, as `replay` and a console client
see them: each refused with one line that names the limit, fast, with memory bounded."""

from __future__ import annotations

import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

from .conftest import cli
from .test_console_clients import answer, client


def replay_lines(tmp_path: Path, text: str, *extra: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "s.txt"
    script.write_text(text)
    return cli("replay", script, *extra, cwd=tmp_path, timeout=60)


def tall_png(path: Path, rows: int, dpi: int | None = None) -> Path:
    """A valid 1-pixel-wide black-and-white PNG of `rows` rows, written without holding it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    packer = zlib.compressobj(9)
    block = b"\x00\x80" * 1_000_000  # filter byte, one white pixel
    with open(path, "wb") as f:
        f.write(
            b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, rows, 1, 0, 0, 0, 0))
        )
        if dpi:
            per_metre = round(dpi / 0.0254)
            f.write(chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)))
        data = bytearray()
        left = rows
        while left:
            n = min(left, 1_000_000)
            data += packer.compress(block[: 2 * n])
            left -= n
        data += packer.flush()
        f.write(chunk(b"IDAT", bytes(data)) + chunk(b"IEND", b""))
    return path


def test_a_step_longer_than_a_day_is_refused_before_it_runs(tmp_path):
    proc = replay_lines(tmp_path, "press COPY\nwait 99999999h\n")
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith(
        "s.txt:2: 99999999h is over the step time limit of 24h of virtual time"
    )
    proc = replay_lines(tmp_path, 'until lcd "X" within 25h\n')
    assert proc.returncode == 2 and "over the step time limit" in proc.stderr


def test_a_script_may_not_run_past_a_week_of_virtual_time(tmp_path):
    started = time.monotonic()
    proc = replay_lines(tmp_path, "wait 24h\n" * 7 + "wait 1h\n")
    assert proc.returncode == 2
    assert "s.txt:8: wait: stopped after 0s: over the script time limit of 7 days" in proc.stderr
    assert time.monotonic() - started < 20


def test_a_script_over_a_mebibyte_is_refused_unread(tmp_path):
    proc = replay_lines(tmp_path, "lcd?\n" * 300_000)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"ERROR {tmp_path / 's.txt'}: the script is over the script size limit of 1 MiB of text"
    )


def test_a_catastrophic_regular_expression_in_a_script_is_a_script_error(tmp_path):
    started = time.monotonic()
    proc = replay_lines(
        tmp_path, r"expect lcd /(.*)(.*)(.*)(.*)(.*)(.*)(.*)(.*)(.*)(.*)\1-$/" + "\n"
    )
    assert proc.returncode == 2
    assert "s.txt:1: regular expression /(.*)" in proc.stderr and "too slow" in proc.stderr
    assert time.monotonic() - started < 10


def test_a_regular_expression_python_re_would_read_otherwise_is_refused(tmp_path):
    proc = replay_lines(tmp_path, "expect lcd /(?:READY){e<=1}/\n")
    assert proc.returncode == 2 and "not Python re syntax" in proc.stderr


@pytest.mark.parametrize("text,message", [
    ("paper 251\n", "s.txt:1: paper: the cassette holds 0 to 250 sheets, not 251"),
    ("paper 99999999999\n", "s.txt:1: paper needs a sheet count of at most 9 digits"),
    ("adf load folder\n", "s.txt:1: adf load: 'folder' is a directory, not a document"),
    ("adf load /dev/zero\n", "s.txt:1: adf load: '/dev/zero' is not a regular file"),
    ("adf load " + "page.png " * 31 + "\n",
     "s.txt:1: adf load: 31 pages or more; the feeder holds 30 sheets (setting feeder.capacity)"),
    ("adf load many.tif\n", "s.txt:1: adf load: many.tif has more than 50 pages"),
    ("adf load page.png page.png\nadf load " + "page.png " * 29 + "\n",
     "s.txt:2: adf load: the feeder holds 30 documents; it has 2, 29 more do not fit"),
])  # fmt: skip
def test_what_the_feeder_or_the_cassette_cannot_take_is_one_line(tmp_path, text, message):
    (tmp_path / "folder").mkdir()
    Image.new("1", (1728, 2200), 1).save(tmp_path / "page.png")
    frame = Image.new("1", (8, 8), 1)
    frame.save(tmp_path / "many.tif", save_all=True, append_images=[frame] * 51)
    proc = replay_lines(tmp_path, text)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"ERROR {tmp_path / 's.txt'}:{message.split(':', 1)[1]}")


PEAK = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.stderr.write(p.stderr)\n"
)


@pytest.mark.parametrize("rows,dpi", [(20_000_000, None), (80_000_000, None), (80_000_000, 72)])
def test_an_endless_page_is_refused_from_its_header_fast_and_in_little_memory(tmp_path, rows, dpi):
    tall_png(tmp_path / "tall.png", rows, dpi)
    (tmp_path / "s.txt").write_text("press COPY\nadf load tall.png\npress START\n")
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", PEAK, sys.executable, "-m", "estudio190f.panel.cli", "replay",
         "s.txt", "--relay", "none"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    wall = time.monotonic() - started
    status, peak_kib = map(int, proc.stdout.split())
    assert status == 2, proc.stderr
    assert "s.txt:2: adf load: tall.png is" in proc.stderr
    assert "the feeder takes originals up to 600 mm long" in proc.stderr
    assert wall < 10
    assert peak_kib < 200 * 1024  # the whole replay; the page itself would be 80 MB to 4.6 GB


def test_the_console_answers_err_naming_the_limit(running, tmp_path):
    (tmp_path / "folder").mkdir()
    r = running("--serial", "tcp:0", "--speed", "realtime")
    c = client(r.tcp_port())
    assert answer(c, "paper 251") == ["ERR paper: the cassette holds 0 to 250 sheets, not 251"]
    assert answer(c, "adf load folder") == ["ERR adf load: 'folder' is a directory, not a document"]
    assert answer(c, "wait 25h") == ["ERR 25h is over the step time limit of 24h of virtual time"]
    assert answer(c, "lcd?")[-1] == "OK"
    c.close()
    assert r.terminate() == 0
