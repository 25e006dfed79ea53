"""COPY: scan every document to image memory, then print the copies; and the print queue.

`PrintQueue` holds print jobs (copies, received faxes, reports) as NVRAM records that name their
pages in image memory and how far printing got. It feeds `PrintControl` one sheet at a time and
records each delivered sheet, so after a jam, a cover opened or a power cut, printing resumes
with the first sheet not delivered: nothing lost, nothing doubled.

`CopyJob` is the COPY key's job, driven by the UI: `start(copies, resolution, contrast)`,
`cancel(keep)` for STOP, `choose(keep)` after MEMORY FULL. It reports to a view (`show`,
`set_state`, `finish`, as the firmware's `JobHandle` has them). `copy_feature` is the one entry
point the main state machine registers as the "copy" feature.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from estudio190f.hw.board import Board
from estudio190f.hw.document import Sheet
from estudio190f.hw.nvram import Record

from .image_memory import ImageMemory, MemoryFull
from .page import Page
from .print_control import COVER_OPEN, NO_PAPER, PAPER_JAM, PrintControl, SheetOrder, layout
from .scan_control import CHECK_DOCUMENT, DOCUMENT_JAM, ScanControl
from .settings import Settings

JOB_KIND = "print_job"
MAX_COPIES = 99
# What the second LCD line says while a fault needs the operator.
ALERT_HINT = {
    PAPER_JAM: "REMOVE PAPER",
    DOCUMENT_JAM: "REMOVE DOCUMENT",
    NO_PAPER: "LOAD PAPER",
    COVER_OPEN: "CLOSE COVER",
}


# -- the print queue ---------------------------------------------------------------------------
@dataclass
class PrintJob:
    id: str  # "J<record id>"
    record: int
    kind: str  # copy | fax | report
    state: str  # scanning | ready | held | cancelling
    copies: int
    pages: list[int]  # image-memory page ids, in page order
    done: int  # units (copy x page) fully delivered
    part: int  # sheets of the current unit delivered (a continued page has several)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def units(self) -> int:
        return self.copies * len(self.pages)

    def to_meta(self) -> dict[str, Any]:
        return {**self.meta, "job": self.id, "kind": self.kind, "state": self.state,
                "copies": self.copies, "pages": self.pages, "done": self.done,
                "part": self.part}  # fmt: skip

    @classmethod
    def from_record(cls, record: Record) -> PrintJob:
        m = dict(record.meta)
        core = {k: m.pop(k) for k in ("job", "kind", "state", "copies", "pages", "done", "part")}
        return cls(core["job"], record.id, core["kind"], core["state"], int(core["copies"]),
                   list(core["pages"]), int(core["done"]), int(core["part"]), m)  # fmt: skip


class PrintQueue:
    """Jobs waiting to print, oldest first. Listeners get (job id, event, details)."""

    def __init__(self, board: Board, settings: Settings, memory: ImageMemory,
                 control: PrintControl) -> None:  # fmt: skip
        self.board = board
        self.nvram = board.nvram
        self.log = board.log
        self.settings = settings
        self.memory = memory
        self.control = control
        self.listeners: list[Callable[[str, str, dict[str, Any]], None]] = []
        # RAM only: sheets handed out and not delivered, sheets given back, pages laid out.
        self._picked: dict[str, tuple[int, int]] = {}
        self._again: deque[SheetOrder] = deque()
        self._layouts: dict[tuple[int, str, str], list[Any]] = {}
        control.attach_source(self)
        board.power_listeners.append(self._on_power)

    def detach(self) -> None:
        if self._on_power in self.board.power_listeners:
            self.board.power_listeners.remove(self._on_power)

    # -- jobs --------------------------------------------------------------------------------
    def create(self, kind: str, copies: int = 1, state: str = "scanning", **meta: Any) -> str:
        with self.nvram.transaction():
            record = self.nvram.add_record(JOB_KIND, {})
            job = PrintJob(f"J{record}", record, kind, state, copies, [], 0, 0, meta)
            self.nvram.update_record(record, job.to_meta())
        self.log.emit("queue", "create", job=job.id, kind=kind, copies=copies)
        return job.id

    def add_page(self, job_id: str, page_id: int) -> None:
        job = self._job(job_id)
        job.pages.append(page_id)
        self._save(job)

    def submit(self, pages: list[Page], kind: str = "report", copies: int = 1, **meta: Any) -> str:
        """Store `pages` in image memory and print them (reports, received faxes).

        MemoryFull leaves nothing of the job behind.
        """
        job_id = self.create(kind, copies, **meta)
        try:
            for index, page in enumerate(pages, start=1):
                self.add_page(job_id, self.memory.store(page, job_id, index).id)
        except MemoryFull:
            self.discard(job_id)
            raise
        self.ready(job_id)
        return job_id

    def ready(self, job_id: str) -> None:
        job = self._job(job_id)
        if not job.pages:
            return self.discard(job_id)
        job.state = "ready"
        self._save(job)
        self.log.emit("queue", "ready", job=job.id, pages=len(job.pages), copies=job.copies)
        self._notify(job.id, "ready", {"kind": job.kind})
        self.control.kick()

    def release(self, job_id: str) -> None:
        """A held job prints."""
        self.ready(job_id)

    def cancel(self, job_id: str, keep: bool = False) -> None:
        """Stop printing `job_id`. Sheets already in the path come out; then its pages are
        discarded, or with `keep` the job is held in memory (MEMORY LED) for `release`."""
        job = self._job(job_id)
        self._again = deque(o for o in self._again if o.meta.get("job") != job_id)
        self._picked.pop(job_id, None)
        job.state = "cancelling"
        job.meta["keep"] = keep
        self._save(job)
        self.log.emit("queue", "cancel", job=job_id, keep=keep)
        if not self._in_flight(job_id):
            self._settle_cancel(job)

    def discard(self, job_id: str) -> None:
        job = self._find(job_id)
        with self.nvram.transaction():
            self.memory.discard_job(job_id)
            if job is not None:
                self.nvram.delete_record(job.record)
        self._again = deque(o for o in self._again if o.meta.get("job") != job_id)
        self._picked.pop(job_id, None)
        self.log.emit("queue", "discard", job=job_id)
        self._notify(job_id, "discarded", {})

    def jobs(self) -> list[PrintJob]:
        return [PrintJob.from_record(r) for r in self.nvram.records(JOB_KIND)]

    def recover(self) -> None:
        """At power-on: pages scanned before the cut are printed, cancels finish, then print."""
        for job in self.jobs():
            if job.state == "scanning":
                job.state = "ready"
                self._save(job)
                self.log.emit("queue", "recovered", job=job.id, pages=len(job.pages))
                if not job.pages:
                    self.discard(job.id)
            elif job.state == "cancelling":
                self._settle_cancel(job)
        self.control.check_path()
        self.control.kick()

    def clear(self) -> None:
        """Service-mode MEMORY CLEAR: every job and page."""
        self.nvram.delete_records(JOB_KIND)
        self.memory.clear()
        self._picked.clear()
        self._again.clear()

    # -- the sheet source of PrintControl --------------------------------------------------------
    def pending(self) -> bool:
        if self._again:
            return True
        return any(self._cursor(job)[0] < job.units for job in self._ready())

    def next_sheet(self) -> SheetOrder | None:
        if self._again:
            return self._again.popleft()
        for job in self._ready():
            unit, part = self._cursor(job)
            if unit >= job.units:
                continue
            rasters = self._rasters(job.pages[unit % len(job.pages)])
            meta = {"job": job.id, "unit": unit, "page": unit % len(job.pages) + 1,
                    "copy": unit // len(job.pages) + 1, "part": part + 1,
                    "parts": len(rasters)}  # fmt: skip
            self._picked[job.id] = (unit, part + 1) if part + 1 < len(rasters) else (unit + 1, 0)
            return SheetOrder(rasters[part], meta)
        return None

    def delivered(self, order: SheetOrder) -> None:
        job = self._find(str(order.meta["job"]))
        if job is None:
            return
        unit, part, parts = (
            int(order.meta["unit"]),
            int(order.meta["part"]),
            int(order.meta["parts"]),
        )
        job.done, job.part = (unit + 1, 0) if part >= parts else (unit, part)
        details = {"page": order.meta["page"], "copy": order.meta["copy"], "part": part,
                   "done": job.done, "units": job.units, "pages": len(job.pages),
                   "copies": job.copies}  # fmt: skip
        if job.state == "cancelling":
            self._save(job)
            self._notify(job.id, "sheet", details)
            if not self._in_flight(job.id):
                self._settle_cancel(job)
            return
        if job.done >= job.units:
            with self.nvram.transaction():
                self.memory.discard_job(job.id)
                self.nvram.delete_record(job.record)
            self._picked.pop(job.id, None)
            self.log.emit("queue", "completed", job=job.id, sheets=job.units)
            self._notify(job.id, "sheet", details)
            self._notify(job.id, "completed", details)
        else:
            self._save(job)
            self._notify(job.id, "sheet", details)

    def returned(self, orders: list[SheetOrder]) -> None:
        self._again.extendleft(reversed([o for o in orders if self._find(str(o.meta["job"]))]))

    # -- helpers -----------------------------------------------------------------------------
    def _ready(self) -> list[PrintJob]:
        return [job for job in self.jobs() if job.state == "ready"]

    def _cursor(self, job: PrintJob) -> tuple[int, int]:
        return self._picked.get(job.id, (job.done, job.part))

    def _rasters(self, page_id: int) -> list[Any]:
        paper = str(self.settings.get("paper.size"))
        long_page = str(self.settings.get("paper.long_page"))
        key = (page_id, paper, long_page)
        if key not in self._layouts:
            if len(self._layouts) >= 4:
                self._layouts.pop(next(iter(self._layouts)))
            self._layouts[key] = layout(self.memory.load(page_id), paper, long_page)
        return self._layouts[key]

    def _in_flight(self, job_id: str) -> bool:
        return any(f.order.meta.get("job") == job_id for f in self.control.in_flight)

    def _settle_cancel(self, job: PrintJob) -> None:
        if job.meta.get("keep") and job.pages:
            job.state = "held"
            job.meta.pop("keep", None)
            self._save(job)
            self.log.emit("queue", "held", job=job.id)
            self._notify(job.id, "held", {})
        else:
            self.discard(job.id)
            self._notify(job.id, "cancelled", {})

    def _find(self, job_id: str) -> PrintJob | None:
        if not job_id.startswith("J") or not job_id[1:].isdigit():
            return None
        record = self.nvram.record(int(job_id[1:]))
        return PrintJob.from_record(record) if record and record.kind == JOB_KIND else None

    def _job(self, job_id: str) -> PrintJob:
        job = self._find(job_id)
        if job is None:
            raise KeyError(f"no print job {job_id}")
        return job

    def _save(self, job: PrintJob) -> None:
        self.nvram.update_record(job.record, job.to_meta())

    def _notify(self, job_id: str, event: str, details: dict[str, Any]) -> None:
        for fn in list(self.listeners):
            fn(job_id, event, details)

    def _on_power(self, on: bool) -> None:
        if not on:
            self._picked.clear()
            self._again.clear()
            self._layouts.clear()


# -- the bundle the firmware builds ----------------------------------------------------------------
@dataclass
class PaperHandling:
    """The firmware's paper-handling objects on one board (build after the hardware models)."""

    memory: ImageMemory
    scan: ScanControl
    printer: PrintControl
    queue: PrintQueue

    @classmethod
    def build(cls, board: Board, settings: Settings) -> PaperHandling:
        memory = ImageMemory(board.nvram, lambda: int(settings.get("memory.size_kb")))
        scan = ScanControl(board)
        printer = PrintControl(board)
        queue = PrintQueue(board, settings, memory, printer)

        def follow(key: str, value: Any) -> None:
            # The operator set what is loaded: the models follow the panel.
            if key in ("feeder.capacity", "*"):
                board.feeder.capacity = int(settings.get("feeder.capacity"))
            if key in ("paper.capacity", "*"):
                board.printer.capacity = int(settings.get("paper.capacity"))
            if key in ("paper.size", "*"):
                board.printer.set_paper_size(str(settings.get("paper.size")))

        settings.listeners.append(follow)
        follow("*", None)
        return cls(memory, scan, printer, queue)

    def connect(self, fw: Any) -> None:
        """Wire into the main firmware (`firmware.machine.Firmware`): the COPY feature, the
        fault words (standby LCD and ALARM LED), the MEMORY LED, recovery at every boot and the
        service mode's MEMORY CLEAR."""
        fw.features.register("copy", copy_feature(self))
        self.scan.alert_listeners.append(fw.set_alert)
        self.printer.alert_listeners.append(fw.set_alert)

        def memory_led(pages: int) -> None:
            fw.set_indicator("MEMORY", "on" if pages else "off")

        def booted() -> None:
            memory_led(self.memory.count())
            self.scan.check_path()
            self.queue.recover()

        self.memory.listeners.append(memory_led)
        fw.boot_hooks.append(booted)
        fw.memory_clear_hooks.append(self.queue.clear)

    def detach(self) -> None:
        self.scan.detach()
        self.printer.detach()
        self.queue.detach()


