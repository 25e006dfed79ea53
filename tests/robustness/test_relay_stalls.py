"""A relay that stalls or lies holds nothing: under `run` the panel and the console go on while mail
goes out and SIGTERM ends the emulator within a second; under `replay` virtual time waits at the
instant while steps are still answered; each SMTP stage has an overall wall deadline; a reply the
machine cannot read is a transient fault that keeps the mail queued (RFC 5321 4.5.3.1/4.5.3.2)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from estudio190f.panel.relay import DEFAULT_USER, EmbeddedRelay

from .conftest import Running
from .test_console_clients import answer, client


class HostileRelay:
    """A TCP server on loopback that greets each connection its own way (`greet(conn)`)."""

    def __init__(self, greet: Callable[[socket.socket], None]) -> None:
        self.greet = greet
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.server.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            self.greet(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stopping.set()
        self.server.close()
        self.thread.join(2)


@pytest.fixture
def hostile() -> Iterator[Callable[[Callable[[socket.socket], None]], HostileRelay]]:
    made: list[HostileRelay] = []

    def factory(greet: Callable[[socket.socket], None]) -> HostileRelay:
        made.append(HostileRelay(greet))
        return made[-1]

    yield factory
    for relay in made:
        relay.close()


def one_byte_a_second(stop: threading.Event) -> Callable[[socket.socket], None]:
    def greet(conn: socket.socket) -> None:
        for byte in b"220 relay.test ESMTP slowly\r\n":
            if stop.wait(1.0):
                return
            conn.sendall(bytes([byte]))
        stop.wait(30)

    return greet


def ten_megabyte_greeting(conn: socket.socket) -> None:
    conn.sendall(b"220 " + b"x" * 10_000_000)  # no end of line, ever
    time.sleep(2)


def page(tmp_path: Path) -> Path:
    path = tmp_path / "page.png"
    Image.new("1", (1728, 400), 1).save(path)
    return path


def settings_file(tmp_path: Path, port: int, greeting: int = 5) -> Path:
    path = tmp_path / "relay.toml"
    user, password = DEFAULT_USER
    path.write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nuser = "{user}"\n'
        f'password = "{password}"\ntimeout_greeting = {greeting}\n'
    )
    return path


def test_under_run_a_relay_greeting_one_byte_a_second_holds_neither_panel_nor_sigterm(
    hostile, tmp_path
):
    stop = threading.Event()
    relay = hostile(one_byte_a_second(stop))
    config = settings_file(tmp_path, relay.port, greeting=60)
    run = Running(tmp_path, "--config", config, "--serial", "tcp:0", "--documents", tmp_path)
    try:
        port = client(run.tcp_port())
        for step in (f"adf load {page(tmp_path)}", "press SCAN", "type tim@example.com",
                     "press START", 'until lcd "SENDING E-MAIL" within 30s'):  # fmt: skip
            assert answer(port, step) == ["OK"], step
        assert relay.connections == 1
        # The relay trickles its greeting: the panel and the console answer at once meanwhile.
        for _ in range(3):
            t = time.monotonic()
            lines = answer(port, "lcd?", timeout=2)
            assert time.monotonic() - t < 1.0 and lines[0] == "SENDING E-MAIL"
            assert answer(port, "press COPY") == ["OK"]  # keys work (the job holds the LCD)
        t = time.monotonic()
        assert run.terminate(timeout=5) == 0
        assert time.monotonic() - t < 1.0
    finally:
        stop.set()
        if run.proc.poll() is None:
            run.proc.kill()


def test_each_stage_has_an_overall_deadline_and_the_mail_waits_for_the_retry(
    fax_factory, hostile, tmp_path
):
    stop = threading.Event()
    relay = hostile(one_byte_a_second(stop))
    fax = fax_factory(settings_file=settings_file(tmp_path, relay.port, greeting=3))
    fax.step(f"adf load {page(tmp_path)}")
    fax.press("SCAN")
    fax.type("tim@example.com")
    t = time.monotonic()
    fax.press("START")
    fax.until('lcd "EMAIL ERROR 811"', within="2m")
    assert 2.5 < time.monotonic() - t < 10  # the 3 s greeting deadline, in wall time
    fax.expect('lcd "RETRY IN 5 MIN"')
    fax.run_for("3s")
    fax.expect("led MEMORY on")  # still queued
    stop.set()


def test_under_replay_virtual_time_waits_for_the_relay(fax_factory, hostile, tmp_path):
    def late_but_fine(conn: socket.socket) -> None:
        time.sleep(1.5)
        conn.sendall(b"421 relay.test closing\r\n")

    relay = hostile(late_but_fine)
    fax = fax_factory(settings_file=settings_file(tmp_path, relay.port))
    fax.step(f"adf load {page(tmp_path)}")
    fax.press("SCAN")
    fax.type("tim@example.com")
    fax.press("START")
    fax.until('lcd "SENDING E-MAIL"', within="1m")
    sent_at = fax.sim.clock.now
    fax.until('lcd "EMAIL ERROR 421"', within="1m")
    # 1.5 s of wall time went by, and no virtual time: the run is the same every time.
    assert fax.sim.clock.now - sent_at < 200_000


def test_a_ten_megabyte_greeting_is_a_transient_fault_and_the_mail_is_delivered_later(
    fax_factory, hostile, tmp_path
):
    relay = hostile(ten_megabyte_greeting)
    fax = fax_factory(settings_file=settings_file(tmp_path, relay.port))
    fax.step(f"adf load {page(tmp_path)}")
    fax.press("SCAN")
    fax.type("tim@example.com")
    fax.press("START")
    fax.until('lcd "EMAIL ERROR 815"', within="2m")
    fax.expect('lcd "RETRY IN 5 MIN"')
    fax.run_for("3s")
    fax.expect("led MEMORY on")
    # The relay is mended in place before the retry: the mail goes out, once.
    port = relay.port
    relay.close()
    good = EmbeddedRelay(tmp_path / "mail", port=port).start()
    try:
        fax.until('journal "EMAIL"', within="6m")
        assert fax.journal[-1].endswith("OK 250")
        assert len(good.messages()) == 1
        fax.expect("led MEMORY off")
    finally:
        good.stop()
