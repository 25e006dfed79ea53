"""The key-script language's syntax, without its verbs: steps and script errors, comments,
quoting, durations, TEXT and /REGEX/ matchers, and the limits on work (DESIGN.md 3.2).

The verbs themselves, each declared once with its parser and runner, are in `panel.script`;
they build their parsers from the pieces here. Nothing here touches a machine.

Regular expressions are Python's `re` syntax (checked by `re.compile`), matched with the
`regex` package, whose matching can be stopped after a time: a pattern that backtracks for
ever (`/(.*)(.*)(.*)(.*)(.*)(.*)(.*)(.*)(.*)(.*)\\1-$/`) ends the step with a clear error instead
of freezing the machine.
"""

from __future__ import annotations

import math
import re
import shlex
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from estudio190f.hw.clock import HOUR, MINUTE, MS, SECOND
from estudio190f.hw.operator_panel import KEY_NAMES

if TYPE_CHECKING:
    import regex  # imported by the first /REGEX/ (compile_regex), not by every script

# -- limits on work ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """One limit on what a script or a console command may ask for (docs/scripts.md lists them)."""

    name: str
    value: int  # ticks, bytes or seconds x 1000, as `shown` says
    shown: str
    why: str


STEP_TIME = Limit(
    "step time", 24 * HOUR, "24h of virtual time",
    "a day is the longest wait a test needs in one step: a delayed transmission is set as HH:MM, "
    "at most 24 h ahead, and a full redial series (9 tries 9 minutes apart) takes 81 minutes; a "
    "longer step is a typo (`wait 99999999h` would take some 35 hours of CPU for the LCD's "
    "minute ticks alone)",
)  # fmt: skip
SCRIPT_TIME = Limit(
    "script time", 7 * 24 * HOUR, "7 days of virtual time",
    "a week of the machine's life in one script is more than any test needs (a week of "
    "standby costs well under a second of CPU); beyond it a run of waits is a mistake",
)  # fmt: skip
SCRIPT_SIZE = Limit(
    "script size", 1 << 20, "1 MiB of text",
    "the longest real script is a few kilobytes; a megabyte is tens of thousands of lines, and "
    "reading a file that never ends must stop somewhere (a file that is not a regular file, "
    "such as `/dev/zero` or a FIFO, is refused before it is read)",
)  # fmt: skip
REGEX_TIME = Limit(
    "regular expression time", 100, "0.1 s of wall time per match",
    "a regular expression against a 20-character LCD line or a journal line takes "
    "microseconds; a pattern that backtracks for ever would freeze the machine and every "
    "console client with it",
)  # fmt: skip
REGEX_STEP_TIME = Limit(
    "regular expression time per step", 1000, "1 s of wall time per step",
    "`until` matches after every event; a pattern slow on every check would make a step "
    "crawl without ever hitting the limit of one match",
)  # fmt: skip
LIMITS = (STEP_TIME, SCRIPT_TIME, SCRIPT_SIZE, REGEX_TIME, REGEX_STEP_TIME)

_DURATION = re.compile(r"^(\d{1,12}(?:\.\d{1,6})?)(ms|s|m|h)$")
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


@dataclass
class Step:
    line: int
    text: str
    verb: str
    args: dict[str, Any] = field(default_factory=dict)
    target: str | None = None  # `on NAME STEP`: the machine; None = the main machine
    inner: Step | None = None


# -- durations ----------------------------------------------------------------------------------


def parse_duration(token: str, line: int = 0, limit: Limit = STEP_TIME) -> int:
    """`500ms`, `5s`, `2m`, `1h` (decimals allowed) as clock ticks, at most `limit`."""
    m = _DURATION.match(token)
    if not m:
        raise ScriptError(f"bad duration {token!r} (write e.g. 500ms, 5s, 2m, 1h)", line)
    ticks = float(m.group(1)) * _UNITS[m.group(2)]
    if not math.isfinite(ticks) or ticks > limit.value:
        raise ScriptError(f"{token} is over the {limit.name} limit of {limit.shown}", line)
    return round(ticks)


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


# -- quoting and comments --------------------------------------------------------------------------


