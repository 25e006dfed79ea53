"""The fax jobs the operator sees: sending, receiving, polling, redial, the header, report, journal.

`FaxService` is installed on the firmware as `fw.fax` (see `firmware.assembly.install`) and
registers the features the panel calls:

- `fax_send` (FAX, number(s), START): memory transmission by default — every page is scanned
  into image memory first as memory file F-nnn (MEMORY LED), then the call is placed; direct
  transmission (`transmit.mode` DIRECT) dials once the first page is read and feeds the call the
  pages as the scanner reads them (nothing is kept in memory). Several numbers (SET between them,
  one-touch, speed dial) broadcast one memory file. A delayed transmission waits in memory for its
  time. Busy, no answer, a dead line and a call cut in the middle are redialled
  `transmit.redial_tries` times, `transmit.redial_interval` minutes apart; a redial resumes with
  the first page the far end did not confirm. Every page carries the transmit header
  (`firmware.tx_header`). Each call makes a TX journal entry; a transmission report prints when
  a file is finished, as `transmit.report` says.
- `fax_receive`: incoming calls are answered after `receive.rings` rings in AUTO and FAX modes;
  in TEL mode the LCD shows the call and START answers (this feature). Pages print as they arrive
  or wait in memory (`firmware.fax_receive`); each call makes an RX journal entry and the document
  goes to `document_listeners` (the output writer's TIFF files).
- `polling` (FUNCTION in number entry, 2:POLLING, START): call a machine and receive the
  document it holds for polling. `polling_document` (FUNCTION menu) scans the feeder into a
  memory file that remote machines may poll, guarded by `polling.password` when it is set.
- `fax_options`: the send options screen of number entry (delayed transmission, polling).
- `stop_background`: STOP in standby cancels transmissions waiting to redial.

STOP while a fax job shows cancels it: while scanning, the memory file is deleted (nothing was
sent; the originals are in the feeder's exit tray); during a call the call ends with DCN (code
419) and the file is deleted with every destination not yet done — the operator stopped this
document, so the machine must not send it again on its own; the journal and the transmission
report say which destinations got which pages.

MONITOR (on-hook dialing) is not provided: the line model dials a whole number at once, so the
operator could not hear each digit as it is dialed; the key says NOT AVAILABLE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from estudio190f.hw.clock import SECOND, Timer
from estudio190f.hw.line import LineEvent
from estudio190f.hw.modem import FrameReceived, ModemEvent, TransmitDone

from .fax_call import CallProgress, CallResult, FaxCall, config_from_settings
from .fax_files import Destination, FaxFile, FaxFiles
from .fax_receive import ReceivedDocument, ReceptionSink, RxRecord
from .image_memory import MemoryFull
from .machine import Screen
from .page import STANDARD_WIDTH, Page
from .reports import text_pages
from .t30.frames import FrameError, parse_frame
from .t30.results import ERROR_WORD
from .t30.session import ReceivedPage
from .tx_header import apply_header, header_text

if TYPE_CHECKING:
    from estudio190f.hw.document import Sheet

    from .copy_job import PaperHandling
    from .machine import DialScreen, Firmware, JobHandle

# Statuses after which a destination is called again (while redials are left): the line was
# busy, nobody answered, the line was dead or dropped, or no fax answered (T1).
REDIAL_STATUSES = frozenset({"BUSY", "NO_ANSWER", "NO_DIAL_TONE", "CALLDROPPED", "T1_EXPIRED"})
LINE_GAP = 2 * SECOND  # between one call's end and the next call (COMPLETED is shown 2 s)
LINE_RETRY = 5 * SECOND  # a call due while the line is busy is tried again this often


# -- the LCD of a fax activity ---------------------------------------------------------------------
class JobDisplay:
    """The LCD for one fax activity: a job handle when the machine was free to show it (standby,
    a notice, background printing) or when the operator started it; otherwise the activity runs
    without the LCD (the operator is busy in a menu or with a copy) and only the LEDs show it."""

    def __init__(self, fw: Firmware, kind: str, on_stop: Callable[[], Any],
                 on_key: Callable[[str], Any] | None = None, take: bool = False) -> None:  # fmt: skip
        self.fw = fw
        self.handle: JobHandle | None = None
        if take or self.may_take(fw):
            self.handle = fw.begin_job(kind, on_stop=on_stop, on_key=on_key)

    @staticmethod
    def may_take(fw: Firmware) -> bool:
        if not fw.powered or fw.state in ("off", "booting"):
            return False
        if fw.state.startswith("standby") or fw.state == "message":
            return True
        return fw.state == "job.print"

    @property
    def active(self) -> bool:
        return self.handle is not None and self.handle.active and self.fw.job is self.handle

    def show(self, line1: str, line2: str = "") -> None:
        if self.handle is not None:
            self.handle.show(line1[:20], line2[:20])

    def set_state(self, substate: str) -> None:
        if self.handle is not None:
            self.handle.set_state(substate)

    def finish(self, line1: str = "", line2: str = "") -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            handle.finish(line1[:20], line2[:20])


def result_lines(result: CallResult, redial_minutes: int | None) -> tuple[str, str]:
    """The LCD words for a call's end: COMPLETED, BUSY, NO ANSWER, COMM. ERROR + code, ..."""
    if result.ok:
        return "COMPLETED", ""
    word, code = result.lcd, result.code
    if redial_minutes is not None:
        tail = f"REDIAL IN {redial_minutes} MIN"
        return word, f"{code} {tail}" if code else tail
    return word, f"CODE {code}" if code else ""


