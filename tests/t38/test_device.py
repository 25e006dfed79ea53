"""`device NAME NUMBER spandsp-t38`: SpanDSP's T.38 terminal as a far end on the virtual line, in
virtual time. Every packet crosses the machine's T.38 endpoint and the `t38.*` settings' network
(redundancy, loss, jitter), so these are also the tests of loss and jitter on a whole call."""

from __future__ import annotations

import json

import pytest

from estudio190f.firmware.fax.receiving import ReceivedDocument
from estudio190f.panel.cli import main

from .pages import SAME_ON_PAPER, is_page, page_png, page_tiff, tiff_pages

FAR = "5559876"
MAIN = "5551234"

SEND = """\
device far {far} spandsp-t38
adf load p1.png p2.png
press {keys} START
until lcd "SENDING" within 1m
until lcd /COMPLETED|COMM. ERROR/ within 5m
until lcd "FAX READY" within 1m
journal?
"""


def replay_send(tmp_path, capsys, settings: str, seed: int = 0) -> tuple[int, str]:
    """The main machine sends pages 1 and 2 to the device; the exit status and the journal."""
    for n in (1, 2):
        page_png(tmp_path / f"p{n}.png", n)
    (tmp_path / "send.txt").write_text(SEND.format(far=FAR, keys=" ".join(FAR)))
    (tmp_path / "settings.toml").write_text(SAME_ON_PAPER + settings)
    status = main(["replay", str(tmp_path / "send.txt"), "--config", str(tmp_path / "settings.toml"),
                   "--out", str(tmp_path / "out"), "--relay", "none", "--seed", str(seed)])  # fmt: skip
    return status, capsys.readouterr().out


def device_events(tmp_path, kind: str) -> list[dict]:
    path = tmp_path / "out" / "far" / "events.jsonl"
    events = [json.loads(line) for line in path.read_text().splitlines()]
    return [e for e in events if e["ev"] == kind]


@pytest.mark.parametrize("ecm", ["on", "off"])
def test_a_script_sends_to_the_device_which_files_the_pages(spandsp, tmp_path, capsys, ecm):
    status, out = replay_send(tmp_path, capsys, f'[modem]\necm = "{ecm}"\n')
    assert status == 0, out
    assert f"TX    {FAR}" in out and "P002 OK" in out
    (filed,) = (tmp_path / "out" / "far" / "received").glob("*.tif")
    assert filed.name == f"0001-{MAIN}.tif"  # named after the sender's identity
    pages = tiff_pages(filed)
    assert len(pages) == 2 and is_page(pages[0], 1) and is_page(pages[1], 2)
    (ended,) = device_events(tmp_path, "call_ended")
    assert (ended["result"], ended["pages"]) == ("OK", 2)
    (start,) = device_events(tmp_path, "start")
    assert start["calling"] is False


def send_to_machine(fax, tmp_path, ecm: str) -> tuple[list[ReceivedDocument], object]:
    fax.settings.set("modem.ecm", ecm)
    received: list[ReceivedDocument] = []
    fax.firmware.fax.documents.add(received.append)
    device = fax.sim.add_t38_device("far", FAR)
    device.send(MAIN, page_tiff(tmp_path / "doc.tif", 1, 2))
    fax.until('lcd "RECEIVING"', within="1m")
    fax.until("lcd /COMPLETED|COMM. ERROR/", within="5m")
    fax.until('lcd "FAX READY"', within="1m")
    return received, device


@pytest.mark.parametrize("ecm", ["on", "off"])
def test_the_device_sends_to_the_machine_which_prints_and_files_the_pages(spandsp, fax, tmp_path,
                                                                          ecm):  # fmt: skip
    received, device = send_to_machine(fax, tmp_path, ecm)
    (document,) = received
    assert len(document.images) == 2
    assert is_page(document.images[0], 1) and is_page(document.images[1], 2)
    fax.until("printed 2", within="2m")
    assert fax.journal[-1].split()[3:5] == ["RX", FAR]  # SpanDSP sends its number as TSI
    assert "P002 OK" in fax.journal[-1]
    (call,) = device.calls
    assert (call.direction, call.result, call.ok, call.pages) == ("out", "OK", True, 2)
    session = [e for e in fax.sim.devices["far"].log.events if e["ev"] == "session"]
    assert session[0]["image_redundancy"] == 1 and session[0]["redundancy"] == 3


