"""Secrets stay secret: `run --record` writes a placeholder for a password, which replay asks for;
NVRAM is private to its owner; the ptys are 0600; a console client reads documents only from the
document folders."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

import pytest
from PIL import Image

from .conftest import cli
from .test_console_clients import answer, client

PASSWORD = "hunter22pw"


def prompt_steps(r, *lines: str) -> None:
    for line in lines:
        r.proc.stdin.write(line.encode() + b"\n")
        r.proc.stdin.flush()
        r.read_until(r"(?m)^(OK|ERR.*)$")
        r.out = b""


def test_a_password_typed_or_keyed_in_is_recorded_as_a_placeholder(running, tmp_path):
    record = tmp_path / "session.txt"
    r = running("--speed", "50", "--record", record)
    r.read_until("ready")
    prompt_steps(
        r,
        "press FUNCTION 7 6", f"type {PASSWORD}", "press SET",  # the SMTP password, typed
        "press FUNCTION 6 7", "press 2 2 2", "press 3", "press SET",  # the polling one, keyed
        "press COPY",
    )  # fmt: skip
    assert r.terminate() == 0
    recorded = record.read_text()
    assert PASSWORD not in recorded and "press 2 2 2" not in recorded and "press 3" not in recorded
    assert "type {secret smtp.password}\n" in recorded
    assert "type {secret polling.password}\n" in recorded
    assert "press SET" in recorded and "press COPY" in recorded
    check = tmp_path / "check.txt"
    check.write_text(recorded + "press FUNCTION 7 6\nexpect lcd /^[*]{10}$/ line 2\n")

    missing = cli("replay", check, "--relay", "none", cwd=tmp_path)
    assert missing.returncode == 2
    assert "type {secret smtp.password}: no value given; use replay --secret " in missing.stderr
    assert "ESTUDIO190F_SECRET_SMTP_PASSWORD" in missing.stderr

    given = cli("replay", check, "--relay", "none", "--secret", f"smtp.password={PASSWORD}",
                cwd=tmp_path, env={**os.environ, "ESTUDIO190F_SECRET_POLLING_PASSWORD": "cd"})  # fmt: skip
    assert given.returncode == 0, given.stderr
    assert PASSWORD not in given.stdout + given.stderr


def test_nvram_is_readable_by_its_owner_only(running, tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    (state / "nvram.sqlite").touch(mode=0o644)
    os.chmod(state / "nvram.sqlite", 0o644)
    r = running("--speed", "50", "--state", state)
    r.read_until("ready")
    prompt_steps(r, "press FUNCTION 7 6", f"type {PASSWORD}", "press SET")
    assert r.terminate() == 0
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for path in state.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    fresh = tmp_path / "fresh"
    r = running("--speed", "50", "--state", fresh)
    r.read_until("ready")
    assert r.terminate() == 0
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    assert stat.S_IMODE((fresh / "nvram.sqlite").stat().st_mode) == 0o600


def test_the_serial_and_modem_ptys_are_their_owners_only(running, tmp_path):
    r = running("--serial", f"pty:{tmp_path / 'console'}", "--modem-pty", tmp_path / "modem")
    r.read_until("ready")
    for link in ("console", "modem"):
        target = os.stat(tmp_path / link)
        assert stat.S_IMODE(target.st_mode) == 0o600
        assert target.st_uid == os.getuid()
    assert r.terminate() == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a pty to another user needs root")
def test_the_modem_pty_can_be_given_to_the_fax_software_s_user(running, tmp_path):
    r = running("--modem-pty", tmp_path / "modem", "--modem-pty-owner", "nobody")
    r.read_until("ready")
    target = os.stat(tmp_path / "modem")
    assert target.st_uid == pwd.getpwnam("nobody").pw_uid
    assert stat.S_IMODE(target.st_mode) == 0o600
    assert r.terminate() == 0


def test_a_console_client_loads_documents_from_the_document_folders_only(running, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    Image.new("1", (1728, 2200), 1).save(docs / "page.png")
    Image.new("1", (1728, 2200), 1).save(tmp_path / "here.png")
    outside = Path("/tmp") / f"estudio190f-outside-{os.getpid()}.png"
    Image.new("1", (64, 64), 1).save(outside)
    try:
        r = running("--serial", "tcp:0", "--documents", docs)
        c = client(r.tcp_port())
        assert answer(c, "adf load page.png") == ["OK"]  # relative: found in a document folder
        assert answer(c, f"adf load {docs / 'page.png'}") == ["OK"]
        refused = answer(c, f"adf load {outside}")
        assert refused[0].startswith(f"ERR adf load: '{outside}' is outside the document folders")
        assert "run --documents DIR" in refused[0]
        assert answer(c, "adf load here.png")[0].startswith("ERR adf load: 'here.png' is outside")
        assert answer(c, "adf load /etc/passwd")[0].startswith("ERR adf load: '/etc/passwd' is out")
        link = docs / "sneaky.png"
        link.symlink_to(outside)
        assert answer(c, "adf load sneaky.png")[0].startswith("ERR adf load: 'sneaky.png' is out")
        c.close()
        assert r.terminate() == 0
        # by default the folder run was started in is the one document folder
        r = running("--serial", "tcp:0")
        c = client(r.tcp_port())
        assert answer(c, "adf load here.png") == ["OK"]
        assert answer(c, "adf load docs/page.png") == ["OK"]
        assert answer(c, f"adf load {outside}")[0].startswith("ERR adf load:")
        c.close()
        assert r.terminate() == 0
    finally:
        outside.unlink()
