"""The AT command interpreter of the Class 1 (ITU-T T.31) fax modem: command lines in, results out.

The host (efax, HylaFAX) talks to the modem in bytes; `Class1Modem.receive_data(bytes)` takes
what the host wrote and `take_output()` gives what the host is to read (`on_output` says when
there is some). There is no I/O here: the edge (`panel/class1.py`) moves those bytes through a
pty. This module reads command lines and runs them; a fax command (+FTM, +FRM, +FTH, +FRH, +FTS,
+FRS), ATD and ATA start the data phase (t31.py), which owns the line and the modem until it
gives its result. All time is the virtual clock's.

What it understands (T.31 and the V.250 basics a fax program sends; see docs/class1.md):
- command lines `AT...` ended by CR (S3), several commands on a line (`ATQ0V1E0`), upper or lower
  case, spaces ignored, backspace (S5) editing, `A/` repeats the last line; characters before
  `AT` are ignored, a line that does not parse is answered ERROR and the rest of it is dropped;
- `Z`, `&F`, `E`, `V`, `Q`, `L`, `M`, `X`, `I`, `H`, `A`, `D`, `Sn=v`, `Sn?`, `&C &D &K &S &W`
  (accepted, nothing to do on a pty), `+FCLASS`, `+FTM`, `+FRM`, `+FTH`, `+FRH`, `+FTS`, `+FRS`
  with their `=?` queries, `+FMI? +FMM? +FMR?` (and `+GMI/+GMM/+GMR`), `+FLO`, `+FAR`, `+FIT`,
  `+FPR`, `+IFC`; results RING, BUSY, NO ANSWER, NO DIALTONE, NO CARRIER (verbose or numeric).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..clock import SECOND, Clock
from ..modem import MODULATIONS, Modem, ModemEvent
from .syntax import AtCommand, AtSyntaxError, dial_digits, parse_command_line
from .t31 import ABORTABLE, COMMAND, HOST_DATA, DataPhase

if TYPE_CHECKING:
    from ..eventlog import EventLog
    from ..line import LineEvent, LineInterface

DC1, DC3, LF = 0x11, 0x13, 0x0A  # XON, XOFF, line feed

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
MAX_LINE = 255  # command line characters kept (V.250 asks for at least 40)


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
        self.phase = DataPhase(clock, modem, line, self)
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
        modem.listeners.add(self._modem_event)
        line.listeners.add(self._line_event)
        modem.receive(*MODULATIONS)

    @property
    def state(self) -> str:
        """`command`, or the data phase's state (t31.py)."""
        return self.phase.state

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
        return self.phase.wants_input

    def reset(self) -> None:
        """Back to command state, on hook, the host's unread bytes dropped (after an internal
        error); the host hears ERROR."""
        self._inbox.clear()
        self._line = None
        self._saw_a = False
        self._processing = False
        self._hang_up()
        self.result("ERROR")

    def close(self) -> None:
        """Hang up and stop listening (the pty went away)."""
        self._hang_up()
        self.modem.listeners.discard(self._modem_event)
        self.line.listeners.discard(self._line_event)

    # -- what the data phase reports (t31.Host) ---------------------------------------------------
    def write(self, data: bytes) -> None:
        if not data:
            return
        self._out += data
        if self.on_output is not None:
            self.on_output()

    def result(self, code: str) -> None:
        self.trace("result", code=code)
        if self.quiet:
            return
        if self.verbose:
            self.write(self._crlf() + code.encode() + self._crlf())
        else:
            self.write(RESULT_NUMBERS[code].encode() + bytes((self.s[3],)))

    def trace(self, kind: str, **fields: object) -> None:
        if self.log is not None:
            self.log.emit("class1", kind, **fields)

    def resume(self) -> None:
        self._process()

    def _crlf(self) -> bytes:
        return bytes((self.s[3], self.s[4]))

    def _info(self, text: str) -> None:
        if self.verbose:
            self.write(self._crlf() + text.encode() + self._crlf())
        else:
            self.write(text.encode() + self._crlf())

    # -- the line and the modem --------------------------------------------------------------------
    def _line_event(self, event: LineEvent) -> None:
        if event.kind == "ring":
            self.s[1] = event.n
            if self.state == COMMAND:
                self.result("RING")
                if self.s[0] and event.n >= self.s[0] and self.fclass == "1":
                    self.phase.answer()
            return
        self.phase.line_event(event)

    def _modem_event(self, event: ModemEvent) -> None:
        self.phase.modem_event(event)

    def _hang_up(self) -> None:
        self.phase.hang_up()
        self.s[1] = 0

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
            elif state in HOST_DATA:
                if not self.phase.host_bytes(self._inbox):
                    return
            elif state in ABORTABLE:
                byte = self._inbox.pop(0)
                if byte in (DC1, DC3):
                    continue  # XON/XOFF from the host's tty: flow control, not an abort
                self.phase.abort()
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
                    self.trace("at", line="(too long)")
                    self.result("ERROR")
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
            self.write(bytes(data[start:end]))
        return end

    # -- running command lines ---------------------------------------------------------------------
    def _run_line(self, text: str) -> None:
        self.trace("at", line=text)
        try:
            commands = parse_command_line(text)
        except AtSyntaxError:
            self.result("ERROR")
            return
        for command in commands:
            try:
                outcome = self._execute(command)
            except (ValueError, KeyError):
                outcome = "ERROR"
            if outcome is None:
                return  # an action: its result comes later
            if outcome == "ERROR":
                self.result("ERROR")
                return
        self.result("OK")

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
            self.result("NO CARRIER")  # nothing to answer
            return None
        self.phase.answer()
        return None

    def _basic_d(self, arg: str) -> str | None:
        if self.fclass != "1" or self.line.connected:
            return "ERROR"
        number = dial_digits(arg)
        if number is None:
            return "ERROR"
        self.phase.dial(number, self.s[7] * SECOND)
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
        return self._fax_command(op, arg, DATA_CODES, self.phase.start_data_tx)

    def _ext_frm(self, op: str, arg: str) -> str | None:
        return self._fax_command(op, arg, DATA_CODES, self.phase.start_data_rx)

    def _ext_fth(self, op: str, arg: str) -> str | None:
        return self._fax_command(op, arg, HDLC_CODES, self.phase.start_hdlc_tx)

    def _ext_frh(self, op: str, arg: str) -> str | None:
        return self._fax_command(op, arg, HDLC_CODES, self.phase.start_hdlc_rx)

    def _ext_fts(self, op: str, arg: str) -> str | None:
        return self._fax_command(op, arg, range(256), self.phase.start_silence_tx, "0-255")

    def _ext_frs(self, op: str, arg: str) -> str | None:
        return self._fax_command(op, arg, range(256), self.phase.start_silence_rx, "0-255")

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
            if not self.phase.call_lost:
                return "ERROR"
            self.result("NO CARRIER")  # the far end has gone
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


def _method_name(name: str) -> str:
    return name.lower().replace("&", "_").replace("\\", "_bs_")
