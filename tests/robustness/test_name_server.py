"""A relay named by a host name is looked up off the clock: a name server that is slow or silent
holds neither the panel nor SIGTERM under `run`; under `replay` virtual time waits at the instant,
and a name that does not resolve is EMAIL ERROR 813 with the mail kept for the retry; a name the
hosts file knows is delivered to.

Each test runs the emulator in a network namespace of its own: `ip netns exec` mounts
/etc/netns/NAME/resolv.conf and hosts over /etc, and the name server there is a silent one on the
namespace's loopback, so no query leaves the machine. Needs root and iproute2 (as the T.38
namespace test; CI has both)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from estudio190f.panel.relay import DEFAULT_USER

from .conftest import CLI, Running

# A name server that takes every query and answers none (UDP and TCP on port 53).
SILENT = """
import socket, sys, time
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", 53))
tcp = socket.create_server(("127.0.0.1", 53))
print("ready", flush=True)
time.sleep(600)
"""
RELAY_NAME = "relay.test"  # in the namespace's hosts file: 127.0.0.1
SLOW_NAME = "relay.slow.test"  # known to nobody: asked of the silent name server


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=20)


@pytest.fixture
def namespace() -> Iterator[Callable[[int], tuple[str, ...]]]:
    """A factory: a namespace whose name server is silent and whose resolver gives up after
    `seconds` (one try); the prefix that runs a command in it."""
    if shutil.which("ip") is None or os.geteuid() != 0:
        pytest.skip("network namespaces need root and iproute2 (ip)")
    made: list[tuple[str, subprocess.Popen[str]]] = []

    def make(seconds: int) -> tuple[str, ...]:
        name = f"e19f-dns{os.getpid() % 100000}-{len(made)}"
        etc = Path("/etc/netns") / name
        etc.mkdir(parents=True)
        (etc / "resolv.conf").write_text(
            f"nameserver 127.0.0.1\noptions timeout:{seconds} attempts:1\n"
        )
        (etc / "hosts").write_text(f"127.0.0.1 localhost\n127.0.0.1 {RELAY_NAME}\n")
        ip("netns", "add", name)
        ip("-n", name, "link", "set", "lo", "up")
        prefix = ("ip", "netns", "exec", name)
        server = subprocess.Popen([*prefix, sys.executable, "-c", SILENT], stdout=subprocess.PIPE,
                                  text=True)  # fmt: skip
        made.append((name, server))
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        return prefix

    yield make
    for name, server in made:
        server.kill()
        server.wait(10)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)
        shutil.rmtree(Path("/etc/netns") / name, ignore_errors=True)


def settings(tmp_path: Path, host: str, port: int = 25, greeting: int = 60) -> Path:
    path = tmp_path / "relay.toml"
    user, password = DEFAULT_USER
    path.write_text(
        f'[smtp]\nhost = "{host}"\nport = {port}\nuser = "{user}"\npassword = "{password}"\n'
        f"timeout_greeting = {greeting}\n"
    )
    return path


def page(tmp_path: Path) -> Path:
    path = tmp_path / "page.png"
    Image.new("1", (1728, 400), 1).save(path)
    return path


SEND = "adf load {page}\npress SCAN\ntype tim@example.com\npress START\n"


def test_under_run_a_silent_name_server_holds_neither_the_panel_nor_sigterm(namespace, tmp_path):
    prefix = namespace(30)  # the lookup would take 30 s
    run = Running(tmp_path, "--config", settings(tmp_path, SLOW_NAME), "--documents", tmp_path,
                  prefix=prefix)  # fmt: skip
    try:
        run.read_until("ready")
        assert run.proc.stdin is not None
        run.proc.stdin.write(SEND.format(page=page(tmp_path)).encode())
        run.proc.stdin.flush()
        run.read_until(r"SENDING E-MAIL")
        # The lookup is under way: the prompt answers at once, and keys work.
        for n in range(3):
            t = time.monotonic()
            run.proc.stdin.write(b"state?\n")
            run.proc.stdin.flush()
            seen = len(run.out)
            run.read_until(r"job\.scan_email", timeout=5)
            assert time.monotonic() - t < 1.0, f"answer {n} took {time.monotonic() - t:.1f} s"
            assert len(run.out) > seen
            run.out = b""
        t = time.monotonic()
        assert run.terminate(timeout=10) == 0
        assert time.monotonic() - t < 1.0  # a lookup in progress does not hold the exit
    finally:
        if run.proc.poll() is None:
            run.proc.kill()


def replay(prefix: tuple[str, ...], tmp_path: Path, script: str, config: Path):
    path = tmp_path / "send.txt"
    path.write_text(script)
    return subprocess.run(
        [*prefix, *CLI, "replay", str(path), "--relay", "none", "--config", str(config),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip


def test_under_replay_a_name_that_does_not_resolve_is_error_813_and_the_mail_is_kept(
    namespace, tmp_path
):
    prefix = namespace(2)
    script = SEND.format(page=page(tmp_path)) + (
        'until lcd "EMAIL ERROR 813" within 2m\nexpect lcd "RETRY IN 5 MIN"\n'
        "wait 3s\nexpect led MEMORY on\n"
    )
    t = time.monotonic()
    result = replay(prefix, tmp_path, script, settings(tmp_path, SLOW_NAME))
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - t > 1.5  # the resolver's 2 s went by in wall time...
    events = [json.loads(line) for line in (tmp_path / "out" / "events.jsonl").open()]
    assert {"step": "connect", "failure": "unreachable"}.items() <= next(
        e for e in events if e["ev"] == "smtp"
    ).items()
    assert "Traceback" not in result.stderr


def test_a_name_the_hosts_file_knows_is_delivered_to(namespace, tmp_path):
    prefix = namespace(2)
    user, password = DEFAULT_USER
    maildir = tmp_path / "mail"
    relay = subprocess.Popen(
        [*prefix, *CLI, "relay", "--port", "0", "--user", f"{user}:{password}",
         "--maildir", str(maildir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert relay.stdout is not None
        line = relay.stdout.readline()
        port = int(line.rsplit(":", 1)[1])
        script = SEND.format(page=page(tmp_path)) + 'until lcd "EMAIL SENT" within 2m\n'
        result = replay(prefix, tmp_path, script, settings(tmp_path, RELAY_NAME, port))
        assert result.returncode == 0, result.stdout + result.stderr
        delivered = [p for p in maildir.rglob("*") if p.is_file() and "new" in p.parts]
        assert len(delivered) == 1
        assert b"tim@example.com" in delivered[0].read_bytes()
    finally:
        relay.terminate()
        relay.wait(10)


def test_names_on_the_command_line_that_do_not_resolve_are_one_line_errors(namespace, tmp_path):
    prefix = namespace(1)
    peers = tmp_path / "peers.toml"
    peers.write_text(f'[line.peers]\n"5550199" = "iax2:{SLOW_NAME}:4570"\n')
    for args, message in (
        (["--iax2", f"{SLOW_NAME}:5"], f"--iax2 {SLOW_NAME}:5: cannot listen there"),
        (["--t38", f"{SLOW_NAME}:5"], f"--t38 {SLOW_NAME}:5: cannot listen"),
        (["--config", str(peers), "--iax2", "0"], f"{SLOW_NAME}: cannot resolve it"),
    ):
        proc = subprocess.run(
            [*prefix, *CLI, "run", "--headless", "--relay", "none", "--out", str(tmp_path / "o"),
             *args],
            capture_output=True, text=True, cwd=tmp_path, timeout=60, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr + proc.stdout
