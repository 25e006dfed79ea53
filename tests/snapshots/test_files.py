"""The snapshot file: its header, mode 0600 (it holds NVRAM, secrets included), written whole,
and what a reader refuses before it unpickles anything: a file that is not a snapshot, a damaged
one, another format, another build, a pickle that is not ours."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import stat
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from estudio190f.panel.sim import Simulation
from estudio190f.panel.snapshot import MAGIC, SnapshotError, build, read_header


@pytest.fixture
def saved(tmp_path) -> Path:
    sim = Simulation()
    sim.main.firmware.settings.set("smtp.password", "s3cret-s3cret")
    path = tmp_path / "booted.snap"
    sim.save(path)
    sim.close()
    return path


def rewrite(path: Path, header: dict | None = None, payload: bytes | None = None) -> None:
    """The file with another header or payload (the checksum made to match the payload)."""
    data = path.read_bytes()
    head, packed = data[len(MAGIC) :].split(b"\n", 1)
    info = json.loads(head)
    if payload is not None:
        packed = payload
        info["payload"]["bytes"] = len(packed)
        info["payload"]["sha256"] = hashlib.sha256(packed).hexdigest()
    info.update(header or {})
    path.write_bytes(MAGIC + json.dumps(info).encode() + b"\n" + packed)


def test_the_header_says_what_is_inside_and_the_file_is_private(saved):
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    first, second = saved.read_bytes().split(b"\n")[:2]
    assert first + b"\n" == MAGIC
    header = json.loads(second)
    assert header["format"] == 1 and header["build"] == build()
    assert header["machines"] == [
        {"name": "main", "number": "5551234", "state": "standby.fax", "events": header["machines"][0]["events"]}
    ]  # fmt: skip
    assert header["time"] == "2026-01-01 09:00:00" and header["ticks"] == 15_000_000
    info = read_header(saved)
    assert info.machines[0].events > 0
    assert b"s3cret-s3cret" not in saved.read_bytes()  # compressed, but not for secrecy: 0600


def test_an_existing_snapshot_is_replaced_private_even_with_a_lax_umask(tmp_path):
    path = tmp_path / "again.snap"
    sim = Simulation()
    sim.save(path)
    os.chmod(path, 0o644)
    old = os.umask(0)
    try:
        sim.save(path)
    finally:
        os.umask(old)
        sim.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_file_that_is_not_a_snapshot_is_neither_read_nor_overwritten(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("my notes\n")
    sim = Simulation()
    with pytest.raises(SnapshotError, match="is not an estudio190f snapshot"):
        sim.restore(other)
    with pytest.raises(SnapshotError, match="exists and is not a snapshot: not overwritten"):
        sim.save(other)
    sim.close()
    assert other.read_text() == "my notes\n"


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p.write_bytes(p.read_bytes()[:-10]), "truncated"),
        (lambda p: p.write_bytes(p.read_bytes()[:-1] + bytes([p.read_bytes()[-1] ^ 1])),
         "damaged \\(its checksum does not match\\)"),
        (lambda p: p.write_bytes(MAGIC + b"{not json\n"), "its header is damaged"),
        (lambda p: rewrite(p, {"format": 2}), "format 2; this estudio190f .* reads format 1 only"),
        (lambda p: rewrite(p, {"build": "0123456789abcdef"}), "taken by another build"),
    ],
)  # fmt: skip
def test_a_damaged_or_foreign_snapshot_is_refused_in_one_line(saved, damage, message):
    damage(saved)
    sim = Simulation()
    state = sim.main.state()
    with pytest.raises(SnapshotError, match=message) as error:
        sim.restore(saved)
    assert "\n" not in str(error.value)
    assert sim.main.state() == state  # nothing changed
    sim.close()


def test_another_build_is_read_when_asked_to_try(saved, monkeypatch):
    rewrite(saved, {"build": "0123456789abcdef"})
    monkeypatch.setenv("ESTUDIO190F_SNAPSHOT_ANY_BUILD", "1")
    sim = Simulation.load(saved)
    assert sim.main.lcd_lines()[1] == "FAX READY"
    sim.close()


class _Runs:
    """A pickle that would run a command when unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (subprocess.call, (["touch", str(self.marker)],))


def test_a_pickle_that_is_not_ours_is_refused_before_it_runs_anything(saved, tmp_path):
    marker = tmp_path / "ran"
    rewrite(saved, payload=zlib.compress(pickle.dumps({"clock": _Runs(marker)})))
    sim = Simulation()
    with pytest.raises(SnapshotError, match="subprocess.call is not part of a simulation"):
        sim.restore(saved)
    assert not marker.exists()
    sim.close()


def test_replay_with_a_snapshot_it_cannot_read_says_why_in_one_line(saved, tmp_path):
    rewrite(saved, {"format": 7})
    script = tmp_path / "s.txt"
    script.write_text("lcd?\n")
    proc = subprocess.run(
        [sys.executable, "-m", "estudio190f.panel.cli", "replay", "--restore", str(saved),
         str(script)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "format 7" in proc.stderr