# -- documents to send -------------------------------------------------------------------------------
class Outbox:
    """A document to send: a memory file, or the pages of a direct transmission (RAM only)."""

    file_no: int | None = None
    label = ""
    resolution = "standard"
    send_at = ""
    destinations: list[Destination]
    calls: list[dict[str, Any]]

    def page(self, number: int) -> Page | None:
        raise NotImplementedError

    def known(self) -> int:
        """Pages that exist now, plus one when the scanner is still reading another."""
        raise NotImplementedError

    def total(self) -> int | None:
        """Pages in the document; None while it is not known yet (direct, still scanning)."""
        raise NotImplementedError

    def save(self) -> None:
        pass

    def discard(self) -> None:
        pass

    @property
    def finished(self) -> bool:
        return all(d.state != "pending" for d in self.destinations)


class MemoryOutbox(Outbox):
    def __init__(self, files: FaxFiles, file: FaxFile) -> None:
        self.files = files
        self.file = file
        self.file_no = file.no
        self.label = file.label
        self.resolution = file.resolution
        self.send_at = file.send_at
        self.destinations = file.destinations
        self.calls = file.calls

    def page(self, number: int) -> Page | None:
        return self.files.page(self.file, number)

    def known(self) -> int:
        return len(self.file.pages)

    def total(self) -> int | None:
        return len(self.file.pages)

    def save(self) -> None:
        self.file.send_at = self.send_at
        self.files.save(self.file)

    def discard(self) -> None:
        self.files.delete(self.file)


class DirectOutbox(Outbox):
    """Direct transmission: pages live in RAM as the scanner reads them; a power cut loses them."""

    def __init__(self, number: str, resolution: str) -> None:
        self.label = "DIRECT"
        self.resolution = resolution
        self.destinations = [Destination(number)]
        self.calls = []
        self.pages: list[Page] = []
        self.scanning = True
        self.listeners: list[Callable[[], None]] = []  # a page came, or the scan ended

    def add(self, page: Page) -> None:
        self.pages.append(page)
        for fn in list(self.listeners):
            fn()

    def scan_ended(self) -> None:
        self.scanning = False
        for fn in list(self.listeners):
            fn()

    def page(self, number: int) -> Page | None:
        return self.pages[number - 1] if number <= len(self.pages) else None

    def known(self) -> int:
        return len(self.pages) + (1 if self.scanning else 0)

    def total(self) -> int | None:
        return None if self.scanning else len(self.pages)


class OutgoingDocument(Sequence[Page]):
    """The pages one call sends, as the T.30 session reads them: the outbox's pages not yet
    confirmed by this destination, each with the transmit header, made when first asked for.
    While a direct transmission's next page is still being read, its place holds a one-line
    page with the job's resolution and width (all the session asks of a page before sending
    it); the call waits for the real one before it goes on (`PacedCall`)."""

    def __init__(self, outbox: Outbox, skip: Sequence[int],
                 stamp: Callable[[int, Page], Page]) -> None:  # fmt: skip
        self.outbox = outbox
        self.skip = set(skip)
        self.stamp = stamp
        self._made: dict[int, Page] = {}

    def numbers(self) -> list[int]:
        return [n for n in range(1, self.outbox.known() + 1) if n not in self.skip]

    def __len__(self) -> int:
        return len(self.numbers())

    def __getitem__(self, index: int) -> Page:  # type: ignore[override]
        number = self.numbers()[index]
        made = self._made.get(number)
        if made is not None:
            return made
        page = self.outbox.page(number)
        if page is None:
            return self.placeholder()
        made = self.stamp(number, page)
        self._made = {number: made}  # the session asks for one page at a time
        return made

    def placeholder(self) -> Page:
        """A one-line page with the document's resolution and width."""
        return Page(np.zeros((1, STANDARD_WIDTH), dtype=bool), self.outbox.resolution)

    def __iter__(self) -> Iterator[Page]:
        for i in range(len(self)):
            yield self[i]

    def number(self, index: int) -> int:
        """The document's page number of the session's page `index` (from 0)."""
        numbers = self.numbers()
        return numbers[index] if index < len(numbers) else index + 1

    def waiting_for(self, index: int) -> bool:
        """Whether the session's page `index` exists in the document but is not read yet."""
        numbers = self.numbers()
        return index < len(numbers) and self.outbox.page(numbers[index]) is None


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


# -- one call to one destination ---------------------------------------------------------------------
@dataclass
class HeaderStamp:
    """The transmit header of one call's pages (`firmware.tx_header`): the settings and the
    time as the call began, the call's serial, the memory file and its page count."""

    mode: str  # transmit.header: outside | inside | off
    when: str
    station: str
    number: str
    serial: int
    file_no: int | None
    total: int  # pages shown after P.nnn/ (0 when not known)

    @classmethod
    def for_call(cls, fw: Firmware, serial: int, file_no: int | None, total: int) -> HeaderStamp:
        settings = fw.settings
        return cls(str(settings.get("transmit.header")), fw.clock_text(),
                   str(settings.get("machine.station_name")), str(settings.get("machine.number")),
                   serial, file_no, total)  # fmt: skip

    def __call__(self, number: int, page: Page) -> Page:
        text = header_text(self.when, self.station, self.number, self.serial, number, self.total,
                           self.file_no)  # fmt: skip
        return apply_header(page, text, self.mode)


