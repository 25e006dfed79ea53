"""Paper handling: image memory, the feeder's scan control, print control and the print queue of
one machine, built together, following the settings and reporting faults to the control panel.

The operator's fixes are the same whichever job a fault interrupts, so the words are too: one
table (`ALERT_HINT`) gives the second LCD line for each fault word, for every job and standby.
"""

from __future__ import annotations

from functools import partial

from estudio190f.hw.board import Board

from .control_panel import ControlPanel
from .image_memory import ImageMemory
from .print_control import COVER_OPEN, NO_PAPER, PAPER_JAM, PrintControl
from .print_queue import PrintJob, PrintQueue
from .scan_control import DOCUMENT_JAM, ScanControl
from .settings import Settings, Value

# What the second LCD line says while a fault needs the operator.
ALERT_HINT = {
    PAPER_JAM: "REMOVE PAPER",
    DOCUMENT_JAM: "REMOVE DOCUMENT",
    NO_PAPER: "LOAD PAPER",
    COVER_OPEN: "CLOSE COVER",
}


def alert_lines(word: str) -> tuple[str, str]:
    """The LCD for a fault that needs the operator."""
    return word, ALERT_HINT.get(word, "")


class PaperHandling:
    """The paper-handling units on one board (build after the hardware models)."""

    def __init__(self, board: Board, settings: Settings) -> None:
        self.board = board
        self.settings = settings
        self.memory = ImageMemory(board.nvram, partial(settings.number, "memory.size_kb"))
        self.scan = ScanControl(board)
        self.printer = PrintControl(board)
        self.queue = PrintQueue(board, settings, self.memory, self.printer)
        self.panel: ControlPanel | None = None
        settings.listeners.add(self._setting_changed)
        self._setting_changed("*", None)

    def connect(self, panel: ControlPanel) -> None:
        """Fault words to the panel (standby LCD and ALARM), pages in memory to the MEMORY LED."""
        self.panel = panel
        self.scan.alert_listeners.add(panel.set_alert)
        self.printer.alert_listeners.add(panel.set_alert)
        self.memory.listeners.add(self._memory_led)

    def boot(self) -> list[PrintJob]:
        """At power-on: the MEMORY LED, paper left in the paths, printing what was left.
        Returns the jobs a power cut interrupted while scanning, which now print."""
        self._memory_led(self.memory.count())
        self.scan.check_path()
        return self.queue.recover()

    def clear(self) -> None:
        """Service mode MEMORY CLEAR: every print job and page in image memory."""
        self.queue.clear()

    def detach(self) -> None:
        self.scan.detach()
        self.printer.detach()
        self.queue.detach()
        self.settings.listeners.discard(self._setting_changed)

    def _memory_led(self, pages: int) -> None:
        if self.panel is not None:
            self.panel.set_indicator("MEMORY", "on" if pages else "off", source="image memory")

    def _setting_changed(self, key: str, value: Value | None) -> None:
        """The operator set what is loaded: the models follow the panel."""
        board, settings = self.board, self.settings
        if key in ("feeder.capacity", "*"):
            board.feeder.capacity = settings.number("feeder.capacity")
        if key in ("paper.capacity", "*"):
            board.printer.capacity = settings.number("paper.capacity")
        if key in ("paper.size", "*"):
            board.printer.set_paper_size(settings.text("paper.size"))
