"""A call on the virtual line captured as T.38 (`CallCapture`): Wireshark lists its T.30 frames,
`decode` gets the page back, and a password never reaches the file."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
from conftest import need_program  # tests/conftest.py

from estudio190f.firmware.codec import encode
from estudio190f.firmware.page import Page
from estudio190f.firmware.t30.capabilities import Capabilities, DcsParams
from estudio190f.firmware.t30.frames import FrameError, encode_ident, make_frame, parse_frame
from estudio190f.firmware.t30.trace import SECRET_FRAMES
from estudio190f.hw.clock import MS, SECOND, Clock
from estudio190f.hw.line import PhoneNetwork
from estudio190f.hw.modem import Modem
from estudio190f.hw.t38_capture import CallCapture
from estudio190f.panel.cli import main

from .conftest import same_page, tiff_pages

PASSWORD = "4711"
PARAMS = DcsParams(modulation="V.17/14400", resolution="standard", coding="mh")


def redact(frame: bytes) -> bytes:
    """What the runner will pass: the frames of the firmware's secret list keep their length,
    their information field becomes spaces."""
    try:
        parsed = parse_frame(frame)
    except FrameError:
        return frame
    if parsed.type is not None and parsed.type.name in SECRET_FRAMES:
        return frame[:3] + b" " * len(parsed.fif)
    return frame


def the_page() -> Page:
    pixels = np.zeros((200, 1728), dtype=bool)
    pixels[40:80, 300:900] = True
    pixels[120:130, :] = True
    return Page(pixels, "standard")


def captured_line_call(tmp_path) -> bytes:
    clock = Clock()
    network = PhoneNetwork(clock)
    lines = [network.add_line(n) for n in ("5551234", "5559876")]
    modems = [Modem(clock), Modem(clock)]
    for line, modem in zip(lines, modems, strict=True):
        line.attach_modem(modem)
        modem.receive("V.21", "V.17/14400")
    capture = CallCapture(redact=redact)
    out = bytearray(capture.header())
    for line, station, far in ((lines[0], "main", "branch"), (lines[1], "branch", "main")):
        send = line.transmit

        def tap(signal, send=send, station=station, far=far):  # the hook phase 2 adds to the line
            out.extend(capture.signal(clock.now, station, far, signal))
            send(signal)

        line.transmit = tap
    lines[1].listeners.add(lambda e: lines[1].go_off_hook() if e.kind == "ring" else None)
    lines[0].dial("5559876")
    clock.advance(10 * SECOND)
    a, b = modems
    b.send_tone("ced")
    b.send_silence(75 * MS)
    t = b.send_hdlc([make_frame("CSI", encode_ident("5559876"), final=False),
                     make_frame("DIS", Capabilities().encode())])  # fmt: skip
    data = encode(the_page().pixels, "mh")

    def caller() -> None:
        a.send_hdlc([make_frame("SID", encode_ident(PASSWORD), final=False, x=1),
                     make_frame("DCS", PARAMS.encode(), x=1)])  # fmt: skip
        a.send_silence(75 * MS)
        a.send_data(bytes(2700), "V.17/14400")

    def page() -> None:
        a.send_data(data, "V.17/14400")
        a.send_silence(75 * MS)
        a.send_hdlc([make_frame("EOP", x=1)])

    clock.call_at(t + 100 * MS, caller)
    clock.call_at(t + 5 * SECOND, lambda: b.send_hdlc([make_frame("CFR")]))
    clock.call_at(t + 7 * SECOND, page)
    clock.call_at(t + 12 * SECOND, lambda: b.send_hdlc([make_frame("MCF")]))
    clock.call_at(t + 15 * SECOND, lambda: a.send_hdlc([make_frame("DCN", x=1)]))
    clock.advance(30 * SECOND)
    path = tmp_path / "calls.pcap"
    path.write_bytes(out)
    return bytes(out)


def test_a_line_call_captured_reads_in_tshark_and_keeps_the_password_out(tmp_path):
    need_program("tshark")
    data = captured_line_call(tmp_path)
    out = subprocess.run(
        ["tshark", "-r", tmp_path / "calls.pcap", "-d", "udp.port==6000,t38", "-Y", "t30",
         "-T", "fields", "-e", "ip.src", "-e", "_ws.col.Info"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    frames = [
        (line.split("\t")[0], name)
        for line in out.splitlines()
        for name in re.findall(r"HDLC Reassembled: ([A-Z]+) -", line)
    ]
    main_ip, branch_ip = "10.0.0.2", "10.0.0.1"  # branch sent first (CED)
    assert frames == [
        (branch_ip, "CSI"), (branch_ip, "DIS"), (main_ip, "SID"), (main_ip, "DCS"),
        (branch_ip, "CFR"), (main_ip, "EOP"), (branch_ip, "MCF"), (main_ip, "DCN"),
    ]  # fmt: skip
    for form in (PASSWORD.encode(), PASSWORD[::-1].encode()):
        for octets in (form, bytes(int(f"{b:08b}"[::-1], 2) for b in form)):
            assert octets not in data


def test_decode_gets_the_page_of_a_line_call_back(tmp_path, capsys):
    captured_line_call(tmp_path)
    assert main(["decode", str(tmp_path / "calls.pcap"), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    # the capture holds the SID frame with spaces where the password was
    assert "SID  sender identification (password for transmission) (0 characters, not shown)" in out
    pages = tiff_pages(tmp_path / "call1-doc1.tif")
    assert len(pages) == 1 and same_page(pages[0], the_page())


@pytest.mark.parametrize("first", ["main", "branch"])
def test_each_call_starts_its_numbering_afresh(first):
    from estudio190f.hw.modem import CARRIER_ON, Signal
    from estudio190f.hw.pcap import read_capture, udp_datagram
    from estudio190f.hw.udptl import decode_udptl

    capture = CallCapture()
    other = "branch" if first == "main" else "main"
    records = capture.header() + capture.signal(0, first, other, Signal(CARRIER_ON, "V.21"))
    capture.end_call(other, first)
    records += capture.signal(SECOND, first, other, Signal(CARRIER_ON, "V.21"))
    seqs = [decode_udptl(udp_datagram(p).payload).seq for p in read_capture(records)]
    assert seqs == [0, 0, 0, 0, 0, 0]  # three copies of the indicator, each call from 0
