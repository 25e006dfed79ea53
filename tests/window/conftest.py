"""Fixtures for the window tests: one Xvfb display per module, an `estudio190f run` per test."""

from __future__ import annotations

import pytest

from tests.conftest import need_program

from .xsession import Emulator, XServer


@pytest.fixture(scope="module")
def xserver():
    need_program("Xvfb", "xdotool", "import")
    x = XServer()
    yield x
    x.stop()


@pytest.fixture
def emulator(xserver, tmp_path):
    started: list[Emulator] = []

    def start(*extra: str) -> Emulator:
        emu = Emulator(xserver, tmp_path / "out", *extra, cwd=tmp_path)
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.kill()
