"""Helpers and fixtures for the scan-to-email tests: relays in modes, certificates, machines.

`relay_factory(mode)` starts an aiosmtpd relay on 127.0.0.1 built on the embedded relay
(`panel.relay`), misbehaving as the mode says (`MODES`); `machine_factory(port, **settings)`
makes a powered board with its LAN port, settings, journal and the scan-to-email engine pointed
there (settings as keyword arguments, `smtp__auth` for `smtp.auth`).

Not a conftest.py on purpose: this folder is on sys.path while the tests run (no __init__.py,
since a package named `email` would hide the standard library's), and a conftest.py here would
shadow tests/conftest.py for the other folders' `from conftest import ...`. Test modules import
the fixtures they use from here.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session

from estudio190f.firmware.email import EmailResult, ScanToEmail
from estudio190f.firmware.journal import Journal
from estudio190f.firmware.page import Page
from estudio190f.firmware.settings import Settings
from estudio190f.hw.board import Board
from estudio190f.hw.clock import HOUR, Clock
from estudio190f.panel.relay import EmbeddedRelay, RelayHandler, free_port
from estudio190f.panel.runner import advance

REQUIRE_PEERS = os.environ.get("ESTUDIO190F_REQUIRE_PEERS") == "1"


def _missing(reason: str) -> None:
    # As tests/conftest.py does: skip with the reason, except in CI where every peer is there.
    if REQUIRE_PEERS:
        pytest.fail(reason)
    pytest.skip(reason)


def need_program(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        _missing(f"needs {', '.join(missing)} (Debian packages; .ci/run installs them)")


def need_testdata(*parts: str) -> Path:
    from conftest import need_testdata as shared  # tests/conftest.py: where the data is, or skip

    return shared(*parts)


USER = "tim"
PASSWORD = "tanstaaftanstaaf"  # RFC 2195's example; the tests look for it where it must not be

MODES = (
    "cram",  # CRAM-MD5 offered and accepted
    "plain_login_only",  # AUTH PLAIN LOGIN offered, no CRAM-MD5
    "535",  # credentials refused (the relay knows another password)
    "454",  # temporary authentication failure
    "504",  # offers CRAM-MD5, then calls it unsupported
    "534",  # mechanism too weak
    "538",  # encryption required for the mechanism
    "bad_challenge",  # a CRAM-MD5 challenge that is not base64
    "drop",  # the connection is dropped after AUTH, at MAIL
    "starttls",  # STARTTLS required before AUTH (test certificate)
    "tls",  # implicit TLS (test certificate)
)

_AUTH_REPLIES = {
    "454": "454 4.7.0 Temporary authentication failure",
    "504": "504 5.5.4 Unrecognized authentication type",
    "534": "534 5.7.9 Authentication mechanism is too weak",
    "538": "538 5.7.11 Encryption required for requested authentication mechanism",
}


class ModeHandler(RelayHandler):
    """The embedded relay's handler, misbehaving on purpose; it records what clients did."""

    def __init__(self, maildir: Path, users: dict[str, str], mode: str) -> None:
        super().__init__(maildir, users)
        self.mode = mode
        self.auth_commands: list[str] = []  # mechanisms clients asked for, in order
        self.cancelled = 0  # challenges the client answered with '*' (or garbage)
        self.mail_from: list[str] = []
        self.auth_blobs: list[str] = []  # initial responses seen (PLAIN): to look for passwords

    async def handle_AUTH(
        self, server: SMTP, session: Session, envelope: Envelope, args: list[str]
    ) -> Any:
        self.auth_commands.append(args[0].upper())
        self.auth_blobs.extend(args[1:])
        return _AUTH_REPLIES.get(self.mode, MISSING)

    async def auth_CRAM__MD5(self, server: SMTP, args: list[str]) -> AuthResult:
        if self.mode == "bad_challenge":
            answer = await server.challenge_auth(
                "<12.34@relay.test> not base64!", encode_to_b64=False
            )
            if answer is MISSING:
                self.cancelled += 1
            return AuthResult(success=False, handled=True)
        return await super().auth_CRAM__MD5(server, args)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> Any:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Ok"

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> Any:
        self.mail_from.append(address)
        if self.mode == "drop":
            assert server.transport is not None
            server.transport.abort()
            return "421 4.4.2 dropped"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"


@dataclass
class CertFiles:
    ca_file: Path
    server_context: ssl.SSLContext


def make_certs(directory: Path) -> CertFiles:
    """A test CA and a server certificate for 127.0.0.1 and localhost, made with `openssl`."""
    need_program("openssl")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=estudio190f test CA")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost")  # fmt: skip
    (directory / "server.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
    )
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "server.pem", directory / "server.key")
    return CertFiles(directory / "ca.pem", context)


