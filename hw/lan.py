"""The machine's LAN port: the one edge where its SMTP sockets live, and they never block.

An `SmtpLink` is one connection to a relay. It performs single SMTP steps (connect, EHLO,
STARTTLS, a command line, MAIL, RCPT, DATA, QUIT) on a non-blocking socket (TLS through
`ssl.SSLObject` on memory buffers) and hands each reply, or the transport failure that ended the
step, to the callback given with the step; what to send next is the firmware's decision
(`firmware.email.session`). The driver of the clock serves the socket (`hw.outside`): no clock
event waits on the relay. While the link is open it holds virtual time under `replay`, so a run
stays deterministic; under `run` the machine goes on meanwhile.

Every wait has its deadline in wall seconds (RFC 5321 4.5.3.2's values by default, settings may
shorten them). Replies are read with bounds (RFC 5321 4.5.3.1: reply lines of at most 512 octets,
taken up to the 1000-octet text line limit; at most 100 lines): a reply the port cannot read is a
transport failure (`unreadable`), which the firmware retries, never a permanent refusal.

Lines that carry credentials are marked secret by the caller: the port never logs them, only
their reply code. A power cut drops the connection without QUIT; the step's callback is never
called (the firmware's RAM is gone, and it resumes from NVRAM at power-on).

A snapshot cannot take a socket along: a link open when it is taken is saved as cut (`cut`), and
once the snapshot is restored `LanPort.drop_cut_links` tells its pending step that the relay
dropped the connection, so the firmware deals with it as with any dropped connection.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from .eventlog import EventLog
from .listeners import Listeners
from .outside import AddressInfo, OutsideWorld, WallTimer
from .power import PowerSupply

# Transport failures (Reply.failure); the firmware maps each to a code of its own.
REFUSED = "refused"  # nothing listens there (or the relay is down)
UNREACHABLE = "unreachable"  # the name does not resolve or no route
TIMEOUT = "timeout"  # a step took longer than its timeout
DROPPED = "dropped"  # the relay closed or reset the connection
TLS_FAILED = "tls"  # the TLS handshake failed
CERTIFICATE = "certificate"  # the relay's certificate is not trusted or not for this host
UNREADABLE = "unreadable"  # the relay's reply could not be read (too long, not SMTP)

REPLY_LINE_LIMIT = 1000  # octets with CRLF (RFC 5321 4.5.3.1.5 says 512; 4.5.3.1.6 caps text)
REPLY_LINES_LIMIT = 100
_REPLY_LINE = re.compile(rb"([2-5][0-9][0-9])([ -])(.*)", re.DOTALL)
_LINE_START_DOT = re.compile(rb"(?m)^\.")


@dataclass(frozen=True)
class Reply:
    """What one step brought back: an SMTP reply, or a transport failure (code 0)."""

    code: int
    text: str = ""
    failure: str = ""
    lines: tuple[str, ...] = ()  # every line's text after the code (EHLO keywords)


@dataclass(frozen=True)
class SmtpTimeouts:
    """Wall seconds for each wait of a session (RFC 5321 4.5.3.2 defaults)."""

    greeting: float = 300.0
    command: float = 300.0
    data_init: float = 120.0
    data_block: float = 180.0
    data_end: float = 600.0


class ReplyReader:
    """SMTP replies out of received bytes, without I/O: `feed` returns each whole reply."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.lines: list[tuple[int, bytes]] = []

    def feed(self, data: bytes) -> list[Reply]:
        self.buffer += data
        replies: list[Reply] = []
        while True:
            end = self.buffer.find(b"\n")
            if end < 0:
                if len(self.buffer) > REPLY_LINE_LIMIT:
                    return [*replies, self._unreadable("a reply line longer than the limit")]
                return replies
            if end + 1 > REPLY_LINE_LIMIT:
                return [*replies, self._unreadable("a reply line longer than the limit")]
            raw = bytes(self.buffer[:end]).rstrip(b"\r")
            del self.buffer[: end + 1]
            m = _REPLY_LINE.fullmatch(raw) or (
                _REPLY_LINE.fullmatch(raw + b" ") if len(raw) == 3 else None
            )
            if m is None:
                return [*replies, self._unreadable("a reply line that is not SMTP")]
            code = int(m.group(1))
            if self.lines and self.lines[0][0] != code:
                return [*replies, self._unreadable("a reply whose lines disagree on the code")]
            self.lines.append((code, m.group(3)))
            if len(self.lines) > REPLY_LINES_LIMIT:
                return [*replies, self._unreadable("a reply of too many lines")]
            if m.group(2) == b" ":
                texts = tuple(t.decode("utf-8", "replace").strip() for _, t in self.lines)
                self.lines = []
                replies.append(Reply(code, _shown(" ".join(texts)), lines=texts))

    def _unreadable(self, why: str) -> Reply:
        self.buffer.clear()
        self.lines = []
        return Reply(0, why, UNREADABLE)


