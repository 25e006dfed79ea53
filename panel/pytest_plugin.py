"""pytest plugin (entry point `pytest11`): machines in virtual time as fixtures.

    def test_copy_mode(fax):
        fax.press("COPY")
        assert "COPY READY" in fax.lcd[1]
        fax.step('expect led COPY on')
        fax.until('lcd "COPY READY"', within="5s")

`fax` is a fresh machine in standby at 2026-01-01 09:00, its outputs under a temporary folder;
`fax_factory(**options)` makes machines with options (seed, settings_file, state_dir, relay).
The driver, `FaxDriver`:

- `fax.step(LINE) -> list[str]`: one line of the key-script language (docs/scripts.md); returns
  the result lines (queries). `fax.press(*KEYS)`, `fax.type(TEXT)`, `fax.hold(KEY, DURATION)`,
  `fax.run_for(DURATION)` (DURATION: "500ms", "2m" ... or seconds as a number).
- `fax.expect(EXPECTATION)`: `expect EXPECTATION` (`fax.expect('lcd "FAX READY" line 2')`).
- `fax.until(EXPECTATION, within="10s")`: run until the expectation, written as in the script
  language, holds (`fax.until('lcd "RECEIVING"', within="30s")`); fails at the limit.
- What the operator sees: `fax.lcd` (two lines), `fax.leds` ({NAME: on|off|blink}), `fax.state`
  (the firmware state path), `fax.printed` (sheets delivered since the machine was made).
- `fax.journal`: the journal, one line an entry, as `journal?` prints it.
- `fax.settings`: `fax.settings["smtp.port"]` reads a setting by its settings-file key
  (docs/settings.md); `fax.settings.set("receive.rings", 4)` sets one as the FUNCTION menu
  would (the value checked, ValueError with the reason if refused; logged without the value of a
  secret); `"key" in fax.settings`, `fax.settings.keys()`.
- `fax.events`: the event log (newest last), each a dict with `t` (virtual seconds), `src`, `ev`
  and the event's fields, as in `--out`/events.jsonl.
- `fax.device(NAME, NUMBER) -> FaxDriver`: another machine on the same line and clock.
- `fax.sim`, `fax.machine`, `fax.firmware`, `fax.board` for what the above does not cover.

`fax.step("snapshot FILE")` / `fax.step("restore FILE")` save and restore the whole simulation
(docs/snapshots.md); `fax_factory(restore=FILE)` starts from a snapshot. `pytest
--estudio-coverage FILE` records what the tests' machines visited, and the replays they start
(docs/coverage.md), and writes it to FILE with a summary line per area.

A failed expectation (`ExpectationFailed`) or a bad line (`ScriptError`) fails the test with a
short report, without a traceback into the interpreter: the test's line, the expectation, the
LCD, the LEDs, the state and time, and the last events. `pytest --fulltrace` shows the traceback
as well. Both exceptions can still be caught with `pytest.raises`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from estudio190f.firmware.settings import BY_KEY, load_settings_file
from estudio190f.hw.clock import SECOND
from estudio190f.hw.eventlog import Event

from .interpreter import ExpectationFailed, Interpreter, journal_lines, run_step
from .runner import advance
from .script import (
    ScriptError,
    Step,
    format_duration,
    parse_duration,
    parse_line,
    printed_since,
    quote,
)
from .sim import Machine, Simulation


def _ticks(duration: str | int | float) -> int:
    if isinstance(duration, str):
        return parse_duration(duration)
    return round(duration * SECOND)


class FaxSettings:
    """A machine's settings by settings-file key: read them, or set one as the menu would."""

    def __init__(self, driver: FaxDriver) -> None:
        self._driver = driver

    @property
    def _settings(self) -> Any:
        return self._driver.machine.firmware.settings

    def __getitem__(self, key: str) -> Any:
        if key not in BY_KEY:
            raise KeyError(f"no setting named {key!r} (docs/settings.md lists them)")
        return self._settings.get(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in BY_KEY else default

    def __contains__(self, key: object) -> bool:
        return key in BY_KEY

    def keys(self) -> list[str]:
        return list(BY_KEY)

    def set(self, key: str, value: Any) -> Any:
        """Set `key` as the FUNCTION menu would: the value is checked (ValueError with the reason
        if refused), stored in NVRAM and the machine reacts. Returns the value as stored."""
        __tracebackhide__ = True
        setting = BY_KEY.get(key)
        if setting is None:
            raise KeyError(f"no setting named {key!r} (docs/settings.md lists them)")
        stored = self._settings.set(key, value)
        machine = self._driver.machine
        machine.board.log.emit("settings", "set", key=key, value=setting.show(stored), via="pytest")
        self._driver.sim.clock.run_due()
        return stored

    def __repr__(self) -> str:
        shown = {k: BY_KEY[k].show(self._settings.get(k)) for k in BY_KEY}
        return f"FaxSettings({shown})"


class FaxDriver:
    """One simulated machine, driven like the key-script language does."""

    def __init__(self, sim: Simulation, interp: Interpreter, machine: Machine) -> None:
        self.sim = sim
        self.interp = interp
        self.machine = machine
        self.settings = FaxSettings(self)

    # the script language, one line at a time
    def step(self, line: str) -> list[str]:
        """Run one line of the key-script language; its result lines."""
        __tracebackhide__ = True
        step = parse_line(line, 1)
        if step is None:
            return []
        if self.machine.name != "main" and step.verb != "on":
            step = Step(step.line, step.text, "on", {"name": self.machine.name},
                        target=self.machine.name, inner=step)  # fmt: skip
        return run_step(self.interp, step)

    def press(self, *keys: str) -> None:
        __tracebackhide__ = True
        self.step("press " + " ".join(keys))

    def type(self, text: str) -> None:
        __tracebackhide__ = True
        self.step("type " + quote(text))

    def hold(self, key: str, duration: str | int | float) -> None:
        __tracebackhide__ = True
        self.step(f"hold {key} {format_duration(_ticks(duration))}")

    def expect(self, expectation: str) -> None:
        """`expect EXPECTATION`, e.g. `fax.expect('led COPY on')`."""
        __tracebackhide__ = True
        self.step(f"expect {expectation}")

    def until(self, expectation: str, within: str | int | float = "10s") -> None:
        """Run until EXPECTATION (as after `until` in a script) holds; fail after `within`."""
        __tracebackhide__ = True
        self.step(f"until {expectation} within {format_duration(_ticks(within))}")

    def run_for(self, duration: str | int | float) -> None:
        advance(self.sim.clock, _ticks(duration))

    def until_lcd(self, pattern: str, within: str | int | float = "10s",
                  line: int | None = None) -> list[str]:  # fmt: skip
        """Run until the LCD shows `pattern` (a substring); the LCD then."""
        __tracebackhide__ = True
        where = f" line {line}" if line else ""
        self.until(f"lcd {quote(pattern)}{where}", within)
        return self.lcd

    # what the operator sees
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
    def printed(self) -> int:
        return printed_since(self.interp, self.machine)

    @property
    def journal(self) -> list[str]:
        return journal_lines(self.machine)

    @property
    def events(self) -> list[Event]:
        return list(self.machine.board.log.events)

    @property
    def firmware(self) -> Any:
        return self.machine.firmware

    @property
    def board(self) -> Any:
        return self.machine.board

    def device(self, name: str, number: str) -> FaxDriver:
        """Another machine on the same line and clock."""
        __tracebackhide__ = True
        self.step(f"device {name} {number}")
        return FaxDriver(self.sim, self.interp, self.sim.machine(name))


def make_driver(tmp: Path | None = None, **options: Any) -> FaxDriver:
    """A machine in virtual time. `relay=True` starts the embedded SMTP relay (Maildir under tmp);
    `restore=FILE` starts from a snapshot instead of a machine fresh from the box."""
    relay = options.pop("relay", False)
    restore = options.pop("restore", None)
    settings = options.pop("settings_file", None)
    if isinstance(settings, (str, Path)):
        settings = load_settings_file(Path(settings))
    if tmp is not None:
        options.setdefault("out_dir", tmp / "out")
    if restore is not None:
        if settings is not None or set(options) - {"out_dir", "state_dir"}:
            raise ValueError("restore=FILE: the snapshot holds the machines (no other options)")
        sim = Simulation(boot=False, **options)
    else:
        sim = Simulation(settings_file=settings, **options)
    interp = Interpreter(sim, base_dir=tmp)
    if restore is not None:
        try:
            interp.restore(Path(restore))
        except BaseException:
            sim.close()
            raise
    if relay:
        sim.start_relay(tmp / "mail" if tmp is not None else None)
    return FaxDriver(sim, interp, sim.main)


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


# -- coverage (--estudio-coverage FILE) -------------------------------------------------------------

_COVERAGE = pytest.StashKey[Any]()
_FOLDER = pytest.StashKey[Path]()
_SUMMARY = pytest.StashKey[list[str]]()  # the merged coverage's summary lines, for the report


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("estudio190f")
    group.addoption(
        "--estudio-coverage",
        metavar="FILE",
        default=None,
        help="record what the tests' machines visited (and the replays they start) to FILE "
        "(docs/coverage.md)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("estudio_coverage", None):
        return
    from .coverage_recorder import ENVIRONMENT, CoverageRecorder

    if not hasattr(config, "workerinput"):
        # The replays and runs the tests start (and pytest-xdist's workers) write here.
        folder = Path(tempfile.mkdtemp(prefix="estudio190f-coverage-"))
        config.stash[_FOLDER] = folder
        os.environ[ENVIRONMENT] = str(folder)
    config.stash[_COVERAGE] = CoverageRecorder().install()


def pytest_runtest_setup(item: pytest.Item) -> None:
    recorder = item.config.stash.get(_COVERAGE, None)
    if recorder is not None:
        recorder.coverage.runs += 1


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    recorder = config.stash.get(_COVERAGE, None)
    if recorder is None:
        return
    from .coverage import merge
    from .coverage_recorder import ENVIRONMENT, recording_folder, write_into

    recorder.uninstall()
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: the controller merges
        folder = recording_folder()
        if folder is not None:
            write_into(folder, recorder.coverage, "pytest-worker")
        return
    folder = config.stash[_FOLDER]
    coverage = recorder.coverage
    coverage.merge(merge(sorted(folder.glob("*.json"))))
    coverage.write(Path(config.getoption("estudio_coverage")))
    config.stash[_SUMMARY] = coverage.summary_lines()
    os.environ.pop(ENVIRONMENT, None)
    shutil.rmtree(folder, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    # (pytest's terminal reporter asks for this after every plugin's sessionfinish)
    summary = config.stash.get(_SUMMARY, None)
    if summary is None or hasattr(config, "workerinput"):
        return
    terminalreporter.section("estudio190f coverage")
    for line in summary:
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"written to {config.getoption('estudio_coverage')}")


# -- short failure reports -------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    excinfo = call.excinfo
    if excinfo is None or not report.failed or item.config.getoption("fulltrace", False):
        return
    error = excinfo.value
    if isinstance(error, ExpectationFailed):
        head, body = f"expectation failed: {error.step.text}", error.report()
    elif isinstance(error, ScriptError):
        head, body = f"script error: {error.message}", ""
    else:
        return
    report.longrepr = "\n".join(x for x in (head, _where(item, excinfo), body) if x)


def _where(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    """`path:line: source` of the innermost frame outside this package (the test's own line)."""
    for entry in reversed(excinfo.traceback):
        module = str(entry.frame.f_globals.get("__name__", ""))
        if module.startswith(("estudio190f.", "_pytest", "pluggy")):
            continue
        try:
            path = Path(entry.path).relative_to(item.config.rootpath)
        except ValueError:
            path = Path(entry.path)
        statement = str(entry.statement).strip().splitlines()
        source = statement[0] if statement else ""
        return f"  at {path}:{entry.lineno + 1}: {source}"
    return ""


__all__ = ["ExpectationFailed", "FaxDriver", "FaxSettings", "ScriptError", "make_driver"]
