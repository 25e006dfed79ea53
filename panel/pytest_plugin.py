"""pytest plugin (entry point `pytest11`): machines in virtual time as fixtures.

    def test_copy_mode(fax):
        fax.press("COPY")
        assert "COPY READY" in fax.lcd[1]
        fax.step('expect led COPY on')

`fax` is a fresh machine in standby at 2026-01-01 09:00, its outputs under a temporary folder.
`fax.device("branch", "5559876")` puts another machine on the same line and returns its driver;
`fax_factory(**options)` makes machines with options (seed, settings file, state directory).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from estudio190f.firmware.settings import load_settings_file
from estudio190f.hw.clock import SECOND

from .interpreter import ExpectationFailed, Interpreter, run_step
from .script import ScriptError, Step, parse_duration, parse_line
from .sim import Machine, Simulation


def _ticks(duration: str | int | float) -> int:
    if isinstance(duration, str):
        return parse_duration(duration)
    return round(duration * SECOND)


class FaxDriver:
    """One simulated machine, driven like the key-script language does."""

    def __init__(self, sim: Simulation, interp: Interpreter, machine: Machine) -> None:
        self.sim = sim
        self.interp = interp
        self.machine = machine

    # the script language, one line at a time
    def step(self, line: str) -> list[str]:
        step = parse_line(line, 1)
        if step is None:
            return []
        if self.machine.name != "main" and step.verb != "on":
            step = Step(
                step.line,
                step.text,
                "on",
                {"name": self.machine.name},
                target=self.machine.name,
                inner=step,
            )
        return run_step(self.interp, step)

    def press(self, *keys: str) -> None:
        self.step("press " + " ".join(keys))

    def type(self, text: str) -> None:
        self.step('type "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')

    def run_for(self, duration: str | int | float) -> None:
        self.sim.clock.advance(_ticks(duration))

    def until_lcd(
        self,
        pattern: str | re.Pattern[str],
        within: str | int | float = "10s",
        line: int | None = None,
    ) -> list[str]:
        """Run until the LCD shows `pattern` (substring, or a compiled regex); fail at the limit."""

        def holds() -> bool:
            lines = self.lcd if line is None else [self.lcd[line - 1]]
            if isinstance(pattern, re.Pattern):
                return any(pattern.search(x) for x in lines)
            return any(pattern in x for x in lines)

        if not self.sim.clock.advance(_ticks(within), stop=holds):
            raise AssertionError(f"LCD never showed {pattern!r} within {within}: {self.lcd}")
        return self.lcd

    @property
    def lcd(self) -> list[str]:
        return self.machine.lcd_lines()

    @property
    def leds(self) -> dict[str, str]:
        return self.machine.leds()

    @property
    def state(self) -> str:
        return self.machine.state()

    @property
    def firmware(self) -> Any:
        return self.machine.firmware

    @property
    def board(self) -> Any:
        return self.machine.board

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self.machine.board.log.events)

    def device(self, name: str, number: str) -> FaxDriver:
        """Another machine on the same line and clock."""
        self.step(f"device {name} {number}")
        return FaxDriver(self.sim, self.interp, self.sim.machine(name))


def make_driver(tmp: Path | None = None, **options: Any) -> FaxDriver:
    """A machine in virtual time. `relay=True` starts the embedded SMTP relay (Maildir under tmp)."""
    relay = options.pop("relay", False)
    settings = options.pop("settings_file", None)
    if isinstance(settings, (str, Path)):
        settings = load_settings_file(Path(settings))
    if tmp is not None:
        options.setdefault("out_dir", tmp / "out")
    sim = Simulation(settings_file=settings, **options)
    if relay:
        sim.start_relay(tmp / "mail" if tmp is not None else None)
    return FaxDriver(sim, Interpreter(sim, base_dir=tmp), sim.main)


@pytest.fixture
def fax_factory(tmp_path: Path) -> Iterator[Callable[..., FaxDriver]]:
    made: list[FaxDriver] = []

    def factory(**options: Any) -> FaxDriver:
        sub = tmp_path / f"machine{len(made) + 1}"
        sub.mkdir()
        driver = make_driver(sub, **options)
        made.append(driver)
        return driver

    yield factory
    for driver in made:
        driver.sim.close()


@pytest.fixture
def fax(fax_factory: Callable[..., FaxDriver]) -> FaxDriver:
    return fax_factory()


__all__ = ["FaxDriver", "make_driver", "ExpectationFailed", "ScriptError"]
