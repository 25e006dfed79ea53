"""`estudio190f relay` (panel/relay.py's add_arguments/run) as a user runs it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from mailtest import QUIET_RELAY, make_machine, text_page

pytestmark = QUIET_RELAY


def test_relay_command_prints_its_endpoint_takes_mail_and_stops_cleanly(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    proc = subprocess.Popen(
        [sys.executable, "-m", "estudio190f.panel.relay", "--maildir", str(maildir),
         "--user", "bob:s3cret-pw"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("relay smtp 127.0.0.1:")
        port = int(first.rpartition(":")[2])
        machine = make_machine(port, smtp__user="bob", smtp__password="s3cret-pw")
        machine.email.submit(["office@example.com"], [text_page(1)], "fine")
        machine.run()
        assert machine.final().word == "EMAIL SENT"
        assert len(list((maildir / "new").iterdir())) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "s3cret-pw" not in out + err + first


def test_relay_delivers_into_an_existing_empty_folder(tmp_path: Path) -> None:
    from estudio190f.panel.relay import EmbeddedRelay

    (tmp_path / "mail").mkdir()
    with EmbeddedRelay(tmp_path / "mail", {"tim": "pw"}) as relay:
        machine = make_machine(relay.port, smtp__password="pw")
        machine.email.submit(["office@example.com"], [text_page(2)], "fine")
        machine.run()
        assert machine.final().word == "EMAIL SENT"
        assert len(relay.messages()) == 1
