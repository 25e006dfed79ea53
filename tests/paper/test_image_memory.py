"""Image memory: pages kept compressed in NVRAM, a capacity, and either coding readable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from estudio190f.firmware import image_memory
from estudio190f.firmware.image_memory import ImageMemory, MemoryFull
from estudio190f.firmware.page import Page
from estudio190f.hw.nvram import Nvram


@pytest.mark.parametrize("coding", ["zbits", "mmr"])
def test_a_chart_comes_back_from_memory_exactly(chart, coding: str) -> None:
    pixels = ~np.asarray(Image.open(chart(1)), dtype=bool)
    data = image_memory.compress(pixels, coding)
    assert len(data) < pixels.size // 8 // 10  # a text page shrinks more than tenfold
    assert np.array_equal(image_memory.decompress(data, coding, 1728, pixels.shape[0]), pixels)


def test_a_page_that_does_not_fit_leaves_the_others(chart) -> None:
    pixels = ~np.asarray(Image.open(chart(3)), dtype=bool)
    one = len(image_memory.compress(pixels))
    memory = ImageMemory(Nvram(), capacity_kb=(one * 2 + one // 2) // 1024 + 1)
    counts: list[int] = []
    memory.listeners.add(counts.append)
    memory.store(Page(pixels, "fine"), "J1", 1)
    memory.store(Page(pixels, "fine"), "J1", 2)
    with pytest.raises(MemoryFull):
        memory.store(Page(pixels, "fine"), "J1", 3)
    assert [p.index for p in memory.pages("J1")] == [1, 2]
    assert counts == [1, 2]
    assert memory.discard_job("J1") == 2 and memory.count() == 0 and counts[-1] == 0


def test_pages_stay_in_nvram_across_a_restart(tmp_path: Path) -> None:
    page = Page(np.eye(1728, dtype=bool)[:1000], "standard")
    stored = ImageMemory(Nvram(tmp_path)).store(page, "J7", 1)
    again = ImageMemory(Nvram(tmp_path))
    back = again.load(stored.id)
    assert back.resolution == "standard" and np.array_equal(back.pixels, page.pixels)


def test_a_page_stored_in_the_old_coding_is_still_read(monkeypatch) -> None:
    memory = ImageMemory(Nvram())
    monkeypatch.setattr(image_memory, "CODING", "zbits")
    page = Page(np.tri(500, 1728, dtype=bool), "fine")
    stored = memory.store(page, "J1", 1)
    monkeypatch.setattr(image_memory, "CODING", "mmr")
    assert np.array_equal(memory.load(stored.id).pixels, page.pixels)
