"""Fixtures for the codec tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from codec.peers import Peers


@pytest.fixture
def peers(tmp_path: Path) -> Peers:
    return Peers(tmp_path)
