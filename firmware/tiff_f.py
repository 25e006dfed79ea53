"""TIFF Class F files: fax pages written as TIFF-F (RFC 3949 profile S by default) and read back,
along with any Group 3 / Group 4 TIFF that libtiff makes.

Written files are little-endian, one IFD per page in page order, each IFD followed by its values
and its single strip, so a reader can stream the file. Profile S (the minimal set the machine's
Internet-fax chapter asks for): MH, 1728 pels, 204 x 98 or 204 x 196 dpi. `coding="mr"` or
`"mmr"` give profile F files (T4Options bit 0, or Compression 4). The strips are coded the way
libtiff codes them (an EOL before each line, no RTC; MMR ends with EOFB), FillOrder 2 (line
order, as fax data arrives), Photometric 0 (0 = white, as in T.4).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from estudio190f.firmware import codec
from estudio190f.firmware.codec import CodecError
from estudio190f.firmware.page import X_DPI, Y_DPI, Page, nearest_resolution

# Tag numbers (TIFF 6.0, TIFF-F).
NEW_SUBFILE_TYPE = 254
IMAGE_WIDTH = 256
IMAGE_LENGTH = 257
BITS_PER_SAMPLE = 258
COMPRESSION = 259
PHOTOMETRIC = 262
FILL_ORDER = 266
STRIP_OFFSETS = 273
SAMPLES_PER_PIXEL = 277
ROWS_PER_STRIP = 278
STRIP_BYTE_COUNTS = 279
X_RESOLUTION = 282
Y_RESOLUTION = 283
T4_OPTIONS = 292
T6_OPTIONS = 293
RESOLUTION_UNIT = 296
PAGE_NUMBER = 297
SOFTWARE = 305
TILE_WIDTH = 322
BAD_FAX_LINES = 326
CLEAN_FAX_DATA = 327
CONSECUTIVE_BAD_FAX_LINES = 328

SHORT, LONG, RATIONAL, ASCII = 3, 4, 5, 2
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}

COMPRESSION_NONE, COMPRESSION_RLE, COMPRESSION_G3, COMPRESSION_G4 = 1, 2, 3, 4
T4_2D = 1  # T4Options bit 0: MR
T4_FILL = 4  # T4Options bit 2: EOLs byte-aligned
MAX_PAGES = 10_000
SOFTWARE_NAME = "estudio190f"


def _mr_k(resolution: str) -> int:
    # libtiff's choice (K = 4 above 150 lines/inch, else 2); T.4 allows 2 / 4 for these densities.
    return 4 if Y_DPI[resolution] > 150 else 2


def _strip(page: Page, coding: str, align_eol: bool, k: int | None) -> tuple[bytes, int, int]:
    """(strip bytes, Compression, T4Options or T6Options) for one page."""
    if coding == "mmr":
        return codec.encode(page.pixels, "mmr", rtc=True), COMPRESSION_G4, 0
    options = (T4_2D if coding == "mr" else 0) | (T4_FILL if align_eol else 0)
    data = codec.encode(
        page.pixels, coding, k=k or _mr_k(page.resolution), rtc=False, align_eol=align_eol
    )
    return data, COMPRESSION_G3, options


def write_tiff_f(
    pages: list[Page],
    coding: str = "mh",
    *,
    align_eol: bool = False,
    k: int | None = None,
    line_errors: Sequence[tuple[int, int]] | None = None,
    software: str = SOFTWARE_NAME,
) -> bytes:
    """A TIFF-F file of `pages`. MR uses `k`, or by default libtiff's K for the page's
    resolution (2 standard, 4 fine and superfine). `line_errors`, one (bad lines, longest run of bad lines) per
    page, adds the TIFF-F received-fax tags BadFaxLines, CleanFaxData (1: regenerated, since bad
    lines were concealed) and ConsecutiveBadFaxLines."""
    coding = coding.lower() if isinstance(coding, str) else coding
    if coding not in ("mh", "mr", "mmr"):
        raise CodecError(f"coding must be mh, mr or mmr, not {coding!r}")
    if not pages:
        raise CodecError("a TIFF file needs at least one page")
    if line_errors is not None and len(line_errors) != len(pages):
        raise CodecError("line_errors needs one entry per page")
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    link_at = 4  # where the offset of the next IFD goes
    for number, page in enumerate(pages):
        if page.resolution not in Y_DPI:
            raise CodecError(f"unknown resolution {page.resolution!r}")
        strip, compression, options = _strip(page, coding, align_eol, k)
        entries: list[tuple[int, int, list[int] | bytes]] = [
            (NEW_SUBFILE_TYPE, LONG, [2]),  # one page of a multi-page document
            (IMAGE_WIDTH, LONG, [page.width]),
            (IMAGE_LENGTH, LONG, [page.lines]),
            (BITS_PER_SAMPLE, SHORT, [1]),
            (COMPRESSION, SHORT, [compression]),
            (PHOTOMETRIC, SHORT, [0]),
            (FILL_ORDER, SHORT, [2]),
            (STRIP_OFFSETS, LONG, [0]),  # patched below
            (SAMPLES_PER_PIXEL, SHORT, [1]),
            (ROWS_PER_STRIP, LONG, [page.lines]),
            (STRIP_BYTE_COUNTS, LONG, [len(strip)]),
            (X_RESOLUTION, RATIONAL, [X_DPI, 1]),
            (Y_RESOLUTION, RATIONAL, [page.y_dpi, 1]),
            (T6_OPTIONS if compression == COMPRESSION_G4 else T4_OPTIONS, LONG, [options]),
            (RESOLUTION_UNIT, SHORT, [2]),
            (PAGE_NUMBER, SHORT, [number, len(pages)]),
        ]
        if software:
            entries.append((SOFTWARE, ASCII, software.encode("ascii", "replace") + b"\x00"))
        if line_errors is not None:
            bad, longest = line_errors[number]
            entries += [
                (BAD_FAX_LINES, LONG, [bad]),
                (CLEAN_FAX_DATA, SHORT, [1 if bad else 0]),
                (CONSECUTIVE_BAD_FAX_LINES, LONG, [longest]),
            ]
        entries.sort(key=lambda e: e[0])
        if len(out) % 2:
            out.append(0)
        ifd_at = len(out)
        struct.pack_into("<I", out, link_at, ifd_at)
        values_at = ifd_at + 2 + 12 * len(entries) + 4
        ifd = bytearray(struct.pack("<H", len(entries)))
        values = bytearray()
        strip_offset_field = 0
        for tag, kind, value in entries:
            raw = _pack_value(kind, value)
            count = len(value) // 2 if kind == RATIONAL else len(value)
            if len(raw) <= 4:
                field = raw.ljust(4, b"\x00")
            else:
                if (values_at + len(values)) % 2:
                    values.append(0)
                field = struct.pack("<I", values_at + len(values))
                values += raw
            if tag == STRIP_OFFSETS:
                strip_offset_field = ifd_at + len(ifd) + 8
            ifd += struct.pack("<HHI", tag, kind, count) + field
        link_at = ifd_at + len(ifd)
        ifd += b"\x00\x00\x00\x00"  # no next IFD (yet)
        out += ifd + values
        if len(out) % 2:
            out.append(0)
        struct.pack_into("<I", out, strip_offset_field, len(out))
        out += strip
    return bytes(out)


def _pack_value(kind: int, value: list[int] | bytes) -> bytes:
    if kind == ASCII:
        return bytes(value)
    fmt = {SHORT: "H", LONG: "I", RATIONAL: "I"}[kind]
    return struct.pack(f"<{len(value)}{fmt}", *value)


Tags = dict[int, list[float]]  # values of a directory's fields (rationals as floats)


def _int(tags: Tags, tag: int, default: int) -> int:
    values = tags.get(tag)
    return int(values[0]) if values else default


class _TiffReader:
    """Just enough of TIFF 6.0 to find bilevel pages and their strips, refusing what it does not
    understand with a CodecError rather than guessing."""

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        if len(self.data) < 8 or self.data[:2] not in (b"II", b"MM"):
            raise CodecError("not a TIFF file")
        self.order = "<" if self.data[:2] == b"II" else ">"
        magic = self._unpack("H", 2)[0]
        if magic == 43:
            raise CodecError("BigTIFF files are not supported")
        if magic != 42:
            raise CodecError("not a TIFF file")

    def _unpack(self, fmt: str, at: int) -> tuple[int, ...]:
        size = struct.calcsize(self.order + fmt)
        if at < 0 or at + size > len(self.data):
            raise CodecError("TIFF file is truncated or has a bad offset")
        return struct.unpack_from(self.order + fmt, self.data, at)

    def directories(self) -> list[Tags]:
        offset = self._unpack("I", 4)[0]
        seen: set[int] = set()
        directories: list[Tags] = []
        while offset:
            if offset in seen or len(directories) >= MAX_PAGES:
                raise CodecError("TIFF file has a loop in its directory chain")
            seen.add(offset)
            count = self._unpack("H", offset)[0]
            tags: Tags = {}
            for i in range(count):
                tag, kind, n = self._unpack("HHI", offset + 2 + 12 * i)
                tags[tag] = self._values(kind, n, offset + 2 + 12 * i + 8)
            directories.append(tags)
            offset = self._unpack("I", offset + 2 + 12 * count)[0]
        return directories

    def _values(self, kind: int, n: int, field_at: int) -> list[float]:
        size = _TYPE_SIZES.get(kind, 0)
        if size == 0 or size * n > len(self.data):
            return []  # a type we do not read, or a count no file of this size can hold
        at = field_at if size * n <= 4 else self._unpack("I", field_at)[0]
        if kind in (SHORT, 8):
            return list(self._unpack(f"{n}{'H' if kind == SHORT else 'h'}", at))
        if kind in (LONG, 9):
            return list(self._unpack(f"{n}{'I' if kind == LONG else 'i'}", at))
        if kind in (RATIONAL, 10):
            pairs = self._unpack(f"{2 * n}{'I' if kind == RATIONAL else 'i'}", at)
            return [pairs[i] / pairs[i + 1] if pairs[i + 1] else 0.0 for i in range(0, 2 * n, 2)]
        if kind in (1, 2, 6, 7):
            return list(self._unpack(f"{n}B", at))
        return []  # floats: nothing a fax page needs

    def strip(self, offset: int, count: int) -> bytes:
        if offset + count > len(self.data):
            raise CodecError("TIFF strip runs past the end of the file")
        return self.data[offset : offset + count]


def _resolution_name(tags: Tags) -> str:
    values = tags.get(Y_RESOLUTION)
    y = values[0] if values else 0.0
    if _int(tags, RESOLUTION_UNIT, 2) == 3:  # per centimetre
        y *= 2.54
    if y <= 0:
        return "standard"
    return nearest_resolution(y)


def _decode_strip(strip: bytes, tags: Tags, width: int, rows: int) -> np.ndarray:
    """The strip's lines, True = a black code run (or a 1 sample when uncompressed)."""
    compression = _int(tags, COMPRESSION, COMPRESSION_NONE)
    msb_first = _int(tags, FILL_ORDER, 1) != 2
    if compression == COMPRESSION_NONE:
        row_bytes = (width + 7) // 8
        raw = np.frombuffer(strip[: row_bytes * rows].ljust(row_bytes * rows, b"\x00"), np.uint8)
        bits = np.unpackbits(
            raw.reshape(rows, row_bytes), axis=1, bitorder="big" if msb_first else "little"
        )[:, :width]
        return bits.astype(bool)
    if compression == COMPRESSION_G3:
        coding = "mr" if _int(tags, T4_OPTIONS, 0) & T4_2D else "mh"
        result = codec.decode(strip, coding, width=width, msb_first=msb_first, max_lines=rows)
    elif compression == COMPRESSION_G4:
        result = codec.decode(strip, "mmr", width=width, msb_first=msb_first, max_lines=rows)
    elif compression == COMPRESSION_RLE:
        result = codec.decode(
            strip,
            "mh",
            width=width,
            msb_first=msb_first,
            max_lines=rows,
            eol=False,
            align_rows=True,
        )
    else:
        raise CodecError(f"TIFF compression {compression} is not a fax coding")
    pixels = result.pixels
    if pixels.shape[0] < rows:  # a short strip: the missing lines are white, as in libtiff
        pixels = np.vstack([pixels, np.zeros((rows - pixels.shape[0], width), dtype=bool)])
    return pixels


