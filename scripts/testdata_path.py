"""Where the benchmarks find the shared test data, as the tests do (tests/conftest.py):
ESTUDIO190F_TESTDATA, ../shared/testdata beside the project (DESIGN.md 4), or the workplace's copy
at /work/shared/testdata. The scripts run as `python scripts/NAME.py`, so they import this by name.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _testdata() -> Path:
    for candidate in (os.environ.get("ESTUDIO190F_TESTDATA", ""),
                      ROOT.parent / "shared" / "testdata", "/work/shared/testdata"):  # fmt: skip
        if candidate and (Path(candidate) / "ccitt").is_dir():
            return Path(candidate)
    return ROOT.parent / "shared" / "testdata"


TESTDATA = _testdata()
CHARTS = TESTDATA / "ccitt"  # ITU-T charts itu1.pbm ... itu8.pbm
