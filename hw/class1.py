"""A Class 1 (ITU-T T.31) fax modem: the AT command interpreter on a line port and a modem.

The host (efax, HylaFAX) talks to it in bytes; `receive_data(bytes)` takes what the host wrote and
`take_output()` gives what the host is to read (`on_output` says when there is some). There is no
I/O here: the edge (`panel/class1.py`) moves those bytes through a pty. Below, the interpreter
drives the simulated hardware the way a modem's controller drives its data pump: it dials, answers
and hangs up the `LineInterface`, and sends and listens through the `Modem` (V.21 HDLC frames,
high-speed data, tones, silence); their events come back through listeners. All time is the
virtual clock's.

What it understands (T.31 and the V.250 basics a fax program sends; see docs/class1.md):
- command lines `AT...` ended by CR (S3), several commands on a line (`ATQ0V1E0`), upper or lower
  case, spaces ignored, backspace (S5) editing, `A/` repeats the last line; characters before
  `AT` are ignored, a line that does not parse is answered ERROR and the rest of it is dropped;
- `Z`, `&F`, `E`, `V`, `Q`, `L`, `M`, `X`, `I`, `H`, `A`, `D`, `Sn=v`, `Sn?`, `&C &D &K &S &W`
  (accepted, nothing to do on a pty), `+FCLASS`, `+FTM`, `+FRM`, `+FTH`, `+FRH`, `+FTS`, `+FRS`
  with their `=?` queries, `+FMI? +FMM? +FMR?` (and `+GMI/+GMM/+GMR`), `+FLO`, `+FAR`, `+FIT`,
  `+FPR`, `+IFC`;
- HDLC frames from the host after `+FTH=3` (no flags, no FCS; DLE doubled; DLE ETX ends a frame;
  CONNECT after a frame whose control field has no final bit, OK once the final one is on the line)
  and to the host after `+FRH=3` (the frame with its two FCS octets, DLE ETX, then OK, or ERROR
  when the FCS was bad); page and training data after `+FTM`/`+FRM`, DLE doubled, DLE ETX at the
  end (and NO CARRIER when the far end's carrier dropped); `+FCERROR` when the carrier heard is
  not the one asked for; RING, BUSY, NO ANSWER, NO DIALTONE, NO CARRIER.

The receiver listens to every modulation whenever the modem is not sending, and keeps what it hears
until the host asks for it (cleared when the modem next transmits). A real modem locks on only to
the carrier it was told to expect; keeping what was heard makes the modem indifferent to how late
the host's +FRH/+FRM arrives, which matters when a speed factor makes every host delay longer in
virtual time.

A host that runs ECM itself (HylaFAX) writes a synchronous HDLC bit stream after +FTM and decodes
one after +FRM; the line model carries frames, so the modem unframes such a stream (recognised by
its opening flags) into frames on the line, and turns high-speed frames from the far end into a
bit stream for the host (`HdlcBitReader`, `HdlcBitStream`).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .clock import MS, SECOND, Clock, Timer
from .hdlc import MIN_FRAME_OCTETS, HdlcEncoder, add_fcs, check_fcs, fcs16
from .modem import (
    MODULATIONS,
    CarrierDown,
    CarrierUp,
    DataReceived,
    FrameReceived,
    Modem,
    ModemEvent,
    RemoteQuiet,
    ToneOff,
    ToneOn,
    TransmitDone,
    modulation_for_t31,
)

if TYPE_CHECKING:
    from .eventlog import EventLog
    from .line import LineEvent, LineInterface

DLE, ETX, SUB, DC1, DC3 = 0x10, 0x03, 0x1A, 0x11, 0x13
LF = 0x0A

# T.31 modulation codes this modem offers for +FTM/+FRM (V.27ter, V.29, V.17 long/short train).
DATA_CODES = (24, 48, 72, 73, 74, 96, 97, 98, 121, 122, 145, 146)
HDLC_CODES = (3,)  # V.21 channel 2 only: ECM frames at high speed go through +FTM/+FRM

# Result codes: verbose text and the V.250 numeric form (ATV0).
RESULT_NUMBERS = {
    "OK": "0",
    "CONNECT": "1",
    "RING": "2",
    "NO CARRIER": "3",
    "ERROR": "4",
    "NO DIALTONE": "6",
    "BUSY": "7",
    "NO ANSWER": "8",
    "+FCERROR": "+F4",
}

# S-registers and their factory values (V.250; S7 as HylaFAX sets it).
S_DEFAULTS = {
    0: 0,  # rings before auto-answer (0: never)
    1: 0,  # rings counted (read only)
    2: 43,  # escape character
    3: 13,  # command line termination (CR)
    4: 10,  # response formatting (LF)
    5: 8,  # command line editing (BS)
    6: 2,  # pause before blind dialing, s
    7: 60,  # wait for carrier after dialing, s
    8: 2,  # comma dial pause, s (the line's own pause is used: hw.line.PAUSE)
    10: 14,  # carrier loss to hang-up, 0.1 s
}

IDENTITY = {  # ATIn
    0: "ESTUDIO190F CLASS1",
    1: "000",
    2: "OK",
    3: "e-STUDIO190F simulator virtual Class 1 fax modem",
    4: "estudio190f",
    5: "000",
    6: "T.31 V.17 V.29 V.27ter V.21",
    7: "000",
    8: "000",
    9: "000",
}
MANUFACTURER = "estudio190f"
MODEL = "virtual Class 1 fax modem (T.31)"
REVISION = "1.0"

MAX_LINE = 255  # command line characters kept (V.250 asks for at least 40)
MAX_FRAME = 260  # octets of one HDLC frame from the host (T.30 allows 256 + header)
TX_AHEAD = 1 * SECOND  # data queued on the line beyond which the host is not read (flow control)
ANSWER_DELAY = 200 * MS  # T.30: at least 0.2 s between answering and CED
CED_TIME = 3 * SECOND
CED_GAP = 75 * MS  # CED to the V.21 preamble
CARRIER_LOSS_TIME = 10 * MS  # a high-speed carrier's end to the receiver noticing it

# Interpreter states.
COMMAND = "command"  # reading command lines
DIALING = "dialing"  # ATD: waiting for answer, busy, ...
ANSWERING = "answering"  # ATA: off hook, sending CED
HDLC_TX = "hdlc_tx"  # +FTH (or after ATA's CONNECT): frames from the host
DATA_TX = "data_tx"  # +FTM: page or training data from the host
DISCARD = "discard"  # the call dropped during +FTH/+FTM: host data dropped up to DLE ETX
HDLC_RX = "hdlc_rx"  # +FRH (or ATD's CONNECT): waiting for or delivering a frame
DATA_RX = "data_rx"  # +FRM: waiting for or delivering data
SILENCE_RX = "silence_rx"  # +FRS: waiting for the line to be quiet
BUSY = "busy"  # waiting for our own transmission to end (final frame, DLE ETX, +FTS)

ABORTABLE = (DIALING, ANSWERING, HDLC_RX, DATA_RX, SILENCE_RX)


class AtSyntaxError(ValueError):
    """A command line that does not parse."""


@dataclass(frozen=True, slots=True)
class AtCommand:
    """One command of a line: `name` is `D`, `S7`, `&K`, `+FTM`, ...; `op` is '' (action),
    '=' (set), '?' (read), '=?' (test); `arg` the value or the dial string."""

    name: str
    op: str = ""
    arg: str = ""


_EXTENDED = re.compile(r"\+[A-Z][A-Z0-9!%\-./:_]*")
_NUMBER = re.compile(r"\d*")
_S_REGISTER = re.compile(r"S(\d+)(=(\d*)|\?)?")


def parse_command_line(body: str) -> list[AtCommand]:
    """The commands of one line, `body` being what follows `AT` (without the CR).

    V.250 syntax, as far as a fax program needs it: basic commands (a letter, or `&` and a
    letter, with an optional number), `Sn=v` / `Sn?`, `D` taking the rest of the line, and
    extended commands (`+NAME`, `+NAME=v`, `+NAME?`, `+NAME=?`) ended by `;` or the line's end.
    """
    text = "".join(body.split()).upper()
    out: list[AtCommand] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ";":
            i += 1
            continue
        if ch == "D":
            out.append(AtCommand("D", "", text[i + 1 :]))
            break
        if ch == "+":
            m = _EXTENDED.match(text, i)
            if m is None:
                raise AtSyntaxError(f"bad extended command at {text[i:]!r}")
            name = m.group()
            end = text.find(";", m.end())
            end = len(text) if end < 0 else end
            rest = text[m.end() : end]
            if rest == "":
                out.append(AtCommand(name))
            elif rest == "?":
                out.append(AtCommand(name, "?"))
            elif rest == "=?":
                out.append(AtCommand(name, "=?"))
            elif rest.startswith("="):
                out.append(AtCommand(name, "=", rest[1:]))
            else:
                raise AtSyntaxError(f"bad extended command {name}{rest}")
            i = end + 1
            continue
        if ch == "S":
            m = _S_REGISTER.match(text, i)
            if m is None or m.group(2) is None:
                raise AtSyntaxError(f"bad S-register command at {text[i:]!r}")
            name = f"S{int(m.group(1))}"
            if m.group(2) == "?":
                out.append(AtCommand(name, "?"))
            else:
                out.append(AtCommand(name, "=", m.group(3) or "0"))
            i = m.end()
            continue
        if ch == "&" or ch == "\\":
            if i + 1 >= len(text) or not text[i + 1].isalpha():
                raise AtSyntaxError(f"bad command at {text[i:]!r}")
            name = text[i : i + 2]
            i += 2
        elif ch.isalpha():
            name = ch
            i += 1
        else:
            raise AtSyntaxError(f"unexpected {ch!r}")
        m = _NUMBER.match(text, i)
        assert m is not None
        out.append(AtCommand(name, "", m.group()))
        i = m.end()
    return out


def _with_fcs(frame: bytes, fcs_ok: bool = True) -> bytes:
    """The frame and its two FCS octets, as the modem's HDLC unit passes a received frame on;
    a frame heard with a bad FCS gets the inverted FCS, so that the host's own check fails too."""
    if fcs_ok:
        return add_fcs(frame)
    return bytes(frame) + (fcs16(frame) ^ 0xFFFF).to_bytes(2, "little")


