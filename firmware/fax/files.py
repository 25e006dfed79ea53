"""Memory files: documents scanned for sending (or for being polled), kept in battery-backed memory.

A memory file is numbered F-001 ... F-999 (the F field of the transmit header); its pages are in
image memory (`ImageMemory`, job name "F-nnn") and the file itself is one NVRAM record of kind
`fax_file` that says what it is for, where it goes and how far each destination got:

- `purpose`: "send" (memory transmission, broadcast, delayed transmission) or "polling" (a
  document waiting for a remote machine to poll it);
- `state`: "scanning" while pages are being stored, then "ready";
- `destinations`: one per number, with its state (pending, done, failed, cancelled), the pages
  the far end confirmed (so a call that drops is resumed without losing or doubling a page), the
  redials used and when the next attempt is due (calendar time on the machine's RTC, so a due time
  survives a power cut and a restart from the state directory);
- `send_at`: a delayed transmission's time (calendar time), empty for "now".

Every change is one NVRAM write, so a power cut leaves a file as it was before or after it.
Transmission serials (T-nnn of the header) are counted here as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Literal

from estudio190f.hw.nvram import Nvram

from ..image_memory import ImageMemory
from ..page import Page

KIND = "fax_file"
COUNTER_NS = "counters"
FILE_COUNTER = "fax_file"
SERIAL_COUNTER = "fax_serial"
MAX_FILE_NO = 999
RECENT_PAGES = 32  # pages kept in RAM as scanned (a full feeder and then some)


DestinationState = Literal["pending", "done", "failed", "cancelled"]


@dataclass
class Destination:
    number: str
    state: DestinationState = "pending"
    confirmed: list[int] = field(default_factory=list)  # page numbers the far end has taken
    redials: int = 0  # attempts that failed with busy, no answer or a drop, redialled after
    due: str = ""  # ISO calendar time of the next attempt ("" = as soon as the line is free)
    result: str = ""  # last result: OK or the LCD word
    code: str = ""  # last information code


@dataclass
class CallRecord:
    """One call of a file's transmission, for the transmission report."""

    when: str  # "MM-DD-YYYY HH:MM" as the call began
    number: str
    remote: str  # the far end's identification
    serial: int  # T-nnn
    pages: list[int]  # the file's page numbers this call got confirmed
    duration: float  # seconds on the line
    speed: str
    result: str  # OK or the LCD word
    code: str
    resumed: bool  # a redial that resumed after confirmed pages
    port: int = 0  # the fax port it ran on (0: the machine has one, not named)


@dataclass
class FaxFile:
    no: int  # F-nnn
    record: int
    purpose: Literal["send", "polling"]
    state: Literal["scanning", "ready"]
    resolution: str
    created: str  # "MM-DD-YYYY HH:MM"
    pages: list[int] = field(default_factory=list)  # image-memory page ids, in page order
    destinations: list[Destination] = field(default_factory=list)
    send_at: str = ""  # ISO calendar time of a delayed transmission
    calls: list[CallRecord] = field(default_factory=list)  # one entry per call (the report)

    @property
    def label(self) -> str:
        return f"F-{self.no:03d}"

    @property
    def job(self) -> str:
        """The job name of its pages in image memory."""
        return self.label

    def to_meta(self) -> dict[str, Any]:
        meta = _plain(self)
        meta.pop("record")
        return meta

    @classmethod
    def from_meta(cls, record: int, meta: dict[str, Any]) -> FaxFile:
        m = dict(meta)
        m["destinations"] = [Destination(**d) for d in m.get("destinations", [])]
        m["calls"] = [CallRecord(**c) for c in m.get("calls", [])]
        return cls(record=record, **m)


def _plain(value: Any) -> Any:
    """`dataclasses.asdict` for what a memory file holds (dataclasses, lists, numbers, text),
    without its deep copy of every number and string: a file is saved at every page."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


class FaxFiles:
    """The memory files in NVRAM, with their pages in image memory."""

    def __init__(self, nvram: Nvram, memory: ImageMemory) -> None:
        self.nvram = nvram
        self.memory = memory
        # RAM: the pages of the files scanned since power-on, as scanned, so that sending them
        # does not decode them back from image memory (a page is read from memory after a power
        # cut, or once it has fallen out of this cache).
        self._recent: dict[int, Page] = {}

    def create(self, purpose: Literal["send", "polling"], resolution: str, created: str, numbers: Sequence[str] = (),
               send_at: str = "") -> FaxFile:  # fmt: skip
        with self.nvram.transaction():
            no = self._free_number()
            self.nvram.set(COUNTER_NS, FILE_COUNTER, no)
            file = FaxFile(no, 0, purpose, "scanning", resolution, created,
                           destinations=[Destination(n) for n in numbers], send_at=send_at)  # fmt: skip
            file.record = self.nvram.add_record(KIND, file.to_meta())
        return file

    def add_page(self, file: FaxFile, page: Page) -> None:
        """Store the next page of `file` (MemoryFull leaves the file as it was)."""
        with self.nvram.transaction():
            stored = self.memory.store(page, file.job, len(file.pages) + 1)
            file.pages.append(stored.id)
            self.save(file)
        self._recent[stored.id] = page
        while len(self._recent) > RECENT_PAGES:
            self._recent.pop(next(iter(self._recent)))

    def save(self, file: FaxFile) -> None:
        self.nvram.update_record(file.record, file.to_meta())

    def delete(self, file: FaxFile) -> None:
        for page_id in file.pages:
            self._recent.pop(page_id, None)
        with self.nvram.transaction():
            self.memory.discard_job(file.job)
            self.nvram.delete_record(file.record)

    def files(self) -> list[FaxFile]:
        return [FaxFile.from_meta(r.id, r.meta) for r in self.nvram.records(KIND)]

    def get(self, no: int) -> FaxFile | None:
        return next((f for f in self.files() if f.no == no), None)

    def page(self, file: FaxFile, number: int) -> Page:
        """Page `number` (from 1) of the file, as scanned."""
        page_id = file.pages[number - 1]
        recent = self._recent.get(page_id)
        return recent if recent is not None else self.memory.load(page_id)

    def forget_recent(self) -> None:
        """Power cut: RAM is gone."""
        self._recent.clear()

    def clear(self) -> None:
        """Service-mode MEMORY CLEAR (image memory is cleared by the print queue's hook)."""
        self._recent.clear()
        self.nvram.delete_records(KIND)

    def next_serial(self) -> int:
        """The next transmission serial (T-nnn), counted in NVRAM."""
        with self.nvram.transaction():
            serial = int(self.nvram.get(COUNTER_NS, SERIAL_COUNTER, 0)) % 999 + 1
            self.nvram.set(COUNTER_NS, SERIAL_COUNTER, serial)
        return serial

    def _free_number(self) -> int:
        used = {f.no for f in self.files()}
        last = int(self.nvram.get(COUNTER_NS, FILE_COUNTER, 0))
        for step in range(1, MAX_FILE_NO + 1):
            candidate = (last + step - 1) % MAX_FILE_NO + 1
            if candidate not in used:
                return candidate
        raise RuntimeError("every memory file number is in use")
