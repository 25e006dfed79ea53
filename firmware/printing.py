"""Printing in the background: received faxes and reports come out of the print queue while the
machine is otherwise idle, and the LCD says so.

While such pages print and the operator is not busy, the panel shows the job `print`:
`PRINTING` / `PAGE n/N`, n the page coming out now of the N waiting since printing began (a
page continued on a second sheet keeps its number). When the last one is out the LCD says
`PRINTING` / `COMPLETED`. READY never shows while a page is printing: arriving in standby with
pages printing (after a call, after a notice) shows the job again at once. STOP holds the pages
not printed yet in memory (MEMORY LED); a fault sends the LCD to standby, where the fault's words
and ALARM show and the panel stays usable; the job comes back once the fault is cleared.
"""

from __future__ import annotations

from .control_panel import ControlPanel, JobHandle
from .print_queue import PrintEvent, PrintQueue


class BackgroundPrinting:
    """The owner of the `print` job (JobOwner)."""

    def __init__(self, panel: ControlPanel, queue: PrintQueue) -> None:
        self.panel = panel
        self.queue = queue
        self.handle: JobHandle | None = None
        self.done = 0  # pages out since printing began
        queue.listeners.add(self._queue_event)
        panel.entered_standby.add(self._show)

    def printing(self) -> bool:
        """Whether pages of faxes or reports are waiting to come out."""
        return self._remaining() > 0

    # -- JobOwner ------------------------------------------------------------------------------
    def stop(self) -> None:
        handle, self.handle = self.handle, None
        for job in self.queue.jobs():
            if job.kind != "copy" and job.state == "ready":
                self.queue.cancel(job.id, keep=True)
        self.done = 0
        if handle is not None:
            handle.finish("PRINTING", "STOPPED")

    def key(self, key: str) -> bool:
        return False

    # -- what the queue says --------------------------------------------------------------------
    def _queue_event(self, event: PrintEvent) -> None:
        if event.kind == "copy":
            return
        if event.event == "sheet" and event.part == event.parts:
            self.done += 1
        if event.event in ("ready", "sheet"):
            self._show()
        elif event.event in ("completed", "cancelled", "discarded") and not self.printing():
            self.done = 0
            handle, self.handle = self.handle, None
            if handle is not None and handle.active:
                handle.finish("PRINTING", "COMPLETED")

    def _remaining(self) -> int:
        """Pages still to come out (each copy of a page counts), of the jobs that print now."""
        return sum(
            job.units - job.done
            for job in self.queue.jobs()
            if job.kind != "copy" and job.state == "ready"
        )

    def _show(self) -> None:
        panel = self.panel
        remaining = self._remaining()
        if remaining == 0:
            return
        if self.handle is None or not self.handle.shown:
            if not panel.running or not panel.in_standby or panel.alerts:
                return
            self.handle = panel.begin_job("print", self)
            self.handle.set_state("print")
        total = self.done + remaining
        self.handle.show("PRINTING", f"PAGE {min(self.done + 1, total)}/{total}")

    def alert(self, source: str, word: str | None) -> None:
        """A printer fault: back to standby, where its words show; cleared: printing shows again."""
        if word is not None:
            handle, self.handle = self.handle, None
            if handle is not None and handle.shown:
                handle.finish()
        else:
            self._show()
