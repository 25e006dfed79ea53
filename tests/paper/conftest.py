"""A paper-handling rig: one board with the feeder, CIS and printer models, and the firmware's
paper objects on it, driven in virtual time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import need_testdata  # tests/conftest.py (tests/ is on sys.path)
from PIL import Image

from estudio190f.firmware.copy import CopyJob, CopyResult
from estudio190f.firmware.paper import PaperHandling
from estudio190f.firmware.settings import Settings
from estudio190f.hw.board import Board
from estudio190f.hw.clock import SECOND, Clock
from estudio190f.hw.printer import WARM_UP
from estudio190f.panel.documents import load_sheets


class View:
    """Stands in for the firmware's JobHandle: keeps every LCD text the job showed."""

    def __init__(self, board: Board) -> None:
        self.lcd = board.panel.lcd
        self.shown: list[tuple[str, str]] = []
        self.states: list[str] = []
        self.finished: tuple[str, str] | None = None

    def show(self, line1: str, line2: str = "") -> None:
        self.shown.append((line1, line2))
        self.lcd.show(line1, line2)

    def set_state(self, substate: str) -> None:
        self.states.append(substate)

    def finish(self, line1: str = "", line2: str = "") -> None:
        self.finished = (line1, line2)
        self.lcd.show(line1, line2)

    def saw(self, word: str) -> bool:
        return any(word in a or word in b for a, b in self.shown)


class Rig:
    def __init__(self, state_dir: Path | None = None, clock: Clock | None = None,
                 paper_size: str = "a4", warm: bool = True) -> None:  # fmt: skip
        self.clock = clock or Clock()
        self.board = Board(self.clock, state_dir=state_dir)
        self.feeder = self.board.feeder
        self.cis = self.board.scanner
        self.engine = self.board.printer
        self.board.power_on()
        self.settings = Settings(self.board.nvram)
        self.settings.set("paper.size", paper_size)
        self.paper = PaperHandling(self.board, self.settings)
        self.alerts: list[tuple[str, str | None]] = []
        self.paper.scan.alert_listeners.add(lambda s, w: self.alerts.append((s, w)))
        self.paper.printer.alert_listeners.add(lambda s, w: self.alerts.append((s, w)))
        if warm:
            self.run(WARM_UP)

    def run(self, ticks: int, until: Callable[[], bool] | None = None) -> bool:
        return self.clock.advance(ticks, stop=until)

    def load(self, *paths: Path) -> None:
        for path in paths:
            self.feeder.load(load_sheets(path))

    def copy_job(self) -> tuple[CopyJob, list[CopyResult]]:
        results: list[CopyResult] = []
        job = CopyJob(self.paper, self.settings, on_result=results.append)
        return job, results

    def copy(self, copies: int = 1, resolution: str = "fine", contrast: str = "normal",
             limit: int = 3600 * SECOND) -> CopyResult:  # fmt: skip
        job, results = self.copy_job()
        job.start(View(self.board), copies, resolution, contrast)
        self.run(limit, until=lambda: bool(results))
        assert results, f"copy did not finish; lcd {self.board.panel.lcd.lines}"
        return results[0]

    def alert_words(self) -> list[str]:
        return [w for _, w in self.alerts if w]

    def printed_meta(self) -> list[tuple[int, int, int]]:
        """(copy, page, part) of every sheet in the output tray, in order."""
        return [(s.meta["copy"], s.meta["page"], s.meta["part"]) for s in self.engine.tray]


@pytest.fixture
def rig() -> Rig:
    return Rig()


@pytest.fixture
def chart() -> Callable[[int], Path]:
    def path(n: int) -> Path:
        return need_testdata("ccitt", f"itu{n}.pbm")

    return path


def save_png(path: Path, black: np.ndarray, dpi: tuple[float, float] | None = None) -> Path:
    img = Image.fromarray(~black)
    if dpi:
        img.save(path, dpi=dpi)
    else:
        img.save(path)
    return path


def numbered_page(n: int, cols: int = 1728, rows: int = 2200) -> np.ndarray:
    """A page that says which it is: n thick bars at the top, a frame around the edge."""
    black = np.zeros((rows, cols), dtype=bool)
    for i in range(n):
        black[100 : 100 + 400, 200 + i * 120 : 260 + i * 120] = True
    black[:16], black[-16:], black[:, :16], black[:, -16:] = True, True, True, True
    return black


def bars_counted(pixels: np.ndarray) -> int:
    """How many bars `numbered_page` drew, read back from a printed sheet."""
    band = pixels[: pixels.shape[0] // 3, 120:-120]
    column_dark = band[:, :].sum(axis=0) > 100
    edges = np.diff(column_dark.astype(np.int8))
    return int((edges == 1).sum())
