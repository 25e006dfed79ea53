"""The T.30 tables are declared once and read by everything: the docs print the same rows the
code declares, and the code that could declare its own times reads the timing table instead."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from estudio190f.firmware.t30 import habits, states, timing
from estudio190f.firmware.t30.session import T30Session
from estudio190f.firmware.t30.station import StationConfig

DOCS = Path(__file__).resolve().parents[2] / "docs" / "t30.md"


@pytest.mark.parametrize("name,module", [("timing", timing), ("state", states), ("habit", habits)])
def test_docs_print_the_table_the_code_declares(name: str, module: object) -> None:
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {name} table -->\n(.*?)\n<!-- end {name} table -->", text, re.S)
    assert found is not None, f"docs/t30.md has no {name} table"
    assert found.group(1) == module.markdown()  # type: ignore[attr-defined]


def test_every_state_the_handlers_name_exists_and_every_handler_is_a_method() -> None:
    session = T30Session("caller", StationConfig())
    for state in states.STATES:
        for frame, handler in state.frames.items():
            assert callable(getattr(session, handler, None)), f"{state.name}: {frame} -> {handler}"
        assert state.timer in (None, "T2", "T4")


def test_no_other_module_declares_a_t30_time() -> None:
    """The times of the timing table appear as numbers only in timing.py and hw/modem.py."""
    root = DOCS.parents[1]
    names = (
        "T[0-5]|CED|CED_TIME|CED_GAP|ANSWER_DELAY|V21_PREAMBLE|PREAMBLE|GAP|SIGNAL_GAP|"
        "CNG_ON|CNG_OFF|DCN_HOLD|TCF|TCF_SECONDS"
    )
    pattern = re.compile(rf"^\s*({names})\s*=\s*\d")
    offenders = []
    for folder in ("firmware", "hw", "panel"):
        for path in (root / folder).rglob("*.py"):
            if path.name in ("timing.py", "modem.py"):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.match(line):
                    offenders.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert offenders == []
