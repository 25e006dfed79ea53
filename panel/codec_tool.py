"""`estudio190f codec encode|decode`: the machine's T.4/T.6 codec as a command-line tool.

    estudio190f codec encode [--coding mh|mr|mmr] [--k 2|4] [--msb-first] [--align-eol]
                             [--resolution standard|fine|superfine] IN OUT
    estudio190f codec decode [--coding mh|mr|mmr] [--width 1728] [--msb-first] IN OUT

Images are PBM, PNG or TIFF; `.tif`/`.tiff` means TIFF Class F (written as profile S when MH);
raw streams (`.g3`, `.t4`: MH or MR; `.g4`, `.t6`: MMR) are in line order, least significant bit
first, as fax2tiff reads them by default (`--msb-first` for the other order). A raw stream holds
one page, ended by RTC (MH/MR) or EOFB (MMR). Encoding codes the pixels as they are, without
resampling: an image whose width is not 1728, 2048 or 2432 pels is refused. Errors go to
standard error with exit status 2; `decode` prints what it found (lines, bad lines, the end of
page) on standard output.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from estudio190f.firmware.codec import WIDTHS, CodecError, decode, encode
from estudio190f.firmware.page import X_DPI, Page, nearest_resolution
from estudio190f.firmware.tiff_f import read_tiff_f, write_tiff_f

RAW_MH_MR = (".g3", ".t4")
RAW_MMR = (".g4", ".t6")
TIFF = (".tif", ".tiff")
IMAGES = (".pbm", ".png", *TIFF)
MAX_PAGES = 1000


class ToolError(Exception):
    """What the user did wrong, said in a line (exit status 2)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="codec_action", metavar="ACTION")
    actions.required = True
    enc = actions.add_parser("encode", help="code an image as MH, MR or MMR")
    enc.add_argument(
        "--coding", choices=("mh", "mr", "mmr"), help="default: mmr for .g4/.t6, else mh"
    )
    enc.add_argument(
        "--k",
        type=int,
        choices=(2, 4),
        default=None,
        help="MR: one 1-D line, then k-1 2-D lines (default 2; TIFF: by resolution)",
    )
    enc.add_argument("--msb-first", action="store_true", help="raw OUT: first bit = MSB")
    enc.add_argument("--align-eol", action="store_true", help="byte-align every EOL (MH, MR)")
    enc.add_argument(
        "--resolution",
        choices=("standard", "fine", "superfine"),
        help="vertical resolution (default: from IN, else guessed from its length)",
    )
    enc.add_argument("input", type=Path, metavar="IN", help="PBM, PNG or TIFF image")
    enc.add_argument("output", type=Path, metavar="OUT", help=".g3/.t4/.g4/.t6 stream or .tif")
    dec = actions.add_parser("decode", help="decode a raw stream or a fax TIFF to an image")
    dec.add_argument(
        "--coding", choices=("mh", "mr", "mmr"), help="raw IN: default mmr for .g4/.t6, else mh"
    )
    dec.add_argument("--width", type=int, default=1728, help="raw IN: pels per line (1728)")
    dec.add_argument("--msb-first", action="store_true", help="raw IN: first bit = MSB")
    dec.add_argument("input", type=Path, metavar="IN", help=".g3/.t4/.g4/.t6 stream or .tif")
    dec.add_argument("output", type=Path, metavar="OUT", help="PBM, PNG or TIFF image")


