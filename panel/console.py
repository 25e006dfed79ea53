"""The serial console: the key-script language over a pty, raw TCP and RFC 2217 (DESIGN.md 3.2).

Three layers, top to bottom:

- `ConsoleSession`, the protocol core without I/O (the h11 way): bytes in, parsed commands out;
  answers and event lines in, bytes out. It owns the framing rules (CR, LF or CRLF end a command,
  no echo, CRLF after every line sent, `OK` / `ERR <reason>` closing every answer, `! ` event
  lines) and the limits that keep a bad client from hurting the machine (line length, input
  held, output held; events beyond half the output limit are dropped and counted).
- `Connection`: one client. It runs the client's commands one after another through its own
  `Interpreter` (`StepTask`, so a `wait` answers when virtual time has passed) and moves bytes
  between the session and a non-blocking transport inside the runner's select loop.
- Endpoints for `estudio190f run --serial`: `pty[:LINK]`, `tcp:PORT`, `rfc2217:PORT`
  (`open_endpoint`). RFC 2217's telnet negotiation and escaping are pyserial's `PortManager`.

The protocol is described for users in docs/console.md; keep the two in step.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import termios
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import serial.rfc2217 as rfc2217

from estudio190f.hw.eventlog import Event

from .interpreter import ExpectationFailed, Interpreter, StepTask, refusal_reason
from .ptylink import open_linked_pty, remove_link
from .runner import Runner
from .script import ScriptError, Step, parse_line, quote
from .sim import Machine, Simulation

CRLF = b"\r\n"
MAX_LINE = 4096  # bytes in one command line, without its end; longer lines are refused
INPUT_LIMIT = 64 * 1024  # bytes received but not yet run before we stop reading the client
# Bytes waiting for the client before commands wait to start. Events are dropped from half of
# it: under an event flood the queue stops there, so commands (`events off`) still get through.
OUTPUT_LIMIT = 64 * 1024
MAX_REASON = 200  # characters of an ERR reason
READ_SIZE = 4096
WRITE_CHUNK = 4096
MAX_CLIENTS = 16  # per TCP or RFC 2217 endpoint
MAX_SUBOPTION = 64  # bytes of one telnet subnegotiation (RFC 2217's longest is 6)


# -- the protocol core ------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """A command line that parsed: run `step`, then answer it."""

    text: str
    step: Step


@dataclass(frozen=True)
class Refused:
    """A line that cannot run; it is answered `ERR <reason>` at once."""

    reason: str


class _TooLong:
    pass


_TOO_LONG = _TooLong()


def one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


def _result_line(text: str) -> str:
    """A result line that could be read as the end of an answer or as an event gets a space."""
    text = one_line(text)
    if text in ("OK", "ERR", "!") or text.startswith(("ERR ", "! ")):
        return " " + text
    return text


class ConsoleSession:
    """One client's console protocol, without I/O.

    Input: `receive_data(bytes)`, then `next_command()` until it gives None. Blank lines and
    comment lines are not commands and get no answer. Output: `answer(lines)`, `refuse(reason)`
    and `push_event(text)` queue lines; `take(n)` hands out up to n bytes for the wire.
    Answers are always queued whole (the caller stops starting commands while
    `room_for_answers()` is false, at `output_limit`); events are dropped while the queue holds
    `event_limit` bytes or more (half the output limit), and a `! dropped N events` line says so
    once the client has read enough to make room. So at most about `output_limit` plus one
    answer waits for a client, however it behaves.
    """

    def __init__(
        self,
        *,
        max_line: int = MAX_LINE,
        output_limit: int = OUTPUT_LIMIT,
        event_limit: int | None = None,
    ) -> None:
        self.max_line = max_line
        self.output_limit = output_limit
        self.event_limit = output_limit // 2 if event_limit is None else event_limit
        self.events = False  # `events on|off`
        self.dropped = 0  # events dropped since the last notice
        self.dropped_total = 0
        self.lines_seen = 0
        self._in = bytearray()
        self._discarding = False  # inside an overlong line: skip to its end
        self._skip_lf = False  # the last line ended with CR: a LF right after it is the same end
        self._out = bytearray()

    # -- input --------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        self._in += data

    @property
    def pending_input(self) -> int:
        return len(self._in)

    def next_command(self) -> Command | Refused | None:
        """The next complete command line, or None until more data arrives."""
        while True:
            raw = self._next_line()
            if raw is None:
                return None
            if isinstance(raw, _TooLong):
                return Refused("line too long")
            item = self._interpret(raw)
            if item is not None:
                return item

    def has_complete_line(self) -> bool:
        return b"\r" in self._in or b"\n" in self._in

    def discard_input(self) -> None:
        """Forget a half-received line (the client purged its side, or a new client came)."""
        self._in.clear()
        self._discarding = False
        self._skip_lf = False

    def _next_line(self) -> bytes | _TooLong | None:
        buf = self._in
        if self._skip_lf and buf:
            if buf[0] == 0x0A:
                del buf[0]
            self._skip_lf = False
        cr, lf = buf.find(b"\r"), buf.find(b"\n")
        end = min(cr, lf) if cr >= 0 and lf >= 0 else max(cr, lf)
        if end < 0:
            if len(buf) > self.max_line:
                # keep nothing of an overlong line; answer it once its end arrives
                self._discarding = True
                buf.clear()
            return None
        line = bytes(buf[:end])
        self._skip_lf = buf[end] == 0x0D
        del buf[: end + 1]
        if self._discarding or len(line) > self.max_line:
            self._discarding = False
            return _TOO_LONG
        return line

    def _interpret(self, raw: bytes) -> Command | Refused | None:
        raw = raw.replace(b"\0", b"")  # NUL is padding (telnet sends CR NUL for a bare CR)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return Refused("line is not UTF-8 text")
        chars: list[str] = []
        for ch in text:
            if ch in "\b\x7f":  # a terminal's backspace: no echo here, but honour the edit
                if chars:
                    chars.pop()
            elif ch == "\t":
                chars.append(" ")
            elif ch < " " or "\x80" <= ch <= "\x9f":
                return Refused(f"control character 0x{ord(ch):02X} in line")
            else:
                chars.append(ch)
        text = "".join(chars).strip()
        if not text or text.startswith("#"):
            return None
        self.lines_seen += 1
        try:
            step = parse_line(text, self.lines_seen)
        except ScriptError as exc:
            return Refused(exc.message)
        if step is None:
            return None
        return Command(text, step)

    # -- output -------------------------------------------------------------------------
    @property
    def pending_output(self) -> int:
        return len(self._out)

    def room_for_answers(self) -> bool:
        return len(self._out) < self.output_limit

    def answer(self, lines: Iterable[str]) -> None:
        out = self._out
        for line in lines:
            out += _result_line(line).encode("utf-8", "replace") + CRLF
        out += b"OK" + CRLF

    def refuse(self, reason: str) -> None:
        reason = one_line(reason).strip()[:MAX_REASON] or "refused"
        self._out += b"ERR " + reason.encode("utf-8", "replace") + CRLF

    def push_event(self, text: str) -> bool:
        """Queue `! text` if events are on and there is room; False if not sent."""
        if not self.events:
            return False
        if len(self._out) >= self.event_limit:
            self.dropped += 1
            return False
        self._out += b"! " + one_line(text).encode("utf-8", "replace") + CRLF
        return True

    def take(self, limit: int) -> bytes:
        chunk = bytes(self._out[:limit])
        del self._out[:limit]
        if self.dropped and len(self._out) < self.event_limit:
            self._out += f"! dropped {self.dropped} events".encode() + CRLF
            self.dropped_total += self.dropped
            self.dropped = 0
        return chunk

    def discard_output(self) -> None:
        """Forget what the client has not read yet (it asked to purge its input)."""
        self._out.clear()
        self.dropped_total += self.dropped
        self.dropped = 0


# -- what the machines do, as event lines -----------------------------------------------------

# Event kinds, each followed by its detail (docs/console.md lists them):
#   lcd "LINE1" "LINE2" | led NAME STATE | job KIND begin|end | journal LINE
#   fault set|clear NAME | power on|off | printed COUNT
EventSink = Callable[[str, str, str], None]  # (machine name, kind, detail)


class EventFeed:
    """Watches every machine of a simulation and hands their events to the subscribed clients.

    Machines added later (`device NAME NUMBER`) are picked up from the runner's idle hook.
    """

    def __init__(self, sim: Simulation, runner: Runner) -> None:
        self.sim = sim
        self.runner = runner
        self.sinks: list[EventSink] = []
        self._watched: dict[str, tuple[Machine, Callable[..., None], Callable[..., None]]] = {}
        self._job: dict[str, str | None] = {}
        runner.idle_hooks.append(self.sync)
        sim.restored.append(self._restored)
        self.sync()

    def _restored(self) -> None:
        """A snapshot was restored: the machines are the restored ones (their old listeners went
        with the state they had)."""
        self._watched.clear()
        self._job.clear()
        self.sync()

    def subscribe(self, sink: EventSink) -> None:
        if sink not in self.sinks:
            self.sync()
            self.sinks.append(sink)

    def unsubscribe(self, sink: EventSink) -> None:
        if sink in self.sinks:
            self.sinks.remove(sink)

    def sync(self) -> None:
        if len(self._watched) == len(self.sim.machines):
            return
        for name, machine in self.sim.machines.items():
            if name in self._watched:
                continue
            on_log = partial(self._on_log, name)
            on_journal = partial(self._on_journal, name)
            machine.board.log.listeners.add(on_log)
            machine.firmware.journal.listeners.add(on_journal)
            self._watched[name] = (machine, on_log, on_journal)
            self._job[name] = _job_kind(machine.firmware.state)

    def close(self) -> None:
        if self.sync in self.runner.idle_hooks:
            self.runner.idle_hooks.remove(self.sync)
        if self._restored in self.sim.restored:
            self.sim.restored.remove(self._restored)
        for machine, on_log, on_journal in self._watched.values():
            if on_log in machine.board.log.listeners:
                machine.board.log.listeners.discard(on_log)
            if on_journal in machine.firmware.journal.listeners:
                machine.firmware.journal.listeners.discard(on_journal)
        self._watched.clear()
        self.sinks.clear()

    def _emit(self, machine: str, kind: str, detail: str) -> None:
        for sink in list(self.sinks):
            sink(machine, kind, detail)

    def _on_log(self, machine: str, event: Event) -> None:
        src, ev = event.get("src"), event.get("ev")
        if src == "firmware" and ev == "state":
            # job begin/end is tracked even with nobody listening, so the first `end` is right
            kind = _job_kind(str(event.get("state", "")))
            previous = self._job.get(machine)
            if kind != previous:
                self._job[machine] = kind
                if previous is not None:
                    self._emit(machine, "job", f"{previous} end")
                if kind is not None:
                    self._emit(machine, "job", f"{kind} begin")
            return
        if not self.sinks:
            return
        if src == "panel" and ev == "lcd":
            lines = list(event.get("lines", ["", ""]))
            self._emit(machine, "lcd", " ".join(quote(str(x)) for x in lines))
        elif src == "panel" and ev == "led":
            self._emit(machine, "led", f"{event.get('led')} {event.get('state')}")
        elif src == "fault" and ev in ("set", "clear"):
            self._emit(machine, "fault", f"{ev} {event.get('fault')}")
        elif src == "board" and ev == "power":
            self._emit(machine, "power", "on" if event.get("on") else "off")
        elif src == "printer" and ev == "delivered":
            self._emit(machine, "printed", "")  # the count is each client's own (see printed?)

    def _on_journal(self, machine: str, entry: Any) -> None:
        if self.sinks:
            self._emit(machine, "journal", entry.line())


def _job_kind(state: str) -> str | None:
    if state.startswith("job."):
        return state.split(".")[1]
    return None


def event_text(machine: str, kind: str, detail: str) -> str:
    """The text after `! `: events of another machine read `on NAME ...`, as steps do."""
    prefix = "" if machine == "main" else f"on {machine} "
    return f"{prefix}{kind} {detail}".rstrip()


# -- transports ---------------------------------------------------------------------------------


class Transport:
    """A non-blocking byte pipe to one client. `recv` gives b"" for nothing now, None at its end."""

    def fileno(self) -> int:
        raise NotImplementedError

    def recv(self) -> bytes | None:
        raise NotImplementedError

    def send(self, data: bytes | bytearray) -> int:
        raise NotImplementedError

    def peer_alive(self) -> bool:
        """False once the client is known to be gone (a reset after its end of input)."""
        return True

    def decode(self, data: bytes) -> bytes:
        """Bytes received -> console bytes (RFC 2217 takes its telnet commands out)."""
        return data

    def encode(self, data: bytes) -> bytes:
        """Console bytes -> bytes to send (RFC 2217 doubles IAC)."""
        return data

    def close(self) -> None:
        raise NotImplementedError


class SocketTransport(Transport):
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # answers are small lines
        self._fd = sock.fileno()

    def fileno(self) -> int:
        return self._fd

    def recv(self) -> bytes | None:
        try:
            data = self.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:
            return None
        return data or None

    def send(self, data: bytes | bytearray) -> int:
        return self.sock.send(data)

    def peer_alive(self) -> bool:
        return self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0

    def close(self) -> None:
        self.sock.close()


class VirtualSerialPort:
    """The port settings a RFC 2217 client may set: accepted and kept, as a real UART would.

    The console runs at whatever rate the client sets. The modem lines show a cable to a
    powered machine (CTS, DSR, CD asserted; no ring).
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.baudrate = 115200
        self.bytesize = 8
        self.parity = "N"
        self.stopbits = 1
        self.xonxoff = False
        self.rtscts = False
        self.break_condition = False
        self.dtr = True
        self.rts = True
        self.cts = True
        self.dsr = True
        self.cd = True
        self.ri = False

    # PURGE-DATA: the port's receive buffer holds what goes to the client, its transmit
    # buffer what came from it (RFC 2217 names the buffers from the access server's side).
    def reset_input_buffer(self) -> None:
        self.connection.discard_output()

    def reset_output_buffer(self) -> None:
        self.connection.discard_input()


