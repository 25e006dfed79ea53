"""Our modem chip against SpanDSP's own fax terminal (its T.30, its modems) on an audio line.

A scripted T.30 side on a bare modem is enough to prove the modem: SpanDSP hears our CNG, DCS,
TCF and pages and files the page; our chip hears SpanDSP's CED, CNG, DIS, DCS, TCF and page data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from estudio190f.firmware.tiff_f import read_tiff_f, write_tiff_f
from estudio190f.hw.audio_line import FaxTerminalStation
from estudio190f.hw.modem import CARRIER_ON, TRAINED, ToneOn
from estudio190f.hw.spandsp import T30_ERR_OK, FaxTerminal

from .harness import AudioPair, ScriptedAnswerer, ScriptedCaller, chart_page, need_spandsp


def spandsp_pair(terminal: FaxTerminal, live: bool = False) -> AudioPair:
    return AudioPair(live=live, far=FaxTerminalStation(terminal))


@pytest.mark.parametrize(
    "modulation, ecm, live",
    [
        ("V.17/14400", False, False),
        ("V.29/9600", False, False),
        ("V.27ter/4800", False, False),
        ("V.17/14400", False, True),
        ("V.17/9600", True, False),
    ],
)
def test_spandsp_receives_our_page(tmp_path: Path, modulation: str, ecm: bool, live: bool) -> None:
    need_spandsp()
    page = chart_page(1, "fine")
    received = tmp_path / "rx.tif"
    terminal = FaxTerminal(False, ident="SPANDSP", rx_file=str(received), ecm=ecm)
    pair = spandsp_pair(terminal, live)
    caller = ScriptedCaller(pair.a.modem, page, modulation, ecm=ecm)
    pair.run(150, until=lambda: terminal.result is not None)

    assert terminal.result == T30_ERR_OK, terminal.result_text
    assert "ced" in caller.tones  # SpanDSP's answer tone, heard
    assert caller.names()[0][-1] == "DIS"  # its DIS, demodulated with a good FCS
    assert ["CFR"] in caller.names() and ["MCF"] in caller.names()
    assert terminal.remote_ident == "5551234"  # our TSI, from our V.21
    stats = terminal.stats()
    assert (stats.bit_rate, stats.pages_rx, stats.bad_rows) == (int(modulation.split("/")[1]), 1, 0)
    assert stats.ecm == ecm
    (got,) = read_tiff_f(received.read_bytes())
    assert np.array_equal(got.pixels, page.pixels)


@pytest.mark.parametrize("ecm", [False, True])
def test_we_receive_spandsps_page(tmp_path: Path, ecm: bool) -> None:
    need_spandsp()
    page = chart_page(2, "fine")
    document = tmp_path / "tx.tif"
    document.write_bytes(write_tiff_f([page]))
    terminal = FaxTerminal(True, ident="SPANDSP", tx_file=str(document), ecm=ecm)
    pair = spandsp_pair(terminal)
    answerer = ScriptedAnswerer(pair.a.modem, ecm=ecm)
    pair.run(120, until=lambda: terminal.result is not None)

    assert terminal.result == T30_ERR_OK, terminal.result_text
    assert "cng" in answerer.tones  # SpanDSP's calling tone
    assert answerer.names()[0] == ["TSI", "DCS"]
    assert answerer.params is not None and answerer.params.modulation == "V.17/14400"
    assert answerer.params.ecm == ecm
    assert answerer.tcf == [("V.17/14400", True)]  # its TCF passes the firmware's own check
    trained = [(s.modulation, s.short_train) for _, _, s in pair.a.heard if s.kind == TRAINED]
    assert trained == [("V.17/14400", False), ("V.17/14400", True)]  # TCF long, page short
    assert [p is not None and np.array_equal(p.pixels, page.pixels) for p in answerer.pages] == [
        True
    ]
    assert answerer.names()[-1] == ["DCN"]


def test_spandsp_falls_back_when_we_refuse_its_training(tmp_path: Path) -> None:
    """FTT from our side makes SpanDSP retrain one step down: our chip follows it (DCS, then the
    TCF at the new modulation)."""
    need_spandsp()
    document = tmp_path / "tx.tif"
    document.write_bytes(write_tiff_f([chart_page(3, "standard")]))
    terminal = FaxTerminal(True, ident="SPANDSP", tx_file=str(document))
    pair = spandsp_pair(terminal)
    answerer = ScriptedAnswerer(pair.a.modem)
    refused = {"V.17/14400"}

    def judge(data: bytes, _answer=answerer.on_fast_carrier_end) -> None:  # type: ignore[no-untyped-def]
        if answerer.step == "tcf" and answerer.params and answerer.params.modulation in refused:
            refused.discard(answerer.params.modulation)
            answerer.tcf.append((answerer.params.modulation, False))
            answerer.respond(b"\xff\x13\x44")  # FTT
            answerer.step = "wait_dcs"
            return
        _answer(data)

    answerer.on_fast_carrier_end = judge  # type: ignore[method-assign]
    pair.run(120, until=lambda: terminal.result is not None)
    assert terminal.result == T30_ERR_OK, terminal.result_text
    assert answerer.tcf == [("V.17/14400", False), ("V.17/12000", True)]
    ons = [
        s.modulation for _, _, s in pair.a.heard if s.kind == CARRIER_ON and s.modulation != "V.21"
    ]
    assert ons == ["V.17/14400", "V.17/12000", "V.17/12000"]
    assert terminal.stats().bit_rate == 12000
    assert any(isinstance(e, ToneOn) for _, e in pair.a.events)
