"""The `fax` fixture under pytest-xdist (`pytest -n N`): tests that drive machines run in several
worker processes, each machine the same as in one process (same event log), and a failed
expectation is reported there as shortly as without xdist."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("xdist")  # in the project's test extra (pyproject.toml)

TESTS = """
import hashlib, json, os
from pathlib import Path

import numpy as np
from PIL import Image

RECORD = Path(os.environ["RECORD_DIR"])


def record(name, fax):
    log = "\\n".join(json.dumps(e, sort_keys=True) for e in fax.events)
    (RECORD / f"{name}.json").write_text(json.dumps({
        "worker": os.environ.get("PYTEST_XDIST_WORKER", "none"),
        "pid": os.getpid(),
        "events": hashlib.sha256(log.encode()).hexdigest(),
    }))


def test_copy_mode(fax):
    fax.press("COPY")
    fax.expect('lcd "COPY READY"')
    fax.run_for("2h")
    record("copy_mode", fax)


def test_scan_mode(fax):
    fax.press("SCAN")
    assert "SCAN READY" in fax.lcd[1]
    record("scan_mode", fax)


def test_fax_between_two_machines(fax, tmp_path):
    page = np.full((400, 1728), 255, dtype=np.uint8)
    page[100:140, 200:1500] = 0
    Image.fromarray(page).convert("1").save(tmp_path / "page.pbm")
    branch = fax.device("branch", "5559876")
    fax.step(f"adf load {tmp_path / 'page.pbm'}")
    fax.press(*"5559876", "START")
    fax.until('lcd "COMPLETED"', within="5m")
    branch.until("printed 1", within="2m")
    assert branch.printed == 1
    record("fax_between_two_machines", fax)


def test_settings(fax):
    fax.settings.set("receive.rings", 4)
    assert fax.settings["receive.rings"] == 4
    record("settings", fax)


def test_expectation_that_fails(fax):
    fax.press("COPY")
    fax.expect('lcd "FAX READY"')
"""


def run_pytest(folder: Path, record: Path, *args: str) -> subprocess.CompletedProcess[str]:
    record.mkdir()
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args, str(folder)],
        capture_output=True, text=True, timeout=600, cwd=folder,
        env={**__import__("os").environ, "RECORD_DIR": str(record)},
    )  # fmt: skip


def records(folder: Path) -> dict[str, dict[str, object]]:
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


@pytest.mark.slow
def test_fax_fixture_under_xdist(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_machines.py").write_text(TESTS)
    alone = run_pytest(
        suite,
        tmp_path / "alone",
        "-p",
        "no:xdist",
        "--estudio-coverage",
        str(tmp_path / "alone.json"),
    )
    spread = run_pytest(suite, tmp_path / "spread", "-n", "2",
                        "--estudio-coverage", str(tmp_path / "spread.json"))  # fmt: skip
    for proc in (alone, spread):
        assert proc.returncode == 1, proc.stdout + proc.stderr  # one test fails on purpose
        assert "4 passed" in proc.stdout and "1 failed" in proc.stdout
    # the short report of a failed expectation, as without xdist: no traceback into the plugin
    assert 'expectation failed: expect lcd "FAX READY"' in spread.stdout
    assert "COPY READY" in spread.stdout  # the LCD at that moment
    assert "interpreter.py" not in spread.stdout
    one, two = records(tmp_path / "alone"), records(tmp_path / "spread")
    assert (
        set(one) == set(two) == {"copy_mode", "scan_mode", "fax_between_two_machines", "settings"}
    )
    assert {r["worker"] for r in two.values()} == {"gw0", "gw1"}  # both workers drove machines
    assert len({r["pid"] for r in two.values()}) == 2
    for name in one:
        assert one[name]["events"] == two[name]["events"], name  # the same machine either way
    # coverage recorded in the workers and merged by the controller: what one process records
    covered = [
        {area["name"]: area["hits"] for area in json.loads(path.read_text())["areas"]}
        for path in (tmp_path / "alone.json", tmp_path / "spread.json")
    ]
    assert covered[0] == covered[1]
    assert covered[0]["screens"] and covered[0]["t30 frames"]
