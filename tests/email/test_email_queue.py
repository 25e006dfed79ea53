"""The mail queue: a job that cannot be sent now waits in NVRAM; power cuts lose and double nothing."""

from __future__ import annotations

import email
from email.policy import default

import mailtest
import pytest
from mailtest import QUIET_RELAY, make_machine, text_page

from estudio190f.hw.board import Board
from estudio190f.hw.clock import MINUTE, Clock
from estudio190f.panel.runner import advance

# Fixtures this module uses (mailtest.py says why they are not in a conftest.py).
certs = mailtest.certs
closed_port = mailtest.closed_port
relay_factory = mailtest.relay_factory

pytestmark = QUIET_RELAY


def message_ids(relay) -> list[str]:
    return [email.message_from_bytes(m, policy=default)["Message-ID"] for m in relay.messages()]


def test_relay_down_then_up(relay_factory) -> None:
    relay = relay_factory("cram")
    relay.down()
    machine = make_machine(relay.port)  # retry: 3 tries, 5 minutes apart (factory)
    machine.email.submit(["office@example.com"], [text_page(1)], "fine")
    advance(machine.board.clock, 0)
    [first] = machine.results
    assert (first.word, first.code, first.final) == ("EMAIL ERROR", "810", False)
    assert first.retry_in == 5 * MINUTE
    assert machine.email.pending() == [first.job]
    assert machine.journal.entries() == []  # nothing final yet
    relay.up()
    machine.run()
    assert machine.final().word == "EMAIL SENT"
    assert machine.board.clock.now == 5 * MINUTE  # sent at the retry, not before
    assert len(relay.messages()) == 1
    [entry] = machine.journal.entries()
    assert entry.result == "OK" and entry.detail["tries"] == 2


def test_fault_relay_down_and_clear_resumes_at_once(relay_factory) -> None:
    relay = relay_factory("cram")
    machine = make_machine(relay.port)
    relay.attach_fault(machine.board.faults, on_up=machine.email.retry_now)
    machine.board.faults.set("relay.down")
    machine.email.submit(["office@example.com"], [text_page(3)], "fine")
    advance(machine.board.clock, MINUTE)
    assert machine.results[-1].code == "810" and not machine.results[-1].final
    machine.board.faults.clear("relay.down")
    advance(machine.board.clock, 0)
    assert machine.final().word == "EMAIL SENT"
    assert machine.board.clock.now == MINUTE  # the clear, not the retry timer, sent it
    assert len(relay.messages()) == 1


def test_retries_used_up(closed_port) -> None:
    machine = make_machine(closed_port, smtp__retry_tries=2, smtp__retry_interval=1)
    machine.email.submit(["office@example.com"], [text_page(4)], "fine")
    machine.run()
    assert [(r.code, r.final) for r in machine.results] == [
        ("810", False),
        ("810", False),
        ("810", True),
    ]
    [entry] = machine.journal.entries()
    assert (entry.result, entry.code, entry.detail["tries"]) == ("EMAIL ERROR", "810", 3)
    assert machine.email.pending() == []


def test_power_cut_before_the_first_try(relay_factory) -> None:
    relay = relay_factory("cram")
    machine = make_machine(relay.port)
    machine.email.submit(["office@example.com"], [text_page(5)], "fine")
    machine.board.power_off()  # before the clock ran the try
    advance(machine.board.clock, MINUTE)
    assert relay.messages() == []
    machine.board.power_on()
    machine.run()
    assert machine.final().word == "EMAIL SENT"
    assert len(relay.messages()) == 1


# Every point of a session where a power cut can land, but one (see below).
CUT_POINTS = [
    ("connect", "before"),
    ("connect", "after"),
    ("ehlo", "after"),
    ("command", "after"),  # AUTH CRAM-MD5 -> 334
    ("mail", "after"),
    ("rcpt", "after"),
    ("data", "before"),
    ("data", "sending"),  # half the message on the wire: the relay never sees the final dot
    ("quit", "before"),  # accepted and recorded: must not be sent again
    ("quit", "after"),
]


