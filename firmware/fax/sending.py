"""Sending: scanning a document for the outbox, and one call to one destination.

`SendScan` is FAX + number + START's first half: the feeder read (the shared `DocumentScan`
flow) into a memory file in image memory, or for a direct transmission into RAM as the call goes
on. `Transmission` is one call: it dials, sends the pages this destination has not confirmed,
each with the transmit header, shows its progress (`DIALING`, `SENDING P.002/003`, the speed) and
records each page the far end confirms at once, so a redial after a drop or a power cut resumes
after it. A direct transmission's call is a `PacedCall`: it waits for the scanner between pages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from estudio190f.hw.board import Board
from estudio190f.hw.document import Sheet
from estudio190f.hw.eventlog import EventLog
from estudio190f.hw.line import LineInterface
from estudio190f.hw.modem import FrameReceived, Modem, ModemEvent, TransmitDone

from ..control_panel import JobView
from ..document_scan import DocumentScan, ScanResult
from ..fax_call import CallProgress, CallResult, FaxCall
from ..image_memory import MemoryFull
from ..page import Page
from ..scan_control import ScanControl
from ..t30.frames import FrameError, parse_frame
from ..t30.session import StationConfig
from .files import Destination, FaxFiles
from .header import HeaderStamp
from .outbox import DirectOutbox, MemoryOutbox, Outbox, OutgoingDocument


class SendScan:
    """Read the feeder for the outbox: a memory file, or a direct transmission's RAM."""

    def __init__(
        self,
        control: ScanControl,
        files: FaxFiles,
        view: JobView,
        outbox: Outbox,
        log: EventLog,
        page_scanned: Callable[[Outbox, int, Page], None],
        ended: Callable[[SendScan, ScanResult], None],
    ) -> None:
        self.files = files
        self.outbox = outbox
        self.view = view
        self.log = log
        self.page_scanned = page_scanned
        self.ended = ended
        self.result: ScanResult | None = None
        label = "" if isinstance(outbox, DirectOutbox) else outbox.label
        self.scan = DocumentScan(control, view, self._store, self._ended, label=label)

    @property
    def direct(self) -> bool:
        return isinstance(self.outbox, DirectOutbox)

    def start(self, resolution: str, contrast: str) -> None:
        self.scan.start(resolution, contrast)

    def _store(self, page: Page, sheet: Sheet) -> bool:
        number = self.scan.pages + 1
        outbox = self.outbox
        if isinstance(outbox, MemoryOutbox):
            try:
                self.files.add_page(outbox.file, page)
            except MemoryFull as exc:
                self.log.emit("fax", "memory_full", file=outbox.label, page=number,
                              needed=exc.needed, free=exc.free)  # fmt: skip
                return False
        elif isinstance(outbox, DirectOutbox):
            outbox.add(page)
        self.page_scanned(outbox, number, page)
        return True

    def _ended(self, result: ScanResult) -> None:
        self.result = result
        self.ended(self, result)


