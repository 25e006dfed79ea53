"""pyserial reaches the console through the pty, socket:// and rfc2217://, with the answers and
line endings of DESIGN.md 3.2, and `events on` pushes `! ` lines."""

from __future__ import annotations

import os
import stat
import time

import pytest

KINDS = ["pty", "tcp", "rfc2217"]
SPECS = {"pty": "pty:{tmp}/fax0", "tcp": "tcp:0", "rfc2217": "rfc2217:0"}


@pytest.fixture(params=KINDS)
def client(request, make_rig, tmp_path):
    rig = make_rig(SPECS[request.param].format(tmp=tmp_path))
    return rig.client(request.param)


def test_lcd_query_is_answered_with_crlf_lines_then_ok(client):
    assert client.answer("lcd?") == b"01-01-2026 09:00\r\nFAX READY\r\nOK\r\n"


def test_nothing_is_echoed_and_every_line_ends_crlf(client):
    client.send(b"state?\r\nled?\r\n")
    client.read_until(b"SCAN off\r\nOK\r\n")
    assert client.received == (
        b"standby.fax\r\nOK\r\n"
        b"ALARM off\r\nMEMORY off\r\nLINE off\r\nFAX on\r\nCOPY off\r\nSCAN off\r\nOK\r\n"
    )


@pytest.mark.parametrize("end", [b"\r", b"\n", b"\r\n"], ids=["CR", "LF", "CRLF"])
def test_cr_lf_and_crlf_each_end_one_command(client, end):
    client.send(b"state?" + end + b"time?" + end)
    client.read_until(b"2026-01-01 09:00:")
    client.read_until(b"OK\r\n")
    assert client.received.count(b"OK\r\n") == 2
    assert client.received.startswith(b"standby.fax\r\nOK\r\n2026-01-01 09:00:")


def test_a_crlf_split_across_two_writes_is_still_one_end(client):
    client.send(b"state?\r")
    client.read_until(b"OK\r\n")
    client.send(b"\ntime?\r\n")
    client.read_until(b"OK\r\n")
    client.send(b"lcd?\r\n")
    assert client.read_until(b"OK\r\n") == b"01-01-2026 09:00\r\nFAX READY\r\nOK\r\n"
    assert client.received.count(b"ERR") == 0


def test_a_half_line_waits_for_its_end(client):
    client.send(b"lc")
    client.send(b"d?")
    client.send(b"\r\n")
    assert client.read_until(b"OK\r\n") == b"01-01-2026 09:00\r\nFAX READY\r\nOK\r\n"


def test_blank_and_comment_lines_get_no_answer(client):
    client.send(b"\r\n\r\n   \r\n# a comment\r\nstate?\r\n")
    client.read_until(b"OK\r\n")
    assert client.received == b"standby.fax\r\nOK\r\n"


def test_key_presses_change_what_the_queries_show(client):
    assert client.answer("press COPY") == b"OK\r\n"
    assert client.lines("lcd?") == ["01-01-2026 09:00", "COPY READY", "OK"]
    assert "COPY on" in client.lines("led?")


def test_errors_are_one_err_line_with_the_reason(client):
    assert client.answer("bogus") == b"ERR unknown verb 'bogus'\r\n"
    assert client.answer("press copy") == b"ERR no key named 'copy' (did you mean COPY?)\r\n"
    assert client.answer('expect lcd "COPY READY"').startswith(b"ERR expectation failed: ")
    assert client.answer("lcd?").endswith(b"OK\r\n")


def test_help_lists_the_commands(client):
    lines = client.lines("help")
    assert lines[-1] == "OK"
    text = "\n".join(lines)
    for verb in ("press KEY", "wait DURATION", "until", "lcd?", "events on|off", "help"):
        assert verb in text


def test_a_command_that_takes_virtual_time_answers_when_it_ends(client):
    assert client.answer("wait 1500ms") == b"OK\r\n"
    assert client.lines("time?")[0] >= "2026-01-01 09:00:01"


def test_events_on_pushes_lcd_and_led_lines(client):
    assert client.answer("events on") == b"OK\r\n"
    client.send(b"press COPY\r\n")
    raw = client.read_until(b"OK\r\n")
    assert b'! lcd "01-01-2026 09:00" "COPY READY"\r\n' in raw
    assert b"! led COPY on\r\n" in raw and b"! led FAX off\r\n" in raw
    assert client.answer("events off") == b"OK\r\n"
    client.send(b"press FAX\r\n")
    assert client.read_until(b"OK\r\n") == b"OK\r\n"
    assert client.answer("lcd?") == b"01-01-2026 09:00\r\nFAX READY\r\nOK\r\n"


def test_events_are_off_until_asked_for(client):
    client.send(b"press SCAN\r\nwait 300ms\r\nlcd?\r\n")
    client.read_until(b"SCAN READY\r\nOK\r\n")
    assert b"! " not in client.received


def test_pty_endpoint_has_a_stable_symlink_to_a_slave_only_its_owner_may_open(make_rig, tmp_path):
    link = tmp_path / "console"
    rig = make_rig(f"pty:{link}")
    assert rig.endpoint("pty").describe() == f"serial pty {link}"
    target = os.readlink(link)
    assert target.startswith("/dev/pts/")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert os.stat(target).st_uid == os.getuid()
    rig.stop()
    assert not os.path.lexists(link)


def test_pty_without_link_names_the_slave(make_rig):
    rig = make_rig("pty")
    words = rig.endpoint("pty").describe().split()
    assert words[:2] == ["serial", "pty"] and words[2].startswith("/dev/pts/")
    assert rig.client("pty").answer("state?") == b"standby.fax\r\nOK\r\n"


def test_socket_endpoints_listen_on_loopback_on_a_port_the_system_chose(make_rig):
    rig = make_rig("tcp:0", "rfc2217:0")
    for kind in ("tcp", "rfc2217"):
        host, port = rig.address(kind)
        assert host == "127.0.0.1" and port > 0
        assert rig.endpoint(kind).describe() == f"serial {kind} 127.0.0.1:{port}"


def test_several_tcp_clients_each_get_their_own_answers(make_rig):
    rig = make_rig("tcp:0")
    a, b = rig.client("tcp"), rig.client("tcp")
    a.send(b"wait 2s\r\n")
    assert b.answer("state?") == b"standby.fax\r\nOK\r\n"  # not held up by a's wait
    assert a.read_until(b"OK\r\n", timeout=10) == b"OK\r\n"
    assert a.answer("events on") == b"OK\r\n"
    b.send(b"press COPY\r\n")
    b.read_until(b"OK\r\n")
    a.read_until(b"! led COPY on\r\n")  # a sees the change b made
    assert b"! " not in b.received


def test_a_new_pty_client_does_not_read_what_was_meant_for_an_earlier_one(make_rig, tmp_path):
    rig = make_rig(f"pty:{tmp_path}/fax0")
    first = rig.client("pty")
    first.send(b"help\r\n" * 40 + b"la")  # ~60 KB of answers nobody reads, then a half line
    time.sleep(1.0)  # the console has run them all by now
    first.close()
    second = rig.client("pty")  # pyserial flushes the port's input as it opens it
    assert second.answer("state?") == b"standby.fax\r\nOK\r\n"
    assert second.received == b"standby.fax\r\nOK\r\n"
