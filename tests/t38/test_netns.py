"""Two hosts, as docs/t38.md sets them up: two network namespaces joined by a veth pair, an
`estudio190f run --t38 ADDRESS:6000` in each, one faxing the other over that link (no loopback;
tests/t38/test_udp.py has them fax each other both ways on loopback).
Needs root (CAP_NET_ADMIN) and iproute2: skipped, with the reason, where namespaces cannot be
made; the addresses live only inside the two namespaces, which the test removes."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from .pages import SAME_ON_PAPER, is_page, page_png, run_machine, tiff_pages

pytestmark = pytest.mark.slow

SPEED = 4
A, B = "10.238.0.1", "10.238.0.2"
MAIN, PEER = "5551234", "5559876"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=20)


@pytest.fixture
def two_hosts():
    if shutil.which("ip") is None or os.geteuid() != 0:
        pytest.skip("network namespaces need root and iproute2 (ip)")
    tag = f"{os.getpid() % 100000}"
    names = (f"estudio190f-a{tag}", f"estudio190f-b{tag}")
    veth = (f"e19fa{tag}", f"e19fb{tag}")  # interface names: at most 15 characters
    made: list[str] = []
    try:
        for name in names:
            ip("netns", "add", name)
            made.append(name)
        ip("link", "add", veth[0], "type", "veth", "peer", "name", veth[1])
        for name, dev, address in zip(names, veth, (A, B), strict=True):
            ip("link", "set", dev, "netns", name)
            ip("-n", name, "addr", "add", f"{address}/30", "dev", dev)
            ip("-n", name, "link", "set", dev, "up")
            ip("-n", name, "link", "set", "lo", "up")
    except subprocess.CalledProcessError as exc:
        for name in made:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)
        pytest.skip(f"cannot make network namespaces here: {exc.stderr.strip()}")
    yield names
    for name in names:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)


def peers(number: str, host: str) -> str:
    return f'[line.peers]\n"{number}" = "t38:{host}:6000"\n'


def filed(folder, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(folder.glob("*.tif")) if folder.exists() else []
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"nothing filed in {folder}")


def test_a_machine_faxes_another_in_another_namespace(two_hosts, tmp_path):
    machines = []
    try:
        for name, me, number, other, other_number, folder in (
            (two_hosts[0], A, MAIN, B, PEER, "a"), (two_hosts[1], B, PEER, A, MAIN, "b"),
        ):  # fmt: skip
            machine = run_machine(
                tmp_path / folder, "--t38", f"{me}:6000", "--number", number, speed=SPEED,
                config=SAME_ON_PAPER + peers(other_number, other),
                prefix=("ip", "netns", "exec", name),
            )  # fmt: skip
            machines.append(machine)
            assert machine.wait_for("t38 udptl", 30) == f"t38 udptl {me}:6000"
        a = machines[0]
        page_png(tmp_path / "a" / "p1.png", 1)
        for m in machines:
            m.wait_for("machine", 30)
        a.step("adf load p1.png", 10)
        a.step(f"press {' '.join(PEER)} START", 10)
        a.step('until lcd "COMPLETED" within 3m', 60)
        (got,) = tiff_pages(filed(tmp_path / "b" / "out" / "received")[0])
        assert is_page(got, 1)
    finally:
        for m in machines:
            m.stop()
