"""Wireshark reads our captures: `tshark -r calls.pcap -d udp.port==6000,t38 -Y t30` lists the
call's T.30 frames in order, dissected from the T.38 packets our endpoint sent (and SpanDSP's),
by Wireshark's own T.38 and T.30 dissectors."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import need_program  # tests/conftest.py

from .link import captured_call

pytestmark = pytest.mark.usefixtures("spandsp")


def tshark_t30(path: Path) -> list[tuple[str, str]]:
    """(source address, frame name) of each T.30 frame tshark finds, in order."""
    need_program("tshark")
    out = subprocess.run(
        ["tshark", "-r", path, "-d", "udp.port==6000,t38", "-Y", "t30",
         "-T", "fields", "-e", "ip.src", "-e", "_ws.col.Info"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    frames = []
    for line in out.splitlines():
        source, info = line.split("\t", 1)
        for name in re.findall(r"HDLC Reassembled: ([A-Z]+) -", info):
            frames.append((source, name))
    return frames


@pytest.mark.parametrize("ecm", [False, True], ids=["non-ecm", "ecm"])
def test_tshark_lists_the_t30_frames_of_a_call_in_order(chart_tiff, tmp_path, ecm):
    result, capture = captured_call(chart_tiff, tmp_path / "rx.tif", ecm=ecm)
    assert result.a.result_text == "OK"
    path = tmp_path / "calls.pcap"
    path.write_bytes(capture)
    frames = tshark_t30(path)
    ours, spandsp = "10.0.0.2", "10.0.0.1"  # our endpoint X answers for SpanDSP B
    names = [name for _, name in frames]
    if ecm:
        fcd = names.count("FCD")
        assert fcd > 50  # every image frame of the block, one T.30 frame each
        names = [n for n in names if n not in ("FCD", "RCP")]
        assert names == ["CSI", "DIS", "TSI", "DCS", "CFR", "PPS", "MCF", "DCN"]
    else:
        assert names == ["CSI", "DIS", "TSI", "DCS", "CFR", "EOP", "MCF", "DCN"]
    sources = {name: source for source, name in frames}
    assert sources["CSI"] == sources["DIS"] == sources["CFR"] == sources["MCF"] == ours
    assert sources["TSI"] == sources["DCS"] == sources["DCN"] == spandsp