class _WireWriter:
    """What `PortManager` writes its telnet replies to: straight onto the connection's wire."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def write(self, data: bytes) -> None:
        self.connection.wire += data


class Rfc2217Transport(SocketTransport):
    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self.manager: rfc2217.PortManager | None = None

    def attach(self, connection: Connection) -> None:
        """Start the telnet negotiation (PortManager sends its requests at once)."""
        self.manager = rfc2217.PortManager(VirtualSerialPort(connection), _WireWriter(connection))

    def decode(self, data: bytes) -> bytes:
        pm = self.manager
        assert pm is not None
        if b"\xff" not in data and pm.mode == rfc2217.M_NORMAL and pm.suboption is None:
            return data  # no telnet command in it: PortManager would pass every byte
        out = bytearray()
        for i in range(len(data)):
            try:
                out += b"".join(pm.filter(data[i : i + 1]))
            except (KeyError, ValueError, TypeError, IndexError, struct.error):
                # pyserial raises on some malformed subnegotiations: forget that one
                self._resync()
            if pm.suboption is not None and len(pm.suboption) > MAX_SUBOPTION:
                self._resync()
        return bytes(out)

    def _resync(self) -> None:
        assert self.manager is not None
        self.manager.mode = rfc2217.M_NORMAL
        self.manager.suboption = None

    def encode(self, data: bytes) -> bytes:
        assert self.manager is not None
        return b"".join(self.manager.escape(data))


TIOCPKT = getattr(termios, "TIOCPKT", 0x5420)
TIOCPKT_FLUSHREAD = getattr(termios, "TIOCPKT_FLUSHREAD", 1)
TIOCPKT_FLUSHWRITE = getattr(termios, "TIOCPKT_FLUSHWRITE", 2)


class PtyTransport(Transport):
    """The master side of a pty in packet mode, so a client's flush (pyserial does one when it
    opens the port) is seen here: the console then drops what is pending, and a new client
    starts clean instead of reading what was meant for the last one. (Answers to commands
    still running come as they would on a real line.)"""

    def __init__(self, master: int) -> None:
        self.master = master
        os.set_blocking(master, False)
        try:
            fcntl.ioctl(master, TIOCPKT, struct.pack("i", 1))
            self.packet_mode = True
        except OSError:
            self.packet_mode = False
        self.on_flush: Callable[[bool, bool], None] | None = None

    def fileno(self) -> int:
        return self.master

    def recv(self) -> bytes | None:
        try:
            packet = os.read(self.master, READ_SIZE + 1)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:
            return b""  # EIO only comes when no slave is open, and we keep ours open
        if not self.packet_mode or not packet:
            return packet
        if packet[0] == 0:
            return packet[1:]
        status = packet[0]
        if self.on_flush is not None and status & (TIOCPKT_FLUSHREAD | TIOCPKT_FLUSHWRITE):
            self.on_flush(bool(status & TIOCPKT_FLUSHREAD), bool(status & TIOCPKT_FLUSHWRITE))
        return b""

    def send(self, data: bytes | bytearray) -> int:
        return os.write(self.master, data)

    def close(self) -> None:
        os.close(self.master)


# -- one client ------------------------------------------------------------------------------


class Connection:
    """One client of the console: its session, its interpreter, its bytes in flight."""

    def __init__(
        self,
        transport: Transport,
        sim: Simulation,
        runner: Runner,
        template: Interpreter,
        feed: EventFeed,
        on_closed: Callable[[Connection], None] | None = None,
        ends_at_eof: bool = True,
        documents: tuple[Path, ...] | None = None,
    ) -> None:
        self.transport = transport
        self.sim = sim
        self.runner = runner
        self.feed = feed
        self.on_closed = on_closed
        self.ends_at_eof = ends_at_eof
        self.session = ConsoleSession()
        # A client may load documents only from the document folders (run --documents; by
        # default the folder run started in): it must not make the machine read any file the
        # owner can read.
        if documents is None:
            documents = (template.base_dir or Path.cwd(),)
        self.interp = Interpreter(sim, base_dir=template.base_dir, documents=documents)
        self.interp.recorder = template.recorder  # `run --record` records console steps too
        self.interp.on_events = self._set_events
        self.wire = bytearray()  # bytes encoded for the transport, not yet sent
        self.busy = False  # a command is running
        self.closed = False
        self.input_ended = False  # the client closed its side; finish what it sent, then close
        self._reading = False
        self._writing = False
        self._pumping = False
        self._sent_since_probe = False
        self._probe_next_turn = False
        self._fd = transport.fileno()

    def start(self) -> None:
        self._flush()

    # -- the client's bytes -------------------------------------------------------------
    def _on_readable(self) -> None:
        data = self.transport.recv()
        if data is None:
            # a half-close still gets its answers (printf ... | nc -N); a half line is dropped
            self.input_ended = True
        elif data:
            self.session.receive_data(self.transport.decode(data))
        self._pump()

    def _on_writable(self) -> None:
        self._flush()
        self._pump()

    def discard_output(self, wire_too: bool = False) -> None:
        """Drop what the client has not read. The wire is kept unless asked: on RFC 2217 it
        may hold telnet replies the client is waiting for."""
        self.session.discard_output()
        if wire_too:
            self.wire.clear()
        self._update_interest()

    def discard_input(self) -> None:
        self.session.discard_input()
        self._update_interest()

    # -- commands -----------------------------------------------------------------------
    def _pump(self) -> None:
        """Start commands one after another while the client has room for their answers."""
        if self._pumping or self.closed:
            return
        self._pumping = True
        try:
            while not self.closed and not self.busy and self.session.room_for_answers():
                if self.input_ended and not self._peer_still_there():
                    break
                item = self.session.next_command()
                if item is None:
                    break
                if isinstance(item, Refused):
                    self.session.refuse(item.reason)
                    continue
                self.busy = True
                # may answer at once (queries), calling _answered inside this loop
                StepTask(self.interp, item.step, self._answered).start()
        finally:
            self._pumping = False
        self._flush()

    def _peer_still_there(self) -> bool:
        """After the client's end of input: run what it sent only while it can still hear.

        A client that shut down only its sending side (`nc -N`) reads every answer; one that
        closed altogether answers our first bytes with a reset. So each answer is delivered and
        the peer probed on the next loop turn (when a reset has come back) before going on.
        """
        if self.wire or self.session.pending_output:
            return False  # deliver first; _on_writable comes back here
        if self._sent_since_probe:
            self._sent_since_probe = False
            self._probe_next_turn = True
            return False
        self._probe_next_turn = False
        if not self.transport.peer_alive():
            self.close()
            return False
        return True

    def _answered(self, result: list[str] | None, error: BaseException | None) -> None:
        self.busy = False
        if self.closed:
            return  # the client went away mid-command: the step ran to its end, unheard
        if error is None:
            self.session.answer(result or [])
        else:
            if not isinstance(error, (ExpectationFailed, ScriptError)):
                self.sim.main.board.log.emit("console", "internal_error", kind=type(error).__name__)
            self.session.refuse(refusal_reason(error))
        self._pump()

    # -- events -------------------------------------------------------------------------
    def _set_events(self, on: bool) -> None:
        self.session.events = on
        if on:
            self.feed.subscribe(self._on_event)
        else:
            self.feed.unsubscribe(self._on_event)

    def _on_event(self, machine: str, kind: str, detail: str) -> None:
        if self.closed:
            return
        if kind == "printed":
            m = self.sim.machines.get(machine)
            if m is None:
                return
            detail = str(m.printed_count() - self.interp.printed_base.get(machine, 0))
        if self.session.push_event(event_text(machine, kind, detail)):
            self._flush()

    # -- bytes to the client --------------------------------------------------------------
    def _flush(self) -> None:
        if self.closed:
            return
        while True:
            if not self.wire:
                chunk = self.session.take(WRITE_CHUNK)
                if not chunk:
                    break
                self.wire += self.transport.encode(chunk)
            try:
                sent = self.transport.send(self.wire)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.close()  # the client vanished
                return
            if sent <= 0:
                break
            del self.wire[:sent]
            self._sent_since_probe = True
        self._update_interest()

    def _update_interest(self) -> None:
        if self.closed:
            return
        if (
            self.input_ended
            and self.ends_at_eof
            and not self.busy
            and not self._pumping
            and not self.wire
            and not self.session.pending_output
            and not self._probe_next_turn
            and not self.session.has_complete_line()
        ):
            # nothing left to answer: _pump has run every complete line already
            self.close()
            return
        want_read = (
            not self.input_ended
            and self.session.pending_input < INPUT_LIMIT
            and len(self.wire) < OUTPUT_LIMIT
        )
        if want_read != self._reading:
            if want_read:
                self.runner.add_reader(self._fd, self._on_readable)
            else:
                self.runner.remove_reader(self._fd)
            self._reading = want_read
        # after the end of input, a writable callback is how the next queued command starts
        more_to_run = self.input_ended and not self.busy and self.session.has_complete_line()
        want_write = bool(
            self.wire or self.session.pending_output or self._probe_next_turn or more_to_run
        )
        if want_write != self._writing:
            if want_write:
                self.runner.add_writer(self._fd, self._on_writable)
            else:
                self.runner.remove_writer(self._fd)
            self._writing = want_write

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._reading:
            self.runner.remove_reader(self._fd)
        if self._writing:
            self.runner.remove_writer(self._fd)
        self._reading = self._writing = False
        self.feed.unsubscribe(self._on_event)
        try:
            self.transport.close()
        except OSError:
            pass
        if self.on_closed is not None:
            self.on_closed(self)


# -- endpoints ---------------------------------------------------------------------------------


class PtyEndpoint:
    """`pty[:LINK]`: one console on a pty, for as long as the machine runs.

    The slave side is set raw (no echo, no line discipline) and kept open here, so reading the
    master never fails when a client closes; it is mode 0600 (only the user running the machine
    may drive it) and LINK, when given, is a symlink to it that stays the same from run to run.
    """

    def __init__(
        self,
        link: str | None,
        sim: Simulation,
        runner: Runner,
        template: Interpreter,
        documents: tuple[Path, ...] | None = None,
    ) -> None:
        self.link = os.path.abspath(link) if link else None
        try:
            self.master, self.slave, self.path = open_linked_pty(self.link, f"--serial pty:{link}")
        except OSError as exc:
            raise OSError(f"--serial pty:{link}: cannot make the link: {exc.strerror}") from None
        self.feed = EventFeed(sim, runner)
        transport = PtyTransport(self.master)
        self.connection = Connection(
            transport, sim, runner, template, self.feed, ends_at_eof=False, documents=documents
        )
        transport.on_flush = self._flushed
        self.connection.start()

    def _flushed(self, read: bool, write: bool) -> None:
        # pyserial flushes the port's input when it opens it: a new client starts clean
        if read:
            self.connection.discard_output(wire_too=True)
        self.connection.discard_input()

    def describe(self) -> str:
        return f"serial pty {self.link or self.path}"

    def close(self) -> None:
        self.connection.close()
        self.feed.close()
        os.close(self.slave)
        remove_link(self.link, self.path)


class SocketEndpoint:
    """`tcp:PORT` (raw bytes) or `rfc2217:PORT`: a listener on 127.0.0.1, several clients."""

    def __init__(
        self,
        kind: str,
        port: int,
        sim: Simulation,
        runner: Runner,
        template: Interpreter,
        documents: tuple[Path, ...] | None = None,
    ) -> None:
        self.kind = kind
        self.documents = documents
        self.sim = sim
        self.runner = runner
        self.template = template
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind(("127.0.0.1", port))
            self.listener.listen(MAX_CLIENTS)
            self.listener.setblocking(False)
        except OSError as exc:
            self.listener.close()
            raise OSError(f"--serial {kind}:{port}: {exc.strerror or exc}") from None
        self.port = int(self.listener.getsockname()[1])
        self.connections: list[Connection] = []
        self.feed = EventFeed(sim, runner)
        self._fd = self.listener.fileno()
        runner.add_reader(self._fd, self._accept)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # e.g. too many open files: the client will see its connection reset
            if len(self.connections) >= MAX_CLIENTS:
                try:
                    sock.setblocking(False)
                    sock.send(b"ERR too many clients" + CRLF)
                except OSError:
                    pass
                sock.close()
                continue
            transport: SocketTransport
            if self.kind == "rfc2217":
                transport = Rfc2217Transport(sock)
            else:
                transport = SocketTransport(sock)
            connection = Connection(
                transport, self.sim, self.runner, self.template, self.feed,
                on_closed=self._closed, documents=self.documents,
            )  # fmt: skip
            if isinstance(transport, Rfc2217Transport):
                transport.attach(connection)
            self.connections.append(connection)
            connection.start()

    def _closed(self, connection: Connection) -> None:
        if connection in self.connections:
            self.connections.remove(connection)

    def describe(self) -> str:
        return f"serial {self.kind} 127.0.0.1:{self.port}"

    def close(self) -> None:
        self.runner.remove_reader(self._fd)
        for connection in list(self.connections):
            connection.close()
        self.listener.close()
        self.feed.close()


Endpoint = PtyEndpoint | SocketEndpoint


def parse_endpoint(spec: str) -> tuple[str, str | int | None]:
    """`pty`, `pty:LINK`, `tcp:PORT`, `rfc2217:PORT` -> (kind, link or port)."""
    kind, sep, rest = spec.partition(":")
    if kind == "pty":
        if sep and not rest:
            raise ValueError("--serial pty:LINK needs a path after the colon")
        return "pty", rest or None
    if kind in ("tcp", "rfc2217"):
        if not (rest.isascii() and rest.isdigit() and len(rest) <= 5) or int(rest) > 65535:
            raise ValueError(f"--serial {kind}:PORT needs a port number 0-65535, not {rest[:40]!r}")
        return kind, int(rest)
    raise ValueError(f"--serial {spec!r}: write pty[:LINK], tcp:PORT or rfc2217:PORT")


def open_endpoint(
    spec: str,
    sim: Simulation,
    runner: Runner,
    interp: Interpreter,
    documents: tuple[Path, ...] | None = None,
) -> Endpoint:
    """Open one `--serial` endpoint on the runner's select loop (see `describe()` for its line).
    Its clients may load documents from `documents` only (default: the interpreter's folder)."""
    kind, where = parse_endpoint(spec)
    if kind == "pty":
        assert where is None or isinstance(where, str)
        return PtyEndpoint(where, sim, runner, interp, documents)
    assert isinstance(where, int)
    return SocketEndpoint(kind, where, sim, runner, interp, documents)
