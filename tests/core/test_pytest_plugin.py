"""The pytest plugin as a test author uses it: the `fax` fixture's driver, and what a failed
expectation looks like in pytest's own output (run as a subprocess on a test file of its own)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from estudio190f.panel.pytest_plugin import ExpectationFailed, ScriptError


def run_pytest(tmp_path, source: str, *options: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_user.py").write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "test_user.py", "-p", "no:cacheprovider", *options],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip


@pytest.mark.slow  # a pytest of its own in a subprocess
def test_a_failed_expectation_shows_the_expectation_the_lcd_and_the_last_events(tmp_path):
    proc = run_pytest(
        tmp_path,
        """
        def test_copy(fax):
            fax.press("COPY")
            fax.step('expect lcd "FAX READY"')
        """,
    )
    out = proc.stdout
    assert proc.returncode == 1, out
    assert "at test_user.py:4: fax.step('expect lcd \"FAX READY\"')" in out
    assert 'expectation failed: expect lcd "FAX READY"' in out
    assert 'expected: LCD shows "FAX READY"' in out
    assert "|COPY READY" in out  # what the LCD did show
    assert "COPY on" in out and "state standby.copy" in out
    assert "last events:" in out and "panel key" in out
    # no traceback into the interpreter
    assert "interpreter.py" not in out and "script.py" not in out and "Traceback" not in out


@pytest.mark.slow  # a pytest of its own in a subprocess
def test_fulltrace_still_shows_the_traceback(tmp_path):
    proc = run_pytest(
        tmp_path,
        """
        def test_copy(fax):
            fax.expect('lcd "NOT THERE"')
        """,
        "--fulltrace",
    )
    assert proc.returncode == 1
    assert "interpreter.py" in proc.stdout


@pytest.mark.slow  # a pytest of its own in a subprocess
def test_until_fails_with_the_same_report_and_a_bad_line_says_why(tmp_path):
    proc = run_pytest(
        tmp_path,
        """
        def test_wait(fax):
            fax.until('lcd "RECEIVING"', within="30s")

        def test_typo(fax):
            fax.step("pres COPY")
        """,
    )
    out = proc.stdout
    assert proc.returncode == 1
    assert 'expected: LCD shows "RECEIVING" within 30s' in out
    assert "|FAX READY" in out
    assert "script error: unknown verb 'pres'" in out
    assert "2 failed" in out
    assert 'FAILED test_user.py::test_wait - expectation failed: until lcd "RECEIVING"' in out


def test_expectations_can_still_be_caught(fax):
    with pytest.raises(ExpectationFailed) as failed:
        fax.expect('lcd "NOT THERE"')
    assert failed.value.lcd[1] == "FAX READY"
    with pytest.raises(ScriptError, match="unknown verb"):
        fax.step("fly")


def test_until_runs_until_the_expectation_holds(fax):
    fax.step("power off")
    fax.step("power on")
    fax.until('lcd "FAX READY"', within="1m")
    assert fax.lcd[1] == "FAX READY"
    fax.until("led FAX on", within=1)


def test_settings_read_by_key_and_set_as_the_menu_would(fax):
    assert fax.settings["receive.rings"] == 2
    assert "smtp.port" in fax.settings and "no.such" not in fax.settings
    assert fax.settings.set("receive.rings", 4) == 4
    assert fax.settings["receive.rings"] == 4
    fax.press("FUNCTION")  # the menu shows what was set
    with pytest.raises(ValueError, match="1 to 9"):
        fax.settings.set("receive.rings", 12)
    with pytest.raises(KeyError, match="no setting named"):
        fax.settings["receive.ringz"]
    fax.settings.set("smtp.password", "s3cret-value")
    assert fax.settings["smtp.password"] == "s3cret-value"
    assert "s3cret-value" not in repr(fax.events) + repr(fax.settings)
    assert any(e["ev"] == "set" and e.get("key") == "receive.rings" for e in fax.events)


def test_journal_lists_entries_as_the_query_does(fax, tmp_path):
    from PIL import Image

    Image.new("1", (1728, 1100), 1).save(tmp_path / "page.png", dpi=(203.2, 195.58))
    fax.press("COPY")
    fax.step(f"adf load {tmp_path / 'page.png'}")
    assert fax.journal == []
    fax.press("START")
    fax.until('journal "COPY"', within="2m")
    assert fax.journal == fax.step("journal?")
    assert fax.printed == 1
