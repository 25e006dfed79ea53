"""The one key-script interpreter behind `replay`, the serial console, the prompt of `run`, the
window and the pytest plugin.

A step runs as a generator that asks for virtual time to pass (`Advance`, `AdvanceUntil`) and
returns its result lines. Two drivers run it: `run_step` advances the clock directly (replay,
tests: as fast as possible), and `StepTask` resumes it from clock events (the real-time runner,
where the clock follows the wall clock). Either way a step ends when the machine has reacted to
it: every event due at that instant has run. `StepQueue` runs typed or clicked lines one after
another through `StepTask` (the prompt of `run`, the window).
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

from estudio190f.firmware.control_panel import PRESS_TIME
from estudio190f.firmware.entry import EntryMode, key_for_char
from estudio190f.firmware.journal import JournalEntry
from estudio190f.hw.clock import Clock, Timer
from estudio190f.hw.faults import FaultNotAvailable

from .script import QUERIES, ScriptError, Step, format_duration, parse_line
from .sim import BOOT_LIMIT, Machine, Simulation

HELP = """\
clock YYYY-MM-DD HH:MM          set the machine's date and time
adf load PATH [PATH ...]        put pages in the feeder
paper COUNT                     sheets in the cassette
press KEY [KEY ...]             press keys (100 ms each)
type TEXT                       keypad characters; letters where the screen takes text
hold KEY DURATION               hold a key
wait DURATION                   let virtual time pass (500ms, 5s, 2m, 1h)
expect lcd TEXT|/REGEX/ [line 1|2]
expect led NAME on|off|blink
expect state TEXT
expect printed COUNT
expect journal TEXT|/REGEX/
until lcd|led|state|printed|journal ... within DURATION
fault NAME | clear NAME         printer.jam printer.no_paper printer.cover_open adf.jam
                                line.busy line.no_answer line.drop line.noise relay.down
