"""The modem's pty edge with pyserial: the link, its mode, the dialogue through the pty, a host
that closes and reopens the device, a host that does not read, and the clean-up."""

from __future__ import annotations

import os
import shutil
import stat
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import serial

from estudio190f.hw.clock import Clock
from estudio190f.hw.line import PhoneNetwork
from estudio190f.panel import class1 as edge
from estudio190f.panel.class1 import open_modem_pty
from estudio190f.panel.runner import Runner

from .peers import Emulator, short_dir


class PtyRig:
    """A clock, a phone network and the modem on a pty, served by a real-time runner that the
    test turns by hand between its pyserial reads and writes (one thread)."""

    def __init__(self, tmp_path: Path, out_dir: Path | None = None) -> None:
        self.clock = Clock()
        self.sim = SimpleNamespace(clock=self.clock, network=PhoneNetwork(self.clock),
                                   out_dir=out_dir)  # fmt: skip
        self.runner = Runner(self.clock, 1.0)
        self.runner.max_wait = 0.005  # the test turns the loop itself; do not doze in select
        self.link = tmp_path / "modem"
        self.endpoint = open_modem_pty(str(self.link), "5550100", self.sim, self.runner)

    def open(self) -> serial.Serial:
        return serial.Serial(str(self.link), 19200, timeout=0)

    def ask(self, port: serial.Serial, command: bytes, until: bytes = b"OK\r\n") -> bytes:
        port.write(command)
        got = b""
        deadline = time.monotonic() + 5
        while until not in got and time.monotonic() < deadline:
            self.runner.run_once()
            got += port.read(4096)
        return got


@pytest.fixture
def rig(tmp_path):
    made = PtyRig(tmp_path, out_dir=tmp_path / "out")
    yield made
    made.endpoint.close()


def test_the_link_points_at_a_pty_only_its_owner_may_open(rig: PtyRig) -> None:
    target = os.path.realpath(rig.link)
    assert os.path.islink(rig.link) and target.startswith("/dev/pts/")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert rig.endpoint.link == str(rig.link)


def test_pyserial_talks_to_the_modem_through_the_pty(rig: PtyRig) -> None:
    with rig.open() as port:
        assert rig.ask(port, b"ATE0\r") == b"ATE0\r\r\nOK\r\n"
        assert (
            rig.ask(port, b"ATI3\r")
            == b"\r\ne-STUDIO190F simulator virtual Class 1 fax modem\r\n\r\nOK\r\n"
        )
        assert rig.ask(port, b"AT+FCLASS=1;+FCLASS?\r") == b"\r\n1\r\n\r\nOK\r\n"


def test_a_host_that_closes_and_reopens_the_device_finds_the_modem_still_there(rig) -> None:
    with rig.open() as port:
        assert rig.ask(port, b"ATE0\r").endswith(b"OK\r\n")
    for _ in range(5):
        rig.runner.run_once()  # the master must not read EIO while nobody holds the slave
    with rig.open() as port:
        assert rig.ask(port, b"ATI0\r") == b"\r\nESTUDIO190F CLASS1\r\n\r\nOK\r\n"


def test_output_for_a_host_that_never_reads_is_bounded(rig, monkeypatch) -> None:
    monkeypatch.setattr(edge, "MAX_BUFFER", 4096)
    with rig.open() as port:
        port.write(b"ATE0\r")
        for _ in range(20):
            rig.runner.run_once()
        # Nobody reads: the pty's own buffer fills, then ours, then output is dropped.
        for _ in range(400):
            port.write(b"ATI3\r")
            rig.runner.run_once()
        assert rig.endpoint.pending <= 4096
        assert rig.endpoint.dropped > 0
        port.reset_input_buffer()
        for _ in range(50):
            rig.runner.run_once()
            port.reset_input_buffer()
        assert rig.ask(port, b"ATI0\r").endswith(b"\r\nESTUDIO190F CLASS1\r\n\r\nOK\r\n")


def test_the_modem_writes_its_trace_without_frame_contents(rig: PtyRig) -> None:
    with rig.open() as port:
        rig.ask(port, b"ATE0\r")
    trace = (rig.sim.out_dir / "modem.jsonl").read_text()
    assert '"ev":"at","line":"E0"' in trace


def test_close_removes_the_link_and_hangs_up(tmp_path) -> None:
    rig = PtyRig(tmp_path)
    line = rig.endpoint.line
    assert rig.sim.network.lines["5550100"] is line
    rig.endpoint.close()
    assert not os.path.lexists(rig.link)
    assert "5550100" not in rig.sim.network.lines
    rig.endpoint.close()  # twice is harmless


def test_an_old_symlink_is_replaced_but_a_file_is_refused(tmp_path) -> None:
    (tmp_path / "modem").symlink_to("/nonexistent")
    rig = PtyRig(tmp_path)
    assert os.path.realpath(rig.link).startswith("/dev/pts/")
    rig.endpoint.close()
    (tmp_path / "modem").write_text("not a link")
    with pytest.raises(ValueError, match="not a symlink"):
        PtyRig(tmp_path)


def test_a_number_already_on_the_line_is_refused_before_anything_is_made(tmp_path) -> None:
    clock = Clock()
    sim = SimpleNamespace(clock=clock, network=PhoneNetwork(clock), out_dir=None)
    sim.network.add_line("5550100")
    with pytest.raises(ValueError, match="taken"):
        open_modem_pty(str(tmp_path / "modem"), "5550100", sim, Runner(clock, 1.0))
    assert not os.path.lexists(tmp_path / "modem")


def test_run_announces_the_modem_and_takes_its_link_away_at_the_end() -> None:
    place = short_dir()
    try:
        link = place / "modem"
        emulator = Emulator(place, link, speed=1)
        assert f"modem pty {link} number 5550100\n" in emulator.lines
        assert os.path.realpath(link).startswith("/dev/pts/")
        emulator.stop()
        assert emulator.proc.returncode == 0
        assert not os.path.lexists(link)
    finally:
        shutil.rmtree(place, ignore_errors=True)
