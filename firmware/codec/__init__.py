"""The machine's T.4/T.6 codec: MH, MR and MMR encoding and decoding of whole pages.

    encode(pixels, coding="mh", *, k=2, min_line_bits=0, eol=True, align_eol=False, rtc=True,
           msb_first=False) -> bytes
    decode(data, coding="mh", *, width=1728, msb_first=False, max_lines=20000) -> DecodeResult
    coded_line_bits(data, zeros, since_eol) -> (longest, zeros, since_eol)   # T.4 line timing

Pages are 2-D numpy bool arrays (lines, width), True = black, widths 1728 / 2048 / 2432. Streams
are in line order (the first bit sent is the least significant bit of a byte) unless
`msb_first`. `CodecError` is the only exception either raises. How it works: docs/codec.md.


The encoder and decoder (and numba, which compiles their kernels: a quarter of a second to import)
are loaded when first used, so a machine that codes no page starts without them.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from .errors import CodecError

if TYPE_CHECKING:
    from .decoder import DecodeResult, coded_line_bits, decode
    from .encoder import CODINGS, WIDTHS, encode

# Whether the kernels will be compiled (numba is installed), known without importing it.
JIT_AVAILABLE = importlib.util.find_spec("numba") is not None

_LAZY = {"DecodeResult": ".decoder", "decode": ".decoder", "coded_line_bits": ".decoder",
         "CODINGS": ".encoder", "WIDTHS": ".encoder", "encode": ".encoder"}  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


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
