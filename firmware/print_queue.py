"""The print queue: copies, received faxes and reports waiting to be printed, in battery-backed
memory, fed to print control one sheet at a time.

A print job is an NVRAM record that names its pages in image memory and how far printing got.
Each delivered sheet is recorded, so after a jam, a cover opened or a power cut printing resumes
with the first sheet not delivered: nothing lost, nothing doubled. `listeners` hear a `PrintEvent`
for each job that becomes ready, each sheet delivered, and each job completed, cancelled, held
or discarded.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from estudio190f.hw.board import Board
from estudio190f.hw.listeners import Listeners
from estudio190f.hw.nvram import Record

from .image_memory import ImageMemory, MemoryFull
from .page import Page
from .print_control import PrintControl, SheetLabel, SheetOrder, layout
from .settings import Settings

JOB_KIND = "print_job"
PrintKind = Literal["copy", "fax", "report"]
PrintState = Literal["scanning", "ready", "held", "cancelling"]
PrintEventKind = Literal["ready", "sheet", "completed", "cancelled", "held", "discarded"]
FRESH_PAGES = 4  # pages kept in RAM as submitted (16 MiB at fine), printed without decoding


@dataclass
class PrintJob:
    id: str  # "J<record id>"
    record: int
    kind: PrintKind
    state: PrintState
    copies: int
    pages: list[int]  # image-memory page ids, in page order
    done: int  # units (copy x page) fully delivered
    part: int  # sheets of the current unit delivered (a continued page has several)
    meta: dict[str, Any] = field(default_factory=dict)  # what the job is (title, remote, ...)

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


@dataclass(frozen=True)
class PrintEvent:
    """What happened to a print job. For `sheet`: the page, copy and part of the sheet
    delivered, and the units done of the job's units (pages x copies)."""

    job: str
    kind: PrintKind
    event: PrintEventKind
    page: int = 0
    copy: int = 0
    part: int = 0
    parts: int = 0
    done: int = 0
    units: int = 0
    pages: int = 0
    copies: int = 0


