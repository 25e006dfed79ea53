"""The TSB85 runner itself: reading a suite, frame notation and bit order, matching, timing
checks, and what a passing and a failing step look like in the report. Small suites written
here drive a real simulated machine; the full suite is in test_suite.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from estudio190f.hw.clock import MS, SECOND
from estudio190f.panel.conformance import KNOWN_DIFFERENCES, report_line, run_test, summary
from estudio190f.panel.conformance_run import STATUS_MAP, ConformanceResult, ConformanceRun
from estudio190f.panel.conformance_script import (
    Expectation,
    Step,
    SuiteError,
    notation,
    parse_octets,
    parse_suite,
    window,
)

# One white page at V.27ter 4800 into the machine, as the MRGN scripts do it. `{checks}` and
# `{cfr}` let a test put in a timing check or a wrong expectation.
RECEIVE = """<?xml version="1.0"?>
<fax-tests>
  <test-group name="inline">
    <test name="RX1">
      <step type="CALL"/>
      <step dir="T" type="SET" tag="IDENT" value="+0123456789"/>
      <step dir="R" type="CED">{checks}</step>
      <step dir="R" type="HDLC" modem="V.21" tag="NSF" value="FF C0 04 ..." timeout="60000"/>
      <step dir="R" type="HDLC" modem="V.21" tag="CSI"
            value="FF C0 02 9C 1C EC 6C AC 2C CC 4C 8C 0C D4 04 04 04 04 04 04 04 04 04"/>
      <step dir="R" type="HDLC" modem="V.21" tag="DIS" value="FF C8 01 ..."/>
      <step dir="R" type="SILENCE"/>
      <step type="WAIT" value="75"/>
      <step dir="T" type="PREAMBLE" modem="V.21"/>
      <step dir="T" type="HDLC" tag="DCS" value="FF C8 41 00 50 00"/>
      <step dir="T" type="POSTAMBLE"/>
      <step type="WAIT" value="75"/>
      <step dir="T" type="TCF" modem="V.27ter/4800" value="900"/>
      <step dir="R" type="HDLC" modem="V.21" tag="CFR" value="{cfr}"/>
      <step dir="R" type="SILENCE"/>
      <step type="WAIT" value="75"/>
      <step dir="T" type="MSG" modem="V.27ter/4800" value="etsi_300_242_a4_white.tif"/>
      <step type="WAIT" value="75"/>
      <step dir="T" type="PREAMBLE" modem="V.21"/>
      <step dir="T" type="HDLC" tag="EOP" value="FF C8 74"/>
      <step dir="T" type="POSTAMBLE"/>
      <step dir="R" type="HDLC" modem="V.21" tag="MCF" value="FF C8 31"/>
      <step dir="R" type="SILENCE"/>
      <step type="WAIT" value="75"/>
      <step dir="T" type="PREAMBLE" modem="V.21"/>
      <step dir="T" type="HDLC" tag="DCN" value="FF C8 5F"/>
      <step dir="T" type="POSTAMBLE"/>
      <step dir="T" type="CLEAR"/>
      <step dir="R" type="CLEAR" timein="0" timeout="100"/>
      <step type="STATUS" value="{status}"/>
    </test>
  </test-group>
