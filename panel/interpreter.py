"""The one key-script interpreter behind `replay`, the serial console, the prompt of `run`, the
window and the pytest plugin.

The verbs and their runners are declared in `panel.script` (`VERBS`); this module runs them.
A step's runner is a generator that asks for virtual time to pass (`Advance`, `AdvanceUntil`) and
returns its result lines. Two drivers run it: `run_step` advances the clock directly (replay,
tests: as fast as possible), and `StepTask` resumes it from clock events (the real-time runner,
where the clock follows the wall clock). Either way a step ends when the machine has reacted to
it: every event due at that instant has run. Both enforce the limits on work (docs/scripts.md):
a step may not run past `STEP_TIME`, nor a script past its deadline (`SCRIPT_TIME` under
replay). `StepQueue` runs typed or clicked lines one after another through `StepTask` (the
prompt of `run`, the window). `Recorder` writes what the operator did as a script, without
secrets.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path

from estudio190f.firmware.journal import JournalEntry
from estudio190f.hw.clock import Clock, Timer

from .runner import advance
from .script import (
    VERBS,
    Advance,
    AdvanceUntil,
    ExpectationFailed,
    StepRun,
    format_duration,
    help_lines,
    journal_lines,
    parse_line,
    run_verb,
)
from .sim import Machine, Simulation
from .syntax import SCRIPT_TIME, STEP_TIME, Limit, ScriptError, Step, quote

__all__ = [
    "Advance", "AdvanceUntil", "ExpectationFailed", "Interpreter", "JournalLines", "Recorder",
    "StepQueue", "StepTask", "help_lines", "journal_lines", "refusal_reason", "run_step",
]  # fmt: skip


class Interpreter:
    """Runs steps on a simulation; what the runners of `panel.script` may use (`StepContext`).

    `documents`: the folders `adf load` may read (a console's confinement, `run --documents`);
    None lets it read anywhere (replay, the prompt, the window: the operator's own files).
    `secrets`: values for `type {secret KEY}` (`replay --secret KEY=VALUE`).
    """

    def __init__(
        self,
        sim: Simulation,
        base_dir: Path | None = None,
        *,
        documents: tuple[Path, ...] | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> None:
        self.sim = sim
        self.base_dir = base_dir
        self.documents = tuple(d.resolve() for d in documents) if documents is not None else None
        self.secrets: Mapping[str, str] = dict(secrets or {})
        self.printed_base: dict[str, int] = {n: m.printed_count() for n, m in sim.machines.items()}
        self.on_events: Callable[[bool], None] | None = None
        self.recorder: Recorder | None = None
        # The virtual instant a script must not pass (replay sets it: SCRIPT_TIME from its start).
        self.script_deadline: int | None = None

    def parse(self, text: str, line: int = 0) -> Step | None:
        return parse_line(text, line)

    def execute(self, step: Step) -> StepRun:
        return run_verb(self, step, self.sim.main)

    def watch_journal(self, m: Machine) -> JournalLines:
        return JournalLines(m)

    def snapshot(self, path: Path) -> None:
        self.sim.save(path, self.printed_base)

    def restore(self, path: Path) -> None:
        """The simulation becomes the snapshot's; `expect printed` counts from where the script
        that took it counted, and the script's time limit starts again."""
        restored = self.sim.restore(path)
        self.printed_base.clear()
        self.printed_base.update(restored.printed_base)
        if self.script_deadline is not None:
            self.script_deadline = self.sim.clock.now + SCRIPT_TIME.value

    def deadline(self, start: int) -> tuple[int, Limit]:
        """The instant a step begun at `start` must end by, and the limit that sets it."""
        step_end = start + STEP_TIME.value
        if self.script_deadline is not None and self.script_deadline < step_end:
            return self.script_deadline, SCRIPT_TIME
        return step_end, STEP_TIME


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
        self.machine.firmware.journal.listeners.discard(self._added)


def refusal_reason(error: BaseException) -> str:
    """The reason after `ERR` for a step that failed (the console, the prompt of `run`)."""
    if isinstance(error, ExpectationFailed):
        return f"expectation failed: {error.message}"
    if isinstance(error, ScriptError):
        return error.message
    # no str(error): an unexpected exception's text is not vetted for what may be shown
    return f"internal error ({type(error).__name__})"


def _over(step: Step, limit: Limit, start: int, clock: Clock) -> ScriptError:
    ran = format_duration(clock.now - start)
    return ScriptError(
        f"{step.verb}: stopped after {ran}: over the {limit.name} limit of {limit.shown}",
        step.line,
    )


# -- drivers ------------------------------------------------------------------------------------


def run_step(interp: Interpreter, step: Step) -> list[str]:
    """Run a step to its end, advancing the clock as fast as possible."""
    clock = interp.sim.clock
    start = clock.now
    deadline, limit = interp.deadline(start)
    if interp.recorder is not None:
        interp.recorder.begin(step, _machine_of(interp, step))
    gen = interp.execute(step)
    try:
        request = next(gen)
        while True:
            allowed = deadline - clock.now
            if isinstance(request, Advance):
                if request.ticks > allowed:
                    advance(clock, max(0, allowed))
                    request = gen.throw(_over(step, limit, start, clock))
                    continue
                advance(clock, request.ticks)
            elif not advance(clock, min(request.limit, max(0, allowed)), stop=request.predicate):
                if request.limit > allowed:
                    request = gen.throw(_over(step, limit, start, clock))
                    continue
            request = gen.send(None)
    except StopIteration as stop:
        advance(clock, 0)  # what is due at this instant, served like the rest
        if interp.recorder is not None:
            interp.recorder.record(step, start, clock.now)
        return list(stop.value or [])


def _machine_of(interp: Interpreter, step: Step) -> Machine | None:
    try:
        return interp.sim.machine(step.target)
    except KeyError:
        return None


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
        self.deadline, self.limit = interp.deadline(self.start_time)
        self._timer: Timer | None = None
        self._until: AdvanceUntil | None = None
        self._over = False  # the step's deadline came before its request was met

    def start(self) -> None:
        if self.interp.recorder is not None:
            self.interp.recorder.begin(self.step, _machine_of(self.interp, self.step))
        self._resume()

    def _resume(self) -> None:
        self._timer = None
        try:
            if self._over:
                self._over = False
                request = self.gen.throw(_over(self.step, self.limit, self.start_time, self.clock))
            else:
                request = next(self.gen)
        except StopIteration as stop:
            return self._settle(list(stop.value or []))
        except Exception as exc:  # ScriptError, ExpectationFailed, or a bug: report it
            return self._finish(None, exc)
        allowed = max(0, self.deadline - self.clock.now)
        if isinstance(request, Advance):
            if request.ticks > allowed:
                self._over = True
            ticks = min(request.ticks, allowed)
            self._timer = self.clock.call_later(ticks, self._resume, label="step")
        else:
            self._until = request
            if request.limit > allowed:
                self._over = True
            self.clock.after_event.append(self._check_until)
            limit = min(request.limit, allowed)
            self._timer = self.clock.call_later(limit, self._until_over, label="until")

    def _check_until(self) -> None:
        if self._until is not None and self._until.predicate():
            self._over = False  # it held in time
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
        # it changed is drawn. Steps of several clients ending at one instant settle in turn
        # (none waits for another's check to be gone).
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


# -- recording ----------------------------------------------------------------------------------

# Keys that edit an entry; pressed at a masked entry they are the secret itself.
_ENTRY_KEYS = frozenset("0123456789*#") | {"CLEAR", "LEFT", "RIGHT"}


def _note_key(machine: Machine, keys: list[tuple[str, str | None]], key: str) -> None:
    """A key the panel got (before the screen takes it), with the masked entry it lands in."""
    keys.append((key, masked_entry(machine)))


def masked_entry(m: Machine) -> str | None:
    """The secret setting whose masked entry the screen shows (a password being typed), or None."""
    mode = m.firmware.panel.entry_mode()
    return mode.secret if mode is not None and mode.secret else None


class Recorder:
    """Writes what the operator did as a key script, with `wait` steps from virtual time.

    No secret is written: text typed, or keys pressed, at a masked entry (a password) is written
    as one `type {secret KEY}` step, which replay fills from `--secret KEY=VALUE` or the
    environment (docs/scripts.md, Secrets). Lines starting with `#` note where that happened.
    """

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self.file = open(path, "w", encoding="utf-8", buffering=1)
        self.file.write("# recorded by estudio190f run --record\n")
        self.last = clock.now
        self._secret_open: str | None = None  # a masked entry whose placeholder is written
        # id(step) -> its machine, the keys it got (each with the masked entry it was pressed
        # at), and the listener that notes them
        self._keys: dict[int, tuple[Machine, list[tuple[str, str | None]], Callable[[str], None]]]
        self._keys = {}

    def begin(self, step: Step, machine: Machine | None) -> None:
        """A step starts: watch the keys it presses, and whether each lands in a masked entry."""
        if machine is not None and step.verb in ("press", "type", "on"):
            keys: list[tuple[str, str | None]] = []
            listener = functools.partial(_note_key, machine, keys)
            self._keys[id(step)] = (machine, keys, listener)
            machine.firmware.panel.key_listeners.add(listener)

    def record(self, step: Step, start: int, end: int) -> None:
        keys: list[tuple[str, str | None]] = []
        watched = self._keys.pop(id(step), None)
        if watched is not None:
            watched_machine, keys, listener = watched
            watched_machine.firmware.panel.key_listeners.discard(listener)
        declared = VERBS.get(step.verb)
        if declared is None or not declared.records:
            return
        text = self._text(step, keys)
        if text is None:
            self.last = end
            return
        gap = start - self.last
        if gap > 0:
            self.file.write(f"wait {format_duration(gap)}\n")
        self.file.write(text + "\n")
        self.last = end

    def _text(self, step: Step, keys: list[tuple[str, str | None]]) -> str | None:
        """The line(s) to write for `step`, or None when a placeholder written stands for it."""
        inner = step.inner if step.verb == "on" and step.inner is not None else step
        prefix = f"on {step.target} " if inner is not step else ""
        secret = next((masked for _, masked in keys if masked is not None), None)
        if inner.verb == "type" and ("secret" in inner.args or secret is not None):
            key = inner.args.get("secret") or secret
            self._secret_open = key
            return f"{prefix}type {{secret {key}}}"
        if inner.verb == "press" and secret is not None:
            # entry keys pressed at a masked entry are the secret: one placeholder for a run of
            # them; the other keys (FUNCTION, SET, STOP, ...) are written as they were pressed
            lines: list[str] = []
            run: list[str] = []
            for key, masked in keys:
                if masked is None or key not in _ENTRY_KEYS:
                    run.append(key)
                    self._secret_open = None
                    continue
                if run:
                    lines.append(f"{prefix}press {' '.join(run)}")
                    run = []
                if self._secret_open != masked:
                    lines.append(
                        f"# keys pressed at a masked entry\n{prefix}type {{secret {masked}}}"
                    )
                    self._secret_open = masked
            if run:
                lines.append(f"{prefix}press {' '.join(run)}")
            return "\n".join(lines) or None
        self._secret_open = None
        if inner.verb == "adf":
            paths = inner.args.get("resolved", inner.args["paths"])
            return prefix + "adf load " + " ".join(_path_word(str(p)) for p in paths)
        return step.text

    def close(self) -> None:
        gap = self.clock.now - self.last
        if gap > 0:
            self.file.write(f"wait {format_duration(gap)}\n")
        self.file.close()


def _path_word(text: str) -> str:
    return quote(text) if (not text or any(c.isspace() or c in "\"'\\#" for c in text)) else text