def quote(text: str) -> str:
    """A double-quoted string as the key-script language writes one (backslash escapes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote(text: str, line: int) -> str:
    """The one double-quoted string that is `text`."""
    try:
        parts = shlex.split(text, posix=True)
    except ValueError as exc:
        raise ScriptError(f"bad quoting: {exc}", line) from None
    if len(parts) != 1:
        raise ScriptError(f"expected one quoted string, got {text!r}", line)
    return parts[0]


def split_words(text: str, line: int) -> list[str]:
    """Words with shell-like quoting (paths in `adf load`)."""
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise ScriptError(f"bad quoting: {exc}", line) from None


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


def strip_comment(text: str) -> str:
    """Remove a trailing comment: a `#` at the start of the line, or after white space outside a
    quoted string or a /regex/."""
    stripped = text.strip()
    if stripped.startswith("#"):
        return ""
    i = 0
    while i < len(stripped):
        ch = stripped[i]
        if ch == '"':
            end = _quoted_end(stripped, i)
            if end < 0:
                return stripped
            i = end
            continue
        if ch == "/" and (i == 0 or stripped[i - 1].isspace()):
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


def strip_key_comment(text: str, *, hold: bool = False) -> str:
    """Comments after key names (`press`, `hold`): a lone `#` is the key of that name when
    everything after it is key names too (`press 1 # 2`); a comment is a `#` followed by
    anything else (`press START  # send`). In `hold` only the key position takes a `#`."""
    stripped = text.strip()
    if stripped.startswith("#"):
        return ""
    tokens = stripped.split()
    for i, tok in enumerate(tokens):
        if tok.startswith("#") and i > 0:
            if tok == "#" and hold and i == 1:
                continue
            if tok == "#" and not hold and all(t in KEY_NAMES for t in tokens[i + 1 :]):
                continue
            return " ".join(tokens[:i])
    return stripped


# -- matchers -----------------------------------------------------------------------------------

# regex-only syntax that Python's re reads as plain text: fuzzy matching `{e<=1}`, POSIX classes
_NOT_RE = re.compile(r"\{[^}]*\b[eids]\s*(<=|<|=)|\[\[:")


class RegexTooSlow(ScriptError):
    """A /REGEX/ took longer than the regular-expression limits allow."""


@dataclass(eq=False)
class Matcher:
    """TEXT (substring) or /REGEX/ (searched, case-sensitive, time-bounded)."""

    text: str
    regex: regex.Pattern[str] | None = None
    spent: float = 0.0  # wall seconds spent matching during the current step

    def matches(self, value: str) -> bool:
        if self.regex is None:
            return self.text in value
        started = time.perf_counter()
        try:
            found = self.regex.search(value, timeout=REGEX_TIME.value / 1000) is not None
        except TimeoutError:
            raise RegexTooSlow(
                f"regular expression {self} is too slow: over the {REGEX_TIME.name} limit of "
                f"{REGEX_TIME.shown}"
            ) from None
        self.spent += time.perf_counter() - started
        if self.spent > REGEX_STEP_TIME.value / 1000:
            raise RegexTooSlow(
                f"regular expression {self} is too slow: over the {REGEX_STEP_TIME.name} limit "
                f"of {REGEX_STEP_TIME.shown}"
            )
        return found

    def __str__(self) -> str:
        return f"/{self.text}/" if self.regex is not None else quote(self.text)


def compile_regex(pattern: str, line: int) -> Matcher:
    try:
        re.compile(pattern)  # the language is Python's re: its syntax, its errors
    except re.error as exc:
        raise ScriptError(f"bad regular expression /{pattern}/: {exc}", line) from None
    except (RecursionError, OverflowError, MemoryError, ValueError):
        raise ScriptError(f"regular expression /{pattern[:40]}/ is too complex", line) from None
    import regex

    if _NOT_RE.search(pattern):
        raise ScriptError(
            f"bad regular expression /{pattern}/: fuzzy matching and [[:classes:]] are not "
            "Python re syntax",
            line,
        )
    try:
        compiled = regex.compile(pattern, regex.V0)
    except (regex.error, RecursionError, OverflowError, MemoryError, ValueError):
        raise ScriptError(f"regular expression /{pattern[:40]}/ is too complex", line) from None
    return Matcher(pattern, compiled)


_TAIL = re.compile(r"^\s*(line\s+\S+)?\s*(within\s+\S+)?\s*$")


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
        # the regex runs to the last "/" followed by nothing but the options
        j = len(rest)
        while True:
            j = rest.rfind("/", 1, j)
            if j <= 0:
                raise ScriptError("unterminated /regex/", line)
            if _TAIL.match(rest[j + 1 :]):
                return compile_regex(rest[1:j], line), rest[j + 1 :].strip()
    raise ScriptError(f'expected "TEXT" or /REGEX/, got {rest[:40]!r}', line)


def check_keys(keys: list[str], line: int) -> None:
    for key in keys:
        if key not in KEY_NAMES:
            hint = f" (did you mean {key.upper()}?)" if key.upper() in KEY_NAMES else ""
            raise ScriptError(f"no key named {key[:40]!r}{hint}", line)
