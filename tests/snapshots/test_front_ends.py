"""Snapshots from every front end: the serial console (confined to its document folders, its
events following the restored machine), `run --restore` with its prompt, `replay --restore`
with options that would start otherwise, and the pytest fixture."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

import pytest
from console.rig import ConsoleRig, LineClient

from estudio190f.panel.pytest_plugin import make_driver


@pytest.fixture
def rig(tmp_path):
    rig = ConsoleRig(tmp_path, ["tcp:0"], speed=20.0)
    clients: list[LineClient] = []

    def client() -> LineClient:
        clients.append(LineClient(rig.url("tcp")))
        return clients[-1]

    rig.client = client  # type: ignore[attr-defined]
    yield rig
    for c in clients:
        c.close()
    rig.stop()


def test_the_console_takes_a_snapshot_and_goes_back_to_it(rig, tmp_path):
    client = rig.client()
    assert client.lines("press COPY") == ["OK"]
    assert client.lines("snapshot copy.snap") == ["OK"]
    assert (tmp_path / "copy.snap").exists()
    assert client.lines("press SCAN") == ["OK"]
    assert client.lines("restore copy.snap") == ["OK"]
    assert client.lines("lcd?")[1] == "COPY READY"
    assert client.lines("state?") == ["standby.copy", "OK"]
    # events come from the restored machine
    client.answer("events on")
    client.send(b"press FAX\r\n")
    raw = client.read_until(b"OK\r\n")
    assert b"! led FAX on\r\n" in raw and b'"FAX READY"' in raw


def test_the_console_reads_and_writes_snapshots_only_in_its_document_folders(rig, tmp_path):
    client = rig.client()
    outside = tmp_path.parent / "outside.snap"
    answer = client.lines(f"snapshot {outside}")
    assert answer[0].startswith("ERR snapshot:") and "outside the document folders" in answer[0]
    assert not outside.exists()
    answer = client.lines("restore ../outside.snap")
    assert answer[0].startswith("ERR restore:") and "outside the document folders" in answer[0]
    assert client.lines("restore missing.snap")[0].startswith("ERR restore: cannot read")


def run_cli(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "estudio190f.panel.cli", *map(str, args)],
        capture_output=True, text=True, timeout=120, **kwargs,
    )  # fmt: skip


def test_run_restore_starts_the_emulator_from_a_snapshot(tmp_path):
    driver = make_driver(tmp_path / "a")
    driver.press("COPY", "5")
    driver.step("snapshot " + str(tmp_path / "copies.snap"))
    driver.sim.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "estudio190f.panel.cli", "run", "--headless", "--relay", "none",
         "--speed", "max", "--out", str(tmp_path / "out"), "--restore",
         str(tmp_path / "copies.snap")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"state?\n")
    proc.stdin.flush()
    seen = b""
    deadline = time.monotonic() + 30
    while b"copies\nOK" not in seen and time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.5)[0]:
            seen += os.read(proc.stdout.fileno(), 65536)
    proc.terminate()
    proc.wait(timeout=30)
    assert b"copies\nOK" in seen, seen
    assert b"LCD |" in seen and b"COPIES" in seen.upper()
    assert proc.returncode == 0
    assert (tmp_path / "out" / "events.jsonl").stat().st_size > 0


def test_restore_and_options_that_would_start_otherwise_are_a_usage_error(tmp_path):
    driver = make_driver(tmp_path / "a")
    driver.step("snapshot " + str(tmp_path / "s.snap"))
    driver.sim.close()
    (tmp_path / "s.txt").write_text("lcd?\n")
    (tmp_path / "c.toml").write_text('[machine]\nnumber = "5550001"\n')
    proc = run_cli("replay", "--restore", tmp_path / "s.snap", tmp_path / "s.txt", "--config",
                   tmp_path / "c.toml")  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "--restore and --config" in proc.stderr
    proc = run_cli("run", "--headless", "--restore", tmp_path / "s.snap", "--number", "5550002")
    assert proc.returncode == 2 and "--restore and --number" in proc.stderr
    proc = run_cli("replay", "--restore", tmp_path / "s.snap", tmp_path / "s.txt")
    assert proc.returncode == 0 and "FAX READY" in proc.stdout


def test_the_fixture_starts_from_a_snapshot(fax_factory, tmp_path):
    first = fax_factory()
    first.press("SCAN")
    first.step("snapshot " + str(tmp_path / "scan.snap"))
    started = time.monotonic()
    second = fax_factory(restore=tmp_path / "scan.snap")
    assert time.monotonic() - started < 5
    assert second.lcd[1] == "SCAN READY"
    second.press("COPY")
    assert second.lcd[1] == "COPY READY" and first.lcd[1] == "SCAN READY"
