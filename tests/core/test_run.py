"""`estudio190f run` headless: a prompt, the LCD as it changes, clean shutdown, recording."""

import os
import select
import signal
import subprocess
import sys
import time

import pytest


class Running:
    def __init__(self, tmp_path, *extra):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "estudio190f.panel.cli",
                "run",
                "--headless",
                "--relay",
                "none",
                "--out",
                str(tmp_path / "out"),
                *map(str, extra),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
        )
        self.buffer = b""

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def read_until(self, marker, timeout=20):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while marker.encode() not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {marker!r} in output: {self.buffer.decode()}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError(
                        f"process ended: {self.buffer.decode()} {self.proc.stderr.read()}"
                    )
                self.buffer += chunk
        text, marker_b = self.buffer.decode(), marker.encode()
        cut = self.buffer.index(marker_b) + len(marker_b)
        self.buffer = self.buffer[cut:]
        return text[: text.index(marker) + len(marker)]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=20)


@pytest.fixture
def running(tmp_path):
    made = []

    def start(*extra):
        r = Running(tmp_path, *extra)
        made.append(r)
        return r

    yield start
    for r in made:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()


def test_headless_run_takes_steps_and_prints_the_lcd(running, tmp_path):
    r = running("--speed", "20")
    r.read_until("ready")
    r.send("press COPY")
    out = r.read_until("OK")
    assert "LCD |" in out and "COPY READY" in out
    r.send("state?")
    assert "standby.copy" in r.read_until("OK")
    r.send("bogus")
    assert "ERR unknown verb" in r.read_until("unknown verb")


def test_end_of_input_does_not_stop_it_and_sigterm_shuts_it_down_cleanly(running, tmp_path):
    r = running("--speed", "20")
    r.read_until("ready")
    r.proc.stdin.close()
    time.sleep(1.0)
    assert r.proc.poll() is None
    assert r.stop() == 0
    events = (tmp_path / "out" / "events.jsonl").read_text()
    assert '"ev":"shutdown"' in events


def test_a_recorded_session_replays_to_the_same_state(running, tmp_path):
    r = running("--speed", "50", "--record", tmp_path / "session.txt")
    r.read_until("ready")
    r.send("press FUNCTION 3 2 7 SET")
    r.read_until("OK")
    r.send("wait 3s")
    r.read_until("OK")
    r.send("press SCAN")
    r.read_until("OK")
    assert r.stop() == 0
    recorded = (tmp_path / "session.txt").read_text()
    assert "press FUNCTION 3 2 7 SET" in recorded and "wait " in recorded
    script = tmp_path / "check.txt"
    script.write_text(recorded + 'expect lcd "SCAN READY"\nexpect led SCAN on\n')
    proc = subprocess.run(
        [sys.executable, "-m", "estudio190f.panel.cli", "replay", str(script)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_the_prompt_shows_the_lcd_at_start(running, tmp_path):
    r = running("--speed", "20")
    out = r.read_until("READY")
    assert "LCD |" in out and "FAX READY" in out


def test_an_overlong_line_at_the_prompt_is_refused_and_the_next_one_runs(running, tmp_path):
    r = running("--speed", "20")
    r.read_until("ready")
    r.send("type " + "7" * 100_000)
    assert "ERR line too long" in r.read_until("ERR line too long")
    r.send("state?")
    assert "standby.fax" in r.read_until("OK")


def test_a_recorded_session_with_a_snapshot_and_a_restore_replays_them(running, tmp_path):
    snap = tmp_path / "standby.snap"
    r = running("--speed", "50", "--record", tmp_path / "session.txt")
    r.read_until("ready")
    for step in (f"snapshot {snap}", "press COPY", "wait 2s", f"restore {snap}"):
        r.send(step)
        r.read_until("OK")
    assert r.stop() == 0
    recorded = (tmp_path / "session.txt").read_text()
    assert f"snapshot {snap}" in recorded and f"restore {snap}" in recorded
    snap.unlink()  # the replay takes its own snapshot where the operator took one
    script = tmp_path / "check.txt"
    # back in FAX standby, as the snapshot was taken: the COPY pressed after it is undone
    script.write_text(recorded + 'expect lcd "FAX READY"\nexpect led COPY off\n')
    proc = subprocess.run(
        [sys.executable, "-m", "estudio190f.panel.cli", "replay", str(script)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert snap.exists()
