"""Console clients of one running machine that end their steps at the same virtual instant, and
regular expressions that would backtrack for ever: answered, never a frozen machine."""

from __future__ import annotations

import time

import serial


def client(port: int) -> serial.SerialBase:
    return serial.serial_for_url(f"socket://127.0.0.1:{port}", timeout=0.1)


def answer(port: serial.SerialBase, command: str | None = None, timeout: float = 10) -> list[str]:
    """Send `command` (if any) and read its answer up to OK or ERR; events left out."""
    if command is not None:
        port.write(command.encode() + b"\r\n")
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data += port.read(port.in_waiting or 1)
        complete = data.decode().split("\r\n")[:-1]  # whole lines only
        lines = [x for x in complete if not x.startswith("! ")]
        if any(x == "OK" or x.startswith("ERR") for x in lines):
            return lines[
                : next(i for i, x in enumerate(lines) if x == "OK" or x.startswith("ERR")) + 1
            ]
    raise AssertionError(f"no answer to {command!r} within {timeout} s; got {data!r}")


def test_two_clients_whose_steps_end_at_the_same_instant_both_get_their_answer(running):
    r = running("--serial", "tcp:0", "--speed", "realtime")
    tcp = r.tcp_port()
    first, second, third = client(tcp), client(tcp), client(tcp)
    # both wait for the same change: their steps end after the same clock event
    for c in (first, second):
        c.write(b'until lcd "COPY READY" within 1m\r\n')
    time.sleep(0.3)
    assert answer(third, "press COPY") == ["OK"]
    assert answer(first) == ["OK"]
    assert answer(second) == ["OK"]
    # and the machine still answers everyone, then stops at SIGTERM
    assert answer(first, "lcd?")[1:] == ["COPY READY", "OK"]
    assert answer(second, "state?") == ["standby.copy", "OK"]
    started = time.monotonic()
    assert r.terminate() == 0
    assert time.monotonic() - started < 5
    for c in (first, second, third):
        c.close()


def test_a_catastrophic_regular_expression_answers_err_and_the_machine_runs_on(running):
    r = running("--serial", "tcp:0", "--speed", "realtime")
    tcp = r.tcp_port()
    c, other = client(tcp), client(tcp)
    started = time.monotonic()
    reply = answer(c, r"expect lcd /(.*)(.*)(.*)(.*)(.*)(.*)(.*)(.*)(.*)(.*)\1-$/")
    assert reply[-1].startswith("ERR regular expression /(.*)")
    assert "too slow" in reply[-1] and "0.1 s" in reply[-1]
    assert time.monotonic() - started < 3
    until = answer(c, r"until lcd /(.*)(.*)(.*)(.*)(.*)(.*)(.*)(.*)(.*)(.*)\1-$/ within 1h")
    assert "too slow" in until[-1]
    assert answer(other, "lcd?")[1] == "FAX READY"
    assert r.terminate() == 0
    c.close()
    other.close()
