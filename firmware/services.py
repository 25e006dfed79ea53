"""What the panel's screens reach: the units of one machine, each with its own typed API.

The composition root (`firmware.machine.Firmware`) builds the units and hands this bundle to the
screens; a screen calls `services.copier.start(...)`, `services.fax.send(...)`, never a unit by
name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from estudio190f.hw.board import Board

from .control_panel import ControlPanel
from .copy import Copier
from .directory import Directory
from .email.scan_job import EmailUnit
from .fax.service import FaxService
from .journal import Journal
from .paper import PaperHandling
from .reports import ReportPrinter
from .settings import Settings


@dataclass(frozen=True)
class Services:
    board: Board
    panel: ControlPanel
    settings: Settings
    directory: Directory
    journal: Journal
    paper: PaperHandling
    copier: Copier
    fax: FaxService
    email: EmailUnit
    reports: ReportPrinter
    clear_memory: Callable[[], None]  # service mode MEMORY CLEAR: every unit's memory
