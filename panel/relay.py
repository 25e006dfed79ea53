"""The embedded SMTP relay: aiosmtpd on loopback, AUTH CRAM-MD5 (and PLAIN, LOGIN), into a Maildir.

`estudio190f run` starts one by default so scan-to-email works out of the box, and
`estudio190f relay` runs it alone (`add_arguments` / `run`). It sits outside the machine, so the
Controller's own thread is fine here. `down()` / `up()` take it off the air and back on the same
port, which is what the fault `relay.down` does (`attach_fault`).

CRAM-MD5 (RFC 2195) is a handler method; aiosmtpd's `challenge_auth` already answers `*` and
bad base64 with 501 (RFC 4954). Passwords are compared, never logged or printed.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import mailbox
import os
import signal
import socket
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # aiosmtpd (asyncio, attrs ...) is imported when a relay starts, not before
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

# aiosmtpd warns on every connection that AUTH without TLS is risky; on loopback that is the
# documented factory setting (DESIGN.md 5), so the warning is noise here.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
warnings.filterwarnings("ignore", message="Session.login_data is deprecated")
logging.getLogger("mail.log").setLevel(logging.ERROR)

LOOPBACK = "127.0.0.1"
REALM = "relay.test"
DEFAULT_USER = ("tim", "tanstaaftanstaaf")  # RFC 2195's example, the settings file's too


def free_port(host: str = LOOPBACK) -> int:
    """A port nobody listens on now (aiosmtpd's Controller cannot take port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class RelayHandler:
    """aiosmtpd handler: checks credentials (CRAM-MD5 here, PLAIN/LOGIN through
    `authenticate`), and delivers each accepted message to the Maildir."""

    def __init__(self, maildir: Path, users: dict[str, str], hostname: str = REALM) -> None:
        self.maildir = Path(maildir)
        self.users = dict(users)
        self.hostname = hostname
        self._serial = 0
        self._lock = threading.Lock()
        # Who logged in with what (mechanism, user): for tests and the console, never passwords.
        self.logins: list[tuple[str, str]] = []
        # mailbox.Maildir(create=True) makes tmp/new/cur only when the folder itself is new:
        # an existing empty folder (say --out's mail/) must get them too.
        for sub in ("tmp", "new", "cur"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)

    # PLAIN and LOGIN (aiosmtpd built-ins) call this.
    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8", "replace")
            expected = self.users.get(user)
            if expected is not None and hmac.compare_digest(expected.encode(), auth_data.password):
                self.logins.append((mechanism, user))
                return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    def _challenge(self) -> str:
        with self._lock:
            self._serial += 1
            serial = self._serial
        # RFC 2195: a unique string in angle brackets, like a Message-ID.
        return f"<{os.getpid()}.{serial}.{int.from_bytes(os.urandom(4), 'big')}@{self.hostname}>"

    async def auth_CRAM__MD5(self, server: SMTP, args: list[str]) -> AuthResult:
        from aiosmtpd.smtp import AuthResult

        challenge = self._challenge()
        answer = await server.challenge_auth(challenge)
        if not isinstance(answer, bytes):  # '*' or bad base64: aiosmtpd answered 501 already
            return AuthResult(success=False, handled=True)
        user, _, digest = answer.decode("utf-8", "replace").rpartition(" ")
        password = self.users.get(user)
        if password is not None:
            expected = hmac.new(password.encode(), challenge.encode(), "md5").hexdigest()
            if hmac.compare_digest(expected, digest.lower()):
                self.logins.append(("CRAM-MD5", user))
                return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        # Maildir writes to tmp/ and renames into new/: a message appears whole or not at all.
        key = mailbox.Maildir(str(self.maildir), create=False).add(content)
        return f"250 2.0.0 Ok: queued as {key}"


class EmbeddedRelay:
    """The loopback relay: start/stop, and down/up on the same port for the fault `relay.down`."""

    def __init__(
        self,
        maildir: Path,
        users: dict[str, str] | None = None,
        port: int = 0,
        host: str = LOOPBACK,
        handler: RelayHandler | None = None,
        **smtp_options: Any,
    ) -> None:
        if host != LOOPBACK and not host.startswith("127."):
            raise ValueError("the embedded relay listens on loopback only")
        self.host = host
        self.port = port or free_port(host)
        self.handler = handler or RelayHandler(Path(maildir), users or dict([DEFAULT_USER]))
        # No TLS on the loopback relay by default, so AUTH is offered in clear (DESIGN.md 5:
        # CRAM-MD5 without TLS is the factory setting); MAIL needs AUTH first (530).
        self.smtp_options: dict[str, Any] = {
            "auth_require_tls": False,
            "auth_required": True,
            "authenticator": self.handler.authenticate,
            **smtp_options,
        }
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    @property
    def maildir(self) -> Path:
        return self.handler.maildir

    def start(self) -> EmbeddedRelay:
        from aiosmtpd.controller import Controller

        if self._controller is None:
            controller = Controller(
                self.handler,
                hostname=self.host,
                port=self.port,
                server_hostname=REALM,
                **self.smtp_options,
            )
            controller.start()
            self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    # The fault relay.down: off the air (connections refused), then back on the same port.
    down = stop
    up = start

    def attach_fault(self, faults: Any, on_up: Callable[[], None] | None = None) -> None:
        """Register `relay.down` with a board's FaultRegistry; `on_up` runs after `clear`."""

        def clear() -> None:
            self.up()
            if on_up is not None:
                on_up()

        faults.register("relay.down", self.down, clear)

    def messages(self) -> list[bytes]:
        box = mailbox.Maildir(str(self.maildir), create=False)
        return [box.get_bytes(key) for key in sorted(box.keys())]

    def __enter__(self) -> EmbeddedRelay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- `estudio190f relay` ---------------------------------------------------------------------


def _user(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise argparse.ArgumentTypeError("give --user as USER:PASSWORD")
    return user, password


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 5) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"a port is a number 0-65535, not {text[:40]!r}")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=_port, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument(
        "--user",
        type=_user,
        action="append",
        metavar="U:P",
        help="a user allowed to log in (repeatable; default tim with RFC 2195's password)",
    )
    parser.add_argument("--maildir", type=Path, default=Path("mail"), help="Maildir to deliver to")


def run(args: argparse.Namespace) -> int:
    """Run the relay until SIGINT or SIGTERM. Prints `relay smtp 127.0.0.1:PORT`."""
    users = dict(args.user or [DEFAULT_USER])
    try:
        relay_handler = RelayHandler(args.maildir, users)
    except OSError as exc:
        print(f"estudio190f relay: --maildir {args.maildir}: cannot make the Maildir: "
              f"{exc.strerror or exc}", file=sys.stderr)  # fmt: skip
        return 2
    try:
        relay = EmbeddedRelay(args.maildir, users, port=args.port, handler=relay_handler).start()
    except OSError as exc:
        print(f"estudio190f relay: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)  # fmt: skip
        return 2
    print(f"relay smtp {relay.host}:{relay.port}", flush=True)
    print(f"relay maildir {relay.maildir} users {' '.join(sorted(users))}", flush=True)
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        relay.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="estudio190f relay", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
