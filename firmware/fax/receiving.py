"""Receiving: answering or polling, where arriving pages go, and what the LCD shows meanwhile.

`ReceptionSink` is the T.30 session's page sink for a machine: every page that arrives is put in
image memory as a print job of its own (`PrintQueue.submit`), so it prints at once when the
printer can, and otherwise waits in memory (memory reception: no paper, a jam, the cover open)
and prints after the operator's fix or after a power cut. A page that does not fit in memory is
refused (the session answers PIN); when what is left would not hold another page as large as the
largest one so far, the page is kept and the session answers PIP: either way the call ends
properly and the journal says MEMORY FULL (code 414).

`ReceivedDocument` holds the pages of one call as they arrive (decoded, before printing, with
their line-error figures): the sink keeps them there and nowhere else. Listeners get it when a
call that brought pages ends (the output writer saves it as one TIFF Class F file in
`--out`/received/).

`Reception` is one call in progress, answered (RX) or placed to poll (POLL), with its display:
`RECEIVING P.002` names the page arriving now (or the last one received, between pages), never
one past the last.

`RxRecord` keeps a note in NVRAM while a reception runs on a port (one note a port), so a power cut
in the middle of a call still leaves a journal entry (the pages already received are in memory and
print after power-on).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from estudio190f.hw.nvram import Nvram

from ..control_panel import JobView
from ..fax_call import CallProgress, CallResult, FaxCall
from ..image_memory import ImageMemory, MemoryFull
from ..page import Page
from ..print_queue import PrintQueue
from ..t30.session import ReceivedPage
from ..tiff_f import write_tiff_f

ReceptionKind = Literal["RX", "POLL"]

# Room kept for the next page when nothing larger has come yet (an ITU chart at fine is about
# 18 KiB compressed in image memory; a busy photo page several times that).
MIN_PAGE_ROOM = 64 * 1024
RX_NS = "fax"
RX_KEY = "rx_in_progress"


@dataclass
class ReceivedDocument:
    """The pages of one call, decoded, in the order they arrived."""

    kind: ReceptionKind  # RX (answered) | POLL (we polled the far end)
    remote: str  # the far end's identification (CSI/TSI), or the number we polled
    when: str  # "MM-DD-YYYY HH:MM" when the call began
    pages: list[ReceivedPage] = field(default_factory=list)
    result: CallResult | None = None

    @property
    def images(self) -> list[Page]:
        return [p.page for p in self.pages if p.page is not None]

    def tiff(self) -> bytes:
        """The document as one TIFF Class F file (MH, with the received-fax line-error tags)."""
        kept = [p for p in self.pages if p.page is not None]
        pages = [p.page for p in kept if p.page is not None]
        errors = [(p.bad_lines, p.longest_bad_run) for p in kept]
        return write_tiff_f(pages, "mh", line_errors=errors)


class ReceptionSink:
    """Pages of one call into the print queue (memory first): the session's `PageSink`. The
    pages are kept in the call's `ReceivedDocument`."""

    def __init__(
        self,
        queue: PrintQueue,
        memory: ImageMemory,
        document: ReceivedDocument,
    ) -> None:
        self.queue = queue
        self.memory = memory
        self.document = document
        self.on_page: Callable[[ReceivedPage], None] | None = None  # the service sets it
        self.largest = 0
        self.refused = False

    @property
    def pages(self) -> list[ReceivedPage]:
        """The pages kept so far (FaxCall reads them for its result)."""
        return self.document.pages

    def store(self, page: ReceivedPage) -> bool:
        if page.page is not None:
            before = self.memory.used
            try:
                self.queue.submit([page.page], kind="fax", title="FAX",
                                  remote=self.document.remote, page=page.number)  # fmt: skip
            except MemoryFull:
                self.refused = True
                return False
            self.largest = max(self.largest, self.memory.used - before)
        self.document.pages.append(page)
        if self.on_page is not None:
            self.on_page(page)
        return True

    def room_for_more(self) -> bool:
        return self.memory.free >= max(self.largest, MIN_PAGE_ROOM)

    def ready(self) -> bool:
        return True


class RxRecord:
    """An NVRAM note of the reception in progress on port `port` (for the journal after a power
    cut)."""

    def __init__(self, nvram: Nvram, port: int = 1) -> None:
        self.nvram = nvram
        self.key = RX_KEY if port == 1 else f"{RX_KEY}_{port}"

    def begin(self, when: str, kind: ReceptionKind) -> None:
        self.nvram.set(RX_NS, self.key, {"when": when, "kind": kind, "remote": "", "pages": 0})

    def update(self, **fields: Any) -> None:
        note = self.nvram.get(RX_NS, self.key)
        if note is not None:
            note.update(fields)
            self.nvram.set(RX_NS, self.key, note)

    def end(self) -> None:
        self.nvram.delete(RX_NS, self.key)

    def left_over(self) -> dict[str, Any] | None:
        """The note of a reception a power cut interrupted (then forgotten), if any."""
        note = self.nvram.get(RX_NS, self.key)
        if note is not None:
            self.end()
        return note


class Reception:
    """One call bringing pages (or, answered, taking our polling document), with its display."""

    def __init__(
        self,
        kind: ReceptionKind,
        view: JobView,
        document: ReceivedDocument,
        sink: ReceptionSink,
        number: str = "",
        polled_file: int | None = None,
        polled_serial: int = 0,
        port: int = 1,
    ) -> None:
        self.kind = kind
        self.port = port  # the fax port it runs on
        self.view = view
        self.document = document
        self.sink = sink
        self.number = number  # the number we polled
        self.polled_file = polled_file  # our polling document, offered if the caller polls
        self.polled_serial = polled_serial
        self.call: FaxCall | None = None

    def progress(self, progress: CallProgress) -> bool:
        """Show a call's progress; True when the far end's identification is new."""
        stage = progress.stage
        if stage in ("dialing", "ringing", "idle", "done", "E"):
            return False
        self.view.set_state(f"t30.phase_{stage.lower()}")
        new_remote = bool(progress.remote_id) and not self.document.remote
        if new_remote:
            self.document.remote = progress.remote_id
        call = self.call
        if progress.page and call is not None and call.session.state.startswith("t_"):
            # We are being polled: our polling document goes out.
            total = len(call.session.document)
            self.view.show(f"SENDING P.{progress.page:03d}/{total:03d}", progress.speed)
            return new_remote
        self.show(progress)
        return new_remote

    def show(self, progress: CallProgress) -> None:
        """RECEIVING and the page arriving now, or the last one received between pages."""
        page = max(progress.page, len(self.document.pages), 1)
        self.view.show(f"RECEIVING P.{page:03d}", progress.speed or progress.remote_id)
