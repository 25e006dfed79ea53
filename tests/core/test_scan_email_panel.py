"""Scan-to-email from the panel: SCAN, an address, START; the embedded relay on loopback."""

import email
import mailbox

from PIL import Image

from estudio190f.firmware.directory import Entry
from estudio190f.firmware.tiff_f import read_tiff_f


def a_page(tmp_path, name="page.png"):
    path = tmp_path / name
    img = Image.new("1", (1728, 1100), 1)
    for y in range(100, 1000, 50):
        for x in range(200, 1500):
            img.putpixel((x, y), 0)
    img.save(path)
    return path


def delivered(fax):
    box = mailbox.Maildir(str(fax.sim.relay.maildir), create=False)
    return [email.message_from_bytes(box.get_bytes(k)) for k in sorted(box.keys())]


def test_a_typed_address_gets_the_scanned_page_as_tiff(fax_factory, tmp_path):
    fax = fax_factory(relay=True)
    fax.step(f"adf load {a_page(tmp_path)}")
    fax.press("SCAN", "2")
    fax.press("CLEAR")
    fax.type("office@example.com")
    fax.step("press START")
    fax.step('until lcd "SCANNING" within 5s')
    fax.step('until lcd "EMAIL SENT" within 2m')
    fax.step('until lcd "SCAN READY" within 10s')
    msgs = delivered(fax)
    assert len(msgs) == 1
    msg = msgs[0]
    assert msg["To"] == "office@example.com"
    assert msg["Subject"] == "IMAGE from Internet FAX"
    assert msg["X-Mailer"] == "Internet FAX, Toshiba"
    parts = [p for p in msg.walk() if p.get_content_type() == "image/tiff"]
    pages = read_tiff_f(parts[0].get_payload(decode=True))
    assert len(pages) == 1 and pages[0].width == 1728
    entry = fax.firmware.journal.entries()[-1]
    assert entry.kind == "EMAIL" and entry.result == "OK"


def test_a_one_touch_address_and_a_relay_that_is_down_then_up(fax_factory, tmp_path):
    fax = fax_factory(relay=True)
    fax.firmware.directory.put(Entry("one_touch", 1, "OFFICE", email="office@example.com"))
    fax.step(f"adf load {a_page(tmp_path)}")
    fax.step("fault relay.down")
    fax.step("press SCAN ONE_TOUCH_01 START")
    fax.step('until lcd "EMAIL ERROR" within 2m')
    fax.step("expect led MEMORY on")
    assert delivered(fax) == []
    fax.step("clear relay.down")
    fax.step('until lcd "EMAIL SENT" within 1m')
    fax.step("expect led MEMORY off")
    assert len(delivered(fax)) == 1


def test_a_wrong_password_is_an_auth_error_and_never_shown(fax_factory, tmp_path):
    fax = fax_factory(relay=True)
    fax.firmware.settings.set("smtp.password", "wrong-secret-pw")
    fax.step(f"adf load {a_page(tmp_path)}")
    fax.press("SCAN", "2", "CLEAR")
    fax.type("office@example.com")
    fax.step("press START")
    fax.step('until lcd "AUTH ERROR 535" within 2m')
    seen = repr(fax.events) + repr(fax.firmware.journal.entries())
    assert "wrong-secret-pw" not in seen
    assert delivered(fax) == []


def test_start_without_documents_says_so(fax_factory):
    fax = fax_factory(relay=True)
    fax.press("SCAN", "2", "CLEAR")
    fax.type("a@b.example")
    fax.step("press START")
    assert fax.lcd == ["SCAN TO E-MAIL", "NO DOCUMENT"]
