"""The T.31 data phase of the Class 1 modem: what happens on the line between a fax command and
its result, the way a modem's controller drives its data pump.

It dials, answers (0.2 s, CED, 75 ms) and hangs up the `LineInterface`; sends HDLC frames from the
host after +FTH (no flags or FCS from the host; CONNECT after a frame that is not final, OK once
the final one is on the line), page and training data after +FTM (with flow control: the host is
not read while a second of air time is queued), silence after +FTS; and hands the host, after
+FRH, each V.21 frame with its two FCS octets and DLE ETX (OK, or ERROR for a bad FCS), after
+FRM the data of the carrier asked for (NO CARRIER when it drops; +FCERROR for another carrier),
after +FRS the OK once the line has been quiet long enough. DLE is doubled both ways.

The receiver listens to every modulation whenever the modem is not sending, and keeps what it
hears until the host asks for it (cleared when the modem next transmits): a real modem locks on
only to the carrier it was told to expect; keeping what was heard makes the modem indifferent to
how late the host's +FRH/+FRM arrives, which matters when a speed factor makes every host delay
longer in virtual time.

A host that runs ECM itself (HylaFAX) writes a synchronous HDLC bit stream after +FTM and decodes
one after +FRM; the line model carries frames, so the modem unframes such a stream (recognised by
its opening flags; `hw.hdlc.HdlcDecoder`, dropping invalid frames as an HDLC receiver does) into
frames on the line, and turns high-speed frames from the far end into a bit stream for the host
(`HdlcBitStream`). The command interpreter (at.py) starts each phase and hears its result through
`Host`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..clock import MS, SECOND, Clock, Timer
from ..hdlc import HdlcBitStream, HdlcDecoder, HdlcFrame, add_fcs
from ..modem import (
    ANSWER_DELAY,
    CED_TIME,
    MODULATIONS,
    SIGNAL_GAP,
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
    from ..line import LineEvent, LineInterface

DLE, ETX, SUB = 0x10, 0x03, 0x1A
MAX_FRAME = 260  # octets of one HDLC frame from the host (T.30 allows 256 + header)
TX_AHEAD = 1 * SECOND  # data queued on the line beyond which the host is not read (flow control)
CARRIER_LOSS_TIME = 10 * MS  # a high-speed carrier's end to the receiver noticing it

# Data-phase states (COMMAND: none; the interpreter reads command lines).
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

HOST_DATA = (HDLC_TX, DATA_TX, DISCARD)  # the host's bytes are frame or page data
ABORTABLE = (DIALING, ANSWERING, HDLC_RX, DATA_RX, SILENCE_RX)  # a host byte aborts the wait


class Host(Protocol):
    """The command interpreter, as the data phase reports to it."""

    def result(self, code: str) -> None: ...

    def write(self, data: bytes) -> None: ...

    def trace(self, kind: str, **fields: object) -> None: ...

    def resume(self) -> None:
        """The phase is over (back in command state): read the host's bytes again."""
        ...


def dle_escape(data: bytes) -> bytes:
    """Data towards the host: every DLE doubled."""
    return data.replace(b"\x10", b"\x10\x10")


