"""SCAN + address(es) + START: scan the feeder with the shared feeder flow, hand the pages to the
mail queue, and say on the LCD how it went (`EMAIL SENT`, `EMAIL ERROR nnn`, `AUTH ERROR nnn`).

The job shows `SCANNING` while the feeder is read, then `SENDING E-MAIL` and the first address
while the relay is tried; a result that comes after the job has left the LCD (a retry) is shown as
a notice when the operator is not busy. The MEMORY LED is lit while mail waits in the queue.
"""

from __future__ import annotations

from estudio190f.hw.board import Board
from estudio190f.hw.document import Sheet

from ..control_panel import ControlPanel, JobHandle
from ..document_scan import DocumentScan, ScanResult
from ..journal import Journal
from ..page import Page
from ..paper import PaperHandling
from .scan_to_email import EmailResult, ScanToEmail


class ScanToEmailJob:
    """One SCAN + START (the owner of `job.scan_email`)."""

    def __init__(self, unit: EmailUnit, addresses: list[str]) -> None:
        self.unit = unit
        self.addresses = addresses
        self.pages: list[Page] = []
        self.problems: list[str] = []
        self.resolution = unit.panel.resolution
        self.handle = unit.panel.begin_job("scan_email", self)
        self.scan = DocumentScan(unit.paper.scan, self.handle, self._store, self._scanned,
                                 unreadable=self._unreadable)  # fmt: skip

    def start(self) -> None:
        self.scan.start(self.resolution, self.unit.panel.contrast)

    # -- JobOwner ------------------------------------------------------------------------------
    def stop(self) -> None:
        self.scan.stop()

    def key(self, key: str) -> bool:
        return False

    # -- scanning ------------------------------------------------------------------------------
    def _store(self, page: Page, sheet: Sheet) -> bool:
        self.pages.append(page)
        return True

    def _unreadable(self, sheet: Sheet, reason: str) -> None:
        self.problems.append(f"{sheet.name}: {reason}")

    def _scanned(self, result: ScanResult) -> None:
        handle = self.handle
        if result.end == "cancelled":
            return handle.finish("SCAN TO E-MAIL", "CANCELLED")
        if not self.pages:
            self.unit.journal.add("EMAIL", remote=self.addresses[0], result="CHECK DOCUMENT",
                                  detail={"problems": self.problems})  # fmt: skip
            return handle.finish("CHECK DOCUMENT", "NOTHING SENT")
        handle.set_state("smtp")
        handle.show("SENDING E-MAIL", self.addresses[0][:20])
        job = self.unit.engine.submit(self.addresses, self.pages, self.resolution)
        self.unit.waiting[job] = handle
        if self.problems:
            self.unit.board.log.emit("email", "check_document", job=job, problems=self.problems)


class EmailUnit:
    """Scan-to-email on the panel: the jobs, the engine that delivers them, the MEMORY LED."""

    def __init__(self, board: Board, panel: ControlPanel, paper: PaperHandling,
                 engine: ScanToEmail, journal: Journal) -> None:  # fmt: skip
        self.board = board
        self.panel = panel
        self.paper = paper
        self.engine = engine
        self.journal = journal
        self.waiting: dict[int, JobHandle] = {}
        engine.listeners.add(self._result)

    def start(self, addresses: list[str]) -> None:
        """SCAN + address(es) + START."""
        panel = self.panel
        if self.paper.scan.busy:
            return panel.notice("SCAN TO E-MAIL", "SCANNER BUSY")
        if not self.board.feeder.document_set:
            return panel.notice("SCAN TO E-MAIL", "NO DOCUMENT")
        ScanToEmailJob(self, addresses).start()

    def boot(self) -> None:
        self._memory_led()

    def clear(self) -> None:
        """Service mode MEMORY CLEAR: the mail queue."""
        queue = self.engine.queue
        for job in queue.jobs():
            queue.remove(job.job)
        self._memory_led()

    def _memory_led(self) -> None:
        pending = bool(self.engine.pending())
        self.panel.set_indicator("MEMORY", "on" if pending else "off", source="mail")

    def _result(self, result: EmailResult) -> None:
        self._memory_led()
        panel = self.panel
        handle = self.waiting.pop(result.job, None)
        second = f"RETRY IN {result.retry_in // 60_000_000} MIN" if not result.final else ""
        if result.word == "EMAIL SENT":
            second = f"{result.pages} PAGE{'S' if result.pages != 1 else ''}"
        if handle is not None and handle.active:
            handle.finish(result.lcd, second)
        elif panel.running and (panel.in_standby or panel.state == "message"):
            panel.notice(result.lcd, second)
