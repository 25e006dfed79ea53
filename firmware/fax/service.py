"""The fax unit of one machine, on its line or, with the 2nd G3 option, its two lines: sending,
receiving, polling, and which call goes next on which port.

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
- Ports (`port.FaxPort`): port 1 is the main board's line; the 2nd G3 option (`options.second_line`)
  adds port 2 at `machine.number2`. Each port runs one call at a time, so the machine receives on
  one while it sends on the other (dual access), and a broadcast calls two destinations at once.
  Calls go out on the ports `transmit.port` allows (AUTO: the first free, port 1 first); every
  port answers its own calls, in every receive mode; polling goes out like a transmission. The
  journal and the transmission report name the port of each call when the option is fitted.
  While a reception the machine answered shows, a fax number, one-touch or speed-dial key
  starts a transmission (the reception runs on unseen and shows again at standby). What the LCD
  shows with two jobs at once is `display.FaxDisplay`'s rule.

STOP while a fax job shows cancels the foreground one (the operator's, else the first): while
scanning, the memory file is deleted (nothing was sent; the originals are in the feeder's exit
tray); during a call the call ends with DCN (code 419) and the file is deleted with every
destination not yet done — the operator stopped this document, so the machine must not send it
again on its own; the journal and the transmission report say which destinations got which pages.
STOP in standby cancels transmissions waiting to redial.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Literal

from estudio190f.hw.board import Board
from estudio190f.hw.clock import SECOND, Timer
from estudio190f.hw.line import LineEvent
from estudio190f.hw.listeners import Listeners

from ..control_panel import ControlPanel
from ..document_scan import ScanResult
from ..entry import DIAL_KEYS
from ..fax_call import CallProgress, CallResult, FaxCall, config_from_settings
from ..journal import Journal
from ..page import Page
from ..paper import PaperHandling
from ..reports import ReportPrinter
from ..settings import Settings
from ..t30.habits import apply_habits
from ..t30.results import ERROR_WORD
from ..t30.session import PageSink, ReceivedPage, StationConfig
from .display import FaxDisplay, FaxJob
from .files import CallRecord, Destination, FaxFile, FaxFiles
from .header import HeaderStamp
from .outbox import DirectOutbox, MemoryOutbox, Outbox, OutgoingDocument
from .port import FaxPort
from .receiving import ReceivedDocument, Reception, ReceptionKind, ReceptionSink
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
LINE_GAP = 2 * SECOND  # between one call's end and the next call on a port (COMPLETED is shown 2 s)
LINE_RETRY = 5 * SECOND  # a call due while every port is busy is tried again this often
# Keys with which the operator starts a transmission while a reception the machine answered shows.
DIAL_START_KEYS = frozenset([*DIAL_KEYS, "SPEED_DIAL", "REDIAL_PAUSE"])
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
    """Sending, receiving and polling on one machine with one or two ports (see the module's
    text). It owns the fax jobs on the LCD (JobOwner) through its `display`."""

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
        # A far end's habits (`device NAME NUMBER habit=...`): the machine under test has none.
        self.habits: tuple[str, ...] = ()
        self.display = FaxDisplay(panel, self, board.timers)
        self.ports = (FaxPort(board, 1), FaxPort(board, 2))
        self.scanning: SendScan | None = None
        self.direct: list[DirectOutbox] = []
        self.view: FaxJob | None = None  # the operator's scan job, until a port's call takes it
        self._wake: Timer | None = None
        # (file number or None, page number, page) as each page to send is scanned; each received
        # document; each finished call (TX, RX or POLL) with its result.
        self.scanned: Listeners[[int | None, int, Page]] = Listeners()
        self.documents: Listeners[[ReceivedDocument]] = Listeners()
        self.calls: Listeners[[str, CallResult]] = Listeners()
        for port in self.ports:
            port.events.add(self._line_event)
            port.bind()
        board.option_changed.add(self._option_changed)

    @property
    def two_ports(self) -> bool:
        """Whether the 2nd G3 option is fitted (then every call names its port)."""
        return self.ports[1].fitted

    @property
    def line_free(self) -> bool:
        """Whether a port that may send is free now."""
        return any(port.free for port in self._tx_ports())

    def station_config(self) -> StationConfig:
        """This station's T.30 configuration for a call: the settings, and any habits."""
        config = config_from_settings(self.settings)
        return apply_habits(config, self.habits) if self.habits else config

    def _tx_ports(self) -> list[FaxPort]:
        """The ports calls may go out on, in the order they are tried (`transmit.port`)."""
        fitted = [port for port in self.ports if port.fitted]
        choice = self.settings.text("transmit.port")
        chosen = [port for port in fitted if str(port.number) == choice]
        return chosen or fitted

    def _tag(self, port: FaxPort) -> int:
        """The port a journal entry or a report names (0: one port, nothing to name)."""
        return port.number if self.two_ports else 0

    def _claim(self, port: FaxPort) -> None:
        """A port about to run another kind of call: the job of its last transmission ends."""
        if port.job is not None and port.current is None:
            job, port.job = port.job, None
            job.finish(*port.last_lines)

    # -- what the panel asks for -----------------------------------------------------------------
    def send(self, numbers: list[str], options: SendOptions = SendOptions()) -> None:
        """FAX, number(s), START: scan the feeder and send (or poll, if that was chosen)."""
        panel = self.panel
        if options.poll:
            return self.poll(numbers)
        if not self._tx_ports():
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
        view = self.display.open("fax_send", operator=True, port=0)
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
        port = self._ringing_port()
        if port is not None:
            self.answer(port, operator=True)
            return
        self.panel.notice("ENTER FAX NUMBER", "")

    def _ringing_port(self, first: FaxJob | None = None) -> FaxPort | None:
        """A port ringing with a call nobody answered yet (the one showing `first` if it is)."""
        ringing = [port for port in self.ports
                   if port.line is not None and port.line.state == "ringing"
                   and port.reception is None]  # fmt: skip
        shown = [port for port in ringing if first is not None and port.incoming is first]
        return next(iter(shown or ringing), None)

    def poll(self, numbers: Sequence[str]) -> None:
        panel = self.panel
        if not numbers:
            return panel.notice("POLLING", "ENTER FAX NUMBER")
        port = next((port for port in self._tx_ports() if port.free), None)
        if port is None:
            return panel.notice("POLLING", "LINE BUSY")
        self._claim(port)
        number = numbers[-1]
        view = self.display.open("fax_receive", operator=True, port=port.number)
        view.set_state("dial")
        view.show("POLLING", number)
        config = self.station_config()
        config.polling_password = self.settings.text("polling.password")
        rx = self._reception(port, "POLL", view, number=number)
        call = FaxCall.dial(self.board, number, (), config, poll=True, sink=rx.sink,
                            on_progress=partial(self._rx_progress, port),
                            on_done=partial(self._rx_done, port), port=port.wiring)  # fmt: skip
        self._run_reception(port, rx, call)

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
        view = self.display.open("fax_send", operator=True, port=0)
        file = self.files.create("polling", panel.resolution, panel.clock_text())
        self.log.emit("fax", "polling_document", file=file.label)
        self._scan(view, MemoryOutbox(self.files, file), panel.resolution, panel.contrast)

    def cancel_files(self) -> None:
        """FUNCTION menu: delete every memory file waiting (transmissions and the polling one)."""
        count = 0
        sending = {tx.outbox.file_no for tx in self._transmissions()}
        for file in self.files.files():
            if file.no in sending:
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
        sending = [tx.outbox for tx in self._transmissions()]
        for outbox in self._outboxes():
            if any(outbox is live for live in sending):
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
        """STOP: the foreground job (the operator's, else the one that began first)."""
        fg = self.display.foreground()
        scan = self.scanning
        if (
            scan is not None
            and scan.scan.phase in ("scanning", "memory_full")
            and (fg is None or fg is scan.view)
        ):
            self.log.emit("fax", "stop", during="scanning", file=scan.outbox.label)
            scan.scan.stop()
            tx = self._transmission_of(scan.outbox)
            if scan.direct and tx is not None:
                tx.cancel()
            return
        if fg is not None and fg.port == 0:
            return  # the scan is stopping already
        ports = [port for port in self.ports if fg is not None and fg.port == port.number]
        for port in ports or list(self.ports):
            if port.current is not None:
                self.log.emit("fax", "stop", during="call", file=port.current.outbox.label,
                              **self._port_field(port))  # fmt: skip
                port.current.cancel()
                return
            if port.reception is not None and port.reception.call is not None:
                self.log.emit("fax", "stop", during="reception", **self._port_field(port))
                port.reception.call.cancel()
                return
            if port.incoming is not None:
                incoming, port.incoming = port.incoming, None
                incoming.finish()
                return

    def key(self, key: str) -> bool:
        if self.scanning is not None:
            return self.scanning.scan.key(key)
        fg = self.display.foreground()
        if key == "START":
            port = self._ringing_port(fg)
            if port is not None and port.incoming is not None:
                self.answer(port)
                return True
        if (fg is not None and fg.kind == "fax_receive" and not fg.operator
                and self.panel.mode == "fax"
                and (key in DIAL_START_KEYS or key.startswith("ONE_TOUCH_"))):  # fmt: skip
            # Dual access: the operator sends while the machine receives.
            self.display.step_aside(key)
            return True
        return False

    # -- scanning ----------------------------------------------------------------------------------
    def _scan(self, view: FaxJob, outbox: Outbox, resolution: str, contrast: str) -> None:
        self.scanning = SendScan(self.paper.scan, self.files, view, outbox, self.log,
                                 self._page_scanned, self._scan_ended)  # fmt: skip
        self.scanning.start(resolution, contrast)

    def _page_scanned(self, outbox: Outbox, number: int, page: Page) -> None:
        self.scanned(outbox.file_no, number, page)
        if isinstance(outbox, DirectOutbox) and number == 1:
            self._next()  # direct: dial as soon as the first page is read
            if self._transmission_of(outbox) is not None and self.scanning is not None:
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
        if self.view is scan.view:
            # Every port is busy (or resting between calls): the file waits its turn in memory.
            self.view = None
            scan.view.finish("MEMORY TX", f"{file.label} STORED")
        self.panel.refresh()

    def _direct_scan_ended(self, scan: SendScan, result: ScanResult) -> None:
        outbox = scan.outbox
        assert isinstance(outbox, DirectOutbox)
        outbox.scan_ended()
        cancelled = result.end == "cancelled"
        current = self._transmission_of(outbox)
        if not outbox.pages or (cancelled and current is None):
            if outbox in self.direct:
                self.direct.remove(outbox)
            word = "CANCELLED" if cancelled else (
                "CHECK DOCUMENT" if result.unreadable else "NO DOCUMENT")  # fmt: skip
            if self.view is scan.view:
                self.view = None
            scan.view.finish(word, "NOTHING SENT")
            return
        if current is not None and isinstance(current.call, PacedCall):
            if current.call.waiting_for_scanner():
                # The page the call waits for will not come (the last original was unreadable).
                self.log.emit("fax", "direct_short", pages=len(outbox.pages))
                current.call.cancel()

    # -- which call goes next, on which port --------------------------------------------------------
    def _transmissions(self) -> list[Transmission]:
        return [port.current for port in self.ports if port.current is not None]

    def _transmission_of(self, outbox: Outbox) -> Transmission | None:
        return next((tx for tx in self._transmissions() if tx.outbox is outbox), None)

    def _outboxes(self) -> list[Outbox]:
        boxes: list[Outbox] = [
            MemoryOutbox(self.files, f)
            for f in self.files.files()
            if f.purpose == "send" and f.state == "ready"
        ]
        # The file of a call in progress is the live object (its state is not saved yet); two
        # ports sending one file (a broadcast) share it.
        live = {tx.outbox.file_no: tx.outbox for tx in self._transmissions()
                if isinstance(tx.outbox, MemoryOutbox)}  # fmt: skip
        boxes = [live.get(b.file_no, b) for b in boxes]
        return boxes + list(self.direct)

    def _due(self, outbox: Outbox, dest: Destination) -> int:
        """Clock ticks until `dest` of `outbox` may be called (0: now)."""
        rtc = self.board.rtc
        wait = 0
        for when in (outbox.send_at, dest.due):
            if when:
                wait = max(wait, rtc.ticks_until(datetime.fromisoformat(when)))
        return wait

    def _waiting(self) -> tuple[list[tuple[Outbox, Destination]], int | None]:
        """The destinations due now and not in a call, in order; clock ticks until the next one
        that is not due yet (None: none)."""
        calling = [tx.dest for tx in self._transmissions()]
        due: list[tuple[Outbox, Destination]] = []
        soonest: int | None = None
        for outbox in self._outboxes():
            if isinstance(outbox, DirectOutbox) and not outbox.pages:
                continue
            for dest in outbox.destinations:
                if dest.state != "pending" or any(dest is d for d in calling):
                    continue
                wait = self._due(outbox, dest)
                if wait == 0:
                    due.append((outbox, dest))
                else:
                    soonest = wait if soonest is None else min(soonest, wait)
        return due, soonest

    def _next(self) -> None:
        """Start the calls that are due on the ports free for them; end the job of a port that
        has nothing more to send; wake up when something will be due."""
        if self._wake is not None:
            self._wake.cancel()
            self._wake = None
        if not self.panel.running:
            return
        now = self.board.clock.now
        due, soonest = self._waiting()
        wakes = [now + soonest] if soonest is not None else []
        tx_ports = self._tx_ports()
        # The free ports take the due destinations in the order they will be ready (a port rests
        # LINE_GAP after a call, showing its result); one with nothing to send ends its job.
        free = sorted((p for p in tx_ports if p.free), key=lambda p: max(now, p.rest_until))
        for port in free:
            if not due:
                self._claim(port)
                continue
            outbox, dest = due.pop(0)
            if port.rest_until > now:
                wakes.append(port.rest_until)  # this destination waits for this port's rest
                continue
            self._transmit(port, outbox, dest)
        if due and any(p.line is not None and not p.busy and not p.free for p in tx_ports):
            # A call ringing in, not answered yet: look again in a while (the end of our own
            # calls looks again by itself).
            wakes.append(now + LINE_RETRY)
        for port in self.ports:
            if port not in free and not port.busy and (port.free or not port.fitted):
                self._claim(port)  # a port that may not send (any more), or is gone
        if wakes:
            self._wake = self.board.timers.call_at(min(wakes), self._next, label="fax next")
        self.panel.refresh()

    def _transmit(self, port: FaxPort, outbox: Outbox, dest: Destination) -> None:
        """Call `dest` of `outbox` on `port`, shown on the port's job: the one of its last call,
        else the operator's scan job (it goes on as this call), else one of the machine's."""
        job = port.job if port.job is not None and port.job.active else None
        scan = self.scanning
        reading = scan is not None and scan.view is self.view and scan.outbox is not outbox
        if job is None and self.view is not None and self.view.active and not reading:
            job, self.view = self.view, None
            self.display.move(job, port.number)
        if job is None:
            job = self.display.open("fax_send", operator=False, port=port.number)
        port.job = job
        stamp = HeaderStamp.for_call(self.settings, self.panel.clock_text(),
                                     self.files.next_serial(), outbox.file_no,
                                     0 if isinstance(outbox, DirectOutbox) else outbox.total() or 0)  # fmt: skip
        transmission = Transmission(self.board, self.station_config(), outbox, dest, job, stamp,
                                    self._transmission_done, port.number, port.wiring)  # fmt: skip
        port.current = transmission
        transmission.start()

    # -- the end of a call ------------------------------------------------------------------------
    def _transmission_done(self, tx: Transmission, result: CallResult) -> None:
        port = self.ports[tx.port - 1]
        if port.current is not tx:
            return  # a call left over from before a power cut
        port.current = None
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
        tag = self._tag(port)
        outbox.calls.append(CallRecord(
            tx.when, dest.number, result.remote_id, tx.serial, sent, result.duration,
            result.speed, "OK" if result.ok else result.lcd, result.code, tx.resumed, tag,
        ))  # fmt: skip
        journal_transmission(self.journal, outbox, dest.number, tx.serial, tx.resumed,
                             dest.confirmed, result, sent, tag)  # fmt: skip
        self.calls("TX", result)
        if status == "CANCELLED":
            self._close_destinations(outbox, "CANCELLED", "419", save=False)
        port.last_lines = (word, line2)
        tx.view.show(word, line2)
        self._file_progress(outbox)
        port.rest_until = self.board.clock.now + LINE_GAP
        self._next()

    def _close_destinations(
        self, outbox: Outbox, result: str, code: str, save: bool = True
    ) -> None:
        calling = [tx.dest for tx in self._transmissions()]
        for d in outbox.destinations:
            if d.state == "pending" and not any(d is c for c in calling):
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
    def _port_field(self, port: FaxPort) -> dict[str, int]:
        """The port as an event field, on a machine with two."""
        return {"port": port.number} if self.two_ports else {}

    def _line_event(self, port: FaxPort, event: LineEvent) -> None:
        line = port.line
        if line is None:
            return
        self.panel.set_indicator("LINE", "on" if line.off_hook else "off", source=port.led_source)
        if not self.panel.running:
            return
        kind = event.kind
        if kind == "ring":
            self._ringing(port, event.n)
        elif kind == "ring_off":
            mode = self.settings.text("receive.mode")
            rings = self.settings.number("receive.rings")
            if mode in ("auto", "fax") and event.n >= rings and port.reception is None:
                self.answer(port)
        elif kind in ("remote_hangup", "dropped") and line.state == "idle":
            if port.incoming is not None:
                incoming, port.incoming = port.incoming, None
                incoming.finish()  # the caller gave up before anyone answered
            if not port.busy:
                self._next()
        elif kind == "on_hook" and not port.busy:
            self._next()

    def _ringing(self, port: FaxPort, n: int) -> None:
        self.log.emit("fax", "ring", n=n, mode=self.settings.text("receive.mode"),
                      **self._port_field(port))  # fmt: skip
        if self.settings.get("receive.mode") != "tel" or port.incoming is not None:
            return
        self._claim(port)
        view = self.display.open("fax_receive", operator=False, port=port.number)
        view.set_state("ringing")
        view.show("INCOMING CALL", "START TO RECEIVE")
        port.incoming = view

    def answer(self, port: FaxPort | None = None, operator: bool = False) -> None:
        """Go off hook on `port` (the ringing one) and receive, or be polled for our polling
        document."""
        port = port or self._ringing_port()
        if port is None or port.line is None or port.reception is not None:
            return
        self._claim(port)
        view = port.incoming
        port.incoming = None
        if view is None or not view.active:
            view = self.display.open("fax_receive", operator=operator, port=port.number)
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
        rx = self._reception(port, "RX", view, polled_file=polled_file.no if polled_file else None,
                             polled_serial=serial)  # fmt: skip
        sink: PageSink = rx.sink
        call = FaxCall.answer(self.board, config, sink=sink, polling_document=polling_pages,
                              on_progress=partial(self._rx_progress, port),
                              on_done=partial(self._rx_done, port), port=port.wiring)  # fmt: skip
        self._run_reception(port, rx, call)

    def _reception(self, port: FaxPort, kind: ReceptionKind, view: FaxJob, number: str = "",
                   polled_file: int | None = None, polled_serial: int = 0) -> Reception:  # fmt: skip
        """A reception about to start on `port` (RX: answered, POLL: we poll `number`): its
        pages go to the print queue, a note of it to NVRAM, its progress to `view`."""
        document = ReceivedDocument(kind, number, self.panel.clock_text())
        rx = Reception(kind, view, document, ReceptionSink(self.paper.queue, self.paper.memory,
                       document), number, polled_file, polled_serial, port.number)  # fmt: skip
        rx.sink.on_page = partial(self._rx_page, port, rx)
        port.rx_record.begin(document.when, kind)
        port.reception = rx
        return rx

    def _run_reception(self, port: FaxPort, rx: Reception, call: FaxCall) -> None:
        rx.call = call
        if call.result is not None:
            self._rx_done(port, call.result)  # the call ended before it began (the line was gone)

    def _offered(self, file: FaxFile) -> bool:
        """Whether a call in progress offers `file` for polling: its pages are read from
        memory as the caller takes them, so it stays until the call ends."""
        return any(port.reception is not None and port.reception.polled_file == file.no
                   for port in self.ports)  # fmt: skip

    def _rx_progress(self, port: FaxPort, progress: CallProgress) -> None:
        rx = port.reception
        if rx is not None and rx.progress(progress):
            port.rx_record.update(remote=rx.document.remote)

    def _rx_page(self, port: FaxPort, rx: Reception, page: ReceivedPage) -> None:
        port.rx_record.update(pages=len(rx.document.pages))
        if rx.call is not None:
            rx.show(rx.call.progress)

    def _rx_done(self, port: FaxPort, result: CallResult) -> None:
        rx = port.reception
        if rx is None or rx.call is None or rx.call.result is not result:
            return
        port.reception = None
        port.rx_record.end()
        document = rx.document
        document.result = result
        if not document.remote:
            document.remote = result.remote_id or rx.number
        polled = bool(result.pages_confirmed) and rx.polled_file is not None
        if polled:
            self._polled_done(port, rx, result)
            word, line2 = ("COMPLETED", "POLLED") if result.ok else result_lines(result, None)
        else:
            journal_reception(self.journal, rx, result, self._tag(port))
            if result.ok:
                word, line2 = "COMPLETED", pages_word(len(document.pages))
            else:
                word, line2 = result_lines(result, None)
        self.calls(rx.kind, result)
        if document.pages:
            self.documents(document)
        rx.view.finish(word, line2)
        port.rest_until = self.board.clock.now + LINE_GAP
        self._next()

    def _polled_done(self, port: FaxPort, rx: Reception, result: CallResult) -> None:
        file = self.files.get(rx.polled_file) if rx.polled_file is not None else None
        total = len(file.pages) if file is not None else 0
        journal_polled(self.journal, result, file.label if file else "", rx.polled_serial, total,
                       self._tag(port))  # fmt: skip
        keep = self.settings.get("polling.keep") == "keep"
        done = file is not None and result.ok and len(result.pages_confirmed) >= total
        if file is not None and done and not keep and not self._offered(file):
            # (the other port may be sending it to another caller: it goes after that call)
            self.files.delete(file)
            self.log.emit("fax", "polling_document_sent", file=file.label)

    # -- the option board, power and memory ---------------------------------------------------------
    def _option_changed(self) -> None:
        """The 2nd G3 board was fitted, renumbered or taken out: port 2 follows its line."""
        for port in self.ports:
            port.bind()
            if not port.fitted:
                self.panel.set_indicator("LINE", "off", source=port.led_source)
        self.log.emit("fax", "ports", fitted=[port.number for port in self.ports if port.fitted])
        self._next()

    def powered_off(self) -> None:
        # RAM is gone: calls in progress end (their line is gone already), direct transmissions
        # are lost; memory files, their progress and received pages are in NVRAM.
        calls = []
        for port in self.ports:
            calls += [port.current.call if port.current else None,
                      port.reception.call if port.reception else None]  # fmt: skip
            port.forget()
        self.scanning = None
        self.direct.clear()
        self.view = None
        self.display.clear()
        self._wake = None
        self.files.forget_recent()
        for call in calls:
            if call is not None and call.result is None:
                call.cancel()

    def boot(self) -> None:
        for port in self.ports:
            left = port.rx_record.left_over()
            if left is None:
                continue
            detail: dict[str, object] = {"status": "POWER_CUT"}
            if self._tag(port):
                detail["port"] = port.number
            self.journal.add(left.get("kind", "RX"), remote=str(left.get("remote", ""))[:20],
                             pages=int(left.get("pages", 0)), result=ERROR_WORD, code="411",
                             detail=detail)  # fmt: skip
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
