"""Scan-to-email against aiosmtpd relays that behave well and badly: what the user sees."""

from __future__ import annotations

import email
import time
from email.policy import default

import mailtest
import pytest
from mailtest import PASSWORD, QUIET_RELAY, USER, secrets_of, silent_listener, text_page

from estudio190f.hw.clock import MINUTE
from estudio190f.panel.runner import advance

# Fixtures this module uses (mailtest.py says why they are not in a conftest.py).
certs = mailtest.certs
closed_port = mailtest.closed_port
machine_factory = mailtest.machine_factory
relay_factory = mailtest.relay_factory

pytestmark = QUIET_RELAY


def send(machine, recipients=("office@example.com",), pages=None) -> int:
    job = machine.email.submit(list(recipients), pages or [text_page(1)], "fine")
    machine.run()
    return job


def assert_no_password(machine) -> None:
    shown = machine.everything_shown()
    for secret in secrets_of(PASSWORD):
        assert secret not in shown


def test_cram_md5_relay_gets_the_message(relay_factory, machine_factory) -> None:
    relay = relay_factory("cram")
    machine = machine_factory(relay.port)
    send(machine, recipients=("office@example.com", "boss@example.com"))
    result = machine.final()
    assert (result.word, result.code, result.lcd) == ("EMAIL SENT", "250", "EMAIL SENT")
    assert relay.handler.logins == [("CRAM-MD5", USER)]
    assert relay.handler.auth_commands == ["CRAM-MD5"]
    [raw] = relay.messages()
    msg = email.message_from_bytes(raw, policy=default)
    assert msg["X-Mailer"] == "Internet FAX, Toshiba"
    assert msg["Subject"] == "IMAGE from Internet FAX"
    assert msg["From"] == "fax@example.com"
    assert msg["To"] == "office@example.com, boss@example.com"
    assert msg["Message-ID"].startswith("<") and msg["Date"]
    [entry] = machine.journal.entries()
    assert (entry.kind, entry.result, entry.code, entry.pages) == ("EMAIL", "OK", "250", 1)
    assert entry.remote == "office@example.com"
    assert machine.email.pending() == []
    assert_no_password(machine)


@pytest.mark.parametrize(
    "mode, word, code, tries",
    [
        ("535", "AUTH ERROR", "535", 1),
        ("454", "AUTH ERROR", "454", 2),
        ("504", "AUTH ERROR", "504", 1),
        ("534", "AUTH ERROR", "534", 1),
        ("538", "AUTH ERROR", "538", 1),
        ("plain_login_only", "AUTH ERROR", "801", 1),
        ("bad_challenge", "AUTH ERROR", "802", 1),
        ("drop", "EMAIL ERROR", "812", 2),
    ],
)
def test_relay_mode_ends_with_its_own_code(
    relay_factory, machine_factory, mode, word, code, tries
) -> None:
    relay = relay_factory(mode)
    machine = machine_factory(relay.port, smtp__retry_tries=1, smtp__retry_interval=1)
    send(machine)
    final = machine.final()
    assert (final.word, final.code) == (word, code)
    assert final.lcd == f"{word} {code}"
    assert relay.messages() == []
    # Each try asked for CRAM-MD5 at most once, and never for another mechanism.
    expected_auth = [] if mode == "plain_login_only" else ["CRAM-MD5"] * tries
    assert relay.handler.auth_commands == expected_auth
    [entry] = machine.journal.entries()
    assert (entry.result, entry.code) == (word, code)
    retried = [r for r in machine.results if not r.final]
    assert len(retried) == tries - 1
    for r in retried:
        assert r.retry_in == 1 * MINUTE and (r.word, r.code) == (word, code)
    assert_no_password(machine)


def test_bad_challenge_is_cancelled_with_star(relay_factory, machine_factory) -> None:
    relay = relay_factory("bad_challenge")
    machine = machine_factory(relay.port)
    send(machine)
    assert relay.handler.cancelled == 1
    assert machine.final().code == "802"


def test_no_fallback_to_plain_after_535(relay_factory, machine_factory) -> None:
    relay = relay_factory("535")
    machine = machine_factory(relay.port)
    send(machine)
    assert relay.handler.auth_commands == ["CRAM-MD5"]
    assert relay.handler.auth_blobs == []  # no AUTH PLAIN initial response either


def test_connection_refused(machine_factory, closed_port) -> None:
    machine = machine_factory(closed_port, smtp__retry_tries=0)
    send(machine)
    assert (machine.final().word, machine.final().code) == ("EMAIL ERROR", "810")


