"""`estudio190f run --iax2 [HOST:]PORT`: the trunk's line at start, and a call through it from an
IAX2 peer (our own endpoint, in the test's process) to the machine: it rings, answers, carries
voice both ways, and ends when the peer hangs up; a number nobody has is refused."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from estudio190f.hw.iax2 import CallAnswered, CallEnded, CallRinging, CallState

from .harness import CallAudio, Trunk, silence
from .spandsp_fax import need_spandsp


class Ear:
    """The peer's end of the call: it listens (the loudest sample of each frame) and is silent."""

    done = True

    def __init__(self) -> None:
        self.peaks: list[int] = []

    def rx(self, samples: np.ndarray) -> None:
        self.peaks.append(int(np.abs(samples.astype(np.int32)).max()))

    def tx(self, count: int = 160) -> np.ndarray:
        return silence(count)

    def close(self) -> None:
        pass


class Emulator:
    def __init__(self, tmp_path: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "estudio190f.panel.cli", "run", "--headless", "--relay",
             "none", "--out", str(tmp_path / "out"), *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
        )  # fmt: skip
        self.text = ""

    def read_until(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while (found := re.search(pattern, self.text)) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {pattern!r} in: {self.text}")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536).decode()
                if not chunk:
                    raise AssertionError(f"it ended: {self.text}")
                self.text += chunk
        return found

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=20)


@pytest.fixture
def emulator(tmp_path: Path):  # type: ignore[no-untyped-def]
    made: list[Emulator] = []

    def start(*extra: str) -> Emulator:
        made.append(Emulator(tmp_path, *extra))
        return made[-1]

    yield start
    for running in made:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait()


def test_run_iax2_prints_the_trunk_and_a_peer_calls_the_machine(emulator, tmp_path: Path) -> None:
    need_spandsp()
    (tmp_path / "rings.toml").write_text("[receive]\nrings = 1\n")
    running = emulator("--iax2", "0", "--config", "rings.toml")
    found = running.read_until(r"iax2 udp (127\.0\.0\.1):(\d+)")
    address = (found.group(1), int(found.group(2)))
    running.read_until("ready")
    peer = Trunk()
    try:
        call = peer.endpoint.call(address, "5551234", peer.now(), calling_number="5550199")
        peer.port.flush()
        peer.run_until(lambda: any(isinstance(e, CallAnswered) for e in peer.events), 20,
                       "the machine to answer")  # fmt: skip
        assert any(isinstance(e, CallRinging) for e in peer.events)
        # voice both ways: the machine's answer tone (CED) comes back as audio
        ear = Ear()
        peer.audio[call] = CallAudio(ear)  # type: ignore[arg-type]
        peer.run_for(4.0)
        assert len(ear.peaks) > 150 and max(ear.peaks) > 1000, ear.peaks[:20]
        peer.endpoint.hangup(call, peer.now())
        peer.port.flush()
        peer.run_for(1.0)
        refused = peer.endpoint.call(address, "5550000", peer.now())
        peer.port.flush()
        peer.run_until(lambda: peer.endpoint.call_info(refused).state == CallState.DOWN, 10,
                       "the refusal")  # fmt: skip
        [ended] = [e for e in peer.events if isinstance(e, CallEnded) and e.call == refused]
        assert ended.reason == "rejected" and "Unallocated" in ended.cause
    finally:
        peer.close()
        assert running.stop() == 0
    assert sorted((tmp_path / "out" / "calls").glob("*.wav")), "the call is recorded"
    events = (tmp_path / "out" / "events.jsonl").read_text()
    assert '"src":"iax2","ev":"call_in","number":"5551234"' in events


def test_run_iax2_on_a_taken_port_is_one_line(emulator, tmp_path: Path) -> None:
    need_spandsp()
    holder = Trunk()
    try:
        running = emulator("--iax2", str(holder.address[1]))
        assert running.proc.wait(timeout=30) == 2
        assert running.proc.stderr is not None
        error = running.proc.stderr.read().decode()
        assert error.count("\n") == 1 and "--iax2" in error and "cannot listen" in error
    finally:
        holder.close()