class Transmission:
    """One call: the document's pages not yet confirmed by this destination, with the header."""

    def __init__(self, service: FaxService, outbox: Outbox, dest: Destination,
                 display: JobDisplay) -> None:  # fmt: skip
        self.service = service
        self.fw = service.fw
        self.outbox = outbox
        self.dest = dest
        self.display = display
        self.serial = service.files.next_serial()
        self.stamp = HeaderStamp.for_call(self.fw, self.serial, outbox.file_no, self._total())
        self.when = self.stamp.when
        self.started_at = self.fw.board.clock.now
        self.resumed = bool(dest.confirmed)
        self.document = OutgoingDocument(outbox, dest.confirmed, self.stamp)
        self.call: FaxCall | None = None
        self._page = 0
        self._stage = ""

    def start(self) -> None:
        fw = self.fw
        self.display.set_state("dial")
        self.display.show("DIALING", self.dest.number)
        config = config_from_settings(fw.settings.get)
        direct = isinstance(self.outbox, DirectOutbox)
        kind = PacedCall if direct else FaxCall
        fw.log.emit("fax", "transmission", file=self.outbox.label, number=self.dest.number,
                    serial=self.serial, when=self.when, header=self.stamp.mode,
                    resume_from=self.document.number(0))  # fmt: skip
        # The session reads the pages as it needs them (a direct transmission's grow as they are
        # read), each loaded and stamped when first asked for.
        call = kind.dial(fw.board, self.dest.number, self.document, config,
                         on_progress=self._progress, on_page=self._page_event,
                         on_done=self._done)  # fmt: skip
        if isinstance(call, PacedCall):
            assert isinstance(self.outbox, DirectOutbox)
            self.outbox.listeners.append(call.page_ready)
        self.call = call if call.result is None else None

    def cancel(self) -> None:
        if self.call is not None:
            self.call.cancel()

    def _total(self) -> int:
        """Pages to show as P.nnn/total: 0 (not shown) for a direct transmission, whose machine
        knows only whether another sheet is in the feeder."""
        return 0 if isinstance(self.outbox, DirectOutbox) else self.outbox.total() or 0

    def _progress(self, progress: CallProgress) -> None:
        stage = progress.stage
        if stage in ("dialing", "ringing", "idle"):
            self.display.show("DIALING", self.dest.number)
            return
        if stage == "done":
            return
        if progress.page != self._page:
            # A page's data is going out: phase C (the session itself stays in D meanwhile),
            # until the call says the page is sent (`_page_event`).
            self._page = progress.page
            self.display.set_state("t30.phase_c")
        elif stage != self._stage:
            self.display.set_state(f"t30.phase_{stage.lower()}")
        self._stage = stage
        if progress.page:
            number = self.document.number(progress.page - 1)
            total = self._total()
            of = f"/{total:03d}" if total else ""
            self.display.show(f"SENDING P.{number:03d}{of}", progress.speed)
        else:
            self.display.show("SENDING", progress.remote_id or self.dest.number)

    def _page_event(self, kind: str, page: int) -> None:
        """A page's data is out (phase D), or the far end confirmed it. A confirmed page is
        saved with the file at once, so that after a power cut in the middle of the call the
        transmission resumes after it instead of sending it twice."""
        if kind == "sent":
            self.display.set_state("t30.phase_d")
        elif kind == "confirmed":
            number = self.document.number(page - 1)
            if number not in self.dest.confirmed:
                self.dest.confirmed = sorted([*self.dest.confirmed, number])
                self.outbox.save()

    def _done(self, result: CallResult) -> None:
        if isinstance(self.outbox, DirectOutbox) and self.call is not None:
            if isinstance(self.call, PacedCall) and self.call.page_ready in self.outbox.listeners:
                self.outbox.listeners.remove(self.call.page_ready)
        self.service.transmission_done(self, result)

    def pages_sent(self, result: CallResult) -> list[int]:
        """The document's page numbers this call got confirmed."""
        confirmed = list(result.pages_confirmed)
        call = self.call
        if isinstance(call, PacedCall) and call.held_confirmation():
            current = call.session.page_index + 1
            if current not in confirmed:
                confirmed.append(current)
        return [self.document.number(p - 1) for p in confirmed]


# -- scanning a document to send ---------------------------------------------------------------------
class SendScan:
    """FAX + START: read the feeder into a memory file (or, direct, into the call's RAM)."""

    def __init__(self, service: FaxService, display: JobDisplay, outbox: Outbox,
                 resolution: str, contrast: str) -> None:  # fmt: skip
        self.service = service
        self.fw = service.fw
        self.scan = service.paper.scan
        self.display = display
        self.outbox = outbox
        self.resolution = resolution
        self.contrast = contrast
        self.pages = 0
        self.state = "scanning"  # scanning | stopping | memory_full | done
        self.memory_full = False
        self.unreadable: list[str] = []

    @property
    def direct(self) -> bool:
        return isinstance(self.outbox, DirectOutbox)

    def start(self) -> None:
        self.display.set_state("scan")
        self._show()
        self.scan.alert_listeners.append(self._alert)
        self.scan.start(self.resolution, self.contrast, self._page, self._done, self._problem)

    def _show(self) -> None:
        if self.direct and self.service.current is not None:
            return  # the call shows on the LCD; the scanner keeps reading behind it
        where = "" if self.direct else f"  {self.outbox.label}"
        self.display.show("SCANNING", f"PAGE {self.pages + 1}{where}")

    def stop(self) -> None:
        if self.state == "scanning":
            self.state = "stopping"
            self.scan.cancel()
        elif self.state == "memory_full":
            self.choose(False)

    def key(self, key: str) -> bool:
        if self.state == "memory_full" and key == "START":
            self.choose(True)
            return True
        return False

    def _alert(self, source: str, word: str | None) -> None:
        if word is not None:
            self.display.show(word, "CLEAR THEN WAIT")
        else:
            self._show()

    def _page(self, page: Page, sheet: Sheet) -> bool:
        number = self.pages + 1
        outbox = self.outbox
        if isinstance(outbox, MemoryOutbox):
            try:
                self.service.files.add_page(outbox.file, page)
            except MemoryFull as exc:
                self.fw.log.emit("fax", "memory_full", file=outbox.label, page=number,
                                 needed=exc.needed, free=exc.free)  # fmt: skip
                self.memory_full = True
                return False
        elif isinstance(outbox, DirectOutbox):
            outbox.add(page)
        self.pages = number
        self.service.page_scanned(outbox, number, page)
        self._show()
        return True

    def _problem(self, sheet: Sheet, reason: str) -> None:
        self.unreadable.append(sheet.name)
        self.fw.log.emit("fax", "check_document", document=sheet.name, reason=reason)
        self.display.show("CHECK DOCUMENT", sheet.name[:20])

    def _done(self, reason: str) -> None:
        if self._alert in self.scan.alert_listeners:
            self.scan.alert_listeners.remove(self._alert)
        service = self.service
        if isinstance(self.outbox, DirectOutbox):
            self.state = "done"
            self.outbox.scan_ended()
            service.direct_scan_done(self, reason)
            return
        if self.state == "stopping" or reason == "cancelled":
            self.state = "done"
            return service.scan_abandoned(self, "CANCELLED", f"{self.outbox.label} DELETED")
        if self.memory_full:
            if not self.pages:
                self.state = "done"
                return service.scan_abandoned(self, "MEMORY FULL", "NOTHING STORED")
            self.state = "memory_full"
            self.display.set_state("memory_full")
            self.display.show("MEMORY FULL", "START=SEND STOP=CLR")
            return
        self.state = "done"
        if not self.pages:
            word = "CHECK DOCUMENT" if self.unreadable else "NO DOCUMENT"
            return service.scan_abandoned(self, word, "NOTHING SENT")
        service.scan_complete(self)

    def choose(self, keep: bool) -> None:
        """After MEMORY FULL: send the pages that fit (START), or delete them (STOP)."""
        if self.state != "memory_full":
            return
        self.state = "done"
        if keep:
            self.service.scan_complete(self)
        else:
            self.service.scan_abandoned(self, "MEMORY FULL", f"{self.outbox.label} DELETED")


