"""The key-script verbs, each declared once (DESIGN.md 3.2).

Every verb is one `@verb(...)` declaration on its runner: its syntax, its help line, its parser
and the runner itself, plus what kind of step it is (recorded by `run --record`, console only,
allowed after `on NAME`). The parser (`parse_line`, `parse_script`), the interpreter
(`panel.interpreter`, which only drives runners), `help`, and the verb table of docs/scripts.md
(`scripts/make_docs.py`) all read the one table, `VERBS`. The sub-forms of `expect` and `until`
(`lcd`, `led`, `state`, `printed`, `journal`) are declared the same way in `CHECKS`.

A runner returns its result lines at once, or, for a step that takes virtual time, is a generator
that asks for time to pass (`Advance`, `AdvanceUntil`) and then returns them; the drivers in
`panel.interpreter` run it. Syntax pieces (quoting, durations, matchers, limits) are in
`panel.syntax`.
"""

from __future__ import annotations

import os
import re
import stat
import textwrap
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from estudio190f.firmware.control_panel import PRESS_TIME
from estudio190f.firmware.entry import EntryMode, key_for_char
from estudio190f.firmware.t30.habits import habits as far_end_habits
from estudio190f.hw.faults import FAULT_NAMES, FaultNotAvailable
from estudio190f.hw.operator_panel import LED_NAMES, LED_STATES
from estudio190f.hw.printer import PaperLimit
from estudio190f.hw.rtc import RtcRange, check_date
from estudio190f.hw.scanner import FeederFull

from .sim import BOOT_LIMIT, FarEnd, Machine, Simulation
from .syntax import (
    SCRIPT_SIZE,
    Matcher,
    RegexTooSlow,
    ScriptError,
    Step,
    check_keys,
    format_duration,
    parse_duration,
    parse_matcher,
    quote,
    split_words,
    strip_comment,
    strip_key_comment,
    unquote,
)

__all__ = [
    "CHECKS", "VERBS", "Advance", "AdvanceUntil", "ExpectationFailed", "ScriptError", "Step",
    "StepContext", "StepRun", "Verb", "format_duration", "help_lines", "journal_lines",
    "parse_duration", "parse_line", "parse_script", "quote", "verb_table",
]  # fmt: skip

# -- what runners ask of their driver ---------------------------------------------------------


@dataclass
class Advance:
    """Let `ticks` of virtual time pass."""

    ticks: int


@dataclass
class AdvanceUntil:
    """Run until `predicate` holds, at most `limit` ticks."""

    predicate: Callable[[], bool]
    limit: int


Request = Advance | AdvanceUntil
StepRun = Generator[Request, None, list[str]]
Args = dict[str, Any]


class JournalWatch(Protocol):
    """A journal's lines kept while an `until journal` waits (`interpreter.JournalLines`)."""

    def lines(self) -> list[str]: ...

    def close(self) -> None: ...


class StepContext(Protocol):
    """What a runner may use of the interpreter that runs it."""

    sim: Simulation
    base_dir: Path | None
    documents: tuple[Path, ...] | None  # folders `adf load` may read; None: anywhere
    secrets: Mapping[str, str]  # values for `type {secret KEY}`
    printed_base: dict[str, int]
    on_events: Callable[[bool], None] | None

    def watch_journal(self, m: Machine) -> JournalWatch: ...

    def snapshot(self, path: Path) -> None:
        """Save the whole simulation to `path` (with what `expect printed` counts from)."""

    def restore(self, path: Path) -> None:
        """Replace the simulation by the snapshot at `path`."""


Parser = Callable[[str, int], Args]
Runner = Callable[[StepContext, Step, Machine], StepRun | list[str]]

# -- an expectation that did not hold ---------------------------------------------------------

LAST_EVENTS = 8  # events shown in a failure report


class ExpectationFailed(Exception):
    """An `expect` or `until` that did not hold, with what the machine showed at that moment."""

    def __init__(self, step: Step, message: str, machine: Machine) -> None:
        super().__init__(message)
        self.step = step
        self.message = message
        self.lcd = machine.lcd_lines()
        self.leds = machine.leds()
        self.state = machine.state()
        self.time = machine.board.rtc.now().strftime("%Y-%m-%d %H:%M:%S")
        self.machine = machine.name
        self.events = [format_event(e) for e in list(machine.board.log.events)[-LAST_EVENTS:]]

    def report(self) -> str:
        leds = ", ".join(f"{k} {v}" for k, v in self.leds.items())
        who = f" on {self.machine}" if self.machine != "main" else ""
        lines = [
            f"  expected{who}: {self.message}",
            f"  LCD   |{self.lcd[0]:<20}|",
            f"        |{self.lcd[1]:<20}|",
            f"  LEDs  {leds}",
            f"  state {self.state}   time {self.time}",
        ]
        if self.events:
            lines.append("  last events:")
            lines += [f"    {e}" for e in self.events]
        return "\n".join(lines)


