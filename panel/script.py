"""The key-script language (DESIGN.md 3.2): parsing lines into steps.

One step per line; verbs are lower case; `#` starts a comment (see `strip_comment` for how a
`#` key is told from a comment). Parsing checks everything that can be checked without a machine:
verbs, key names, LED names, fault names, durations, numbers, quoting and regular expressions.
Errors carry the line number.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from estudio190f.hw.clock import HOUR, MINUTE, MS, SECOND
from estudio190f.hw.faults import FAULT_NAMES
from estudio190f.hw.operator_panel import KEY_NAMES, LED_NAMES, LED_STATES

QUERIES = ("lcd?", "led?", "state?", "time?", "printed?", "journal?")
VERBS = (
    "clock", "adf", "paper", "press", "type", "hold", "wait", "expect", "until", "fault", "clear",
    "power", "device", "on", "events", "help", *QUERIES,
)  # fmt: skip
CONSOLE_ONLY = ("events", "help")

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
_UNITS = {"ms": MS, "s": SECOND, "m": MINUTE, "h": HOUR}


class ScriptError(Exception):
    """A script or usage error: the line cannot run (replay exits 2)."""

    def __init__(self, message: str, line: int = 0, source: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.source = source

    def __str__(self) -> str:
        where = f"{self.source}:" if self.source else ""
        return f"{where}{self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True)
class Matcher:
    """TEXT (substring) or /REGEX/ (re.search, case-sensitive)."""

    text: str
    regex: re.Pattern[str] | None = None

    def matches(self, value: str) -> bool:
        if self.regex is not None:
            return self.regex.search(value) is not None
        return self.text in value

    def __str__(self) -> str:
        return f"/{self.text}/" if self.regex is not None else f'"{self.text}"'


@dataclass
class Step:
    line: int
    text: str
    verb: str
    args: dict[str, Any] = field(default_factory=dict)
    target: str | None = None  # `on NAME STEP`: the machine; None = the main machine
    inner: Step | None = None


def parse_duration(token: str, line: int = 0) -> int:
    m = _DURATION.match(token)
    if not m:
        raise ScriptError(f"bad duration {token!r} (write e.g. 500ms, 5s, 2m, 1h)", line)
    return round(float(m.group(1)) * _UNITS[m.group(2)])


def format_duration(ticks: int) -> str:
    if ticks % HOUR == 0 and ticks:
        return f"{ticks // HOUR}h"
    if ticks % MINUTE == 0 and ticks:
        return f"{ticks // MINUTE}m"
    if ticks % SECOND == 0:
        return f"{ticks // SECOND}s"
    if ticks % MS == 0:
        return f"{ticks // MS}ms"
    return f"{ticks / SECOND:.6f}".rstrip("0") + "s"


def _quoted_end(text: str, start: int) -> int:
    """Index just after the closing quote of a string starting at `start`."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        i += 1
    return -1


def strip_comment(text: str, verb: str) -> str:
    """Remove a trailing comment.

    A `#` at the start of a line, or after white space outside a quoted string or /regex/,
    starts a comment — except in `press` and `hold`, where a lone `#` is the key of that name
    when everything after it is key names too (`press 1 # 2`), and a comment there is a `#`
    followed by anything else (`press START  # send`).
    """
    stripped = text.strip()
    if stripped.startswith("#"):
        return ""
    if verb in ("press", "hold"):
        tokens = stripped.split()
        for i, tok in enumerate(tokens):
            if tok.startswith("#") and i > 0:
                rest = tokens[i + 1 :]
                if tok == "#" and all(t in KEY_NAMES for t in rest) and verb == "press":
                    continue
                if tok == "#" and verb == "hold" and i == 1:
                    continue
                return " ".join(tokens[:i])
        return stripped
    i = 0
    in_regex = False
    while i < len(stripped):
        ch = stripped[i]
        if ch == '"' and not in_regex:
            end = _quoted_end(stripped, i)
            if end < 0:
                return stripped
            i = end
            continue
        if ch == "/" and (i == 0 or stripped[i - 1].isspace()) and not in_regex:
            # a /regex/ runs to the last "/" that is followed by a valid tail; keep it whole
            j = stripped.rfind("/")
            if j > i:
                tail = stripped[j + 1 :]
                hash_at = tail.find(" #")
                keep = tail if hash_at < 0 else tail[:hash_at]
                return (stripped[: j + 1] + keep).rstrip()
        if ch == "#" and i > 0 and stripped[i - 1].isspace():
            return stripped[:i].rstrip()
        i += 1
    return stripped


