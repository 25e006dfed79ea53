"""An IAX2 endpoint (RFC 5456) as a core without I/O: calls, registrations, reliable delivery.

`Iax2Endpoint` is the whole protocol for one UDP port. Datagrams go in with `receive_datagram`,
time passes with `handle_timers`; datagrams to send come out of `take_datagrams` and what happened
out of `next_event`. Time is passed in (virtual microseconds) and `next_deadline` says when the
endpoint next needs it; there are no sockets and no clocks here (the UDP edge is
`hw/iax2_udp.py`). Frames are coded in `hw/iax2_frames.py`.

What it speaks (docs/iax2.md has the detail and what iaxmodem does):
- reliable delivery of full frames: per-dialog sequence numbers, an ACK for every counted frame
  (PING and LAGRQ are answered by PONG and LAGRP instead), implicit acknowledgement through the
  peer's iseqno, retransmission with back-off (`RETRANSMIT_*`), giving up after
  `RETRANSMIT_TRIES`, duplicates acknowledged again, VNAK for a gap, INVAL for unknown calls;
- calls in both roles, with the state table `CALL_TRANSITIONS`: NEW, AUTHREQ/AUTHREP (MD5),
  ACCEPT (format negotiation), RINGING, ANSWER, BUSY, REJECT, HANGUP; PING/PONG and LAGRQ/LAGRP;
- voice in slinear (16-bit big-endian), µ-law and A-law, 20 ms frames of 160 samples: a full voice
  frame first (and whenever the format or the top 16 bits of the timestamp change), mini frames
  after it; voice timestamps advance by the samples sent, so the peer sees exactly +20 ms a frame;
- registration as a registrar (REGREQ, REGAUTH with an MD5 challenge for peers with a secret,
  REGACK, REGREJ, REGREL) and as a registrant (`register`, for tests and for dialling out).

A secret never leaves this object except as an MD5 digest; events and `describe` show none.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np

from . import g711
from .clock import MS, SECOND
from .iax2_frames import (
    AUDIO_FORMATS,
    BYTES_PER_SAMPLE,
    Address,
    AuthMethod,
    Command,
    Control,
    Format,
    FrameError,
    FrameType,
    FullFrame,
    Ie,
    IeValue,
    InformationElements,
    MiniFrame,
    decode_datagram,
)

PROTOCOL_VERSION = 2
SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_MS = FRAME_SAMPLES * 1000 // SAMPLE_RATE

# Reliable delivery. libiax2 (iaxmodem's library) starts at 2 x its 100 ms ping estimate and
# multiplies by 4 up to 4 s, 10 times; Asterisk doubles up to 10 s, 4 times. This endpoint doubles
# from 200 ms up to 4 s and gives a dialog up when the 6th retransmission goes unanswered
# (0.2 + 0.4 + 0.8 + 1.6 + 3.2 + 4 + 4 s = 14.2 s after the first transmission).
RETRANSMIT_FIRST = 200 * MS
RETRANSMIT_BACKOFF = 2
RETRANSMIT_MAX_INTERVAL = 4 * SECOND
RETRANSMIT_TRIES = 6
LINGER = 5 * SECOND  # a finished dialog still answers retransmissions this long
PING_INTERVAL = 20 * SECOND  # a call that is up pings its peer this often
SEQUENCE_WINDOW = 128  # a frame up to this far behind is a duplicate; further, a gap

# Registration: the refresh a registrar grants is the one asked, within these bounds.
MIN_REFRESH = 60
MAX_REFRESH = 3600
DEFAULT_REFRESH = 60

# Causes (text and Q.850 code) this endpoint sends.
NORMAL_CLEARING = ("Normal Clearing", 16)
USER_BUSY = ("User busy", 17)
CALL_REJECTED = ("Call rejected", 21)
NO_CODEC = ("No matching codec", 58)
AUTH_FAILED = ("Authentication failed", 21)
UNSUPPORTED_VERSION = ("Unsupported protocol version", 111)

PREFERENCE = (Format.SLINEAR, Format.ULAW, Format.ALAW)  # for a peer that leaves us the choice


class Iax2Error(Exception):
    """An action the endpoint cannot take now (unknown call, wrong state): nothing was sent."""


class Role(StrEnum):
    CALLER = "caller"  # this endpoint sent NEW
    CALLEE = "callee"  # this endpoint received NEW


class DialogKind(StrEnum):
    CALL = "call"
    REGISTRAR = "registrar"  # a peer registers with this endpoint
    REGISTRANT = "registrant"  # this endpoint registers with a peer
    POKE = "poke"  # a peer checks this endpoint is there


class CallState(StrEnum):
    CALLING = "calling"  # NEW sent; waiting for ACCEPT (or AUTHREQ, REJECT)
    AUTHENTICATING = "authenticating"  # NEW received, AUTHREQ sent; waiting for AUTHREP
    OFFERED = "offered"  # NEW received (and authenticated); the application decides
    ACCEPTED = "accepted"  # ACCEPT sent or received: the format is agreed
    RINGING = "ringing"  # RINGING sent or received
    UP = "up"  # ANSWER sent or received: audio flows
    DOWN = "down"  # ended (HANGUP, REJECT, BUSY, INVAL or no response)


C = CallState
_ENDINGS = {"recv HANGUP": C.DOWN, "send HANGUP": C.DOWN}
# Every call state machine rule in one place: role -> state -> action -> next state. An action is
# "send X" (the application asked for X) or "recv X" (the peer sent X). A received frame that its
# state does not list is acknowledged and otherwise ignored; an application action that its state
# does not list raises Iax2Error. A HANGUP, REJECT or INVAL received, or giving up, ends a call
# from any state.
CALL_TRANSITIONS: dict[Role, dict[CallState, dict[str, CallState]]] = {
    Role.CALLER: {
        C.CALLING: {
            "recv AUTHREQ": C.CALLING,
            "recv ACCEPT": C.ACCEPTED,
            "recv REJECT": C.DOWN,
            **_ENDINGS,
        },
        C.ACCEPTED: {
            "recv RINGING": C.RINGING,
            "recv ANSWER": C.UP,
            "recv BUSY": C.DOWN,
            "recv CONGESTION": C.DOWN,
            "recv REJECT": C.DOWN,
            **_ENDINGS,
        },
        C.RINGING: {
            "recv ANSWER": C.UP,
            "recv BUSY": C.DOWN,
            "recv CONGESTION": C.DOWN,
            "recv REJECT": C.DOWN,
            **_ENDINGS,
        },
        C.UP: {**_ENDINGS},
        C.DOWN: {},
    },
    Role.CALLEE: {
        C.AUTHENTICATING: {"recv AUTHREP": C.OFFERED, "send REJECT": C.DOWN, **_ENDINGS},
        C.OFFERED: {"send ACCEPT": C.ACCEPTED, "send REJECT": C.DOWN, **_ENDINGS},
        C.ACCEPTED: {
            "send RINGING": C.RINGING,
            "send ANSWER": C.UP,
            "send BUSY": C.DOWN,
            "send REJECT": C.DOWN,
            **_ENDINGS,
        },
        C.RINGING: {"send ANSWER": C.UP, "send BUSY": C.DOWN, "send REJECT": C.DOWN, **_ENDINGS},
        C.UP: {**_ENDINGS},
        C.DOWN: {},
    },
}
del C

# Commands that open a dialog when they come with destination call number 0, and its kind.
DIALOG_OPENERS: dict[int, DialogKind] = {
    Command.NEW: DialogKind.CALL,
    Command.REGREQ: DialogKind.REGISTRAR,
    Command.REGREL: DialogKind.REGISTRAR,
    Command.POKE: DialogKind.POKE,
}
# Commands a call takes, and the method that handles each (NEW opens the call: `_call_new`).
CALL_COMMANDS: dict[int, str] = {
    Command.AUTHREQ: "_call_authreq",
    Command.AUTHREP: "_call_authrep",
    Command.ACCEPT: "_call_accept",
    Command.HANGUP: "_call_hangup",
    Command.REJECT: "_call_reject",
}


# -- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A peer calls `called_number`; accept, ring, answer, busy or reject it."""

    call: int
    address: Address
    called_number: str
    calling_number: str
    calling_name: str
    username: str
    format: Format


