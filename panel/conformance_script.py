"""SpanDSP's TSB85 suite as data: the script model (tests, steps, repeats, checks) and its parser.

The suite is `tsb85.xml` with its DTD's structure: `<test-group>`s of `<test name=...>`s, whose
`<step>`s (and `<repeat min max>` groups of steps) carry their attributes as written; a step's
`<check>`s name what the test plan measures there. Frame values are T.30 notation ("FF C8 01 ...",
the first bit on the left; `/` gives a bit mask, `...` leaves the rest open, `A | nothing` and the
`xxx` attribute give alternatives); `parse_octets` turns them into line order, as the modem
delivers frames. Nothing here plays a test: the tester and the runner do (conformance_tester.py,
conformance_run.py).
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from estudio190f.firmware.t30.frames import frame_type
from estudio190f.firmware.t30.trace import SECRET_FRAMES
from estudio190f.hw.clock import MS, SECOND
from estudio190f.hw.hdlc import reverse_bits


class SuiteError(Exception):
    """The suite cannot be read (exit status 2)."""


class StepFailed(Exception):
    """A step of a test did not hold: the message says what differed."""

    step: Step | None = None  # the step it happened in (set on the way out of the step)
    round_number = 0  # its round, when the step is in a repeat


# -- the script ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    name: str
    desc: str


@dataclass(frozen=True)
class Step:
    number: int  # 1-based position in the test
    line: int  # line in the suite file
    attrs: dict[str, str]
    checks: tuple[Check, ...] = ()

    def get(self, key: str) -> str | None:
        return self.attrs.get(key)

    @property
    def dir(self) -> str:
        return (self.attrs.get("dir") or "").upper()

    @property
    def type(self) -> str:
        return (self.attrs.get("type") or "").upper()

    @property
    def modem(self) -> str | None:
        return self.attrs.get("modem")

    def required_modem(self) -> str:
        if not self.modem:
            raise StepFailed(f"a {self.type} step needs a modem")
        return self.modem

    def int(self, key: str, default: int) -> int:
        value = self.attrs.get(key)
        return default if value is None or value.strip() == "" else int(value)

    def describe(self) -> str:
        """The step for a report; a password (PWD, SID) is never shown."""
        parts = [f"{self.dir} {self.type}".strip()]
        secret = (self.attrs.get("tag") or "").upper().rstrip("+") in SECRET_FRAMES
        for key in ("tag", "modem", "value"):
            value = self.attrs.get(key)
            if value and key == "value" and secret:
                parts.append("(password not shown)")
            elif value:
                parts.append(" ".join(value.split()) if key != "modem" else value)
        return " ".join(parts)


@dataclass(frozen=True)
class Repeat:
    line: int
    min: int
    max: int | None
    steps: tuple[Step, ...]


Item = Step | Repeat


@dataclass(frozen=True)
class Script:
    name: str
    group: str
    line: int
    items: tuple[Item, ...]

    def steps(self) -> list[Step]:
        out: list[Step] = []
        for item in self.items:
            out.extend(item.steps if isinstance(item, Repeat) else [item])
        return out


def parse_suite(path: Path) -> list[Script]:
    """The tests of a suite file, in file order (with source line numbers for the report)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SuiteError(f"{path}: {exc.strerror or exc}") from None
    parser = xml.parsers.expat.ParserCreate()
    scripts: list[Script] = []
    group = [""]
    test: dict[str, Any] | None = None
    repeat: dict[str, Any] | None = None
    step: dict[str, Any] | None = None

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal test, repeat, step
        line = parser.CurrentLineNumber
        if tag == "test-group":
            group[0] = attrs.get("name", "")
        elif tag == "test":
            test = {"name": attrs.get("name", f"line {line}"), "line": line, "items": []}
        elif tag == "repeat" and test is not None:
            repeat = {"line": line, "attrs": attrs, "steps": []}
        elif tag == "step" and test is not None:
            step = {"line": line, "attrs": dict(attrs), "checks": []}
        elif tag == "check" and step is not None:
            step["checks"].append(Check(attrs.get("name", ""), attrs.get("desc", "")))

    def end(tag: str) -> None:
        nonlocal test, repeat, step
        if tag == "step" and step is not None and test is not None:
            number = len(test["items"]) + (len(repeat["steps"]) if repeat else 0) + 1
            made = Step(number, step["line"], step["attrs"], tuple(step["checks"]))
            (repeat["steps"] if repeat is not None else test["items"]).append(made)
            step = None
        elif tag == "repeat" and repeat is not None and test is not None:
            attrs = repeat["attrs"]
            high = attrs.get("max")
            test["items"].append(
                Repeat(
                    repeat["line"],
                    int(attrs.get("min") or 0),
                    int(high) if high else None,
                    tuple(repeat["steps"]),
                )
            )
            repeat = None
        elif tag == "test" and test is not None:
            scripts.append(Script(test["name"], group[0], test["line"], tuple(test["items"])))
            test = None

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise SuiteError(f"{path}: not well-formed XML: {exc}") from None
    except ValueError as exc:
        raise SuiteError(f"{path}: {exc}") from None
    if not scripts:
        raise SuiteError(f"{path}: no <test> elements (is it a TSB85 suite?)")
    return scripts