</fax-tests>
"""


def receive_suite(
    tmp_path: Path, *, cfr: str = "FF C8 21", checks: str = "", status: str = "OK"
) -> Path:
    path = tmp_path / "suite.xml"
    path.write_text(RECEIVE.format(cfr=cfr, checks=checks, status=status), encoding="utf-8")
    return path


def play(path: Path) -> ConformanceResult:
    [script] = parse_suite(path)
    return run_test(script)


def step(value: str, **attrs: str) -> Step:
    return Step(1, 1, {"dir": "R", "type": "HDLC", "value": value, **attrs})


# -- reading a suite -----------------------------------------------------------------------------
def test_a_suite_gives_its_tests_steps_and_source_lines(tmp_path: Path) -> None:
    [script] = parse_suite(receive_suite(tmp_path))
    assert (script.name, script.group, script.line) == ("RX1", "inline", 4)
    steps = script.steps()
    assert [s.type for s in steps[:3]] == ["CALL", "SET", "CED"]
    assert steps[3].get("value") == "FF C0 04 ..." and steps[3].int("timeout", 0) == 60000
    assert steps[3].line == 8 and steps[3].number == 4


def test_repeats_keep_their_bounds_and_steps(tmp_path: Path) -> None:
    path = tmp_path / "repeat.xml"
    path.write_text(
        '<fax-tests><test-group name="g"><test name="T1"><step type="CALL"/>'
        '<repeat min="2" max="5"><step dir="R" type="HDLC" value="FF C8 F6"/>'
        '<step type="WAIT" value="500"/></repeat><step type="STATUS" value="OK"/>'
        "</test></test-group></fax-tests>",
        encoding="utf-8",
    )
    [script] = parse_suite(path)
    repeat = script.items[1]
    assert (repeat.min, repeat.max, len(repeat.steps)) == (2, 5, 2)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "No such file"),
        ("<fax-tests><test", "not well-formed"),
        ("<fax-tests></fax-tests>", "no <test> elements"),
    ],
)
def test_an_unreadable_suite_is_said_so(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "bad.xml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SuiteError, match=message):
        parse_suite(path)


# -- frame notation and bit order ----------------------------------------------------------------
def test_script_octets_are_reversed_into_line_order() -> None:
    # DIS is 01 in T.30's tables and 0x80 on the line (first bit in the least significant bit);
    # control C8 (final) is 0x13, C0 is 0x03.
    assert parse_octets("FF C8 01 ...") == (b"\xff\x13\x80", b"\xff\xff\xff", True)
    assert parse_octets("FF C0 04") == (b"\xff\x03\x20", b"\xff\xff\xff", False)
    octets, mask, _ = parse_octets("FF C8 12/F0")
    assert octets[2] == 0x48 and mask[2] == 0x0F


def test_notation_writes_frames_back_as_the_scripts_do() -> None:
    assert notation(b"\xff\x13\x83\x00\x0a\x00") == "FF C8 C1 00 50 00 (DCS+)"
    assert notation(b"\xff\x13\x00") == "FF C8 00 (unknown FCF 00)"


def test_matching_is_exact_unless_open_and_takes_alternatives() -> None:
    dis = b"\xff\x13\x80\x00\xee\xf8"
    assert Expectation.of(step("FF C8 01 ...")).patterns[0].matches(dis)
    assert not Expectation.of(step("FF C8 01")).patterns[0].matches(dis)
    either = Expectation.of(step("FF C8 31", xxx="FF C8 33"))
    assert [p.matches(b"\xff\x13\xcc") for p in either.patterns] == [False, True]
    assert Expectation.of(step("FF C8 58 | nothing")).nothing_ok


def test_timing_windows_are_read_from_the_check_text() -> None:
    assert window("CED is 2.6s to 4s") == (2_600 * MS, 4 * SECOND)
    assert window("FTT preamble between 850ms and 1150ms") == (850 * MS, 1150 * MS)
    assert window("CFR preamble") is None


def test_spandsp_statuses_map_onto_the_machines_and_the_summary_counts() -> None:
    assert "NOPOLL" in STATUS_MAP["TX_INCAPABLE"]
    results = [
        ConformanceResult("A", "pass"),
        ConformanceResult("B", "fail", "x"),
        ConformanceResult("C", "n/a", "y"),
    ]
    assert summary(results) == "TSB85: 1 passed, 1 failed, 1 not applicable of 3"


# -- playing scripts against the machine ---------------------------------------------------------
def test_a_conforming_script_passes_and_its_timing_checks_are_measured(tmp_path: Path) -> None:
    checks = '<check name="C1" desc="CED is 2.6s to 4s"/>'
    [script] = parse_suite(receive_suite(tmp_path, checks=checks))
    run = ConformanceRun(script)
    result = run.run()
    assert result.verdict == "pass", result.reason
    assert run.checks_done == 1
    assert any("check C1: 3.000 s" in entry for entry in result.trace)
    assert [p.page is not None for p in run.sink.pages] == [True]  # the machine kept the page


def test_a_wrong_expectation_names_the_step_and_what_came(tmp_path: Path) -> None:
    result = play(receive_suite(tmp_path, cfr="FF C8 22"))
    assert result.verdict == "fail"
    assert result.reason.startswith("step 14 (line 19) R HDLC CFR V.21 FF C8 22:")
    assert "expected FF C8 22, got FF C8 21 (CFR)" in result.reason
    assert report_line(result).startswith("RX1        FAIL  step 14")


def test_a_timing_check_out_of_its_window_fails_with_the_measure(tmp_path: Path) -> None:
    checks = '<check name="C1" desc="CED is 3.5s to 4s"/>'
    result = play(receive_suite(tmp_path, checks=checks))
    assert result.verdict == "fail"
    assert "R CED: CED is 3.5s to 4s: measured 3.000 s" in result.reason


def test_a_wrong_status_is_reported_with_the_machines_own(tmp_path: Path) -> None:
    result = play(receive_suite(tmp_path, status="RX_DCNDATA"))
    assert result.verdict == "fail"
    assert "expected status RX_DCNDATA, the machine's is OK" in result.reason


def test_known_differences_explain_only_failures() -> None:
    failing = ConformanceResult("MTGN28", "fail", "step 20 (line 4327) R HDLC DCN+: ...")
    assert " -- why: after RTN to EOP" in report_line(failing)
    assert "why" not in report_line(ConformanceResult("MTGN28", "pass"))
    assert set(KNOWN_DIFFERENCES) <= {f"{g}{n:02d}" for g in _GROUPS for n in range(1, 30)}


_GROUPS = ("MRGN", "OREN", "MRGX", "MTGN", "OTEN", "MTGX")


def test_passwords_stay_out_of_the_report() -> None:
    pwd = b"\xff\x03\xc1" + b"0123456789+".ljust(20)
    assert notation(pwd) == "FF C0 83 ... (PWD)"
    setting = Step(3, 9, {"dir": "T", "type": "SET", "tag": "PWD", "value": "+9876543210"})
    frame = Step(9, 20, {"dir": "T", "type": "HDLC", "tag": "PWD", "value": "FF C0 83 0C 8C"})
    assert "9876543210" not in setting.describe() and "0C 8C" not in frame.describe()