@dataclass
class Machine:
    board: Board
    settings: Settings
    journal: Journal
    email: ScanToEmail
    results: list[EmailResult] = field(default_factory=list)

    def run(self, limit: int = 2 * HOUR) -> None:
        """Run virtual time until every queued job has ended (or the limit)."""
        advance(self.board.clock, limit, stop=lambda: not self.email.pending())

    def final(self) -> EmailResult:
        finals = [r for r in self.results if r.final]
        assert finals, f"no final result yet: {self.results}"
        return finals[-1]

    def everything_shown(self) -> str:
        """All the machine showed or wrote anywhere a user can read: events, journal, results."""
        events = "\n".join(self.board.log.to_json(e) for e in self.board.log.events)
        journal = json.dumps([asdict(e) for e in self.journal.entries()])
        lines = "\n".join(e.line() for e in self.journal.entries())
        results = "\n".join(repr(r) + r.lcd for r in self.results)
        return "\n".join((events, journal, lines, results))


def _clock_text(board: Board) -> Callable[[], str]:
    return lambda: board.rtc.now().strftime("%m-%d-%Y %H:%M")


def make_machine(port: int, board: Board | None = None, **settings: Any) -> Machine:
    board = board or Board(Clock())
    s = Settings(board.nvram)
    values = {
        "smtp.host": "127.0.0.1",
        "smtp.port": port,
        "smtp.user": USER,
        "smtp.password": PASSWORD,
        "smtp.from": "fax@example.com",
        "smtp.timeout_greeting": 5,
        "smtp.timeout_command": 5,
        "smtp.timeout_data_init": 5,
        "smtp.timeout_data_block": 5,
        "smtp.timeout_data_end": 5,
        **{k.replace("__", "."): v for k, v in settings.items()},
    }
    for key, value in values.items():
        s.set(key, value)
    journal = Journal(board.nvram, _clock_text(board))
    board.power_on()
    email = ScanToEmail(board, s, journal)
    machine = Machine(board, s, journal, email)
    email.listeners.add(machine.results.append)
    return machine


def text_page(seed: int, lines: int = 120, resolution: str = "fine") -> Page:
    """A small synthetic page: a few black bars and dots, different for every seed."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((lines, 1728), dtype=bool)
    for _ in range(12):
        y, x = int(rng.integers(0, lines - 8)), int(rng.integers(0, 1600))
        pixels[y : y + int(rng.integers(1, 8)), x : x + int(rng.integers(4, 120))] = True
    pixels[seed % lines, :] = True
    return Page(pixels, resolution)


def noisy_page(seed: int, lines: int = 400) -> Page:
    """A page that codes badly (random dots): large attachments for the splitting tests."""
    rng = np.random.default_rng(seed)
    return Page(rng.random((lines, 1728)) < 0.2, "fine")


def itu_page(n: int) -> Page:
    path = need_testdata("ccitt", f"itu{n}.pbm")
    from PIL import Image

    with Image.open(path) as img:
        return Page(~np.asarray(img.convert("1"), dtype=bool), "fine")


def secrets_of(password: str) -> list[str]:
    """The password and the forms it would take on the wire."""
    return [
        password,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"\0{USER}\0{password}".encode()).decode(),
    ]


def silent_listener() -> tuple[socket.socket, int]:
    """A socket that accepts connections (backlog) and never says a word: timeouts."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock, int(sock.getsockname()[1])


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def relay_factory(tmp_path: Path, certs: CertFiles) -> Iterator[Callable[..., EmbeddedRelay]]:
    started: list[EmbeddedRelay] = []

    def make(mode: str = "cram", password: str = PASSWORD) -> EmbeddedRelay:
        assert mode in MODES, mode
        users = {USER: "not-" + password if mode == "535" else password}
        handler = ModeHandler(tmp_path / f"mail-{len(started)}", users, mode)
        options: dict[str, Any] = {}
        if mode == "plain_login_only":
            options["auth_exclude_mechanism"] = ["CRAM-MD5"]
        if mode == "starttls":
            options.update(
                tls_context=certs.server_context, require_starttls=True, auth_require_tls=True
            )
        if mode == "tls":
            options["ssl_context"] = certs.server_context
        relay = EmbeddedRelay(handler.maildir, users, handler=handler, **options).start()
        started.append(relay)
        return relay

    yield make
    for relay in started:
        relay.stop()


@pytest.fixture
def machine_factory() -> Callable[..., Machine]:
    return make_machine


@pytest.fixture
def closed_port() -> int:
    return free_port()


# aiosmtpd warns on every connection that AUTH without TLS is risky: on loopback that is the
# factory setting under test (DESIGN.md 5). Test modules set `pytestmark = QUIET_RELAY`.
QUIET_RELAY = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