def carrier_tail(modulation: str) -> bytes:
    """What a demodulator hands over after the far end's last data bit: its carrier detector
    needs CARRIER_LOSS_TIME to notice the carrier has gone, and the bits it decodes meanwhile
    reach the host before DLE ETX (here as zeros, which are fill in T.4 data and in TCF). Hosts
    count on it: efax's decoder reads ahead and misses an RTC that ends exactly at DLE ETX."""
    rate = MODULATIONS[modulation].rate
    return bytes(max(1, rate * CARRIER_LOSS_TIME // SECOND // 8))


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


class DataPhase:
    """The line side of one Class 1 modem: its state and everything it does between a fax
    command (or ATD/ATA) and the result."""

    def __init__(self, clock: Clock, modem: Modem, line: LineInterface, host: Host) -> None:
        self.clock = clock
        self.modem = modem
        self.line = line
        self.host = host
        self.state = COMMAND
        self.call_lost = False  # the far end went away (a fax command then says NO CARRIER)
        self._wait = 60 * SECOND  # S7: dialling to answer, answer to the first fax signal
        self._rang = False
        self._heard: deque[HeardCarrier] = deque()
        self._frame = bytearray()  # HDLC frame being received from the host
        self._dle = False  # the last host byte was a DLE
        self._tx_modulation = ""
        self._tx_kind: str | None = None  # "data" (T.4, TCF) or "hdlc" (ECM)
        self._tx_head = b""
        self._hdlc_decoder = HdlcDecoder(invalid="drop")
        self._tx_tag = 0
        self._awaiting: str | None = None  # tag of the transmission whose end gives a result
        self._awaiting_result = "OK"
        self._awaiting_until = 0
        self._timer: Timer | None = None  # S7, +FRS
        self._resume: Timer | None = None  # flow control: look at the host's bytes again
        self._rx_modulation = ""  # what +FRM asked for
        self._silence_needed = 0  # what +FRS asked for, µs
        self._quiet_since: int | None = None

    def _back_to_command(self, result: str) -> None:
        self.state = COMMAND
        self.host.result(result)
        self.host.resume()

    # -- calls --------------------------------------------------------------------------------------
    def dial(self, number: str, wait: int) -> None:
        self.state = DIALING
        self._wait = wait
        self._rang = False
        self.call_lost = False
        self.host.trace("dial", number=number)
        if self.line.state not in ("idle", "off_hook"):
            self.line.hang_up()
        self.line.dial(number)

    def answer(self) -> None:
        self.state = ANSWERING
        self.call_lost = False
        self.host.trace("answer")
        self.line.go_off_hook()
        self._heard.clear()
        self.modem.send_silence(ANSWER_DELAY)
        self.modem.send_tone("ced", CED_TIME)
        self._transmit(lambda tag: self.modem.send_silence(SIGNAL_GAP, tag=tag), "CONNECT")

    def hang_up(self) -> None:
        self._cancel_timer()
        self._awaiting = None
        self._heard.clear()
        self.modem.stop()
        if self.line.state != "idle":
            self.line.hang_up()
        self.state = COMMAND

    def line_event(self, event: LineEvent) -> None:
        kind = event.kind
        if kind == "dialed" and self.state == DIALING:
            self.modem.start_cng()
            self._start_timer(self._wait, self._dial_timeout)
        elif kind == "ringback" and self.state == DIALING:
            self._rang = True
        elif kind in ("busy", "no_dial_tone") and self.state == DIALING:
            self._cancel_timer()
            self.line.hang_up()
            self.state = COMMAND
            self.host.result("BUSY" if kind == "busy" else "NO DIALTONE")
        elif kind == "answered" and self.state == DIALING:
            # The far end picked up: from here ATD behaves as +FRH=3 (T.31 8.3.1).
            self._heard.clear()
            self.state = HDLC_RX
            self._start_timer(self._wait, self._carrier_timeout)
            self._deliver()
        elif kind in ("remote_hangup", "dropped"):
            self._lost_call()

    def _dial_timeout(self) -> None:
        self._timer = None
        self.modem.stop()
        self.line.hang_up()
        self.state = COMMAND
        self.host.result("NO ANSWER" if self._rang else "NO CARRIER")

    def _carrier_timeout(self) -> None:
        """ATD: answered, but no fax handshake within S7."""
        self._timer = None
        if self.state == HDLC_RX and not self._heard:
            self.modem.stop()
            self.state = COMMAND
            self.host.result("NO CARRIER")

    def _lost_call(self) -> None:
        self.host.trace("call_lost", state=self.state)
        self.call_lost = True
        self._cancel_timer()
        awaiting, self._awaiting = self._awaiting, None
        self._heard.clear()
        self.modem.stop_cng()
        state = self.state
        if state == BUSY and awaiting is not None and self._awaiting_until <= self.clock.now:
            # What we were sending was all on the line when the far end hung up (DCN, then the
            # far end lets go at once): the host hears it went out.
            self.state = COMMAND
            self.host.result(self._awaiting_result)
        elif state in (HDLC_TX, DATA_TX):
            self.state = DISCARD
            self._frame.clear()
            self.host.result("NO CARRIER")
        elif state in (DIALING, ANSWERING, HDLC_RX, DATA_RX, SILENCE_RX, BUSY):
            self.state = COMMAND
            self.host.result("NO CARRIER")
        self.host.resume()

    # -- transmitting -------------------------------------------------------------------------------
    def _next_tag(self) -> str:
        self._tx_tag += 1
        return f"class1-{id(self)}-{self._tx_tag}"

    def _transmit(self, send: Callable[[str], int], result: str) -> None:
        """Queue a transmission whose end gives `result` to the host."""
        tag = self._next_tag()
        self._awaiting = tag
        self._awaiting_result = result
        self._awaiting_until = send(tag)

    def start_hdlc_tx(self, code: int) -> None:
        self._heard.clear()
        self._open_hdlc_tx()
        self.host.result("CONNECT")

    def _open_hdlc_tx(self) -> None:
        self.state = HDLC_TX
        self._frame.clear()
        self._dle = False
        # Flags go out from now on: the 1 s preamble, then the frames as the host sends them.
        self.modem.send_hdlc([], "V.21", final=False, tag=self._next_tag())

    def start_data_tx(self, code: int) -> None:
        mod, short = modulation_for_t31(code)
        self._heard.clear()
        self.state = DATA_TX
        self._dle = False
        self._tx_modulation = mod.key
        self._tx_kind = None  # known from the first bytes
        self._tx_head = b""
        self._hdlc_decoder = HdlcDecoder(invalid="drop")
        self.modem.send_data(b"", mod.key, short_train=short, end=False, tag=self._next_tag())
        self.host.result("CONNECT")

    def start_silence_tx(self, tens: int) -> None:
        self._heard.clear()
        self.state = BUSY
        self._transmit(lambda tag: self.modem.send_silence(tens * 10 * MS, tag=tag), "OK")

    def host_bytes(self, inbox: bytearray) -> bool:
        """+FTH/+FTM data from the host: undo DLE stuffing, act on DLE ETX; what follows DLE ETX
        stays in `inbox`. False when flow control holds the bytes back."""
        state = self.state
        if state == DATA_TX and self._tx_full():
            self._hold_input()
            return False
        data = bytes(inbox)
        inbox.clear()
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
            inbox[:0] = data[end_at:]
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

    def _send_frame(self) -> None:
        frame = bytes(self._frame)
        self._frame.clear()
        if not frame:
            # An empty frame ends the transmission (T.31 8.3.4).
            self._end_transmission("OK")
            return
        final = len(frame) < 2 or bool(frame[1] & 0x10)
        self.host.trace("frame_out", head=frame[:3].hex(" "), octets=len(frame), final=final)
        if final:
            self.state = BUSY
            self._transmit(
                lambda tag: self.modem.send_hdlc([frame], "V.21", final=True, tag=tag), "OK"
            )
        else:
            self.modem.send_hdlc([frame], "V.21", final=False, tag=self._next_tag())
            self.host.result("CONNECT")

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
            self.host.trace("carrier_out", modulation=self._tx_modulation, content=self._tx_kind)
            data = body
        if self._tx_kind == "data":
            self.modem.feed(data, tag=self._next_tag())
            return
        frames = [e for e in self._hdlc_decoder.feed(data) if isinstance(e, HdlcFrame)]
        if frames:
            self.modem.send_hdlc(
                [f.data for f in frames],
                self._tx_modulation,
                final=False,
                bad_fcs=[i for i, f in enumerate(frames) if not f.fcs_ok],
                tag=self._next_tag(),
            )

    def _end_transmission(self, result: str) -> None:
        """DLE ETX after data (or a frame error): the carrier goes off once everything queued
        is out, and then the host hears `result`."""
        self.state = BUSY
        self._transmit(lambda tag: self.modem.end_carrier(tag=tag), result)

    @property
    def wants_input(self) -> bool:
        """False while the host's data should stay unread (the transmitter is a second ahead)."""
        return self.state != DATA_TX or not self._tx_full()

    def _tx_full(self) -> bool:
        return self.modem.tx_free_at - self.clock.now > TX_AHEAD

    def _hold_input(self) -> None:
        """Flow control: look at the host's bytes again when the line has caught up."""
        if self._resume is None:
            wait = self.modem.tx_free_at - self.clock.now - TX_AHEAD // 2
            self._resume = self.clock.call_later(wait, self._resume_input, label="class1 flow")

    def _resume_input(self) -> None:
        self._resume = None
        self.host.resume()

    # -- receiving -------------------------------------------------------------------------------
    def start_hdlc_rx(self, code: int) -> None:
        self.state = HDLC_RX
        self._deliver()

    def start_data_rx(self, code: int) -> None:
        mod, _short = modulation_for_t31(code)
        self.state = DATA_RX
        self._rx_modulation = mod.key
        self._deliver()

    def start_silence_rx(self, tens: int) -> None:
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
            self._back_to_command("OK")
        else:
            self._start_timer(left, self._check_silence)

    def modem_event(self, event: ModemEvent) -> None:
        if isinstance(event, TransmitDone):
            if event.tag == self._awaiting:
                self._awaiting = None
                result = self._awaiting_result
                if result == "CONNECT":  # ATA: CED is over, the V.21 flags start now
                    self._open_hdlc_tx()
                else:
                    self.state = COMMAND
                self.host.result(result)
                self.host.resume()
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
            self.host.trace("carrier", up=True, modulation=event.modulation)
            self._heard.append(HeardCarrier(event.modulation))
        elif isinstance(event, CarrierDown):
            self._carrier_down(event.modulation)
        elif isinstance(event, FrameReceived):
            carrier = self._tail(event.modulation)
            if carrier is None:
                return
            if carrier.hdlc:
                self.host.trace(
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

    def _carrier_down(self, modulation: str) -> None:
        for heard in reversed(self._heard):
            if heard.modulation == modulation and heard.up:
                heard.up = False
                if heard.ecm is not None:
                    heard.data += heard.ecm.finish()
                elif not heard.hdlc:
                    heard.data += carrier_tail(heard.modulation)
                break
        self.host.trace("carrier", up=False, modulation=modulation)

    def _tail(self, modulation: str) -> HeardCarrier | None:
        if self._heard and self._heard[-1].modulation == modulation:
            return self._heard[-1]
        return None

    def _deliver(self) -> None:
        """Give the waiting +FRH/+FRM what has been heard, as far as it goes."""
        while self._heard and self.state in (HDLC_RX, DATA_RX):
            if self.state == HDLC_RX:
                if not self._deliver_frame():
                    return
            elif not self._deliver_data():
                return

    def _deliver_frame(self) -> bool:
        """+FRH: False when there is nothing more to do until the next happening."""
        carrier = self._heard[0]
        if not carrier.hdlc:
            if not carrier.up and not carrier.connected:
                self._heard.popleft()  # a data carrier nobody asked for: gone
                return True
            self._back_to_command("+FCERROR")
            return False
        if carrier.frames:
            self._cancel_timer()
            self.modem.stop_cng()
            frame, ok = carrier.frames.popleft()
            if not carrier.connected:
                self.host.result("CONNECT")
            carrier.connected = False  # the next +FRH=3 gets a CONNECT of its own
            self.host.write(dle_escape(add_fcs(frame, ok)) + b"\x10\x03")
            if carrier.exhausted:
                self._heard.popleft()
            self._back_to_command("OK" if ok else "ERROR")
            return False
        if carrier.up:
            if not carrier.connected:
                carrier.connected = True
                self._cancel_timer()
                self.modem.stop_cng()
                self.host.result("CONNECT")
            return False
        self._heard.popleft()
        if carrier.connected:
            # CONNECT was given for this carrier, and it ended without a frame.
            self._back_to_command("NO CARRIER")
            return False
        return True

    def _deliver_data(self) -> bool:
        """+FRM: False when there is nothing more to do until the next happening."""
        carrier = self._heard[0]
        if carrier.hdlc or carrier.modulation != self._rx_modulation:
            if not carrier.up and not carrier.frames and not carrier.data:
                self._heard.popleft()
                return True
            if carrier.hdlc or carrier.up:
                self._back_to_command("+FCERROR")
                return False
            self._heard.popleft()  # an old carrier of another speed
            return True
        if not carrier.connected:
            carrier.connected = True
            self.host.result("CONNECT")
        if carrier.data:
            self.host.write(dle_escape(bytes(carrier.data)))
            carrier.data.clear()
        if carrier.up:
            return False
        self._heard.popleft()
        self.host.write(b"\x10\x03")
        self._back_to_command("NO CARRIER")
        return False

    def abort(self) -> None:
        """A character from the host while waiting: stop waiting (V.250 6.3.1, T.31)."""
        state = self.state
        self.host.trace("abort", state=state)
        self._cancel_timer()
        if state in (DIALING, ANSWERING):
            self.modem.stop()
            self.line.hang_up()
            self.state = COMMAND
            self.host.result("NO CARRIER")
            return
        if state == DATA_RX and self._heard and self._heard[0].connected:
            self._heard.popleft()  # the rest of that carrier is dropped
        self.state = COMMAND
        self.host.result("OK")

    # -- timers ----------------------------------------------------------------------------------
    def _start_timer(self, delay: int, fn: Callable[[], None]) -> None:
        self._cancel_timer()
        self._timer = self.clock.call_later(delay, fn, label="class1")

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
