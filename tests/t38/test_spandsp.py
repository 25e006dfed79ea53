"""Our T.38 layer against SpanDSP's t38_terminal (Debian libspandsp2 0.0.6, through ctypes):
the packets SpanDSP sends decode with our IFP codec, ours are accepted by SpanDSP, and two SpanDSP
terminals fax ITU chart 1 to each other through our UDPTL, IFP and modem-signal path, with and
without ECM, through loss and jitter, in virtual time."""

from __future__ import annotations

import ctypes.util
from collections import Counter
from pathlib import Path

import pytest

from estudio190f.firmware.t30.frames import parse_frame
from estudio190f.hw import spandsp
from estudio190f.hw.clock import MS, SECOND
from estudio190f.hw.spandsp import RESULT_OK, SpanDspMissing, T38Terminal, load_spandsp
from estudio190f.hw.t38 import T38Config
from estudio190f.hw.t38_ifp import (
    DATA_TYPES,
    FIELD_TYPES,
    INDICATOR_TYPES,
    T38Data,
    T38Field,
    T38Indicator,
    decode_ifp,
    describe_ifp,
    encode_ifp,
)

from .conftest import same_page, tiff_pages
from .link import STEP, T38Call

pytestmark = pytest.mark.usefixtures("spandsp")


def frame_names(terminal: T38Terminal, direction: str) -> list[str]:
    return [parse_frame(f).name for d, f in terminal.frames if d == direction]