power off | power on
device NAME NUMBER              another machine on the same line
on NAME STEP                    run one step on that machine
lcd? led? state? time? printed? journal?
events on|off                   push '! ' lines (console)
help                            this list"""


@dataclass
class Advance:
    ticks: int


@dataclass
class AdvanceUntil:
    predicate: Callable[[], bool]
    limit: int


Request = Advance | AdvanceUntil
StepRun = Generator[Request, None, list[str]]


class ExpectationFailed(Exception):
    def __init__(self, step: Step, message: str, machine: Machine) -> None:
        super().__init__(message)
        self.step = step
        self.message = message
        self.lcd = machine.lcd_lines()
        self.leds = machine.leds()
        self.state = machine.state()
        self.time = machine.board.rtc.now().strftime("%Y-%m-%d %H:%M:%S")
        self.machine = machine.name

    def report(self) -> str:
        leds = ", ".join(f"{k} {v}" for k, v in self.leds.items())
        who = f" on {self.machine}" if self.machine != "main" else ""
        return (
            f"  expected{who}: {self.message}\n"
            f"  LCD   |{self.lcd[0]:<20}|\n"
            f"        |{self.lcd[1]:<20}|\n"
            f"  LEDs  {leds}\n"
            f"  state {self.state}   time {self.time}"
        )


class Interpreter:
    def __init__(self, sim: Simulation, base_dir: Path | None = None) -> None:
        self.sim = sim
        self.base_dir = base_dir
        self.printed_base: dict[str, int] = {n: m.printed_count() for n, m in sim.machines.items()}
        self.on_events: Callable[[bool], None] | None = None
        self.recorder: Recorder | None = None

    # -- entry points ---------------------------------------------------------------------
    def parse(self, text: str, line: int = 0) -> Step | None:
        return parse_line(text, line)

    def execute(self, step: Step) -> StepRun:
        if step.verb != "on":
            return (yield from self._run(step, self.sim.main))
        assert step.inner is not None
        step.inner.line = step.line
        try:
            machine = self.sim.machine(step.target)
        except KeyError as exc:
            raise ScriptError(str(exc.args[0]), step.line) from None
        return (yield from self._run(step.inner, machine))

    # -- verbs ----------------------------------------------------------------------------
    def _run(self, step: Step, m: Machine) -> StepRun:
        verb, a = step.verb, step.args
        try:
            if verb == "press":
                for key in a["keys"]:
                    yield from self._press(m, key)
                return []
            if verb == "hold":
                m.press(a["key"])
                yield Advance(a["duration"])
                m.release(a["key"])
                return []
            if verb == "type":
                yield from self._type(step, m, a["text"])
                return []
            if verb == "wait":
                yield Advance(a["duration"])
                return []
            if verb == "expect":
                ok, message = self._check(step, m)
                if not ok:
                    raise ExpectationFailed(step, message, m)
                return []
            if verb == "until":
                if not self._check(step, m)[0]:
                    watch = JournalLines(m) if a["what"] == "journal" else None
                    try:
                        yield AdvanceUntil(lambda: self._check(step, m, watch)[0], a["within"])
                    finally:
                        if watch is not None:
                            watch.close()
                    ok, message = self._check(step, m)
                    if not ok:
                        raise ExpectationFailed(
                            step, f"{message} within {format_duration(a['within'])}", m
                        )
                return []
            if verb == "clock":
                m.set_clock(a["when"])
                return []
            if verb == "power":
                m.power(a["on"])
                return []
            if verb in ("fault", "clear"):
                m.fault(a["fault"], verb == "fault")
                return []
            if verb == "adf":
                a["resolved"] = [self._path(step, p) for p in a["paths"]]
                m.load_documents(a["resolved"])
                return []
            if verb == "paper":
                m.load_paper(a["count"])
                return []
            if verb == "device":
                yield from self._device(step)
                return []
            if verb in QUERIES:
                return self._query(verb, m)
            if verb == "events":
                if self.on_events is None:
                    raise ScriptError("events is a console command", step.line)
                self.on_events(a["on"])
                return []
            if verb == "help":
                return HELP.splitlines()
        except FaultNotAvailable as exc:
            raise ScriptError(str(exc), step.line) from None
        except KeyError as exc:
            raise ScriptError(str(exc.args[0]) if exc.args else str(exc), step.line) from None
        raise ScriptError(f"verb {verb!r} is not implemented", step.line)

    def _press(self, m: Machine, key: str) -> StepRun:
        m.press(key)
        yield Advance(PRESS_TIME)
        m.release(key)
        return []

    def _type(self, step: Step, m: Machine, text: str) -> StepRun:
        """The keys that enter `text` on the screen shown, asked again before each character:
        the first digit in FAX standby opens number entry, and the rest goes there."""
        previous = None
        for ch in text:
            mode = m.firmware.panel.entry_mode()
            if mode is None:
                raise ScriptError(
                    f"type: this screen takes no text or numbers (state {m.state()})", step.line
                )
            if mode.kind == "digits":
                previous = None
                yield from self._press(m, self._digit_key(step, mode, ch))
                continue
            try:
                key, taps = key_for_char(ch)
            except ValueError as exc:
                raise ScriptError(f"type: {exc}", step.line) from None
            if ch.isalpha() and ch.islower() != mode.lower:
                yield from self._press(m, "#")
                previous = None
            if key == previous:
                yield from self._press(m, "RIGHT")
            for _ in range(taps):
                yield from self._press(m, key)
            previous = key
        return []

    @staticmethod
    def _digit_key(step: Step, mode: EntryMode, ch: str) -> str:
        if ch in mode.keys:
            return ch
        if ch in "Pp," and mode.pause:
            return "REDIAL_PAUSE"
        what = "digits" if mode.keys.isdigit() else "digits, * and #"
        pause = " and P for a pause" if mode.pause else ""
        raise ScriptError(f"type: {ch!r} cannot be entered here ({what}{pause})", step.line)

    def _device(self, step: Step) -> StepRun:
        name, number = step.args["name"], step.args["number"]
        if name in self.sim.machines:
            raise ScriptError(f"a machine named {name!r} exists already", step.line)
        try:
            machine = self.sim.add_machine(name, number=number, boot=False)
        except ValueError as exc:
            raise ScriptError(f"device {name}: {exc}", step.line) from None
        machine.power(True)
        yield AdvanceUntil(machine.ready, BOOT_LIMIT)
        if not machine.ready():
            raise ScriptError(f"device {name} did not start", step.line)
        machine.set_clock(self.sim.main.board.rtc.now())
        self.printed_base[name] = machine.printed_count()
        return []

    def _path(self, step: Step, raw: str) -> Path:
        path = Path(raw).expanduser()
        candidates = [path] if path.is_absolute() else [
            *( [self.base_dir / path] if self.base_dir is not None else [] ), Path.cwd() / path,
        ]  # fmt: skip
        for candidate in candidates:
            if candidate.exists():
                return candidate.resolve()
        raise ScriptError(f"adf load: no such file {raw!r}", step.line)

    # -- expectations -----------------------------------------------------------------------
    def _check(
        self, step: Step, m: Machine, journal: JournalLines | None = None
    ) -> tuple[bool, str]:
        """Whether an expectation holds, and what it expects; `journal` (during an `until`) saves
        reading the journal again while it has not changed."""
        a = step.args
        what = a["what"]
        if what == "lcd":
            lines = m.lcd_lines()
            which = a["lcd_line"]
            candidates = [lines[which - 1]] if which else lines
            where = f" on line {which}" if which else ""
            return any(
                a["matcher"].matches(x) for x in candidates
            ), f"LCD shows {a['matcher']}{where}"
        if what == "led":
            actual = m.leds()[a["led"]]
            return actual == a["state"], f"LED {a['led']} {a['state']} (it is {actual})"
        if what == "state":
            actual = m.state()
            return a["text"] in actual, f"state contains {a['text']!r} (it is {actual})"
        if what == "printed":
            count = m.printed_count() - self.printed_base.get(m.name, 0)
            return count == a["count"], f"{a['count']} sheets printed (there are {count})"
        if what == "journal":
            lines = journal.lines() if journal is not None else journal_lines(m)
            return any(a["matcher"].matches(x) for x in lines), f"journal has {a['matcher']}"
        raise ScriptError(f"cannot check {what}", step.line)

    def _query(self, verb: str, m: Machine) -> list[str]:
        if verb == "lcd?":
            return m.lcd_lines()
        if verb == "led?":
            return [f"{k} {v}" for k, v in m.leds().items()]
        if verb == "state?":
            return [m.state()]
        if verb == "time?":
            return [m.board.rtc.now().strftime("%Y-%m-%d %H:%M:%S")]
        if verb == "printed?":
            return [str(m.printed_count() - self.printed_base.get(m.name, 0))]
        if verb == "journal?":
            return journal_lines(m)
        return []


def journal_lines(m: Machine) -> list[str]:
    """The machine's journal, one line an entry, as `journal?` shows it."""
    return [e.line() for e in m.firmware.journal.entries()]