class PrintQueue:
    """Jobs waiting to print, oldest first: the sheet source of print control."""

    def __init__(self, board: Board, settings: Settings, memory: ImageMemory,
                 control: PrintControl) -> None:  # fmt: skip
        self.board = board
        self.nvram = board.nvram
        self.log = board.log
        self.settings = settings
        self.memory = memory
        self.control = control
        self.listeners: Listeners[[PrintEvent]] = Listeners()
        # RAM only: sheets handed out and not delivered, sheets given back, pages laid out.
        self._picked: dict[str, tuple[int, int]] = {}
        self._again: deque[SheetOrder] = deque()
        self._layouts: dict[tuple[int, str, str], list[np.ndarray]] = {}
        # Pages just submitted, as given, so that printing them does not decode them back from
        # image memory (a page is read from memory after a power cut, or once it has left this).
        self._fresh: dict[int, Page] = {}
        control.attach_source(self)
        board.power.changed.add(self._on_power)

    def detach(self) -> None:
        self.board.power.changed.discard(self._on_power)

    # -- jobs --------------------------------------------------------------------------------
    def create(self, kind: PrintKind, copies: int = 1, state: PrintState = "scanning",
               **meta: Any) -> str:  # fmt: skip
        with self.nvram.transaction():
            record = self.nvram.add_record(JOB_KIND, {})
            job = PrintJob(f"J{record}", record, kind, state, copies, [], 0, 0, meta)
            self.nvram.update_record(record, job.to_meta())
        self.log.emit("queue", "create", job=job.id, kind=kind, copies=copies)
        return job.id

    def add_page(self, job_id: str, page_id: int, page: Page | None = None) -> None:
        """Page `page_id` of image memory joins the job; `page` is that page as stored (kept in
        RAM for a while, so printing it needs no decoding)."""
        job = self._job(job_id)
        job.pages.append(page_id)
        self._save(job)
        if page is not None:
            self._keep_fresh(page_id, page)

    def submit(self, pages: list[Page], kind: PrintKind = "report", copies: int = 1,
               **meta: Any) -> str:  # fmt: skip
        """Store `pages` in image memory and print them (reports, received faxes).

        MemoryFull leaves nothing of the job behind.
        """
        job_id = self.create(kind, copies, **meta)
        try:
            for index, page in enumerate(pages, start=1):
                self.add_page(job_id, self.memory.store(page, job_id, index).id, page)
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
        self.listeners(PrintEvent(job.id, job.kind, "ready"))
        self.control.kick()

    def release(self, job_id: str) -> None:
        """A held job prints."""
        self.ready(job_id)

    def cancel(self, job_id: str, keep: bool = False) -> None:
        """Stop printing `job_id`. Sheets already in the path come out; then its pages are
        discarded, or with `keep` the job is held in memory (MEMORY LED) for `release`."""
        job = self._job(job_id)
        self._again = deque(o for o in self._again if o.label.job != job_id)
        self._picked.pop(job_id, None)
        job.state = "cancelling"
        job.meta["keep"] = keep
        self._save(job)
        self.log.emit("queue", "cancel", job=job_id, keep=keep)
        if not self._in_flight(job_id):
            self._settle_cancel(job)

    def discard(self, job_id: str) -> None:
        job = self._find(job_id)
        if job is not None:
            self._forget_fresh(job.pages)
        with self.nvram.transaction():
            self.memory.discard_job(job_id)
            if job is not None:
                self.nvram.delete_record(job.record)
        self._again = deque(o for o in self._again if o.label.job != job_id)
        self._picked.pop(job_id, None)
        self.log.emit("queue", "discard", job=job_id)
        if job is not None:
            self.listeners(PrintEvent(job_id, job.kind, "discarded"))

    def jobs(self) -> list[PrintJob]:
        return [PrintJob.from_record(r) for r in self.nvram.records(JOB_KIND)]

    def job(self, job_id: str) -> PrintJob | None:
        return self._find(job_id)

    def recover(self) -> list[PrintJob]:
        """At power-on: pages scanned before the cut are printed, cancels finish, then print.
        Returns the jobs recovered from a scan the cut interrupted (with pages to print)."""
        recovered = []
        for job in self.jobs():
            if job.state == "scanning":
                job.state = "ready"
                self._save(job)
                self.log.emit("queue", "recovered", job=job.id, pages=len(job.pages))
                if not job.pages:
                    self.discard(job.id)
                else:
                    recovered.append(job)
            elif job.state == "cancelling":
                self._settle_cancel(job)
        self.control.check_path()
        self.control.kick()
        return recovered

    def clear(self) -> None:
        """Service-mode MEMORY CLEAR: every job and page."""
        self.nvram.delete_records(JOB_KIND)
        self.memory.clear()
        self._fresh.clear()
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
            label = SheetLabel(job.id, unit, unit % len(job.pages) + 1, unit // len(job.pages) + 1,
                               part + 1, len(rasters))  # fmt: skip
            self._picked[job.id] = (unit, part + 1) if part + 1 < len(rasters) else (unit + 1, 0)
            return SheetOrder(rasters[part], label)
        return None

    def delivered(self, order: SheetOrder) -> None:
        label = order.label
        job = self._find(label.job)
        if job is None:
            return
        job.done, job.part = (
            (label.unit + 1, 0) if label.part >= label.parts else (label.unit, label.part)
        )
        sheet = PrintEvent(job.id, job.kind, "sheet", label.page, label.copy, label.part,
                           label.parts, job.done, job.units, len(job.pages), job.copies)  # fmt: skip
        if job.state == "cancelling":
            self._save(job)
            self.listeners(sheet)
            if not self._in_flight(job.id):
                self._settle_cancel(job)
            return
        if job.done >= job.units:
            with self.nvram.transaction():
                self.memory.discard_job(job.id)
                self.nvram.delete_record(job.record)
            self._forget_fresh(job.pages)
            self._picked.pop(job.id, None)
            self.log.emit("queue", "completed", job=job.id, sheets=job.units)
            self.listeners(sheet)
            self.listeners(
                PrintEvent(job.id, job.kind, "completed", done=job.done, units=job.units)
            )
        else:
            self._save(job)
            self.listeners(sheet)

    def returned(self, orders: list[SheetOrder]) -> None:
        self._again.extendleft(reversed([o for o in orders if self._find(o.label.job)]))

    # -- helpers -----------------------------------------------------------------------------
    def _ready(self) -> list[PrintJob]:
        return [job for job in self.jobs() if job.state == "ready"]

    def _cursor(self, job: PrintJob) -> tuple[int, int]:
        return self._picked.get(job.id, (job.done, job.part))

    def _rasters(self, page_id: int) -> list[np.ndarray]:
        paper = self.settings.text("paper.size")
        long_page = self.settings.text("paper.long_page")
        key = (page_id, paper, long_page)
        if key not in self._layouts:
            if len(self._layouts) >= 4:
                self._layouts.pop(next(iter(self._layouts)))
            page = self._fresh.pop(page_id, None)
            if page is None:
                page = self.memory.load(page_id)
            self._layouts[key] = layout(page, paper, long_page)
        return self._layouts[key]

    def _keep_fresh(self, page_id: int, page: Page) -> None:
        self._fresh[page_id] = page
        while len(self._fresh) > FRESH_PAGES:
            self._fresh.pop(next(iter(self._fresh)))

    def _forget_fresh(self, page_ids: list[int]) -> None:
        for page_id in page_ids:
            self._fresh.pop(page_id, None)

    def _in_flight(self, job_id: str) -> bool:
        return any(f.order.label.job == job_id for f in self.control.in_flight)

    def _settle_cancel(self, job: PrintJob) -> None:
        if job.meta.get("keep") and job.pages:
            job.state = "held"
            job.meta.pop("keep", None)
            self._save(job)
            self.log.emit("queue", "held", job=job.id)
            self.listeners(PrintEvent(job.id, job.kind, "held"))
        else:
            self.discard(job.id)
            self.listeners(PrintEvent(job.id, job.kind, "cancelled"))

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

    def _on_power(self, on: bool) -> None:
        if not on:
            self._picked.clear()
            self._again.clear()
            self._layouts.clear()
            self._fresh.clear()