@dataclass(frozen=True, slots=True)
class CallAccepted:
    call: int
    format: Format


@dataclass(frozen=True, slots=True)
class CallRinging:
    call: int


@dataclass(frozen=True, slots=True)
class CallAnswered:
    call: int


@dataclass(frozen=True, slots=True, eq=False)
class AudioReceived:
    """160 (or however many the peer sent) 16-bit linear samples at 8 kHz."""

    call: int
    samples: np.ndarray
    timestamp: int  # ms, the peer's clock for this call


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The peer (or the network) ended a call: `reason` is hangup, rejected, busy, congestion,
    invalid (INVAL) or timeout (no acknowledgement). Not sent for the application's own actions."""

    call: int
    reason: str
    cause: str = ""
    cause_code: int | None = None


@dataclass(frozen=True, slots=True)
class PingReply:
    call: int
    round_trip: int  # ms


@dataclass(frozen=True, slots=True)
class LagReply:
    call: int
    lag: int  # ms


@dataclass(frozen=True, slots=True)
class PeerRegistered:
    """A peer registered with this endpoint (as registrar) from `address`."""

    username: str
    address: Address
    refresh: int  # seconds


@dataclass(frozen=True, slots=True)
class PeerUnregistered:
    username: str
    address: Address


@dataclass(frozen=True, slots=True)
class RegistrationRefused:
    """This endpoint (as registrar) refused a peer: unknown name or a wrong MD5 answer."""

    username: str
    address: Address
    cause: str


@dataclass(frozen=True, slots=True)
class Registered:
    """This endpoint (as registrant) is registered with the registrar at `address`."""

    username: str
    address: Address
    refresh: int


@dataclass(frozen=True, slots=True)
class Unregistered:
    """The registrar at `address` acknowledged this endpoint's REGREL."""

    username: str
    address: Address


@dataclass(frozen=True, slots=True)
class RegistrationFailed:
    username: str
    address: Address
    cause: str


Iax2Event = (
    IncomingCall
    | CallAccepted
    | CallRinging
    | CallAnswered
    | AudioReceived
    | CallEnded
    | PingReply
    | LagReply
    | PeerRegistered
    | PeerUnregistered
    | RegistrationRefused
    | Registered
    | Unregistered
    | RegistrationFailed
)


# -- state --------------------------------------------------------------------------------------


@dataclass
class Iax2Call:
    """What the application may read about a call (the endpoint changes it; do not)."""

    number: int  # this endpoint's call number, the handle in every method and event
    role: Role
    state: CallState
    address: Address
    called_number: str = ""
    calling_number: str = ""
    calling_name: str = ""
    username: str = ""
    format: Format = Format.SLINEAR
    round_trip: int | None = None  # ms, from the last PONG
    frames_sent: int = 0
    frames_received: int = 0


@dataclass(frozen=True, slots=True)
class Registration:
    username: str
    address: Address
    expires: int  # virtual microseconds


@dataclass
class _Unacknowledged:
    frame: FullFrame
    due: int
    interval: int
    tries: int = 0


@dataclass
class _Dialog:
    """One call number pair with its reliable delivery: a call, a registration or a poke."""

    kind: DialogKind
    local: int
    remote: int
    address: Address
    started: int
    oseqno: int = 0
    iseqno: int = 0
    last_ts: int = 0
    unacknowledged: dict[int, _Unacknowledged] = field(default_factory=dict)
    forget_at: int | None = None  # set once finished
    call: Iax2Call | None = None
    # authentication and voice
    username: str = ""
    secret: str = field(default="", repr=False)
    challenge: str = ""
    refresh: int = 0
    releasing: bool = False  # a registrant's REGREL rather than REGREQ
    next_ping: int | None = None
    voice_ts: int | None = None  # the next voice frame's timestamp
    voice_full_ts: int | None = None  # timestamp of the last full voice frame sent
    voice_format_sent: Format | None = None
    voice_format_received: Format | None = None
    last_voice_received: int = 0  # full timestamp of the last voice frame received


