"""`estudio190f console`: scripted through a pipe, with -c, interactive on a terminal; and
pyserial's miniterm as documented in docs/console.md."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

CLIENT = [sys.executable, "-m", "estudio190f.panel.cli", "console"]


@pytest.fixture(params=["pty", "tcp", "rfc2217"])
def url(request, make_rig, tmp_path):
    spec = {"pty": f"pty:{tmp_path}/fax0", "tcp": "tcp:0", "rfc2217": "rfc2217:0"}[request.param]
    return make_rig(spec).url(request.param)


def run_client(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLIENT, *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_scripted_through_a_pipe_prints_each_answer(url):
    script = "# a comment line is not sent\nlcd?\n\npress COPY\nstate?\n"
    done = run_client(url, stdin=script)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "01-01-2026 09:00\nFAX READY\nOK\nOK\nstandby.copy\nOK\n"


def test_an_err_answer_makes_the_exit_status_1_and_the_rest_still_runs(url):
    done = run_client(url, stdin="bogus\nstate?\n")
    assert done.returncode == 1
    assert done.stdout == "ERR unknown verb 'bogus'\nstandby.fax\nOK\n"


def test_commands_on_the_command_line_and_events(make_rig):
    rig = make_rig("tcp:0")
    done = run_client(rig.url("tcp"), "--events", "-c", "press SCAN", "-c", "lcd?")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "OK"  # events on
    assert "! led SCAN on" in lines and '! lcd "01-01-2026 09:00" "SCAN READY"' in lines
    assert lines[-3:] == ["01-01-2026 09:00", "SCAN READY", "OK"]


def test_tcp_url_as_run_prints_it_reaches_the_tcp_endpoint(make_rig):
    """`run` prints `serial tcp 127.0.0.1:PORT`; a user writes tcp://127.0.0.1:PORT."""
    rig = make_rig("tcp:0")
    url = rig.url("tcp").replace("socket://", "tcp://")
    done = run_client(url, "-c", "state?")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "standby.fax\nOK\n"


def test_bytes_that_are_not_utf8_on_its_input_get_the_consoles_answer(make_rig):
    rig = make_rig("tcp:0")
    done = subprocess.run([*CLIENT, rig.url("tcp")], input=b"\x01\xff\xfe garbage\nstate?\n",
                          capture_output=True, timeout=60)  # fmt: skip
    assert done.returncode == 1, done.stderr  # an ERR answer, not a crash of the client
    lines = done.stdout.decode().splitlines()
    assert lines[0].startswith("ERR ") and lines[1:] == ["standby.fax", "OK"]
    assert b"internal error" not in done.stderr


def test_a_console_that_cannot_be_reached_is_exit_status_2(tmp_path):
    done = run_client(str(tmp_path / "no-such-pty"), "-c", "lcd?")
    assert done.returncode == 2
    assert "cannot open" in done.stderr


def test_no_answer_within_the_timeout_is_exit_status_2(make_rig):
    rig = make_rig("tcp:0")
    done = run_client(rig.url("tcp"), "--timeout", "0.5", "-c", "wait 1h")
    assert done.returncode == 2
    assert "no answer to 'wait 1h' within 0.5 s" in done.stderr


class Terminal:
    """A program on a pty, as a user at a terminal would run it."""

    def __init__(self, argv: list[str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the program
            os.environ["TERM"] = "dumb"
            os.execvp(argv[0], argv)
        self.output = b""

    def type(self, data: bytes) -> None:
        os.write(self.fd, data)

    def expect(self, pattern: bytes, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.output):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {pattern!r} on the terminal: {self.output!r}")
            if select.select([self.fd], [], [], left)[0]:
                try:
                    self.output += os.read(self.fd, 4096)
                except OSError:  # the program ended
                    raise AssertionError(f"ended without {pattern!r}: {self.output!r}") from None

    def wait(self, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            if select.select([self.fd], [], [], 0.1)[0]:
                try:
                    self.output += os.read(self.fd, 4096)
                except OSError:
                    pass
        os.kill(self.pid, 9)
        raise AssertionError(f"still running: {self.output!r}")


def test_interactive_on_a_terminal_with_events_shown_as_they_arrive(make_rig):
    rig = make_rig("tcp:0")
    term = Terminal([*CLIENT, rig.url("tcp")])
    term.expect(rb"console> ")
    term.type(b"lcd?\r")
    term.expect(rb"FAX READY\r?\nOK")
    term.type(b"events on\r")
    term.expect(rb"OK\r?\n.*console> ")
    term.type(b"press COPY\r")
    term.expect(rb"! led COPY on(.|\n)*OK\r?\nconsole> ")
    term.type(b"\x04")  # Ctrl-D leaves
    assert term.wait() == 0


def test_miniterm_with_crlf_and_local_echo_as_documented(make_rig):
    rig = make_rig("tcp:0")
    term = Terminal([sys.executable, "-m", "serial.tools.miniterm", rig.url("tcp"),
                     "--eol", "CRLF", "--echo", "--quiet"])  # fmt: skip
    time.sleep(0.5)  # miniterm sets up its console
    term.type(b"lcd?\r")
    term.expect(rb"01-01-2026 09:00\r+\nFAX READY\r+\nOK\r+\n")  # the tty adds a CR
    term.type(b"press COPY\r")
    term.expect(rb"press COPY\r\nOK\r+\n")
    term.type(b"\x1d")  # Ctrl-] leaves miniterm
    assert term.wait() == 0
    assert rig.client("tcp").answer("state?") == b"standby.copy\r\nOK\r\n"
