"""The main board: wires the hardware models of one machine to one clock.

The firmware sees only what is here: the operator panel, NVRAM, the RTC, the power signal, and
(as their models are added) the feeder and scanner, the printer, the line interface and modem,
the LAN port and the UARTs.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from . import lan
from .clock import Clock, TimerGroup
from .eventlog import EventLog
from .faults import FaultRegistry
from .nvram import Nvram
from .operator_panel import OperatorPanel
from .rtc import FACTORY_TIME, RealTimeClock


class Board:
    def __init__(
        self,
        clock: Clock,
        name: str = "",
        state_dir: Path | None = None,
        seed: int = 0,
        rtc_start: datetime = FACTORY_TIME,
    ) -> None:
        self.clock = clock
        self.name = name
        self.log = EventLog(clock, name)
        self.panel = OperatorPanel(clock, self.log)
        self.nvram = Nvram(state_dir)
        self.rtc = RealTimeClock(clock, rtc_start)
        self.faults = FaultRegistry(self.log)
        # The firmware's powered domain: every firmware timer goes here, a power cut cancels them.
        self.timers = TimerGroup(clock)
        self.powered = False
        self.random = random.Random(seed * 1_000_003 + zlib.crc32(name.encode()))
        self.power_listeners: list[Callable[[bool], None]] = []
        # Attached by their models as they exist (see the paper, call and e-mail modules).
        self.feeder: Any = None
        self.scanner: Any = None
        self.printer: Any = None
        self.line: Any = None
        self.modem: Any = None
        self.lan: Any = None
        lan.attach(self)
        # The paper handling: each model attaches itself (board.feeder, .scanner, .printer).
        from .printer import PrinterEngine
        from .scanner import CisScanner, DocumentFeeder

        feeder = DocumentFeeder(self)
        CisScanner(self, feeder)
        PrinterEngine(self)

    def power_on(self) -> None:
        if self.powered:
            return
        self.powered = True
        self.log.emit("board", "power", on=True)
        for fn in list(self.power_listeners):
            fn(True)

    def power_off(self) -> None:
        if not self.powered:
            return
        self.powered = False
        self.timers.cancel_all()
        self.log.emit("board", "power", on=False)
        for fn in list(self.power_listeners):
            fn(False)
