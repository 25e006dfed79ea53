"""The fax unit of one machine, on its one line: sending, receiving, polling, and which call goes
next.

- Sending (FAX, number(s), START): memory transmission by default — every page is scanned into
  image memory first as memory file F-nnn (MEMORY LED), then the call is placed; direct
  transmission (`transmit.mode` DIRECT) dials once the first page is read and feeds the call the
  pages as the scanner reads them. Several numbers (SET between them, one-touch, speed dial)
  broadcast one memory file. A delayed transmission waits in memory for its time. Busy, no answer,
  a dead line and a call cut in the middle are redialled `transmit.redial_tries` times,
  `transmit.redial_interval` minutes apart; a redial resumes with the first page the far end did
  not confirm. Each call makes a TX journal entry; a transmission report prints when a file is
  settled, as `transmit.report` says.
- Receiving: incoming calls are answered after `receive.rings` rings in AUTO and FAX modes; in
  TEL mode the LCD shows the call and START answers. Pages print as they arrive or wait in memory;
  each call makes an RX journal entry and the document goes to `documents` (the output writer's
  TIFF files).
- Polling: FUNCTION in number entry, 2:POLLING, START calls a machine and receives the document
  it holds; `store_polling_document` (FUNCTION menu) scans the feeder into a memory file that
  remote machines may poll, guarded by `polling.password` when it is set.

STOP while a fax job shows cancels it: while scanning, the memory file is deleted (nothing was
sent; the originals are in the feeder's exit tray); during a call the call ends with DCN (code
419) and the file is deleted with every destination not yet done — the operator stopped this
document, so the machine must not send it again on its own; the journal and the transmission
report say which destinations got which pages. STOP in standby cancels transmissions waiting to
redial.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Literal

from estudio190f.hw.board import Board
from estudio190f.hw.clock import SECOND, Timer
from estudio190f.hw.line import LineEvent, LineInterface
from estudio190f.hw.listeners import Listeners

from ..control_panel import ControlPanel, JobHandle, JobKind
from ..document_scan import ScanResult
from ..fax_call import CallProgress, CallResult, FaxCall, config_from_settings
from ..journal import Journal
from ..page import Page
from ..paper import PaperHandling
from ..reports import ReportPrinter
from ..settings import Settings
from ..t30.habits import apply_habits
from ..t30.results import ERROR_WORD
from ..t30.session import PageSink, ReceivedPage, StationConfig
from .files import CallRecord, Destination, FaxFile, FaxFiles
from .header import HeaderStamp
from .outbox import DirectOutbox, MemoryOutbox, Outbox, OutgoingDocument
from .receiving import ReceivedDocument, Reception, ReceptionKind, ReceptionSink, RxRecord
from .reports import (
    journal_polled,
    journal_reception,
    journal_transmission,
    pages_word,
    result_lines,
    transmission_report,
)
from .sending import PacedCall, SendScan, Transmission

# Statuses after which a destination is called again (while redials are left): the line was
# busy, nobody answered, the line was dead or dropped, or no fax answered (T1).
REDIAL_STATUSES = frozenset({"BUSY", "NO_ANSWER", "NO_DIAL_TONE", "CALLDROPPED", "T1_EXPIRED"})
LINE_GAP = 2 * SECOND  # between one call's end and the next call (COMPLETED is shown 2 s)
LINE_RETRY = 5 * SECOND  # a call due while the line is busy is tried again this often
StandbyNote = Literal["", "REDIAL", "DELAYED", "MEM TX"]


@dataclass(frozen=True)
class SendOptions:
    """What number entry's FUNCTION chose: a delayed transmission at HH:MM, or polling."""

    send_at: str = ""  # "HH:MM" on the machine's clock, "" for now
    poll: bool = False

    @property
    def label(self) -> str:
        if self.poll:
            return "POLLING"
        return f"DELAYED TX {self.send_at}" if self.send_at else ""


