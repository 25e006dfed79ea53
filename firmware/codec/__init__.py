"""The machine's T.4/T.6 codec: MH, MR and MMR encoding and decoding of whole pages.

    encode(pixels, coding="mh", *, k=2, min_line_bits=0, eol=True, align_eol=False, rtc=True,
           msb_first=False) -> bytes
    decode(data, coding="mh", *, width=1728, msb_first=False, max_lines=20000) -> DecodeResult
    coded_line_bits(data, zeros, since_eol) -> (longest, zeros, since_eol)   # T.4 line timing

Pages are 2-D numpy bool arrays (lines, width), True = black, widths 1728 / 2048 / 2432. Streams
are in line order (the first bit sent is the least significant bit of a byte) unless
`msb_first`. `CodecError` is the only exception either raises. How it works: docs/codec.md.
"""

from __future__ import annotations

from .decoder import DecodeResult, coded_line_bits, decode
from .encoder import CODINGS, WIDTHS, encode
from .errors import CodecError
from .jit import JIT_AVAILABLE

__all__ = [
    "CODINGS",
    "JIT_AVAILABLE",
    "WIDTHS",
    "CodecError",
    "DecodeResult",
    "coded_line_bits",
    "decode",
    "encode",
]
