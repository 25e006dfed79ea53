"""Scan-to-email against a real Postfix with Cyrus SASL (scripts/postfix_relay.py)."""

from __future__ import annotations

import email
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.policy import default
from pathlib import Path

import numpy as np
import pytest
from mailtest import (
    PASSWORD,
    QUIET_RELAY,
    USER,
    itu_page,
    make_machine,
    need_program,
    secrets_of,
    text_page,
)
from PIL import Image

pytestmark = [pytest.mark.peer, QUIET_RELAY]
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postfix_relay.py"


@dataclass
class Postfix:
    port: int
    maildir: Path
    log: Path

    def messages(self) -> list[bytes]:
        new = self.maildir / "new"
        return [p.read_bytes() for p in sorted(new.iterdir())] if new.exists() else []

    def wait_for(self, count: int, seconds: float = 10.0) -> list[bytes]:
        # Postfix hands the message to virtual(8) after its 250: delivery takes a moment.
        deadline = time.monotonic() + seconds
        while len(self.messages()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture(scope="module")
def postfix() -> Iterator[Postfix]:
    need_program("postfix", "saslpasswd2")
    if os.geteuid() != 0:
        pytest.skip("starting a private Postfix instance needs root")
    root = Path(tempfile.mkdtemp(prefix="estudio190f-postfix-", dir="/tmp"))
    root.chmod(0o755)  # Postfix's daemons must get through (PEERS.md)
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "start", "--dir", str(root), "--user", f"{USER}:{PASSWORD}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        pytest.fail(f"postfix_relay.py start failed: {out.stderr}")
    assert PASSWORD not in out.stdout + out.stderr
    fields = dict(line.split(" ", 2)[1:] for line in out.stdout.splitlines())
    port = int(fields["smtp"].rpartition(":")[2])
    try:
        yield Postfix(port, Path(fields["maildir"]), Path(fields["log"]))
    finally:
        subprocess.run([sys.executable, str(SCRIPT), "stop", "--dir", str(root)], timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def test_itu_charts_reach_postfix_with_a_cram_md5_login(postfix: Postfix, tmp_path: Path) -> None:
    before = len(postfix.messages())
    pages = [itu_page(1), itu_page(2)]
    machine = make_machine(postfix.port)
    machine.email.submit(["office@example.com"], pages, "fine")
    machine.run()
    assert (machine.final().word, machine.final().code) == ("EMAIL SENT", "250")
    messages = postfix.wait_for(before + 1)
    assert len(messages) == before + 1
    msg = email.message_from_bytes(messages[-1], policy=default)
    assert msg["X-Mailer"] == "Internet FAX, Toshiba"
    [part] = list(msg.iter_attachments())
    assert part.get_content_type() == "image/tiff"
    tiff = part.get_payload(decode=True)
    with Image.open(io.BytesIO(tiff)) as img:
        assert img.n_frames == 2
        for n, page in enumerate(pages):
            img.seek(n)
            assert np.array_equal(~np.asarray(img.convert("1"), dtype=bool), page.pixels)
    need_program("tiffinfo")
    path = tmp_path / "scan.tif"
    path.write_bytes(tiff)
    info = subprocess.run(["tiffinfo", str(path)], capture_output=True, text=True)
    assert info.returncode == 0 and info.stdout.count("Image Width: 1728") == 2
    log = postfix.log_text()
    assert re.search(r"sasl_method=CRAM-MD5, sasl_username=tim(@relay\.test)?\b", log)
    assert msg["Message-ID"] in log  # cleanup(8) logs the Message-ID it queued
    for secret in secrets_of(PASSWORD):
        assert secret not in log + machine.everything_shown()


def test_wrong_password_is_auth_error_535_without_fallback(postfix: Postfix) -> None:
    machine = make_machine(postfix.port, smtp__password="not-the-password")
    before = postfix.log_text()
    machine.email.submit(["office@example.com"], [text_page(1)], "fine")
    machine.run()
    assert (machine.final().word, machine.final().code) == ("AUTH ERROR", "535")
    time.sleep(0.2)
    new_log = postfix.log_text()[len(before) :]
    failures = re.findall(r"SASL (\S+) authentication failed", new_log)
    assert failures == ["CRAM-MD5"]  # one try, and never PLAIN or LOGIN after it
    assert "not-the-password" not in machine.everything_shown()