class PacedCall(FaxCall):
    """A direct transmission's call: after a page, the transmitter answers nothing until the
    scanner has read the next page, as a real machine's coder waits for scan lines. The far
    end's response (MCF, ...) is held meanwhile; T.30 lets the transmitter take its time here,
    up to the receiver's T2 (6 s), after which the receiver hangs up and the call is redialled
    for the pages not yet sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: list[ModemEvent] = []  # the far end's response, held until the page is read

    def waiting_for_scanner(self) -> bool:
        """Whether the page after the one just sent is still being read."""
        document = self.session.document
        return isinstance(document, OutgoingDocument) and document.waiting_for(
            self.session.page_index + 1
        )

    def _modem_event(self, event: ModemEvent) -> None:
        held = self._held
        if not isinstance(event, TransmitDone) and (held or self._must_wait(event)):
            if not held:
                self.log.emit("fax", "waiting_for_scanner", page=self.session.page_index + 2)
            held.append(event)
            return
        super()._modem_event(event)

    def _must_wait(self, event: ModemEvent) -> bool:
        if not isinstance(event, FrameReceived):
            return False
        state = self.session.state
        return state in ("t_post_sent", "t_pps_sent") and self.waiting_for_scanner()

    def _timer_expired(self, name: str) -> None:
        if self._held and name in ("T4", "T5"):
            return  # the response has come; it is only held back
        super()._timer_expired(name)

    def held_confirmation(self) -> bool:
        """Whether a response held back confirmed the page just sent (MCF, RTP or PIP): when the
        call ends before it was let through, that page still reached the far end."""
        session = self.session
        if session.state == "t_pps_sent" and not session.on_last_block:
            return False  # ECM: only the answer to the page's last block confirms the page
        for event in self._held:
            if isinstance(event, FrameReceived) and event.crc_ok:
                try:
                    name = parse_frame(event.frame).name
                except FrameError:
                    continue
                if name in ("MCF", "RTP", "PIP"):
                    return True
        return False

    def page_ready(self) -> None:
        """The scanner has read another page (or stopped): let held events through if due."""
        held = self._held
        if not held or self.result is not None or self.waiting_for_scanner():
            return
        self._held = []
        for event in held:
            if self.result is not None:
                break
            super()._modem_event(event)


class Transmission:
    """One call: the document's pages not yet confirmed by this destination, with the header."""

    def __init__(
        self,
        board: Board,
        config: StationConfig,
        outbox: Outbox,
        dest: Destination,
        view: JobView,
        stamp: HeaderStamp,
        done: Callable[[Transmission, CallResult], None],
        port: int = 1,
        wiring: tuple[LineInterface, Modem] | None = None,
    ) -> None:
        self.board = board
        self.port = port  # the fax port it runs on
        self.wiring = wiring  # that port's line and modem (None: the board's first)
        self.config = config
        self.log = board.log
        self.outbox = outbox
        self.dest = dest
        self.view = view
        self.stamp = stamp
        self.serial = stamp.serial
        self.when = stamp.when
        self.done = done
        self.resumed = bool(dest.confirmed)
        self.document = OutgoingDocument(outbox, dest.confirmed, stamp)
        self.call: FaxCall | None = None
        self._page = 0
        self._stage = ""

    @property
    def direct(self) -> bool:
        return isinstance(self.outbox, DirectOutbox)

    def start(self) -> None:
        self.view.set_state("dial")
        self.view.show("DIALING", self.dest.number)
        config = self.config
        kind = PacedCall if self.direct else FaxCall
        self.log.emit("fax", "transmission", file=self.outbox.label, number=self.dest.number,
                      serial=self.serial, when=self.when, header=self.stamp.mode,
                      resume_from=self.document.number(0), port=self.port)  # fmt: skip
        # The session reads the pages as it needs them (a direct transmission's grow as they are
        # read), each loaded and stamped when first asked for.
        call = kind.dial(self.board, self.dest.number, self.document, config,
                         on_progress=self._progress, on_page=self._page_event,
                         on_done=self._done, port=self.wiring)  # fmt: skip
        if call.result is not None:
            return  # it ended before it began (our own line was in use): `done` has run
        self.call = call
        if isinstance(call, PacedCall) and isinstance(self.outbox, DirectOutbox):
            self.outbox.changed.add(call.page_ready)

    def cancel(self) -> None:
        if self.call is not None:
            self.call.cancel()

    def total(self) -> int:
        """Pages to show as P.nnn/total: 0 (not shown) for a direct transmission, whose machine
        knows only whether another sheet is in the feeder."""
        return 0 if self.direct else self.outbox.total() or 0

    def _progress(self, progress: CallProgress) -> None:
        stage = progress.stage
        if stage in ("dialing", "ringing", "idle"):
            self.view.show("DIALING", self.dest.number)
            return
        if stage == "done":
            return
        if progress.page != self._page:
            # A page's data is going out: phase C (the session itself stays in D meanwhile),
            # until the call says the page is sent (`_page_event`).
            self._page = progress.page
            self.view.set_state("t30.phase_c")
        elif stage != self._stage:
            self.view.set_state(f"t30.phase_{stage.lower()}")
        self._stage = stage
        if progress.page:
            number = self.document.number(progress.page - 1)
            total = self.total()
            of = f"/{total:03d}" if total else ""
            self.view.show(f"SENDING P.{number:03d}{of}", progress.speed)
        else:
            self.view.show("SENDING", progress.remote_id or self.dest.number)

    def _page_event(self, kind: str, page: int) -> None:
        """A page's data is out (phase D), or the far end confirmed it. A confirmed page is
        saved with the file at once, so that after a power cut in the middle of the call the
        transmission resumes after it instead of sending it twice."""
        if kind == "sent":
            self.view.set_state("t30.phase_d")
        elif kind == "confirmed":
            number = self.document.number(page - 1)
            if number not in self.dest.confirmed:
                self.dest.confirmed = sorted([*self.dest.confirmed, number])
                self.outbox.save()

    def _done(self, result: CallResult) -> None:
        if isinstance(self.outbox, DirectOutbox) and isinstance(self.call, PacedCall):
            self.outbox.changed.discard(self.call.page_ready)
        self.done(self, result)

    def pages_sent(self, result: CallResult) -> list[int]:
        """The document's page numbers this call got confirmed."""
        confirmed = list(result.pages_confirmed)
        call = self.call
        if isinstance(call, PacedCall) and call.held_confirmation():
            current = call.session.page_index + 1
            if current not in confirmed:
                confirmed.append(current)
        return [self.document.number(p - 1) for p in confirmed]
