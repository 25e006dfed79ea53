"""One-touch and speed-dial entries, kept in NVRAM (namespace "directory")."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from estudio190f.hw.nvram import Nvram

from .settings import ONE_TOUCH_SLOTS, SPEED_DIAL_SLOTS

NS = "directory"
PAUSE = "P"  # a dialing pause as stored and shown


@dataclass
class Entry:
    kind: str  # one_touch | speed_dial
    slot: int
    name: str
    fax: str | None = None
    email: str | None = None

    @property
    def address(self) -> str:
        return self.fax if self.fax is not None else (self.email or "")

    @property
    def label(self) -> str:
        return f"{'ONE-TOUCH' if self.kind == 'one_touch' else 'SPEED DIAL'} {self.slot:0{2 if self.kind == 'one_touch' else 3}d}"


def slots(kind: str) -> int:
    return ONE_TOUCH_SLOTS if kind == "one_touch" else SPEED_DIAL_SLOTS


class Directory:
    def __init__(self, nvram: Nvram) -> None:
        self.nvram = nvram

    @staticmethod
    def _key(kind: str, slot: int) -> str:
        return f"{kind}.{slot:03d}"

    def get(self, kind: str, slot: int) -> Entry | None:
        raw = self.nvram.get(NS, self._key(kind, slot))
        return Entry(**raw) if raw else None

    def put(self, entry: Entry) -> None:
        if not 1 <= entry.slot <= slots(entry.kind):
            raise ValueError(f"{entry.kind} slot {entry.slot} out of range")
        if entry.fax is not None:
            entry.fax = entry.fax.replace(",", PAUSE)
        self.nvram.set(NS, self._key(entry.kind, entry.slot), asdict(entry))

    def delete(self, kind: str, slot: int) -> None:
        self.nvram.delete(NS, self._key(kind, slot))

    def entries(self, kind: str | None = None) -> list[Entry]:
        found = [Entry(**raw) for raw in self.nvram.items(NS).values()]
        if kind is not None:
            found = [e for e in found if e.kind == kind]
        return sorted(found, key=lambda e: (e.kind != "one_touch", e.slot))

    def clear(self) -> None:
        self.nvram.clear(NS)