def md5_answer(challenge: str, secret: str) -> str:
    """The MD5_RESULT for a challenge (RFC 5456 8.6.15): hex of MD5(challenge + secret)."""
    return hashlib.md5((challenge + secret).encode()).hexdigest()


def encode_datetime(when: datetime) -> int:
    """The DATETIME element (RFC 5456 8.6.28): year since 2000, month, day, hour, minute, s/2."""
    return (
        ((when.year - 2000) & 0x7F) << 25
        | when.month << 21
        | when.day << 16
        | when.hour << 11
        | when.minute << 5
        | when.second >> 1
    )


def encode_audio(samples: np.ndarray, fmt: Format) -> bytes:
    if fmt == Format.SLINEAR:
        return samples.astype(">i2").tobytes()
    if fmt == Format.ULAW:
        return g711.ulaw_encode(samples)
    if fmt == Format.ALAW:
        return g711.alaw_encode(samples)
    raise Iax2Error(f"no codec for format {fmt!r}")


def decode_audio(data: bytes, fmt: Format) -> np.ndarray:
    if fmt == Format.SLINEAR:
        return np.frombuffer(data[: len(data) // 2 * 2], dtype=">i2").astype(np.int16)
    if fmt == Format.ULAW:
        return g711.ulaw_decode(data)
    if fmt == Format.ALAW:
        return g711.alaw_decode(data)
    raise Iax2Error(f"no codec for format {fmt!r}")


def _seq_before(a: int, b: int) -> bool:
    """Sequence number a comes before b (modulo 256)."""
    return 0 < (b - a) & 0xFF < SEQUENCE_WINDOW


class Iax2Endpoint:
    """The IAX2 protocol for one UDP port, without I/O (see the module docstring).

    `peers` maps a peer name to its secret: a registration or an incoming call in that name must
    answer an MD5 challenge. Names not listed register and call without one, unless
    `open_registration` is False (then their registrations are refused). `epoch` is the wall
    date at virtual time 0, for the DATETIME of REGACK (left out without it). `rng` makes the
    challenges (seed it for a deterministic run). `trace`, if given, sees every frame in and out
    ("in"/"out", frame, address), for logs and captures; PASSWORD elements are never sent here.
    """

    def __init__(
        self,
        *,
        peers: Mapping[str, str] | None = None,
        open_registration: bool = True,
        formats: Format = AUDIO_FORMATS,
        rng: random.Random | None = None,
        epoch: datetime | None = None,
        trace: Callable[[str, FullFrame | MiniFrame, Address], None] | None = None,
    ) -> None:
        self._peers = dict(peers or {})
        self.open_registration = open_registration
        self.formats = formats & AUDIO_FORMATS
        self.rng = rng or random.Random(0)
        self.epoch = epoch
        self.trace = trace
        self._dialogs: dict[int, _Dialog] = {}
        self._by_remote: dict[tuple[Address, int], _Dialog] = {}
        self._next_number = 1
        self._datagrams: list[tuple[bytes, Address]] = []
        self._events: deque[Iax2Event] = deque()
        self.registrations: dict[str, Registration] = {}
        self.malformed = 0  # datagrams that were not IAX2 frames

    def __repr__(self) -> str:
        return f"<Iax2Endpoint {len(self._dialogs)} dialogs>"

    # -- the application's side -----------------------------------------------------------

    def next_event(self) -> Iax2Event | None:
        return self._events.popleft() if self._events else None

    def take_datagrams(self) -> list[tuple[bytes, Address]]:
        out, self._datagrams = self._datagrams, []
        return out

    def call_info(self, call: int) -> Iax2Call:
        dialog = self._dialogs.get(call)
        if dialog is None or dialog.call is None:
            raise Iax2Error(f"no call {call}")
        return dialog.call

    @property
    def calls(self) -> list[Iax2Call]:
        return [d.call for d in self._dialogs.values() if d.call is not None]

    def registered_address(self, username: str, now: int) -> Address | None:
        """Where a peer registered from, if its registration has not expired."""
        registration = self.registrations.get(username)
        if registration is None or registration.expires <= now:
            return None
        return registration.address

    def call(
        self,
        address: Address,
        called_number: str,
        now: int,
        *,
        calling_number: str = "",
        calling_name: str = "",
        username: str = "",
        secret: str = "",
        preferred: Format = Format.SLINEAR,
    ) -> int:
        """Place a call (send NEW); returns the call number. `secret` answers an AUTHREQ."""
        dialog = self._new_dialog(DialogKind.CALL, address, 0, now)
        dialog.username, dialog.secret = username, secret
        dialog.call = Iax2Call(
            number=dialog.local,
            role=Role.CALLER,
            state=CallState.CALLING,
            address=address,
            called_number=called_number,
            calling_number=calling_number,
            calling_name=calling_name,
            username=username,
            format=preferred,
        )
        ies = InformationElements.build(
            (Ie.VERSION, PROTOCOL_VERSION),
            (Ie.CALLING_NUMBER, calling_number),
            (Ie.CALLING_NAME, calling_name),
            (Ie.FORMAT, int(preferred)),
            (Ie.CAPABILITY, int(self.formats)),
            (Ie.USERNAME, username or None),
            (Ie.CALLED_NUMBER, called_number),
        )
        self._send_command(dialog, Command.NEW, ies, now)
        return dialog.local

    def accept(self, call: int, now: int) -> None:
        """Agree the call's format with the caller (send ACCEPT)."""
        dialog = self._act(call, "send ACCEPT")
        assert dialog.call is not None
        fmt = dialog.call.format
        self._send_command(dialog, Command.ACCEPT, InformationElements.build((Ie.FORMAT, fmt)), now)
        self._goto(dialog, "send ACCEPT", now)

    def ring(self, call: int, now: int) -> None:
        """Tell the caller the called station rings (send RINGING)."""
        dialog = self._act(call, "send RINGING")
        self._send_control(dialog, Control.RINGING, now)
        self._goto(dialog, "send RINGING", now)

    def answer(self, call: int, now: int) -> None:
        """The called station went off hook (send ANSWER): audio flows."""
        dialog = self._act(call, "send ANSWER")
        self._send_control(dialog, Control.ANSWER, now)
        self._goto(dialog, "send ANSWER", now)

    def busy(self, call: int, now: int) -> None:
        """The called station is busy (send BUSY); the caller hangs up."""
        dialog = self._act(call, "send BUSY")
        self._send_control(dialog, Control.BUSY, now)
        self._goto(dialog, "send BUSY", now)

    def reject(self, call: int, now: int, cause: tuple[str, int] = CALL_REJECTED) -> None:
        dialog = self._act(call, "send REJECT")
        self._send_command(dialog, Command.REJECT, _cause_ies(cause), now)
        self._goto(dialog, "send REJECT", now)

    def hangup(self, call: int, now: int, cause: tuple[str, int] = NORMAL_CLEARING) -> None:
        dialog = self._act(call, "send HANGUP")
        self._send_command(dialog, Command.HANGUP, _cause_ies(cause), now)
        self._goto(dialog, "send HANGUP", now)

    def ping(self, call: int, now: int) -> None:
        dialog = self._live_call(call)
        self._send_command(dialog, Command.PING, InformationElements(), now)

    def lag_request(self, call: int, now: int) -> None:
        dialog = self._live_call(call)
        self._send_command(dialog, Command.LAGRQ, InformationElements(), now)

    def send_audio(self, call: int, samples: np.ndarray, now: int) -> bool:
        """Send one voice frame (16-bit linear samples at 8 kHz, normally 160 = 20 ms) in the
        call's format. Returns False, sending nothing, when the call is not up (it may have
        ended since the application last looked)."""
        dialog = self._dialogs.get(call)
        if dialog is None or dialog.call is None or dialog.call.state != CallState.UP:
            return False
        fmt = dialog.call.format
        payload = encode_audio(samples, fmt)
        if dialog.voice_ts is None:
            dialog.voice_ts = max(self._elapsed_ms(dialog, now), dialog.last_ts + 1)
        ts = dialog.voice_ts
        dialog.voice_ts += max(1, len(samples) * 1000 // SAMPLE_RATE)
        full = (
            dialog.voice_format_sent != fmt
            or dialog.voice_full_ts is None
            or (ts >> 16) != (dialog.voice_full_ts >> 16)
        )
        if full:
            dialog.voice_format_sent = fmt
            dialog.voice_full_ts = ts
            self._send_full(dialog, FrameType.VOICE, int(fmt), payload, now, ts=ts)
        else:
            self._emit(MiniFrame(dialog.local, ts, payload), dialog.address)
        dialog.call.frames_sent += 1
        return True

    def register(
        self, address: Address, username: str, now: int, *, secret: str = "", refresh: int = 60
    ) -> None:
        """Register `username` with the registrar at `address` (send REGREQ)."""
        dialog = self._new_dialog(DialogKind.REGISTRANT, address, 0, now)
        dialog.username, dialog.secret, dialog.refresh = username, secret, refresh
        ies = InformationElements.build((Ie.USERNAME, username), (Ie.REFRESH, refresh))
        self._send_command(dialog, Command.REGREQ, ies, now)

    def unregister(self, address: Address, username: str, now: int, *, secret: str = "") -> None:
        """Withdraw `username`'s registration at `address` (send REGREL)."""
        dialog = self._new_dialog(DialogKind.REGISTRANT, address, 0, now)
        dialog.username, dialog.secret, dialog.releasing = username, secret, True
        ies = InformationElements.build((Ie.USERNAME, username), (Ie.CAUSE, "Unregistering"))
        self._send_command(dialog, Command.REGREL, ies, now)

    # -- time -----------------------------------------------------------------------------

    def next_deadline(self) -> int | None:
        deadlines: list[int] = []
        for dialog in self._dialogs.values():
            deadlines.extend(u.due for u in dialog.unacknowledged.values())
            if dialog.next_ping is not None:
                deadlines.append(dialog.next_ping)
            if dialog.forget_at is not None:
                deadlines.append(dialog.forget_at)
        return min(deadlines) if deadlines else None

    def handle_timers(self, now: int) -> None:
        """Retransmit what is due, give up dialogs, ping calls, forget finished dialogs."""
        for dialog in list(self._dialogs.values()):
            for seq, pending in sorted(dialog.unacknowledged.items(), key=lambda i: i[1].due):
                if pending.due > now or seq not in dialog.unacknowledged:
                    continue
                if pending.tries >= RETRANSMIT_TRIES:
                    self._give_up(dialog, now)
                    break
                pending.tries += 1
                pending.interval = min(
                    pending.interval * RETRANSMIT_BACKOFF, RETRANSMIT_MAX_INTERVAL
                )
                pending.due = now + pending.interval
                self._resend(dialog, pending.frame)
            if dialog.next_ping is not None and dialog.next_ping <= now:
                dialog.next_ping = now + PING_INTERVAL
                self._send_command(dialog, Command.PING, InformationElements(), now)
            if (
                dialog.forget_at is not None
                and dialog.forget_at <= now
                and not dialog.unacknowledged
            ):
                self._forget(dialog)
            elif dialog.forget_at is not None and dialog.forget_at <= now:
                dialog.forget_at = now + LINGER

    # -- datagrams in ---------------------------------------------------------------------

    def receive_datagram(self, data: bytes, address: Address, now: int) -> None:
        try:
            frame = decode_datagram(data)
        except FrameError:
            self.malformed += 1
            return
        if self.trace is not None:
            self.trace("in", frame, address)
        if isinstance(frame, MiniFrame):
            self._receive_mini(frame, address)
            return
        try:
            frame.ies  # noqa: B018 -- reject frames whose elements do not parse, before anything
        except FrameError:
            self.malformed += 1
            return
        dialog = self._find_dialog(frame, address)
        if dialog is None:
            self._receive_unmatched(frame, address, now)
            return
        self._receive_full(dialog, frame, now)

    def _find_dialog(self, frame: FullFrame, address: Address) -> _Dialog | None:
        if frame.dest_call:
            dialog = self._dialogs.get(frame.dest_call)
            if dialog is None or dialog.address != address:
                return None
            if dialog.remote and dialog.remote != frame.source_call:
                return None
            return dialog
        dialog = self._by_remote.get((address, frame.source_call))
        if (
            dialog is not None
            and dialog.forget_at is not None
            and not frame.retransmission
            and frame.frame_type == FrameType.IAX
            and frame.subclass in DIALOG_OPENERS
        ):
            # The peer reuses a call number whose old dialog still lingers: a new dialog.
            self._forget(dialog)
            return None
        return dialog

    def _receive_unmatched(self, frame: FullFrame, address: Address, now: int) -> None:
        if (
            frame.dest_call == 0
            and frame.frame_type == FrameType.IAX
            and frame.subclass in DIALOG_OPENERS
        ):
            dialog = self._new_dialog(
                DIALOG_OPENERS[frame.subclass], address, frame.source_call, now
            )
            self._receive_full(dialog, frame, now)
            return
        if frame.counted:
            # A frame for a call this endpoint does not know: tell the peer (RFC 5456 6.9.3).
            invalid = FullFrame(
                source_call=frame.dest_call,
                dest_call=frame.source_call,
                timestamp=frame.timestamp,
                oseqno=frame.iseqno,
                iseqno=(frame.oseqno + 1) & 0xFF,
                frame_type=FrameType.IAX,
                subclass=Command.INVAL,
            )
            self._emit(invalid, address)

    def _receive_mini(self, frame: MiniFrame, address: Address) -> None:
        dialog = self._by_remote.get((address, frame.source_call))
        if dialog is None or dialog.call is None or dialog.voice_format_received is None:
            return
        ts = _unwrap(frame.timestamp, dialog.last_voice_received)
        self._deliver_voice(dialog, dialog.voice_format_received, frame.payload, ts)

    def _receive_full(self, dialog: _Dialog, frame: FullFrame, now: int) -> None:
        if frame.source_call and not dialog.remote:
            dialog.remote = frame.source_call
            self._by_remote[(dialog.address, dialog.remote)] = dialog
        self._acknowledged(dialog, frame.iseqno)
        if not frame.counted:
            if frame.is_command(Command.VNAK):
                self._resend_from(dialog, frame.iseqno)
            elif frame.is_command(Command.INVAL):
                self._end(dialog, "invalid", "", None, now)
            return
        if frame.oseqno != dialog.iseqno:
            if _seq_before(frame.oseqno, dialog.iseqno):
                self._send_ack(dialog, frame)  # a duplicate: our ACK was lost
            else:
                self._send_uncounted(dialog, Command.VNAK, dialog.last_ts)
            return
        dialog.iseqno = (dialog.iseqno + 1) & 0xFF
        if frame.is_command(Command.PING) or frame.is_command(Command.POKE):
            self._send_command(dialog, Command.PONG, InformationElements(), now, ts=frame.timestamp)
            if dialog.kind == DialogKind.POKE:
                dialog.forget_at = now + LINGER
            return
        if frame.is_command(Command.LAGRQ):
            self._send_command(
                dialog, Command.LAGRP, InformationElements(), now, ts=frame.timestamp
            )
            return
        self._send_ack(dialog, frame)
        if frame.frame_type == FrameType.VOICE:
            if dialog.call is not None:
                fmt = Format(frame.subclass)
                dialog.voice_format_received = fmt
                self._deliver_voice(dialog, fmt, frame.payload, frame.timestamp)
            return
        if frame.frame_type == FrameType.IAX:
            self._receive_command(dialog, frame, now)
        elif frame.frame_type == FrameType.CONTROL and dialog.call is not None:
            self._receive_control(dialog, frame, now)

    def _deliver_voice(self, dialog: _Dialog, fmt: Format, payload: bytes, ts: int) -> None:
        call = dialog.call
        assert call is not None
        dialog.last_voice_received = max(dialog.last_voice_received, ts)
        if call.state not in (CallState.ACCEPTED, CallState.RINGING, CallState.UP):
            return
        if fmt not in BYTES_PER_SAMPLE:
            return
        call.frames_received += 1
        self._events.append(AudioReceived(call.number, decode_audio(payload, fmt), ts))

    # -- commands and controls ------------------------------------------------------------

    def _receive_command(self, dialog: _Dialog, frame: FullFrame, now: int) -> None:
        command = frame.subclass
        ies = frame.ies
        if command == Command.PONG:
            if dialog.call is not None:
                rtt = max(0, self._elapsed_ms(dialog, now) - frame.timestamp)
                dialog.call.round_trip = rtt
                self._events.append(PingReply(dialog.call.number, rtt))
            return
        if command == Command.LAGRP:
            if dialog.call is not None:
                lag = max(0, self._elapsed_ms(dialog, now) - frame.timestamp)
                self._events.append(LagReply(dialog.call.number, lag))
            return
        if dialog.kind == DialogKind.REGISTRAR:
            self._registrar_receive(dialog, frame, now)
        elif dialog.kind == DialogKind.REGISTRANT:
            self._registrant_receive(dialog, frame, now)
        elif command == Command.NEW and dialog.call is None:
            self._call_new(dialog, ies, now)
        elif dialog.call is not None and command in CALL_COMMANDS:
            getattr(self, CALL_COMMANDS[command])(dialog, ies, now)

    def _receive_control(self, dialog: _Dialog, frame: FullFrame, now: int) -> None:
        call = dialog.call
        assert call is not None
        try:
            name = Control(frame.subclass).name
        except ValueError:
            return
        action = f"recv {name}"
        if action not in CALL_TRANSITIONS[call.role][call.state]:
            return
        if name == "ANSWER":
            self._goto(dialog, action, now)
            self._events.append(CallAnswered(call.number))
        elif name == "RINGING":
            self._goto(dialog, action, now)
            self._events.append(CallRinging(call.number))
        elif name in ("BUSY", "CONGESTION"):
            # The far end will not answer: end the call as a caller does (send HANGUP).
            self._send_command(dialog, Command.HANGUP, _cause_ies(NORMAL_CLEARING), now)
            self._goto(dialog, action, now)
            self._events.append(CallEnded(call.number, name.lower()))

    def _call_new(self, dialog: _Dialog, ies: InformationElements, now: int) -> None:
        call = Iax2Call(
            number=dialog.local,
            role=Role.CALLEE,
            state=CallState.OFFERED,
            address=dialog.address,
            called_number=ies.text(Ie.CALLED_NUMBER) or "",
            calling_number=ies.text(Ie.CALLING_NUMBER) or "",
            calling_name=ies.text(Ie.CALLING_NAME) or "",
            username=ies.text(Ie.USERNAME) or "",
        )
        dialog.call = call
        version = ies.number(Ie.VERSION)
        if version is not None and version != PROTOCOL_VERSION:
            self._refuse_call(dialog, UNSUPPORTED_VERSION, now)
            return
        fmt = self._choose_format(ies.number(Ie.FORMAT) or 0, ies.number(Ie.CAPABILITY) or 0)
        if fmt is None:
            self._refuse_call(dialog, NO_CODEC, now)
            return
        call.format = fmt
        secret = self._peers.get(call.username)
        if secret:
            dialog.secret = secret
            dialog.challenge = self._challenge()
            call.state = CallState.AUTHENTICATING
            ies_out = InformationElements.build(
                (Ie.AUTHMETHODS, int(AuthMethod.MD5)),
                (Ie.CHALLENGE, dialog.challenge),
                (Ie.USERNAME, call.username),
            )
            self._send_command(dialog, Command.AUTHREQ, ies_out, now)
            return
        self._offer(dialog)

    def _call_authrep(self, dialog: _Dialog, ies: InformationElements, now: int) -> None:
        call = dialog.call
        assert call is not None
        if call.state != CallState.AUTHENTICATING:
            return
        answer = ies.text(Ie.MD5_RESULT) or ""
        expected = md5_answer(dialog.challenge, dialog.secret)
        if not hmac.compare_digest(answer.lower().encode(), expected.encode()):
            self._refuse_call(dialog, AUTH_FAILED, now)
            return
        self._goto(dialog, "recv AUTHREP", now)
        self._offer(dialog)

    def _call_authreq(self, dialog: _Dialog, ies: InformationElements, now: int) -> None:
        call = dialog.call
        assert call is not None
        if "recv AUTHREQ" not in CALL_TRANSITIONS[call.role][call.state]:
            return
        methods = ies.number(Ie.AUTHMETHODS) or 0
        challenge = ies.text(Ie.CHALLENGE)
        if not (methods & AuthMethod.MD5) or challenge is None or not dialog.secret:
            # Plain text would put the secret on the wire: never.
            self._send_command(dialog, Command.HANGUP, _cause_ies(AUTH_FAILED), now)
            self._goto(dialog, "send HANGUP", now)
            self._events.append(CallEnded(call.number, "rejected", AUTH_FAILED[0]))
            return
        answer = InformationElements.build((Ie.MD5_RESULT, md5_answer(challenge, dialog.secret)))
        self._send_command(dialog, Command.AUTHREP, answer, now)

    def _call_accept(self, dialog: _Dialog, ies: InformationElements, now: int) -> None:
        call = dialog.call
        assert call is not None
        if "recv ACCEPT" not in CALL_TRANSITIONS[call.role][call.state]:
            return
        fmt = ies.number(Ie.FORMAT)
        if fmt is None or Format(fmt) not in BYTES_PER_SAMPLE or not fmt & self.formats:
            self._send_command(dialog, Command.HANGUP, _cause_ies(NO_CODEC), now)
            self._goto(dialog, "send HANGUP", now)
            self._events.append(CallEnded(call.number, "rejected", NO_CODEC[0], NO_CODEC[1]))
            return
        call.format = Format(fmt)
        self._goto(dialog, "recv ACCEPT", now)
        self._events.append(CallAccepted(call.number, call.format))

    def _call_hangup(self, dialog: _Dialog, ies: InformationElements, now: int) -> None:
        self._end(dialog, "hangup", ies.text(Ie.CAUSE) or "", ies.number(Ie.CAUSECODE), now)

    def _call_reject(self, dialog: _Dialog, ies: InformationElements, now: int) -> None:
        self._end(dialog, "rejected", ies.text(Ie.CAUSE) or "", ies.number(Ie.CAUSECODE), now)

    def _offer(self, dialog: _Dialog) -> None:
        call = dialog.call
        assert call is not None
        call.state = CallState.OFFERED
        self._events.append(
            IncomingCall(
                call=call.number,
                address=call.address,
                called_number=call.called_number,
                calling_number=call.calling_number,
                calling_name=call.calling_name,
                username=call.username,
                format=call.format,
            )
        )

    def _refuse_call(self, dialog: _Dialog, cause: tuple[str, int], now: int) -> None:
        """Refuse a call before the application saw it: no event."""
        assert dialog.call is not None
        self._send_command(dialog, Command.REJECT, _cause_ies(cause), now)
        dialog.call.state = CallState.DOWN
        dialog.forget_at = now + LINGER

    def _choose_format(self, wanted: int, capability: int) -> Format | None:
        if wanted and Format(wanted) in BYTES_PER_SAMPLE and wanted & self.formats:
            return Format(wanted)
        for fmt in PREFERENCE:
            if fmt & capability & self.formats:
                return fmt
        return None

    # -- registration ---------------------------------------------------------------------

    def _registrar_receive(self, dialog: _Dialog, frame: FullFrame, now: int) -> None:
        if frame.subclass not in (Command.REGREQ, Command.REGREL):
            return
        ies = frame.ies
        username = ies.text(Ie.USERNAME) or ""
        dialog.username = username
        secret = self._peers.get(username)
        if not username or (secret is None and not self.open_registration):
            self._refuse_registration(dialog, "Unknown peer", now)
            return
        if secret:
            answer = ies.text(Ie.MD5_RESULT)
            if answer is None or not dialog.challenge:
                dialog.challenge = self._challenge()
                challenge = InformationElements.build(
                    (Ie.AUTHMETHODS, int(AuthMethod.MD5)),
                    (Ie.CHALLENGE, dialog.challenge),
                    (Ie.USERNAME, username),
                )
                self._send_command(dialog, Command.REGAUTH, challenge, now)
                return
            expected = md5_answer(dialog.challenge, secret)
            if not hmac.compare_digest(answer.lower().encode(), expected.encode()):
                self._refuse_registration(dialog, "Authentication failed", now)
                return
        if frame.subclass == Command.REGREL:
            self.registrations.pop(username, None)
            self._send_command(dialog, Command.REGACK, self._regack_ies(dialog, 0, now), now)
            self._events.append(PeerUnregistered(username, dialog.address))
        else:
            asked = ies.number(Ie.REFRESH) or DEFAULT_REFRESH
            refresh = min(max(asked, MIN_REFRESH), MAX_REFRESH)
            self.registrations[username] = Registration(
                username, dialog.address, now + refresh * SECOND
            )
            self._send_command(dialog, Command.REGACK, self._regack_ies(dialog, refresh, now), now)
            self._events.append(PeerRegistered(username, dialog.address, refresh))
        dialog.forget_at = now + LINGER

    def _regack_ies(self, dialog: _Dialog, refresh: int, now: int) -> InformationElements:
        when: IeValue = None
        if self.epoch is not None:
            when = encode_datetime(self.epoch + timedelta(microseconds=now))
        return InformationElements.build(
            (Ie.USERNAME, dialog.username),
            (Ie.DATETIME, when),
            (Ie.REFRESH, refresh),
            (Ie.APPARENT_ADDR, dialog.address),
        )

    def _refuse_registration(self, dialog: _Dialog, cause: str, now: int) -> None:
        ies = InformationElements.build((Ie.CAUSE, cause))
        self._send_command(dialog, Command.REGREJ, ies, now)
        self._events.append(RegistrationRefused(dialog.username, dialog.address, cause))
        dialog.forget_at = now + LINGER

    def _registrant_receive(self, dialog: _Dialog, frame: FullFrame, now: int) -> None:
        ies = frame.ies
        if frame.subclass == Command.REGAUTH:
            methods = ies.number(Ie.AUTHMETHODS) or 0
            challenge = ies.text(Ie.CHALLENGE)
            if not (methods & AuthMethod.MD5) or challenge is None or not dialog.secret:
                self._registration_failed(dialog, "MD5 authentication not possible", now)
                return
            answer = InformationElements.build(
                (Ie.USERNAME, dialog.username),
                (Ie.MD5_RESULT, md5_answer(challenge, dialog.secret)),
                (Ie.REFRESH, None if dialog.releasing else dialog.refresh),
            )
            command = Command.REGREL if dialog.releasing else Command.REGREQ
            self._send_command(dialog, command, answer, now)
        elif frame.subclass == Command.REGACK:
            if dialog.releasing:
                self._events.append(Unregistered(dialog.username, dialog.address))
            else:
                refresh = ies.number(Ie.REFRESH) or dialog.refresh
                self._events.append(Registered(dialog.username, dialog.address, refresh))
            dialog.forget_at = now + LINGER
        elif frame.subclass == Command.REGREJ:
            self._registration_failed(dialog, ies.text(Ie.CAUSE) or "refused", now)

    def _registration_failed(self, dialog: _Dialog, cause: str, now: int) -> None:
        self._events.append(RegistrationFailed(dialog.username, dialog.address, cause))
        dialog.unacknowledged.clear()
        dialog.forget_at = now + LINGER

    # -- call state -------------------------------------------------------------------------

    def _act(self, call: int, action: str) -> _Dialog:
        dialog = self._dialogs.get(call)
        if dialog is None or dialog.call is None:
            raise Iax2Error(f"no call {call}")
        state = dialog.call.state
        if action not in CALL_TRANSITIONS[dialog.call.role][state]:
            raise Iax2Error(f"call {call} is {state}: cannot {action.removeprefix('send ')}")
        return dialog

    def _live_call(self, call: int) -> _Dialog:
        dialog = self._dialogs.get(call)
        if dialog is None or dialog.call is None or dialog.call.state == CallState.DOWN:
            raise Iax2Error(f"no call {call} in progress")
        return dialog

    def _goto(self, dialog: _Dialog, action: str, now: int) -> None:
        call = dialog.call
        assert call is not None
        call.state = CALL_TRANSITIONS[call.role][call.state][action]
        if call.state == CallState.UP and dialog.next_ping is None:
            dialog.next_ping = now + PING_INTERVAL
        if call.state == CallState.DOWN:
            dialog.next_ping = None
            dialog.forget_at = now + LINGER

    def _end(self, dialog: _Dialog, reason: str, cause: str, code: int | None, now: int) -> None:
        """The peer ended the dialog: what is still unacknowledged will never be."""
        dialog.unacknowledged.clear()
        dialog.next_ping = None
        dialog.forget_at = now + LINGER
        call = dialog.call
        if call is None or call.state == CallState.DOWN:
            return
        announced = call.state != CallState.AUTHENTICATING
        call.state = CallState.DOWN
        if announced:
            self._events.append(CallEnded(call.number, reason, cause, code))

    def _give_up(self, dialog: _Dialog, now: int) -> None:
        if dialog.kind == DialogKind.REGISTRANT:
            self._registration_failed(dialog, "no response", now)
            return
        self._end(dialog, "timeout", "no response", None, now)

    # -- dialogs and reliable delivery ------------------------------------------------------

    def _new_dialog(self, kind: DialogKind, address: Address, remote: int, now: int) -> _Dialog:
        for _ in range(0x7FFF):
            number = self._next_number
            self._next_number = self._next_number % 0x7FFF + 1
            if number not in self._dialogs:
                break
        else:
            raise Iax2Error("no free call number")
        dialog = _Dialog(kind=kind, local=number, remote=remote, address=address, started=now)
        self._dialogs[number] = dialog
        if remote:
            self._by_remote[(address, remote)] = dialog
        return dialog

    def _forget(self, dialog: _Dialog) -> None:
        self._dialogs.pop(dialog.local, None)
        if self._by_remote.get((dialog.address, dialog.remote)) is dialog:
            del self._by_remote[(dialog.address, dialog.remote)]

    def _elapsed_ms(self, dialog: _Dialog, now: int) -> int:
        return max(0, (now - dialog.started) // MS)

    def _timestamp(self, dialog: _Dialog, now: int) -> int:
        """Milliseconds since the dialog began, never 0 and never going back (RFC 5456 7)."""
        ts = max(self._elapsed_ms(dialog, now), dialog.last_ts + 1)
        dialog.last_ts = ts
        return ts

    def _send_command(
        self,
        dialog: _Dialog,
        command: Command,
        ies: InformationElements,
        now: int,
        *,
        ts: int | None = None,
    ) -> None:
        self._send_full(dialog, FrameType.IAX, command, ies.encode(), now, ts=ts)

    def _send_control(self, dialog: _Dialog, control: Control, now: int) -> None:
        self._send_full(dialog, FrameType.CONTROL, control, b"", now)

    def _send_full(
        self,
        dialog: _Dialog,
        frame_type: int,
        subclass: int,
        payload: bytes,
        now: int,
        *,
        ts: int | None = None,
    ) -> None:
        """A counted, reliable frame: retransmitted until acknowledged."""
        frame = FullFrame(
            source_call=dialog.local,
            dest_call=dialog.remote,
            timestamp=self._timestamp(dialog, now) if ts is None else ts,
            oseqno=dialog.oseqno,
            iseqno=dialog.iseqno,
            frame_type=frame_type,
            subclass=subclass,
            payload=payload,
        )
        if ts is not None and frame_type != FrameType.IAX:
            dialog.last_ts = max(dialog.last_ts, ts)
        dialog.unacknowledged[dialog.oseqno] = _Unacknowledged(
            frame, now + RETRANSMIT_FIRST, RETRANSMIT_FIRST
        )
        dialog.oseqno = (dialog.oseqno + 1) & 0xFF
        self._emit(frame, dialog.address)

    def _send_uncounted(self, dialog: _Dialog, command: Command, ts: int) -> None:
        frame = FullFrame(
            source_call=dialog.local,
            dest_call=dialog.remote,
            timestamp=ts,
            oseqno=dialog.oseqno,
            iseqno=dialog.iseqno,
            frame_type=FrameType.IAX,
            subclass=command,
        )
        self._emit(frame, dialog.address)

    def _send_ack(self, dialog: _Dialog, frame: FullFrame) -> None:
        """ACK carries the timestamp of the frame it acknowledges (RFC 5456 6.9.1)."""
        self._send_uncounted(dialog, Command.ACK, frame.timestamp)

    def _acknowledged(self, dialog: _Dialog, iseqno: int) -> None:
        """The peer expects `iseqno` next: everything before it has arrived."""
        for seq in list(dialog.unacknowledged):
            if _seq_before(seq, iseqno):
                del dialog.unacknowledged[seq]

    def _resend(self, dialog: _Dialog, frame: FullFrame) -> None:
        again = FullFrame(
            source_call=frame.source_call,
            dest_call=dialog.remote,
            timestamp=frame.timestamp,
            oseqno=frame.oseqno,
            iseqno=dialog.iseqno,
            frame_type=frame.frame_type,
            subclass=frame.subclass,
            payload=frame.payload,
            retransmission=True,
        )
        self._emit(again, dialog.address)

    def _resend_from(self, dialog: _Dialog, iseqno: int) -> None:
        """VNAK: the peer lost frames from `iseqno` on; send them all again now."""
        for seq in sorted(dialog.unacknowledged, key=lambda s: (s - iseqno) & 0xFF):
            self._resend(dialog, dialog.unacknowledged[seq].frame)

    def _emit(self, frame: FullFrame | MiniFrame, address: Address) -> None:
        if self.trace is not None:
            self.trace("out", frame, address)
        self._datagrams.append((frame.encode(), address))

    def _challenge(self) -> str:
        return str(self.rng.randrange(100_000_000, 1_000_000_000))


def _cause_ies(cause: tuple[str, int]) -> InformationElements:
    text, code = cause
    return InformationElements.build((Ie.CAUSE, text), (Ie.CAUSECODE, code))


def _unwrap(low16: int, last: int) -> int:
    """A mini frame's full timestamp: the top 16 bits of the last one, corrected for a wrap."""
    ts = (last & ~0xFFFF) | low16
    if ts < last - 0x8000:
        ts += 0x10000
    elif ts > last + 0x8000 and ts >= 0x10000:
        ts -= 0x10000
    return ts