class FaxService:
    """Sending, receiving and polling on one machine with one line (see the module's text).
    It owns the fax jobs on the LCD (JobOwner)."""

    def __init__(self, board: Board, settings: Settings, journal: Journal, panel: ControlPanel,
                 paper: PaperHandling, reports: ReportPrinter) -> None:  # fmt: skip
        self.board = board
        self.settings = settings
        self.journal = journal
        self.panel = panel
        self.paper = paper
        self.reports = reports
        self.log = board.log
        self.files = FaxFiles(board.nvram, paper.memory)
        self.rx_record = RxRecord(board.nvram)
        # A far end's habits (`device NAME NUMBER habit=...`): the machine under test has none.
        self.habits: tuple[str, ...] = ()
        self.current: Transmission | None = None
        self.reception: Reception | None = None
        self.scanning: SendScan | None = None
        self.direct: list[DirectOutbox] = []
        self.view: JobHandle | None = None  # the job a transmission will show on next
        self.incoming: JobHandle | None = None  # TEL mode: the ringing call on the LCD
        self.last_lines: tuple[str, str] = ("", "")
        self._wake: Timer | None = None
        self._rest_until = 0
        # (file number or None, page number, page) as each page to send is scanned; each received
        # document; each finished call (TX, RX or POLL) with its result.
        self.scanned: Listeners[[int | None, int, Page]] = Listeners()
        self.documents: Listeners[[ReceivedDocument]] = Listeners()
        self.calls: Listeners[[str, CallResult]] = Listeners()
        if board.line is not None:
            board.line.listeners.add(self._line_event)

    @property
    def line(self) -> LineInterface | None:
        return self.board.line

    @property
    def line_free(self) -> bool:
        line = self.line
        return (
            line is not None
            and line.state == "idle"
            and self.current is None
            and self.reception is None
        )

    def station_config(self) -> StationConfig:
        """This station's T.30 configuration for a call: the settings, and any habits."""
        config = config_from_settings(self.settings)
        return apply_habits(config, self.habits) if self.habits else config

    def _job(self, kind: JobKind, background: bool = False) -> JobHandle:
        return self.panel.begin_job(kind, self, background=background)

    # -- what the panel asks for -----------------------------------------------------------------
    def send(self, numbers: list[str], options: SendOptions = SendOptions()) -> None:
        """FAX, number(s), START: scan the feeder and send (or poll, if that was chosen)."""
        panel = self.panel
        if options.poll:
            return self.poll(numbers)
        if self.line is None:
            return panel.notice("FAX SEND", "NO LINE")
        if not self.board.feeder.document_set:
            return panel.notice("NO DOCUMENT", "LOAD DOCUMENT")
        if self.paper.scan.busy or self.scanning is not None:
            return panel.notice("FAX SEND", "SCANNER BUSY")
        resolution, contrast = panel.resolution, panel.contrast
        direct = (
            self.settings.get("transmit.mode") == "direct"
            and len(numbers) == 1
            and not options.send_at
            and self.line_free
        )
        view = self._job("fax_send")
        outbox: Outbox
        if direct:
            outbox = DirectOutbox(numbers[0], resolution)
            self.direct.append(outbox)
        else:
            file = self.files.create("send", resolution, panel.clock_text(), numbers,
                                     self._send_at(options.send_at))  # fmt: skip
            outbox = MemoryOutbox(self.files, file)
        self.log.emit("fax", "send", file=outbox.label, numbers=numbers, resolution=resolution,
                      contrast=contrast, mode="direct" if direct else "memory",
                      send_at=outbox.send_at)  # fmt: skip
        self.view = view
        self._scan(view, outbox, resolution, contrast)

    def answer_manually(self) -> None:
        """START with no number: answer the ringing line (TEL mode, or before the ring count)."""
        line = self.line
        if line is not None and line.state == "ringing" and self.reception is None:
            self.answer(operator=True)
            return
        self.panel.notice("ENTER FAX NUMBER", "")

    def poll(self, numbers: Sequence[str]) -> None:
        panel = self.panel
        if not numbers:
            return panel.notice("POLLING", "ENTER FAX NUMBER")
        if not self.line_free:
            return panel.notice("POLLING", "LINE BUSY")
        number = numbers[-1]
        view = self._job("fax_receive")
        view.set_state("dial")
        view.show("POLLING", number)
        config = self.station_config()
        config.polling_password = self.settings.text("polling.password")
        rx = self._reception("POLL", view, number=number)
        call = FaxCall.dial(self.board, number, (), config, poll=True, sink=rx.sink,
                            on_progress=self._rx_progress, on_done=self._rx_done)  # fmt: skip
        self._run_reception(rx, call)

    def store_polling_document(self) -> None:
        """FUNCTION menu: scan the feeder as the document remote machines may poll."""
        panel = self.panel
        existing = self.polling_file()
        if not self.board.feeder.document_set:
            if existing is not None:
                return panel.notice("POLLING DOCUMENT", f"{existing.label} STORED")
            return panel.notice("NO DOCUMENT", "LOAD DOCUMENT")
        if self.paper.scan.busy or self.scanning is not None:
            return panel.notice("POLLING DOCUMENT", "SCANNER BUSY")
        if existing is not None and self._offered(existing):
            return panel.notice("POLLING DOCUMENT", "LINE BUSY")
        if existing is not None:
            self.files.delete(existing)  # the new document replaces the old one
        view = self._job("fax_send")
        file = self.files.create("polling", panel.resolution, panel.clock_text())
        self.log.emit("fax", "polling_document", file=file.label)
        self._scan(view, MemoryOutbox(self.files, file), panel.resolution, panel.contrast)

    def cancel_files(self) -> None:
        """FUNCTION menu: delete every memory file waiting (transmissions and the polling one)."""
        count = 0
        for file in self.files.files():
            if self.current is not None and self.current.outbox.file_no == file.no:
                continue
            if self.scanning is not None and self.scanning.outbox.file_no == file.no:
                continue
            if self._offered(file):
                continue
            if file.purpose == "send" and file.state == "ready":
                # Settled as cancelled: reported (as transmit.report says) and deleted.
                self._close_destinations(MemoryOutbox(self.files, file), "CANCELLED", "419")
            else:
                self.files.delete(file)
            count += 1
        self.log.emit("fax", "files_cancelled", count=count)
        self.panel.refresh()
        self.panel.notice("MEMORY TX", f"{count} FILE{'S' if count != 1 else ''} DELETED")

    def stop_redials(self) -> None:
        """STOP in standby: transmissions waiting to redial are cancelled (files deleted)."""
        cancelled = []
        for outbox in self._outboxes():
            if self.current is not None and self.current.outbox is outbox:
                continue
            waiting = [d for d in outbox.destinations if d.state == "pending" and d.redials]
            if not waiting:
                continue
            for dest in waiting:
                dest.state, dest.result, dest.code = "cancelled", "CANCELLED", "419"
            cancelled.append(outbox.label)
            self._file_progress(outbox)
        if cancelled:
            self.log.emit("fax", "redial_cancelled", files=cancelled)
            self.panel.notice("REDIAL CANCELLED", " ".join(cancelled))

    def standby_note(self) -> StandbyNote:
        """What standby adds after READY: REDIAL, DELAYED or MEM TX while transmissions wait."""
        notes: set[StandbyNote] = set()
        for outbox in self._outboxes():
            for dest in outbox.destinations:
                if dest.state != "pending":
                    continue
                if dest.redials:
                    notes.add("REDIAL")
                elif outbox.send_at:
                    notes.add("DELAYED")
                else:
                    notes.add("MEM TX")
        for note in ("REDIAL", "DELAYED", "MEM TX"):
            if note in notes:
                return note
        return ""

    def polling_file(self) -> FaxFile | None:
        return next((f for f in self.files.files()
                     if f.purpose == "polling" and f.state == "ready"), None)  # fmt: skip

    # -- the fax jobs on the LCD (JobOwner) -------------------------------------------------------
    def stop(self) -> None:
        scan = self.scanning
        if scan is not None and scan.scan.phase in ("scanning", "memory_full"):
            self.log.emit("fax", "stop", during="scanning", file=scan.outbox.label)
            scan.scan.stop()
            if scan.direct and self.current is not None and self.current.outbox is scan.outbox:
                self.current.cancel()
            return
        if self.current is not None:
            self.log.emit("fax", "stop", during="call", file=self.current.outbox.label)
            self.current.cancel()
            return
        if self.reception is not None and self.reception.call is not None:
            self.log.emit("fax", "stop", during="reception")
            self.reception.call.cancel()
            return
        if self.incoming is not None:
            incoming, self.incoming = self.incoming, None
            incoming.finish()

    def key(self, key: str) -> bool:
        if self.scanning is not None:
            return self.scanning.scan.key(key)
        if self.incoming is not None and self.reception is None and key == "START":
            line = self.line
            if line is not None and line.state == "ringing":
                self.answer()
                return True
        return False

    # -- scanning ----------------------------------------------------------------------------------
    def _scan(self, view: JobHandle, outbox: Outbox, resolution: str, contrast: str) -> None:
        self.scanning = SendScan(self.paper.scan, self.files, view, outbox, self.log,
                                 self._page_scanned, self._scan_ended)  # fmt: skip
        self.scanning.start(resolution, contrast)

    def _page_scanned(self, outbox: Outbox, number: int, page: Page) -> None:
        self.scanned(outbox.file_no, number, page)
        if isinstance(outbox, DirectOutbox) and number == 1:
            self._next()  # direct: dial as soon as the first page is read
            if self.current is not None and self.scanning is not None:
                self.scanning.scan.quiet = True  # the call shows; the scanner reads behind it

    def _scan_ended(self, scan: SendScan, result: ScanResult) -> None:
        self.scanning = None
        outbox = scan.outbox
        if isinstance(outbox, DirectOutbox):
            return self._direct_scan_ended(scan, result)
        if result.end == "cancelled":
            return self._scan_abandoned(scan, "CANCELLED", f"{outbox.label} DELETED")
        if result.end == "discarded":
            if not result.pages:
                return self._scan_abandoned(scan, "MEMORY FULL", "NOTHING STORED")
            return self._scan_abandoned(scan, "MEMORY FULL", f"{outbox.label} DELETED")
        if not result.pages:
            word = "CHECK DOCUMENT" if result.unreadable else "NO DOCUMENT"
            return self._scan_abandoned(scan, word, "NOTHING SENT")
        assert isinstance(outbox, MemoryOutbox)
        self._stored(scan, outbox.file)

    def _scan_abandoned(self, scan: SendScan, line1: str, line2: str) -> None:
        outbox = scan.outbox
        outbox.discard()
        self.log.emit("fax", "scan_abandoned", file=outbox.label, reason=line1)
        if self.view is scan.view:
            self.view = None
        scan.view.finish(line1, line2)
        self.panel.refresh()

    def _stored(self, scan: SendScan, file: FaxFile) -> None:
        file.state = "ready"
        self.files.save(file)
        self.log.emit("fax", "stored", file=file.label, pages=len(file.pages),
                      purpose=file.purpose)  # fmt: skip
        if file.purpose == "polling":
            self.view = None
            scan.view.finish("POLLING DOCUMENT", f"{file.label} STORED")
            return
        if file.send_at:
            self.view = None
            scan.view.finish("DELAYED TX", f"{file.label} AT {file.send_at[11:16]}")
            self._next()
            return
        self._next()
        if self.current is None or self.current.view is not scan.view:
            # The line is busy (a call in progress): the file waits its turn in memory.
            if self.view is scan.view:
                self.view = None
            scan.view.finish("MEMORY TX", f"{file.label} STORED")
        self.panel.refresh()

    def _direct_scan_ended(self, scan: SendScan, result: ScanResult) -> None:
        outbox = scan.outbox
        assert isinstance(outbox, DirectOutbox)
        outbox.scan_ended()
        cancelled = result.end == "cancelled"
        if not outbox.pages or (cancelled and self.current is None):
            if outbox in self.direct:
                self.direct.remove(outbox)
            word = "CANCELLED" if cancelled else (
                "CHECK DOCUMENT" if result.unreadable else "NO DOCUMENT")  # fmt: skip
            if self.view is scan.view:
                self.view = None
            scan.view.finish(word, "NOTHING SENT")
            return
        current = self.current
        if current is not None and current.outbox is outbox and isinstance(current.call, PacedCall):
            if current.call.waiting_for_scanner():
                # The page the call waits for will not come (the last original was unreadable).
                self.log.emit("fax", "direct_short", pages=len(outbox.pages))
                current.call.cancel()

    # -- which call goes next ------------------------------------------------------------------------
    def _outboxes(self) -> list[Outbox]:
        boxes: list[Outbox] = [
            MemoryOutbox(self.files, f)
            for f in self.files.files()
            if f.purpose == "send" and f.state == "ready"
        ]
        if self.current is not None and isinstance(self.current.outbox, MemoryOutbox):
            # The file of the call in progress is the live object (its state is not saved yet).
            no = self.current.outbox.file_no
            boxes = [self.current.outbox if b.file_no == no else b for b in boxes]
        return boxes + list(self.direct)

    def _due(self, outbox: Outbox, dest: Destination) -> int:
        """Clock ticks until `dest` of `outbox` may be called (0: now)."""
        rtc = self.board.rtc
        wait = 0
        for when in (outbox.send_at, dest.due):
            if when:
                wait = max(wait, rtc.ticks_until(datetime.fromisoformat(when)))
        return wait

    def _next(self) -> None:
        """Start the next call that is due, if the line is free; else wake up when one is."""
        if self._wake is not None:
            self._wake.cancel()
            self._wake = None
        if not self.panel.running or self.line is None:
            return
        timers = self.board.timers
        soonest: int | None = None
        choice: tuple[Outbox, Destination] | None = None
        for outbox in self._outboxes():
            if isinstance(outbox, DirectOutbox) and not outbox.pages:
                continue
            for dest in outbox.destinations:
                if dest.state != "pending":
                    continue
                wait = self._due(outbox, dest)
                if wait == 0 and choice is None:
                    choice = (outbox, dest)
                soonest = wait if soonest is None else min(soonest, wait)
        if choice is not None and not self.line_free:
            # The end of our own call or reception calls again; otherwise (a call ringing in,
            # not answered yet) look again in a while.
            if self.current is None and self.reception is None:
                self._wake = timers.call_later(LINE_RETRY, self._next, label="fax next")
            return
        if choice is not None and self.board.clock.now < self._rest_until:
            self._wake = timers.call_at(self._rest_until, self._next, label="fax next")
            return
        if choice is None:
            if soonest is not None:
                self._wake = timers.call_later(soonest, self._next, label="fax next")
            if self.view is not None:
                finished, self.view = self.view, None
                finished.finish(*self.last_lines)
            self.panel.refresh()
            return
        outbox, dest = choice
        view = self.view
        if view is None or not view.active:
            view = self._job("fax_send", background=True)
        self.view = view
        stamp = HeaderStamp.for_call(self.settings, self.panel.clock_text(),
                                     self.files.next_serial(), outbox.file_no,
                                     0 if isinstance(outbox, DirectOutbox) else outbox.total() or 0)  # fmt: skip
        transmission = Transmission(self.board, self.station_config(), outbox, dest, view, stamp,
                                    self._transmission_done)  # fmt: skip
        self.current = transmission
        transmission.start()

    # -- the end of a call ------------------------------------------------------------------------
    def _transmission_done(self, tx: Transmission, result: CallResult) -> None:
        if self.current is not tx:
            return  # a call left over from before a power cut
        self.current = None
        outbox, dest = tx.outbox, tx.dest
        sent = tx.pages_sent(result)
        dest.confirmed = sorted(set(dest.confirmed) | set(sent))
        total = outbox.total()
        all_sent = total is not None and len(dest.confirmed) >= total
        status = result.outcome.status
        redial_minutes: int | None = None
        if result.ok and all_sent:
            dest.state, dest.result, dest.code, dest.due = "done", "OK", "", ""
        elif status == "CANCELLED":
            dest.state, dest.result, dest.code = "cancelled", "CANCELLED", result.code
        elif status in REDIAL_STATUSES and dest.redials < self.settings.number(
            "transmit.redial_tries"
        ):
            redial_minutes = self.settings.number("transmit.redial_interval")
            dest.redials += 1
            due = self.board.rtc.now() + timedelta(minutes=redial_minutes)
            dest.due = due.isoformat(timespec="seconds")
            dest.result, dest.code = result.lcd, result.code
        else:
            dest.state = "failed"
            dest.result = result.lcd if not result.ok else ERROR_WORD
            dest.code = result.code
        word, line2 = result_lines(result, redial_minutes)
        if result.ok and not all_sent:
            word, line2 = ERROR_WORD, "PAGES MISSING"
        if status == "CANCELLED":
            word, line2 = "CANCELLED", f"{outbox.label} DELETED" if outbox.file_no else ""
        outbox.calls.append(CallRecord(
            tx.when, dest.number, result.remote_id, tx.serial, sent, result.duration,
            result.speed, "OK" if result.ok else result.lcd, result.code, tx.resumed,
        ))  # fmt: skip
        journal_transmission(self.journal, outbox, dest.number, tx.serial, tx.resumed,
                             dest.confirmed, result, sent)  # fmt: skip
        self.calls("TX", result)
        if status == "CANCELLED":
            self._close_destinations(outbox, "CANCELLED", "419", save=False)
        self.last_lines = (word, line2)
        tx.view.show(word, line2)
        self._file_progress(outbox)
        self._rest_until = self.board.clock.now + LINE_GAP
        self._next()

    def _close_destinations(
        self, outbox: Outbox, result: str, code: str, save: bool = True
    ) -> None:
        for d in outbox.destinations:
            if d.state == "pending":
                d.state, d.result, d.code = "cancelled", result, code
        if save:
            self._file_progress(outbox)

    def _file_progress(self, outbox: Outbox) -> None:
        """Save the outbox; when every destination is settled, report and let it go."""
        if not outbox.finished:
            outbox.save()
            self.panel.refresh()
            return
        transmission_report(outbox, self.settings, self.reports)
        if isinstance(outbox, DirectOutbox):
            if outbox in self.direct:
                self.direct.remove(outbox)
        else:
            outbox.discard()
        self.log.emit("fax", "file_done", file=outbox.label,
                      results=[d.result for d in outbox.destinations])  # fmt: skip
        self.panel.refresh()

    def _send_at(self, hhmm: str) -> str:
        """The calendar time of the next HH:MM on the machine's clock ("" for none)."""
        if not hhmm:
            return ""
        hours, minutes = (int(x) for x in hhmm.split(":"))
        now = self.board.rtc.now()
        when = now.replace(hour=hours, minute=minutes, second=0, microsecond=0)
        if when <= now:
            when += timedelta(days=1)
        return when.isoformat(timespec="seconds")

    # -- receiving ------------------------------------------------------------------------------------
    def _line_event(self, event: LineEvent) -> None:
        line = self.line
        assert line is not None
        self.panel.set_indicator("LINE", "on" if line.off_hook else "off", source="fax")
        if not self.panel.running:
            return
        kind = event.kind
        if kind == "ring":
            self._ringing(event.n)
        elif kind == "ring_off":
            mode = self.settings.text("receive.mode")
            rings = self.settings.number("receive.rings")
            if mode in ("auto", "fax") and event.n >= rings and self.reception is None:
                self.answer()
        elif kind in ("remote_hangup", "dropped") and line.state == "idle":
            if self.incoming is not None:
                incoming, self.incoming = self.incoming, None
                incoming.finish()  # the caller gave up before anyone answered
            if self.current is None and self.reception is None:
                self._next()
        elif kind == "on_hook" and self.current is None and self.reception is None:
            self._next()

    def _ringing(self, n: int) -> None:
        self.log.emit("fax", "ring", n=n, mode=self.settings.text("receive.mode"))
        if self.settings.get("receive.mode") != "tel" or self.incoming is not None:
            return
        view = self._job("fax_receive", background=True)
        if not view.shown:
            return
        view.set_state("ringing")
        view.show("INCOMING CALL", "START TO RECEIVE")
        self.incoming = view

    def answer(self, operator: bool = False) -> None:
        """Go off hook and receive (or be polled for our polling document)."""
        if self.line is None or self.reception is not None:
            return
        view = self.incoming
        self.incoming = None
        if view is None or not view.active:
            view = self._job("fax_receive", background=not operator)
        view.set_state("answer")
        view.show("RECEIVING", "")
        config = self.station_config()
        polling_pages: Sequence[Page] = ()
        polled_file = self.polling_file()
        serial = 0
        if polled_file is not None:
            # Offered in our DIS; a page is loaded and stamped only if the caller polls.
            config.polling_password = self.settings.text("polling.password")
            serial = self.files.next_serial()
            stamp = HeaderStamp.for_call(self.settings, self.panel.clock_text(), serial,
                                         polled_file.no, len(polled_file.pages))  # fmt: skip
            polling_pages = OutgoingDocument(MemoryOutbox(self.files, polled_file), (), stamp)
        rx = self._reception("RX", view, polled_file=polled_file.no if polled_file else None,
                             polled_serial=serial)  # fmt: skip
        sink: PageSink = rx.sink
        call = FaxCall.answer(self.board, config, sink=sink, polling_document=polling_pages,
                              on_progress=self._rx_progress, on_done=self._rx_done)  # fmt: skip
        self._run_reception(rx, call)

    def _reception(self, kind: ReceptionKind, view: JobHandle, number: str = "",
                   polled_file: int | None = None, polled_serial: int = 0) -> Reception:  # fmt: skip
        """A reception about to start (RX: answered, POLL: we poll `number`): its pages go to
        the print queue, a note of it to NVRAM, its progress to `view`."""
        document = ReceivedDocument(kind, number, self.panel.clock_text())
        rx = Reception(kind, view, document, ReceptionSink(self.paper.queue, self.paper.memory,
                       document), number, polled_file, polled_serial)  # fmt: skip
        rx.sink.on_page = partial(self._rx_page, rx)
        self.rx_record.begin(document.when, kind)
        self.reception = rx
        return rx

    def _run_reception(self, rx: Reception, call: FaxCall) -> None:
        rx.call = call
        if call.result is not None:
            self._rx_done(call.result)  # the call ended before it began (the line was gone)

    def _offered(self, file: FaxFile) -> bool:
        """Whether the call in progress offers `file` for polling: its pages are read from
        memory as the caller takes them, so it stays until the call ends."""
        return self.reception is not None and self.reception.polled_file == file.no

    def _rx_progress(self, progress: CallProgress) -> None:
        rx = self.reception
        if rx is not None and rx.progress(progress):
            self.rx_record.update(remote=rx.document.remote)

    def _rx_page(self, rx: Reception, page: ReceivedPage) -> None:
        self.rx_record.update(pages=len(rx.document.pages))
        if rx.call is not None:
            rx.show(rx.call.progress)

    def _rx_done(self, result: CallResult) -> None:
        rx = self.reception
        if rx is None or rx.call is None or rx.call.result is not result:
            return
        self.reception = None
        self.rx_record.end()
        document = rx.document
        document.result = result
        if not document.remote:
            document.remote = result.remote_id or rx.number
        polled = bool(result.pages_confirmed) and rx.polled_file is not None
        if polled:
            self._polled_done(rx, result)
            word, line2 = ("COMPLETED", "POLLED") if result.ok else result_lines(result, None)
        else:
            journal_reception(self.journal, rx, result)
            if result.ok:
                word, line2 = "COMPLETED", pages_word(len(document.pages))
            else:
                word, line2 = result_lines(result, None)
        self.calls(rx.kind, result)
        if document.pages:
            self.documents(document)
        rx.view.finish(word, line2)
        self._rest_until = self.board.clock.now + LINE_GAP
        self._next()

    def _polled_done(self, rx: Reception, result: CallResult) -> None:
        file = self.files.get(rx.polled_file) if rx.polled_file is not None else None
        total = len(file.pages) if file is not None else 0
        journal_polled(self.journal, result, file.label if file else "", rx.polled_serial, total)
        keep = self.settings.get("polling.keep") == "keep"
        if file is not None and result.ok and len(result.pages_confirmed) >= total and not keep:
            self.files.delete(file)
            self.log.emit("fax", "polling_document_sent", file=file.label)

    # -- power and memory ---------------------------------------------------------------------------------
    def powered_off(self) -> None:
        # RAM is gone: calls in progress end (their line is gone already), direct transmissions
        # are lost; memory files, their progress and received pages are in NVRAM.
        current, self.current = self.current, None
        reception, self.reception = self.reception, None
        self.scanning = None
        self.direct.clear()
        self.view = self.incoming = None
        self._wake = None
        self.files.forget_recent()
        for call in (current.call if current else None, reception.call if reception else None):
            if call is not None and call.result is None:
                call.cancel()

    def boot(self) -> None:
        left = self.rx_record.left_over()
        if left is not None:
            self.journal.add(left.get("kind", "RX"), remote=str(left.get("remote", ""))[:20],
                             pages=int(left.get("pages", 0)), result=ERROR_WORD, code="411",
                             detail={"status": "POWER_CUT"})  # fmt: skip
        for file in self.files.files():
            if file.state == "scanning":
                # Cut while scanning: a partial document is not sent; the rest is in the feeder.
                self.files.delete(file)
                self.log.emit("fax", "scan_lost", file=file.label)
        self._next()
        self.panel.refresh()

    def clear(self) -> None:
        """Service mode MEMORY CLEAR: every memory file."""
        self.files.clear()