def dle_escape(data: bytes) -> bytes:
    """Data towards the host: every DLE doubled."""
    return data.replace(b"\x10", b"\x10\x10")


@dataclass
class HeardCarrier:
    """A carrier the receiver locked on to, and what it brought that the host has not read."""

    modulation: str
    up: bool = True
    frames: deque[tuple[bytes, bool]] = field(default_factory=deque)
    data: bytearray = field(default_factory=bytearray)
    connected: bool = False  # CONNECT was given for it and the host is reading it
    ecm: HdlcBitStream | None = None  # high-speed frames (ECM) turned into a bit stream

    @property
    def hdlc(self) -> bool:
        return self.modulation == "V.21"

    @property
    def exhausted(self) -> bool:
        return not self.up and not self.frames and not self.data


class Class1Modem:
    """The T.31 interpreter of one virtual fax modem on one line."""

    def __init__(
        self,
        clock: Clock,
        modem: Modem,
        line: LineInterface,
        log: EventLog | None = None,
    ) -> None:
        self.clock = clock
        self.modem = modem
        self.line = line
        self.log = log
        self.on_output: Callable[[], None] | None = None
        self._out = bytearray()
        self._inbox = bytearray()
        self._processing = False
        self.state = COMMAND
        # command line reader
        self._line: bytearray | None = None  # None: looking for "AT"
        self._saw_a = False
        self._last_line = ""
        self._swallow_lf = False
        # settings (ATZ restores them)
        self.echo = True
        self.verbose = True
        self.quiet = False
        self.fclass = "0"
        self.s = dict(S_DEFAULTS)
        # the call and the signals
        self._heard: deque[HeardCarrier] = deque()
        self._frame = bytearray()  # HDLC frame being received from the host
        self._tx_modulation = ""
        self._tx_kind: str | None = None
        self._tx_head = b""
        self._hdlc_reader = HdlcBitReader()
        self._dle = False  # the last host byte was a DLE
        self._tx_tag = 0
        self._awaiting: str | None = None  # tag of the transmission whose end gives a result
        self._awaiting_result = "OK"
        self._awaiting_until = 0
        self._timer: Timer | None = None  # S7, +FRS
        self._resume: Timer | None = None  # flow control: look at the inbox again
        self._rx_modulation = ""  # what +FRM asked for
        self._silence_needed = 0  # what +FRS asked for, µs
        self._quiet_since: int | None = None
        self._rang = False
        self._call_lost = False
        modem.listeners.add(self._modem_event)
        line.listeners.add(self._line_event)
        modem.receive(*MODULATIONS)

    # -- the host side --------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Bytes the host wrote."""
        self._inbox += data
        self._process()

    def take_output(self) -> bytes:
        """Bytes for the host to read, in order; the buffer is emptied."""
        out = bytes(self._out)
        self._out.clear()
        return out

    @property
    def wants_input(self) -> bool:
        """False while the host's data should stay unread (the transmitter is a second ahead):
        the edge stops reading, and the pty's buffer throttles the host."""
        return self.state != DATA_TX or not self._tx_full()

    def reset(self) -> None:
        """Back to command state, on hook, the host's unread bytes dropped (after an internal
        error); the host hears ERROR."""
        self._inbox.clear()
        self._line = None
        self._saw_a = False
        self._processing = False
        self._hang_up()
        self._result("ERROR")

    def close(self) -> None:
        """Hang up and stop listening (the pty went away)."""
        self._hang_up()
        if self._modem_event in self.modem.listeners:
            self.modem.listeners.discard(self._modem_event)
        if self._line_event in self.line.listeners:
            self.line.listeners.discard(self._line_event)

    # -- output ----------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if not data:
            return
        self._out += data
        if self.on_output is not None:
            self.on_output()

    def _crlf(self) -> bytes:
        return bytes((self.s[3], self.s[4]))

    def _result(self, code: str) -> None:
        self._trace("result", code=code)
        if self.quiet:
            return
        if self.verbose:
            self._write(self._crlf() + code.encode() + self._crlf())
        else:
            self._write(RESULT_NUMBERS[code].encode() + bytes((self.s[3],)))

    def _info(self, text: str) -> None:
        if self.verbose:
            self._write(self._crlf() + text.encode() + self._crlf())
        else:
            self._write(text.encode() + self._crlf())

    def _trace(self, kind: str, **fields: object) -> None:
        if self.log is not None:
            self.log.emit("class1", kind, **fields)

    # -- reading the host's bytes ------------------------------------------------------------------
    def _process(self) -> None:
        """Hand the host's bytes to the current state, as far as it takes them. Called again when
        a state ends; a call from inside (an action that ended at once) leaves the work to the
        loop already running."""
        if self._processing:
            return
        self._processing = True
        try:
            self._process_inbox()
        finally:
            self._processing = False

    def _process_inbox(self) -> None:
        while self._inbox:
            if self._swallow_lf:
                self._swallow_lf = False
                if self._inbox[0] == LF:
                    del self._inbox[0]
                    continue
            state = self.state
            if state == COMMAND:
                self._command_bytes()
            elif state in (HDLC_TX, DATA_TX, DISCARD):
                if not self._data_bytes():
                    return
            elif state in ABORTABLE:
                byte = self._inbox.pop(0)
                if byte in (DC1, DC3):
                    continue  # XON/XOFF from the host's tty: flow control, not an abort
                self._abort()
            else:
                return  # BUSY: the bytes wait for the result

    def _command_bytes(self) -> None:
        """Command state: echo, find `AT`, collect the line up to S3 and run it. Stops where a
        command line starts an action (the bytes after it belong to the new state)."""
        data = self._inbox
        index = 0
        echo_from = 0
        while index < len(data) and self.state == COMMAND:
            byte = data[index]
            index += 1
            if self._line is None:
                upper = chr(byte).upper() if byte < 0x80 else ""
                if self._saw_a and upper == "T":
                    self._line = bytearray()
                    self._saw_a = False
                elif self._saw_a and byte == ord("/"):
                    self._saw_a = False
                    echo_from = self._echo(data, echo_from, index)
                    self._run_line(self._last_line)
                else:
                    self._saw_a = upper == "A"
                continue
            if byte == self.s[3]:
                echo_from = self._echo(data, echo_from, index)
                raw = bytes(self._line)
                self._line = None
                self._swallow_lf = True
                if len(raw) > MAX_LINE:
                    self._trace("at", line="(too long)")
                    self._result("ERROR")
                    continue
                text = raw.decode("ascii", "replace")
                self._last_line = text
                self._run_line(text)
                if self._swallow_lf and index < len(data) and data[index] == LF:
                    self._swallow_lf = False
                    index += 1
                    echo_from = self._echo(data, echo_from, index)
            elif byte == self.s[5]:
                if self._line:
                    self._line.pop()
            elif byte < 0x20 or byte == 0x7F:
                continue  # other control characters are ignored in a command line
            elif len(self._line) <= MAX_LINE:
                self._line.append(byte)
        self._echo(data, echo_from, index)
        del data[:index]

    def _echo(self, data: bytearray, start: int, end: int) -> int:
        """Echo what the host typed (ATE1), up to `end`; returns where the next echo starts."""
        if self.echo and end > start:
            self._write(bytes(data[start:end]))
        return end

    def _data_bytes(self) -> bool:
        """+FTH/+FTM data: undo DLE stuffing, act on DLE ETX. False when flow control holds the
        rest of the inbox back."""
        state = self.state
        if state == DATA_TX and self._tx_full():
            self._hold_input()
            return False
        data = bytes(self._inbox)
        self._inbox.clear()
        plain = bytearray()
        end_at: int | None = None
        for index, byte in enumerate(data):
            if self._dle:
                self._dle = False
                if byte == DLE:
                    plain.append(DLE)
                elif byte == SUB:
                    plain += b"\x10\x10"
                elif byte == ETX:
                    end_at = index + 1
                    break
                # any other DLE pair is not data (T.31): dropped
            elif byte == DLE:
                self._dle = True
            else:
                plain.append(byte)
        if end_at is not None:
            self._inbox[:0] = data[end_at:]
        if state == HDLC_TX:
            self._frame += plain
            if len(self._frame) > MAX_FRAME:
                self._frame.clear()
                self._end_transmission("ERROR")
                return True
            if end_at is not None:
                self._send_frame()
        elif state == DATA_TX:
            if plain:
                self._feed_carrier(bytes(plain))
            if end_at is not None:
                if self._tx_head:
                    self.modem.feed(self._tx_head, tag=self._next_tag())
                self._end_transmission("OK")
        elif state == DISCARD and end_at is not None:
            self.state = COMMAND
        return True

    # -- running command lines ---------------------------------------------------------------------
    def _run_line(self, text: str) -> None:
        self._trace("at", line=text)
        try:
            commands = parse_command_line(text)
        except AtSyntaxError:
            self._result("ERROR")
            return
        for command in commands:
            try:
                outcome = self._execute(command)
            except (ValueError, KeyError):
                outcome = "ERROR"
            if outcome is None:
                return  # an action: its result comes later
            if outcome == "ERROR":
                self._result("ERROR")
                return
        self._result("OK")

    def _execute(self, cmd: AtCommand) -> str | None:
        """Run one command; 'OK' to go on with the line, 'ERROR' to stop it, None for an action
        that now owns the modem (the rest of the line is dropped, as T.31 allows)."""
        name, op, arg = cmd.name, cmd.op, cmd.arg
        if name.startswith("+"):
            handler = getattr(self, "_ext_" + _method_name(name[1:]), None)
            if handler is None:
                return "ERROR"
            result: str | None = handler(op, arg)
            return result
        if name.startswith("S") and name[1:].isdigit():
            return self._s_register(int(name[1:]), op, arg)
        handler = getattr(self, "_basic_" + _method_name(name), None)
        if handler is None:
            return "ERROR"
        result = handler(arg)
        return result

    # basic commands (V.250)
    def _basic_z(self, arg: str) -> str:
        self._hang_up()
        self._factory()
        return "OK"

    def _basic__f(self, arg: str) -> str:  # &F
        self._factory()
        return "OK"

    def _factory(self) -> None:
        self.echo, self.verbose, self.quiet = True, True, False
        self.fclass = "0"
        self.s = dict(S_DEFAULTS)

    def _basic_e(self, arg: str) -> str:
        return self._flag(arg, "echo")

    def _basic_v(self, arg: str) -> str:
        return self._flag(arg, "verbose")

    def _basic_q(self, arg: str) -> str:
        return self._flag(arg, "quiet")

    def _flag(self, arg: str, attr: str) -> str:
        if arg not in ("", "0", "1"):
            return "ERROR"
        setattr(self, attr, arg == "1")
        return "OK"

    def _basic_l(self, arg: str) -> str:  # speaker volume: no speaker
        return "OK" if arg in ("", "0", "1", "2", "3") else "ERROR"

    def _basic_m(self, arg: str) -> str:  # speaker mode
        return "OK" if arg in ("", "0", "1", "2", "3") else "ERROR"

    def _basic_x(self, arg: str) -> str:  # result code set: BUSY and NO DIALTONE always given
        return "OK" if arg in ("", "0", "1", "2", "3", "4") else "ERROR"

    def _basic_b(self, arg: str) -> str:
        return "OK"

    def _basic_i(self, arg: str) -> str:
        number = int(arg or "0")
        if number not in IDENTITY:
            return "ERROR"
        self._info(IDENTITY[number])
        return "OK"

    # &C (DCD), &D (DTR), &K (flow control), &S (DSR), &W (store): nothing to do on a pty.
    def _basic__c(self, arg: str) -> str:
        return "OK"

    _basic__d = _basic__k = _basic__s = _basic__w = _basic__c

    def _basic_h(self, arg: str) -> str:
        if arg in ("", "0"):
            self._hang_up()
            return "OK"
        if arg == "1":
            if self.line.state == "idle":
                self.line.go_off_hook()
            return "OK"
        return "ERROR"

    def _basic_o(self, arg: str) -> str:
        return "ERROR"  # no data connection to return to

    def _basic_a(self, arg: str) -> str | None:
        if self.fclass != "1":
            return "ERROR"
        if self.line.state != "ringing":
            if self.line.connected:
                return "ERROR"
            self._result("NO CARRIER")  # nothing to answer
            return None
        self._answer()
        return None

    def _basic_d(self, arg: str) -> str | None:
        if self.fclass != "1" or self.line.connected:
            return "ERROR"
        number = _dial_string(arg)
        if number is None:
            return "ERROR"
        self._dial(number)
        return None

    def _s_register(self, number: int, op: str, arg: str) -> str:
        if op == "?":
            self._info(f"{self.s.get(number, 0):03d}")
            return "OK"
        value = int(arg)
        if not 0 <= value <= 255 or number == 1:
            return "ERROR"
        self.s[number] = value
        return "OK"

    # extended commands (T.31 and V.250)
    def _ext_fclass(self, op: str, arg: str) -> str:
        if op == "=?":
            self._info("0,1")
        elif op == "?":
            self._info(self.fclass)
        elif op == "=" and arg in ("0", "1", "1.0"):
            self.fclass = "1" if arg.startswith("1") else "0"
        else:
            return "ERROR"
        return "OK"

    def _ext_ftm(self, op: str, arg: str) -> str | None:
        return self._fax_command(op, arg, DATA_CODES, self._start_data_tx)

    def _ext_frm(self, op: str, arg: str) -> str | None:
        return self._fax_command(op, arg, DATA_CODES, self._start_data_rx)

    def _ext_fth(self, op: str, arg: str) -> str | None:
        return self._fax_command(op, arg, HDLC_CODES, self._start_hdlc_tx)

    def _ext_frh(self, op: str, arg: str) -> str | None:
        return self._fax_command(op, arg, HDLC_CODES, self._start_hdlc_rx)

    def _ext_fts(self, op: str, arg: str) -> str | None:
        return self._fax_command(op, arg, range(256), self._start_silence_tx, "0-255")

    def _ext_frs(self, op: str, arg: str) -> str | None:
        return self._fax_command(op, arg, range(256), self._start_silence_rx, "0-255")

    def _fax_command(
        self,
        op: str,
        arg: str,
        codes: tuple[int, ...] | range,
        start: Callable[[int], None],
        listing: str = "",
    ) -> str | None:
        if self.fclass != "1":
            return "ERROR"
        if op == "=?":
            self._info(listing or ",".join(str(c) for c in codes))
            return "OK"
        if op != "=" or not arg.isdigit() or int(arg) not in codes:
            return "ERROR"
        if not self.line.connected:
            if not self._call_lost:
                return "ERROR"
            self._result("NO CARRIER")  # the far end has gone
            return None
        start(int(arg))
        return None

    def _ext_fmi(self, op: str, arg: str) -> str:
        return self._identify(op, MANUFACTURER)

    def _ext_fmm(self, op: str, arg: str) -> str:
        return self._identify(op, MODEL)

    def _ext_fmr(self, op: str, arg: str) -> str:
        return self._identify(op, REVISION)

    _ext_gmi, _ext_gmm, _ext_gmr = _ext_fmi, _ext_fmm, _ext_fmr

    def _identify(self, op: str, text: str) -> str:
        if op not in ("", "?"):
            return "ERROR"
        self._info(text)
        return "OK"

    def _ext_flo(self, op: str, arg: str) -> str:  # flow control: the pty's buffer does it
        return self._setting(op, arg, ("0", "1", "2"), "0-2")

    def _ext_far(self, op: str, arg: str) -> str:  # adaptive reception: always on, in effect
        return self._setting(op, arg, ("0", "1"), "0,1")

    def _ext_fit(self, op: str, arg: str) -> str:  # inactivity timer: not enforced
        return "OK" if op in ("=", "?", "=?") else "ERROR"

    def _ext_fpr(self, op: str, arg: str) -> str:  # serial rate: a pty has none
        return "OK" if op in ("=", "?", "=?") else "ERROR"

    _ext_ifc = _ext_fpr

    def _setting(self, op: str, arg: str, allowed: tuple[str, ...], listing: str) -> str:
        if op == "=?":
            self._info(listing)
            return "OK"
        if op == "?":
            self._info(allowed[0])
            return "OK"
        return "OK" if op == "=" and arg in allowed else "ERROR"

    # -- calls ---------------------------------------------------------------------------------------
    def _dial(self, number: str) -> None:
        self.state = DIALING
        self._rang = False
        self._call_lost = False
        self._trace("dial", number=number)
        if self.line.state not in ("idle", "off_hook"):
            self.line.hang_up()
        self.line.dial(number)

    def _answer(self) -> None:
        self.state = ANSWERING
        self._call_lost = False
        self._trace("answer")
        self.line.go_off_hook()
        self._heard.clear()
        self.modem.send_silence(ANSWER_DELAY)
        self.modem.send_tone("ced", CED_TIME)
        self._transmit(lambda tag: self.modem.send_silence(CED_GAP, tag=tag), "CONNECT")

    def _hang_up(self) -> None:
        self._cancel_timer()
        self._awaiting = None
        self._heard.clear()
        self.modem.stop()
        if self.line.state != "idle":
            self.line.hang_up()
        self.s[1] = 0
        self.state = COMMAND

    def _line_event(self, event: LineEvent) -> None:
        kind = event.kind
        if kind == "ring":
            self.s[1] = event.n
            if self.state == COMMAND:
                self._result("RING")
                if self.s[0] and event.n >= self.s[0] and self.fclass == "1":
                    self._answer()
        elif kind == "dialed" and self.state == DIALING:
            self.modem.start_cng()
            self._start_timer(self.s[7] * SECOND, self._dial_timeout)
        elif kind == "ringback" and self.state == DIALING:
            self._rang = True
        elif kind in ("busy", "no_dial_tone") and self.state == DIALING:
            self._cancel_timer()
            self.line.hang_up()
            self.state = COMMAND
            self._result("BUSY" if kind == "busy" else "NO DIALTONE")
        elif kind == "answered" and self.state == DIALING:
            # The far end picked up: from here ATD behaves as +FRH=3 (T.31 8.3.1).
            self._heard.clear()
            self.state = HDLC_RX
            self._start_timer(self.s[7] * SECOND, self._carrier_timeout)
            self._deliver()
        elif kind in ("remote_hangup", "dropped"):
            self._lost_call()

    def _dial_timeout(self) -> None:
        self._timer = None
        self.modem.stop()
        self.line.hang_up()
        self.state = COMMAND
        self._result("NO ANSWER" if self._rang else "NO CARRIER")

    def _carrier_timeout(self) -> None:
        """ATD: answered, but no fax handshake within S7."""
        self._timer = None
        if self.state == HDLC_RX and not self._heard:
            self.modem.stop()
            self.state = COMMAND
            self._result("NO CARRIER")

    def _lost_call(self) -> None:
        self._trace("call_lost", state=self.state)
        self._call_lost = True
        self._cancel_timer()
        awaiting, self._awaiting = self._awaiting, None
        self._heard.clear()
        self.modem.stop_cng()
        state = self.state
        if state == BUSY and awaiting is not None and self._awaiting_until <= self.clock.now:
            # What we were sending was all on the line when the far end hung up (DCN, then the
            # far end lets go at once): the host hears it went out.
            self.state = COMMAND
            self._result(self._awaiting_result)
        elif state in (HDLC_TX, DATA_TX):
            self.state = DISCARD
            self._frame.clear()
            self._result("NO CARRIER")
        elif state in (DIALING, ANSWERING, HDLC_RX, DATA_RX, SILENCE_RX, BUSY):
            self.state = COMMAND
            self._result("NO CARRIER")
        self._process()

    # -- transmitting ----------------------------------------------------------------------------
    def _next_tag(self) -> str:
        self._tx_tag += 1
        return f"class1-{id(self)}-{self._tx_tag}"

    def _transmit(self, send: Callable[[str], int], result: str) -> None:
        """Queue a transmission whose end gives `result` to the host."""
        tag = self._next_tag()
        self._awaiting = tag
        self._awaiting_result = result
        self._awaiting_until = send(tag)

    def _start_hdlc_tx(self, code: int) -> None:
        self._heard.clear()
        self.state = HDLC_TX
        self._frame.clear()
        self._dle = False
        # Flags go out from now on: the 1 s preamble, then the frames as the host sends them.
        self.modem.send_hdlc([], "V.21", final=False, tag=self._next_tag())
        self._result("CONNECT")

    def _send_frame(self) -> None:
        frame = bytes(self._frame)
        self._frame.clear()
        if not frame:
            # An empty frame ends the transmission (T.31 8.3.4).
            self._end_transmission("OK")
            return
        final = len(frame) < 2 or bool(frame[1] & 0x10)
        self._trace("frame_out", head=frame[:3].hex(" "), octets=len(frame), final=final)
        if final:
            self.state = BUSY
            self._transmit(
                lambda tag: self.modem.send_hdlc([frame], "V.21", final=True, tag=tag), "OK"
            )
        else:
            self.modem.send_hdlc([frame], "V.21", final=False, tag=self._next_tag())
            self._result("CONNECT")

    def _start_data_tx(self, code: int) -> None:
        mod, short = modulation_for_t31(code)
        self._heard.clear()
        self.state = DATA_TX
        self._dle = False
        self._tx_modulation = mod.key
        self._tx_kind = None  # "data" (T.4, TCF) or "hdlc" (ECM), known from the first bytes
        self._tx_head = b""
        self._hdlc_reader = HdlcBitReader()
        self.modem.send_data(b"", mod.key, short_train=short, end=False, tag=self._next_tag())
        self._result("CONNECT")

    def _feed_carrier(self, data: bytes) -> None:
        """+FTM data onto the open carrier. A host running ECM itself (HylaFAX) writes an HDLC
        bit stream here; the line model carries frames, so such a stream is unframed into
        frames. It is recognised by its opening flags; zeros before them (TCF, fill) go out as
        they are, as zeros are on the line either way."""
        if self._tx_kind is None:
            data = self._tx_head + data
            body = data.lstrip(b"\x00")
            if len(body) < len(data):
                self.modem.feed(data[: len(data) - len(body)], tag=self._next_tag())
            if len(body) < 2:
                self._tx_head = body
                return
            self._tx_head = b""
            self._tx_kind = "hdlc" if body[:2] == b"\x7e\x7e" else "data"
            self._trace("carrier_out", modulation=self._tx_modulation, content=self._tx_kind)
            data = body
        if self._tx_kind == "data":
            self.modem.feed(data, tag=self._next_tag())
            return
        frames = self._hdlc_reader.feed(data)
        if frames:
            self.modem.send_hdlc(
                [frame for frame, _ok in frames],
                self._tx_modulation,
                final=False,
                bad_fcs=[i for i, (_frame, ok) in enumerate(frames) if not ok],
                tag=self._next_tag(),
            )

    def _end_transmission(self, result: str) -> None:
        """DLE ETX after data (or a frame error): the carrier goes off once everything queued
        is out, and then the host hears `result`."""
        self.state = BUSY
        self._transmit(lambda tag: self.modem.end_carrier(tag=tag), result)

    def _start_silence_tx(self, tens: int) -> None:
        self._heard.clear()
        self.state = BUSY
        self._transmit(lambda tag: self.modem.send_silence(tens * 10 * MS, tag=tag), "OK")

    def _tx_full(self) -> bool:
        return self.modem.tx_free_at - self.clock.now > TX_AHEAD

    def _hold_input(self) -> None:
        """Flow control: look at the inbox again when the line has caught up."""
        if self._resume is None:
            wait = self.modem.tx_free_at - self.clock.now - TX_AHEAD // 2
            self._resume = self.clock.call_later(wait, self._resume_input, label="class1 flow")

    def _resume_input(self) -> None:
        self._resume = None
        self._process()

    # -- receiving -------------------------------------------------------------------------------
    def _start_hdlc_rx(self, code: int) -> None:
        self.state = HDLC_RX
        self._deliver()

    def _start_data_rx(self, code: int) -> None:
        mod, _short = modulation_for_t31(code)
        self.state = DATA_RX
        self._rx_modulation = mod.key
        self._deliver()

    def _start_silence_rx(self, tens: int) -> None:
        self.state = SILENCE_RX
        self._silence_needed = tens * 10 * MS
        self._quiet_since = self.clock.now  # silence is measured from the command on
        self._check_silence()

    def _remote_quiet(self) -> bool:
        return self.modem.remote_carrier is None and self.modem.remote_tone is None

    def _noise(self) -> None:
        """Something is on the line: a +FRS wait starts again when it stops (RemoteQuiet)."""
        self._quiet_since = None
        if self.state == SILENCE_RX:
            self._cancel_timer()

    def _check_silence(self) -> None:
        if self.state != SILENCE_RX:
            return
        self._cancel_timer()
        if not self._remote_quiet():
            self._quiet_since = None  # RemoteQuiet brings us back
            return
        if self._quiet_since is None:
            self._quiet_since = self.clock.now
        left = self._quiet_since + self._silence_needed - self.clock.now
        if left <= 0:
            self.state = COMMAND
            self._result("OK")
            self._process()
        else:
            self._start_timer(left, self._check_silence)

    def _modem_event(self, event: ModemEvent) -> None:
        if isinstance(event, TransmitDone):
            if event.tag == self._awaiting:
                self._awaiting = None
                result = self._awaiting_result
                if result == "CONNECT":  # ATA: CED is over, the V.21 flags start now
                    self.state = HDLC_TX
                    self._frame.clear()
                    self._dle = False
                    self.modem.send_hdlc([], "V.21", final=False, tag=self._next_tag())
                else:
                    self.state = COMMAND
                self._result(result)
                self._process()
            return
        if isinstance(event, RemoteQuiet):
            self._quiet_since = self.clock.now
            self._check_silence()
            return
        if isinstance(event, ToneOn | ToneOff):
            if isinstance(event, ToneOn):
                self._noise()
            return
        # (Half duplex is the modem's business: while its own carrier is on it hears nothing.)
        if isinstance(event, CarrierUp):
            self._noise()
            self._trace("carrier", up=True, modulation=event.modulation)
            self._heard.append(HeardCarrier(event.modulation))
        elif isinstance(event, CarrierDown):
            for heard in reversed(self._heard):
                if heard.modulation == event.modulation and heard.up:
                    heard.up = False
                    if heard.ecm is not None:
                        heard.data += heard.ecm.finish()
                    elif not heard.hdlc:
                        heard.data += carrier_tail(heard.modulation)
                    break
            self._trace("carrier", up=False, modulation=event.modulation)
        elif isinstance(event, FrameReceived):
            carrier = self._tail(event.modulation)
            if carrier is None:
                return
            if carrier.hdlc:
                self._trace(
                    "frame_in", head=event.frame[:3].hex(" "), octets=len(event.frame),
                    fcs="good" if event.crc_ok else "bad",
                )  # fmt: skip
                carrier.frames.append((event.frame, event.crc_ok))
            else:
                # ECM frames at high speed reach a Class 1 host as the HDLC bit stream.
                if carrier.ecm is None:
                    carrier.ecm = HdlcBitStream()
                carrier.data += carrier.ecm.frame(event.frame, event.crc_ok)
        elif isinstance(event, DataReceived):
            carrier = self._tail(event.modulation)
            if carrier is None:
                return
            carrier.data += event.data
        else:
            return
        if self.state in (HDLC_RX, DATA_RX):
            self._deliver()

    def _tail(self, modulation: str) -> HeardCarrier | None:
        if self._heard and self._heard[-1].modulation == modulation:
            return self._heard[-1]
        return None

    def _deliver(self) -> None:
        """Give the waiting +FRH/+FRM what has been heard, as far as it goes."""
        while self._heard and self.state in (HDLC_RX, DATA_RX):
            carrier = self._heard[0]
            if self.state == HDLC_RX:
                if not carrier.hdlc:
                    if not carrier.up and not carrier.connected:
                        self._heard.popleft()  # a data carrier nobody asked for: gone
                        continue
                    self._fcerror()
                    return
                if carrier.frames:
                    self._cancel_timer()
                    self.modem.stop_cng()
                    frame, ok = carrier.frames.popleft()
                    if not carrier.connected:
                        self._result("CONNECT")
                    carrier.connected = False  # the next +FRH=3 gets a CONNECT of its own
                    self._write(dle_escape(_with_fcs(frame, ok)) + b"\x10\x03")
                    self.state = COMMAND
                    self._result("OK" if ok else "ERROR")
                    if carrier.exhausted:
                        self._heard.popleft()
                    self._process()
                    return
                if carrier.up:
                    if not carrier.connected:
                        carrier.connected = True
                        self._cancel_timer()
                        self.modem.stop_cng()
                        self._result("CONNECT")
                    return
                self._heard.popleft()
                if carrier.connected:
                    # CONNECT was given for this carrier, and it ended without a frame.
                    self.state = COMMAND
                    self._result("NO CARRIER")
                    self._process()
                    return
                continue
            # +FRM
            if carrier.hdlc or carrier.modulation != self._rx_modulation:
                if not carrier.up and not carrier.frames and not carrier.data:
                    self._heard.popleft()
                    continue
                if carrier.hdlc or carrier.up:
                    self._fcerror()
                    return
                self._heard.popleft()  # an old carrier of another speed
                continue
            if not carrier.connected:
                carrier.connected = True
                self._result("CONNECT")
            if carrier.data:
                self._write(dle_escape(bytes(carrier.data)))
                carrier.data.clear()
            if carrier.up:
                return
            self._heard.popleft()
            self._write(b"\x10\x03")
            self.state = COMMAND
            self._result("NO CARRIER")
            self._process()
            return

    def _fcerror(self) -> None:
        self.state = COMMAND
        self._result("+FCERROR")
        self._process()

    def _abort(self) -> None:
        """A character from the host while waiting: stop waiting (V.250 6.3.1, T.31)."""
        state = self.state
        self._trace("abort", state=state)
        self._cancel_timer()
        if state in (DIALING, ANSWERING):
            self.modem.stop()
            self.line.hang_up()
            self.state = COMMAND
            self._result("NO CARRIER")
            return
        if state == DATA_RX and self._heard and self._heard[0].connected:
            self._heard.popleft()  # the rest of that carrier is dropped
        self.state = COMMAND
        self._result("OK")

    # -- timers ----------------------------------------------------------------------------------
    def _start_timer(self, delay: int, fn: Callable[[], None]) -> None:
        self._cancel_timer()
        self._timer = self.clock.call_later(delay, fn, label="class1")

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def carrier_tail(modulation: str) -> bytes:
    """What a demodulator hands over after the far end's last data bit: its carrier detector
    needs CARRIER_LOSS_TIME to notice the carrier has gone, and the bits it decodes meanwhile
    reach the host before DLE ETX (here as zeros, which are fill in T.4 data and in TCF). Hosts
    count on it: efax's decoder reads ahead and misses an RTC that ends exactly at DLE ETX."""
    rate = MODULATIONS[modulation].rate
    return bytes(max(1, rate * CARRIER_LOSS_TIME // SECOND // 8))


def _method_name(name: str) -> str:
    return name.lower().replace("&", "_").replace("\\", "_bs_")


def _dial_string(arg: str) -> str | None:
    """The digits to dial from an ATD string: T/P (tone/pulse), W (wait for dial tone), @, !, ;
    and spaces are dropped; commas are pauses. None when nothing is left to dial."""
    digits = []
    for ch in arg:
        if ch.isdigit() or ch in "*#,":
            digits.append(ch)
        elif ch in "TPW@!;-() " or ch == "R":
            continue
        else:
            return None
    number = "".join(digits)
    return number if number.strip(",") else None


class HdlcBitStream:
    """Frames as a synchronous HDLC bit stream (two opening flags, then each frame with zero-bit
    insertion, its FCS and a closing flag) packed into octets in line order, least significant
    bit first: what a Class 1 host that runs ECM over +FRM decodes itself. Bits that do not fill
    an octet wait for the next frame; `finish()` pads the last octet with idle ones."""

    def __init__(self) -> None:
        self._encoder = HdlcEncoder()
        self._opening = self._encoder.flags(2)  # sent with the first frame

    def frame(self, frame: bytes, fcs_ok: bool = True) -> bytes:
        return self._take(self._encoder.frame(_with_fcs(frame, fcs_ok), fcs=False))

    def finish(self) -> bytes:
        return self._take(self._encoder.finish())

    def _take(self, data: bytes) -> bytes:
        data, self._opening = self._opening + data, b""
        return data


FLAG_BITS = "01111110"


class HdlcBitReader:
    """The other way: a synchronous HDLC bit stream (as a Class 1 host running ECM writes it
    after +FTM) back into frames. Fed in pieces of any size; `feed()` returns the frames that
    are complete (between two flags) as (frame without FCS, FCS good); shorter pieces between
    flags (idle, aborts, fill) are dropped, as an HDLC receiver drops them.

    Not `hdlc.HdlcDecoder`: that one reports a piece that is not a whole number of octets as a
    frame with a bad FCS, where this drops it, and it keeps any length without a flag, where
    this keeps the last 4 KB."""

    MIN_OCTETS = MIN_FRAME_OCTETS  # address, control, FCF and something; shorter is invalid

    def __init__(self) -> None:
        self._bits = ""

    def feed(self, data: bytes) -> list[tuple[bytes, bool]]:
        self._bits += "".join(_LSB_FIRST[b] for b in data)
        pieces = self._bits.split(FLAG_BITS)
        self._bits = pieces.pop()  # after the last flag: not complete yet
        if len(self._bits) > 8 * 4096:
            self._bits = self._bits[-8 * 4096 :]  # no flag for 4 KB: keep the tail only
        frames = []
        for piece in pieces:
            if "1111111" in piece:
                continue  # an abort
            bits = piece.replace("111110", "11111")  # undo zero-bit insertion
            if len(bits) % 8 or len(bits) < 8 * self.MIN_OCTETS:
                continue
            octets = bytes(int(bits[i : i + 8][::-1], 2) for i in range(0, len(bits), 8))
            frames.append((octets[:-2], check_fcs(octets)))
        return frames


_LSB_FIRST = tuple(format(b, "08b")[::-1] for b in range(256))
