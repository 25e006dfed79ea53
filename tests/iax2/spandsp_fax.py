"""A minimal ctypes binding of SpanDSP's audio fax terminal (`fax_init` and its T.30) for the
iaxmodem tests: 16-bit linear audio at 8 kHz in and out, a TIFF to send or a file to receive into,
and the completion code of phase E. SpanDSP 0.0.6 allocates its state when given NULL, so the
struct sizes need not be known here. (The modem chip's fuller binding lives in hw/.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import REQUIRE_PEERS  # tests/conftest.py (tests/ is on sys.path)

T30_ERR_OK = 0
SUPPORT_V27TER_V29_V17 = 0x01 | 0x02 | 0x04
SUPPORT_MH_MR_MMR = 0x02 | 0x04 | 0x08
LOG_LEVEL = 0x0D00 | 5  # SPAN_LOG_SHOW_SEVERITY|PROTOCOL|TAG, SPAN_LOG_FLOW (with SPANDSP_DEBUG=1)

_PHASE_E = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)


class TransferStatistics(ctypes.Structure):
    """t30_stats_t of SpanDSP 0.0.6 (spandsp/t30.h): fifteen ints."""

    _fields_ = [
        (name, ctypes.c_int)
        for name in (
            "bit_rate", "error_correcting_mode", "pages_tx", "pages_rx", "pages_in_file",
            "x_resolution", "y_resolution", "width", "length", "image_size", "encoding",
            "bad_rows", "longest_bad_row_run", "error_correcting_mode_retries", "current_status",
        )
    ]  # fmt: skip


def library() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("spandsp")
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    p, i = ctypes.c_void_p, ctypes.c_int
    signatures = {
        "fax_init": (p, [p, i]),
        "fax_free": (i, [p]),
        "fax_get_t30_state": (p, [p]),
        "fax_get_logging_state": (p, [p]),
        "fax_set_transmit_on_idle": (None, [p, i]),
        "fax_rx": (i, [p, p, i]),
        "fax_tx": (i, [p, p, i]),
        "t30_set_tx_ident": (i, [p, ctypes.c_char_p]),
        "t30_set_tx_file": (None, [p, ctypes.c_char_p, i, i]),
        "t30_set_rx_file": (None, [p, ctypes.c_char_p, i]),
        "t30_set_ecm_capability": (i, [p, i]),
        "t30_set_supported_modems": (i, [p, i]),
        "t30_set_supported_compressions": (i, [p, i]),
        "t30_set_phase_e_handler": (None, [p, _PHASE_E, p]),
        "t30_get_logging_state": (p, [p]),
        "span_log_set_level": (i, [p, i]),
        "t30_get_transfer_statistics": (None, [p, ctypes.POINTER(TransferStatistics)]),
        "g711_init": (p, [p, i]),
        "g711_free": (i, [p]),
        "g711_encode": (i, [p, p, p, i]),
        "g711_decode": (i, [p, p, p, i]),
    }
    for fn, (restype, argtypes) in signatures.items():
        getattr(lib, fn).restype = restype
        getattr(lib, fn).argtypes = argtypes
    return lib


def need_spandsp() -> ctypes.CDLL:
    """SpanDSP through ctypes, or a skip (a failure in CI, where libspandsp2 is installed)."""
    lib = library()
    if lib is None:
        reason = "needs libspandsp2 (Debian package; .ci/run installs it)"
        if REQUIRE_PEERS:
            pytest.fail(reason)
        pytest.skip(reason)
    return lib


class SpanDspFax:
    """One SpanDSP fax terminal: the caller sends `tx_file`, the answerer receives into `rx_file`
    (or the other way round)."""

    def __init__(
        self,
        lib: ctypes.CDLL,
        *,
        calling: bool,
        ident: str,
        tx_file: Path | None = None,
        rx_file: Path | None = None,
        ecm: bool = False,
    ) -> None:
        self.lib = lib
        self.result: int | None = None
        self.statistics = TransferStatistics()  # as phase E left them
        self.fax = lib.fax_init(None, int(calling))
        t30 = lib.fax_get_t30_state(self.fax)
        lib.fax_set_transmit_on_idle(self.fax, 1)
        lib.t30_set_tx_ident(t30, ident.encode())
        lib.t30_set_supported_modems(t30, SUPPORT_V27TER_V29_V17)
        lib.t30_set_supported_compressions(t30, SUPPORT_MH_MR_MMR)
        lib.t30_set_ecm_capability(t30, int(ecm))
        if tx_file is not None:
            lib.t30_set_tx_file(t30, str(tx_file).encode(), -1, -1)
        if rx_file is not None:
            lib.t30_set_rx_file(t30, str(rx_file).encode(), -1)
        self._phase_e = _PHASE_E(self._done)  # kept: SpanDSP holds only the pointer
        lib.t30_set_phase_e_handler(t30, self._phase_e, None)
        if os.environ.get("SPANDSP_DEBUG") == "1":
            lib.span_log_set_level(lib.fax_get_logging_state(self.fax), LOG_LEVEL)
            lib.span_log_set_level(lib.t30_get_logging_state(t30), LOG_LEVEL)
        self._buffer = np.zeros(160, dtype=np.int16)

    def _done(self, t30: int, _user: int, code: int) -> None:
        self.result = code
        self.lib.t30_get_transfer_statistics(t30, ctypes.byref(self.statistics))

    def rx(self, samples: np.ndarray) -> None:
        block = np.ascontiguousarray(samples, dtype=np.int16)
        self.lib.fax_rx(self.fax, block.ctypes.data, len(block))

    def tx(self, count: int = 160) -> np.ndarray:
        if len(self._buffer) != count:
            self._buffer = np.zeros(count, dtype=np.int16)
        made = self.lib.fax_tx(self.fax, self._buffer.ctypes.data, count)
        out = self._buffer.copy()
        out[made:] = 0
        return out

    def close(self) -> None:
        if self.fax:
            self.lib.fax_free(self.fax)
            self.fax = None
