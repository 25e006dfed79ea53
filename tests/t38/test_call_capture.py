"""`--capture`: every call of a simulation, whatever carried it, in --out/calls.pcap, read by
Wireshark's tshark and by `estudio190f decode`; a password never reaches the file."""

from __future__ import annotations

from conftest import need_program  # tests/conftest.py

from estudio190f.hw.pcap import read_capture, udp_datagram
from estudio190f.panel.cli import main

from .pages import SAME_ON_PAPER, is_page, page_png, t30_frames, tiff_pages

PASSWORD = "8642"

TWO_CALLS = """\
device branch 5559876
adf load p1.png
press 5 5 5 9 8 7 6 START
until lcd "COMPLETED" within 3m
on branch until printed 1 within 1m
on branch until lcd "FAX READY" within 1m
on branch adf load p2.png
on branch press FUNCTION 6 6
on branch until lcd "POLLING DOCUMENT" within 1m
until lcd "FAX READY" within 1m
press 5 5 5 9 8 7 6 FUNCTION 2
expect lcd "POLLING" line 1
press START
until lcd "COMPLETED" within 3m
"""

TO_DEVICE = """\
device far 5559876 spandsp-t38
adf load p1.png
press 5 5 5 9 8 7 6 START
until lcd "COMPLETED" within 3m
"""


def replay(tmp_path, script: str, settings: str) -> tuple[int, str]:
    for n in (1, 2):
        page_png(tmp_path / f"p{n}.png", n)
    (tmp_path / "script.txt").write_text(script)
    (tmp_path / "settings.toml").write_text(settings)
    status = main(["replay", str(tmp_path / "script.txt"), "--config",
                   str(tmp_path / "settings.toml"), "--out", str(tmp_path / "out"),
                   "--relay", "none", "--capture"])  # fmt: skip
    return status, str(tmp_path / "out" / "calls.pcap")


def test_two_calls_between_machines_read_in_tshark_in_order(tmp_path, capsys):
    need_program("tshark")
    status, capture = replay(
        tmp_path, TWO_CALLS, SAME_ON_PAPER + f'[polling]\npassword = "{PASSWORD}"\n'
    )
    assert status == 0, capsys.readouterr()
    main_ip, branch_ip = "10.0.0.1", "10.0.0.2"  # main spoke first (CNG)
    m, b = main_ip, branch_ip
    send = [(b, "NSF"), (b, "CSI"), (b, "DIS"), (m, "TSI"), (m, "DCS"), (b, "CFR"), (m, "FCD"),
            (m, "RCP"), (m, "PPS"), (b, "MCF"), (m, "DCN")]  # fmt: skip
    # polling: the poller's NSC, CIG and DTC show as NSF, CSI and DIS; its PWD as <unknown>
    poll = [(b, "NSF"), (b, "CSI"), (b, "DIS"), (m, "NSF"), (m, "CSI"), (m, "DIS"), (b, "TSI"),
            (b, "DCS"), (m, "CFR"), (b, "FCD"), (b, "RCP"), (b, "PPS"), (m, "MCF"), (b, "DCN")]  # fmt: skip
    assert t30_frames(capture) == send + poll


def test_the_password_never_reaches_the_capture_and_decode_reads_both_calls(tmp_path, capsys):
    status, capture = replay(
        tmp_path, TWO_CALLS, SAME_ON_PAPER + f'[polling]\npassword = "{PASSWORD}"\n'
    )
    assert status == 0
    data = open(capture, "rb").read()
    for form in (PASSWORD.encode(), PASSWORD[::-1].encode()):
        for octets in (form, bytes(int(f"{b:08b}"[::-1], 2) for b in form)):
            assert octets not in data
    # both ends on UDP port 6000, one address per station
    datagrams = [udp_datagram(p) for p in read_capture(data)]
    assert {(d.sport, d.dport) for d in datagrams} == {(6000, 6000)}
    assert {d.src for d in datagrams} == {"10.0.0.1", "10.0.0.2"}
    capsys.readouterr()
    assert main(["decode", capture, "--out", str(tmp_path / "decoded")]) == 0
    out = capsys.readouterr().out
    assert "call 1: " in out and "call 2: " in out
    assert "PWD  password (polling) (0 characters, not shown)" in out
    (page,) = tiff_pages(tmp_path / "decoded" / "call1-doc1.tif")
    assert is_page(page, 1)  # what main sent, pel for pel
    assert len(tiff_pages(tmp_path / "decoded" / "call2-doc1.tif")) == 1


def test_a_call_with_a_t38_far_end_is_captured_too(spandsp, tmp_path, capsys):
    need_program("tshark")
    status, capture = replay(tmp_path, TO_DEVICE, SAME_ON_PAPER + '[modem]\necm = "off"\n')
    assert status == 0, capsys.readouterr()
    m, far = "10.0.0.1", "10.0.0.2"
    assert t30_frames(capture) == [
        (far, "CSI"), (far, "DIS"), (m, "TSI"), (m, "DCS"), (far, "CFR"), (m, "EOP"),
        (far, "MCF"), (m, "DCN"),
    ]  # fmt: skip
    assert main(["decode", capture, "--out", str(tmp_path / "decoded")]) == 0
    (page,) = tiff_pages(tmp_path / "decoded" / "call1-doc1.tif")
    assert is_page(page, 1)


def test_capture_needs_an_output_folder(tmp_path, capsys):
    (tmp_path / "s.txt").write_text("wait 1s\n")
    assert main(["replay", str(tmp_path / "s.txt"), "--capture"]) == 2
    assert "--capture needs --out" in capsys.readouterr().err
