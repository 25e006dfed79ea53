"""The e-STUDIO190F control program on one board: the composition root.

`Firmware` builds the units of the machine once, with real types between them, and wires them:
the control panel (main state machine, screens, LCD, LEDs), paper handling (image memory, scan and
print control, the print queue), background printing, reports, COPY, the fax unit, scan-to-email,
and the screens that reach them through `Services`. It also runs the power sequence: at power-on
`PLEASE WAIT` until the fuser is warm, then every unit recovers what NVRAM kept, then standby.
"""

from __future__ import annotations

from estudio190f.hw.board import Board
from estudio190f.hw.clock import MS, SECOND

from .control_panel import ControlPanel
from .copy import Copier
from .directory import Directory
from .email.scan_job import EmailUnit
from .email.scan_to_email import ScanToEmail
from .fax.service import FaxService
from .journal import Journal
from .paper import PaperHandling
from .printing import BackgroundPrinting
from .reports import ReportPrinter
from .screens import PanelScreens
from .services import Services
from .settings import BY_KEY, Settings

BOOT_TIME = 3 * SECOND
WARMUP_POLL = 500 * MS
NVRAM_NOTICE_TIME = 5 * SECOND
FAULT_STORM = 5  # faults at one instant after which the watchdog restarts the machine
WATCHDOG_OFF = 1 * SECOND


class Firmware:
    def __init__(self, board: Board) -> None:
        self.board = board
        self.log = board.log
        self.settings = Settings(board.nvram)
        self.directory = Directory(board.nvram)
        self.panel = ControlPanel(board.clock, board.timers, board.log, board.panel, board.rtc,
                                  self.settings)  # fmt: skip
        self.journal = Journal(board.nvram, self.panel.clock_text)
        self.paper = PaperHandling(board, self.settings)
        self.paper.connect(self.panel)
        self.printing = BackgroundPrinting(self.panel, self.paper.queue)
        self.paper.printer.alert_listeners.add(self.printing.alert)
        self.reports = ReportPrinter(self.panel, self.paper.queue, self.settings, self.directory,
                                     self.journal, board.log)  # fmt: skip
        self.copier = Copier(self.panel, self.paper, self.settings, self.journal)
        self.fax = FaxService(board, self.settings, self.journal, self.panel, self.paper,
                              self.reports)  # fmt: skip
        self.email = EmailUnit(board, self.panel, self.paper,
                               ScanToEmail(board, self.settings, self.journal), self.journal)  # fmt: skip
        self.services = Services(board, self.panel, self.settings, self.directory, self.journal,
                                 self.paper, self.copier, self.fax, self.email, self.reports,
                                 self.clear_memory)  # fmt: skip
        self.screens = PanelScreens(self.services)
        self._faults = (-1, 0)  # (instant, count) of internal faults
        board.power.changed.add(self._power)

    # -- what the operator's side asks -----------------------------------------------------------
    @property
    def state(self) -> str:
        return self.panel.state

    def state_path(self) -> str:
        return self.panel.state_path()

    def internal_fault(self, where: str, error: Exception) -> None:
        """A fault inside the control program (an exception in one of its events): contained.
        It is logged and journalled (the exception's type, not its text, which is not vetted for
        what may be shown), the LCD says SYSTEM ERROR, and the machine runs on. Faults that keep
        coming at one instant make the watchdog restart the machine (its RAM is lost, NVRAM kept,
        as after a power cut)."""
        now = self.board.clock.now
        self._faults = (now, self._faults[1] + 1) if self._faults[0] == now else (now, 1)
        kind = type(error).__name__
        self.log.emit("firmware", "fault", where=where, error=kind)
        if self._faults[1] > FAULT_STORM:
            self.log.emit("firmware", "watchdog", where=where)
            self.board.power_off()
            self.board.clock.call_later(WATCHDOG_OFF, self.board.power_on, label="watchdog")
            return
        if self._faults[1] == 1:
            self.journal.add(
                "SYSTEM", result="SYSTEM ERROR", detail={"where": where, "error": kind}
            )
            self.panel.notice("SYSTEM ERROR", "SEE JOURNAL", duration=NVRAM_NOTICE_TIME)

    def clear_memory(self) -> None:
        """Service mode MEMORY CLEAR: documents in memory, queued mail and the journal."""
        self.fax.clear()
        self.email.clear()
        self.paper.clear()
        self.journal.clear()
        self.log.emit("firmware", "memory_clear")

    # -- power ------------------------------------------------------------------------------------
    def _power(self, on: bool) -> None:
        if on:
            self.panel.booting()
            self.board.timers.call_later(BOOT_TIME, self._booted, label="boot")
        else:
            self.fax.powered_off()
            self.panel.powered_off()

    def _booted(self) -> None:
        if not self.board.printer.warmed_up:
            # The fuser warms up: PLEASE WAIT stays until the printer is ready.
            self.board.timers.call_later(WARMUP_POLL, self._booted, label="warm-up")
            return
        for job in self.paper.boot():
            if job.kind == "copy":
                # A copy the power cut interrupted while scanning: what was scanned prints now.
                self.journal.add("COPY", pages=len(job.pages), result="RECOVERED",
                                 detail={"job": job.id, "copies": job.copies,
                                         "status": "POWER_CUT"})  # fmt: skip
        self.email.boot()
        self.panel.ready()
        nvram = self.board.nvram
        if nvram.reset_reason:
            reason = nvram.reset_reason
            nvram.reset_reason = None
            self.log.emit("nvram", "reset", reason=reason, moved_to=str(nvram.moved_to or ""))
            self.journal.add("SYSTEM", result="NVRAM RESET", detail={"reason": reason})
            self.panel.notice("NVRAM RESET", "FACTORY DEFAULTS", duration=NVRAM_NOTICE_TIME)
        if nvram.read_only_reason:
            reason = nvram.read_only_reason
            nvram.read_only_reason = None
            self.log.emit("nvram", "read_only", reason=reason)
            self.journal.add("SYSTEM", result="NVRAM READ ONLY", detail={"reason": reason})
            self.panel.notice("NVRAM READ ONLY", "CHANGES NOT KEPT", duration=NVRAM_NOTICE_TIME)
        self._check_settings()
        self.log.emit("firmware", "ready")
        self.fax.boot()

    def _check_settings(self) -> None:
        """Values NVRAM held that this firmware cannot take are put back to the factory's."""
        self.settings.all()
        damaged = sorted(self.settings.damaged)
        if not damaged:
            return
        self.settings.damaged.clear()
        for key in damaged:
            self.settings.set(key, BY_KEY[key].default)
        self.log.emit("settings", "damaged", keys=damaged)
        self.journal.add("SYSTEM", result="SETTINGS RESET", detail={"keys": damaged})
