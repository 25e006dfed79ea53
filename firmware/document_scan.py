"""Scanning the feeder for a job: the one flow that COPY, fax sending and scan-to-email share.

A `DocumentScan` runs scan control over every original in the feeder and hands each page to its
job's `store`. On the job's LCD it shows `SCANNING` and the page being read; an original the CIS
cannot read is `CHECK DOCUMENT` (skipped and remembered, the scan goes on); a jam shows the one
set of fault words (`DOCUMENT JAM` / `REMOVE DOCUMENT`) and scanning resumes with the same
original once the operator has cleared it. STOP feeds the original in the path out unread and
ends the scan. When `store` refuses a page (image memory is full), the operator chooses: START
keeps the pages that fit, STOP throws them away.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from estudio190f.hw.document import Sheet

from .control_panel import JobView
from .page import Page
from .paper import alert_lines
from .scan_control import CHECK_DOCUMENT, ScanControl

ScanEnd = Literal["done", "cancelled", "kept", "discarded"]
ScanPhase = Literal["scanning", "stopping", "memory_full", "ended"]


@dataclass
class ScanResult:
    """How a scan ended: `done` (the feeder is empty), `cancelled` (STOP), `kept` or
    `discarded` (image memory was full and the operator pressed START or STOP)."""

    end: ScanEnd
    pages: int
    unreadable: list[str] = field(default_factory=list)


class DocumentScan:
    def __init__(
        self,
        control: ScanControl,
        view: JobView,
        store: Callable[[Page, Sheet], bool],
        ended: Callable[[ScanResult], None],
        *,
        keep_word: str = "SEND",
        label: str = "",
        unreadable: Callable[[Sheet, str], None] | None = None,
    ) -> None:
        self.control = control
        self.view = view
        self.store = store
        self.ended = ended
        self.on_unreadable = unreadable
        self.keep_word = keep_word  # START keeps what fit: START=SEND, START=COPY
        self.label = label  # shown after the page number (a memory file, F-001)
        self.phase: ScanPhase = "scanning"
        self.pages = 0
        self.unreadable: list[str] = []
        self.quiet = False  # someone else has the LCD (a direct transmission's call)
        self._alert: str | None = None
        self._memory_full = False

    # -- the job's side -----------------------------------------------------------------------
    def start(self, resolution: str, contrast: str) -> None:
        self.view.set_state("scan")
        self._show()
        self.control.alert_listeners.add(self._on_alert)
        self.control.start(resolution, contrast, self._page, self._done, self._problem)

    def stop(self) -> None:
        """STOP: end the scan (the original in the path comes out unread), or after MEMORY FULL
        throw the pages away."""
        if self.phase == "scanning":
            self.phase = "stopping"
            self.control.cancel()
        elif self.phase == "memory_full":
            self._end("discarded")

    def key(self, key: str) -> bool:
        """START after MEMORY FULL keeps the pages that fit."""
        if self.phase == "memory_full" and key == "START":
            self._end("kept")
            return True
        return False

    @property
    def scanning(self) -> bool:
        return self.phase in ("scanning", "stopping", "memory_full")

    # -- scan control's side --------------------------------------------------------------------
    def _page(self, page: Page, sheet: Sheet) -> bool:
        if not self.store(page, sheet):
            self._memory_full = True
            return False
        self.pages += 1
        self._show()
        return True

    def _problem(self, sheet: Sheet, reason: str) -> None:
        self.unreadable.append(sheet.name)
        if self.on_unreadable is not None:
            self.on_unreadable(sheet, reason)
        if not self.quiet:
            self.view.show(CHECK_DOCUMENT, sheet.name[:20])

    def _on_alert(self, source: str, word: str | None) -> None:
        self._alert = word
        if word is not None:
            self.view.set_state("fault")
            if not self.quiet:
                self.view.show(*alert_lines(word))
        else:
            self.view.set_state("scan")
            self._show()

    def _done(self, reason: str) -> None:
        self.control.alert_listeners.discard(self._on_alert)
        if self.phase == "stopping" or reason == "cancelled":
            return self._end("cancelled")
        if self._memory_full:
            if not self.pages:
                return self._end("discarded")
            self.phase = "memory_full"
            self.view.set_state("memory_full")
            self.view.show("MEMORY FULL", f"START={self.keep_word} STOP=CLR")
            return
        self._end("done")

    def _end(self, end: ScanEnd) -> None:
        self.phase = "ended"
        self.ended(ScanResult(end, self.pages, list(self.unreadable)))

    def _show(self) -> None:
        if self.quiet or self.phase != "scanning" or self._alert is not None:
            return
        where = f"  {self.label}" if self.label else ""
        self.view.show("SCANNING", f"PAGE {self.pages + 1}{where}")
