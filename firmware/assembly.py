"""Builds the firmware's capabilities on a board and plugs them into the core.

The core (`firmware.machine.Firmware`) knows features only by name; this module makes the
objects behind them — paper handling (copy, print queue, image memory), scan-to-email, reports,
the service tests, and (with the fax-call modules) sending and receiving — and registers them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .copy_job import PaperHandling
from .email.scan_to_email import EmailResult, ScanToEmail
from .fax_job import install as install_fax
from .image_memory import MemoryFull
from .reports import ReportHeader, directory_list, function_list, journal_report, test_pattern

if TYPE_CHECKING:
    from estudio190f.hw.document import Sheet

    from .machine import Firmware, JobHandle
    from .page import Page

REPORT_TITLES = {
    "journal": "JOURNAL",
    "function_list": "FUNCTION LIST",
    "directory": "DIRECTORY LIST",
    "test_pattern": "PRINT TEST",
}


def install(fw: Firmware) -> None:
    board = fw.board
    paper = PaperHandling.build(board, fw.settings)
    paper.connect(fw)
    fw.paper = paper
    email = ScanToEmail(board, fw.settings, fw.journal)
    fw.email = email
    fw.features.register("scan_email", ScanToEmailFlow(fw, paper, email).run)
    reports = Reports(fw, paper)
    fw.features.register("report", reports.run)
    fw.features.register("service_print", reports.test_print)
    BackgroundPrinting(fw, paper)
    # Sending, receiving and polling on the line (fw.fax): after the print queue, whose
    # recovery at boot comes first.
    install_fax(fw, paper)
    fw.memory_clear_hooks.append(lambda: _clear_mail(fw, email))
    email.listeners.append(lambda result: _mail_indicator(fw, email))
    fw.boot_hooks.append(lambda: _mail_indicator(fw, email))


def _mail_indicator(fw: Firmware, email: ScanToEmail) -> None:
    fw.set_indicator("MEMORY", "on" if email.pending() else "off", source="mail")


def _clear_mail(fw: Firmware, email: ScanToEmail) -> None:
    for job in email.queue.jobs():
        email.queue.remove(job.job)
    _mail_indicator(fw, email)


def header_for(fw: Firmware) -> ReportHeader:
    return ReportHeader(
        fw.clock_text(),
        str(fw.settings.get("machine.station_name")),
        str(fw.settings.get("machine.number")),
    )


class Reports:
    """FUNCTION 8: journal, function list, directory list; service mode's print test."""

    def __init__(self, fw: Firmware, paper: PaperHandling) -> None:
        self.fw = fw
        self.paper = paper

    def pages(self, which: str) -> list[Page]:
        fw = self.fw
        header = header_for(fw)
        size = str(fw.settings.get("paper.size"))
        if which == "journal":
            return journal_report(fw.journal.entries(), header, size)
        if which == "function_list":
            return function_list(fw.settings, header, size)
        if which == "directory":
            return directory_list(fw.directory, header, size)
        return test_pattern(header, size)

    def run(self, fw: Firmware, which: str = "journal", home: bool = True, **_: Any) -> None:
        title = REPORT_TITLES.get(which, which.upper())
        if home:
            fw.go_home()
        try:
            self.paper.queue.submit(self.pages(which), kind="report", title=title)
        except MemoryFull:
            fw.log.emit("report", "memory_full", report=which)
            return fw.notice(title, "MEMORY FULL")
        fw.log.emit("report", "queued", report=which)

    def test_print(self, fw: Firmware, **_: Any) -> None:
        """Service mode stays open; its LCD says the pattern is on its way."""
        self.run(fw, "test_pattern", home=False)
        fw.lcd.show("PRINT TEST", "PRINTING")


