"""A console that bad clients cannot hurt: garbage, overlong lines, clients that vanish or
never read. The console answers ERR where it can, drops what it must, keeps serving the other
clients, and the machine keeps running."""

from __future__ import annotations

import random
import re
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estudio190f.panel.console import MAX_LINE, OUTPUT_LIMIT

from .rig import LCD_DATE, LineClient

LCD_ANSWER = re.compile(rb"(\d\d-\d\d-\d{4} \d\d:\d\d)\r\n(FAX|COPY|SCAN) READY\r\nOK\r\n$")
LINE_OR_EVENT = re.compile(rb"(OK|! lcd \"[^\"]*\" \"[^\"]*\"|! (led|dropped) [^\r\n]+)\r\n")
LINE = re.compile(rb"(OK|ERR [^\r\n]+|\d\d-\d\d-\d{4} \d\d:\d\d|(FAX|COPY|SCAN) READY)\r\n")


def raw_socket(address: tuple[str, int], rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(address)
    sock.settimeout(10)
    return sock


def recv_until(sock: socket.socket, pattern: re.Pattern[bytes], timeout: float = 10) -> bytes:
    data = bytearray()
    deadline = time.monotonic() + timeout
    searched = 0  # search only what is new (an event flood can be megabytes)
    while not pattern.search(data, max(0, searched - 200)):
        searched = len(data)
        if time.monotonic() > deadline:
            raise AssertionError(f"no {pattern.pattern!r} in {bytes(data[-300:])!r}")
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed; got {bytes(data[-300:])!r}")
        data += chunk
    return bytes(data)


@pytest.fixture(scope="module")
def shared_rig(tmp_path_factory):
    from .rig import ConsoleRig

    rig = ConsoleRig(tmp_path_factory.mktemp("fuzz"), ["tcp:0"], speed=1.0)
    yield rig
    rig.stop()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(garbage=st.binary(max_size=2000))
def test_after_random_bytes_the_console_still_answers_lcd(shared_rig, garbage):
    sock = raw_socket(shared_rig.address("tcp"))
    try:
        sock.sendall(garbage + b"\r\nlcd?\r\n")
        data = recv_until(sock, LCD_ANSWER)
    finally:
        sock.close()
    # every line the garbage caused is an ERR line; nothing else came back
    assert LINE.sub(b"", data) == b""
    assert data.count(b"OK\r\n") == 1


def test_seeded_garbage_on_the_pty_then_lcd(make_rig, tmp_path):
    rig = make_rig(f"pty:{tmp_path}/fax0")
    client = rig.client("pty")
    rng = random.Random(7)
    for _ in range(20):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
        client.send(blob + b"\r\nlcd?\r\n")
        assert LCD_ANSWER.search(client.read_until(LCD_ANSWER))


def test_raw_telnet_garbage_on_the_rfc2217_port_does_not_break_it(make_rig):
    rig = make_rig("rfc2217:0")
    sock = raw_socket(rig.address("rfc2217"))
    rng = random.Random(11)
    telnetish = [
        b"\xff",
        b"\xff\xfa",
        b"\xff\xf0",
        b"\xff\xfa\x2c\x01",
        b"\xff\xfa\x2c\x03\x09",
        b"\xff\xfa\x2c\x05",
        b"\xff\xfd",
        b"\xff\xfb\x2c",
        b"\xff\xfa\x2c\x0c",
    ]
    for _ in range(30):
        parts = [
            rng.choice(telnetish) if rng.random() < 0.4 else bytes([rng.randrange(256)])
            for _ in range(rng.randrange(1, 400))
        ]
        sock.sendall(b"".join(parts))
    # whatever state the garbage left the telnet filter in, two IAC SE bring it back
    sock.sendall(b"\xff\xf0\xff\xf0\r\nlcd?\r\n")
    data = recv_until(sock, re.compile(rb"\d\d-\d\d-\d{4} \d\d:\d\d\r\nFAX READY\r\nOK\r\n"))
    assert data
    sock.close()
    client = rig.client("rfc2217")  # and a real RFC 2217 client is served as ever
    assert client.answer("lcd?") == b"01-01-2026 09:00\r\nFAX READY\r\nOK\r\n"


@pytest.mark.parametrize("kind", ["tcp", "rfc2217", "pty"])
def test_overlong_lines_get_err_and_the_console_resynchronises(make_rig, tmp_path, kind):
    rig = make_rig({"tcp": "tcp:0", "rfc2217": "rfc2217:0", "pty": f"pty:{tmp_path}/f"}[kind])
    client = rig.client(kind)
    client.send(b"type " + b"7" * (MAX_LINE * 3))
    client.send(b"7" * 1000 + b"\r\nstate?\r\n")
    assert (
        client.read_until(b"standby.fax\r\nOK\r\n") == b"ERR line too long\r\nstandby.fax\r\nOK\r\n"
    )


def test_a_client_that_disconnects_mid_command_leaves_the_machine_consistent(make_rig):
    rig = make_rig("tcp:0", speed=20.0)
    leaving = LineClient(rig.url("tcp"))
    leaving.send(b"hold COPY 20s\r\nwait 1h\r\npress")  # a command running, one queued, half a line
    time.sleep(0.2)
    leaving.close()
    staying = rig.client("tcp")
    assert staying.lines("state?") == ["standby.copy", "OK"]  # the hold is under way meanwhile
    endpoint = rig.endpoint("tcp")
    deadline = time.monotonic() + 10
    while len(endpoint.connections) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(endpoint.connections) == 1  # only the staying client
    assert staying.answer("time?").startswith(b"2026-01-01 09:")
    assert staying.answer("lcd?").endswith(b"COPY READY\r\nOK\r\n")
    assert rig.sim.main.board.panel.keys.down == set()  # the held key was let go


def test_a_client_that_never_reads_neither_blocks_the_machine_nor_grows_memory(make_rig):
    rig = make_rig("tcp:0", speed=None)  # as fast as possible: a flood of LCD events
    silent = raw_socket(rig.address("tcp"), rcvbuf=4096)
    silent.sendall(b"events on\r\n")
    first = recv_until(silent, re.compile(rb"OK\r\n"))
    leftover = first[first.index(b"OK\r\n") + 4 :]  # events may follow in the same read
    endpoint = rig.endpoint("tcp")
    silent_conn = endpoint.connections[0]
    other = rig.client("tcp")
    times = []
    most_pending = 0
    for _ in range(8):  # the other client is served promptly while the silent one reads nothing
        started = time.monotonic()
        times.append(other.lines("time?")[0])
        assert time.monotonic() - started < 2.0
        most_pending = max(most_pending, silent_conn.session.pending_output + len(silent_conn.wire))
        time.sleep(0.15)
    assert times == sorted(times) and times[0] != times[-1]  # virtual time kept running
    deadline = time.monotonic() + 20
    while silent_conn.session.dropped == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert silent_conn.session.dropped > 0
    assert most_pending <= OUTPUT_LIMIT + 8192
    silent.sendall(b"events off\r\n")
    # reading at last: the queue drains, with a notice of how many events were dropped
    data = leftover + recv_until(silent, re.compile(rb"(?m)^OK\r\n"), timeout=30)
    notices = re.findall(rb"(?m)^! dropped (\d+) events\r\n", data)
    assert notices and all(int(n) > 0 for n in notices)
    assert LINE_OR_EVENT.sub(b"", data) == b""  # whole lines only: nothing cut in the middle
    silent.sendall(b"lcd?\r\n")
    assert LCD_DATE.search(recv_until(silent, LCD_ANSWER).decode())
    silent.close()


def test_clients_beyond_the_limit_are_turned_away_and_the_rest_served(make_rig):
    from estudio190f.panel.console import MAX_CLIENTS

    rig = make_rig("tcp:0")
    socks = [raw_socket(rig.address("tcp")) for _ in range(MAX_CLIENTS)]
    for sock in socks:  # all of them are served
        sock.sendall(b"state?\r\n")
        assert recv_until(sock, re.compile(rb"OK\r\n")) == b"standby.fax\r\nOK\r\n"
    extra = raw_socket(rig.address("tcp"))
    assert extra.recv(100) == b"ERR too many clients\r\n"
    assert extra.recv(100) == b""
    socks[0].close()
    time.sleep(0.3)
    again = raw_socket(rig.address("tcp"))
    again.sendall(b"state?\r\n")
    assert recv_until(again, re.compile(rb"OK\r\n")) == b"standby.fax\r\nOK\r\n"
    for sock in [*socks[1:], extra, again]:
        sock.close()


def test_a_half_closed_client_still_gets_its_answers(make_rig):
    rig = make_rig("tcp:0")
    sock = raw_socket(rig.address("tcp"))
    sock.sendall(b"press COPY\r\nlcd?\r\nstate")  # then EOF: the half line is dropped
    sock.shutdown(socket.SHUT_WR)
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    assert data == b"OK\r\n01-01-2026 09:00\r\nCOPY READY\r\nOK\r\n"
    sock.close()
