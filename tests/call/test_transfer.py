"""Pages sent back to back arrive pixel-identical: every ITU chart at each resolution and coding,
with and without ECM, as the receiving machine decodes them."""

from __future__ import annotations

import numpy as np
import pytest

from call.pair import ANSWERER, CALLER, StationPair, chart_page
from estudio190f.firmware.t30.session import StationConfig

RESOLUTIONS = ("standard", "fine", "superfine")
MODES = (("mh", False), ("mr", False), ("mh", True), ("mr", True), ("mmr", True))


@pytest.mark.parametrize(
    "coding,ecm", MODES, ids=[f"{c}-{'ecm' if e else 'plain'}" for c, e in MODES]
)
@pytest.mark.parametrize("resolution", RESOLUTIONS)
@pytest.mark.parametrize("n", (1, 2, 3, 4))
def test_chart_arrives_identical(n: int, resolution: str, coding: str, ecm: bool) -> None:
    page = chart_page(n, resolution)
    pair = StationPair(
        caller=StationConfig(ident=CALLER, coding=coding, ecm=ecm),
        answerer=StationConfig(ident=ANSWERER, coding=coding, ecm=ecm),
    )
    result = pair.send([page])
    assert result.ok, result.outcome
    assert pair.rx.ok
    assert result.params is not None
    assert (result.params.coding, result.params.ecm, result.params.resolution) == (
        coding,
        ecm,
        resolution,
    )
    [received] = pair.rx.received
    assert received.page is not None
    assert received.page.resolution == resolution
    assert received.bad_lines == 0
    assert np.array_equal(received.page.pixels, page.pixels)


def test_three_pages_arrive_in_order_once_each() -> None:
    pages = [chart_page(n, "standard") for n in (1, 2, 3)]
    pair = StationPair(caller=StationConfig(ident=CALLER, ecm=False))
    result = pair.send(pages)
    assert result.ok
    assert result.pages_confirmed == [1, 2, 3]
    assert [r.number for r in pair.rx.received] == [1, 2, 3]
    for sent, got in zip(pages, pair.rx.received, strict=True):
        assert got.page is not None and np.array_equal(got.page.pixels, sent.pixels)
    assert StationPair.frames(pair.a, "send") == ["TSI", "DCS", "MPS", "MPS", "EOP", "DCN"]
    assert StationPair.frames(pair.b, "send") == ["CSI", "DIS", "CFR", "MCF", "MCF", "MCF"]


def test_ecm_pages_are_confirmed_block_by_block() -> None:
    pages = [chart_page(n, "fine") for n in (1, 4)]
    pair = StationPair()
    result = pair.send(pages)
    assert result.ok and result.params is not None and result.params.ecm
    assert result.pages_confirmed == [1, 2]
    pps = [e["info"] for e in StationPair.events(pair.a, "t30", "send") if e["frame"] == "PPS"]
    # chart 4 in MMR is over 64 KiB: two blocks, the first ending with PPS-NULL
    assert pps[0].startswith("EOP") is False and pps[0].startswith("MPS, page 0, block 0")
    assert any(info.startswith("NULL, page 1, block 0, 256 frames") for info in pps)
    assert pps[-1].startswith("EOP, page 1, block 1")
    for page, got in zip(pages, pair.rx.received, strict=True):
        assert got.page is not None and np.array_equal(got.page.pixels, page.pixels)


def test_pages_of_different_resolution_go_through_eom() -> None:
    pages = [chart_page(1, "fine"), chart_page(2, "standard")]
    pair = StationPair(caller=StationConfig(ident=CALLER, ecm=False))
    result = pair.send(pages)
    assert result.ok
    sent = StationPair.frames(pair.a, "send")
    assert sent == ["TSI", "DCS", "EOM", "TSI", "DCS", "EOP", "DCN"]
    assert [r.page.resolution for r in pair.rx.received if r.page] == ["fine", "standard"]
    for page, got in zip(pages, pair.rx.received, strict=True):
        assert got.page is not None and np.array_equal(got.page.pixels, page.pixels)


def test_superfine_page_to_a_fine_only_receiver_is_sent_fine() -> None:
    page = chart_page(1, "superfine")
    pair = StationPair(answerer=StationConfig(ident=ANSWERER, superfine=False))
    result = pair.send([page])
    assert result.ok
    [got] = pair.rx.received
    assert got.page is not None and got.page.resolution == "fine"
    assert np.array_equal(got.page.pixels, page.pixels[::2])


def test_mmr_is_used_only_with_ecm() -> None:
    page = chart_page(1, "fine")
    pair = StationPair(caller=StationConfig(ident=CALLER, ecm=False, coding="mmr"))
    result = pair.send([page])
    assert result.ok
    assert result.params is not None and (result.params.coding, result.params.ecm) == ("mr", False)