class JournalLines:
    """A machine's journal lines kept while an `until journal` waits: its check runs after every
    clock event, and each fresh look is an NVRAM read and every entry formatted. The lines are
    read again only after an entry was added. (A memory clear empties the journal without telling
    the listeners; the lines kept then still match nothing, or the wait would be over, just as
    the empty journal matches nothing.) `close()` when the wait is over."""

    def __init__(self, m: Machine) -> None:
        self.machine = m
        self._lines: list[str] | None = None
        m.firmware.journal.listeners.add(self._added)

    def _added(self, _entry: JournalEntry) -> None:
        self._lines = None

    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = journal_lines(self.machine)
        return self._lines

    def close(self) -> None:
        listeners = self.machine.firmware.journal.listeners
        if self._added in listeners:
            listeners.discard(self._added)


def refusal_reason(error: BaseException) -> str:
    """The reason after `ERR` for a step that failed (the console, the prompt of `run`)."""
    if isinstance(error, ExpectationFailed):
        return f"expectation failed: {error.message}"
    if isinstance(error, ScriptError):
        return error.message
    # no str(error): an unexpected exception's text is not vetted for what may be shown
    return f"internal error ({type(error).__name__})"


# -- drivers ------------------------------------------------------------------------------------


def run_step(interp: Interpreter, step: Step) -> list[str]:
    """Run a step to its end, advancing the clock as fast as possible."""
    clock = interp.sim.clock
    start = clock.now
    gen = interp.execute(step)
    try:
        request = next(gen)
        while True:
            if isinstance(request, Advance):
                clock.advance(request.ticks)
            else:
                clock.advance(request.limit, stop=request.predicate)
            request = gen.send(None)
    except StopIteration as stop:
        clock.run_due()
        if interp.recorder is not None:
            interp.recorder.record(step, start, clock.now)
        return list(stop.value or [])


