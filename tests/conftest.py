"""Shared test helpers. Tests needing a real peer program call `need_program`: they skip with the
reason where the program is absent, except in CI, where ESTUDIO190F_REQUIRE_PEERS=1 (set by .ci/run,
which installs every peer) turns such a skip into a failure. Tests needing the shared test data call
`need_testdata`, which skips where the data is absent."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_PEERS = os.environ.get("ESTUDIO190F_REQUIRE_PEERS") == "1"


def _testdata() -> Path:
    """../shared/testdata beside the project (DESIGN.md 4); ESTUDIO190F_TESTDATA overrides it, and a
    clone made elsewhere on this machine finds the workplace's copy at /work/shared/testdata."""
    candidates = [
        os.environ.get("ESTUDIO190F_TESTDATA", ""),
        ROOT.parent / "shared" / "testdata",
        "/work/shared/testdata",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return ROOT.parent / "shared" / "testdata"


TESTDATA = _testdata()


def need_program(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        reason = f"needs {', '.join(missing)} (Debian packages; .ci/run installs them)"
        if REQUIRE_PEERS:
            pytest.fail(reason)
        pytest.skip(reason)


def need_testdata(*parts: str) -> Path:
    """Test data is read where it is and never copied; where it is absent the test skips."""
    path = TESTDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"test data {path} is absent")
    return path