@pytest.mark.parametrize("ecm", ["on", "off"])
def test_five_percent_loss_with_redundancy_3_still_brings_the_pages_whole(spandsp, tmp_path,
                                                                          capsys, ecm):  # fmt: skip
    status, out = replay_send(tmp_path, capsys, f'[modem]\necm = "{ecm}"\n[t38]\nloss = 0.05\n')
    assert status == 0 and "P002 OK" in out, out
    pages = tiff_pages(next((tmp_path / "out" / "far" / "received").glob("*.tif")))
    assert is_page(pages[0], 1) and is_page(pages[1], 2)
    (ended,) = device_events(tmp_path, "ended")
    assert ended["dropped_in"] + ended["dropped_out"] > 5  # the network did lose packets
    assert ended["recovered"] > 0 and ended["lost"] == 0  # and redundancy brought them back


def test_the_machine_receives_whole_pages_through_loss_and_jitter(spandsp, fax, tmp_path):
    fax.settings.set("t38.loss", "0.05")
    fax.settings.set("t38.jitter", 40)
    received, device = send_to_machine(fax, tmp_path, "on")
    (document,) = received
    assert is_page(document.images[0], 1) and is_page(document.images[1], 2)
    (session,) = [e for e in device.log.events if e["ev"] == "session"]
    (ended,) = [e for e in device.log.events if e["ev"] == "ended"]
    assert session["jitter_ms"] == 40 and session["caller"] == "peer"
    assert ended["lost"] == 0 and ended["recovered"] > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_with_no_redundancy_loss_ends_in_comm_error_or_a_fallback_never_a_hang(spandsp, tmp_path,
                                                                               capsys, seed):  # fmt: skip
    status, out = replay_send(tmp_path, capsys, "[t38]\nloss = 0.1\nredundancy = 0\n", seed)
    assert status == 0, out  # every `until` held: the call ended and the machine is back
    entry = next(line for line in out.splitlines() if f"TX    {FAR}" in line)
    assert "COMM. ERROR" in entry or "OK" in entry
    (ended,) = device_events(tmp_path, "ended")
    assert ended["lost"] > 0 or ended["frames_bad"] > 0  # the damage showed
    (call,) = device_events(tmp_path, "call_ended")
    if "OK" in entry:  # a fallback got it through: SpanDSP has the pages
        assert call["result"] == "OK"
    else:
        assert call["pages"] < 2


def test_sending_to_a_busy_number_is_the_calls_outcome(spandsp, fax, tmp_path):
    fax.step("fault line.busy")
    device = fax.sim.add_t38_device("far", FAR)
    device.send(MAIN, page_tiff(tmp_path / "doc.tif", 1))
    assert device.calls[-1].result == "BUSY"
    with pytest.raises(ValueError, match="not a TIFF"):
        device.send(MAIN, page_png(tmp_path / "p.png", 1))


def test_a_device_name_or_number_taken_is_a_script_error(spandsp, tmp_path, capsys):
    script = tmp_path / "twice.txt"
    script.write_text(f"device far {FAR} spandsp-t38\ndevice other {FAR} spandsp-t38\n")
    assert main(["replay", str(script), "--relay", "none"]) == 2
    assert f"number {FAR} is taken" in capsys.readouterr().err
    script.write_text(f"device far {FAR} spandsp-t38 habit=slow_answer\n")
    assert main(["replay", str(script), "--relay", "none"]) == 2
    assert "habits are for simulated machines" in capsys.readouterr().err


def test_the_network_impairment_is_seeded(spandsp, tmp_path, capsys):
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        folder = tmp_path / name
        folder.mkdir()
        status, out = replay_send(folder, capsys, "[t38]\nloss = 0.05\njitter = 20\n", seed)
        assert status == 0, out
        runs[name] = (folder / "out" / "far" / "events.jsonl").read_text()
    assert runs["a"] == runs["b"]  # same seed, same drops and delays, same dialogue
    assert runs["a"] != runs["c"]


def test_a_spandsp_device_takes_no_key_steps(spandsp, tmp_path, capsys):
    script = tmp_path / "press.txt"
    script.write_text(f"device far {FAR} spandsp-t38\non far press START\n")
    assert main(["replay", str(script), "--relay", "none"]) == 2
    assert "far is a far-end device, not a machine" in capsys.readouterr().err
