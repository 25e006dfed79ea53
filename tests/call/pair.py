"""Two stations back to back on one virtual line and one clock (like h11's ConnectionPair).

`StationPair` builds two boards on one `PhoneNetwork`: station A (5551234) dials, station B
(5559876) answers after two rings. `LineTester` stands on a third line with a bare modem and plays
one side of a call by hand, the way a TSB85 script does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from conftest import need_testdata  # tests/conftest.py (tests/ is on sys.path)
from PIL import Image

from estudio190f.firmware.fax_call import CallResult, FaxCall, PageStore
from estudio190f.firmware.page import Page
from estudio190f.firmware.t30.frames import BY_NAME, parse_frame
from estudio190f.firmware.t30.session import StationConfig
from estudio190f.hw.board import Board
from estudio190f.hw.clock import SECOND, Clock
from estudio190f.hw.line import LineEvent, PhoneNetwork
from estudio190f.hw.modem import Modem, ModemEvent

CALLER = "5551234"
ANSWERER = "5559876"
TESTER = "5550199"
LIMIT = 20 * 60 * SECOND


def chart(n: int) -> np.ndarray:
    """ITU chart n (1728 x 2376, scanned at fine resolution), True = black."""
    with Image.open(need_testdata("ccitt", f"itu{n}.pbm")) as image:
        return ~np.asarray(image, dtype=bool)


def chart_page(n: int, resolution: str = "fine") -> Page:
    """The chart as a page scanned at `resolution` (standard: every other line; superfine: each
    line twice), so every resolution sends the same drawing with its own line count."""
    pixels = chart(n)
    if resolution == "standard":
        pixels = pixels[::2]
    elif resolution == "superfine":
        pixels = np.repeat(pixels, 2, axis=0)
    return Page(np.ascontiguousarray(pixels), resolution)


def text_page(lines: int = 400, seed: int = 1) -> Page:
    """A small busy page (random black bars), quick to send."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((lines, 1728), dtype=bool)
    for row in range(0, lines, 3):
        for start in rng.integers(0, 1700, size=12):
            pixels[row : row + 2, start : start + int(rng.integers(2, 28))] = True
    return Page(pixels, "fine")


class StationPair:
    def __init__(
        self,
        seed: int = 0,
        *,
        caller: StationConfig | None = None,
        answerer: StationConfig | None = None,
        rings: int = 2,
        answer: bool = True,
        store: PageStore | None = None,
    ) -> None:
        self.clock = Clock()
        self.network = PhoneNetwork(self.clock)
        self.a = Board(self.clock, "a", seed=seed)
        self.b = Board(self.clock, "b", seed=seed)
        for board in (self.a, self.b):
            board.power_on()
        self.network.attach(self.a, CALLER)
        self.network.attach(self.b, ANSWERER)
        self.caller_config = caller or StationConfig(ident=CALLER)
        self.answerer_config = answerer or StationConfig(ident=ANSWERER)
        self.store = store or PageStore()
        self.rings = rings
        self.tx_call: FaxCall | None = None
        self.rx_call: FaxCall | None = None
        self.polling_document: list[Page] = []
        if answer:
            self.b.line.listeners.add(self._auto_answer)

    def _auto_answer(self, event: LineEvent) -> None:
        if event.kind == "ring_off" and event.n == self.rings and self.rx_call is None:
            self.rx_call = FaxCall.answer(
                self.b,
                self.answerer_config,
                sink=self.store,
                polling_document=self.polling_document,
            )

    # -- running -----------------------------------------------------------------------------------
    def send(
        self, pages: list[Page], *, number: str = ANSWERER, limit: int = LIMIT, **kw: Any
    ) -> CallResult:
        self.tx_call = FaxCall.dial(self.a, number, pages, self.caller_config, **kw)
        self.run(limit)
        assert self.tx_call.result is not None, f"the call did not end in {limit / SECOND} s"
        return self.tx_call.result

    def run(self, limit: int = LIMIT, until: Callable[[], bool] | None = None) -> None:
        stop = until or self.finished
        self.clock.advance(limit, stop=stop)

    def finished(self) -> bool:
        tx_done = self.tx_call is None or self.tx_call.done
        rx_done = self.rx_call is None or self.rx_call.done
        return tx_done and rx_done

    @property
    def tx(self) -> CallResult:
        assert self.tx_call is not None and self.tx_call.result is not None
        return self.tx_call.result

    @property
    def rx(self) -> CallResult:
        assert self.rx_call is not None and self.rx_call.result is not None
        return self.rx_call.result

    # -- what happened -----------------------------------------------------------------------------
    @staticmethod
    def frames(board: Board, direction: str) -> list[str]:
        """Names of the V.21 frames a station sent ("send") or received ("recv"), in order."""
        return [e["frame"] for e in board.log.events if e["src"] == "t30" and e["ev"] == direction]

    @staticmethod
    def events(board: Board, src: str, kind: str) -> list[dict[str, Any]]:
        return [e for e in board.log.events if e["src"] == src and e["ev"] == kind]

    @staticmethod
    def at(event: dict[str, Any]) -> float:
        return float(event["t"])


class LineTester:
    """A bare modem on its own line: plays one side of a call frame by frame, records the rest."""

    def __init__(self, pair: StationPair, number: str = TESTER) -> None:
        self.clock = pair.clock
        self.line = pair.network.add_line(number)
        self.modem = Modem(self.clock)
        self.line.attach_modem(self.modem)
        self.heard: list[tuple[float, ModemEvent]] = []
        self.line_events: list[tuple[float, str]] = []
        self.modem.listeners.add(lambda e: self.heard.append((self.clock.now / SECOND, e)))
        self.line.listeners.add(
            lambda e: self.line_events.append((self.clock.now / SECOND, e.kind))
        )

    def frames_heard(self) -> list[tuple[float, str, bool]]:
        """(time, frame name, FCS good) of every frame heard."""
        out = []
        for t, event in self.heard:
            frame = getattr(event, "frame", None)
            if frame is not None:
                parsed = parse_frame(frame)
                out.append((t, parsed.name, bool(getattr(event, "crc_ok", True))))
        return out

    def names(self) -> list[str]:
        return [name for _, name, _ in self.frames_heard()]

    @staticmethod
    def frame(name: str, fif: bytes = b"", final: bool = True) -> bytes:
        kind = BY_NAME[name]
        return bytes((0xFF, 0x13 if final else 0x03, kind.fcf)) + fif


def answer_after(tester: LineTester, rings: int = 1) -> None:
    """Make the tester's line go off hook when it has rung `rings` times."""

    def on_line(event: LineEvent) -> None:
        if event.kind == "ring_off" and event.n == rings:
            tester.line.go_off_hook()

    tester.line.listeners.add(on_line)


def on_frames(tester: LineTester, handler: Callable[[str, bytes], None]) -> None:
    """Call `handler(name, frame)` for every good frame the tester hears."""
    from estudio190f.hw.modem import FrameReceived

    def on_event(event: ModemEvent) -> None:
        if isinstance(event, FrameReceived) and event.crc_ok:
            handler(parse_frame(event.frame).name, event.frame)

    tester.modem.listeners.add(on_event)
