"""Every ITU chart, at each resolution and coding, with and without ECM, sent from the panel of one
machine to another: the pages the receiver decodes (before printing) are the pages the sender
scanned, pixel for pixel."""

from __future__ import annotations

import pytest

from .conftest import BRANCH, same

RESOLUTIONS = ("standard", "fine", "superfine")
MODES = (("mh", "off"), ("mr", "off"), ("mmr", "off"), ("mh", "on"), ("mr", "on"), ("mmr", "on"))
# What the call codes with: MMR is offered only with ECM, so without ECM it is MR.
USED = {("mmr", "off"): "mr"}


@pytest.mark.parametrize("coding,ecm", MODES, ids=[f"{c}-ecm_{e}" for c, e in MODES])
@pytest.mark.parametrize("resolution", RESOLUTIONS)
def test_every_chart_arrives_as_scanned(link, charts, resolution, coding, ecm):
    main, branch = link
    for station in link:
        station.set(modem_coding=coding, modem_ecm=ecm, transmit_header="off",
                    scan_resolution=resolution)  # fmt: skip
    main.step("adf load " + " ".join(str(p) for p in charts(1, 2, 3, 4)))
    main.press(*BRANCH, "START")
    main.step('until lcd "COMPLETED" within 10m')
    scanned = main.scanned_pages()
    received = branch.received_pages()
    assert len(scanned) == 4 and len(received) == 4
    assert all(p.resolution == resolution for p in received)
    for got, sent in zip(received, scanned, strict=True):
        assert same(got, sent)
    _, result = branch.results[-1]
    assert result.ok and result.params is not None
    assert result.params.coding == USED.get((coding, ecm), coding)
    assert result.params.ecm == (ecm == "on")
