"""Fixtures for the console tests: in-process rigs (stopped at the end) and pyserial clients."""

from __future__ import annotations

import pytest

from .rig import ConsoleRig, LineClient


@pytest.fixture
def make_rig(tmp_path):
    rigs: list[ConsoleRig] = []
    clients: list[LineClient] = []

    def make(*specs: str, speed: float | None = 1.0, setup=None) -> ConsoleRig:
        rig = ConsoleRig(tmp_path, list(specs), speed, setup)
        rigs.append(rig)
        rig.client = lambda kind: _client(rig.url(kind))  # type: ignore[attr-defined]
        return rig

    def _client(url: str) -> LineClient:
        client = LineClient(url)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
    for rig in rigs:
        rig.stop()


def pytest_collection_modifyitems(items):
    here = __file__.rsplit("/", 1)[0]
    for item in items:
        if str(item.fspath).startswith(here):
            # pyserial 3.5's RFC 2217 client calls Thread.setDaemon/setName (deprecated in 3.10)
            item.add_marker(
                pytest.mark.filterwarnings("ignore:set(Daemon|Name)\\(\\) is deprecated")
            )
