"""V.250 command-line syntax as a fax program writes it: the commands of one `AT` line, and the
digits of a dial string. No state: the interpreter (at.py) runs what this reads."""

from __future__ import annotations

import re
from dataclasses import dataclass


class AtSyntaxError(ValueError):
    """A command line that does not parse."""


@dataclass(frozen=True, slots=True)
class AtCommand:
    """One command of a line: `name` is `D`, `S7`, `&K`, `+FTM`, ...; `op` is '' (action),
    '=' (set), '?' (read), '=?' (test); `arg` the value or the dial string."""

    name: str
    op: str = ""
    arg: str = ""


_EXTENDED = re.compile(r"\+[A-Z][A-Z0-9!%\-./:_]*")
_NUMBER = re.compile(r"\d*")
_S_REGISTER = re.compile(r"S(\d+)(=(\d*)|\?)?")


def parse_command_line(body: str) -> list[AtCommand]:
    """The commands of one line, `body` being what follows `AT` (without the CR).

    V.250 syntax, as far as a fax program needs it: basic commands (a letter, or `&` and a
    letter, with an optional number), `Sn=v` / `Sn?`, `D` taking the rest of the line, and
    extended commands (`+NAME`, `+NAME=v`, `+NAME?`, `+NAME=?`) ended by `;` or the line's end.
    """
    text = "".join(body.split()).upper()
    out: list[AtCommand] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ";":
            i += 1
            continue
        if ch == "D":
            out.append(AtCommand("D", "", text[i + 1 :]))
            break
        if ch == "+":
            m = _EXTENDED.match(text, i)
            if m is None:
                raise AtSyntaxError(f"bad extended command at {text[i:]!r}")
            name = m.group()
            end = text.find(";", m.end())
            end = len(text) if end < 0 else end
            rest = text[m.end() : end]
            if rest == "":
                out.append(AtCommand(name))
            elif rest == "?":
                out.append(AtCommand(name, "?"))
            elif rest == "=?":
                out.append(AtCommand(name, "=?"))
            elif rest.startswith("="):
                out.append(AtCommand(name, "=", rest[1:]))
            else:
                raise AtSyntaxError(f"bad extended command {name}{rest}")
            i = end + 1
            continue
        if ch == "S":
            m = _S_REGISTER.match(text, i)
            if m is None or m.group(2) is None:
                raise AtSyntaxError(f"bad S-register command at {text[i:]!r}")
            name = f"S{int(m.group(1))}"
            if m.group(2) == "?":
                out.append(AtCommand(name, "?"))
            else:
                out.append(AtCommand(name, "=", m.group(3) or "0"))
            i = m.end()
            continue
        if ch == "&" or ch == "\\":
            if i + 1 >= len(text) or not text[i + 1].isalpha():
                raise AtSyntaxError(f"bad command at {text[i:]!r}")
            name = text[i : i + 2]
            i += 2
        elif ch.isalpha():
            name = ch
            i += 1
        else:
            raise AtSyntaxError(f"unexpected {ch!r}")
        m = _NUMBER.match(text, i)
        assert m is not None
        out.append(AtCommand(name, "", m.group()))
        i = m.end()
    return out


def dial_digits(arg: str) -> str | None:
    """The digits to dial from an ATD string: T/P (tone/pulse), W (wait for dial tone), @, !, ;
    and spaces are dropped; commas are pauses. None when nothing is left to dial."""
    digits = []
    for ch in arg:
        if ch.isdigit() or ch in "*#,":
            digits.append(ch)
        elif ch in "TPW@!;-() " or ch == "R":
            continue
        else:
            return None
    number = "".join(digits)
    return number if number.strip(",") else None
