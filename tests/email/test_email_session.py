"""The SMTP session policy on its own: replies in, steps out, no socket (the h11 way)."""

from __future__ import annotations

import base64

from estudio190f.firmware.email.codes import CODES, FAILURE_CODES, for_code
from estudio190f.firmware.email.session import (
    Command,
    Connect,
    Data,
    Done,
    Ehlo,
    Envelope,
    Mail,
    Quit,
    Rcpt,
    SessionSettings,
    SmtpSession,
    StartTls,
    cram_md5_response,
    decode_challenge,
)
from estudio190f.hw.lan import Reply

RFC2195_CHALLENGE = b"<1896.697170952@postoffice.reston.mci.net>"
CRAM_FEATURES = {"auth": " LOGIN DIGEST-MD5 CRAM-MD5", "size": "10240000"}


def session(
    auth: str = "cram-md5", security: str = "none", clear: bool = False, rcpts: int = 1
) -> SmtpSession:
    settings = SessionSettings(security, auth, "tim", "tanstaaftanstaaf", clear)
    recipients = tuple(f"r{i}@example.com" for i in range(rcpts))
    return SmtpSession(settings, [Envelope(7, "fax@example.com", recipients, b"body\r\n")])


def through_ehlo(s: SmtpSession, features: dict[str, str] = CRAM_FEATURES) -> object:
    assert isinstance(s.start(), Connect)
    assert isinstance(s.receive(Reply(220, "relay ready")), Ehlo)
    return s.receive(Reply(250, "hello"), features)


def test_rfc2195_test_vector() -> None:
    response = cram_md5_response("tim", "tanstaaftanstaaf", RFC2195_CHALLENGE)
    assert response == "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
    assert base64.b64decode(response) == b"tim b913a602c7eda7a495b4e6e7334d3890"


def test_manual_9_16_exchange_ends_in_sent() -> None:
    # EHLO offers AUTH LOGIN DIGEST-MD5 CRAM-MD5; the machine says AUTH CRAM-MD5, answers the
    # 334 challenge with "user hex-digest", gets 235, then submits.
    s = session()
    step = through_ehlo(s)
    assert isinstance(step, Command) and step.line == "AUTH CRAM-MD5"
    challenge = base64.b64encode(RFC2195_CHALLENGE).decode()
    step = s.receive(Reply(334, challenge))
    assert isinstance(step, Command) and step.secret
    assert step.line == "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
    assert "dGlt" not in repr(step)  # the response never shows in a repr (logs)
    step = s.receive(Reply(235, "ok"))
    assert step == Mail("fax@example.com", ("SIZE=6",))
    assert s.receive(Reply(250, "ok")) == Rcpt("r0@example.com")
    step = s.receive(Reply(250, "ok"))
    assert isinstance(step, Data) and step.key == 7
    assert isinstance(s.receive(Reply(250, "queued")), Quit)
    done = s.receive(Reply(221, "bye"))
    assert isinstance(done, Done)
    assert done.outcome.code == "250" and done.outcome.accepted == (7,)


def test_mechanism_not_offered_stops_before_any_credential() -> None:
    s = session()
    step = through_ehlo(s, {"auth": " PLAIN LOGIN"})
    assert isinstance(step, Quit)
    done = s.receive(Reply(221, "bye"))
    assert isinstance(done, Done) and done.outcome.code == "801"
    assert for_code("801").word == "AUTH ERROR"


def test_no_fallback_after_535() -> None:
    s = session()
    through_ehlo(s)
    s.receive(Reply(334, base64.b64encode(b"<1@x>").decode()))
    step = s.receive(Reply(535, "5.7.8 authentication failed"))
    assert isinstance(step, Quit)  # not AUTH PLAIN, not AUTH LOGIN
    done = s.receive(Reply(221, "bye"))
    assert isinstance(done, Done) and done.outcome.code == "535"


def test_challenge_that_is_not_base64_is_cancelled_with_star() -> None:
    s = session()
    through_ehlo(s)
    step = s.receive(Reply(334, "<1896.697170952@postoffice> not base64"))
    assert isinstance(step, Command) and step.line == "*" and not step.secret
    assert isinstance(s.receive(Reply(501, "5.7.0 Auth aborted")), Quit)
    done = s.receive(Reply(221, "bye"))
    assert isinstance(done, Done) and done.outcome.code == "802"


def test_strict_base64() -> None:
    assert decode_challenge("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+")
    assert decode_challenge("PDE4OTY*") is None
    assert decode_challenge("abc") is None  # bad padding


def test_plain_refused_in_clear_unless_allowed() -> None:
    s = session(auth="plain")
    assert isinstance(through_ehlo(s, {"auth": "PLAIN"}), Quit)
    done = s.receive(Reply(221, "bye"))
    assert isinstance(done, Done) and done.outcome.code == "803"

    allowed = session(auth="plain", clear=True)
    step = through_ehlo(allowed, {"auth": "PLAIN"})
    assert isinstance(step, Command) and step.secret and step.line.startswith("AUTH PLAIN ")


def test_plain_over_starttls() -> None:
    s = session(auth="plain", security="starttls")
    assert isinstance(through_ehlo(s, {"starttls": ""}), StartTls)
    assert isinstance(s.receive(Reply(220, "go ahead")), Ehlo)
    step = s.receive(Reply(250, "hello"), {"auth": "PLAIN LOGIN"})
    assert isinstance(step, Command) and step.line.startswith("AUTH PLAIN ")


def test_starttls_not_offered_is_its_own_error() -> None:
    s = session(security="starttls")
    assert isinstance(through_ehlo(s, CRAM_FEATURES), Quit)
    done = s.receive(Reply(221, "bye"))
    assert isinstance(done, Done) and done.outcome.code == "804"


def test_transport_failures_end_at_once_with_their_codes() -> None:
    for failure, code in FAILURE_CODES.items():
        s = session()
        s.start()
        done = s.receive(Reply(0, "x", failure))
        assert isinstance(done, Done) and done.outcome.code == code


def test_one_refused_recipient_of_two() -> None:
    s = session(rcpts=2)
    through_ehlo(s, {"auth": "CRAM-MD5"})
    s.receive(Reply(334, base64.b64encode(b"<1@x>").decode()))
    assert isinstance(s.receive(Reply(235, "ok")), Mail)
    assert s.receive(Reply(250, "ok")) == Rcpt("r0@example.com")
    assert s.receive(Reply(250, "ok")) == Rcpt("r1@example.com")
    step = s.receive(Reply(550, "no such user"))
    assert isinstance(step, Data)  # the other recipient still gets it
    assert isinstance(s.receive(Reply(250, "queued")), Quit)
    done = s.receive(Reply(221, "bye"))
    assert isinstance(done, Done)
    assert done.outcome.code == "550" and done.outcome.refused == ("r1@example.com",)
    assert done.outcome.accepted == (7,)


def test_codes_are_distinct_for_every_cause_in_the_issue() -> None:
    causes = ["454", "501", "504", "530", "534", "535", "538"] + [
        FAILURE_CODES[f] for f in ("refused", "timeout", "dropped")
    ]
    assert len(set(causes)) == len(causes)
    assert all(c in CODES for c in causes)
    assert CODES["454"].retry and CODES["810"].retry and not CODES["535"].retry