def _shown(text: str) -> str:
    return " ".join(text.split())[:200]


def ehlo_features(reply: Reply) -> dict[str, str]:
    """EHLO keywords and their parameters (RFC 5321 4.1.1.1), lower-case keywords; the old
    `AUTH=` form is read as AUTH."""
    features: dict[str, str] = {}
    for line in reply.lines[1:]:
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9-]*)(?:[ =](.*))?$", line)
        if m is None:
            continue
        keyword, params = m.group(1).lower(), (m.group(2) or "").strip()
        if keyword == "auth" and "auth" in features:
            params = " ".join(dict.fromkeys([*features["auth"].split(), *params.split()]))
        features[keyword] = params
    return features


Done = Callable[[Reply], None]


class SmtpLink:
    """One SMTP connection to a relay, step by step (made by `LanPort.smtp`)."""

    def __init__(self, lan: LanPort, host: str, port: int, *, implicit_tls: bool,
                 ca_file: str, timeouts: SmtpTimeouts) -> None:  # fmt: skip
        self.lan = lan
        self.outside = lan.outside
        self.host = host
        self.port = port
        self.implicit_tls = implicit_tls
        self.ca_file = ca_file
        self.timeouts = timeouts
        self.features: dict[str, str] = {}
        self.local_name = "[127.0.0.1]"
        self._sock: socket.socket | None = None
        self._connecting = False
        self._tls: ssl.SSLObject | None = None
        self._tls_in = ssl.MemoryBIO()
        self._tls_out = ssl.MemoryBIO()
        self._handshaking = False
        self._after_handshake: Callable[[], None] = _nothing
        self._reader = ReplyReader()
        self._out = bytearray()  # bytes for the socket (already through TLS)
        self._stages: list[tuple[str, bytes]] = []  # DATA: (hook point, what to send after it)
        self._pending: tuple[str, str, Done] | None = None  # step, what to log, its callback
        self._after_reply: Callable[[Reply], bool] | None = None  # DATA's 354, STARTTLS's 220
        self._timer: WallTimer | None = None
        self._lookups = 0  # host name lookups asked for; an answer counts for the last only
        self.closed = False
        self.cut = False  # open when a snapshot was taken: restored without its socket

    def __getstate__(self) -> dict[str, Any]:
        """Saved as cut: the socket, TLS and the wall timer stay behind."""
        state = self.__dict__.copy()
        state.update(
            _sock=None, _connecting=False, _tls=None, _tls_in=None, _tls_out=None,
            _handshaking=False, _after_handshake=_nothing, _out=bytearray(), _stages=[],
            _after_reply=None, _timer=None, cut=self.cut or not self.closed, closed=True,
        )  # fmt: skip
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._tls_in = ssl.MemoryBIO()
        self._tls_out = ssl.MemoryBIO()

    # -- steps ------------------------------------------------------------------------------------
    def connect(self, done: Done) -> None:
        """Open the connection (TLS first when implicit) and read the greeting. A host name is
        looked up by the driver, off the clock; the greeting's deadline covers the lookup."""
        if not self._begin("connect", f"{self.host}:{self.port}", done):
            return
        try:
            infos = socket.getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
            )
        except socket.gaierror:
            infos = []  # a name, not an address
        except UnicodeError:
            return self._fail(UNREACHABLE, "host not found")
        if infos:
            return self._open(infos[0])
        self._lookups += 1
        self.outside.hold(self, True)
        self._wait(self.timeouts.greeting)
        self.outside.resolve(self.host, self.port, partial(self._resolved, self._lookups))

    def _resolved(self, lookup: int, answer: list[AddressInfo] | OSError) -> None:
        if lookup != self._lookups or self._pending is None or self.closed:
            return  # timed out, cut or closed meanwhile
        if isinstance(answer, OSError) or not answer:
            return self._fail(UNREACHABLE, "host not found")
        self._open(answer[0])

    def _open(self, info: AddressInfo) -> None:
        family, kind, proto, _, address = info
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        self._sock = sock
        self.outside.watch(self)
        self.outside.hold(self, True)
        code = sock.connect_ex(address)
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            return self._fail(*_connect_failure(code))
        self._connecting = True
        if self._timer is None:  # after a lookup, its deadline runs on
            self._wait(self.timeouts.greeting)

    def ehlo(self, done: Done) -> None:
        self._command("ehlo", f"EHLO {self.local_name}", "", done)

    def starttls(self, done: Done) -> None:
        self._after_reply = self._tls_after_220
        self._command("starttls", "STARTTLS", "", done)

    def command(self, line: str, done: Done, *, secret: bool = False, shown: str = "") -> None:
        """One command line (or an AUTH continuation). A secret line is never logged; `shown`
        says what to log instead (e.g. 'AUTH response')."""
        self._command("command", line, shown if secret else line, done)

    def mail(self, sender: str, options: list[str], done: Done) -> None:
        extra = "".join(f" {o}" for o in options)
        self._command("mail", f"MAIL FROM:<{sender}>{extra}", sender, done)

    def rcpt(self, recipient: str, done: Done) -> None:
        self._command("rcpt", f"RCPT TO:<{recipient}>", recipient, done)

    def data(self, message: bytes, done: Done) -> None:
        """DATA, the dot-stuffed message, the final dot; each wait with its own deadline.

        Test points inside the step: "sending" once half the body is on the wire (a power cut
        there leaves the relay without the final dot, so it discards the message), "sent" when
        the final dot is on the wire and the verdict not yet read."""
        body = _LINE_START_DOT.sub(b"..", message)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        body += b".\r\n"
        self._after_reply = partial(self._after_354, body)
        self._command("data", "DATA", f"{len(message)} bytes", done, self.timeouts.data_init)

    def _after_354(self, body: bytes, reply: Reply) -> bool:
        if reply.code != 354:
            return False
        half = len(body) // 2
        self._stages = [("sending", body[half:]), ("sent", b"")]
        self._send(body[:half])
        self._wait(self.timeouts.data_block)
        return True

    def quit(self, done: Done) -> None:
        self._command("quit", "QUIT", "", partial(self._closing, done))

    def _closing(self, done: Done, reply: Reply) -> None:
        self.close()
        done(reply)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending = None
        self.closed = True
        self.outside.hold(self, False)
        self.outside.unwatch(self)
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None
        self.lan.links.discard(self)

    # -- OutsideLink ---------------------------------------------------------------------------
    def fileno(self) -> int:
        return self._sock.fileno() if self._sock is not None else -1

    def wants_write(self) -> bool:
        return self._connecting or bool(self._out)

    def writable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        if self._connecting:
            self._connecting = False
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                return self._fail(*_connect_failure(code))
            self.local_name = _address_literal(sock.getsockname()[0])
            if self.implicit_tls:
                self._start_tls(self._wait_greeting)
            return
        try:
            sent = sock.send(self._out)
        except BlockingIOError:
            return
        except OSError:
            return self._fail(DROPPED, "connection closed by the relay")
        del self._out[:sent]
        if not self._out and self._stages:
            self._next_stage()

    def readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        if self._connecting:
            return self.writable()  # a connect that failed reads as readable too
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            return self._fail(DROPPED, "connection closed by the relay")
        if not data:
            return self._fail(DROPPED, "connection closed by the relay")
        if self._tls is None:
            return self._received(data)
        self._tls_in.write(data)
        if self._handshaking:
            return self._handshake()
        plain = bytearray()
        try:
            while True:
                chunk = self._tls.read(65536)
                if not chunk:
                    break
                plain += chunk
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError:
            return self._fail(DROPPED, "connection closed by the relay")
        if plain:
            self._received(bytes(plain))

    # -- plumbing -------------------------------------------------------------------------------
    def _begin(self, step: str, shown: str, done: Done) -> bool:
        """Start a step: its test hooks may cut the power (then nothing more happens)."""
        self._pending = (step, shown, done)
        self._hooks(step, "before")
        return self._pending is not None

    def _command(self, step: str, line: str, shown: str, done: Done,
                 timeout: float | None = None) -> None:  # fmt: skip
        if not self._begin(step, shown, done):
            return
        if self._sock is None or self.closed:
            return self._fail(DROPPED, "not connected")
        self._send(f"{line}\r\n".encode())
        self._wait(self.timeouts.command if timeout is None else timeout)

    def _send(self, data: bytes) -> None:
        if self._tls is None:
            self._out += data
            return
        self._tls.write(data)
        self._out += self._tls_out.read()

    def _wait(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.outside.after_wall(seconds, self._timed_out)

    def _wait_greeting(self) -> None:
        self._wait(self.timeouts.greeting)

    def _timed_out(self) -> None:
        self._timer = None
        if self._pending is not None:
            self._fail(TIMEOUT, "timed out")

    def _next_stage(self) -> None:
        """DATA: a part of the body is on the wire; its test point, then the next part."""
        point, following = self._stages.pop(0)
        if self._pending is None:
            return
        self._hooks(self._pending[0], point)
        if self._pending is None:
            return  # the power went
        if following:
            self._send(following)
        if point == "sent":
            self._wait(self.timeouts.data_end)

    def _received(self, data: bytes) -> None:
        for reply in self._reader.feed(data):
            if self._pending is None:
                return
            if reply.failure:
                return self._fail(reply.failure, reply.text)
            after, self._after_reply = self._after_reply, None
            if after is not None and after(reply):
                continue  # the step goes on (DATA's body, STARTTLS's handshake)
            self._reply(reply)

    def _reply(self, reply: Reply) -> None:
        self._after_reply = None
        self._stages = []
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, None
        if pending is None:
            return
        step, shown, done = pending
        if step == "ehlo":
            self.features = ehlo_features(reply) if reply.code == 250 else {}
        fields: dict[str, object] = {"step": step, "code": reply.code}
        if shown:
            fields["arg"] = shown
        if reply.failure:
            fields["failure"] = reply.failure
        self.lan.log.emit("lan", "smtp", **fields)
        if reply.failure:
            self.close()
        self._pending = (step, shown, done)  # the after-hooks may cut the power
        self._hooks(step, "after")
        if self._pending is None:
            return
        self._pending = None
        done(reply)

    def _fail(self, failure: str, text: str) -> None:
        self._reply(Reply(0, text, failure))

    def _hooks(self, step: str, point: str) -> None:
        """Test points: a hook may cut the power; then the link is dropped without a word."""
        self.lan.step_hooks(step, point)
        if not self.lan.power.on and not self.closed:
            self.lan.log.emit("lan", "smtp_power_lost", step=step)
            self.close()

    # -- TLS --------------------------------------------------------------------------------------
    def _context(self) -> ssl.SSLContext | None:
        try:
            return ssl.create_default_context(cafile=self.ca_file or None)
        except (OSError, ssl.SSLError):
            return None

    def _start_tls(self, then: Callable[[], None]) -> None:
        context = self._context()
        if context is None:
            return self._fail(CERTIFICATE, f"CA file unusable: {self.ca_file}")
        self._tls_in, self._tls_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._tls_in, self._tls_out, server_hostname=self.host)
        self._handshaking = True
        self._after_handshake = then
        self._handshake()

    def _handshake(self) -> None:
        assert self._tls is not None
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            self._out += self._tls_out.read()
            return
        except ssl.SSLCertVerificationError as exc:
            return self._fail(CERTIFICATE, str(exc.verify_message or exc))
        except ssl.SSLError as exc:
            return self._fail(TLS_FAILED, exc.reason or "TLS handshake failed")
        self._out += self._tls_out.read()
        self._handshaking = False
        self._after_handshake()
        if self._tls_in.pending:
            self.readable_tls_pending()

    def readable_tls_pending(self) -> None:
        """Plain bytes that came in the same read as the end of the handshake."""
        assert self._tls is not None
        try:
            data = self._tls.read(65536)
        except ssl.SSLWantReadError:
            return
        if data:
            self._received(data)

    def _tls_after_220(self, reply: Reply) -> bool:
        if reply.code != 220:
            return False
        # STARTTLS accepted: the handshake, then the step ends with the 220 (features forgotten).
        self.features = {}
        self._start_tls(partial(self._reply, reply))
        return True


