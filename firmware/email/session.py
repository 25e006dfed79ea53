"""The SMTP session policy: what the machine says to a relay, and how it reads the answers.

A protocol core without I/O (the h11 way): `SmtpSession.start()` gives the first step, and
`receive(reply, features)` takes what that step brought back and gives the next step, until a
`Done` carries the outcome. The LAN port (`hw.lan.SmtpLink`) performs the steps on smtplib.

Rules this module holds (the service manual's 9.16; RFC 4954, RFC 2195):
- EHLO; with security STARTTLS, STARTTLS and EHLO again (STARTTLS not offered: stop, code 804);
  implicit TLS is the link's business, chosen before the greeting.
- AUTH with the one mechanism set, never another: not offered -> AUTH ERROR 801, and no
  credentials leave the machine (unlike `smtplib.login`, which falls back to PLAIN and LOGIN).
- A server challenge that is not valid base64 is cancelled with `*` (RFC 4954 4), code 802.
- PLAIN and LOGIN only over TLS unless `smtp.allow_clear_text` (code 803, nothing sent).
- Several messages (the parts of one job) go in one session: MAIL, RCPT..., DATA for each.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass, field

from estudio190f.hw.lan import Reply

from .codes import FAILURE_CODES


def cram_md5_response(user: str, password: str, challenge: bytes) -> str:
    """RFC 2195: base64 of the user, a space, and HMAC-MD5(password, challenge) in hex."""
    digest = hmac.new(password.encode("utf-8"), challenge, "md5").hexdigest()
    return base64.b64encode(f"{user} {digest}".encode()).decode("ascii")


def decode_challenge(text: str) -> bytes | None:
    """A 334 challenge strictly decoded, or None when it is not valid base64."""
    try:
        return base64.b64decode(text.strip().encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


@dataclass(frozen=True)
class SessionSettings:
    security: str  # none | starttls | tls
    auth: str  # cram-md5 | plain | login | none
    user: str
    password: str = field(repr=False)
    allow_clear_text: bool = False


@dataclass(frozen=True)
class Envelope:
    """One message to submit: `key` identifies it to the caller (the queue's part record)."""

    key: int
    sender: str
    recipients: tuple[str, ...]
    message: bytes = field(repr=False)


# -- steps: what the edge must do next ----------------------------------------------------------
@dataclass(frozen=True)
class Connect:
    pass


@dataclass(frozen=True)
class Ehlo:
    pass


@dataclass(frozen=True)
class StartTls:
    pass


@dataclass(frozen=True)
class Command:
    line: str = field(repr=False)
    secret: bool = False
    shown: str = ""  # what may be logged instead of a secret line


@dataclass(frozen=True)
class Mail:
    sender: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rcpt:
    recipient: str


@dataclass(frozen=True)
class Data:
    key: int
    message: bytes = field(repr=False)


@dataclass(frozen=True)
class Quit:
    pass


@dataclass(frozen=True)
class Outcome:
    code: str  # "250" when every message was accepted; else a code of codes.CODES or a reply
    reason: str  # the relay's words or ours, for the journal's detail (never a credential)
    accepted: tuple[int, ...] = ()  # keys of the messages the relay accepted in this session
    refused: tuple[str, ...] = ()  # recipients refused for good (5yz to RCPT)


@dataclass(frozen=True)
class Done:
    outcome: Outcome


Step = Connect | Ehlo | StartTls | Command | Mail | Rcpt | Data | Quit | Done


class SmtpSession:
    """One session's policy. Feed it every step's reply, in order; it never does I/O."""

    def __init__(self, settings: SessionSettings, envelopes: list[Envelope]) -> None:
        if not envelopes:
            raise ValueError("a session needs at least one message")
        self.settings = settings
        self.envelopes = list(envelopes)
        self.state = "idle"
        self.tls = settings.security == "tls"
        self.features: dict[str, str] = {}
        self._index = 0  # envelope being sent
        self._rcpt_index = 0
        self._rcpt_ok: list[str] = []
        self._rcpt_temporary: Reply | None = None
        self._accepted: list[int] = []
        self._refused: list[str] = []
        self._refused_code = ""
        self._cancel_code = ""
        self._pending: Outcome | None = None

    # -- public ---------------------------------------------------------------------------
    def start(self) -> Step:
        if self.state != "idle":
            raise RuntimeError("session already started")
        self.state = "connect"
        return Connect()

    def receive(self, reply: Reply, features: dict[str, str] | None = None) -> Step:
        """The reply to the last step (and the EHLO keywords after EHLO). Gives the next step."""
        handler = getattr(self, f"_on_{self.state}", None)
        if handler is None:
            raise RuntimeError(f"no reply expected in state {self.state}")
        if reply.failure and self.state != "quit":
            code = FAILURE_CODES.get(reply.failure, "812")
            if self.state == "auth_cancel":
                code = self._cancel_code
            return self._done(code, f"{reply.failure} at {self.state}: {reply.text}")
        if features is not None:
            self.features = {k.lower(): v for k, v in features.items()}
        step: Step = handler(reply)
        return step

    # -- states ---------------------------------------------------------------------------
    def _on_connect(self, reply: Reply) -> Step:
        if reply.code != 220:
            return self._finish(str(reply.code), f"greeting: {reply.text}")
        self.state = "ehlo"
        return Ehlo()

    def _on_ehlo(self, reply: Reply) -> Step:
        if reply.code != 250:
            return self._finish(str(reply.code), f"EHLO: {reply.text}")
        if self.settings.security == "starttls" and not self.tls:
            if "starttls" not in self.features:
                return self._finish("804", "STARTTLS not offered")
            self.state = "starttls"
            return StartTls()
        return self._begin_auth()

    def _on_starttls(self, reply: Reply) -> Step:
        if reply.code != 220:
            return self._finish(str(reply.code), f"STARTTLS: {reply.text}")
        self.tls = True
        self.state = "ehlo"
        return Ehlo()

    def _begin_auth(self) -> Step:
        mechanism = self.settings.auth.upper()
        if mechanism == "NONE":
            return self._begin_message()
        if mechanism in ("PLAIN", "LOGIN") and not self.tls and not self.settings.allow_clear_text:
            return self._finish("803", f"{mechanism} refused without TLS")
        offered = self.features.get("auth", "").upper().split()
        if mechanism not in offered:
            shown = " ".join(offered) or "no AUTH"
            return self._finish("801", f"{mechanism} not offered (relay offers {shown})")
        if mechanism == "CRAM-MD5":
            self.state = "auth_cram"
            return Command("AUTH CRAM-MD5", shown="AUTH CRAM-MD5")
        if mechanism == "PLAIN":
            token = f"\0{self.settings.user}\0{self.settings.password}".encode()
            self.state = "auth_result"
            return Command(
                "AUTH PLAIN " + base64.b64encode(token).decode("ascii"),
                secret=True,
                shown="AUTH PLAIN (credentials)",
            )
        self.state = "auth_login_user"
        return Command("AUTH LOGIN", shown="AUTH LOGIN")

    def _on_auth_cram(self, reply: Reply) -> Step:
        if reply.code != 334:
            return self._finish(str(reply.code), f"AUTH CRAM-MD5: {reply.text}")
        challenge = decode_challenge(reply.text)
        if challenge is None:
            return self._cancel("802")
        self.state = "auth_result"
        response = cram_md5_response(self.settings.user, self.settings.password, challenge)
        return Command(response, secret=True, shown="(CRAM-MD5 response)")

    def _on_auth_login_user(self, reply: Reply) -> Step:
        if reply.code != 334:
            return self._finish(str(reply.code), f"AUTH LOGIN: {reply.text}")
        if decode_challenge(reply.text) is None:
            return self._cancel("802")
        self.state = "auth_login_password"
        user = base64.b64encode(self.settings.user.encode()).decode("ascii")
        return Command(user, secret=True, shown="(LOGIN user)")

    def _on_auth_login_password(self, reply: Reply) -> Step:
        if reply.code != 334:
            return self._finish(str(reply.code), f"AUTH LOGIN: {reply.text}")
        if decode_challenge(reply.text) is None:
            return self._cancel("802")
        self.state = "auth_result"
        password = base64.b64encode(self.settings.password.encode()).decode("ascii")
        return Command(password, secret=True, shown="(LOGIN password)")

    def _on_auth_result(self, reply: Reply) -> Step:
        if reply.code == 235:
            return self._begin_message()
        if reply.code == 334:
            # The relay wants more than the mechanism has to give: step out of the exchange.
            return self._cancel("501")
        return self._finish(str(reply.code), f"AUTH: {reply.text}")

    def _on_auth_cancel(self, reply: Reply) -> Step:
        return self._finish(self._cancel_code, f"AUTH cancelled; relay said {reply.code}")

    def _begin_message(self) -> Step:
        envelope = self.envelopes[self._index]
        self._rcpt_index = 0
        self._rcpt_ok = []
        self._rcpt_temporary = None
        options: tuple[str, ...] = ()
        if "size" in self.features:
            options = (f"SIZE={len(envelope.message)}",)
        self.state = "mail"
        return Mail(envelope.sender, options)

    def _on_mail(self, reply: Reply) -> Step:
        if reply.code != 250:
            return self._finish(str(reply.code), f"MAIL: {reply.text}")
        self.state = "rcpt"
        return Rcpt(self.envelopes[self._index].recipients[0])

    def _on_rcpt(self, reply: Reply) -> Step:
        envelope = self.envelopes[self._index]
        recipient = envelope.recipients[self._rcpt_index]
        if reply.code in (250, 251, 252):
            self._rcpt_ok.append(recipient)
        elif 400 <= reply.code < 500:
            self._rcpt_temporary = reply
        else:
            if recipient not in self._refused:
                self._refused.append(recipient)
                self._refused_code = self._refused_code or str(reply.code)
        self._rcpt_index += 1
        if self._rcpt_index < len(envelope.recipients):
            return Rcpt(envelope.recipients[self._rcpt_index])
        if self._rcpt_temporary is not None:
            # Send nothing now: later, the whole message goes to everyone at once.
            temp = self._rcpt_temporary
            return self._finish(str(temp.code), f"RCPT: {temp.text}")
        if not self._rcpt_ok:
            return self._finish("814", f"every recipient refused ({reply.code} {reply.text})")
        self.state = "data"
        return Data(envelope.key, envelope.message)

    def _on_data(self, reply: Reply) -> Step:
        if reply.code != 250:
            return self._finish(str(reply.code), f"DATA: {reply.text}")
        self._accepted.append(self.envelopes[self._index].key)
        self._index += 1
        if self._index < len(self.envelopes):
            return self._begin_message()
        if self._refused:
            return self._finish(self._refused_code, self._refused_text())
        # Not the relay's words: they carry its queue id, which would make the journal differ
        # from run to run (DESIGN.md 2: same inputs, same journal).
        return self._finish("250", "accepted")

    def _on_quit(self, reply: Reply) -> Step:
        assert self._pending is not None
        self.state = "done"
        return Done(self._pending)

    # -- endings --------------------------------------------------------------------------
    def _cancel(self, code: str) -> Step:
        self._cancel_code = code
        self.state = "auth_cancel"
        return Command("*", shown="*")

    def _refused_text(self) -> str:
        return "refused: " + ", ".join(self._refused)

    def _finish(self, code: str, reason: str) -> Step:
        """Say QUIT politely, then end with this outcome."""
        self._pending = Outcome(code, reason, tuple(self._accepted), tuple(self._refused))
        self.state = "quit"
        return Quit()

    def _done(self, code: str, reason: str) -> Step:
        """End at once: the connection is gone."""
        self.state = "done"
        return Done(Outcome(code, reason, tuple(self._accepted), tuple(self._refused)))
