"""T.38 on the wire: `estudio190f run --t38` and the dial plan's `t38:HOST:PORT` peers over UDPTL
on loopback, against SpanDSP's t38_terminal behind a small Python UDPTL socket
(spandsp_udptl.py) and against a second `estudio190f run`. The clocks follow the wall at the
speed factor both ends use (SPEED), so these run in a fraction of the air time; one replay runs
at real time, as replay does while a call with an outside peer lasts."""

from __future__ import annotations

import re
import socket
import time

import pytest
from conftest import need_program

from estudio190f.panel.cli import main

from .pages import (
    SAME_ON_PAPER,
    Process,
    address_of,
    is_page,
    page_png,
    page_tiff,
    run_machine,
    spandsp_udptl,
    t30_frames,
    tiff_pages,
)

pytestmark = pytest.mark.slow

SPEED = 4  # both ends: the machine's --speed and SpanDSP's clock
MAIN = "5551234"
PEER = "5559876"


def peers(number: str, address: tuple[str, int]) -> str:
    return f'[line.peers]\n"{number}" = "t38:{address[0]}:{address[1]}"\n'


def received(folder, count: int = 1, timeout: float = 30.0) -> list:
    """The TIFFs a machine filed under received/, once `count` are there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted(folder.glob("*.tif")) if folder.exists() else []
        if len(files) >= count:
            return files
        time.sleep(0.2)
    raise AssertionError(f"nothing filed in {folder} within {timeout} s")


def free_udp_ports(count: int) -> list[int]:
    """Ports the system gives now (bound, read and let go, so that --t38 can take them)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture
def processes():
    started: list[Process] = []
    yield started.append
    for process in started:
        process.stop()


@pytest.mark.parametrize("ecm", [False, True], ids=["non-ecm", "ecm"])
def test_spandsp_sends_to_the_machine_which_files_the_pages(spandsp, tmp_path, processes, ecm):
    machine = run_machine(tmp_path / "m", "--t38", "0", "--capture", speed=SPEED)
    processes(machine)
    address = address_of(machine.wait_for("t38 udptl 127.0.0.1:", 30))
    machine.wait_for("machine 5551234 ready", 30)
    tx = page_tiff(tmp_path / "doc.tif", 2)
    far = spandsp_udptl(tmp_path / "s", "--call", f"{address[0]}:{address[1]}", "--tx", str(tx),
                  "--speed", str(SPEED), "--pcap", str(tmp_path / "spandsp.pcap"),
                  *(["--ecm"] if ecm else []), "--timeout", "60")  # fmt: skip
    processes(far)
    assert far.wait_for("result", 60) == f"result OK pages 1 remote {MAIN}"
    (filed,) = received(tmp_path / "m" / "out" / "received")
    (page,) = tiff_pages(filed)
    assert is_page(page, 2)
    # the capture SpanDSP's side took, with its real ports, decodes to the same pages
    assert main(["decode", str(tmp_path / "spandsp.pcap"), "--out", str(tmp_path / "d")]) == 0
    (decoded,) = tiff_pages(tmp_path / "d" / "call1-doc1.tif")
    assert is_page(decoded, 2)
    machine.stop()
    assert (tmp_path / "m" / "out" / "calls.pcap").stat().st_size > 10_000


@pytest.mark.parametrize("ecm,loss", [(False, "0"), (True, "0.05")], ids=["non-ecm", "ecm-loss"])
def test_the_machine_sends_to_spandsp_through_the_dial_plan(spandsp, tmp_path, processes, ecm,
                                                            loss):  # fmt: skip
    rx = tmp_path / "got.tif"
    far = spandsp_udptl(tmp_path / "s", "--listen", "0", "--rx", str(rx), "--speed", str(SPEED),
                  *(["--ecm"] if ecm else []), "--timeout", "60")  # fmt: skip
    processes(far)
    address = address_of(far.wait_for("udptl", 30))
    page_png(tmp_path / "m" / "p3.png", 3)
    config = SAME_ON_PAPER + peers(PEER, address) + f"[t38]\nloss = {loss}\n"
    machine = run_machine(tmp_path / "m", speed=SPEED, config=config)
    processes(machine)
    machine.wait_for("machine 5551234 ready", 30)
    machine.step("adf load p3.png", 10)
    machine.step(f"press {' '.join(PEER)} START", 10)
    machine.step('until lcd "COMPLETED" within 3m', 60)
    assert far.wait_for("result", 30) == f"result OK pages 1 remote {MAIN}"
    (page,) = tiff_pages(rx)
    assert is_page(page, 3)
    machine.step("journal?", 10)
    # the journal names the far end by the identity it sent (CSI)
    assert any(re.search(r" TX +SPANDSP +P001 OK", line) for line in machine.lines), machine.lines


