"""Files under --out (DESIGN.md 3.5): events.jsonl, printed/NNNN.png, received/*.tif.

Every file is written whole: to a temporary name in the same folder, then renamed, so a reader
sees a complete file or none.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import IO

from PIL import Image

from estudio190f.firmware.fax.receiving import ReceivedDocument
from estudio190f.firmware.fax.service import FaxService
from estudio190f.hw.board import Board
from estudio190f.hw.eventlog import Event, EventLog
from estudio190f.hw.printer import PrintedSheet


def write_whole(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def next_number(folder: Path, pattern: str) -> int:
    """The number after the highest that a file in `folder` carries (group 1 of `pattern`, which
    a whole file name matches): numbering goes on after what an earlier run left there."""
    highest = 0
    if folder.exists():
        rx = re.compile(pattern)
        for p in folder.iterdir():
            m = rx.fullmatch(p.name)
            if m:
                highest = max(highest, int(m.group(1)))
    return highest + 1


def received_name(number: int, remote: str) -> str:
    """A received document's file name: NNNN.tif, or NNNN-SENDER.tif with the sender's identity
    (its letters and digits, at most 20)."""
    tag = re.sub(r"[^A-Za-z0-9]+", "", remote)[:20]
    return f"{number:04d}{'-' + tag if tag else ''}.tif"


class EventFile:
    """An event log written as it happens to a JSON-lines file (`events.jsonl`), appended to."""

    def __init__(self, log: EventLog, path: Path) -> None:
        self.log = log
        self._file: IO[str] | None = open(path, "a", encoding="utf-8", buffering=1)
        log.listeners.add(self._write)

    def _write(self, event: Event) -> None:
        if self._file is not None:
            self._file.write(EventLog.to_json(event) + "\n")

    def close(self) -> None:
        self.log.listeners.discard(self._write)
        if self._file is not None:
            self._file.close()
            self._file = None


class OutputWriter:
    def __init__(self, out_dir: Path, board: Board) -> None:
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.board = board
        self.printed_dir = self.dir / "printed"
        self.received_dir = self.dir / "received"
        self._events = EventFile(board.log, self.dir / "events.jsonl")
        self._next_sheet = next_number(self.printed_dir, r"(\d{4,})\.png")
        self.last_printed: Path | None = None  # the PNG of the sheet delivered last
        self._next_doc = next_number(self.received_dir, r"(\d{4,})(?:-.*)?\.tif")
        board.printer.delivery_listeners.add(self._on_sheet)
        self._fax: FaxService | None = None

    def follow_fax(self, fax: FaxService) -> None:
        """Each received fax document, as one TIFF Class F file (DESIGN.md 3.5)."""
        self._fax = fax
        fax.documents.add(self._on_fax_document)

    def _on_fax_document(self, document: ReceivedDocument) -> None:
        self.save_received(document.tiff(), document.remote)

    def _on_sheet(self, sheet: PrintedSheet) -> None:
        self.save_printed(sheet.image())

    def save_printed(self, image: Image.Image) -> Path:
        """One delivered sheet as a PNG."""
        self.printed_dir.mkdir(parents=True, exist_ok=True)
        path = self.printed_dir / f"{self._next_sheet:04d}.png"
        self._next_sheet += 1
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        write_whole(path, buf.getvalue())
        self.last_printed = path
        return path

    def save_received(self, tiff: bytes, remote: str = "") -> Path:
        self.received_dir.mkdir(parents=True, exist_ok=True)
        path = self.received_dir / received_name(self._next_doc, remote)
        self._next_doc += 1
        write_whole(path, tiff)
        return path

    def numbering(self) -> tuple[int, int]:
        """The numbers the next printed sheet and received document get (a snapshot keeps them)."""
        return self._next_sheet, self._next_doc

    def continue_numbering(self, sheet: int, document: int) -> None:
        """Go on from a snapshot's numbers (never below what the folders hold already)."""
        self._next_sheet = max(self._next_sheet, sheet)
        self._next_doc = max(self._next_doc, document)

    def close(self) -> None:
        self._events.close()
        self.board.printer.delivery_listeners.discard(self._on_sheet)
        if self._fax is not None:
            self._fax.documents.discard(self._on_fax_document)