@pytest.mark.parametrize("step, point", CUT_POINTS)
def test_power_cut_during_a_send_loses_nothing_and_doubles_nothing(
    relay_factory, step, point
) -> None:
    relay = relay_factory("cram")
    machine = make_machine(relay.port)
    cuts = []

    def cut(s: str, p: str) -> None:
        if (s, p) == (step, point) and not cuts:
            cuts.append((s, p))
            machine.board.power_off()

    machine.board.lan.step_hooks.add(cut)
    job = machine.email.submit(["office@example.com"], [text_page(6), text_page(7)], "fine")
    advance(machine.board.clock, 0)
    assert cuts == [(step, point)]
    assert machine.email.pending() == [job]  # still queued in NVRAM
    advance(machine.board.clock, 10 * MINUTE)
    machine.board.power_on()
    machine.run()
    assert machine.final().word == "EMAIL SENT"
    assert len(relay.messages()) == 1  # exactly once
    [entry] = machine.journal.entries()
    assert entry.result == "OK" and entry.code == "250"


def test_cut_between_the_final_dot_and_the_verdict_resends_with_the_same_message_id(
    relay_factory,
) -> None:
    # The one window no SMTP client can close (RFC 1047; RFC 5321 6.1): the relay took the
    # message but the machine died before reading 250. The retry carries the same Message-ID,
    # so the copy is recognisable downstream.
    relay = relay_factory("cram")
    machine = make_machine(relay.port)

    def cut(s: str, p: str) -> None:
        if (s, p) == ("data", "sent") and machine.board.powered and not relay.messages():
            machine.board.power_off()

    machine.board.lan.step_hooks.add(cut)
    machine.email.submit(["office@example.com"], [text_page(8)], "fine")
    advance(machine.board.clock, 0)
    machine.board.lan.step_hooks.clear()
    machine.board.power_on()
    machine.run()
    ids = message_ids(relay)
    assert len(ids) in (1, 2) and len(set(ids)) == 1


def test_split_job_cut_after_the_first_message_sends_only_the_rest(relay_factory) -> None:
    relay = relay_factory("cram")
    machine = make_machine(relay.port, smtp__max_size_kb=64)
    from mailtest import noisy_page

    pages = [noisy_page(i, lines=300) for i in range(3)]
    accepted = []

    def cut(s: str, p: str) -> None:
        if (s, p) == ("mail", "before") and machine.board.powered:
            accepted.append(len(relay.messages()))
            if len(relay.messages()) == 1:
                machine.board.power_off()

    machine.board.lan.step_hooks.add(cut)
    machine.email.submit(["office@example.com"], pages, "fine")
    advance(machine.board.clock, 0)
    assert len(relay.messages()) == 1 and not machine.board.powered
    machine.board.lan.step_hooks.clear()
    machine.board.power_on()
    machine.run()
    ids = message_ids(relay)
    assert len(ids) == len(set(ids)) >= 2  # every part once
    [entry] = machine.journal.entries()
    assert entry.result == "OK" and sorted(entry.detail["accepted"]) == sorted(ids)


def test_queue_survives_a_restart_from_the_state_directory(relay_factory, tmp_path) -> None:
    relay = relay_factory("cram")
    relay.down()
    first = make_machine(relay.port, board=Board(Clock(), state_dir=tmp_path))
    job = first.email.submit(["office@example.com"], [text_page(9)], "fine")
    advance(first.board.clock, 0)
    assert first.email.pending() == [job]
    first.board.power_off()
    first.board.nvram.close()

    relay.up()
    second = make_machine(relay.port, board=Board(Clock(), state_dir=tmp_path))
    second.run()  # resumed at power-on
    assert second.final().word == "EMAIL SENT" and second.final().job == job
    assert len(relay.messages()) == 1
    assert second.email.pending() == []
