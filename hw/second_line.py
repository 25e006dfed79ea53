"""The 2nd G3 option board: a second line port and modem on a machine, on the same phone network.

The service manual's firmware label table lists a "2nd G3" board (UF 8K G3B) with its own
firmware beside the main one: a second G3 fax port on its own line. `SecondLine.fit` plugs its
line port and modem into the network at their own number, exactly as `PhoneNetwork.attach` plugs
the main board's (so calls from anywhere the network reaches, outside routes included, reach it
by that number), into the board's option slot (`board.line2`, `board.modem2`). `remove` takes it
out again, ending a call on it. Either way the board tells the firmware (`board.option_changed`).

The line faults of DESIGN.md 3.2 are conditions of the machine's lines: with the board fitted,
`fault line.busy` (and the others) acts on both lines, as a fault of the machine's wiring would.
"""

from __future__ import annotations

import random
from functools import partial

from .board import Board
from .eventlog import EventLog
from .faults import FaultRegistry
from .line import LINE_FAULTS, LineInterface, PhoneNetwork
from .modem import Modem
from .power import PowerSupply


class _Slot:
    """The option slot as `PhoneNetwork.attach` sees a station: it gets the board's log and power,
    a random generator of its own (the main board's draws stay as they were) and a fault registry
    nobody reads (the board's own registry drives both lines, see `SecondLine`)."""

    def __init__(self, board: Board) -> None:
        # Seeded from the board's generator as it stands (which follows --seed), drawing nothing.
        self.random = random.Random(f"{board.name}/2nd G3/{board.random.getstate()[1][:4]}")
        self.log: EventLog = board.log
        self.faults = FaultRegistry(board.log)
        self.power: PowerSupply = board.power
        self.line: LineInterface | None = None
        self.modem: Modem | None = None


class SecondLine:
    """The 2nd G3 option of one machine: fitted at a number on the network, or not."""

    def __init__(self, board: Board, network: PhoneNetwork) -> None:
        self.board = board
        self.network = network

    @property
    def fitted(self) -> bool:
        return self.board.line2 is not None

    def fit(self, number: str) -> LineInterface:
        """Plug the board in at `number` (ValueError if the number is taken on the network)."""
        board = self.board
        if board.line2 is not None:
            self.renumber(number)
            return board.line2
        slot = _Slot(board)
        line = self.network.attach(slot, number)
        board.line2, board.modem2 = line, slot.modem
        for name in LINE_FAULTS:
            board.faults.register(name, partial(self.set_fault, name, True),
                                  partial(self.set_fault, name, False))  # fmt: skip
            if name in board.faults.active:
                line.set_fault(name, True)
        board.log.emit("line", "option_fitted", board="2nd G3", number=number)
        board.option_changed()
        return line

    def renumber(self, number: str) -> None:
        line = self.board.line2
        if line is not None and line.number != number:
            self.network.renumber(line, number)
            self.board.log.emit("line", "option_renumbered", board="2nd G3", number=number)
            self.board.option_changed()

    def remove(self) -> None:
        """Take the board out: a call on its line ends, its number leaves the network."""
        board = self.board
        line = board.line2
        if line is None:
            return
        line.cut()
        line.hang_up()
        board.power.changed.discard(line.power_changed)
        if self.network.lines.get(line.number) is line:
            del self.network.lines[line.number]
        board.line2 = board.modem2 = None
        main = board.line
        if main is not None:
            for name in LINE_FAULTS:
                board.faults.register(name, partial(main.set_fault, name, True),
                                      partial(main.set_fault, name, False))  # fmt: skip
        board.log.emit("line", "option_removed", board="2nd G3")
        board.option_changed()

    def set_fault(self, name: str, on: bool) -> None:
        """A line fault of the machine: on both of its lines."""
        for line in (self.board.line, self.board.line2):
            if line is not None:
                line.set_fault(name, on)
