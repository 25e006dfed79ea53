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
from .settings import Settings

BOOT_TIME = 3 * SECOND
WARMUP_POLL = 500 * MS
NVRAM_NOTICE_TIME = 5 * SECOND


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
        board.power.changed.add(self._power)

    # -- what the operator's side asks -----------------------------------------------------------
    @property
    def state(self) -> str:
        return self.panel.state

    def state_path(self) -> str:
        return self.panel.state_path()

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
        self.paper.boot()
        self.email.boot()
        self.panel.ready()
        nvram = self.board.nvram
        if nvram.reset_reason:
            reason = nvram.reset_reason
            nvram.reset_reason = None
            self.log.emit("nvram", "reset", reason=reason, moved_to=str(nvram.moved_to or ""))
            self.journal.add("SYSTEM", result="NVRAM RESET", detail={"reason": reason})
            self.panel.notice("NVRAM RESET", "FACTORY DEFAULTS", duration=NVRAM_NOTICE_TIME)
        self.log.emit("firmware", "ready")
        self.fax.boot()