def format_event(event: Mapping[str, Any]) -> str:
    """One event as a short line: virtual time, source, kind, fields."""
    fields = " ".join(
        f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}"
        for k, v in event.items()
        if k not in ("t", "src", "ev", "machine")
    )
    text = f"{event.get('t', '')} {event.get('src', '')} {event.get('ev', '')} {fields}".rstrip()
    return text if len(text) <= 120 else text[:117] + "..."


# -- the declarations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Verb:
    """One verb of the language."""

    name: str
    forms: tuple[str, ...]  # its syntax, one line per form, as `help` and the docs show it
    help: tuple[str, ...]  # what each form does
    parse: Parser  # the rest of the line (comment removed) -> arguments; ScriptError if wrong
    run: Runner
    records: bool = False  # an operator action: `run --record` writes it
    console_only: bool = False  # the console and the prompt of `run`, not scripts
    remote: bool = True  # may follow `on NAME`
    comment: Callable[[str], str] = strip_comment


VERBS: dict[str, Verb] = {}


def verb(
    syntax: str | tuple[str, ...],
    help: str | tuple[str, ...],
    parse: Parser | None = None,
    *,
    records: bool = False,
    console_only: bool = False,
    remote: bool = True,
    comment: Callable[[str], str] = strip_comment,
) -> Callable[[Runner], Runner]:
    """Declare a verb on its runner; the verb's name is the first word of its syntax."""
    forms = (syntax,) if isinstance(syntax, str) else syntax
    helps = (help,) if isinstance(help, str) else help
    if len(helps) != len(forms):
        raise ValueError(f"{forms[0]}: one help text per form")

    def register(run: Runner) -> Runner:
        name = forms[0].split()[0]
        if name in VERBS:
            raise ValueError(f"verb {name} declared twice")
        VERBS[name] = Verb(
            name, forms, helps, parse or _no_args(name), run, records, console_only, remote,
            comment,
        )  # fmt: skip
        return run

    return register


@dataclass(frozen=True)
class Check:
    """One thing `expect` and `until` can check (`expect lcd ...`, `until led ...`)."""

    name: str
    syntax: str  # after `expect`
    help: str
    parse: Callable[[str, int], tuple[Args, str]]  # -> (arguments, what follows)
    holds: Callable[[StepContext, Args, Machine, JournalWatch | None], tuple[bool, str]]


CHECKS: dict[str, Check] = {}


def check(
    syntax: str, help: str, parse: Callable[[str, int], tuple[Args, str]]
) -> Callable[[Callable[..., tuple[bool, str]]], Callable[..., tuple[bool, str]]]:
    def register(holds: Callable[..., tuple[bool, str]]) -> Callable[..., tuple[bool, str]]:
        name = syntax.split()[0]
        CHECKS[name] = Check(name, syntax, help, parse, holds)
        return holds

    return register


# -- argument parsers ----------------------------------------------------------------------------


def _no_args(name: str) -> Parser:
    def parse(rest: str, line: int) -> Args:
        if rest:
            raise ScriptError(f"{name} takes no arguments", line)
        return {}

    return parse


def _on_off(name: str) -> Parser:
    def parse(rest: str, line: int) -> Args:
        if rest not in ("on", "off"):
            raise ScriptError(f"{name} takes on or off", line)
        return {"on": rest == "on"}

    return parse


def _count(what: str, rest: str, line: int) -> int:
    if not re.fullmatch(r"\d+", rest):
        raise ScriptError(f"{what} needs a sheet count, got {rest[:40]!r}", line)
    if len(rest) > 9:
        raise ScriptError(
            f"{what} needs a sheet count of at most 9 digits, got {rest[:40]!r}", line
        )
    return int(rest)


def _fault_name(rest: str, line: int) -> Args:
    if rest not in FAULT_NAMES:
        raise ScriptError(f"no fault named {rest[:40]!r} (known: {', '.join(FAULT_NAMES)})", line)
    return {"fault": rest}


# -- running helpers -----------------------------------------------------------------------------


def press_key(m: Machine, key: str) -> StepRun:
    """One key press: made, held 100 ms, released (also when the step is stopped meanwhile)."""
    m.press(key)
    try:
        yield Advance(PRESS_TIME)
    finally:
        m.release(key)
    return []


def journal_lines(m: Machine) -> list[str]:
    """The machine's journal, one line an entry, as `journal?` shows it."""
    return [e.line() for e in m.firmware.journal.entries()]


def printed_since(ctx: StepContext, m: Machine) -> int:
    return m.printed_count() - ctx.printed_base.get(m.name, 0)


