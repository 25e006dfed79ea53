"""Image memory: pages waiting to be printed or sent, compressed, in battery-backed NVRAM.

Each page is one NVRAM record (kind `image_page`): its pixels compressed, and what it is
(resolution, size, the job it belongs to). A record is written whole or not at all, so a power
cut keeps every page that was stored and none half-stored. The capacity is `memory.size_kb` of
compressed data; a page that does not fit raises `MemoryFull` and nothing of it is kept (what
was stored before stays: the caller keeps or discards it, as the operator chooses).

Coding: `CODING` names how new pages are compressed: T.6 (MMR) through the machine's own codec
(`estudio190f.firmware.codec`, about 2 ms a page each way once numba has compiled it; ITU chart 1
at fine is 18 KiB), or, where numba is missing and the codec would run interpreted, packed bits
deflated (`"zbits"`, the same chart in 34 KiB). Each record names its coding, so pages stored
either way stay readable.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from estudio190f.hw.listeners import Listeners
from estudio190f.hw.nvram import Nvram

from . import codec
from .page import Page

KIND = "image_page"
CODING = "mmr" if codec.JIT_AVAILABLE else "zbits"


class MemoryFull(Exception):
    """The page does not fit in what is left of image memory."""

    def __init__(self, needed: int, free: int) -> None:
        super().__init__(f"image memory full: the page needs {needed} bytes, {free} are free")
        self.needed, self.free = needed, free


def compress(pixels: np.ndarray, coding: str | None = None) -> bytes:
    coding = coding or CODING
    if coding == "zbits":
        return zlib.compress(np.packbits(pixels, axis=1).tobytes(), 1)
    if coding == "mmr":
        return bytes(codec.encode(pixels, "mmr", rtc=True))
    raise ValueError(f"unknown image coding {coding!r}")


def decompress(data: bytes, coding: str, width: int, lines: int) -> np.ndarray:
    if coding == "zbits":
        packed = np.frombuffer(zlib.decompress(data), dtype=np.uint8).reshape(lines, -1)
        return np.unpackbits(packed, axis=1, count=width).astype(bool)
    if coding == "mmr":
        return codec.decode(data, "mmr", width=width, max_lines=lines).pixels
    raise ValueError(f"unknown image coding {coding!r}")


@dataclass
class StoredPage:
    id: int
    job: str
    index: int  # page number in its job, from 1
    resolution: str
    width: int
    lines: int
    size: int  # compressed bytes
    meta: dict[str, Any]


class ImageMemory:
    def __init__(self, nvram: Nvram, capacity_kb: int | Callable[[], int] = 4096) -> None:
        self.nvram = nvram
        self._capacity = capacity_kb
        # Called with the number of pages in memory after every change (the MEMORY LED).
        self.listeners: Listeners[[int]] = Listeners()

    # -- capacity ----------------------------------------------------------------------------
    @property
    def capacity(self) -> int:
        kb = self._capacity() if callable(self._capacity) else self._capacity
        return int(kb) * 1024

    @property
    def used(self) -> int:
        return self.nvram.bytes_used(KIND)

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.used)

    # -- pages -------------------------------------------------------------------------------
    def store(self, page: Page, job: str, index: int, **meta: Any) -> StoredPage:
        """Keep `page` as page `index` of `job`; MemoryFull if it does not fit."""
        coding = CODING
        data = compress(page.pixels, coding)
        free = self.free
        if len(data) > free:
            raise MemoryFull(len(data), free)
        info = {"job": job, "index": index, "resolution": page.resolution, "width": page.width,
                "lines": page.lines, "coding": coding, "size": len(data), **meta}  # fmt: skip
        record_id = self.nvram.add_record(KIND, info, data)
        self._changed()
        return self._stored(record_id, info)

    def load(self, page_id: int) -> Page:
        record = self.nvram.record(page_id)
        if record is None or record.kind != KIND or record.data is None:
            raise KeyError(f"no page {page_id} in image memory")
        m = record.meta
        pixels = decompress(record.data, m["coding"], m["width"], m["lines"])
        return Page(pixels, m["resolution"])

    def pages(self, job: str | None = None) -> list[StoredPage]:
        """Pages in memory (of one job, in page order), oldest first."""
        found = [
            self._stored(r.id, r.meta)
            for r in self.nvram.records(KIND)
            if job is None or r.meta.get("job") == job
        ]
        return sorted(found, key=lambda p: (p.index, p.id)) if job is not None else found

    def count(self) -> int:
        return self.nvram.count(KIND)

    def discard_job(self, job: str) -> int:
        pages = self.pages(job)
        with self.nvram.transaction():
            for page in pages:
                self.nvram.delete_record(page.id)
        if pages:
            self._changed()
        return len(pages)

    def clear(self) -> None:
        """Service-mode MEMORY CLEAR."""
        self.nvram.delete_records(KIND)
        self._changed()

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _stored(record_id: int, meta: dict[str, Any]) -> StoredPage:
        return StoredPage(record_id, str(meta.get("job", "")), int(meta.get("index", 0)),
                          str(meta["resolution"]), int(meta["width"]), int(meta["lines"]),
                          int(meta.get("size", 0)), meta)  # fmt: skip

    def _changed(self) -> None:
        self.listeners(self.count())