# -- the send options of number entry ------------------------------------------------------------------
class SendOptionsScreen(Screen):
    """FUNCTION in number entry: 1 DELAYED TX (then HH:MM and SET), 2 POLLING. SET chooses,
    STOP or FUNCTION goes back to the number unchanged."""

    takes_timeout = True
    CHOICES = (("DELAYED TX", "delayed"), ("POLLING", "poll"))

    def __init__(self, fw: Firmware, dial: DialScreen) -> None:
        super().__init__(fw)
        self.dial = dial
        self.step = "choose"
        self.choice = 0
        self.time = ""

    def entry_info(self) -> tuple[str, bool] | None:
        return ("digits", False)

    def render(self) -> None:
        if self.step == "choose":
            label = self.CHOICES[self.choice][0]
            self.fw.lcd.show("SEND OPTION", f"{self.choice + 1}:{label}")
        else:
            shown = (self.time + "____")[:4]
            self.fw.lcd.show("DELAYED TX", f"TIME: {shown[:2]}:{shown[2:]}")

    def key_any(self, key: str) -> bool:
        if self.step == "choose":
            if key in ("LEFT", "RIGHT"):
                step = 1 if key == "RIGHT" else -1
                self.choice = (self.choice + step) % len(self.CHOICES)
            elif key.isdigit() and 1 <= int(key) <= len(self.CHOICES):
                self.choice = int(key) - 1
                self._chosen()
                return True
            else:
                return False
            self.render()
            return True
        if key.isdigit() and len(key) == 1:
            if len(self.time) < 4:
                self.time += key
            self.render()
            return True
        return False

    def key_SET(self) -> None:
        if self.step == "choose":
            self._chosen()
            return
        hours, minutes = (
            (int(self.time[:2]), int(self.time[2:])) if len(self.time) == 4 else (99, 99)
        )
        if hours > 23 or minutes > 59:
            self.time = ""
            return self.fw.notice("DELAYED TX", "INVALID TIME", then=self._back_here)
        self.dial.options = {"send_at": f"{hours:02d}:{minutes:02d}"}
        self.dial.option_label = f"DELAYED TX {hours:02d}:{minutes:02d}"
        self._back()

    def key_CLEAR(self) -> None:
        if self.step == "time" and self.time:
            self.time = self.time[:-1]
            self.render()
        else:
            self._back()

    def key_STOP(self) -> None:
        self._back()

    def key_FUNCTION(self) -> None:
        self._back()

    def _chosen(self) -> None:
        if self.CHOICES[self.choice][1] == "poll":
            self.dial.options = {"poll": True}
            self.dial.option_label = "POLLING"
            return self._back()
        self.step = "time"
        self.render()

    def _back(self) -> None:
        self.fw.activate(self.dial, "start_dial")

    def _back_here(self) -> None:
        self.fw.activate(self, "resume_entry_dial")


# -- the service --------------------------------------------------------------------------------------------
@dataclass
class ActiveReception:
    call: FaxCall
    kind: str  # RX | POLL
    display: JobDisplay
    sink: ReceptionSink
    document: ReceivedDocument
    number: str = ""  # the number we polled
    polled_file: int | None = None  # our polling document, sent if the caller polls
    polled_serial: int = 0


