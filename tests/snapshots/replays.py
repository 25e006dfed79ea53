"""Helpers for the determinism tests: replay a script straight through (with `snapshot` steps in
it), replay the rest of it from each snapshot in a new process, and compare what they wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from estudio190f.panel.snapshot import read_header


def replay(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "estudio190f.panel.cli", "replay", *map(str, args)],
        capture_output=True, text=True, timeout=300, cwd=cwd,
    )  # fmt: skip


@dataclass
class Cut:
    """A `snapshot` step of a script: the file, and the steps after it."""

    snapshot: Path
    rest: list[str]


def cuts(script: str, folder: Path) -> list[Cut]:
    """Each `snapshot NAME` line of the script, with the lines after it (their own snapshot steps
    left out: the run from a snapshot writes none)."""
    lines = script.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith("snapshot "):
            rest = [x for x in lines[i + 1 :] if not x.startswith("snapshot ")]
            found.append(Cut(folder / line.split()[1], rest))
    return found


def machine_dirs(out: Path, snapshot: Path) -> dict[str, tuple[Path, int]]:
    """Each machine of a snapshot: its output folder under `out` and its event count then."""
    info = read_header(snapshot)
    return {m.name: (out if m.name == "main" else out / m.name, m.events) for m in info.machines}


def events(folder: Path) -> list[str]:
    return (folder / "events.jsonl").read_text().splitlines()


def files(folder: Path, sub: str) -> dict[str, bytes]:
    where = folder / sub
    return {p.name: p.read_bytes() for p in sorted(where.glob("*"))} if where.exists() else {}


def assert_same_from(straight: Path, restored: Path, snapshot: Path) -> None:
    """Byte for byte: each machine's events.jsonl from the snapshot on, and the pages printed and
    documents received after it (the restored run numbers its files on from the snapshot's)."""
    for name, (folder, count) in machine_dirs(straight, snapshot).items():
        sub = Path() if name == "main" else Path(name)
        tail = events(folder)[count:]
        again = events(restored / sub)
        assert again == tail, _first_difference(name, tail, again)
        delivered = sum(
            1 for e in map(json.loads, tail) if e["src"] == "printer" and e["ev"] == "delivered"
        )
        for kind in ("printed", "received"):
            before, after = files(folder, kind), files(restored / sub, kind)
            if kind == "printed":
                assert len(after) == delivered, f"{name}: {len(after)} sheets, {delivered} events"
            last = sorted(before)[len(before) - len(after) :] if after else []
            assert sorted(after) == last, f"{name} {kind}: {sorted(after)} vs {sorted(before)}"
            assert all(after[k] == before[k] for k in after), f"{name} {kind}: contents differ"


def _first_difference(name: str, expected: list[str], got: list[str]) -> str:
    for i, (a, b) in enumerate(zip(expected, got, strict=False)):
        if a != b:
            return f"{name}: line {i} differs:\n  straight {a}\n  restored {b}"
    return f"{name}: {len(expected)} lines straight, {len(got)} restored"
