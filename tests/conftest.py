"""Shared test helpers. Tests needing a real peer program call `need_program` (or `need_testdata`):
they skip with the reason where the program is absent, except in CI, where ESTUDIO190F_REQUIRE_PEERS=1
(set by .ci/run, which installs every peer) turns such a skip into a failure."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = ROOT.parent / "shared" / "testdata"
REQUIRE_PEERS = os.environ.get("ESTUDIO190F_REQUIRE_PEERS") == "1"


def need_program(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        reason = f"needs {', '.join(missing)} (Debian packages; .ci/run installs them)"
        if REQUIRE_PEERS:
            pytest.fail(reason)
        pytest.skip(reason)


def need_testdata(*parts: str) -> Path:
    path = TESTDATA.joinpath(*parts)
    if not path.exists():
        reason = f"test data {path} is absent"
        if REQUIRE_PEERS:
            pytest.fail(reason)
        pytest.skip(reason)
    return path
