"""`run --modem-pty LINK`: the virtual Class 1 fax modem on a pty, on the simulation's phone line.

The edge around `hw.class1.Class1Modem`: a pty pair (`os.openpty()`, raw), our own copy of the
slave kept open so that the master never reads EIO when the host program closes and reopens the
device, a stable symlink LINK to the slave, mode 0600 (only its owner may open it;
`--modem-pty-owner uucp` gives it to the user HylaFAX's faxsend drops to). The master is
non-blocking and served by the runner's select loop:
- host to modem: read while the interpreter wants input; while it holds back (the transmitter is a
  second of air time ahead) the master is not read, the pty's buffer fills and the host's writes
  wait: that is the modem's flow control;
- modem to host: written as the host reads, from a bounded buffer; a host that stops reading loses
  output beyond MAX_BUFFER (the machine never waits for it).
Data reaches the host at the line rate in virtual time (the modem model delivers high-speed data a
second of air time at a time, as it completes), so the runner's speed factor sets the wall-clock
rate the host sees. The modem's own trace (commands, results, frames without their contents)
goes to `--out`/modem.jsonl when the simulation has an output folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from pathlib import Path
from typing import IO, Any

from estudio190f.hw.class1 import Class1Modem
from estudio190f.hw.eventlog import Event, EventLog
from estudio190f.hw.modem import Modem

from .ptylink import open_linked_pty, remove_link
from .runner import Runner

READ_SIZE = 4096
MAX_BUFFER = 1 << 20  # bytes kept for a host that does not read


class Class1Endpoint:
    """One virtual Class 1 modem: its pty, its line (by number) and its AT interpreter."""

    def __init__(
        self, link: str | Path, number: str, sim: Any, runner: Runner, owner: str | None = None
    ) -> None:
        self.link = str(link)
        self.number = str(number)
        self.runner = runner
        self.clock = sim.clock
        self.dropped = 0  # bytes the host never read because it stopped reading
        self._dropping = False
        self._out = bytearray()
        self._reading = False
        self._writing = False
        self._closed = False
        self._trace_file: IO[str] | None = None
        self.log = EventLog(sim.clock, "modem")
        self.log.keep = False
        out_dir = getattr(sim, "out_dir", None)
        if out_dir is not None:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            self._trace_file = open(
                Path(out_dir) / "modem.jsonl", "a", encoding="utf-8", buffering=1
            )
            self.log.listeners.add(self._write_trace)
        # The number first: a number already on the network is refused before anything is made.
        self.line = sim.network.add_line(self.number, log=None)
        try:
            self.master, self._slave, self.path = open_linked_pty(self.link, "--modem-pty", owner)
        except BaseException:
            del sim.network.lines[self.number]
            if self._trace_file is not None:
                self._trace_file.close()
            raise
        os.set_blocking(self.master, False)
        self.modem = Modem(sim.clock)
        self.line.attach_modem(self.modem)
        self.interpreter = Class1Modem(sim.clock, self.modem, self.line, self.log)
        self.interpreter.on_output = self._have_output
        self.log.emit("class1", "open", link=self.link, pty=self.path, number=self.number)
        runner.idle_hooks.append(self._check_reading)
        self._check_reading()

    # -- host to modem -----------------------------------------------------------------------------
    def _check_reading(self) -> None:
        """Read the host only while the interpreter takes input (flow control)."""
        if self._closed:
            return
        want = self.interpreter.wants_input
        if want and not self._reading:
            self.runner.add_reader(self.master, self._readable)
        elif not want and self._reading:
            self.runner.remove_reader(self.master)
        self._reading = want

    def _readable(self) -> None:
        try:
            data = os.read(self.master, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno == errno.EIO:
                return  # cannot happen while we hold the slave; harmless if it does
            raise
        if data:
            # The host's bytes act at the current virtual instant, as a clock event like every
            # other change to the simulation (so what they cause is seen by whatever watches
            # the clock's events, e.g. a console `until`).
            self.clock.call_soon(self._host_wrote, data, label="class1 host")

    def _host_wrote(self, data: bytes) -> None:
        if self._closed:
            return
        try:
            self.interpreter.receive_data(data)
        except Exception as exc:  # a bug must not take the machine down with the modem
            self.log.emit("class1", "internal_error", error=repr(exc))
            print(f"estudio190f: Class 1 modem: {exc!r}; modem reset", file=sys.stderr)
            self.interpreter.reset()
        self._check_reading()

    # -- modem to host -----------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Bytes of modem output waiting for the host to read them (at most MAX_BUFFER)."""
        return len(self._out)

    def _have_output(self) -> None:
        data = self.interpreter.take_output()
        room = MAX_BUFFER - len(self._out)
        if len(data) > room:
            if not self._dropping:  # once per stretch of not reading, not per byte lost
                self.log.emit("class1", "host_not_reading", dropped_before=self.dropped)
            self._dropping = True
            self.dropped += len(data) - room
            data = data[:room]
        self._out += data
        self._flush()

    def _flush(self) -> None:
        while self._out:
            try:
                written = os.write(self.master, self._out[:READ_SIZE])
            except BlockingIOError:
                break
            except OSError:
                self._out.clear()
                break
            del self._out[:written]
        if not self._out:
            self._dropping = False
        want = bool(self._out) and not self._closed
        if want and not self._writing:
            self.runner.add_writer(self.master, self._flush)
        elif not want and self._writing:
            self.runner.remove_writer(self.master)
        self._writing = want

    def _write_trace(self, event: Event) -> None:
        if self._trace_file is not None:
            self._trace_file.write(EventLog.to_json(event) + "\n")

    # -- the end -------------------------------------------------------------------------------------
    def close(self) -> None:
        """Hang up, take the modem off the line, remove the symlink, close the pty."""
        if self._closed:
            return
        self._closed = True
        self.interpreter.close()
        network = self.line.network
        if network.lines.get(self.number) is self.line:
            del network.lines[self.number]
        if self._check_reading in self.runner.idle_hooks:
            self.runner.idle_hooks.remove(self._check_reading)
        self.runner.remove_reader(self.master)
        self.runner.remove_writer(self.master)
        remove_link(self.link, self.path)
        self._close_fds()
        if self._trace_file is not None:
            self._trace_file.close()
            self._trace_file = None

    def _close_fds(self) -> None:
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __repr__(self) -> str:
        return f"Class1Endpoint({self.link!r} -> {getattr(self, 'path', '?')}, {self.number})"


def open_modem_pty(
    link: str, number: str, sim: Any, runner: Runner, owner: str | None = None
) -> Class1Endpoint:
    """The hook `panel.cli.start_endpoints` calls for `--modem-pty LINK --modem-number N`
    (`--modem-pty-owner USER`: `owner`)."""
    if runner.speed is None:
        print("estudio190f run: --modem-pty with --speed max: virtual time does not wait for the "
              "fax program, which will time out; use realtime or a factor (docs/class1.md)",
              file=sys.stderr)  # fmt: skip
    return Class1Endpoint(link, number, sim, runner, owner)
