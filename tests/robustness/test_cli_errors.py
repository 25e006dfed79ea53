"""Mistakes on the command line, in every subcommand: one line on standard error naming what is
wrong, exit status 2, never a traceback; Ctrl-C during `replay` is status 130."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from .conftest import CLI, cli


@pytest.fixture
def place(tmp_path):
    (tmp_path / "a-file").write_text("")
    (tmp_path / "a-folder").mkdir()
    os.mkfifo(tmp_path / "a-fifo")
    (tmp_path / "ok.txt").write_text("lcd?\n")
    return tmp_path


CASES = [
    # (arguments, what the one line must say)
    (["run", "--headless", "--state", "a-file"], "--state a-file: exists and is not a folder"),
    (["run", "--headless", "--out", "/dev/null/x"], "--out /dev/null/x: cannot make the folder"),
    (["run", "--headless", "--record", "a-folder"], "--record a-folder: is a folder"),
    (["run", "--headless", "--record", "/dev/null/x.txt"], "--record /dev/null/x.txt"),
    (["run", "--number", "abc"], "a phone number is 1 to 20 digits, not 'abc'"),
    (["run", "--number", "1" * 40], "a phone number is 1 to 20 digits"),
    (["run", "--speed", "nan"], "a speed factor is 0.001 to 1,000,000 (or max), not 'nan'"),
    (["run", "--speed", "inf"], "not 'inf'"),
    (["run", "--speed", "-1"], "speed factor must be positive"),
    (["run", "--speed", "fast"], "speed must be max, realtime or a factor"),
    (["run", "--seed", "x"], "not a whole number"),
    (["run", "--headless", "--config", "/dev/zero"], "--config /dev/zero: the settings file is not a regular file"),
    (["run", "--headless", "--config", "a-fifo"], "--config a-fifo: the settings file is not a regular file"),
    (["run", "--headless", "--config", "a-folder"], "--config a-folder: the settings file is a folder"),
    (["run", "--headless", "--documents", "no-such-folder"], "--documents no-such-folder: no such folder"),
    (["run", "--headless", "--serial", "tcp:70000"], "--serial tcp:PORT needs a port number 0-65535"),
    (["run", "--headless", "--serial", "udp:5"], "write pty[:LINK], tcp:PORT or rfc2217:PORT"),
    (["run", "--headless", "--serial", "pty:/no/such/dir/link"], "cannot make the link /no/such/dir/link"),
    (["run", "--headless", "--modem-pty", "/no/such/dir/link"], "--modem-pty: cannot make the link"),
    (["run", "--headless", "--modem-pty", "m", "--modem-pty-owner", "no-such-user"], "no such user"),
    (["run", "--modem-number", "12a"], "a phone number is 1 to 20 digits"),
    (["replay", "ok.txt", "--junit", "a-folder"], "--junit a-folder: is a folder"),
    (["replay", "ok.txt", "--out", "a-file"], "--out a-file: exists and is not a folder"),
    (["replay", "ok.txt", "--config", "/dev/zero"], "not a regular file"),
    (["replay", "ok.txt", "--secret", "novalue"], "give --secret as KEY=VALUE"),
    (["replay", "/dev/zero"], "ERROR /dev/zero: the script is not a regular file"),
    (["replay", "a-fifo"], "ERROR a-fifo: the script is not a regular file"),
    (["replay", "a-folder"], "ERROR a-folder: the script is a folder"),
    (["replay", "no-such.txt"], "ERROR no-such.txt: cannot read the script: No such file"),
    (["replay"], "the following arguments are required: SCRIPT"),
    (["relay", "--port", "70000"], "a port is a number 0-65535, not '70000'"),
    (["relay", "--maildir", "/dev/null/x"], "--maildir /dev/null/x: cannot make the Maildir"),
    (["console", "--timeout", "nan", "socket://127.0.0.1:9"], "a number of seconds, 0 or more"),
    (["console", "socket://127.0.0.1:9", "-c", "lcd?"], "cannot open socket://127.0.0.1:9"),
    (["console", "/no/such/pty"], "cannot open /no/such/pty"),
    (["codec", "encode", "no-such.png", "out.g3"], "No such file or directory: no-such.png"),
    (["codec", "decode", "a-file", "out.png"], "the name must end in"),
    (["codec", "frobnicate"], "invalid choice: 'frobnicate'"),
    (["conformance", "--suite", "no-such.xml"], "no-such.xml"),
    (["fly"], "invalid choice: 'fly'"),
]  # fmt: skip


@pytest.mark.parametrize("args,message", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_a_mistake_is_one_line_and_exit_status_2(place, args, message):
    proc = cli(*args, cwd=place, timeout=30, stdin=subprocess.DEVNULL)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(lines) == 1, proc.stderr
    assert message in lines[0]


def test_ctrl_c_during_replay_is_one_line_and_status_130(tmp_path):
    script = tmp_path / "long.txt"
    script.write_text("press COPY FAX\n" * 40_000)  # some seconds of work
    proc = subprocess.Popen([*CLI, "replay", str(script)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert err.splitlines() == ["estudio190f replay: interrupted"]
