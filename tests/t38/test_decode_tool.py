"""`estudio190f decode`: a capture of a SpanDSP call through our T.38 layer, read back into its
T.30 frames and the page it carried; captures from elsewhere found by content; bad files refused
in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from estudio190f.hw.clock import MS
from estudio190f.hw.pcap import (
    LINKTYPE_RAW,
    ipv4_udp,
    pcap_header,
    pcap_record,
    read_capture,
    udp_datagram,
)
from estudio190f.hw.t38 import T38Config
from estudio190f.panel.cli import main

from .conftest import same_page, tiff_pages
from .link import captured_call

pytestmark = pytest.mark.usefixtures("spandsp")


def frame_lines(out: str) -> list[tuple[str, str]]:
    """(route, frame name) of the frame lines: '  12.345  A -> B  NAME  details'."""
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[2] == "->":
            rows.append((f"{parts[1]} -> {parts[3]}", parts[4]))
    return rows


@pytest.mark.parametrize("ecm", [False, True], ids=["non-ecm", "ecm"])
def test_a_capture_reads_back_into_frames_and_the_page(
    chart_tiff, chart_page, tmp_path, capsys, ecm
):
    _, capture = captured_call(chart_tiff, tmp_path / "rx.tif", ecm=ecm)
    path = tmp_path / "calls.pcap"
    path.write_bytes(capture)
    assert main(["decode", str(path), "--out", str(tmp_path / "docs")]) == 0
    out = capsys.readouterr().out
    rows = frame_lines(out)
    names = [name for _, name in rows if name not in ("FCD", "RCP")]
    post = "PPS" if ecm else "EOP"
    assert names == [
        "CSI",
        "DIS",
        "TSI",
        "DCS",
        "TCF",
        "CFR",
        *([] if ecm else ["page"]),
        post,
        "MCF",
        "DCN",
    ]
    to_spandsp = "10.0.0.2:6000 -> 10.0.0.1:6000"
    assert dict((n, r) for r, n in rows)["DIS"] == to_spandsp
    assert '"SPANDSP B"' in out and "V.17 14400, fine" in out  # CSI and DCS spelled out
    pages = tiff_pages(tmp_path / "docs" / "call1-doc1.tif")
    assert len(pages) == 1 and same_page(pages[0], chart_page)
    assert f"document 1, 1 page(s) -> {tmp_path / 'docs' / 'call1-doc1.tif'}" in out


def test_packets_lost_in_the_capture_come_back_from_redundancy(
    chart_tiff, chart_page, tmp_path, capsys
):
    result, capture = captured_call(
        chart_tiff, tmp_path / "rx.tif", ecm=True, loss=0.05, jitter=20 * MS, seed=3
    )
    assert result.b.result_text == "OK"
    path = tmp_path / "lossy.pcap"
    path.write_bytes(capture)
    assert main(["decode", str(path), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    rebuilt = int(header.split(" packets rebuilt")[0].rsplit(", ", 1)[1])
    assert rebuilt > 0 and header.endswith(", 0 lost")
    pages = tiff_pages(tmp_path / "call1-doc1.tif")
    assert len(pages) == 1 and same_page(pages[0], chart_page)


def test_t38_on_any_port_in_any_capture_is_found_by_its_content(chart_tiff, chart_page, tmp_path):
    """As a real network would give it: other addresses and ports, raw IP, other UDP traffic
    around it, T.38 in its 2002 coding, pcapng; run as a command."""
    config = T38Config(version=1)
    _, capture = captured_call(chart_tiff, tmp_path / "rx.tif", ecm=False, config=config)
    data = bytearray(pcap_header(LINKTYPE_RAW))
    for n, packet in enumerate(read_capture(capture)):
        d = udp_datagram(packet)
        forward = d.src == "10.0.0.1"
        src, dst = ("192.168.7.10", "172.16.0.9") if forward else ("172.16.0.9", "192.168.7.10")
        sport, dport = (40002, 5004) if forward else (5004, 40002)
        data += pcap_record(d.at, ipv4_udp(src, sport, dst, dport, d.payload))
        if n % 7 == 0:  # some RTP-like and DNS-like traffic beside it
            noise = bytes((0x80, 0x08)) + n.to_bytes(2, "big") + bytes(164)
            data += pcap_record(d.at, ipv4_udp("192.168.7.10", 16384, "172.16.0.9", 16386, noise))
            data += pcap_record(
                d.at, ipv4_udp("192.168.7.10", 5353, "224.0.0.251", 5353, b"\x00" * 12)
            )
    (tmp_path / "net.pcap").write_bytes(data)
    subprocess.run(["editcap", "-F", "pcapng", tmp_path / "net.pcap", tmp_path / "net.pcapng"],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-m", "estudio190f.panel.cli", "decode", tmp_path / "net.pcapng",
         "--out", tmp_path / "out"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("call 1: 172.16.0.9:5004 <-> 192.168.7.10:40002, T.38 version 1/1")
    assert sum(line.startswith("call ") for line in lines) == 2  # the call, and its document
    assert [n for _, n in frame_lines(run.stdout)][-3:] == ["EOP", "MCF", "DCN"]
    pages = tiff_pages(tmp_path / "out" / "call1-doc1.tif")
    assert len(pages) == 1 and same_page(pages[0], chart_page)


def test_a_truncated_or_foreign_file_is_one_line_and_status_2(chart_tiff, tmp_path, capsys):
    _, capture = captured_call(chart_tiff, tmp_path / "rx.tif", ecm=False)
    cases = {
        "cut.pcap": capture[: len(capture) // 2 + 7],
        "photo.pcap": b"\x89PNG\r\n\x1a\n" + bytes(100),
        "empty.pcap": b"",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    for name in [*cases, "missing.pcap"]:
        assert main(["decode", str(tmp_path / name)]) == 2, name
        out, err = capsys.readouterr()
        assert out == "" and len(err.splitlines()) == 1, err
        assert err.startswith(f"estudio190f decode: {tmp_path / name}: "), err
    assert "truncated capture" in _command_error(tmp_path / "cut.pcap")


def _command_error(path) -> str:
    """The command as a user runs it: status 2, one line, no traceback."""
    run = subprocess.run(
        [sys.executable, "-m", "estudio190f.panel.cli", "decode", path],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2 and run.stdout == ""
    assert len(run.stderr.splitlines()) == 1 and "Traceback" not in run.stderr, run.stderr
    return run.stderr


def test_a_capture_without_t38_says_so(tmp_path, capsys):
    data = pcap_header(LINKTYPE_RAW) + b"".join(
        pcap_record(n, ipv4_udp("10.1.1.1", 53, "10.1.1.2", 3333, b"\x12\x34" + bytes(30)))
        for n in range(10)
    )
    (tmp_path / "dns.pcap").write_bytes(data)
    assert main(["decode", str(tmp_path / "dns.pcap")]) == 1
    assert capsys.readouterr().out.strip() == f"no T.38 (UDPTL) traffic in {tmp_path / 'dns.pcap'}"