def test_timeout_is_real_seconds_while_virtual_time_stands_still(machine_factory) -> None:
    sock, port = silent_listener()
    try:
        machine = machine_factory(port, smtp__retry_tries=0, smtp__timeout_greeting=1)
        before_virtual = machine.board.clock.now
        started = time.monotonic()
        machine.email.submit(["office@example.com"], [text_page(2)], "fine")
        advance(machine.board.clock, 0)
        waited = time.monotonic() - started
        assert machine.final().code == "811"
        assert waited >= 0.9  # the greeting timeout ran in real seconds...
        assert machine.board.clock.now == before_virtual  # ...while the clock stood still
    finally:
        sock.close()


def test_auth_none_against_a_relay_that_requires_it(relay_factory, machine_factory) -> None:
    relay = relay_factory("cram")
    machine = machine_factory(relay.port, smtp__auth="none")
    send(machine)
    assert (machine.final().word, machine.final().code) == ("AUTH ERROR", "530")


def test_starttls_then_cram_md5(relay_factory, machine_factory, certs) -> None:
    relay = relay_factory("starttls")
    machine = machine_factory(
        relay.port, smtp__security="starttls", smtp__ca_file=str(certs.ca_file)
    )
    send(machine)
    assert machine.final().word == "EMAIL SENT"
    assert relay.handler.logins == [("CRAM-MD5", USER)]
    assert len(relay.messages()) == 1


def test_untrusted_certificate_sends_no_credentials(relay_factory, machine_factory) -> None:
    relay = relay_factory("starttls")
    machine = machine_factory(relay.port, smtp__security="starttls")  # system CAs only
    send(machine)
    assert (machine.final().word, machine.final().code) == ("EMAIL ERROR", "806")
    assert relay.handler.auth_commands == []


def test_starttls_relay_hides_auth_before_tls(relay_factory, machine_factory) -> None:
    relay = relay_factory("starttls")
    machine = machine_factory(relay.port)  # security none
    send(machine)
    assert machine.final().code == "801"
    assert relay.handler.auth_commands == []


def test_implicit_tls(relay_factory, machine_factory, certs) -> None:
    relay = relay_factory("tls")
    machine = machine_factory(relay.port, smtp__security="tls", smtp__ca_file=str(certs.ca_file))
    send(machine)
    assert machine.final().word == "EMAIL SENT"
    assert len(relay.messages()) == 1


def test_plain_over_starttls(relay_factory, machine_factory, certs) -> None:
    relay = relay_factory("starttls")
    machine = machine_factory(
        relay.port, smtp__security="starttls", smtp__auth="plain", smtp__ca_file=str(certs.ca_file)
    )
    send(machine)
    assert machine.final().word == "EMAIL SENT"
    assert relay.handler.logins == [("PLAIN", USER)]
    assert_no_password(machine)


def test_plain_in_clear_is_refused_unless_allowed(relay_factory, machine_factory) -> None:
    relay = relay_factory("cram")  # offers PLAIN and LOGIN too, without TLS
    machine = machine_factory(relay.port, smtp__auth="plain")
    send(machine)
    assert (machine.final().word, machine.final().code) == ("AUTH ERROR", "803")
    assert relay.handler.auth_commands == []

    allowed = machine_factory(relay.port, smtp__auth="login", smtp__allow_clear_text="on")
    send(allowed)
    assert allowed.final().word == "EMAIL SENT"
    assert relay.handler.logins == [("LOGIN", USER)]
    assert_no_password(allowed)


def test_a_refused_recipient_is_reported(relay_factory, machine_factory) -> None:
    relay = relay_factory("cram")
    machine = machine_factory(relay.port)
    send(machine, recipients=("office@example.com", "nobody@example.com"))
    final = machine.final()  # the first recipient still gets it; the second is reported
    assert (final.word, final.code) == ("EMAIL ERROR", "550")
    assert machine.journal.entries()[-1].detail["refused"] == ["nobody@example.com"]
    assert len(relay.messages()) == 1


def test_same_inputs_same_message_and_journal(relay_factory, machine_factory) -> None:
    runs = []
    for _ in range(2):
        relay = relay_factory("cram")
        machine = machine_factory(relay.port)
        send(machine, pages=[text_page(11), text_page(12)])
        [raw] = relay.messages()
        runs.append(
            (
                raw,
                [e.line() for e in machine.journal.entries()],
                machine.journal.entries()[0].detail,
            )
        )
    assert runs[0] == runs[1]