def run_verb(ctx: StepContext, step: Step, m: Machine) -> StepRun:
    """Run one step on machine `m`; what the machine refuses becomes a ScriptError."""
    try:
        outcome = VERBS[step.verb].run(ctx, step, m)
        if isinstance(outcome, list):  # a step that takes no time
            return outcome
        return (yield from outcome)
    except RegexTooSlow as exc:
        raise ScriptError(exc.message, step.line) from None
    except FaultNotAvailable as exc:
        raise ScriptError(str(exc), step.line) from None
    except KeyError as exc:
        raise ScriptError(str(exc.args[0]) if exc.args else str(exc), step.line) from None


# -- the verbs -----------------------------------------------------------------------------------


@verb("clock YYYY-MM-DD HH:MM", "set the machine's date and time", records=True,
      parse=lambda rest, line: {"when": _parse_clock(rest, line)})  # fmt: skip
def _clock(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    m.set_clock(step.args["when"])
    return []


def _parse_clock(rest: str, line: int) -> datetime:
    try:
        when = datetime.strptime(" ".join(rest.split()), "%Y-%m-%d %H:%M")
    except ValueError:
        raise ScriptError(
            f"clock needs a date and time like 2026-11-28 09:00, got {rest[:40]!r}", line
        ) from None
    try:
        return check_date(when)
    except RtcRange as exc:
        raise ScriptError(f"clock: {exc}", line) from None


def _parse_adf(rest: str, line: int) -> Args:
    sub, _, paths = rest.partition(" ")
    if sub != "load":
        raise ScriptError("adf takes: adf load PATH [PATH ...]", line)
    words = split_words(paths, line)
    if not words:
        raise ScriptError("adf load needs at least one path", line)
    return {"paths": words}


@verb("adf load PATH [PATH ...]", "put pages in the feeder (PNG/PBM/JPEG/TIFF, multi-page TIFF)",
      _parse_adf, records=True)  # fmt: skip
def _adf(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    from .documents import DocumentRefused, check_document  # Pillow: when documents come

    paths = [document_path(ctx, raw, step.line) for raw in step.args["paths"]]
    step.args["resolved"] = paths
    capacity = m.firmware.settings.number("feeder.capacity")
    pages = 0
    try:
        for path in paths:
            # every file checked from its header before anything is decoded
            pages += check_document(path)
            if pages > capacity:
                raise DocumentRefused(
                    f"{pages} pages or more; the feeder holds {capacity} sheets "
                    "(setting feeder.capacity)"
                )
        m.load_documents(paths)
    except DocumentRefused as exc:
        raise ScriptError(f"adf load: {exc}", step.line) from None
    except FeederFull as exc:  # with what is in the feeder already: nothing was loaded
        raise ScriptError(f"adf load: {exc}", step.line) from None
    except OSError as exc:
        raise ScriptError(
            f"adf load: cannot read {exc.filename}: {exc.strerror}", step.line
        ) from None
    return []


def document_path(ctx: StepContext, raw: str, line: int, what: str = "adf load") -> Path:
    """The file an `adf load` path names: relative to the script's folder, then the current
    folder (then the document folders); a console may read only inside its document folders."""
    path = Path(raw).expanduser()
    bases: list[Path] = []
    if not path.is_absolute():
        bases = [ctx.base_dir] if ctx.base_dir is not None else []
        bases += [Path.cwd(), *(ctx.documents or ())]
    candidates = [b / path for b in bases] if bases else [path]
    found = next((c for c in candidates if os.path.lexists(c)), None)
    if found is None:
        raise ScriptError(f"{what}: no such file {raw!r}", line)
    real = found.resolve()
    _confine(ctx, real, raw, line, what)
    try:
        mode = os.stat(real).st_mode
    except OSError as exc:
        raise ScriptError(f"{what}: cannot read {raw!r}: {exc.strerror}", line) from None
    if stat.S_ISDIR(mode):
        raise ScriptError(f"{what}: {raw!r} is a directory, not a document", line)
    if not stat.S_ISREG(mode):
        raise ScriptError(f"{what}: {raw!r} is not a regular file", line)
    return real


@verb("paper COUNT", "sheets in the cassette", records=True,
      parse=lambda rest, line: {"count": _count("paper", rest, line)})  # fmt: skip
def _paper(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    try:
        m.load_paper(step.args["count"])
    except PaperLimit as exc:
        raise ScriptError(f"paper: {exc}", step.line) from None
    return []


def _parse_keys(rest: str, line: int) -> Args:
    keys = rest.split()
    if not keys:
        raise ScriptError("press needs at least one key", line)
    check_keys(keys, line)
    return {"keys": keys}


@verb("press KEY [KEY ...]", "press keys by name (docs/panel.md), 100 ms each", _parse_keys,
      records=True, comment=strip_key_comment)  # fmt: skip
def _press(ctx: StepContext, step: Step, m: Machine) -> StepRun:
    for key in step.args["keys"]:
        yield from press_key(m, key)
    return []


_SECRET = re.compile(r"\{secret ([a-z0-9_.-]{1,64})\}")


def _parse_type(rest: str, line: int) -> Args:
    if not rest:
        raise ScriptError("type needs text", line)
    if rest.startswith('"'):
        return {"text": unquote(rest, line)}
    m = _SECRET.fullmatch(rest)
    if m:
        return {"secret": m.group(1)}
    return {"text": rest}


@verb(("type TEXT", "type {secret KEY}"),
      ("keypad characters, wherever pressing those keys works; letters where the screen "
       "takes text", "type a secret given to replay (--secret KEY=VALUE, see Secrets)"),
      _parse_type, records=True)  # fmt: skip
def _type(ctx: StepContext, step: Step, m: Machine) -> StepRun:
    a = step.args
    text = a["text"] if "secret" not in a else secret_value(ctx, a["secret"], step.line)
    previous = None
    for ch in text:
        # The screen is asked again before each character: the first digit in FAX standby
        # opens number entry, and the rest goes there.
        mode = m.firmware.panel.entry_mode()
        if mode is None:
            raise ScriptError(
                f"type: this screen takes no text or numbers (state {m.state()})", step.line
            )
        if mode.kind == "digits":
            previous = None
            yield from press_key(m, _digit_key(step, mode, ch))
            continue
        try:
            key, taps = key_for_char(ch)
        except ValueError as exc:
            raise ScriptError(f"type: {exc}", step.line) from None
        if ch.isalpha() and ch.islower() != mode.lower:
            yield from press_key(m, "#")
            previous = None
        if key == previous:
            yield from press_key(m, "RIGHT")
        for _ in range(taps):
            yield from press_key(m, key)
        previous = key
    return []


def _digit_key(step: Step, mode: EntryMode, ch: str) -> str:
    if ch in mode.keys:
        return ch
    if ch in "Pp," and mode.pause:
        return "REDIAL_PAUSE"
    what = "digits" if mode.keys.isdigit() else "digits, * and #"
    pause = " and P for a pause" if mode.pause else ""
    raise ScriptError(f"type: {ch!r} cannot be entered here ({what}{pause})", step.line)


def secret_environment_name(key: str) -> str:
    """The environment variable that gives `{secret KEY}`: ESTUDIO190F_SECRET_SMTP_PASSWORD."""
    return "ESTUDIO190F_SECRET_" + re.sub(r"[^A-Z0-9]", "_", key.upper())


def secret_value(ctx: StepContext, key: str, line: int) -> str:
    if key in ctx.secrets:
        return ctx.secrets[key]
    env = secret_environment_name(key)
    if env in os.environ:
        return os.environ[env]
    raise ScriptError(
        f"type {{secret {key}}}: no value given; use replay --secret {key}=VALUE or set {env}",
        line,
    )


def _parse_hold(rest: str, line: int) -> Args:
    parts = rest.split()
    if len(parts) != 2:
        raise ScriptError("hold takes: hold KEY DURATION", line)
    check_keys(parts[:1], line)
    return {"key": parts[0], "duration": parse_duration(parts[1], line)}


@verb("hold KEY DURATION", "hold a key down", _parse_hold, records=True,
      comment=lambda text: strip_key_comment(text, hold=True))  # fmt: skip
def _hold(ctx: StepContext, step: Step, m: Machine) -> StepRun:
    m.press(step.args["key"])
    try:
        yield Advance(step.args["duration"])
    finally:
        m.release(step.args["key"])
    return []


@verb("wait DURATION", "let virtual time pass: 500ms, 5s, 2m, 1h (decimals allowed: 1.5s)",
      parse=lambda rest, line: {"duration": parse_duration(rest, line)})  # fmt: skip
def _wait(ctx: StepContext, step: Step, m: Machine) -> StepRun:
    yield Advance(step.args["duration"])
    return []


# -- what expect and until check --------------------------------------------------------------


def _parse_lcd(rest: str, line: int) -> tuple[Args, str]:
    matcher, rest = parse_matcher(rest, line)
    m = re.match(r"^line\s+(\S+)\s*(.*)$", rest)
    which = None
    if m:
        if m.group(1) not in ("1", "2"):
            raise ScriptError(f"line must be 1 or 2, not {m.group(1)[:40]!r}", line)
        which, rest = int(m.group(1)), m.group(2)
    return {"matcher": matcher, "lcd_line": which}, rest


@check("lcd TEXT|/REGEX/ [line 1|2]", "either LCD line (or the one given) matches", _parse_lcd)
def _lcd_holds(ctx: StepContext, a: Args, m: Machine, watch: JournalWatch | None) -> tuple[bool, str]:  # fmt: skip
    lines = m.lcd_lines()
    which = a["lcd_line"]
    candidates = [lines[which - 1]] if which else lines
    where = f" on line {which}" if which else ""
    matcher: Matcher = a["matcher"]
    return any(matcher.matches(x) for x in candidates), f"LCD shows {matcher}{where}"


def _parse_led(rest: str, line: int) -> tuple[Args, str]:
    parts = rest.split()
    if len(parts) < 2 or parts[0] not in LED_NAMES:
        raise ScriptError(f"led takes an LED name ({', '.join(LED_NAMES)}) and on|off|blink", line)
    if parts[1] not in LED_STATES:
        raise ScriptError(f"LED state must be on, off or blink, not {parts[1][:40]!r}", line)
    return {"led": parts[0], "state": parts[1]}, " ".join(parts[2:])


@check("led NAME on|off|blink", "the LED is in that state", _parse_led)
def _led_holds(ctx: StepContext, a: Args, m: Machine, watch: JournalWatch | None) -> tuple[bool, str]:  # fmt: skip
    actual = m.leds()[a["led"]]
    return actual == a["state"], f"LED {a['led']} {a['state']} (it is {actual})"


def _parse_state(rest: str, line: int) -> tuple[Args, str]:
    if rest.startswith('"'):
        matcher, rest = parse_matcher(rest, line)
        return {"text": matcher.text}, rest
    token, _, rest = rest.partition(" ")
    if not token:
        raise ScriptError("state needs TEXT", line)
    return {"text": token}, rest


@check("state TEXT", "TEXT is part of the firmware state path", _parse_state)
def _state_holds(ctx: StepContext, a: Args, m: Machine, watch: JournalWatch | None) -> tuple[bool, str]:  # fmt: skip
    actual = m.state()
    return a["text"] in actual, f"state contains {a['text']!r} (it is {actual})"


def _parse_printed(rest: str, line: int) -> tuple[Args, str]:
    token, _, rest = rest.partition(" ")
    return {"count": _count("printed", token, line)}, rest


@check("printed COUNT", "COUNT sheets reached the output tray since the script began",
       _parse_printed)  # fmt: skip
def _printed_holds(ctx: StepContext, a: Args, m: Machine, watch: JournalWatch | None) -> tuple[bool, str]:  # fmt: skip
    count = printed_since(ctx, m)
    return count == a["count"], f"{a['count']} sheets printed (there are {count})"


def _parse_journal(rest: str, line: int) -> tuple[Args, str]:
    matcher, rest = parse_matcher(rest, line)
    return {"matcher": matcher}, rest


@check("journal TEXT|/REGEX/", "a journal line matches", _parse_journal)
def _journal_holds(ctx: StepContext, a: Args, m: Machine, watch: JournalWatch | None) -> tuple[bool, str]:  # fmt: skip
    lines = watch.lines() if watch is not None else journal_lines(m)
    matcher: Matcher = a["matcher"]
    return any(matcher.matches(x) for x in lines), f"journal has {matcher}"


def _parse_expectation(verb_name: str) -> Parser:
    def parse(rest: str, line: int) -> Args:
        what, _, rest = rest.partition(" ")
        chk = CHECKS.get(what)
        if chk is None:
            raise ScriptError(f"{verb_name} takes {', '.join(CHECKS)}, not {what[:40]!r}", line)
        args, rest = chk.parse(rest.strip(), line)
        args["what"] = what
        rest = rest.strip()
        if verb_name == "until":
            m = re.match(r"^within\s+(\S+)$", rest)
            if not m:
                raise ScriptError("until needs: within DURATION", line)
            args["within"] = parse_duration(m.group(1), line)
        elif rest:
            raise ScriptError(f"unexpected {rest[:40]!r} at the end of the line", line)
        return args

    return parse


def _holds(ctx: StepContext, step: Step, m: Machine, watch: JournalWatch | None = None) -> tuple[bool, str]:  # fmt: skip
    return CHECKS[step.args["what"]].holds(ctx, step.args, m, watch)


@verb(
    tuple(f"expect {c.syntax}" for c in CHECKS.values()),
    tuple(f"fail unless {c.help}" for c in CHECKS.values()),
    _parse_expectation("expect"),
)
def _expect(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    ok, message = _holds(ctx, step, m)
    if not ok:
        raise ExpectationFailed(step, message, m)
    return []


@verb(
    f"until {'|'.join(CHECKS)} ... within DURATION",
    "run until it holds; fail at the limit",
    _parse_expectation("until"),
)
def _until(ctx: StepContext, step: Step, m: Machine) -> StepRun:
    a = step.args
    if _holds(ctx, step, m)[0]:
        return []
    watch = ctx.watch_journal(m) if a["what"] == "journal" else None
    try:
        yield AdvanceUntil(lambda: _holds(ctx, step, m, watch)[0], a["within"])
    finally:
        if watch is not None:
            watch.close()
    ok, message = _holds(ctx, step, m)
    if not ok:
        raise ExpectationFailed(step, f"{message} within {format_duration(a['within'])}", m)
    return []


@verb("fault NAME", "set a fault condition: " + ", ".join(FAULT_NAMES), _fault_name,
      records=True)  # fmt: skip
def _fault(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    m.fault(step.args["fault"], True)
    return []


@verb("clear NAME", "remove it (the operator's fix)", _fault_name, records=True)
def _clear(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    m.fault(step.args["fault"], False)
    return []


@verb("power on|off", "switch the machine on or off", _on_off("power"), records=True)
def _power(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    m.power(step.args["on"])
    return []


# Far ends a script may put on the line besides our machines: `device NAME NUMBER KIND`.
T38_DEVICE = "spandsp-t38"  # SpanDSP's T.38 terminal (panel/t38_device.py)
DEVICE_KINDS = (
    "spandsp",
    T38_DEVICE,
)  # "spandsp": its audio fax terminal (panel/spandsp_device.py)


def _parse_device(rest: str, line: int) -> Args:
    parts = rest.split()
    if len(parts) < 2 or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,31}", parts[0]):
        raise ScriptError(
            "device takes: device NAME NUMBER [KIND] [habit=NAME[,NAME...]] (a name of letters, "
            "digits, - and _, at most 32)",
            line,
        )
    if not re.fullmatch(r"[0-9]{1,20}", parts[1]):
        raise ScriptError(f"device number must be 1 to 20 digits, got {parts[1][:40]!r}", line)
    if parts[0] == "main":
        raise ScriptError("the name main is the machine under test", line)
    extras = parts[2:]
    kind = "machine"
    if extras and extras[0] in DEVICE_KINDS:
        kind = extras.pop(0)
    habits: list[str] = []
    for extra in extras:
        if not extra.startswith("habit="):
            known = ", ".join(DEVICE_KINDS)
            raise ScriptError(
                f"device: unexpected {extra[:40]!r} (a kind: {known}; or habit=NAME[,NAME...])",
                line,
            )
        if kind != "machine":
            raise ScriptError(
                f"device: a {kind} device has no habits (habits are for simulated machines)", line
            )
        names = [n for n in extra.removeprefix("habit=").split(",") if n]
        try:
            far_end_habits(names)
        except ValueError as exc:
            raise ScriptError(f"device: {exc}", line) from None
        habits.extend(names)
    return {"name": parts[0], "number": parts[1], "habits": habits, "kind": kind}


@verb(("device NAME NUMBER [habit=NAME[,NAME...]]", "device NAME NUMBER spandsp|spandsp-t38"),
      ("boot another machine on the same line (a far end with habits: docs/t30.md)",
       "SpanDSP's own fax terminal at NUMBER: spandsp on the audio line (docs/audio.md), "
       "spandsp-t38 over T.38 (docs/t38.md); it answers and files what it receives under "
       "OUT/NAME/received/; `on NAME send NUMBER FILE` makes it send"),
      _parse_device, records=True, remote=False)  # fmt: skip
def _device(ctx: StepContext, step: Step, m: Machine) -> StepRun:
    name, number = step.args["name"], step.args["number"]
    sim = ctx.sim
    if name in sim.machines or name in sim.devices:
        raise ScriptError(f"a machine named {name!r} exists already", step.line)
    if step.args.get("kind") == T38_DEVICE:
        from estudio190f.hw.spandsp import SpanDspMissing

        try:
            sim.add_t38_device(name, number)
        except (ValueError, SpanDspMissing) as exc:
            raise ScriptError(f"device {name}: {exc}", step.line) from None
        return []
    if step.args.get("kind") == "spandsp":
        _spandsp_device(ctx, step)
        return []
    try:
        machine = sim.add_machine(name, number=number, boot=False)
    except ValueError as exc:
        raise ScriptError(f"device {name}: {exc}", step.line) from None
    machine.firmware.fax.habits = tuple(step.args.get("habits", ()))
    machine.power(True)
    yield AdvanceUntil(machine.ready, BOOT_LIMIT)
    if not machine.ready():
        raise ScriptError(f"device {name} did not start", step.line)
    machine.set_clock(sim.main.board.rtc.now())
    ctx.printed_base[name] = machine.printed_count()
    return []


def _spandsp_device(ctx: StepContext, step: Step) -> None:
    from estudio190f.hw.spandsp import SpanDspMissing

    from .spandsp_device import SpanDspDevice  # SpanDSP: only for scripts that use it

    name, number = step.args["name"], step.args["number"]
    sim = ctx.sim
    if sim.line_mode != "audio":
        raise ScriptError(
            f"device {name} {number} spandsp needs the audio line (replay --line audio, or "
            '[line] mode = "audio" in the settings file)',
            step.line,
        )
    if number in sim.network.lines or number in sim.network.routes:
        raise ScriptError(f"device {name}: number {number} is taken on this network", step.line)
    try:
        sim.devices[name] = SpanDspDevice(sim, name, number)
    except SpanDspMissing as exc:
        raise ScriptError(f"device {name}: {exc}", step.line) from None


def _parse_on(rest: str, line: int) -> Args:
    name, _, inner_text = rest.strip().partition(" ")
    if not name or not inner_text.strip():
        raise ScriptError("on needs a machine name and a step: on NAME STEP", line)
    inner = _parse(inner_text, line)
    if inner is None:
        raise ScriptError("on needs a step after the machine name", line)
    if not VERBS[inner.verb].remote:
        raise ScriptError(f"{inner.verb} cannot be run on another machine", line)
    return {"name": name, "inner": inner}


@verb("on NAME STEP", "run one step on that machine", _parse_on, records=True, remote=False,
      comment=lambda text: text.strip())  # fmt: skip
def _on(ctx: StepContext, step: Step, m: Machine) -> StepRun:
    inner = step.inner
    assert inner is not None
    inner.line = step.line
    device = ctx.sim.devices.get(step.target or "")
    if device is not None:
        return _device_step(ctx, inner, step.target or "", device)
    machine = ctx.sim.machine(step.target)
    return (yield from run_verb(ctx, inner, machine))


def _parse_snapshot_file(verb_name: str) -> Parser:
    def parse(rest: str, line: int) -> Args:
        words = split_words(rest, line)
        if len(words) != 1:
            raise ScriptError(f"{verb_name} takes one file: {verb_name} FILE", line)
        return {"file": words[0]}

    return parse


def snapshot_path(ctx: StepContext, raw: str, line: int, verb_name: str) -> Path:
    """The file a `snapshot` or `restore` names: relative to the script's folder (the folder the
    console or `run` started in); a console may use only its document folders."""
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = (ctx.base_dir or Path.cwd()) / path
    real = path.resolve()
    _confine(ctx, real, raw, line, verb_name)
    return real


def _confine(ctx: StepContext, real: Path, raw: str, line: int, what: str) -> None:
    """A console client may reach files only inside its document folders (`run --documents`)."""
    if ctx.documents is not None and not any(real.is_relative_to(d) for d in ctx.documents):
        folders = ", ".join(str(d) for d in ctx.documents)
        raise ScriptError(
            f"{what}: {raw!r} is outside the document folders ({folders}; "
            "run --documents DIR adds one)",
            line,
        )


@verb("snapshot FILE", "save the whole simulation to FILE: every machine, the line, the clock "
      "(docs/snapshots.md)", _parse_snapshot_file("snapshot"), remote=False,
      records=True)  # fmt: skip
def _snapshot(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    from .snapshot import SnapshotError

    path = snapshot_path(ctx, step.args["file"], step.line, "snapshot")
    try:
        ctx.snapshot(path)
    except SnapshotError as exc:
        raise ScriptError(f"snapshot: {exc}", step.line) from None
    return []


@verb("restore FILE", "go on from the snapshot in FILE: the simulation as it was then",
      _parse_snapshot_file("restore"), remote=False, records=True)  # fmt: skip
def _restore(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    from .snapshot import SnapshotError

    path = snapshot_path(ctx, step.args["file"], step.line, "restore")
    try:
        ctx.restore(path)
    except SnapshotError as exc:
        raise ScriptError(f"restore: {exc}", step.line) from None
    return []


def _device_step(ctx: StepContext, inner: Step, name: str, device: FarEnd) -> list[str]:
    """A step on a far end that is not one of our machines: it takes `send` only."""
    if inner.verb != "send":
        raise ScriptError(
            f"{name} is a far-end device, not a machine: it takes only "
            f"`on {name} send NUMBER FILE`, not {inner.verb}",
            inner.line,
        )
    document = document_path(ctx, inner.args["file"], inner.line, "send")
    try:
        device.send(inner.args["number"], document)
    except (RuntimeError, ValueError) as exc:
        raise ScriptError(f"send: {exc}", inner.line) from None
    return []


def _parse_send(rest: str, line: int) -> Args:
    words = split_words(rest, line)
    if len(words) != 2 or not re.fullmatch(r"[0-9*#,]{1,40}", words[0]):
        raise ScriptError("send takes: on NAME send NUMBER FILE (a TIFF file)", line)
    return {"number": words[0], "file": words[1]}


@verb("send NUMBER FILE", "after on NAME, for a SpanDSP device: call NUMBER and send FILE (TIFF)",
      _parse_send)  # fmt: skip
def _send(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    raise ScriptError(
        "send is for a SpanDSP device: on NAME send NUMBER FILE (a machine sends from its panel)",
        step.line,
    )


@verb("events on|off", "push '! ' lines as things happen", _on_off("events"),
      console_only=True, remote=False)  # fmt: skip
def _events(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    if ctx.on_events is None:
        raise ScriptError("events is a console command", step.line)
    ctx.on_events(step.args["on"])
    return []


@verb("help", "this list", console_only=True, remote=False)
def _help(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    return help_lines()


# queries


@verb("lcd?", "the two LCD lines")
def _lcd_q(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    return m.lcd_lines()


@verb("led?", "each LED: NAME on|off|blink")
def _led_q(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    return [f"{k} {v}" for k, v in m.leds().items()]


@verb("state?", "the firmware state path")
def _state_q(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    return [m.state()]


@verb("time?", "the machine's clock, YYYY-MM-DD HH:MM:SS")
def _time_q(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    return [m.board.rtc.now().strftime("%Y-%m-%d %H:%M:%S")]


@verb("printed?", "sheets delivered since the script (or connection) began")
def _printed_q(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    return [str(printed_since(ctx, m))]


@verb("journal?", "the journal, one line an entry")
def _journal_q(ctx: StepContext, step: Step, m: Machine) -> list[str]:
    return journal_lines(m)


# -- the parser ----------------------------------------------------------------------------------


def parse_line(raw: str, line: int = 0, source: str = "") -> Step | None:
    """One line to a step; None for a blank or comment line."""
    try:
        return _parse(raw, line)
    except ScriptError as exc:
        exc.line = exc.line or line
        exc.source = source
        raise


def _parse(raw: str, line: int) -> Step | None:
    text = raw.strip()
    if not text or text.startswith("#"):
        return None
    name = text.split(maxsplit=1)[0]
    declared = VERBS.get(name)
    if declared is None:
        hint = f" (verbs are lower case: {name.lower()})" if name.lower() in VERBS else ""
        raise ScriptError(f"unknown verb {name[:40]!r}{hint}", line)
    body = declared.comment(text)
    rest = body[len(name) :].strip()
    args = declared.parse(rest, line)
    if name == "on":
        return Step(line, text, "on", {"name": args["name"]}, args["name"], args["inner"])
    return Step(line, text, name, args)


def parse_script(text: str, source: str = "") -> list[Step]:
    """Every line checked; the first error raises with its line number."""
    if len(text.encode("utf-8", "surrogatepass")) > SCRIPT_SIZE.value:
        raise ScriptError(f"the script is over the {SCRIPT_SIZE.name} limit of {SCRIPT_SIZE.shown}")
    steps: list[Step] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        step = parse_line(raw, n, source)
        if step is not None:
            if VERBS[step.verb].console_only:
                raise ScriptError(f"{step.verb} is a console command, not a script step", n, source)
            steps.append(step)
    return steps


# -- help and docs -------------------------------------------------------------------------------


def _rows() -> Iterable[tuple[str, str]]:
    for v in VERBS.values():
        yield from zip(v.forms, v.help, strict=True)


HELP_COLUMN = 36
HELP_WIDTH = 100


def help_lines() -> list[str]:
    """What `help` answers: every verb's syntax and what it does."""
    out: list[str] = []
    for form, text in _rows():
        wrapped = textwrap.wrap(text, HELP_WIDTH - HELP_COLUMN) or [""]
        if len(form) < HELP_COLUMN:
            out.append(f"{form:<{HELP_COLUMN}}{wrapped[0]}".rstrip())
        else:
            out += [form, " " * HELP_COLUMN + wrapped[0]]
        out += [" " * HELP_COLUMN + more for more in wrapped[1:]]
    return out


def verb_table() -> str:
    """The verb table of docs/scripts.md (scripts/make_docs.py writes it)."""
    rows = ["| step | what it does |", "|---|---|"]
    bar = "\\|"  # a | inside a table cell
    for v in VERBS.values():
        where = " (console and the prompt of `run` only)" if v.console_only else ""
        for form, text in zip(v.forms, v.help, strict=True):
            rows.append(f"| `{form.replace('|', bar)}` | {text.replace('|', bar)}{where} |")
    return "\n".join(rows) + "\n"