# -- COPY -------------------------------------------------------------------------------------------
class JobView(Protocol):
    def show(self, line1: str, line2: str = "") -> None: ...

    def set_state(self, substate: str) -> None: ...

    def finish(self, line1: str = "", line2: str = "") -> None: ...


class _NoView:
    def show(self, line1: str, line2: str = "") -> None:
        pass

    def set_state(self, substate: str) -> None:
        pass

    def finish(self, line1: str = "", line2: str = "") -> None:
        pass


@dataclass
class CopyResult:
    status: str  # COMPLETED | CANCELLED | MEMORY FULL | CHECK DOCUMENT | NO DOCUMENT | KEPT
    pages: int = 0  # pages scanned into memory
    sheets: int = 0  # sheets delivered
    unreadable: list[str] = field(default_factory=list)  # documents reported CHECK DOCUMENT


class CopyJob:
    """One COPY: scan to memory, then print `copies` collated sets."""

    def __init__(
        self,
        board: Board,
        settings: Settings,
        memory: ImageMemory,
        scan_control: ScanControl,
        print_control: PrintControl,
        queue: PrintQueue,
        *,
        view: JobView | None = None,
        journal: Any = None,
        on_result: Callable[[CopyResult], None] | None = None,
    ) -> None:
        self.board = board
        self.log = board.log
        self.settings = settings
        self.memory = memory
        self.scan = scan_control
        self.printer = print_control
        self.queue = queue
        self.view: JobView = view or _NoView()
        self.journal = journal
        self.on_result = on_result
        self.state = "new"  # new | scanning | memory_full | printing | done
        self.job_id = ""
        self.copies = 1
        self.resolution = "standard"
        self.contrast = "normal"
        self.pages = 0
        self.sheets = 0
        self.unreadable: list[str] = []
        self.result: CopyResult | None = None
        self._memory_full = False
        self._stopping_keep = False
        self._alerts: dict[str, str] = {}
        self._activity = ("", "")

    # -- the UI's side -------------------------------------------------------------------------
    def start(self, copies: int = 1, resolution: str | None = None,
              contrast: str | None = None) -> None:  # fmt: skip
        if self.state != "new":
            raise RuntimeError("a copy job starts once")
        self.copies = max(1, min(MAX_COPIES, int(copies)))
        self.resolution = resolution or str(self.settings.get("scan.resolution"))
        self.contrast = contrast or str(self.settings.get("scan.contrast"))
        self._hook(True)
        if not self.board.feeder.document_set:
            return self._finish(CopyResult("NO DOCUMENT"), "NO DOCUMENT", "LOAD DOCUMENT")
        self.job_id = self.queue.create("copy", self.copies, resolution=self.resolution)
        self.log.emit("copy", "start", job=self.job_id, copies=self.copies,
                      resolution=self.resolution, contrast=self.contrast)  # fmt: skip
        self.state = "scanning"
        self.view.set_state("scan")
        self._activity = ("SCANNING", "PAGE 1")
        self._render()
        self.scan.start(self.resolution, self.contrast, self._page, self._scanned, self._problem)

    def cancel(self, keep: bool = False) -> None:
        """STOP. With `keep`, pages in memory stay there (held) instead of being discarded."""
        self.log.emit("copy", "stop", job=self.job_id, state=self.state, keep=keep)
        if self.state == "scanning":
            self._stopping_keep = keep
            self.state = "stopping"
            self.scan.cancel()
        elif self.state == "memory_full":
            self.choose(keep)
        elif self.state == "printing":
            self.queue.cancel(self.job_id, keep=keep)

    def choose(self, keep: bool) -> None:
        """After MEMORY FULL: print what fit (keep) or discard it."""
        if self.state != "memory_full":
            return
        if keep:
            self._print()
        else:
            self.queue.discard(self.job_id)
            self._finish(self._result("MEMORY FULL"), "MEMORY FULL", "COPY CANCELLED")

    def key(self, key: str) -> bool:
        """Keys while the job runs (JobHandle.on_key): START keeps what fit after MEMORY FULL."""
        if self.state == "memory_full" and key == "START":
            self.choose(True)
            return True
        return False

    # -- scanning ----------------------------------------------------------------------------------
    def _page(self, page: Page, sheet: Sheet) -> bool:
        index = self.pages + 1
        try:
            stored = self.memory.store(page, self.job_id, index, document=sheet.name)
        except MemoryFull as exc:
            self.log.emit("copy", "memory_full", job=self.job_id, page=index, needed=exc.needed,
                          free=exc.free)  # fmt: skip
            self._memory_full = True
            return False
        self.queue.add_page(self.job_id, stored.id)
        self.pages = index
        self._activity = ("SCANNING", f"PAGE {index + 1}")
        self._render()
        return True

    def _problem(self, sheet: Sheet, reason: str) -> None:
        self.unreadable.append(sheet.name)
        if self.journal is not None:
            self.journal.add("COPY", remote=sheet.name[:20], pages=0, result=CHECK_DOCUMENT,
                             detail={"reason": reason})  # fmt: skip
        self.view.show(CHECK_DOCUMENT, sheet.name[:20])

    def _scanned(self, reason: str) -> None:
        if self.state == "stopping":
            if self._stopping_keep and self.pages:
                self.queue.cancel(self.job_id, keep=True)
                return self._finish(self._result("KEPT"), "COPY", "KEPT IN MEMORY")
            self.queue.discard(self.job_id)
            return self._finish(self._result("CANCELLED"), "COPY", "CANCELLED")
        if self._memory_full:
            if not self.pages:
                self.queue.discard(self.job_id)
                return self._finish(self._result("MEMORY FULL"), "MEMORY FULL", "")
            self.state = "memory_full"
            self.view.set_state("memory_full")
            self._activity = ("MEMORY FULL", "START=COPY STOP=CLR")
            return self._render()
        if not self.pages:
            self.queue.discard(self.job_id)
            status = CHECK_DOCUMENT if self.unreadable else "NO DOCUMENT"
            return self._finish(self._result(status), status, "")
        self._print()

    # -- printing ----------------------------------------------------------------------------------
    def _print(self) -> None:
        self.state = "printing"
        self.view.set_state("print")
        self._activity = ("COPYING", self._progress(1, 1))
        self._render()
        self.queue.ready(self.job_id)

    def _progress(self, page: int, copy: int) -> str:
        return f"PAGE {page}/{self.pages} COPY {copy}/{self.copies}"

    def _on_queue(self, job_id: str, event: str, details: dict[str, Any]) -> None:
        if job_id != self.job_id or self.state != "printing":
            return
        if event == "sheet":
            self.sheets += 1
            done, pages = int(details["done"]), max(1, int(details["pages"]))
            if done < self.pages * self.copies:
                self._activity = ("COPYING", self._progress(done % pages + 1, done // pages + 1))
                self._render()
        elif event == "completed":
            status = CHECK_DOCUMENT if self.unreadable else "COMPLETED"
            if self.unreadable:
                self._finish(
                    self._result(status), CHECK_DOCUMENT, f"{len(self.unreadable)} NOT COPIED"
                )
            else:
                self._finish(self._result(status), "", "")
        elif event in ("cancelled", "discarded"):
            self._finish(self._result("CANCELLED"), "COPY", "CANCELLED")
        elif event == "held":
            self._finish(self._result("KEPT"), "COPY", "KEPT IN MEMORY")

    # -- alerts and the LCD ------------------------------------------------------------------------
    def _on_alert(self, source: str, word: str | None) -> None:
        if word is None:
            self._alerts.pop(source, None)
            self.view.set_state("print" if self.state == "printing" else "scan")
        else:
            self._alerts[source] = word
            self.view.set_state("fault")
        self._render()

    def _render(self) -> None:
        if self._alerts:
            word = next(iter(self._alerts.values()))
            self.view.show(word, ALERT_HINT.get(word, ""))
        else:
            self.view.show(*self._activity)

    # -- end ---------------------------------------------------------------------------------------
    def _result(self, status: str) -> CopyResult:
        return CopyResult(status, self.pages, self.sheets, list(self.unreadable))

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
        self.view.finish(line1, line2)
        if self.on_result is not None:
            self.on_result(result)

    def _hook(self, on: bool) -> None:
        pairs: tuple[tuple[list[Any], Any], ...] = (
                 (self.scan.alert_listeners, self._on_alert),
                 (self.printer.alert_listeners, self._on_alert),
                 (self.queue.listeners, self._on_queue),
                 (self.board.power_listeners, self._on_power))  # fmt: skip
        for hooks, fn in pairs:
            if on and fn not in hooks:
                hooks.append(fn)
            elif not on and fn in hooks:
                hooks.remove(fn)

    def _on_power(self, on: bool) -> None:
        if not on:
            # The job lived in RAM: it is gone. Its pages and print job are in NVRAM and print
            # after power-on (PrintQueue.recover).
            self.state = "done"
            self._hook(False)


def copy_feature(paper: PaperHandling) -> Callable[..., Any]:
    """The "copy" feature for `Firmware.features.register("copy", copy_feature(paper))`."""

    def run(fw: Any, copies: int = 1, resolution: str | None = None,
            contrast: str | None = None, **_: Any) -> CopyJob:  # fmt: skip
        job: CopyJob | None = None

        def stop() -> None:
            if job is not None:
                job.cancel(keep=False)

        def key(name: str) -> bool:
            return job.key(name) if job is not None else False

        handle = fw.begin_job("copy", on_stop=stop, on_key=key)
        job = CopyJob(fw.board, fw.settings, paper.memory, paper.scan, paper.printer, paper.queue,
                      view=handle, journal=fw.journal)  # fmt: skip
        job.start(copies, resolution, contrast)
        return job

    return run