def test_two_processes_fax_each_other_over_loopback(tmp_path, processes):
    port_a, port_b = free_udp_ports(2)
    a = run_machine(tmp_path / "a", "--t38", str(port_a), speed=SPEED,
                    config=SAME_ON_PAPER + peers(PEER, ("127.0.0.1", port_b)))  # fmt: skip
    b = run_machine(tmp_path / "b", "--t38", str(port_b), "--number", PEER, speed=SPEED,
                    config=SAME_ON_PAPER + peers(MAIN, ("127.0.0.1", port_a)))  # fmt: skip
    processes(a)
    processes(b)
    assert a.wait_for("t38 udptl", 30) == f"t38 udptl 127.0.0.1:{port_a}"
    assert b.wait_for("t38 udptl", 30) == f"t38 udptl 127.0.0.1:{port_b}"
    for n in (1, 2, 3, 4):
        page_png(tmp_path / ("a" if n < 3 else "b") / f"p{n}.png", n)
    a.wait_for("machine", 30)
    b.wait_for("machine", 30)
    a.step("adf load p1.png p2.png", 10)
    a.step(f"press {' '.join(PEER)} START", 10)
    a.step('until lcd "COMPLETED" within 3m', 60)
    (filed,) = received(tmp_path / "b" / "out" / "received")
    assert [is_page(p, n) for p, n in zip(tiff_pages(filed), (1, 2), strict=True)] == [True, True]
    b.step("until printed 2 within 2m", 40)
    b.step('until lcd "FAX READY" within 1m', 20)
    b.step("adf load p3.png p4.png", 10)
    b.step(f"press {' '.join(MAIN)} START", 10)
    b.step('until lcd "COMPLETED" within 3m', 60)
    (filed,) = received(tmp_path / "a" / "out" / "received")
    assert [is_page(p, n) for p, n in zip(tiff_pages(filed), (3, 4), strict=True)] == [True, True]


REPLAY = """\
adf load p1.png
press 5 5 5 9 8 7 6 START
until lcd "SENDING" within 1m
until lcd "COMPLETED" within 2m
expect journal /TX +SPANDSP +P001 OK/
"""


def test_a_replay_script_reaches_a_t38_peer_of_the_dial_plan(spandsp, tmp_path, processes):
    need_program("tshark")
    rx = tmp_path / "got.tif"
    far = spandsp_udptl(tmp_path / "s", "--listen", "0", "--rx", str(rx), "--timeout", "90")
    processes(far)
    address = address_of(far.wait_for("udptl", 30))
    page_png(tmp_path / "p1.png", 1)
    (tmp_path / "send.txt").write_text(REPLAY)
    (tmp_path / "settings.toml").write_text(SAME_ON_PAPER + peers(PEER, address))
    wall = time.monotonic()
    status = main(["replay", str(tmp_path / "send.txt"), "--config", str(tmp_path / "settings.toml"),
                   "--out", str(tmp_path / "out"), "--relay", "none", "--capture"])  # fmt: skip
    wall = time.monotonic() - wall
    assert status == 0
    assert far.wait_for("result", 30) == f"result OK pages 1 remote {MAIN}"
    (page,) = tiff_pages(rx)
    assert is_page(page, 1)
    # the call ran at the wall's pace; the dialling and ringing before it did not
    assert 12 < wall < 40
    frames = t30_frames(str(tmp_path / "out" / "calls.pcap"))
    names = [name for _, name in frames]  # SpanDSP without ECM
    assert names == ["CSI", "DIS", "TSI", "DCS", "CFR", "EOP", "MCF", "DCN"]


def test_a_t38_peer_that_never_answers_rings_out_and_the_machine_says_no_answer(tmp_path,
                                                                                processes):  # fmt: skip
    (silent,) = free_udp_ports(1)  # nobody listens there
    page_png(tmp_path / "m" / "p1.png", 1)
    machine = run_machine(tmp_path / "m", speed=20, config=peers(PEER, ("127.0.0.1", silent)))
    processes(machine)
    machine.wait_for("machine 5551234 ready", 30)
    machine.step("adf load p1.png", 10)
    machine.step(f"press {' '.join(PEER)} START", 10)
    machine.step('until lcd "NO ANSWER" within 2m', 30)  # T0: 60 s of ring-back
    machine.step("journal?", 10)
    assert any(re.search(rf" TX +{PEER} +P000 NO ANSWER", line) for line in machine.lines)
