"""The edge that turns image files into originals for the feeder (`adf load PATH [PATH ...]`).

PNG, PBM/PGM/PPM, JPEG and TIFF (every page of a multi-page TIFF) at any resolution and size.
The physical size comes from the file's resolution when it has one (TIFF, PNG pHYs, JPEG JFIF);
a TIFF with a resolution but no unit gives the pixel aspect only. Without a resolution, the image
is taken to be as wide as the scan width, 216 mm, with square pixels. An original wider than the
feeder's 216 mm is taken as scaled down to that width (the file's resolution was wrong for paper).

A path that does not exist is the caller's error (`FileNotFoundError`). A file that exists but
gives no image (not an image, truncated, a decompression bomb, zero width or height) becomes a
sheet that carries the reason: the machine reports CHECK DOCUMENT for it and loses nothing else.

Before anything is decoded, every page is checked against the feeder's physical limits from the
file's header alone (`check_document`): a page longer than `MAX_LENGTH_MM` once its width is
fitted to the feeder's 216 mm, or a file of more pages than any feeder holds, is refused with
`DocumentRefused`, whose message names the limit (docs/scripts.md, Limits, says where they come
from). So a 1 x 80,000,000-pixel PNG costs a header read, not gigabytes; and at most one page is being
decoded at any time, each at most `MAX_PIXELS` pixels.
"""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from estudio190f.hw.document import MAX_WIDTH_MM, Sheet

MM_PER_INCH = 25.4
# Pillow's own decompression-bomb threshold (about 89 Mpixel): a Legal page at 1200 dpi is 81 M.
MAX_PIXELS = 89_478_485
# The largest feeder the settings allow holds 50 sheets (feeder.capacity): a file of more pages
# is refused before its pages are read.
MAX_PAGES_PER_FILE = 50
# The longest original the feeder takes: 600 mm. Not in our sources, a choice (docs/scripts.md,
# Limits): Legal is 356 mm; the rest is room for long originals, with a page's scan bounded.
MAX_LENGTH_MM = 600.0
# Resolutions outside this range are taken as missing (1 dpi, 1e6 dpi are not paper).
DPI_RANGE = (10.0, 10_000.0)


class DocumentRefused(ValueError):
    """A file the feeder cannot take: the message names the limit (one line)."""


def load_sheets(path: str | Path) -> list[Sheet]:
    """Every page of the file at `path` as a sheet, in order (checked first: `check_document`)."""
    path = Path(path)
    check_document(path)
    try:
        return _read(path)
    except Exception as exc:  # noqa: BLE001 - image decoders raise anything; the paper stays paper
        return [Sheet.unreadable(path.name, _reason(exc))]


def check_document(path: str | Path) -> int:
    """The number of sheets the file at `path` makes, from its header alone; `DocumentRefused`
    if the feeder cannot take it (`FileNotFoundError`, `IsADirectoryError` for no file)."""
    path = Path(path)
    mode = os.stat(path).st_mode  # FileNotFoundError for no such file
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"a directory, not a document: {path}")
    if not stat.S_ISREG(mode):
        raise DocumentRefused(f"{path.name} is not a regular file")
    pages = 0
    try:
        for name, cols, rows, info in _headers(path):
            pages += 1
            if pages > MAX_PAGES_PER_FILE:
                raise DocumentRefused(
                    f"{path.name} has more than {MAX_PAGES_PER_FILE} pages; the largest feeder "
                    f"holds {MAX_PAGES_PER_FILE} sheets"
                )
            if cols <= 0 or rows <= 0:
                continue  # no image: a sheet the machine reports (CHECK DOCUMENT)
            width, length = physical_size(info, cols, rows)
            if length > MAX_LENGTH_MM:
                raise DocumentRefused(
                    f"{name} is {_mm(length)} long at {_mm(width)} wide; the feeder takes "
                    f"originals up to {MAX_LENGTH_MM:.0f} mm long"
                )
    except DocumentRefused:
        raise
    except Exception:  # noqa: BLE001 - not an image, or broken: one sheet that reads as such
        return max(pages, 1)
    return max(pages, 1)