class BackgroundPrinting:
    """Pages printed from the queue without a copy job on the LCD (reports, received faxes):
    the LCD shows PRINTING while the machine is otherwise in standby; STOP holds the rest in memory
    until the next STOP-free moment (they print after the next power-on or job)."""

    def __init__(self, fw: Firmware, paper: PaperHandling) -> None:
        self.fw = fw
        self.paper = paper
        self.handle: JobHandle | None = None
        self.sheets = 0
        paper.queue.listeners.append(self._queue_event)
        paper.printer.alert_listeners.append(self._alert)

    def _queue_event(self, job_id: str, event: str, details: dict[str, Any]) -> None:
        job = self.paper.queue._find(job_id)
        kind = job.kind if job is not None else details.get("kind", "")
        if kind == "copy":
            return
        if event == "ready":
            self._show()
        elif event == "sheet":
            self.sheets += 1
            self._show()
        elif event in ("completed", "cancelled", "discarded") and not self._more():
            self.sheets = 0
            handle, self.handle = self.handle, None
            if handle is not None and handle.active:
                handle.finish("PRINTING", "COMPLETED")

    def _show(self) -> None:
        fw = self.fw
        if self.handle is None and fw.powered and fw.state.startswith("standby") and not fw.alerts:
            self.handle = fw.begin_job("print", on_stop=self._stop)
            self.handle.set_state("print")
        if self.handle is not None and self.handle.active:
            self.handle.show("PRINTING", f"SHEET {self.sheets + 1}")

    def _alert(self, source: str, word: str | None) -> None:
        # A fault while printing in the background: back to standby, where the fault word and
        # the ALARM LED show and the panel stays usable; PRINTING returns with the next sheet.
        handle, self.handle = self.handle, None
        if word is not None and handle is not None and handle.active:
            handle.finish()

    def _more(self) -> bool:
        return any(j.kind != "copy" and j.state == "ready" for j in self.paper.queue.jobs())

    def _stop(self) -> None:
        handle, self.handle = self.handle, None
        for job in self.paper.queue.jobs():
            if job.kind != "copy" and job.state == "ready":
                self.paper.queue.cancel(job.id, keep=True)
        if handle is not None:
            handle.finish("PRINTING", "STOPPED")


class ScanToEmailFlow:
    """SCAN + address + START: scan the feeder, then hand the pages to the mail queue."""

    def __init__(self, fw: Firmware, paper: PaperHandling, email: ScanToEmail) -> None:
        self.fw = fw
        self.paper = paper
        self.email = email
        self.waiting: dict[int, JobHandle] = {}
        email.listeners.append(self._result)

    def run(
        self,
        fw: Firmware,
        addresses: list[str],
        resolution: str = "standard",
        contrast: str = "normal",
        **_: Any,
    ) -> None:
        scan = self.paper.scan
        if scan.busy:
            return fw.notice("SCAN TO E-MAIL", "SCANNER BUSY")
        if not fw.documents_waiting():
            return fw.notice("SCAN TO E-MAIL", "NO DOCUMENT")
        pages: list[Page] = []
        problems: list[str] = []

        def stop() -> None:
            scan.cancel()

        handle = fw.begin_job("scan_email", on_stop=stop)
        handle.set_state("scan")
        handle.show("SCANNING", "PAGE 1")

        def alert(source: str, word: str | None) -> None:
            if handle.active and fw.job is handle:
                if word is not None:
                    handle.show(word, "CLEAR THEN WAIT")
                else:
                    handle.show("SCANNING", f"PAGE {len(pages) + 1}")

        scan.alert_listeners.append(alert)

        def on_page(page: Page, sheet: Sheet) -> bool:
            pages.append(page)
            handle.show("SCANNING", f"PAGE {len(pages) + 1}")
            return True

        def on_problem(sheet: Sheet, reason: str) -> None:
            problems.append(f"{sheet.name}: {reason}")
            fw.log.emit("scan", "check_document", document=sheet.name, reason=reason)

        def on_done(reason: str) -> None:
            if alert in scan.alert_listeners:
                scan.alert_listeners.remove(alert)
            if reason == "cancelled":
                return handle.finish("SCAN TO E-MAIL", "CANCELLED")
            if not pages:
                fw.journal.add(
                    "EMAIL",
                    remote=addresses[0],
                    result="CHECK DOCUMENT",
                    detail={"problems": problems},
                )
                return handle.finish("CHECK DOCUMENT", "NOTHING SENT")
            handle.set_state("smtp")
            handle.show("SENDING E-MAIL", addresses[0][:20])
            job = self.email.submit(addresses, pages, resolution)
            self.waiting[job] = handle
            if problems:
                fw.log.emit("email", "check_document", job=job, problems=problems)

        scan.start(resolution, contrast, on_page, on_done, on_problem)

    def _result(self, result: EmailResult) -> None:
        fw = self.fw
        handle = self.waiting.pop(result.job, None)
        second = f"RETRY IN {result.retry_in // 60_000_000} MIN" if not result.final else ""
        if result.word == "EMAIL SENT":
            second = f"{result.pages} PAGE{'S' if result.pages != 1 else ''}"
        if handle is not None and handle.active:
            handle.finish(result.lcd, second)
        elif fw.powered and (fw.state.startswith("standby") or fw.state == "message"):
            fw.notice(result.lcd, second)