def run(args: argparse.Namespace) -> int:
    try:
        if args.codec_action == "encode":
            return _encode(args)
        return _decode(args)
    except (ToolError, CodecError) as exc:
        print(f"estudio190f codec {args.codec_action}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"estudio190f codec {args.codec_action}: {exc.strerror or exc}: "
            f"{exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return 2


def _suffix(path: Path, allowed: Sequence[str], role: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise ToolError(f"{role} {path}: the name must end in {', '.join(allowed)}")
    return suffix


def _default_coding(suffix: str, coding: str | None) -> str:
    if coding:
        return coding
    return "mmr" if suffix in RAW_MMR else "mh"


# -- encode ------------------------------------------------------------------------------------


def _encode(args: argparse.Namespace) -> int:
    out_suffix = _suffix(args.output, RAW_MH_MR + RAW_MMR + TIFF, "OUT")
    _suffix(args.input, IMAGES, "IN")
    pages = _read_image(args.input, args.resolution)
    for number, page in enumerate(pages, start=1):
        if page.width not in WIDTHS:
            raise ToolError(
                f"{args.input}: page {number} is {page.width} pels wide; the codec takes "
                f"{', '.join(map(str, WIDTHS))} (it does not resample)"
            )
    coding = _default_coding(out_suffix, args.coding)
    if out_suffix in TIFF:
        data = write_tiff_f(pages, coding, align_eol=args.align_eol, k=args.k)
    else:
        if len(pages) != 1:
            raise ToolError(
                f"{args.input} has {len(pages)} pages; a raw stream holds one "
                "(write a .tif instead)"
            )
        data = encode(
            pages[0].pixels,
            coding,
            k=args.k or 2,
            align_eol=args.align_eol,
            msb_first=args.msb_first,
        )
    _write_whole(args.output, data)
    return 0


def _guess_resolution(lines: int) -> str:
    # No resolution in the file: take the likeliest for a page of this many lines (Letter/A4/
    # Legal are 1075-1365 lines standard, 2150-2730 fine, 4300-5460 superfine).
    if lines <= 1500:
        return "standard"
    return "fine" if lines <= 3500 else "superfine"


def _resolution(y_dpi: float | None, lines: int, forced: str | None) -> str:
    if forced:
        return forced
    if y_dpi and y_dpi > 0:
        return nearest_resolution(y_dpi)
    return _guess_resolution(lines)


def _read_image(path: Path, forced: str | None) -> list[Page]:
    data = path.read_bytes()
    if path.suffix.lower() in TIFF:
        try:
            pages = read_tiff_f(data)
        except CodecError:
            pass  # not a bilevel TIFF: let Pillow read it (and threshold it)
        else:
            if forced:
                pages = [Page(p.pixels, forced) for p in pages]
            return pages
    try:
        image = Image.open(path)
        pages = []
        for index in range(min(getattr(image, "n_frames", 1), MAX_PAGES)):
            image.seek(index)
            pages.append(_page_from_image(image, forced))
        return pages
    except (UnidentifiedImageError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise ToolError(f"{path}: not a readable image ({exc})") from None


def _page_from_image(image: Image.Image, forced: str | None) -> Page:
    if image.mode == "1":
        black = ~np.asarray(image, dtype=bool)
    else:
        # A threshold, not Pillow's dithering convert("1"): the pixels are coded as they are.
        black = np.asarray(image.convert("L")) < 128
    dpi = image.info.get("dpi")
    y_dpi = float(dpi[1]) if dpi and len(dpi) > 1 else None
    return Page(np.ascontiguousarray(black), _resolution(y_dpi, black.shape[0], forced))


# -- decode ------------------------------------------------------------------------------------


def _decode(args: argparse.Namespace) -> int:
    in_suffix = _suffix(args.input, RAW_MH_MR + RAW_MMR + TIFF, "IN")
    out_suffix = _suffix(args.output, IMAGES, "OUT")
    data = args.input.read_bytes()
    if in_suffix in TIFF:
        pages = read_tiff_f(data)
        for number, page in enumerate(pages, start=1):
            print(f"page {number}: {page.lines} lines, {page.width} pels, {page.resolution}")
    else:
        coding = _default_coding(in_suffix, args.coding)
        result = decode(data, coding, width=args.width, msb_first=args.msb_first)
        end = "end of page seen" if result.rtc_seen else "no end of page (RTC/EOFB) seen"
        print(
            f"{result.lines} lines, {result.bad_lines} bad, longest bad run "
            f"{result.longest_bad_run}, {end}"
        )
        if result.lines == 0:
            raise ToolError(
                f"{args.input}: no {coding.upper()} coded lines found "
                f"(width {args.width}, {'MSB' if args.msb_first else 'LSB'} first)"
            )
        pages = [Page(result.pixels, _guess_resolution(result.lines))]
    if out_suffix in TIFF:
        for page in pages:
            if page.width not in WIDTHS:
                raise ToolError(
                    f"a TIFF Class F page is 1728, 2048 or 2432 pels wide, "
                    f"not {page.width}: write a .png or .pbm"
                )
        _write_whole(args.output, write_tiff_f(pages, "mh"))
        return 0
    if len(pages) != 1:
        raise ToolError(
            f"{args.input} has {len(pages)} pages; {out_suffix} holds one (write a .tif instead)"
        )
    page = pages[0]
    image = Image.fromarray(~page.pixels)  # mode "1": True = white
    fmt = "PNG" if out_suffix == ".png" else "PPM"
    options = {"dpi": (X_DPI, page.y_dpi)} if fmt == "PNG" else {}
    rendered = io.BytesIO()
    image.save(rendered, format=fmt, **options)
    _write_whole(args.output, rendered.getvalue())
    return 0


def _write_whole(path: Path, data: bytes) -> None:
    """Write so that OUT appears complete or not at all."""
    temporary = path.with_name(path.name + ".part")
    temporary.write_bytes(data)
    temporary.replace(path)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m estudio190f.panel.codec_tool encode|decode ...` (the same as
    `estudio190f codec ...`)."""
    parser = argparse.ArgumentParser(prog="estudio190f codec")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
