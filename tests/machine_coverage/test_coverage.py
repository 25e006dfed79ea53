"""Coverage: what scripts visited against what exists (the firmware's tables), from replay, from
machines in a test, across a restore and from the pytest plugin; merged and reported."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import need_testdata

from estudio190f.firmware.control_panel import TRANSITIONS
from estudio190f.firmware.settings import SETTINGS
from estudio190f.firmware.t30.frames import FRAME_TYPES
from estudio190f.panel.coverage import Area, Coverage, CoverageError, merge, read
from estudio190f.panel.coverage_recorder import CoverageRecorder, empty
from estudio190f.panel.pytest_plugin import make_driver

SUMMARY = re.compile(r"^[a-z0-9 ]+ \d+/\d+ \d+%$")

MENU_AND_COPY = """\
press FUNCTION 3 2
press CLEAR 4 SET
until lcd "FAX READY" within 10s
press COPY
fault printer.cover_open
expect lcd "COVER OPEN"
clear printer.cover_open
"""


def cli(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "estudio190f.panel.cli", *map(str, args)],
        capture_output=True, text=True, timeout=300, **kwargs,
    )  # fmt: skip


def test_replay_coverage_counts_what_the_script_visited(tmp_path):
    script = tmp_path / "menu.txt"
    script.write_text(MENU_AND_COPY)
    out = tmp_path / "cov.json"
    proc = cli("replay", script, "--relay", "none", "--coverage", out)
    assert proc.returncode == 0, proc.stderr
    summary = proc.stdout.splitlines()[1:]
    assert len(summary) == 13 and all(SUMMARY.match(line) for line in summary), summary
    coverage = read(out)
    assert coverage.runs == 1
    hits = {name: area.hits for name, area in coverage.areas.items()}
    assert {"menu.browse", "menu.edit", "standby.copy", "message"} <= set(hits["states"])
    assert "standby -open_menu-> menu.browse" in hits["transitions"]
    assert "menu -edit_item-> menu.edit" in hits["transitions"]
    assert "standby -select_copy-> standby.copy" in hits["transitions"]
    assert {"3 RECEIVE", "3-2 RING COUNT"} <= set(hits["menu"])
    assert list(hits["settings"]) == ["receive.rings"]
    assert {"printer.cover_open set", "printer.cover_open clear"} == set(hits["faults"])
    assert {"COMPLETED", "COVER OPEN", "FAX READY", "COPY READY"} <= set(hits["lcd words"])
    assert {"menu", "standby", "message"} <= set(hits["screens"])
    assert summary[0].startswith("states ") and f"{len(hits['states'])}/22" in summary[0]


def test_what_exists_is_read_from_the_firmwares_tables():
    areas = empty().areas
    assert areas["settings"].known == [s.key for s in SETTINGS]
    assert len(areas["t30 frames"].known) == 2 * (len(FRAME_TYPES) - 2)  # but FCD, RCP
    assert "FCD sent" not in areas["t30 frames"].known
    known = areas["transitions"].known
    # every trigger of the table, a wildcard spread over the states it leaves
    assert {t["trigger"] for t in TRANSITIONS} == {k.split(" -")[1].split("->")[0] for k in known}
    assert not any(k.startswith("* ") for k in known)
    assert "job -power_lost-> off" in areas["transitions"].known
    assert "standby.scan" in areas["states"].known and "standby" not in areas["states"].known
    assert sorted(areas["screens"].known) == sorted(
        ["off", "booting", "standby", "dial.number", "dial.options", "dial.speed_dial", "copies",
         "address", "menu", "service", "job", "message"]
    )  # fmt: skip
    assert "2-1 FAX NUMBER" in areas["menu"].known


@pytest.mark.slow
def test_a_noisy_ecm_call_and_a_relay_down_then_up_show_in_their_areas(tmp_path):
    recorder = CoverageRecorder().install()
    try:
        fax = make_driver(tmp_path, relay=True)
        fax.device("branch", "5559876")
        fax.step(f"adf load {need_testdata('ccitt', 'itu1.pbm')}")
        fax.step("fault line.noise")
        fax.press("5", "5", "5", "9", "8", "7", "6", "START")
        fax.step('until lcd "COMPLETED" within 5m')
        fax.step("clear line.noise")
        fax.step(f"adf load {need_testdata('ccitt', 'itu1.pbm')}")
        fax.step("fault relay.down")
        fax.press("SCAN", "2", "CLEAR")
        fax.type("office@example.com")
        fax.press("START")
        fax.step('until lcd "EMAIL ERROR" within 2m')
        fax.step("clear relay.down")
        fax.step('until lcd "EMAIL SENT" within 1m')
        fax.sim.close()
    finally:
        recorder.uninstall()
    hits = {name: area.hits for name, area in recorder.coverage.areas.items()}
    assert {"DIS received", "DIS sent", "DCS sent", "PPR received", "PPR sent", "FTT received",
            "MCF received", "DCN sent"} <= set(hits["t30 frames"])  # fmt: skip
    assert {"ECM page", "ECM PPR", "fallback after FTT"} <= set(hits["t30 paths"])
    assert "page without ECM" not in hits["t30 paths"]
    assert {"V.17/14400", "V.17/12000", "V.17/9600"} <= set(hits["modulations"])
    assert hits["fax results"] == {"OK": 2}  # both ends
    assert {"transport refused", "connect 2yz", "command 3yz", "command 2yz", "data 2yz",
            "quit 2yz"} <= set(hits["smtp replies"])  # fmt: skip
    assert set(hits["email results"]) == {"810 EMAIL ERROR", "250 EMAIL SENT"}
    assert not recorder.coverage.areas["t30 frames"].extra


def test_coverage_follows_a_machine_restored_from_a_snapshot(tmp_path):
    recorder = CoverageRecorder().install()
    try:
        fax = make_driver(tmp_path)
        fax.step("snapshot s.snap")
        fax.press("SCAN")
        fax.step("restore s.snap")
        fax.press("COPY")
        fax.sim.close()
    finally:
        recorder.uninstall()
    transitions = recorder.coverage.areas["transitions"].hits
    assert transitions["standby -select_copy-> standby.copy"] == 1
    assert transitions["standby -select_scan-> standby.scan"] == 1


def two_runs() -> tuple[Coverage, Coverage]:
    a = Coverage({"faults": Area("faults", "a fault", ["x set", "x clear"], {"x set": 2})}, runs=1)
    b = Coverage(
        {"faults": Area("faults", "a fault", ["x set", "x clear", "y set"], {"x set": 1,
                                                                              "y set": 1}),
         "menu": Area("menu", "an item", ["1 A"], {})},
        runs=3,
    )  # fmt: skip
    return a, b


def test_merge_adds_the_counts_and_unions_what_exists(tmp_path):
    a, b = two_runs()
    a.write(tmp_path / "a.json")
    b.write(tmp_path / "b.json")
    total = merge([tmp_path / "a.json", tmp_path / "b.json"])
    assert total.runs == 4
    faults = total.areas["faults"]
    assert faults.known == ["x set", "x clear", "y set"]
    assert faults.hits == {"x set": 3, "y set": 1}
    assert faults.summary() == "faults 2/3 66%"
    assert total.areas["menu"].summary() == "menu 0/1 0%"


def test_coverage_report_merges_files_and_shows_what_was_never_visited(tmp_path):
    a, b = two_runs()
    a.write(tmp_path / "a.json")
    b.write(tmp_path / "b.json")
    proc = cli("coverage", "report", tmp_path / "a.json", tmp_path / "b.json", "--html",
               tmp_path / "html", "--out", tmp_path / "all.json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["faults 2/3 66%", "menu 0/1 0%"]
    assert "never visited in faults:" in lines and "  x clear" in lines and "  1 A" in lines
    page = (tmp_path / "html" / "index.html").read_text()
    assert '<tr class="missed"><td>x clear</td>' in page and "<td>x set</td>" in page
    assert read(tmp_path / "all.json").runs == 4


def test_a_file_that_is_not_coverage_is_refused_in_one_line(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(CoverageError, match="not an estudio190f coverage file"):
        read(tmp_path / "x.json")
    (tmp_path / "v.json").write_text(json.dumps({"format": "estudio190f-coverage", "version": 9}))
    proc = cli("coverage", "report", tmp_path / "v.json")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "version 9" in proc.stderr


@pytest.mark.slow
def test_the_pytest_plugin_records_the_tests_and_the_replays_they_start(tmp_path):
    (tmp_path / "menu.txt").write_text(MENU_AND_COPY)
    (tmp_path / "test_x.py").write_text(
        textwrap.dedent(f"""\
        import subprocess, sys

        def test_scan(fax):
            fax.press("SCAN")

        def test_a_replay():
            subprocess.run([sys.executable, "-m", "estudio190f.panel.cli", "replay",
                            {str(tmp_path / "menu.txt")!r}, "--relay", "none"], check=True)
    """)
    )
    out = tmp_path / "suite.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path),
         "--estudio-coverage", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "estudio190f coverage" in proc.stdout and f"written to {out}" in proc.stdout
    coverage = read(out)
    assert coverage.runs == 3  # two tests, one replayed script
    transitions = coverage.areas["transitions"].hits
    assert "standby -select_scan-> standby.scan" in transitions  # the test's machine
    assert "standby -open_menu-> menu.browse" in transitions  # the replay's
    assert not list(Path(tmp_path).glob("estudio190f-coverage-*"))
