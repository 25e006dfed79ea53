"""`estudio190f console URL|PATH`: a client for the serial console (docs/console.md).

It reaches the console with pyserial's `serial_for_url`: a pty path, `socket://HOST:PORT` (the
`tcp:` endpoint) or `rfc2217://HOST:PORT`. On a terminal it is interactive: readline edits the
line, the answer is shown when it comes, `! ` event lines are shown as they arrive, Ctrl-C stops
waiting for an answer (the command still runs on the machine) and Ctrl-D or Ctrl-C at an empty
prompt leaves. Otherwise (standard input a pipe or a file, or `-c COMMAND`) it sends one line at
a time, prints the answer and the events that arrived meanwhile, and exits 0 when every command
answered OK, 1 when one answered ERR, 2 when the console could not be reached or did not answer.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import threading
import time
from collections.abc import Callable, Iterable

import serial

EXIT_OK, EXIT_ERR, EXIT_FAILED = 0, 1, 2
PROMPT = "console> "


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"a number of seconds, 0 or more, not {text[:40]!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        metavar="URL|PATH",
        help="a pty path, socket://127.0.0.1:PORT (or tcp://), or rfc2217://127.0.0.1:PORT",
    )
    parser.add_argument(
        "-c",
        "--command",
        dest="lines",  # `command` is the CLI's subcommand
        action="append",
        default=[],
        metavar="LINE",
        help="send this line instead of reading commands (may be repeated)",
    )
    parser.add_argument(
        "--events",
        action="store_true",
        help="send `events on` first, so the machine's events are shown",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="longest wait for one answer, in wall seconds (0: no limit; default 60)",
    )


def is_command(line: str) -> bool:
    """Blank and comment lines get no answer from the console, so they are not sent."""
    text = line.strip()
    return bool(text) and not text.startswith("#")


def is_final(line: str) -> bool:
    return line == "OK" or line == "ERR" or line.startswith("ERR ")


class LineReader:
    """Splits what the console sends into lines (CRLF-terminated; a bare LF is taken too)."""

    def __init__(self, port: serial.SerialBase) -> None:
        self.port = port
        self.buffer = b""

    def read_lines(self) -> list[str]:
        """What has arrived as whole lines; waits at most the port's read timeout."""
        waiting = self.port.in_waiting
        data = self.port.read(waiting or 1)
        if not data:
            return []
        self.buffer += data
        lines = []
        while b"\n" in self.buffer:
            raw, self.buffer = self.buffer.split(b"\n", 1)
            lines.append(raw.rstrip(b"\r").decode("utf-8", "replace"))
        return lines


def open_port(target: str) -> serial.SerialBase:
    # rfc2217:// negotiates at open; a path opens the pty as a serial port. `tcp://HOST:PORT` is
    # what `run` prints for its TCP endpoint (`serial tcp HOST:PORT`): pyserial's socket://.
    if target.startswith("tcp://"):
        target = "socket://" + target.removeprefix("tcp://")
    return serial.serial_for_url(target, timeout=0.1)


def send_line(port: serial.SerialBase, line: str) -> None:
    # bytes that were not UTF-8 on our input go out as they came (the console answers ERR)
    port.write(line.encode("utf-8", "surrogateescape") + b"\r\n")
    port.flush()


def run(args: argparse.Namespace) -> int:
    try:
        port = open_port(args.target)
    except (serial.SerialException, ValueError, OSError) as exc:
        print(f"estudio190f console: cannot open {args.target}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        if args.lines or not sys.stdin.isatty():
            # lines that are not UTF-8 are sent as they came: the console says what it makes of them
            commands: Iterable[str] = args.lines or io.TextIOWrapper(
                sys.stdin.buffer, encoding="utf-8", errors="surrogateescape"
            )
            return run_script(port, commands, args.events, args.timeout, print_line)
        return run_interactive(port, args.events)
    except serial.SerialException as exc:
        print(f"estudio190f console: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        port.close()


def print_line(line: str) -> None:
    print(line, flush=True)


# -- non-interactive -----------------------------------------------------------------------------


def run_script(
    port: serial.SerialBase,
    commands: Iterable[str],
    events: bool,
    timeout: float,
    show: Callable[[str], None],
) -> int:
    """Send each command, show its answer (and events meanwhile); the worst outcome decides."""
    reader = LineReader(port)
    status = EXIT_OK
    lines = (["events on"] if events else []) + [c.rstrip("\r\n") for c in commands]
    for command in lines:
        if not is_command(command):
            continue
        send_line(port, command)
        final = wait_answer(reader, timeout, show)
        if final is None:
            print(
                f"estudio190f console: no answer to {command!r} within {timeout:g} s",
                file=sys.stderr,
            )
            return EXIT_FAILED
        if final != "OK":
            status = EXIT_ERR
    return status


def wait_answer(reader: LineReader, timeout: float, show: Callable[[str], None]) -> str | None:
    deadline = time.monotonic() + timeout if timeout > 0 else None
    while deadline is None or time.monotonic() < deadline:
        for line in reader.read_lines():
            show(line)
            if is_final(line):
                return line
    return None


# -- interactive --------------------------------------------------------------------------------


class Interactive:
    """A reader thread shows what arrives; the main thread edits lines with readline."""

    def __init__(self, port: serial.SerialBase) -> None:
        self.port = port
        self.reader = LineReader(port)
        self.answered = threading.Event()
        self.at_prompt = False
        self.alive = True
        self.failure: str | None = None
        self.lock = threading.Lock()
        try:
            import readline  # line editing and history for input()
        except ImportError:  # not on every platform; input() still works
            self.readline = None
        else:
            self.readline = readline

    def receive(self) -> None:
        while self.alive:
            try:
                lines = self.reader.read_lines()
            except (serial.SerialException, OSError) as exc:
                self.failure = str(exc)
                self.answered.set()
                return
            for line in lines:
                self.show(line)
                if is_final(line):
                    self.answered.set()

    def show(self, line: str) -> None:
        with self.lock:
            if self.at_prompt:
                # an event while the user types: print it above the line being edited
                typed = self.readline.get_line_buffer() if self.readline else ""
                sys.stdout.write("\r\x1b[K" + line + "\n" + PROMPT + typed)
            else:
                sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def loop(self, events: bool) -> int:
        thread = threading.Thread(target=self.receive, name="console-reader", daemon=True)
        thread.start()
        print(f"connected to {self.port.portstr}; `help` lists the commands, Ctrl-D leaves")
        if events:
            self.send("events on")
        try:
            while self.failure is None:
                with self.lock:
                    self.at_prompt = True
                try:
                    line = input(PROMPT)
                except EOFError:
                    print()
                    return EXIT_OK
                except KeyboardInterrupt:
                    print()
                    return EXIT_OK
                finally:
                    with self.lock:
                        self.at_prompt = False
                if is_command(line):
                    self.send(line)
            print(f"estudio190f console: connection lost: {self.failure}", file=sys.stderr)
            return EXIT_FAILED
        finally:
            self.alive = False
            thread.join(timeout=1)

    def send(self, line: str) -> None:
        self.answered.clear()
        send_line(self.port, line)
        try:
            while not self.answered.wait(0.2):
                pass
        except KeyboardInterrupt:
            print("\n(stopped waiting; the command goes on on the machine)")


def run_interactive(port: serial.SerialBase, events: bool) -> int:
    return Interactive(port).loop(events)