def _mm(value: float) -> str:
    return f"{value:,.0f} mm"


def _headers(path: Path) -> Iterator[tuple[str, int, int, dict]]:
    """(name, columns, rows, info) of each page, without decoding a pixel."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(path) as img:  # Pillow refuses a bomb of over 2 x MAX_PIXELS here
            index = 0
            while True:
                cols, rows = img.size
                yield f"{path.name}#{index + 1}" if index else path.name, cols, rows, img.info
                index += 1
                if index > MAX_PAGES_PER_FILE:
                    return
                try:
                    img.seek(index)
                except EOFError:
                    return


def _reason(exc: Exception) -> str:
    if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
        return "decompression bomb"
    if isinstance(exc, Image.UnidentifiedImageError):
        return "not an image"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"unreadable: {text}"[:80]


def _read(path: Path) -> list[Sheet]:
    sheets: list[Sheet] = []
    with warnings.catch_warnings():
        # Pillow warns before it refuses; a warning here is a bomb all the same. Its other
        # warnings (corrupt EXIF and the like) are about files that still give an image.
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as img:
            frames = getattr(img, "n_frames", 1)
            many = frames > 1
            for index in range(min(frames, MAX_PAGES_PER_FILE)):
                if index:
                    img.seek(index)
                name = f"{path.name}#{index + 1}" if many else path.name
                sheets.append(_sheet(img, name))
    return sheets


def _sheet(img: Image.Image, name: str) -> Sheet:
    cols, rows = img.size
    if cols <= 0 or rows <= 0:
        return Sheet.unreadable(name, "zero-size image")
    if cols * rows > MAX_PIXELS:
        return Sheet.unreadable(name, "decompression bomb")
    width_mm, length_mm = physical_size(img.info, cols, rows)
    if img.mode == "1":
        black = ~np.asarray(img, dtype=bool)
        return Sheet.from_pixels(black, width_mm, length_mm, name)
    grey = _grey(img)
    if ((grey == 0) | (grey == 255)).all():
        return Sheet.from_pixels(grey == 0, width_mm, length_mm, name)
    return Sheet.from_grey(grey, width_mm, length_mm, name)


def physical_size(info: dict, cols: int, rows: int) -> tuple[float, float]:
    """Width and length in mm from the file's resolution (see the module's rules)."""
    x_dpi, y_dpi = _pair(info.get("dpi"))
    if x_dpi and y_dpi:
        width = cols / x_dpi * MM_PER_INCH
        length = rows / y_dpi * MM_PER_INCH
    else:
        # No unit: a TIFF's bare resolution still gives the pixel's aspect (fax 204 x 98).
        x_res, y_res = _pair(info.get("resolution"))
        aspect = x_res / y_res if x_res and y_res else 1.0
        width = MAX_WIDTH_MM
        length = rows * aspect * MAX_WIDTH_MM / cols
    if width > MAX_WIDTH_MM:
        length *= MAX_WIDTH_MM / width
        width = MAX_WIDTH_MM
    return width, length


def _pair(value: object) -> tuple[float, float]:
    if not isinstance(value, tuple | list) or len(value) != 2:
        return 0.0, 0.0
    try:
        x, y = float(value[0]), float(value[1])
    except (TypeError, ValueError):
        return 0.0, 0.0
    lo, hi = DPI_RANGE
    if not (lo <= x <= hi and lo <= y <= hi):
        return 0.0, 0.0
    return x, y


def _grey(img: Image.Image) -> np.ndarray:
    """Grey levels 0 (black) .. 255 (white), transparency shown on white paper."""
    if img.format == "JPEG":
        img = ImageOps.exif_transpose(img) or img
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") else max(float(values.max()), 1.0)
        return np.clip(values * 255.0 / top + 0.5, 0, 255).astype(np.uint8)
    if mode == "P":
        img = img.convert("RGBA")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or img.mode == "RGBA":
        rgba = img.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(paper, rgba)
    return np.asarray(img.convert("L"), dtype=np.uint8)
