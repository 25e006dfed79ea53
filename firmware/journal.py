"""The communication journal (activity report), in NVRAM.

Entries are numbered from 1 and kept newest last; the oldest are dropped beyond `CAPACITY`
(the journal report of the sister model lists the last transactions; size a project choice).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from estudio190f.hw.listeners import Listeners
from estudio190f.hw.nvram import Nvram

KIND = "journal"
CAPACITY = 100
COUNTER_NS = "counters"


@dataclass
class JournalEntry:
    no: int
    when: str  # "MM-DD-YYYY HH:MM" on the machine's clock
    kind: str  # TX | RX | COPY | EMAIL | POLL | SYSTEM | PRINT
    remote: str = ""  # remote station id, number or address
    pages: int = 0
    result: str = "OK"  # OK or the LCD word(s) of the failure
    code: str = ""  # 3-digit information code (Panasonic style) or SMTP code
    duration: float = 0.0  # seconds on the line
    speed: str = ""  # e.g. "V.17 14400"
    detail: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        code = f" {self.code}" if self.code else ""
        port = self.detail.get("port")  # a fax call's port, on a machine with the 2nd G3 option
        where = f" PORT {port}" if port else ""
        return (
            f"{self.no:03d} {self.when} {self.kind:<5} {self.remote or '-':<20} "
            f"P{self.pages:03d} {self.result}{code}{where}"
        ).rstrip()


class Journal:
    def __init__(self, nvram: Nvram, clock_text: Callable[[], str]) -> None:
        self.nvram = nvram
        self.clock_text = clock_text
        self.listeners: Listeners[[JournalEntry]] = Listeners()

    def add(
        self,
        kind: str,
        *,
        remote: str = "",
        pages: int = 0,
        result: str = "OK",
        code: str = "",
        duration: float = 0.0,
        speed: str = "",
        detail: dict[str, Any] | None = None,
    ) -> JournalEntry:
        """A new entry, stamped with the machine's clock (`detail`: what else is known, JSON)."""
        with self.nvram.transaction():
            no = int(self.nvram.get(COUNTER_NS, "journal", 0)) + 1
            self.nvram.set(COUNTER_NS, "journal", no)
            entry = JournalEntry(no, self.clock_text(), kind, remote, pages, result, code,
                                 duration, speed, detail or {})  # fmt: skip
            self.nvram.add_record(KIND, asdict(entry))
            extra = self.nvram.count(KIND) - CAPACITY
            if extra > 0:
                for rec in self.nvram.records(KIND)[:extra]:
                    self.nvram.delete_record(rec.id)
        self.listeners(entry)
        return entry

    def entries(self) -> list[JournalEntry]:
        return [JournalEntry(**rec.meta) for rec in self.nvram.records(KIND)]

    def clear(self) -> None:
        with self.nvram.transaction():
            self.nvram.delete_records(KIND)
            self.nvram.set(COUNTER_NS, "journal", 0)