class LanPort:
    """The LAN port of one machine (`board.lan`)."""

    def __init__(self, log: EventLog, power: PowerSupply, outside: OutsideWorld) -> None:
        self.log = log
        self.power = power
        self.outside = outside
        self.links: set[SmtpLink] = set()
        # Test points: hook(step, point) with point "before" and "after" every step of a session,
        # and "sending" / "sent" inside DATA. A hook may cut the power (board.power_off()).
        self.step_hooks: Listeners[[str, str]] = Listeners()
        power.changed.add(self._power)

    def smtp(self, host: str, port: int, *, implicit_tls: bool = False, ca_file: str = "",
             timeouts: SmtpTimeouts | None = None) -> SmtpLink:  # fmt: skip
        """A link to a relay (not yet connected). Certificates are always verified."""
        link = SmtpLink(self, host, port, implicit_tls=implicit_tls, ca_file=ca_file,
                        timeouts=timeouts or SmtpTimeouts())  # fmt: skip
        self.links.add(link)
        return link

    def _power(self, on: bool) -> None:
        if not on:
            for link in list(self.links):
                link.close()

    def drop_cut_links(self) -> int:
        """After a snapshot is restored: each link that was open when it was taken (`cut`)
        tells its pending step that the relay dropped the connection. Returns how many."""
        cut = [link for link in self.links if link.cut]
        for link in cut:
            link.cut = False
            if link._pending is None:
                link.close()
            else:
                link._fail(DROPPED, "connection cut by a snapshot")
        return len(cut)


def _nothing() -> None:
    pass


def _address_literal(host: str) -> str:
    """EHLO names this end by its address literal (RFC 5321 4.1.3), not a lookup."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"[{host}]"
    return f"[IPv6:{address}]" if address.version == 6 else f"[{address}]"


def _connect_failure(code: int) -> tuple[str, str]:
    if code == errno.ECONNREFUSED:
        return REFUSED, "connection refused"
    if code in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return UNREACHABLE, "no route to the relay"
    if code == errno.ETIMEDOUT:
        return TIMEOUT, "timed out"
    return DROPPED, errno.errorcode.get(code, "connection failed")
