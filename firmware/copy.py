"""COPY: scan every original into image memory, then print the copies as collated sets.

`Copier.start` is what COPY + START does on the panel: a `CopyJob` on the LCD (state `job.copy`).
The job scans with the shared feeder flow (`DocumentScan`), stores each page in image memory
under a print job, then hands that job to the print queue and follows it sheet by sheet
(`COPYING` / `PAGE 1/2 COPY 1/3`). A fault while printing shows its words; the queue resumes
after the operator's fix. STOP while scanning throws the pages away (`cancel(keep=True)` holds
them in memory instead); STOP while printing lets the sheet in the path come out and discards
the rest. Every copy makes one journal entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from estudio190f.hw.document import Sheet

from .control_panel import ControlPanel, JobView
from .document_scan import DocumentScan, ScanResult
from .image_memory import MemoryFull
from .journal import Journal
from .page import Page
from .paper import PaperHandling, alert_lines
from .print_queue import PrintEvent
from .scan_control import CHECK_DOCUMENT
from .settings import Settings

MAX_COPIES = 99
CopyStatus = Literal[
    "COMPLETED", "CANCELLED", "MEMORY FULL", "CHECK DOCUMENT", "NO DOCUMENT", "KEPT"
]


@dataclass
class CopyResult:
    status: CopyStatus
    pages: int = 0  # pages scanned into memory
    sheets: int = 0  # sheets delivered
    unreadable: list[str] = field(default_factory=list)  # originals reported CHECK DOCUMENT


class CopyJob:
    """One COPY (the job owner of `job.copy`)."""

    def __init__(
        self,
        paper: PaperHandling,
        settings: Settings,
        journal: Journal | None = None,
        on_result: Callable[[CopyResult], None] | None = None,
    ) -> None:
        self.paper = paper
        self.board = paper.board
        self.log = paper.board.log
        self.settings = settings
        self.journal = journal
        self.on_result = on_result
        self.view: JobView | None = None
        self.state: Literal["new", "scanning", "printing", "done"] = "new"
        self.job_id = ""
        self.copies = 1
        self.resolution = "standard"
        self.contrast = "normal"
        self.pages = 0
        self.sheets = 0
        self.result: CopyResult | None = None
        self.scan: DocumentScan | None = None
        self._keep_on_stop = False
        self._alert: str | None = None

    # -- the panel's side ----------------------------------------------------------------------
    def start(self, view: JobView, copies: int = 1, resolution: str | None = None,
              contrast: str | None = None) -> None:  # fmt: skip
        if self.state != "new":
            raise RuntimeError("a copy job starts once")
        self.view = view
        self.copies = max(1, min(MAX_COPIES, int(copies)))
        self.resolution = resolution or self.settings.text("scan.resolution")
        self.contrast = contrast or self.settings.text("scan.contrast")
        self._hook(True)
        if not self.board.feeder.document_set:
            return self._finish(CopyResult("NO DOCUMENT"), "NO DOCUMENT", "LOAD DOCUMENT")
        self.job_id = self.paper.queue.create("copy", self.copies, resolution=self.resolution)
        self.log.emit("copy", "start", job=self.job_id, copies=self.copies,
                      resolution=self.resolution, contrast=self.contrast)  # fmt: skip
        self.state = "scanning"
        self.scan = DocumentScan(self.paper.scan, view, self._store, self._scanned,
                                 keep_word="COPY", unreadable=self._unreadable)  # fmt: skip
        self.scan.start(self.resolution, self.contrast)

    def stop(self) -> None:
        """STOP while the job shows."""
        self.cancel(keep=False)

    def key(self, key: str) -> bool:
        """START after MEMORY FULL prints what fit."""
        return self.scan is not None and self.state == "scanning" and self.scan.key(key)

    def cancel(self, keep: bool = False) -> None:
        """STOP. With `keep`, pages in memory stay there (held) instead of being thrown away."""
        self.log.emit("copy", "stop", job=self.job_id, state=self.state, keep=keep)
        if self.state == "scanning" and self.scan is not None:
            self._keep_on_stop = keep
            self.scan.stop()
        elif self.state == "printing":
            self.paper.queue.cancel(self.job_id, keep=keep)

    # -- scanning ------------------------------------------------------------------------------
    def _store(self, page: Page, sheet: Sheet) -> bool:
        index = self.pages + 1
        memory = self.paper.memory
        try:
            stored = memory.store(page, self.job_id, index, document=sheet.name)
        except MemoryFull as exc:
            self.log.emit("copy", "memory_full", job=self.job_id, page=index, needed=exc.needed,
                          free=exc.free)  # fmt: skip
            return False
        self.paper.queue.add_page(self.job_id, stored.id, page)
        self.pages = index
        return True

    def _unreadable(self, sheet: Sheet, reason: str) -> None:
        if self.journal is not None:
            self.journal.add("COPY", remote=sheet.name[:20], pages=0, result=CHECK_DOCUMENT,
                             detail={"reason": reason})  # fmt: skip

    def _scanned(self, scan: ScanResult) -> None:
        queue = self.paper.queue
        if scan.end == "cancelled":
            if self._keep_on_stop and self.pages:
                queue.cancel(self.job_id, keep=True)
                return self._finish(self._result("KEPT"), "COPY", "KEPT IN MEMORY")
            queue.discard(self.job_id)
            return self._finish(self._result("CANCELLED"), "COPY", "CANCELLED")
        if scan.end == "discarded":
            queue.discard(self.job_id)
            return self._finish(self._result("MEMORY FULL"), "MEMORY FULL",
                                "COPY CANCELLED" if self.pages else "")  # fmt: skip
        if not self.pages:
            queue.discard(self.job_id)
            status: CopyStatus = "CHECK DOCUMENT" if scan.unreadable else "NO DOCUMENT"
            return self._finish(self._result(status), status, "")
        self._print()

    # -- printing ------------------------------------------------------------------------------
    def _print(self) -> None:
        self.state = "printing"
        self._set_state("print")
        self._progress(1, 1)
        self.paper.queue.ready(self.job_id)

    def _progress(self, page: int, copy: int) -> None:
        if self._alert is None and self.view is not None:
            self.view.show("COPYING", f"PAGE {page}/{self.pages} COPY {copy}/{self.copies}")

    def _on_queue(self, event: PrintEvent) -> None:
        if event.job != self.job_id or self.state != "printing":
            return
        if event.event == "sheet":
            self.sheets += 1
            done, pages = event.done, max(1, event.pages)
            if done < self.pages * self.copies:
                self._progress(done % pages + 1, done // pages + 1)
        elif event.event == "completed":
            unreadable = self.scan.unreadable if self.scan is not None else []
            if unreadable:
                self._finish(self._result("CHECK DOCUMENT"), CHECK_DOCUMENT,
                             f"{len(unreadable)} NOT COPIED")  # fmt: skip
            else:
                self._finish(self._result("COMPLETED"), "", "")
        elif event.event in ("cancelled", "discarded"):
            self._finish(self._result("CANCELLED"), "COPY", "CANCELLED")
        elif event.event == "held":
            self._finish(self._result("KEPT"), "COPY", "KEPT IN MEMORY")

    def _on_printer_alert(self, source: str, word: str | None) -> None:
        if self.state != "printing" or self.view is None:
            return
        self._alert = word
        if word is not None:
            self._set_state("fault")
            self.view.show(*alert_lines(word))
        else:
            self._set_state("print")
            done = self.sheets
            pages = max(1, self.pages)
            self._progress(done % pages + 1, done // pages + 1)

    def _set_state(self, substate: str) -> None:
        if self.view is not None:
            self.view.set_state(substate)

    # -- end -----------------------------------------------------------------------------------
    def _result(self, status: CopyStatus) -> CopyResult:
        unreadable = list(self.scan.unreadable) if self.scan is not None else []
        return CopyResult(status, self.pages, self.sheets, unreadable)

    def _finish(self, result: CopyResult, line1: str, line2: str) -> None:
        if self.state == "done":
            return
        self.state = "done"
        self.result = result
        self._hook(False)
        self.log.emit("copy", "end", job=self.job_id, status=result.status, pages=result.pages,
                      sheets=result.sheets)  # fmt: skip
        if self.journal is not None and result.status != "NO DOCUMENT":
            self.journal.add("COPY", pages=result.pages,
                             result="OK" if result.status == "COMPLETED" else result.status,
                             detail={"copies": self.copies, "sheets": result.sheets})  # fmt: skip
        if self.view is not None:
            self.view.finish(line1, line2)
        if self.on_result is not None:
            self.on_result(result)

    def _hook(self, on: bool) -> None:
        paper = self.paper
        if on:
            paper.printer.alert_listeners.add(self._on_printer_alert)
            paper.queue.listeners.add(self._on_queue)
            self.board.power.changed.add(self._on_power)
        else:
            paper.printer.alert_listeners.discard(self._on_printer_alert)
            paper.queue.listeners.discard(self._on_queue)
            self.board.power.changed.discard(self._on_power)

    def _on_power(self, on: bool) -> None:
        if not on:
            # The job lived in RAM: it is gone. Its pages and print job are in NVRAM and print
            # after power-on (PrintQueue.recover).
            self.state = "done"
            self._hook(False)


class Copier:
    """The COPY function of the panel: COPY (+ number of copies) + START."""

    def __init__(self, panel: ControlPanel, paper: PaperHandling, settings: Settings,
                 journal: Journal) -> None:  # fmt: skip
        self.panel = panel
        self.paper = paper
        self.settings = settings
        self.journal = journal

    def start(self, copies: int = 1) -> CopyJob:
        panel = self.panel
        job = CopyJob(self.paper, self.settings, self.journal)
        job.start(panel.begin_job("copy", job), copies, panel.resolution, panel.contrast)
        return job