# -- frame values ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FramePattern:
    """One expected frame in line order (as the modem delivers it), with a mask per octet."""

    octets: bytes
    mask: bytes
    open_ended: bool  # `...`: anything may follow

    def matches(self, frame: bytes) -> bool:
        if len(frame) < len(self.octets) or (
            not self.open_ended and len(frame) != len(self.octets)
        ):
            return False
        return all((f ^ o) & m == 0 for f, o, m in zip(frame, self.octets, self.mask, strict=False))

    @property
    def control(self) -> int | None:
        return self.octets[1] if len(self.octets) > 1 else None


def parse_octets(text: str) -> tuple[bytes, bytes, bool]:
    """T.30-notation hex octets ("FF C8 01 ...", masks as "12/F0") -> line-order octets, masks
    and whether `...` leaves the rest open. Raises ValueError on anything else."""
    octets = bytearray()
    masks = bytearray()
    for word in text.split():
        if word == "...":
            return reverse_bits(bytes(octets)), bytes(masks), True
        value, _, mask = word.partition("/")
        octets.append(int(value, 16))
        masks.append(int(mask, 16) if mask else 0xFF)
    return reverse_bits(bytes(octets)), reverse_bits(bytes(masks)), False


@dataclass(frozen=True)
class Expectation:
    patterns: tuple[FramePattern, ...]
    nothing_ok: bool  # `| nothing`: no frame at all is also right

    @classmethod
    def of(cls, step: Step) -> Expectation:
        """The frames an R HDLC step accepts; ValueError when its value cannot be read."""
        texts = (step.get("value") or "").split("|")
        if step.get("xxx"):
            texts.append(step.get("xxx") or "")
        patterns = []
        nothing = False
        for text in texts:
            if text.strip().lower() == "nothing":
                nothing = True
            elif text.strip():
                octets, mask, open_ended = parse_octets(text)
                patterns.append(FramePattern(octets, mask, open_ended))
        if not patterns:
            raise ValueError("an R HDLC step needs a frame value")
        return cls(tuple(patterns), nothing)

    @property
    def control(self) -> int | None:
        return self.patterns[0].control


def notation(frame: bytes) -> str:
    """A line-order frame written as the scripts write it, with its name; the information field
    of a password frame (PWD, SID) is left out."""
    name = frame_name(frame)
    shown = frame[:3] if name.rstrip("+") in SECRET_FRAMES else frame
    text = reverse_bits(shown).hex(" ").upper()
    return f"{text}{' ...' if shown is not frame else ''} ({name})"


def frame_name(frame: bytes) -> str:
    if len(frame) < 3 or frame[0] != 0xFF:
        return "not a T.30 frame"
    kind = frame_type(frame[2])
    if kind is None:
        return f"unknown FCF {reverse_bits(frame[2:3]).hex().upper()}"
    x = kind.x_bit and frame[2] & 1
    return kind.name + ("+" if x else "")


# -- timing checks ---------------------------------------------------------------------------------
WINDOW = re.compile(
    r"(\d+(?:\.\d+)?)\s*(ms|s)\s*(?:to|and)\s*(\d+(?:\.\d+)?)\s*(ms|s)", re.IGNORECASE
)
INTERVAL = re.compile(r"\b(\w+) to (\w+) (?:silence|interval)", re.IGNORECASE)


def window(desc: str) -> tuple[int, int] | None:
    """The time window a check's text states ("850ms to 1150ms"), in µs; None if it states none."""
    found = WINDOW.search(desc)
    if found is None:
        return None
    low = float(found.group(1)) * (MS if found.group(2).lower() == "ms" else SECOND)
    high = float(found.group(3)) * (MS if found.group(4).lower() == "ms" else SECOND)
    return round(low), round(high)
