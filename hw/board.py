"""The main board: the hardware of one machine, built explicitly and wired to one clock.

The firmware sees only what is here: the operator panel, NVRAM, the RTC, the power supply, the
feeder and CIS scanner, the printer engine, the LAN port, and — once the simulation plugs the
machine into a phone network — its line interface and modem, and those of the 2nd G3 option
board when it is fitted (`hw.second_line`). Every part gets what it needs
(clock, event log, power supply, fault registry) from the board; none reaches back into it.
"""

from __future__ import annotations

import random
import zlib
from datetime import datetime
from pathlib import Path

from .clock import Clock, TimerGroup
from .eventlog import EventLog
from .faults import FaultRegistry
from .lan import LanPort
from .line import LineInterface
from .listeners import Listeners
from .modem import Modem
from .nvram import Nvram
from .operator_panel import OperatorPanel
from .power import PowerSupply
from .printer import PrinterEngine
from .rtc import FACTORY_TIME, RealTimeClock
from .scanner import CisScanner, DocumentFeeder


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
        self.power = PowerSupply(clock, self.log)
        self.faults = FaultRegistry(self.log)
        self.panel = OperatorPanel(clock, self.log)
        self.nvram = Nvram(state_dir)
        self.rtc = RealTimeClock(clock, rtc_start)
        self.random = random.Random(seed * 1_000_003 + zlib.crc32(name.encode()))
        self.feeder = DocumentFeeder(clock, self.log, self.power, self.faults)
        self.scanner = CisScanner(self.power, self.feeder)
        self.printer = PrinterEngine(clock, self.log, self.power, self.faults)
        self.lan = LanPort(self.log, self.power, clock.outside)
        # Plugged in by the phone network (`PhoneNetwork.attach`) when the machine joins one.
        self.line: LineInterface | None = None
        self.modem: Modem | None = None
        # The 2nd G3 option board's line port and modem, when it is fitted (`hw.second_line`);
        # `option_changed` tells the firmware the board was fitted, renumbered or taken out.
        self.line2: LineInterface | None = None
        self.modem2: Modem | None = None
        self.option_changed: Listeners[[]] = Listeners()

    @property
    def powered(self) -> bool:
        return self.power.on

    @property
    def timers(self) -> TimerGroup:
        """The firmware's powered domain: a power cut cancels these timers."""
        return self.power.timers

    def power_on(self) -> None:
        self.power.switch(True)

    def power_off(self) -> None:
        self.power.switch(False)