def direct_call(tx: Path, rx: Path, ecm: bool) -> tuple[list[bytes], T38Terminal, T38Terminal]:
    """Two SpanDSP terminals wired IFP to IFP (no UDPTL, nothing of ours in between)."""
    sent: list[bytes] = []
    inbox: tuple[list[bytes], list[bytes]] = ([], [])

    def to(i: int):
        return lambda ifp, _repeats: (sent.append(ifp), inbox[i].append(ifp))

    a = T38Terminal(calling=True, on_packet=to(1), tx_file=tx, ecm=ecm, ident="SPANDSP A")
    b = T38Terminal(calling=False, on_packet=to(0), rx_file=rx, ecm=ecm, ident="SPANDSP B")
    seq = [0, 0]
    for _ in range(int(120 * SECOND // STEP)):
        for i, terminal in enumerate((a, b)):
            for ifp in inbox[i]:
                terminal.receive_ifp(ifp, seq[i])
                seq[i] += 1
            inbox[i].clear()
        a.advance(160)
        b.advance(160)
        if a.done and b.done:
            break
    return sent, a, b


@pytest.mark.parametrize("ecm", [False, True], ids=["non-ecm", "ecm"])
def test_every_packet_spandsp_sends_decodes_with_our_codec(chart_tiff, tmp_path, ecm):
    sent, a, b = direct_call(chart_tiff, tmp_path / "rx.tif", ecm)
    assert a.result == b.result == RESULT_OK
    kinds = Counter()
    for ifp in sent:
        packet = decode_ifp(ifp, 0)
        assert encode_ifp(packet, 0) == ifp  # and ours codes it the same, octet for octet
        kinds[describe_ifp(packet).split(" (")[0]] += 1
    expected = {
        "t30ind: cng",
        "t30ind: ced",
        "t30ind: no-signal",
        "t30ind: v21-preamble",
        "t30ind: v17-14400-long-training",
        "t30ind: v17-14400-short-training",
        "v21: hdlc-data",
        "v21: hdlc-fcs-OK",
        "v21: hdlc-fcs-OK-sig-end",
        "v17-14400: t4-non-ecm-data",  # TCF, and the page without ECM
        "v17-14400: t4-non-ecm-sig-end",
    }
    if ecm:
        expected |= {"v17-14400: hdlc-data", "v17-14400: hdlc-fcs-OK"}
    assert expected <= set(kinds)


@pytest.mark.parametrize("version", [0, 1, 2])
def test_every_packet_we_send_is_accepted_by_spandsp(version):
    packets: list[T38Indicator | T38Data] = [T38Indicator(k.name) for k in INDICATOR_TYPES[:16]]
    for dtype in DATA_TYPES[:9]:
        for ftype in FIELD_TYPES[:8]:
            for data in (b"", b"\x7e\x01"):
                packets.append(T38Data(dtype.name, (T38Field(ftype.name, data),)))
        packets.append(
            T38Data(dtype.name, (T38Field("hdlc-data", b"\xff\xc8"), T38Field("hdlc-fcs-OK")))
        )
    terminal = T38Terminal(calling=False, on_packet=lambda ifp, n: None, version=version)
    try:
        for seq, packet in enumerate(packets):
            assert terminal.receive_ifp(encode_ifp(packet, version), seq), describe_ifp(packet)
        # and SpanDSP does refuse what is not a packet: the check above can fail
        assert not terminal.receive_ifp(bytes.fromhex("c0 01 80 0005 aa"), len(packets))
    finally:
        terminal.close()


@pytest.mark.parametrize("ecm", [False, True], ids=["non-ecm", "ecm"])
def test_a_page_crosses_our_t38_layer_whole(chart_tiff, chart_page, tmp_path, ecm):
    rx = tmp_path / "rx.tif"
    result = T38Call(chart_tiff, rx, ecm=ecm).run()
    assert result.finished
    assert (result.a.result_text, result.b.result_text) == ("OK", "OK")
    pages = tiff_pages(rx)
    assert len(pages) == 1 and same_page(pages[0], chart_page)
    assert result.b.stats().ecm is ecm and result.b.stats().bit_rate == 14400
    # the T.30 dialogue each side saw, through our endpoints
    sent = frame_names(result.a, "tx")
    assert sent[:2] == ["TSI", "DCS"] and sent[-1] == "DCN"
    assert frame_names(result.b, "rx") == sent  # B received exactly what A sent
    assert frame_names(result.b, "tx")[:3] == ["CSI", "DIS", "CFR"]
    assert result.seconds < 40  # the air time of a fine page at 14400, plus the dialogue


@pytest.mark.parametrize("ecm", [False, True], ids=["non-ecm", "ecm"])
def test_with_five_percent_loss_and_redundancy_3_the_page_arrives_whole(
    chart_tiff, chart_page, tmp_path, ecm
):
    rx = tmp_path / "rx.tif"
    config = T38Config(redundancy=3, image_redundancy=3)
    result = T38Call(chart_tiff, rx, ecm=ecm, config=config, loss=0.05, seed=11).run()
    assert (result.a.result_text, result.b.result_text) == ("OK", "OK")
    pages = tiff_pages(rx)
    assert len(pages) == 1 and same_page(pages[0], chart_page)
    udptl = result.x.stats.udptl
    assert udptl.recovered > 10  # losses happened, and redundancy brought them back
    assert result.x.stats.udptl.lost == 0 and result.y.stats.udptl.lost == 0


def test_with_ecm_the_default_redundancy_and_loss_and_jitter_still_bring_the_page(
    chart_tiff, chart_page, tmp_path
):
    rx = tmp_path / "rx.tif"
    result = T38Call(chart_tiff, rx, ecm=True, loss=0.05, jitter=30 * MS, seed=4).run()
    assert (result.a.result_text, result.b.result_text) == ("OK", "OK")
    pages = tiff_pages(rx)
    assert len(pages) == 1 and same_page(pages[0], chart_page)


@pytest.mark.parametrize("ecm", [False, True], ids=["non-ecm", "ecm"])
def test_with_loss_and_no_redundancy_the_call_ends_and_the_damage_shows(
    chart_tiff, chart_page, tmp_path, ecm
):
    rx = tmp_path / "rx.tif"
    config = T38Config(redundancy=0, image_redundancy=0)
    result = T38Call(chart_tiff, rx, ecm=ecm, config=config, loss=0.05, seed=1).run(
        limit=300 * SECOND
    )
    assert result.finished  # both ends reached phase E: nothing hung
    assert result.x.stats.udptl.lost > 0
    pages = tiff_pages(rx)
    if ecm:
        # ECM cannot take a damaged page: the call fails with a T.30 result, and no page
        assert result.a.result != RESULT_OK and result.b.result != RESULT_OK
        assert pages == []
    else:
        # without ECM the lost packets are lost lines: the page is not the one sent
        assert len(pages) <= 1
        assert not pages or not same_page(pages[0], chart_page)


def test_a_missing_library_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(spandsp, "_library", None)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    with pytest.raises(
        SpanDspMissing, match=r"^libspandsp is not installed \(Debian package libspandsp2\)$"
    ):
        load_spandsp()