def quote(text: str) -> str:
    """A double-quoted string as the key-script language writes one (backslash escapes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(text: str, line: int) -> str:
    try:
        parts = shlex.split(text, posix=True)
    except ValueError as exc:
        raise ScriptError(f"bad quoting: {exc}", line) from None
    if len(parts) != 1:
        raise ScriptError(f"expected one quoted string, got {text!r}", line)
    return parts[0]


def parse_matcher(rest: str, line: int) -> tuple[Matcher, str]:
    """A TEXT or /REGEX/ at the start of `rest`; returns it and what follows."""
    rest = rest.strip()
    if rest.startswith('"'):
        end = _quoted_end(rest, 0)
        if end < 0:
            raise ScriptError("unterminated string", line)
        body = rest[1 : end - 1].replace('\\"', '"').replace("\\\\", "\\")
        return Matcher(body), rest[end:].strip()
    if rest.startswith("/"):
        tail_re = re.compile(r"^\s*(line\s+\S+)?\s*(within\s+\S+)?\s*$")
        for j in range(len(rest) - 1, 0, -1):
            if rest[j] == "/" and tail_re.match(rest[j + 1 :]):
                pattern = rest[1:j]
                try:
                    compiled = re.compile(pattern)
                except re.error as exc:
                    raise ScriptError(f"bad regular expression /{pattern}/: {exc}", line) from None
                return Matcher(pattern, compiled), rest[j + 1 :].strip()
        raise ScriptError("unterminated /regex/", line)
    raise ScriptError(f'expected "TEXT" or /REGEX/, got {rest!r}', line)


def _line_option(rest: str, line: int) -> tuple[int | None, str]:
    m = re.match(r"^line\s+(\S+)\s*(.*)$", rest)
    if not m:
        return None, rest
    if m.group(1) not in ("1", "2"):
        raise ScriptError(f"line must be 1 or 2, not {m.group(1)!r}", line)
    return int(m.group(1)), m.group(2)


def _check_keys(keys: list[str], line: int) -> None:
    for key in keys:
        if key not in KEY_NAMES:
            hint = f" (did you mean {key.upper()}?)" if key.upper() in KEY_NAMES else ""
            raise ScriptError(f"no key named {key!r}{hint}", line)


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
    verb, _, rest = text.partition(" ")
    if verb not in VERBS:
        hint = f" (verbs are lower case: {verb.lower()})" if verb.lower() in VERBS else ""
        raise ScriptError(f"unknown verb {verb!r}{hint}", line)
    if verb == "on":
        rest = rest.strip()
        name, _, inner_text = rest.partition(" ")
        if not name or not inner_text.strip():
            raise ScriptError("on needs a machine name and a step: on NAME STEP", line)
        inner = _parse(inner_text, line)
        if inner is None:
            raise ScriptError("on needs a step after the machine name", line)
        if inner.verb in ("device", "on"):
            raise ScriptError(f"{inner.verb} cannot be run on another machine", line)
        return Step(line, text, "on", {"name": name}, target=name, inner=inner)
    body = strip_comment(text, verb)
    _, _, rest = body.partition(" ")
    rest = rest.strip()
    args: dict[str, Any] = {}
    if verb in QUERIES:
        if rest:
            raise ScriptError(f"{verb} takes no arguments", line)
    elif verb == "clock":
        try:
            args["when"] = datetime.strptime(" ".join(rest.split()), "%Y-%m-%d %H:%M")
        except ValueError:
            raise ScriptError(
                f"clock needs a date and time like 2026-11-28 09:00, got {rest!r}", line
            ) from None
    elif verb == "adf":
        sub, _, paths = rest.partition(" ")
        if sub != "load":
            raise ScriptError("adf takes: adf load PATH [PATH ...]", line)
        try:
            args["paths"] = shlex.split(paths)
        except ValueError as exc:
            raise ScriptError(f"bad quoting: {exc}", line) from None
        if not args["paths"]:
            raise ScriptError("adf load needs at least one path", line)
    elif verb == "paper":
        if not re.fullmatch(r"\d+", rest):
            raise ScriptError(f"paper needs a sheet count, got {rest!r}", line)
        args["count"] = int(rest)
    elif verb == "press":
        keys = rest.split()
        if not keys:
            raise ScriptError("press needs at least one key", line)
        _check_keys(keys, line)
        args["keys"] = keys
    elif verb == "hold":
        parts = rest.split()
        if len(parts) != 2:
            raise ScriptError("hold takes: hold KEY DURATION", line)
        _check_keys(parts[:1], line)
        args["key"], args["duration"] = parts[0], parse_duration(parts[1], line)
    elif verb == "type":
        if not rest:
            raise ScriptError("type needs text", line)
        args["text"] = _unquote(rest, line) if rest.startswith('"') else rest
    elif verb == "wait":
        args["duration"] = parse_duration(rest, line)
    elif verb in ("expect", "until"):
        args.update(_parse_expectation(verb, rest, line))
    elif verb in ("fault", "clear"):
        if rest not in FAULT_NAMES:
            raise ScriptError(f"no fault named {rest!r} (known: {', '.join(FAULT_NAMES)})", line)
        args["fault"] = rest
    elif verb == "power":
        if rest not in ("on", "off"):
            raise ScriptError("power takes on or off", line)
        args["on"] = rest == "on"
    elif verb == "device":
        parts = rest.split()
        if len(parts) != 2 or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", parts[0]):
            raise ScriptError(
                "device takes: device NAME NUMBER (a name of letters, digits, - and _)", line
            )
        if not re.fullmatch(r"[0-9]+", parts[1]):
            raise ScriptError(f"device number must be digits, got {parts[1]!r}", line)
        if parts[0] == "main":
            raise ScriptError("the name main is the machine under test", line)
        args["name"], args["number"] = parts
    elif verb == "events":
        if rest not in ("on", "off"):
            raise ScriptError("events takes on or off", line)
        args["on"] = rest == "on"
    elif verb == "help":
        pass
    return Step(line, text, verb, args)


def _parse_expectation(verb: str, rest: str, line: int) -> dict[str, Any]:
    what, _, rest = rest.partition(" ")
    rest = rest.strip()
    args: dict[str, Any] = {"what": what}
    if what == "lcd":
        args["matcher"], rest = parse_matcher(rest, line)
        args["lcd_line"], rest = _line_option(rest, line)
    elif what == "led":
        parts = rest.split()
        if len(parts) < 2 or parts[0] not in LED_NAMES:
            raise ScriptError(
                f"{verb} led takes an LED name ({', '.join(LED_NAMES)}) and on|off|blink", line
            )
        if parts[1] not in LED_STATES:
            raise ScriptError(f"LED state must be on, off or blink, not {parts[1]!r}", line)
        args["led"], args["state"] = parts[0], parts[1]
        rest = " ".join(parts[2:])
    elif what == "state":
        if rest.startswith('"'):
            matcher, rest = parse_matcher(rest, line)
            args["text"] = matcher.text
        else:
            token, _, rest = rest.partition(" ")
            if not token:
                raise ScriptError(f"{verb} state needs TEXT", line)
            args["text"] = token
    elif what == "printed":
        token, _, rest = rest.partition(" ")
        if not re.fullmatch(r"\d+", token):
            raise ScriptError(f"{verb} printed needs a sheet count, got {token!r}", line)
        args["count"] = int(token)
    elif what == "journal":
        args["matcher"], rest = parse_matcher(rest, line)
    else:
        raise ScriptError(f"{verb} takes lcd, led, state, printed or journal, not {what!r}", line)
    rest = rest.strip()
    if verb == "until":
        m = re.match(r"^within\s+(\S+)$", rest)
        if not m:
            raise ScriptError("until needs: within DURATION", line)
        args["within"] = parse_duration(m.group(1), line)
    elif rest:
        raise ScriptError(f"unexpected {rest!r} at the end of the line", line)
    return args


def parse_script(text: str, source: str = "") -> list[Step]:
    """Every line checked; the first error raises with its line number."""
    steps: list[Step] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        step = parse_line(raw, n, source)
        if step is not None:
            if step.verb in CONSOLE_ONLY:
                raise ScriptError(f"{step.verb} is a console command, not a script step", n, source)
            steps.append(step)
    return steps