class StepTask:
    """Run a step from clock events, for runners where virtual time follows the wall clock."""

    def __init__(
        self,
        interp: Interpreter,
        step: Step,
        done: Callable[[list[str] | None, BaseException | None], None],
    ) -> None:
        self.interp = interp
        self.clock: Clock = interp.sim.clock
        self.step = step
        self.done = done
        self.gen = interp.execute(step)
        self.start_time = self.clock.now
        self._timer: Timer | None = None
        self._until: AdvanceUntil | None = None

    def start(self) -> None:
        self._resume()

    def _resume(self) -> None:
        self._timer = None
        try:
            request = next(self.gen)
        except StopIteration as stop:
            return self._settle(list(stop.value or []))
        except Exception as exc:  # ScriptError, ExpectationFailed, or a bug: report it
            return self._finish(None, exc)
        if isinstance(request, Advance):
            self._timer = self.clock.call_later(request.ticks, self._resume, label="step")
        else:
            self._until = request
            self.clock.after_event.append(self._check_until)
            self._timer = self.clock.call_later(request.limit, self._until_over, label="until")

    def _check_until(self) -> None:
        if self._until is not None and self._until.predicate():
            self._until_over()

    def _until_over(self) -> None:
        if self._check_until in self.clock.after_event:
            self.clock.after_event.remove(self._check_until)
        self._until = None
        if self._timer is not None:
            self._timer.cancel()
        self.clock.call_soon(self._resume, label="step")

    def _settle(self, result: list[str]) -> None:
        # The step ends once the instant has settled: every event due now has run and the LCD
        # it changed is drawn. (Several clients' steps ending at one instant settle in turn.)
        self.clock.call_when_settled(self._settled, result, label="settle")

    def _settled(self, result: list[str]) -> None:
        if self.interp.recorder is not None:
            self.interp.recorder.record(self.step, self.start_time, self.clock.now)
        self._finish(result, None)

    def _finish(self, result: list[str] | None, error: BaseException | None) -> None:
        self.done(result, error)


# What became of one line given to a StepQueue: (text, step, result lines, error). `step` is None
# for a line that is no step (blank, a comment; no error) or does not parse (the ScriptError).
LineDone = Callable[[str, Step | None, list[str] | None, BaseException | None], None]


class StepQueue:
    """Key-script lines run one after another through `StepTask`, for the prompt of `run` and
    the window: a line that comes while a step runs waits its turn, as a second line typed at a
    terminal does. `done` hears what became of each line, in order."""

    def __init__(self, interp: Interpreter, done: LineDone) -> None:
        self.interp = interp
        self.done = done
        self.pending: deque[str] = deque()
        self.busy = False
        self.line_no = 0

    def send(self, text: str) -> None:
        self.pending.append(text)
        self._next()

    def _next(self) -> None:
        while not self.busy and self.pending:
            text = self.pending.popleft()
            self.line_no += 1
            try:
                step = self.interp.parse(text, self.line_no)
            except ScriptError as exc:
                self.done(text, None, None, exc)
                continue
            if step is None:
                self.done(text, None, None, None)
                continue
            self.busy = True
            StepTask(self.interp, step, functools.partial(self._finished, text, step)).start()

    def _finished(self, text: str, step: Step, result: list[str] | None,
                  error: BaseException | None) -> None:  # fmt: skip
        self.busy = False
        self.done(text, step, result, error)
        self._next()


class Recorder:
    """Writes what the operator did as a key script, with `wait` steps from virtual time."""

    ACTIONS = (
        "press",
        "type",
        "hold",
        "adf",
        "paper",
        "fault",
        "clear",
        "power",
        "clock",
        "device",
        "on",
    )

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self.file = open(path, "w", encoding="utf-8", buffering=1)
        self.file.write("# recorded by estudio190f run --record\n")
        self.last = clock.now

    def record(self, step: Step, start: int, end: int) -> None:
        if step.verb not in self.ACTIONS:
            return
        gap = start - self.last
        if gap > 0:
            self.file.write(f"wait {format_duration(gap)}\n")
        text = step.text
        if step.verb == "adf":
            text = "adf load " + " ".join(
                _quote(str(p)) for p in step.args.get("resolved", step.args["paths"])
            )
        self.file.write(text + "\n")
        self.last = end

    def close(self) -> None:
        gap = self.clock.now - self.last
        if gap > 0:
            self.file.write(f"wait {format_duration(gap)}\n")
        self.file.close()


def _quote(text: str) -> str:
    return f'"{text}"' if (" " in text or not text) else text
