"""The messages: MIME, headers, the TIFF-F or PDF attachment as real readers see it, splitting."""

from __future__ import annotations

import email
import io
import re
import subprocess
from datetime import datetime
from email.policy import default
from pathlib import Path

import mailtest
import numpy as np
import pytest
from mailtest import QUIET_RELAY, itu_page, make_machine, need_program, noisy_page, text_page
from PIL import Image

from estudio190f.firmware.email.message import MessageParty, compose

PARTY = MessageParty("fax@example.com", ("office@example.com",), "TOSHIBA", "5551234")
WHEN = datetime(2026, 11, 28, 9, 0)

# Fixtures this module uses (mailtest.py says why they are not in a conftest.py).
certs = mailtest.certs
relay_factory = mailtest.relay_factory

pytestmark = QUIET_RELAY


def attachment_of(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    msg = email.message_from_bytes(raw, policy=default)
    [part] = list(msg.iter_attachments())
    params = dict(part["Content-Type"].params)
    return part.get_content_type(), params, part.get_payload(decode=True)


def pillow_pages(tiff: bytes) -> list[np.ndarray]:
    pages = []
    with Image.open(io.BytesIO(tiff)) as img:
        for n in range(img.n_frames):
            img.seek(n)
            pages.append(~np.asarray(img.convert("1"), dtype=bool))
    return pages


def test_itu_charts_arrive_as_tiff_f_that_libtiff_decodes(relay_factory, tmp_path: Path) -> None:
    pages = [itu_page(n) for n in (1, 2, 3, 4)]
    relay = relay_factory("cram")
    machine = make_machine(relay.port)
    machine.email.submit(["office@example.com"], pages, "fine")
    machine.run()
    assert machine.final().word == "EMAIL SENT"
    [raw] = relay.messages()
    kind, params, tiff = attachment_of(raw)
    assert kind == "image/tiff" and params.get("application") == "faxbw"
    decoded = pillow_pages(tiff)
    assert len(decoded) == 4
    for got, page in zip(decoded, pages, strict=True):
        assert np.array_equal(got, page.pixels)
    with Image.open(io.BytesIO(tiff)) as img:
        assert img.info.get("compression") == "group3"
        assert img.size[0] == 1728
        assert tuple(round(v) for v in img.info["dpi"]) == (204, 196)
    need_program("tiffinfo")
    path = tmp_path / "scan.tif"
    path.write_bytes(tiff)
    out = subprocess.run(["tiffinfo", str(path)], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.count("Image Width: 1728") == 4
    assert "CCITT Group 3" in out.stdout
    assert "Error" not in out.stderr


def test_headers_text_part_and_date_from_the_machine_clock() -> None:
    [built] = compose(
        [text_page(1)], fmt="tiff", party=PARTY, created=WHEN, job=7, resolution="FINE",
        max_bytes=10 << 20,
    )  # fmt: skip
    msg = email.message_from_bytes(built.data, policy=default)
    assert msg["X-Mailer"] == "Internet FAX, Toshiba"
    assert msg["Subject"] == "IMAGE from Internet FAX"
    assert msg["Date"] == "Sat, 28 Nov 2026 09:00:00 -0000"
    assert (
        msg["Message-ID"] == built.message_id == "<20261128090000.J0007.1of1.5551234@example.com>"
    )
    assert msg.get_content_type() == "multipart/mixed"
    text = msg.get_body(("plain",)).get_content()
    assert "TOSHIBA (5551234)" in text and "Page 1 of 1" in text
    assert b"\r\n" in built.data and b"\n\n" not in built.data.replace(b"\r\n", b"")


def test_the_same_job_builds_the_same_bytes() -> None:
    pages = [text_page(3), text_page(4)]
    args = dict(fmt="tiff", party=PARTY, created=WHEN, job=3, resolution="FINE", max_bytes=10 << 20)
    assert compose(pages, **args)[0].data == compose(pages, **args)[0].data


def test_big_job_is_split_in_page_order_under_the_limit() -> None:
    pages = [noisy_page(i, lines=100) for i in range(5)]
    args = dict(fmt="tiff", party=PARTY, created=WHEN, job=9, resolution="FINE")
    one_page = len(compose(pages[:1], **args, max_bytes=10 << 20)[0].data)
    limit = one_page * 2 + one_page // 5  # room for two pages a message, not three
    built = compose(
        pages, fmt="tiff", party=PARTY, created=WHEN, job=9, resolution="FINE", max_bytes=limit
    )
    assert len(built) == 3
    assert all(len(m.data) <= limit for m in built)
    assert len({m.message_id for m in built}) == len(built)
    got = [page for m in built for page in pillow_pages(attachment_of(m.data)[2])]
    assert len(got) == 5
    for decoded, page in zip(got, pages, strict=True):
        assert np.array_equal(decoded, page.pixels)
    assert [(m.first_page, m.last_page) for m in built][0][0] == 1
    assert built[-1].last_page == 5
    first = email.message_from_bytes(built[0].data, policy=default)
    assert f"message 1 of {len(built)}" in first.get_body(("plain",)).get_content()


@pytest.mark.peer
def test_pdf_attachment_opens_in_poppler(tmp_path: Path) -> None:
    need_program("pdfinfo", "pdfimages")
    pages = [text_page(5), text_page(6, lines=200)]
    [built] = compose(
        pages, fmt="pdf", party=PARTY, created=WHEN, job=1, resolution="FINE", max_bytes=10 << 20
    )
    kind, _, pdf = attachment_of(built.data)
    assert kind == "application/pdf"
    path = tmp_path / "scan.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True)
    assert info.returncode == 0 and re.search(r"^Pages:\s+2$", info.stdout, re.M)
    assert info.stderr == ""
    subprocess.run(["pdfimages", "-png", str(path), str(tmp_path / "img")], check=True)
    for n, page in enumerate(pages):
        with Image.open(tmp_path / f"img-{n:03d}.png") as img:
            assert np.array_equal(~np.asarray(img.convert("1"), dtype=bool), page.pixels)
