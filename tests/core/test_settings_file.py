"""The settings file (DESIGN.md 3.4): known keys applied, unknown keys and bad values refused."""

import pytest

from estudio190f.firmware.settings import SettingsFileError, load_settings_file

EXAMPLE = """
[machine]
number = "5551234"              # this machine's phone number on the virtual line
station_name = "TOSHIBA"
[smtp]
host = "127.0.0.1"
port = 2525
security = "none"
auth = "cram-md5"
user = "tim"
password = "tanstaaftanstaaf"
from = "fax@example.com"
format = "tiff"
[[one_touch]]
slot = 1
name = "OFFICE"
email = "office@example.com"
[[speed_dial]]
slot = 1
name = "BRANCH"
fax = "5559876"
"""


def write(tmp_path, text):
    path = tmp_path / "fax.toml"
    path.write_text(text)
    return path


def test_the_design_example_is_accepted(tmp_path):
    loaded = load_settings_file(write(tmp_path, EXAMPLE))
    assert loaded.values["smtp.port"] == 2525
    assert [(e.kind, e.slot, e.email or e.fax) for e in loaded.entries] == [
        ("one_touch", 1, "office@example.com"),
        ("speed_dial", 1, "5559876"),
    ]


@pytest.mark.parametrize("text,line,reason", [
    ('[machine]\nnumbr = "1"\n', 2, "unknown key 'numbr'"),
    ("[modem]\ntop_speed = 28800\n", 2, "must be one of"),
    ('[moon]\nx = 1\n', 1, "unknown table"),
    ('[smtp]\nsecurity = "ssl"\n', 2, "none, starttls, tls"),
    ('[smtp]\nport = "25"\n', 2, "whole number"),
    ('[[one_touch]]\nslot = 13\nname = "X"\nfax = "1"\n', 2, "slot must be 1 to 12"),
    ('[[one_touch]]\nslot = 1\nname = "X"\n', 1, "exactly one of fax or email"),
    ('[[speed_dial]]\nslot = 1\nname = "X"\nemail = "nobody"\n', 4, "not an e-mail address"),
    ('[machine\n', 1, "not valid TOML"),
])  # fmt: skip
def test_bad_files_are_refused_with_line_and_reason(tmp_path, text, line, reason):
    with pytest.raises(SettingsFileError) as err:
        load_settings_file(write(tmp_path, text))
    assert err.value.line == line
    assert reason in err.value.reason


def test_number_on_the_command_line_wins_over_the_file(tmp_path, fax_factory):
    path = write(tmp_path, '[machine]\nnumber = "5550001"\n')
    fax = fax_factory(settings_file=path, number="5550002")
    assert fax.firmware.settings.get("machine.number") == "5550002"
