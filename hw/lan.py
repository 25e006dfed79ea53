"""The machine's LAN port: the one edge where network sockets live.

An SMTP session runs here on Python's `smtplib`, synchronously, inside whatever clock event the
firmware called from: the virtual clock is frozen while a session blocks (DESIGN.md 2), and the
session's own timeouts are real seconds. The port executes single SMTP steps (connect, EHLO,
STARTTLS, a command line, MAIL, RCPT, DATA, QUIT) and turns every outcome, socket failures
included, into a `Reply`; what to send next is the firmware's decision (`firmware.email.session`).

Lines that carry credentials are marked secret by the caller: the port never logs them, only
their reply code. A power cut (the board losing power during a step, which a test can cause from
a step hook) drops the connection without QUIT and raises `PowerLost`.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from .eventlog import EventLog
from .listeners import Listeners
from .power import PowerSupply

# Transport failures (Reply.failure); the firmware maps each to a code of its own.
REFUSED = "refused"  # nothing listens there (or the relay is down)
UNREACHABLE = "unreachable"  # the name does not resolve or no route
TIMEOUT = "timeout"  # a step took longer than its timeout
DROPPED = "dropped"  # the relay closed or reset the connection
TLS_FAILED = "tls"  # the TLS handshake failed
CERTIFICATE = "certificate"  # the relay's certificate is not trusted or not for this host


@dataclass(frozen=True)
class Reply:
    """What one step brought back: an SMTP reply, or a transport failure (code 0)."""

    code: int
    text: str = ""
    failure: str = ""


@dataclass(frozen=True)
class SmtpTimeouts:
    """Real seconds for each wait of a session (RFC 5321 4.5.3.2 defaults)."""

    greeting: float = 300.0
    command: float = 300.0
    data_init: float = 120.0
    data_block: float = 180.0
    data_end: float = 600.0


class CaFileError(Exception):
    """The CA file setting names no readable certificates."""


class PowerLost(Exception):
    """The machine lost power in the middle of a session: nothing after this point happened."""


_LINE_START_DOT = re.compile(rb"(?m)^\.")


class SmtpLink:
    """One SMTP connection to a relay, step by step. Made by `LanPort.smtp()`."""

    def __init__(
        self,
        lan: LanPort,
        host: str,
        port: int,
        *,
        implicit_tls: bool,
        ca_file: str,
        timeouts: SmtpTimeouts,
    ) -> None:
        self.lan = lan
        self.host = host
        self.port = port
        self.implicit_tls = implicit_tls
        self.ca_file = ca_file
        self.tls_context: ssl.SSLContext | None = None
        self.timeouts = timeouts
        self.features: dict[str, str] = {}
        self._smtp: smtplib.SMTP | None = None

    # -- steps ----------------------------------------------------------------------------
    def connect(self) -> Reply:
        """Open the connection (TLS first when implicit) and read the greeting."""

        def run() -> Reply:
            # Connecting in the constructor records the host name that TLS checks the
            # certificate against; a greeting other than 220 raises SMTPConnectError.
            smtp: smtplib.SMTP
            if self.implicit_tls:
                smtp = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    local_hostname="localhost",
                    timeout=self.timeouts.greeting,
                    context=self._context(),
                )
            else:
                smtp = smtplib.SMTP(
                    self.host, self.port, local_hostname="localhost", timeout=self.timeouts.greeting
                )
            self._smtp = smtp
            if smtp.sock is not None:
                # EHLO names this end by its address literal (RFC 5321 4.1.3), not a lookup.
                smtp.local_hostname = f"[{smtp.sock.getsockname()[0]}]"
            return Reply(220, "")

        return self._step("connect", f"{self.host}:{self.port}", run)

    def ehlo(self) -> Reply:
        def run(smtp: smtplib.SMTP) -> tuple[int, bytes]:
            code, text = smtp.ehlo()
            self.features = dict(smtp.esmtp_features) if code == 250 else {}
            return code, text

        return self._exchange("ehlo", "", run)

    def starttls(self) -> Reply:
        def run(smtp: smtplib.SMTP) -> tuple[int, bytes]:
            # smtplib wraps the socket with our verifying context and forgets the old
            # features; the firmware says EHLO again.
            code, text = smtp.starttls(context=self._context())
            self.features = {}
            return code, text

        return self._exchange("starttls", "", run)

    def command(self, line: str, *, secret: bool = False, shown: str = "") -> Reply:
        """Send one command line (or an AUTH continuation) and read the reply.

        A secret line is never logged; `shown` says what to log instead (e.g. 'AUTH response').
        """

        def run(smtp: smtplib.SMTP) -> tuple[int, bytes]:
            # putcmd/getreply rather than docmd: docmd puts a space after an empty argument.
            smtp.send(f"{line}\r\n")
            return smtp.getreply()

        return self._exchange("command", shown if secret else line, run)

    def mail(self, sender: str, options: list[str]) -> Reply:
        return self._exchange("mail", sender, lambda smtp: smtp.mail(sender, options))

    def rcpt(self, recipient: str) -> Reply:
        return self._exchange("rcpt", recipient, lambda smtp: smtp.rcpt(recipient))

    def data(self, message: bytes) -> Reply:
        """DATA, the dot-stuffed message, the final dot; each wait with its own timeout.

        Test points inside the step: "sending" when half the body is on the wire (a power cut
        there leaves the relay without the final dot, so it discards the message), "sent" when
        the final dot is on the wire and the verdict not yet read.
        """

        def run(smtp: smtplib.SMTP) -> tuple[int, bytes]:
            code, text = smtp.docmd("DATA")
            if code != 354:
                return code, text
            body = _LINE_START_DOT.sub(b"..", message)
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            body += b".\r\n"
            half = len(body) // 2
            self._timeout(self.timeouts.data_block)
            smtp.send(body[:half])
            self._hooks("data", "sending")
            smtp.send(body[half:])
            self._hooks("data", "sent")
            self._timeout(self.timeouts.data_end)
            return smtp.getreply()

        return self._exchange("data", f"{len(message)} bytes", run, self.timeouts.data_init)

    def quit(self) -> Reply:
        reply = self._exchange("quit", "", lambda smtp: smtp.docmd("QUIT"))
        self.close()
        return reply

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            except OSError:
                pass
            self._smtp = None

    # -- plumbing -------------------------------------------------------------------------
    def _context(self) -> ssl.SSLContext:
        if self.tls_context is None:
            try:
                self.tls_context = ssl.create_default_context(cafile=self.ca_file or None)
            except (OSError, ssl.SSLError) as exc:
                raise CaFileError(f"CA file unusable: {self.ca_file}") from exc
        return self.tls_context

    def _require(self) -> smtplib.SMTP:
        if self._smtp is None:
            raise smtplib.SMTPServerDisconnected("not connected")
        return self._smtp

    def _timeout(self, seconds: float) -> None:
        smtp = self._require()
        if smtp.sock is not None:
            smtp.sock.settimeout(seconds)

    def _check_power(self, step: str) -> None:
        if not self.lan.power.on:
            self.close()
            self.lan.log.emit("lan", "smtp_power_lost", step=step)
            raise PowerLost(step)

    def _hooks(self, step: str, point: str) -> None:
        """Run the test hooks at one point of a step; a power cut there ends the session."""
        self.lan.step_hooks(step, point)
        self._check_power(step)

    def _exchange(
        self,
        step: str,
        shown: str,
        run: Callable[[smtplib.SMTP], tuple[int, bytes]],
        timeout: float | None = None,
    ) -> Reply:
        """A step on the open connection: `run` gets it with the first wait's timeout set
        (`timeout`, else the command timeout) and returns the relay's reply code and text."""

        def step_run() -> Reply:
            smtp = self._require()
            self._timeout(self.timeouts.command if timeout is None else timeout)
            code, text = run(smtp)
            return Reply(code, _text(text))

        return self._step(step, shown, step_run)

    def _step(self, step: str, shown: str, run: Callable[[], Reply]) -> Reply:
        self._hooks(step, "before")
        try:
            reply = run()
        except PowerLost:
            raise
        except Exception as exc:  # every socket, TLS and smtplib failure becomes a Reply
            reply = _failure(exc)
            self.close()
        log_fields: dict[str, object] = {"step": step, "code": reply.code}
        if shown:
            log_fields["arg"] = shown
        if reply.failure:
            log_fields["failure"] = reply.failure
        self.lan.log.emit("lan", "smtp", **log_fields)
        self._hooks(step, "after")
        return reply


