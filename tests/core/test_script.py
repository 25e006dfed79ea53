"""The key-script language: parsing, comments, matching, and the exit codes of `replay`."""

import subprocess
import sys

import pytest

from estudio190f.panel.script import ScriptError, parse_line, parse_script


def parse(text):
    return parse_line(text, 1)


def test_comments_and_blank_lines_are_not_steps():
    steps = parse_script("# heading\n\n   # indented\npress 1\n")
    assert [s.verb for s in steps] == ["press"]
    assert steps[0].line == 4


def test_a_lone_hash_is_the_key_and_hash_text_is_a_comment():
    assert parse("press # 1").args["keys"] == ["#", "1"]
    assert parse("press 1 #").args["keys"] == ["1", "#"]
    assert parse("press START   # send it").args["keys"] == ["START"]
    assert parse("wait 5s # five").args["duration"] == 5_000_000


def test_type_takes_the_rest_of_the_line_quotes_optional():
    assert parse("type ACME FAX").args["text"] == "ACME FAX"
    assert parse('type "a#b c"').args["text"] == "a#b c"
    assert parse("type 12#34").args["text"] == "12#34"


def test_regex_may_contain_spaces_and_a_line_option():
    step = parse("expect lcd /FAX  ?READY$/ line 2")
    assert step.args["matcher"].matches("FAX READY")
    assert step.args["lcd_line"] == 2


def test_until_needs_within():
    step = parse('until lcd "READY" within 1m')
    assert step.args["within"] == 60_000_000
    with pytest.raises(ScriptError, match="within"):
        parse('until lcd "READY"')


@pytest.mark.parametrize("line,message", [
    ("pres 1", "unknown verb"),
    ("Press 1", "verbs are lower case"),
    ("press start", "did you mean START"),
    ("wait 5 seconds", "bad duration"),
    ("expect led LAMP on", "LED name"),
    ("expect led ALARM dim", "on, off or blink"),
    ("expect lcd READY", "TEXT"),
    ('expect lcd "READY" line 3', "line must be 1 or 2"),
    ("expect lcd /[unclosed/", "bad regular expression"),
    ("fault printer.fire", "no fault named"),
    ("power maybe", "on or off"),
    ("clock tomorrow", "date and time"),
    ("device 5551234", "device NAME NUMBER"),
    ("on branch", "machine name and a step"),
    ("adf load", "at least one path"),
    ("paper many", "sheet count"),
])  # fmt: skip
def test_bad_lines_are_refused_with_a_reason(line, message):
    with pytest.raises(ScriptError, match=message):
        parse(line)


def test_errors_carry_the_line_number():
    with pytest.raises(ScriptError) as err:
        parse_script("press 1\nwait 1s\nexpect lcd\n")
    assert err.value.line == 3


def replay(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "estudio190f.panel.cli", "replay", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def test_replay_exits_0_when_every_expectation_holds(tmp_path):
    script = tmp_path / "ok.txt"
    script.write_text('expect lcd "FAX READY"\npress COPY\nexpect led COPY on\n')
    proc = replay(script, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "PASS" in proc.stdout


def test_replay_exits_1_and_shows_the_panel_when_an_expectation_fails(tmp_path):
    script = tmp_path / "fails.txt"
    script.write_text('press COPY\n\nexpect lcd "FAX READY" line 2\n')
    proc = replay(script, cwd=tmp_path)
    assert proc.returncode == 1
    assert "fails.txt:3" in proc.stderr
    assert 'expect lcd "FAX READY" line 2' in proc.stderr
    assert "|COPY READY" in proc.stderr
    assert "COPY on" in proc.stderr


def test_replay_exits_2_with_the_line_of_a_script_error(tmp_path):
    script = tmp_path / "bad.txt"
    script.write_text("press 1\npress 2\nfly away\n")
    proc = replay(script, cwd=tmp_path)
    assert proc.returncode == 2
    assert "bad.txt:3" in proc.stderr and "unknown verb" in proc.stderr


def test_a_missing_document_is_a_script_error(tmp_path):
    script = tmp_path / "adf.txt"
    script.write_text("adf load no-such-page.png\n")
    proc = replay(script, cwd=tmp_path)
    assert proc.returncode == 2
    assert "adf.txt:1" in proc.stderr


def test_several_scripts_write_under_their_own_names_and_junit_lists_them(tmp_path):
    (tmp_path / "one.txt").write_text("press COPY\n")
    (tmp_path / "two.txt").write_text('expect lcd "NOT THERE"\n')
    proc = replay(
        tmp_path / "one.txt",
        tmp_path / "two.txt",
        "--out",
        tmp_path / "out",
        "--junit",
        tmp_path / "junit.xml",
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert (tmp_path / "out" / "one" / "events.jsonl").exists()
    assert (tmp_path / "out" / "two" / "events.jsonl").exists()
    junit = (tmp_path / "junit.xml").read_text()
    assert 'tests="2"' in junit and 'failures="1"' in junit


def test_replay_is_deterministic_byte_for_byte(tmp_path):
    script = tmp_path / "s.txt"
    script.write_text("press FUNCTION 3 2 5 SET\nwait 3s\npress 5 5 5 STOP COPY 2\nwait 2h\n")
    for n in (1, 2):
        assert replay(script, "--out", tmp_path / f"run{n}", cwd=tmp_path).returncode == 0
    first = (tmp_path / "run1" / "events.jsonl").read_bytes()
    assert first == (tmp_path / "run2" / "events.jsonl").read_bytes()
    assert len(first) > 1000


def test_a_settings_file_is_applied_before_the_script(tmp_path):
    (tmp_path / "fax.toml").write_text(
        '[machine]\nnumber = "5550042"\nstation_name = "ACME"\n[receive]\nrings = 4\n'
        '[[one_touch]]\nslot = 1\nname = "OFFICE"\nfax = "5559876"\n'
    )
    (tmp_path / "s.txt").write_text('press ONE_TOUCH_01\nexpect lcd "5559876"\n')
    proc = replay(tmp_path / "s.txt", "--config", tmp_path / "fax.toml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_a_bad_settings_file_is_refused_with_file_line_and_reason(tmp_path):
    (tmp_path / "fax.toml").write_text('[machine]\nnumber = "5550042"\n\n[receive]\nrings = 12\n')
    (tmp_path / "s.txt").write_text("press 1\n")
    proc = replay(tmp_path / "s.txt", "--config", tmp_path / "fax.toml", cwd=tmp_path)
    assert proc.returncode == 2
    assert "fax.toml:5" in proc.stderr and "1 to 9" in proc.stderr