class FaxService:
    """Sending, receiving and polling on one machine, with one line (see the module's text)."""

    def __init__(self, fw: Firmware, paper: PaperHandling) -> None:
        self.fw = fw
        self.board = fw.board
        self.paper = paper
        self.settings = fw.settings
        self.journal = fw.journal
        self.log = fw.log
        self.files = FaxFiles(self.board.nvram, paper.memory)
        self.rx_record = RxRecord(self.board.nvram)
        self.line = self.board.line
        self.current: Transmission | None = None
        self.reception: ActiveReception | None = None
        self.scanning: SendScan | None = None
        self.direct: list[DirectOutbox] = []
        self.display: JobDisplay | None = None  # the display a transmission will use next
        self.incoming: JobDisplay | None = None  # TEL mode: the ringing call on the LCD
        self.last_lines: tuple[str, str] = ("", "")
        self._wake: Timer | None = None
        self._rest_until = 0
        # Listeners: (file number or None, page number, page) as each page to send is scanned;
        # each received document; each finished call (TX or RX) with its result.
        self.scanned_listeners: list[Callable[[int | None, int, Page], None]] = []
        self.document_listeners: list[Callable[[ReceivedDocument], None]] = []
        self.call_listeners: list[Callable[[str, CallResult], None]] = []

    # -- installation ---------------------------------------------------------------------------------
    def install(self) -> None:
        fw = self.fw
        fw.fax = self
        features = fw.features
        features.register("fax_send", self.send_feature)
        features.register("fax_receive", self.receive_feature)
        features.register("polling", self.polling_feature)
        features.register("polling_document", self.polling_document_feature)
        features.register("fax_options", self.options_feature)
        features.register("fax_cancel_files", self.cancel_files_feature)
        features.register("stop_background", self.stop_background)
        fw.boot_hooks.append(self._booted)
        fw.power_off_hooks.append(self._power_off)
        fw.memory_clear_hooks.append(self.files.clear)
        fw.standby_notes.append(self.standby_note)
        if self.line is not None:
            self.line.listeners.append(self._line_event)

    @property
    def line_free(self) -> bool:
        return (
            self.line is not None
            and self.line.state == "idle"
            and self.current is None
            and self.reception is None
        )

    # -- features (the panel's entry points) ------------------------------------------------------------
    def send_feature(self, fw: Firmware, numbers: list[str], resolution: str = "standard",
                     contrast: str = "normal", send_at: str = "", poll: bool = False,
                     **_: Any) -> None:  # fmt: skip
        if poll:
            return self.polling_feature(fw, numbers=numbers)
        if self.line is None:
            return fw.notice("FAX SEND", "NO LINE")
        if not fw.documents_waiting():
            return fw.notice("NO DOCUMENT", "LOAD DOCUMENT")
        if self.paper.scan.busy or self.scanning is not None:
            return fw.notice("FAX SEND", "SCANNER BUSY")
        direct = (
            self.settings.get("transmit.mode") == "direct"
            and len(numbers) == 1
            and not send_at
            and self.line_free
        )
        display = JobDisplay(fw, "fax_send", self._stop_pressed, self._key_pressed, take=True)
        outbox: Outbox
        if direct:
            outbox = DirectOutbox(numbers[0], resolution)
            self.direct.append(outbox)
        else:
            file = self.files.create("send", resolution, fw.clock_text(), numbers,
                                     self._send_at(send_at))  # fmt: skip
            outbox = MemoryOutbox(self.files, file)
        self.log.emit("fax", "send", file=outbox.label, numbers=numbers, resolution=resolution,
                      contrast=contrast, mode="direct" if direct else "memory",
                      send_at=outbox.send_at)  # fmt: skip
        self.display = display
        self.scanning = SendScan(self, display, outbox, resolution, contrast)
        self.scanning.start()

    def receive_feature(self, fw: Firmware, manual: bool = True, **_: Any) -> None:
        """START with no number: answer the ringing line (TEL mode, or before the ring count)."""
        if self.line is not None and self.line.state == "ringing" and self.reception is None:
            self.answer(take=True)
            return
        fw.notice("ENTER FAX NUMBER", "")

    def polling_feature(self, fw: Firmware, numbers: Sequence[str] = (), **_: Any) -> None:
        if not numbers:
            return fw.notice("POLLING", "ENTER FAX NUMBER")
        if not self.line_free:
            return fw.notice("POLLING", "LINE BUSY")
        number = numbers[-1]
        display = JobDisplay(fw, "fax_receive", self._stop_pressed, take=True)
        display.set_state("dial")
        display.show("POLLING", number)
        config = config_from_settings(self.settings.get)
        config.polling_password = str(self.settings.get("polling.password"))
        self._track_reception(
            "POLL", display,
            lambda sink: FaxCall.dial(self.board, number, (), config, poll=True, sink=sink,
                                      on_progress=self._rx_progress, on_done=self._rx_done),
            number=number,
        )  # fmt: skip

    def polling_document_feature(self, fw: Firmware, **_: Any) -> None:
        """FUNCTION menu: scan the feeder as the document remote machines may poll."""
        existing = self.polling_file()
        if not fw.documents_waiting():
            if existing is not None:
                return fw.notice("POLLING DOCUMENT", f"{existing.label} STORED")
            return fw.notice("NO DOCUMENT", "LOAD DOCUMENT")
        if self.paper.scan.busy or self.scanning is not None:
            return fw.notice("POLLING DOCUMENT", "SCANNER BUSY")
        if existing is not None and self._offered(existing):
            return fw.notice("POLLING DOCUMENT", "LINE BUSY")
        if existing is not None:
            self.files.delete(existing)  # the new document replaces the old one
        resolution, contrast = fw.resolution, fw.contrast
        display = JobDisplay(fw, "fax_send", self._stop_pressed, self._key_pressed, take=True)
        file = self.files.create("polling", resolution, fw.clock_text())
        self.log.emit("fax", "polling_document", file=file.label)
        self.scanning = SendScan(self, display, MemoryOutbox(self.files, file), resolution,
                                 contrast)  # fmt: skip
        self.scanning.start()

    def options_feature(self, fw: Firmware, dial: DialScreen, **_: Any) -> None:
        fw.activate(SendOptionsScreen(fw, dial), "start_dial")

    def cancel_files_feature(self, fw: Firmware, **_: Any) -> None:
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
        self._standby_changed()
        fw.notice("MEMORY TX", f"{count} FILE{'S' if count != 1 else ''} DELETED")

    def stop_background(self) -> None:
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
            self.fw.notice("REDIAL CANCELLED", " ".join(cancelled))

    # -- the standby LCD -----------------------------------------------------------------------------------
    def standby_note(self) -> str:
        """What standby adds after READY: REDIAL, DELAYED or MEM TX while transmissions wait."""
        notes = set()
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

    def _standby_changed(self) -> None:
        fw = self.fw
        if fw.powered and fw.state.startswith("standby"):
            fw.render()

    # -- scanning ------------------------------------------------------------------------------------------
    def page_scanned(self, outbox: Outbox, number: int, page: Page) -> None:
        for fn in list(self.scanned_listeners):
            fn(outbox.file_no, number, page)
        if isinstance(outbox, DirectOutbox) and number == 1:
            self._next()  # direct: dial as soon as the first page is read

    def scan_abandoned(self, scan: SendScan, line1: str, line2: str) -> None:
        self.scanning = None
        outbox = scan.outbox
        if isinstance(outbox, MemoryOutbox):
            outbox.discard()
        self.log.emit("fax", "scan_abandoned", file=outbox.label, reason=line1)
        if self.display is scan.display:
            self.display = None
        scan.display.finish(line1, line2)
        self._standby_changed()

    def scan_complete(self, scan: SendScan) -> None:
        self.scanning = None
        outbox = scan.outbox
        assert isinstance(outbox, MemoryOutbox)
        file = outbox.file
        file.state = "ready"
        self.files.save(file)
        self.log.emit("fax", "stored", file=file.label, pages=len(file.pages),
                      purpose=file.purpose)  # fmt: skip
        if file.purpose == "polling":
            self.display = None
            scan.display.finish("POLLING DOCUMENT", f"{file.label} STORED")
            return
        if file.send_at:
            self.display = None
            scan.display.finish("DELAYED TX", f"{file.label} AT {file.send_at[11:16]}")
            self._next()
            return
        self._next()
        if self.current is None or self.current.display is not scan.display:
            # The line is busy (a call in progress): the file waits its turn in memory.
            if self.display is scan.display:
                self.display = None
            scan.display.finish("MEMORY TX", f"{file.label} STORED")
        self._standby_changed()

    def direct_scan_done(self, scan: SendScan, reason: str) -> None:
        self.scanning = None
        outbox = scan.outbox
        assert isinstance(outbox, DirectOutbox)
        cancelled = scan.state == "stopping" or reason == "cancelled"
        if not outbox.pages or (cancelled and self.current is None):
            if outbox in self.direct:
                self.direct.remove(outbox)
            word = "CANCELLED" if cancelled else (
                "CHECK DOCUMENT" if scan.unreadable else "NO DOCUMENT")  # fmt: skip
            if self.display is scan.display:
                self.display = None
            scan.display.finish(word, "NOTHING SENT")
            return
        current = self.current
        if current is not None and current.outbox is outbox and current.call is not None:
            call = current.call
            if isinstance(call, PacedCall) and call.waiting_for_scanner():
                # The page the call waits for will not come (the last original was unreadable).
                self.log.emit("fax", "direct_short", pages=len(outbox.pages))
                call.cancel()

    # -- the scheduler: which call goes next ----------------------------------------------------------------
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
        fw = self.fw
        if not fw.powered or fw.state in ("off", "booting") or self.line is None:
            return
        now = self.board.clock.now
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
                self._wake = self.board.timers.call_later(LINE_RETRY, self._next, label="fax next")
            return
        if choice is not None and now < self._rest_until:
            self._wake = self.board.timers.call_at(self._rest_until, self._next, label="fax next")
            return
        if choice is None:
            if soonest is not None:
                self._wake = self.board.timers.call_later(soonest, self._next, label="fax next")
            if self.display is not None:
                finished, self.display = self.display, None
                finished.finish(*self.last_lines)
            self._standby_changed()
            return
        outbox, dest = choice
        display = self.display
        if display is None or display.handle is None:
            display = JobDisplay(fw, "fax_send", self._stop_pressed)
        self.display = display
        transmission = Transmission(self, outbox, dest, display)
        self.current = transmission
        transmission.start()

    # -- the end of a call ------------------------------------------------------------------------------------
    def transmission_done(self, tx: Transmission, result: CallResult) -> None:
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
        elif status in REDIAL_STATUSES and dest.redials < int(
            self.settings.get("transmit.redial_tries")
        ):
            redial_minutes = int(self.settings.get("transmit.redial_interval"))
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
        call_record = {
            "when": tx.when, "number": dest.number, "remote": result.remote_id,
            "serial": tx.serial, "pages": sent, "duration": result.duration,
            "speed": result.speed, "result": "OK" if result.ok else result.lcd,
            "code": result.code, "resumed": tx.resumed,
        }  # fmt: skip
        outbox.calls.append(call_record)
        self._journal_tx(tx, result, sent)
        for fn in list(self.call_listeners):
            fn("TX", result)
        if status == "CANCELLED":
            self._close_destinations(outbox, "CANCELLED", "419", save=False)
        self.last_lines = (word, line2)
        tx.display.show(word, line2)
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
            self._standby_changed()
            return
        self._report(outbox)
        if isinstance(outbox, DirectOutbox):
            if outbox in self.direct:
                self.direct.remove(outbox)
        else:
            outbox.discard()
        self.log.emit("fax", "file_done", file=outbox.label,
                      results=[d.result for d in outbox.destinations])  # fmt: skip
        self._standby_changed()

    def _journal_tx(self, tx: Transmission, result: CallResult, sent: list[int]) -> None:
        total = tx.outbox.total()
        detail: dict[str, Any] = {
            "number": tx.dest.number, "file": tx.outbox.label, "serial": tx.serial,
            "status": result.outcome.status, "pages_sent": sent, "total": total,
            "resumed": tx.resumed,
        }  # fmt: skip
        if not result.ok and sent and total and len(tx.dest.confirmed) < total:
            detail["unsent"] = [n for n in range(1, total + 1) if n not in tx.dest.confirmed]
        self.journal.add(
            "TX", remote=(result.remote_id or tx.dest.number)[:20], pages=len(sent),
            result="OK" if result.ok else ("CANCELLED" if result.outcome.status == "CANCELLED"
                                           else result.lcd),
            code=result.code, duration=result.duration, speed=result.speed, detail=detail,
        )  # fmt: skip

    def _report(self, outbox: Outbox) -> None:
        """The transmission report, as `transmit.report` says (always / on error / off)."""
        when = str(self.settings.get("transmit.report"))
        failed = any(d.state != "done" for d in outbox.destinations)
        if when == "off" or (when == "error" and not failed):
            return
        from .assembly import header_for

        total = outbox.total() or 0
        body = [
            f"FILE {outbox.label:<10} PAGES {total:<4} RESOLUTION {outbox.resolution.upper()}",
            "",
            f"{'NO.':<4}{'DATE':<11}{'TIME':<6}{'DESTINATION':<21}{'REMOTE ID':<21}"
            f"{'PAGES':<10}{'TIME':>6}  {'SPEED':<11}RESULT",
        ]
        for call in outbox.calls:
            date, _, time = str(call["when"]).partition(" ")
            pages = ",".join(str(p) for p in call["pages"]) or "-"
            minutes, seconds = divmod(round(float(call["duration"])), 60)
            code = f" {call['code']}" if call["code"] else ""
            body.append(
                f"T-{int(call['serial']):03d}{'':1}{date:<11}{time:<6}{call['number'][:20]:<21}"
                f"{(call['remote'] or '-')[:20]:<21}{pages[:9]:<10}{minutes:02d}'{seconds:02d}\""
                f"  {call['speed'][:10]:<11}{call['result']}{code}"
            )
        body += ["", "DESTINATION          RESULT"]
        for d in outbox.destinations:
            code = f" {d.code}" if d.code else ""
            body.append(f"{d.number[:20]:<21}{d.result or d.state.upper()}{code}")
        size = str(self.settings.get("paper.size"))
        sheets = text_pages("TRANSMISSION REPORT", body, header_for(self.fw), size)
        try:
            self.paper.queue.submit(sheets, kind="report", title="TX REPORT")
        except MemoryFull:
            self.log.emit("report", "memory_full", report="transmission")
            return
        self.log.emit("report", "queued", report="transmission", file=outbox.label)

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

    # -- receiving ------------------------------------------------------------------------------------------
    def _line_event(self, event: LineEvent) -> None:
        fw = self.fw
        line = self.line
        assert line is not None
        fw.set_indicator("LINE", "on" if line.off_hook else "off", source="fax")
        if not fw.powered or fw.state in ("off", "booting"):
            return
        kind = event.kind
        if kind == "ring":
            self._ringing(event.n)
        elif kind == "ring_off":
            mode = str(self.settings.get("receive.mode"))
            rings = int(self.settings.get("receive.rings"))
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
        self.log.emit("fax", "ring", n=n, mode=str(self.settings.get("receive.mode")))
        if self.settings.get("receive.mode") != "tel" or self.incoming is not None:
            return
        display = JobDisplay(self.fw, "fax_receive", self._stop_pressed, self._incoming_key)
        if display.handle is None:
            return
        display.set_state("ringing")
        display.show("INCOMING CALL", "START TO RECEIVE")
        self.incoming = display

    def _incoming_key(self, key: str) -> bool:
        if key == "START" and self.line is not None and self.line.state == "ringing":
            self.answer()
            return True
        return False

    def answer(self, take: bool = False) -> None:
        """Go off hook and receive (or be polled for our polling document)."""
        fw = self.fw
        if self.line is None or self.reception is not None:
            return
        display = self.incoming
        self.incoming = None
        if display is None or display.handle is None:
            display = JobDisplay(fw, "fax_receive", self._stop_pressed, take=take)
        display.set_state("answer")
        display.show("RECEIVING", "")
        config = config_from_settings(self.settings.get)
        polling_pages: Sequence[Page] = ()
        polled_file = self.polling_file()
        serial = 0
        if polled_file is not None:
            # Offered in our DIS; a page is loaded and stamped only if the caller polls.
            config.polling_password = str(self.settings.get("polling.password"))
            serial = self.files.next_serial()
            stamp = HeaderStamp.for_call(fw, serial, polled_file.no, len(polled_file.pages))
            polling_pages = OutgoingDocument(MemoryOutbox(self.files, polled_file), (), stamp)
        self._track_reception(
            "RX", display,
            lambda sink: FaxCall.answer(self.board, config, sink=sink,
                                        polling_document=polling_pages,
                                        on_progress=self._rx_progress, on_done=self._rx_done),
            polled_file=polled_file.no if polled_file else None, polled_serial=serial,
        )  # fmt: skip

    def _track_reception(self, kind: str, display: JobDisplay,
                         place_call: Callable[[ReceptionSink], FaxCall], number: str = "",
                         polled_file: int | None = None, polled_serial: int = 0) -> None:  # fmt: skip
        """Start a reception (RX: answered, POLL: we polled `number`): its pages go to the
        print queue, a note of it to NVRAM, its progress to `display`."""
        fw = self.fw
        document = ReceivedDocument(kind, number, fw.clock_text())
        sink = ReceptionSink(self.paper.queue, self.paper.memory, lambda: document.remote)
        self.rx_record.begin(fw.clock_text(), kind)
        call = place_call(sink)
        rx = ActiveReception(call, kind, display, sink, document, number=number,
                             polled_file=polled_file, polled_serial=polled_serial)  # fmt: skip
        sink.on_page = lambda page: self._rx_page(rx, page)
        self.reception = rx
        if call.result is not None:
            self._rx_done(call.result)  # the call ended before it began (the line was gone)

    def _offered(self, file: FaxFile) -> bool:
        """Whether the call in progress offers `file` for polling: its pages are read from
        memory as the caller takes them, so it stays until the call ends."""
        return self.reception is not None and self.reception.polled_file == file.no

    def polling_file(self) -> FaxFile | None:
        return next((f for f in self.files.files()
                     if f.purpose == "polling" and f.state == "ready"), None)  # fmt: skip

    def _rx_progress(self, progress: CallProgress) -> None:
        rx = self.reception
        if rx is None:
            return
        stage = progress.stage
        if stage in ("dialing", "ringing", "idle", "done", "E"):
            return
        rx.display.set_state(f"t30.phase_{stage.lower()}")
        if progress.remote_id and not rx.document.remote:
            rx.document.remote = progress.remote_id
            self.rx_record.update(remote=progress.remote_id)
        if progress.page and rx.call.session.state.startswith("t_"):
            # We are being polled: our polling document goes out.
            total = len(rx.call.session.document)
            rx.display.show(f"SENDING P.{progress.page:03d}/{total:03d}", progress.speed)
            return
        page = progress.page or len(rx.sink.pages) + 1
        rx.display.show(f"RECEIVING P.{page:03d}", progress.speed or progress.remote_id)

    def _rx_page(self, rx: ActiveReception, page: ReceivedPage) -> None:
        rx.document.pages.append(page)
        self.rx_record.update(pages=len(rx.document.pages))
        rx.display.show(f"RECEIVING P.{len(rx.document.pages) + 1:03d}",
                        rx.call.progress.speed)  # fmt: skip

    def _rx_done(self, result: CallResult) -> None:
        rx = self.reception
        if rx is None or rx.call.result is not result:
            return
        self.reception = None
        self.rx_record.end()
        document = rx.document
        document.result = result
        if not document.remote:
            document.remote = result.remote_id or rx.number
        polled = bool(result.pages_confirmed) and rx.polled_file is not None
        pages = len(document.pages)
        if polled:
            self._polled_done(rx, result)
            word, line2 = ("COMPLETED", "POLLED") if result.ok else result_lines(result, None)
        else:
            kind = rx.kind
            status = "OK" if result.ok else result.lcd
            detail: dict[str, Any] = {"status": result.outcome.status}
            if rx.sink.refused or result.outcome.status == "NOMEM":
                detail["memory_full"] = True
            if rx.number:
                detail["number"] = rx.number
            self.journal.add(kind, remote=document.remote[:20], pages=pages, result=status,
                             code=result.code, duration=result.duration, speed=result.speed,
                             detail=detail)  # fmt: skip
            if result.ok:
                word, line2 = "COMPLETED", f"{pages} PAGE{'S' if pages != 1 else ''}"
            else:
                word, line2 = result_lines(result, None)
        for tell in list(self.call_listeners):
            tell(rx.kind, result)
        if document.pages:
            for hand in list(self.document_listeners):
                hand(document)
        rx.display.finish(word, line2)
        self._rest_until = self.board.clock.now + LINE_GAP
        self._next()

    def _polled_done(self, rx: ActiveReception, result: CallResult) -> None:
        file = self.files.get(rx.polled_file) if rx.polled_file is not None else None
        total = len(file.pages) if file is not None else 0
        sent = list(result.pages_confirmed)
        self.journal.add(
            "TX", remote=(result.remote_id or "")[:20], pages=len(sent),
            result="OK" if result.ok else result.lcd, code=result.code,
            duration=result.duration, speed=result.speed,
            detail={"polled": True, "file": file.label if file else "", "serial": rx.polled_serial,
                    "pages_sent": sent, "total": total},
        )  # fmt: skip
        keep = self.settings.get("polling.keep") == "keep"
        if file is not None and result.ok and len(sent) >= total and not keep:
            self.files.delete(file)
            self.log.emit("fax", "polling_document_sent", file=file.label)

    # -- operator keys while a fax job shows ------------------------------------------------------------------
    def _stop_pressed(self) -> None:
        if self.scanning is not None and self.scanning.state in ("scanning", "memory_full"):
            scan = self.scanning
            self.log.emit("fax", "stop", during="scanning", file=scan.outbox.label)
            if isinstance(scan.outbox, DirectOutbox):
                scan.stop()
                if self.current is not None and self.current.outbox is scan.outbox:
                    self.current.cancel()
                return
            scan.stop()
            return
        if self.current is not None:
            self.log.emit("fax", "stop", during="call", file=self.current.outbox.label)
            self.current.cancel()
            return
        if self.reception is not None:
            self.log.emit("fax", "stop", during="reception")
            self.reception.call.cancel()
            return
        if self.incoming is not None:
            incoming, self.incoming = self.incoming, None
            incoming.finish()

    def _key_pressed(self, key: str) -> bool:
        if self.scanning is not None:
            return self.scanning.key(key)
        return False

    # -- power -----------------------------------------------------------------------------------------------
    def _power_off(self) -> None:
        # RAM is gone: calls in progress end (their line is gone already), direct transmissions
        # are lost; memory files, their progress and received pages are in NVRAM.
        current, self.current = self.current, None
        reception, self.reception = self.reception, None
        self.scanning = None
        self.direct.clear()
        self.display = self.incoming = None
        self._wake = None
        self.files.forget_recent()
        for call in (current.call if current else None, reception.call if reception else None):
            if call is not None and call.result is None:
                call.cancel()

    def _booted(self) -> None:
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
        self._standby_changed()


def install(fw: Firmware, paper: PaperHandling) -> FaxService:
    service = FaxService(fw, paper)
    service.install()
    return service
