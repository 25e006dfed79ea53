"""The fax outbox: documents waiting to be sent, and the pages one call sends of them.

An `Outbox` is either a memory file (`MemoryOutbox`: scanned whole into image memory first, kept
in NVRAM with its destinations and how far each got) or the pages of a direct transmission
(`DirectOutbox`: in RAM as the scanner reads them, gone with a power cut). `OutgoingDocument` is
what one call's T.30 session reads: the pages this destination has not confirmed yet, each with
the transmit header, made when first asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from estudio190f.hw.listeners import Listeners

from ..page import STANDARD_WIDTH, Page
from .files import CallRecord, Destination, FaxFile, FaxFiles


class Outbox:
    """A document to send."""

    file_no: int | None = None
    label = ""
    resolution = "standard"
    send_at = ""
    destinations: list[Destination]
    calls: list[CallRecord]

    def page(self, number: int) -> Page | None:
        raise NotImplementedError

    def known(self) -> int:
        """Pages that exist now, plus one when the scanner is still reading another."""
        raise NotImplementedError

    def total(self) -> int | None:
        """Pages in the document; None while it is not known yet (direct, still scanning)."""
        raise NotImplementedError

    def save(self) -> None:
        pass

    def discard(self) -> None:
        pass

    @property
    def finished(self) -> bool:
        return all(d.state != "pending" for d in self.destinations)


class MemoryOutbox(Outbox):
    def __init__(self, files: FaxFiles, file: FaxFile) -> None:
        self.files = files
        self.file = file
        self.file_no = file.no
        self.label = file.label
        self.resolution = file.resolution
        self.send_at = file.send_at
        self.destinations = file.destinations
        self.calls = file.calls

    def page(self, number: int) -> Page | None:
        return self.files.page(self.file, number)

    def known(self) -> int:
        return len(self.file.pages)

    def total(self) -> int | None:
        return len(self.file.pages)

    def save(self) -> None:
        self.file.send_at = self.send_at
        self.files.save(self.file)

    def discard(self) -> None:
        self.files.delete(self.file)


class DirectOutbox(Outbox):
    """Direct transmission: pages live in RAM as the scanner reads them; a power cut loses them."""

    def __init__(self, number: str, resolution: str) -> None:
        self.label = "DIRECT"
        self.resolution = resolution
        self.destinations = [Destination(number)]
        self.calls = []
        self.pages: list[Page] = []
        self.scanning = True
        self.changed: Listeners[[]] = Listeners()  # a page came, or the scan ended

    def add(self, page: Page) -> None:
        self.pages.append(page)
        self.changed()

    def scan_ended(self) -> None:
        self.scanning = False
        self.changed()

    def page(self, number: int) -> Page | None:
        return self.pages[number - 1] if number <= len(self.pages) else None

    def known(self) -> int:
        return len(self.pages) + (1 if self.scanning else 0)

    def total(self) -> int | None:
        return None if self.scanning else len(self.pages)


class OutgoingDocument(Sequence[Page]):
    """The pages one call sends, as the T.30 session reads them: the outbox's pages not yet
    confirmed by this destination, each with the transmit header, made when first asked for.
    While a direct transmission's next page is still being read, its place holds a one-line
    page with the job's resolution and width (all the session asks of a page before sending
    it); the call waits for the real one before it goes on (`sending.PacedCall`)."""

    def __init__(self, outbox: Outbox, skip: Sequence[int],
                 stamp: Callable[[int, Page], Page]) -> None:  # fmt: skip
        self.outbox = outbox
        self.skip = set(skip)
        self.stamp = stamp
        self._made: dict[int, Page] = {}

    def numbers(self) -> list[int]:
        return [n for n in range(1, self.outbox.known() + 1) if n not in self.skip]

    def __len__(self) -> int:
        return len(self.numbers())

    def __getitem__(self, index: int) -> Page:  # type: ignore[override]
        number = self.numbers()[index]
        made = self._made.get(number)
        if made is not None:
            return made
        page = self.outbox.page(number)
        if page is None:
            return self.placeholder()
        made = self.stamp(number, page)
        self._made = {number: made}  # the session asks for one page at a time
        return made

    def placeholder(self) -> Page:
        """A one-line page with the document's resolution and width."""
        return Page(np.zeros((1, STANDARD_WIDTH), dtype=bool), self.outbox.resolution)

    def __iter__(self) -> Iterator[Page]:
        for i in range(len(self)):
            yield self[i]

    def number(self, index: int) -> int:
        """The document's page number of the session's page `index` (from 0)."""
        numbers = self.numbers()
        return numbers[index] if index < len(numbers) else index + 1

    def waiting_for(self, index: int) -> bool:
        """Whether the session's page `index` exists in the document but is not read yet."""
        numbers = self.numbers()
        return index < len(numbers) and self.outbox.page(numbers[index]) is None