def _text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:200]


def _failure(exc: BaseException) -> Reply:
    """A transport failure as a Reply. Looks through smtplib's re-raise to the socket error."""
    seen: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in seen:
        seen.append(cause)
        cause = cause.__cause__ or cause.__context__
    for err in seen:
        if isinstance(err, CaFileError):
            return Reply(0, str(err), CERTIFICATE)
        if isinstance(err, ssl.SSLCertVerificationError):
            return Reply(0, str(err.verify_message or err), CERTIFICATE)
    for err in seen:
        if isinstance(err, TimeoutError):
            return Reply(0, "timed out", TIMEOUT)
        if isinstance(err, ConnectionRefusedError):
            return Reply(0, "connection refused", REFUSED)
        if isinstance(err, socket.gaierror):
            return Reply(0, "host not found", UNREACHABLE)
        if isinstance(err, ssl.SSLError) and not isinstance(err, ssl.SSLEOFError):
            return Reply(0, err.reason or "TLS handshake failed", TLS_FAILED)
    for err in seen:
        if isinstance(err, smtplib.SMTPResponseException):
            return Reply(err.smtp_code, _text(err.smtp_error))
        if isinstance(
            err,
            (smtplib.SMTPServerDisconnected, ConnectionError, EOFError, ssl.SSLEOFError),
        ):
            return Reply(0, "connection closed by the relay", DROPPED)
    if isinstance(exc, OSError) and exc.errno in (101, 113):  # ENETUNREACH, EHOSTUNREACH
        return Reply(0, "no route to the relay", UNREACHABLE)
    return Reply(0, f"{type(exc).__name__}", DROPPED)


class LanPort:
    """The LAN port of one machine (`board.lan`)."""

    def __init__(self, log: EventLog, power: PowerSupply) -> None:
        self.log = log
        self.power = power
        # Test points: hook(step, point) with point "before" and "after" every step of a session,
        # and "sending" / "sent" inside DATA. A hook may cut the power (board.power_off()).
        self.step_hooks: Listeners[[str, str]] = Listeners()

    def smtp(
        self,
        host: str,
        port: int,
        *,
        implicit_tls: bool = False,
        ca_file: str = "",
        timeouts: SmtpTimeouts | None = None,
    ) -> SmtpLink:
        """A link to a relay (not yet connected). Certificates are always verified."""
        return SmtpLink(
            self,
            host,
            port,
            implicit_tls=implicit_tls,
            ca_file=ca_file,
            timeouts=timeouts or SmtpTimeouts(),
        )