def read_tiff_f(data: bytes) -> list[Page]:
    """The pages of a TIFF-F file (or of any bilevel TIFF in strips with Compression 1, 2, 3 or
    4), True = black whatever the file's Photometric says. Reduced-resolution images (thumbnails)
    are skipped."""
    reader = _TiffReader(data)
    pages = []
    for tags in reader.directories():
        if _int(tags, NEW_SUBFILE_TYPE, 0) & 1:
            continue
        if TILE_WIDTH in tags:
            raise CodecError("tiled TIFF files are not supported")
        if _int(tags, BITS_PER_SAMPLE, 1) != 1 or _int(tags, SAMPLES_PER_PIXEL, 1) != 1:
            raise CodecError("not a bilevel image (BitsPerSample and SamplesPerPixel must be 1)")
        width = _int(tags, IMAGE_WIDTH, 0)
        length = _int(tags, IMAGE_LENGTH, -1)
        offsets = [int(v) for v in tags.get(STRIP_OFFSETS, [])]
        counts = [int(v) for v in tags.get(STRIP_BYTE_COUNTS, [])]
        if not 0 < width < 1 << 16 or not 0 <= length < 1 << 20:
            raise CodecError("TIFF page lacks its size, or has an impossible one")
        if not offsets or len(offsets) != len(counts):
            raise CodecError("TIFF page lacks its strips")
        rows_per_strip = min(_int(tags, ROWS_PER_STRIP, length) or length, length) or 1
        strips = []
        for i, (offset, count) in enumerate(zip(offsets, counts, strict=True)):
            rows = min(rows_per_strip, length - i * rows_per_strip)
            if rows <= 0:
                break
            strips.append(_decode_strip(reader.strip(offset, count), tags, width, rows))
        pixels = np.vstack(strips) if strips else np.zeros((0, width), dtype=bool)
        if pixels.shape[0] < length:
            pixels = np.vstack([pixels, np.zeros((length - pixels.shape[0], width), bool)])
        # Decoded fax runs and uncompressed samples alike: 1 is black only when min-is-white.
        if _int(tags, PHOTOMETRIC, 0) == 1:
            pixels = ~pixels
        pages.append(Page(np.ascontiguousarray(pixels), _resolution_name(tags)))
    if not pages:
        raise CodecError("TIFF file has no pages")
    return pages
