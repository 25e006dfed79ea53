"""SpanDSP for the IAX2 tests: the library (for its G.711, against which hw/g711.py is checked) and
its audio fax terminal as the far end on a call, both from the one binding (`hw.spandsp`)."""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

import pytest
from conftest import REQUIRE_PEERS  # tests/conftest.py (tests/ is on sys.path)

from estudio190f.hw.spandsp import RESULT_OK, FaxTerminal, SpanDspMissing, load_spandsp

T30_ERR_OK = RESULT_OK


def need_spandsp() -> ctypes.CDLL:
    """SpanDSP through ctypes, or a skip (a failure in CI, where libspandsp2 is installed)."""
    try:
        return load_spandsp()
    except SpanDspMissing as exc:
        reason = f"{exc} (.ci/run installs it)"
        if REQUIRE_PEERS:
            pytest.fail(reason)
        pytest.skip(reason)


def fax_terminal(
    *, calling: bool, ident: str, tx_file: Path | None = None, rx_file: Path | None = None
) -> FaxTerminal:
    """SpanDSP's audio fax terminal; SPANDSP_DEBUG=1 prints its T.30 log on standard error."""
    log = (lambda text: print(text, file=sys.stderr)) if os.environ.get("SPANDSP_DEBUG") else None
    return FaxTerminal(calling, ident=ident, tx_file=tx_file, rx_file=rx_file, log=log)
