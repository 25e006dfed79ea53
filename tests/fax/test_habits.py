"""Far ends with habits (`device NAME NUMBER habit=NAME[,NAME...]`), driven by key scripts: what
the machine under test does about each, as its journal, LCD and redials show it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import need_testdata

from estudio190f.firmware.t30.habits import NAMES

from .conftest import BRANCH, blank_page


def send_to_far_end(fax, habit: str, document: Path, wait: str = "20m") -> None:
    fax.step(f"device far {BRANCH} habit={habit}")
    fax.step(f"adf load {document}")
    fax.type(BRANCH)
    fax.press("START")
    fax.step(f"wait {wait}")


def tx_lines(fax) -> list[str]:
    return [line for line in fax.journal if " TX " in line]


def far_lines(fax) -> list[str]:
    return fax.step("on far journal?")


def negotiated(fax) -> list[str]:
    return [e["params"] for e in fax.events if e["src"] == "t30" and e["ev"] == "negotiated"]


def test_an_unknown_habit_is_a_script_error_that_lists_the_known_ones(tmp_path):
    script = tmp_path / "habit.txt"
    script.write_text("device far 5559876 habit=grumpy\n")
    run = subprocess.run(
        [sys.executable, "-m", "estudio190f.panel.cli", "replay", str(script), "--relay", "none"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 2
    assert f"known habits: {', '.join(NAMES)}" in run.stdout + run.stderr
    assert "habit.txt:1" in run.stdout + run.stderr


def test_nsf_only_ends_403_after_t1_and_is_redialled(fax, tmp_path):
    send_to_far_end(fax, "nsf_only", blank_page(tmp_path, "p"))
    lines = tx_lines(fax)
    assert len(lines) == 4  # the first call and 3 redials (transmit.redial_tries)
    assert all(line.endswith("COMM. ERROR 403") for line in lines)
    assert fax.lcd[1] == "FAX READY"  # given up: the file is settled (reported, deleted)


def test_ftt_to_lowest_steps_down_to_2400_and_gets_the_page_through(fax, tmp_path):
    send_to_far_end(fax, "ftt_to_lowest", blank_page(tmp_path, "p"))
    assert tx_lines(fax)[-1].endswith("P001 OK")
    trains = [e for e in fax.events if e["src"] == "t30" and e["ev"] == "recv"]
    assert sum(e["frame"] == "FTT" for e in trains) == 7
    assert negotiated(fax)[-1].startswith("V.27ter 2400")


def test_ignores_ecm_ends_407_and_ecm_off_is_the_remedy(fax, tmp_path):
    send_to_far_end(fax, "ignores_ecm", blank_page(tmp_path, "p"), wait="5m")
    assert tx_lines(fax)[-1].endswith("COMM. ERROR 407")
    fax.settings.set("modem.ecm", "off")  # the service engineer's remedy
    fax.step(f"adf load {blank_page(tmp_path, 'q')}")
    fax.type(BRANCH)
    fax.press("START")
    fax.step("until journal /TX .*P001 OK/ within 5m")
    fax.step("on far until printed 1 within 2m")


def test_dcn_without_mcf_ends_407_though_the_far_end_printed_it(fax, tmp_path):
    send_to_far_end(fax, "dcn_without_mcf", blank_page(tmp_path, "p"), wait="5m")
    assert tx_lines(fax)[-1].endswith("P000 COMM. ERROR 407")  # the last page is not confirmed
    assert far_lines(fax)[-1].endswith("P001 OK")
    fax.step("on far expect printed 1")


def test_slow_answer_still_gets_the_page_through(fax, tmp_path):
    send_to_far_end(fax, "slow_answer", blank_page(tmp_path, "p"), wait="5m")
    assert tx_lines(fax)[-1].endswith("P001 OK")


def test_drops_in_phase_c_ends_411_and_the_redials_resume_the_page(fax):
    chart = need_testdata("ccitt", "itu1.pbm")  # a page long enough to be cut in its data
    send_to_far_end(fax, "drops_in_phase_c", chart)
    lines = tx_lines(fax)
    assert len(lines) == 4 and all(line.endswith("P000 COMM. ERROR 411") for line in lines)
    assert all(line.endswith("COMM. ERROR 411") for line in far_lines(fax))
    fax.step("on far expect printed 0")


@pytest.mark.parametrize("habit", NAMES)
def test_every_habit_has_a_symptom_in_the_docs(habit):
    docs = (Path(__file__).resolve().parents[2] / "docs" / "t30.md").read_text()
    assert f"`{habit}`" in docs
