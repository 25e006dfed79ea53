"""`estudio190f conformance`: SpanDSP's TSB85 T.30 conformance scripts against the machine.

    estudio190f conformance --suite FILE [--only NAME ...] [--verbose] [--seed N]

Each test of the suite (SpanDSP's `tsb85.xml`, read with its DTD's structure) gets a fresh
simulated e-STUDIO190F (`Simulation`) and a tester: a bare modem on its own line of the same
virtual network that plays the script's side of the call, in virtual time. The machine runs its
real firmware T.30 through `FaxCall`, configured from its settings plus the script's SET steps.

- `CALL`: the tester calls the machine (which answers; its polling document is the step's
  value); `ANSWER`: the machine calls the tester to send the document named, or, with none, to
  poll. The script starts when the call is connected (the scripts have no dialing phase).
- `dir="T"` steps go out on the tester's modem: tones, V.21 preambles (37 flags unless the
  step says), HDLC frames (`crc_error="0"` for a bad FCS), postambles (5 flags), TCF (zeros,
  `pattern` bytes of 0x55 first), pages coded MH with `min_bits` and the `bad_rows` corrupted
  (TSB85: the first bit after the EOL of each such row), ECM partial pages (`frame_size`,
  `block`, the frame `crc_error` names sent with a bad FCS), silence (`WAIT`), hang-up (`CLEAR`).
- `dir="R"` steps wait (7 s unless `timeout` says) for what the machine must send: CED, CNG,
  an HDLC frame (compared byte for byte in T.30 notation, the first bit on the left, after
  SpanDSP's rule: frames whose control octet differs from the one expected are passed over;
  `...` ends an open comparison; `A | nothing` and the `xxx` attribute give alternatives), a
  TCF, page or partial page at the modem named, silence, or the machine clearing the call
  within `timein`..`timeout` ms.
- `SET` configures the machine (dir T: what it sends, dir R: what it requires); `STATUS`
  compares the machine's own call result with SpanDSP's status name (`STATUS_MAP`).
- Timing checks named in the steps' `check` elements are measured on the virtual clock: CED
  length, V.21 preambles (T.30: 1 s +-15 %), the silence between CED and DIS, intervals between
  frames.

Output: one line per test (pass; FAIL with the first differing step and why; n/a with the
reason), then `TSB85: P passed, F failed, N not applicable of T`. Exit status 0 when no test
failed, 1 when one did, 2 when the suite cannot be read or a name given with --only is not in it.
How the pages are made and what "not applicable" means: docs/conformance.md.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import xml.parsers.expat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from estudio190f.firmware import codec
from estudio190f.firmware.fax_call import FaxCall, PageStore, config_from_settings
from estudio190f.firmware.t30.capabilities import DcsParams
from estudio190f.firmware.t30.frames import BY_NAME, frame_type, reverse_bits
from estudio190f.firmware.t30.image import decode_page, fit_pixels
from estudio190f.firmware.t30.session import StationConfig
from estudio190f.firmware.t30.trace import SECRET_FRAMES
from estudio190f.hw.clock import MS, SECOND
from estudio190f.hw.line import LineEvent
from estudio190f.hw.modem import (
    MODULATIONS,
    CarrierDown,
    CarrierUp,
    DataReceived,
    FrameReceived,
    Modem,
    ModemEvent,
    ToneOff,
    ToneOn,
    hdlc_bits,
)

from .conformance_pages import EtsiPage, document
from .sim import Simulation

TESTER_NUMBER = "5550199"
DEFAULT_R_TIMEOUT = 7000  # ms: SpanDSP's tester waits this long for an R step without timeout
TEST_LIMIT = 60 * 60 * SECOND  # a test still running after this much virtual time is stopped
PREAMBLE_FLAGS = 37  # SpanDSP: "slow HDLC preamble == 37 flag bytes"
POSTAMBLE_FLAGS = 5
FAST_PREAMBLE = 200 * MS  # flags before the first ECM frame at high speed (as SpanDSP's tester)
TESTER_CED = 3 * SECOND
RCP_FRAMES = 3
PREAMBLE_WINDOW = (850 * MS, 1150 * MS)  # T.30 5.3.1: 1 s +-15 %

# SpanDSP's completion status names (TSB85 STATUS values) -> the machine's statuses that mean the
# same. The machine's statuses are SpanDSP's names where it has them (firmware/t30/results.py);
# a name not listed here maps to itself.
STATUS_MAP: dict[str, tuple[str, ...]] = {
    # "Far end is not able to transmit": nothing to poll, whichever side finds it out. The
    # machine reports that as NOPOLL (its polling code 401).
    "TX_INCAPABLE": ("TX_INCAPABLE", "NOPOLL"),
    # "Unexpected DCN after EOM or MPS sequence": SpanDSP uses it on the sending side too; the
    # machine as sender reports a DCN after any post-message command as TX_BADPG (407,
    # Panasonic's "DCN after post-message"), as SpanDSP does after EOP.
    "RX_DCNPHD": ("RX_DCNPHD", "TX_BADPG"),
}

# Tests this runner does not play, with the reason (docs/conformance.md says more). None today:
# every script exercises something the machine offers.
NOT_APPLICABLE: dict[str, str] = {}

# Why the machine differs where a test fails: printed after the failing step. They stay failures;
# each is a place where the script encodes SpanDSP's choice and the machine makes another one
# (docs/conformance.md gives the T.30 reasoning).
KNOWN_DIFFERENCES: dict[str, str] = {
    "MRGN03": "the machine does not time coded scan lines, so it takes the 5.1 s line of "
    "DURATION2 (its MCF goes unheard during the script's waits) and ends OK at DCN; SpanDSP's "
    "RETRYDCN for a receiver has no counterpart",
    "OREN05": "after ERR to EOR-EOP the machine keeps the page (with the given-up block's gaps) "
    "and waits for DCN, which ends the call OK; SpanDSP goes on waiting for image data",
    "OREN07": "after ERR to EOR-EOP the machine keeps the page (with the given-up block's gaps) "
    "and waits for DCN, which ends the call OK; SpanDSP goes on waiting for image data",
    "MRGX01": "the called machine repeats DIS every T4 until T1 (35 s) runs out; the script "
    "expects DCN after the third DIS (SpanDSP's retry limit)",
    "MRGX10": "the machine answers a carrier that brought only a non-T.30 frame with CRP, and "
    "ends the completed call OK where SpanDSP keeps the status UNEXPECTED",
    "MTGN26": "after RTN to EOM the machine retrains and sends the refused page again at once; "
    "the script waits 7 s and sends a new DIS that the machine, sending, cannot hear",
    "MTGN28": "after RTN to EOP the machine retrains one step slower and sends the page again "
    "(up to 3 sends); the script expects DCN at once",
    "OTEN03": "T5 is 60 s (DESIGN.md 5) and V.21 preambles are 1 s, so 20 RR go out before T5 "
    "ends the call; the script wants 23 to 30 (SpanDSP: T5 65 s, 0.85 s preambles)",
    "MTGX02": "T1 (35 s) has ended the call (T1_EXPIRED) before the tester's DIS at 40 s; the "
    "script expects the machine still waiting (CALLDROPPED) when it hangs up",
    "MTGX18": "the call completes and the machine reports OK; SpanDSP keeps UNEXPECTED from the "
    "unknown frames sent before the DIS",
}


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
        try:
            return cls._parse(step)
        except ValueError as exc:
            raise StepFailed(f"cannot read the frame value {step.get('value')!r}: {exc}") from None

    @classmethod
    def _parse(cls, step: Step) -> Expectation:
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
_WINDOW = re.compile(
    r"(\d+(?:\.\d+)?)\s*(ms|s)\s*(?:to|and)\s*(\d+(?:\.\d+)?)\s*(ms|s)", re.IGNORECASE
)
_INTERVAL = re.compile(r"\b(\w+) to (\w+) (?:silence|interval)", re.IGNORECASE)


def _window(desc: str) -> tuple[int, int] | None:
    found = _WINDOW.search(desc)
    if found is None:
        return None
    low = float(found.group(1)) * (MS if found.group(2).lower() == "ms" else SECOND)
    high = float(found.group(3)) * (MS if found.group(4).lower() == "ms" else SECOND)
    return round(low), round(high)


def _seconds(ticks: int) -> str:
    return f"{ticks / SECOND:.3f} s"


# -- the tester ------------------------------------------------------------------------------------
@dataclass
class Heard:
    """Something the tester's modem heard, when it completed."""

    t: int
    kind: str  # tone_on | tone_off | carrier_up | carrier_down | frame | data
    name: str = ""  # tone or modulation
    frame: bytes = b""
    crc_ok: bool = True
    data: bytes = b""
    carrier_start: int = 0  # frames: when their carrier came up


class Tester:
    """The tester's line port and modem on the simulation's network; it records all it hears."""

    def __init__(self, sim: Simulation, number: str = TESTER_NUMBER) -> None:
        self.clock = sim.clock
        self.line = sim.network.add_line(number)
        self.modem = Modem(self.clock)
        self.line.attach_modem(self.modem)
        self.modem.receive(*MODULATIONS)  # it hears any carrier from its start (as SpanDSP's)
        self.heard: list[Heard] = []
        self._carrier_start: dict[str, int] = {}
        self.modem.listeners.add(self._on_modem)

    def _on_modem(self, event: ModemEvent) -> None:
        now = self.clock.now
        if isinstance(event, ToneOn):
            self.heard.append(Heard(now, "tone_on", event.tone))
        elif isinstance(event, ToneOff):
            self.heard.append(Heard(now, "tone_off", event.tone))
        elif isinstance(event, CarrierUp):
            start = now - (
                0 if event.modulation == "V.21" else MODULATIONS[event.modulation].long_train
            )
            self._carrier_start[event.modulation] = start
            self.heard.append(Heard(now, "carrier_up", event.modulation))
        elif isinstance(event, CarrierDown):
            self.heard.append(Heard(now, "carrier_down", event.modulation))
        elif isinstance(event, FrameReceived):
            start = self._carrier_start.get(event.modulation, now)
            self.heard.append(
                Heard(
                    now, "frame", event.modulation, event.frame, event.crc_ok, carrier_start=start
                )
            )
        elif isinstance(event, DataReceived):
            self.heard.append(Heard(now, "data", event.modulation, data=event.data))

    def far_end_quiet(self) -> bool:
        return self.modem.remote_quiet


# -- pages as the tester codes them ---------------------------------------------------------------
def page_data(
    test_page: EtsiPage,
    coding: str = "mh",
    *,
    min_bits: int = 0,
    rate: int = 4800,
    bad_rows: Sequence[int] = (),
) -> bytes:
    """A test page coded as SpanDSP's tester codes it: EOL before every line, `min_bits` per line
    (EOL and fill included), RTC (EOFB for T.6); a `long_line` stretched with fill bits to its air
    time at `rate`; then the first bit after the EOL of every row in `bad_rows` (1-based) flipped."""
    pixels = test_page.page.pixels
    k = 2 if test_page.page.resolution == "standard" else 4
    if coding == "mmr":
        return bytes(codec.encode(pixels, "mmr"))
    if test_page.long_line is None:
        data = bytes(codec.encode(pixels, coding, k=k, min_line_bits=min_bits))
    else:
        # Fill bits may precede any EOL (T.4): the three parts join on byte
        # boundaries with the zero bits between them taken as fill.
        row, seconds = test_page.long_line
        long_bits = round(seconds * rate)
        parts = [
            codec.encode(pixels[:row], coding, k=k, min_line_bits=min_bits, rtc=False),
            codec.encode(pixels[row : row + 1], coding, k=k, min_line_bits=long_bits, rtc=False),
            codec.encode(pixels[row + 1 :], coding, k=k, min_line_bits=min_bits),
        ]
        data = b"".join(bytes(p) for p in parts)
    if bad_rows:
        data = corrupt_rows(data, bad_rows)
    return data


def corrupt_rows(data: bytes, rows: Sequence[int]) -> bytes:
    """Flip the first bit after the EOL that starts each listed row (EOLs counted from 1)."""
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
    wanted = set(rows)
    count = 0
    zeros = 0
    for pos in range(bits.size):
        if bits[pos]:
            if zeros >= 11:
                count += 1
                if count in wanted and pos + 1 < bits.size:
                    bits[pos + 1] ^= 1
            zeros = 0
        else:
            zeros += 1
    return np.packbits(bits, bitorder="little").tobytes()


def parse_rows(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", text)]


# -- the run of one test ---------------------------------------------------------------------------
@dataclass
class ConformanceResult:
    name: str
    verdict: str  # pass | fail | n/a
    reason: str = ""
    virtual_seconds: float = 0.0
    trace: list[str] = field(default_factory=list)

    def line(self) -> str:
        word = {"pass": "pass", "fail": "FAIL", "n/a": "n/a"}[self.verdict]
        text = f"{self.name:<10} {word}"
        if self.reason:
            text = f"{text}  {self.reason}"
        known = KNOWN_DIFFERENCES.get(self.name) if self.verdict == "fail" else None
        return f"{text} -- why: {known}" if known else text


class ConformanceRun:
    """One test: a fresh machine, a tester, the steps in order."""

    def __init__(self, script: Script, *, seed: int = 0, verbose: bool = False) -> None:
        self.script = script
        self.verbose = verbose
        self.sim = Simulation(seed=seed)
        self.machine = self.sim.main
        self.board = self.machine.board
        self.clock = self.sim.clock
        settings = self.machine.firmware.settings
        try:  # the runner answers calls itself: keep the firmware from answering (TEL mode)
            settings.set("receive.mode", "tel")
        except (KeyError, ValueError):
            pass
        self.config: StationConfig = config_from_settings(settings)
        self.tester = Tester(self.sim)
        self.sink = PageStore()
        self.call: FaxCall | None = None
        self.role = ""  # called (CALL) | calling (ANSWER)
        self.documents: list[list[EtsiPage]] = []
        self.started = False
        self.cursor = 0  # index into tester.heard: what R steps still have to look at
        self.last_frame_end: dict[str, int] = {}  # frame name -> when the last one ended
        self.dcs: DcsParams | None = None  # the last DCS the machine sent (R MSG decodes by it)
        self.trace: list[str] = []
        self.checks_done = 0  # timing checks measured
        self.began = self.clock.now

    # -- running ----------------------------------------------------------------------------------
    def run(self) -> ConformanceResult:
        try:
            for item in self.script.items:
                if isinstance(item, Repeat):
                    self._repeat(item)
                else:
                    self._step(item)
        except StepFailed as exc:
            where = self._where(exc)
            return ConformanceResult(
                self.script.name, "fail", f"{where}: {exc}", self._now(), self.trace
            )
        return ConformanceResult(self.script.name, "pass", "", self._now(), self.trace)

    def _where(self, exc: StepFailed) -> str:
        step = exc.step
        if step is None:
            return "setup"
        where = f"step {step.number} (line {step.line})"
        if exc.round_number:
            where += f" in round {exc.round_number} of its repeat"
        return f"{where} {step.describe()}"

    def _now(self) -> float:
        return round(self.clock.now / SECOND, 3)

    def _log(self, text: str) -> None:
        entry = f"{self.clock.now / SECOND:9.3f}  {text}"
        self.trace.append(entry)
        if self.verbose:
            print(f"  {self.script.name} {entry}", flush=True)

    def _step(self, step: Step, round_number: int = 0) -> None:
        try:
            if self.clock.now - self.began > TEST_LIMIT:
                raise StepFailed(f"still running after {TEST_LIMIT // SECOND} s of virtual time")
            self._log(f"step {step.number}: {step.describe()}")
            self._execute(step)
        except StepFailed as exc:
            if exc.step is None:
                exc.step = step
                exc.round_number = round_number
            raise

    def _repeat(self, repeat: Repeat) -> None:
        """`min` rounds at least; more (up to `max`) while the next frame matches the round's
        first awaited frame rather than what follows the repeat."""
        rounds = 0
        while True:
            if rounds >= repeat.min:
                if repeat.max is not None and rounds >= repeat.max:
                    return
                head = repeat.steps[0] if repeat.steps else None
                if head is None or not (head.dir == "R" and head.type == "HDLC"):
                    return
                self._ensure_call(head)
                self._end_carrier()  # listening now, as the round's first step would
                frame = self._peek_frame(head)
                if frame is None or not any(
                    p.matches(frame) for p in Expectation.of(head).patterns
                ):
                    return
            rounds += 1
            for step in repeat.steps:
                self._step(step, rounds)

    def _execute(self, step: Step) -> None:
        kind = step.type
        if kind in ("CALL", "ANSWER"):
            self._set_role(step)
            return
        if kind == "SET":
            self._set(step)
            return
        if kind == "STATUS":
            self._status(step)
            return
        self._ensure_call(step)
        if kind == "WAIT":
            self._end_carrier()
            self._advance(step.int("value", 1) * MS)
            self.cursor = len(self.tester.heard)
        elif step.dir == "T":
            self._transmit(step)
            self.cursor = len(self.tester.heard)
        elif step.dir == "R":
            self._end_carrier()
            self._receive(step)
        else:
            raise StepFailed(f'a {kind} step needs dir="T" or dir="R"')

    # -- time ---------------------------------------------------------------------------------------
    def _advance(self, duration: int) -> None:
        self.clock.advance(duration)

    def _until(self, done: Callable[[], bool], timeout: int) -> bool:
        return self.clock.advance(timeout, stop=done)

    # -- the call ------------------------------------------------------------------------------------
    def _set_role(self, step: Step) -> None:
        if self.started:
            raise StepFailed(f"{step.type} after the call has started")
        self.role = "called" if step.type == "CALL" else "calling"
        value = step.get("value")
        self.documents = [document(value)] if value else []

    def _ensure_call(self, step: Step) -> None:
        """Place the call the script's CALL/ANSWER asked for, at the first step that needs it."""
        if self.started:
            return
        if not self.role:
            raise StepFailed("the script has no CALL or ANSWER before its first step")
        self.started = True
        line = self.board.line
        if self.role == "called":
            pages = [p.page for p in self.documents[0]] if self.documents else []

            def answer(event: LineEvent) -> None:
                if event.kind == "ring" and self.call is None:
                    self.call = FaxCall.answer(
                        self.board, self.config, sink=self.sink, polling_document=pages
                    )

            assert line is not None
            line.listeners.add(answer)
            self.tester.line.dial(self.machine.number)
        else:

            def pick_up(event: LineEvent) -> None:
                if event.kind == "ring":
                    self.tester.line.go_off_hook()

            self.tester.line.listeners.add(pick_up)
            pages = [p.page for p in self.documents[0]] if self.documents else []
            self.call = FaxCall.dial(
                self.board,
                self.tester.line.number,
                pages,
                self.config,
                poll=not pages,
                sink=self.sink,
            )
            for later in self.documents[1:]:
                self._add_document(later)
        if not self._until(lambda: self.tester.line.connected, 120 * SECOND):
            raise StepFailed("the call did not connect")
        self.clock.run_due()
        self._log(f"connected ({'tester calls' if self.role == 'called' else 'machine calls'})")

    def _add_document(self, pages: list[EtsiPage]) -> None:
        session = self.call.session if self.call is not None else None
        add = getattr(session, "add_document", None)
        if add is None:
            raise StepFailed("the machine cannot add a document to a call in progress")
        add([p.page for p in pages])

    def _call_done(self) -> bool:
        return self.call is not None and self.call.done

    def _machine_status(self) -> str:
        if self.call is None:
            return "no call"
        if self.call.result is not None:
            return self.call.result.outcome.status
        outcome = self.call.session.outcome
        return outcome.status if outcome is not None else "OK"  # in progress, no error so far

    # -- SET and STATUS -----------------------------------------------------------------------------
    def _set(self, step: Step) -> None:
        tag = (step.get("tag") or "").upper()
        value = step.get("value") or ""
        config = self.config
        if step.dir == "R":  # what the machine requires of the far end
            if tag == "PWD":
                config.polling_password = value
            elif tag == "SID":
                config.required_password = value
            else:
                raise StepFailed(f"the machine cannot require a remote {tag}")
            return
        if tag == "IDENT":
            config.ident = value
        elif tag == "SUB":
            config.subaddress = value
        elif tag == "SID":
            config.sender_password = value
        elif tag == "PWD":
            config.polling_password = value
        elif tag == "SEP":
            config.selective_polling = value
        elif tag == "RXFILE":
            pass  # the machine keeps every page it receives
        elif tag == "TXFILE":
            pages = document(value)
            if self.call is not None:
                self._add_document(pages)
            else:
                self.documents.append(pages)
        else:
            raise StepFailed(f"no machine setting for SET {tag}")

    def _status(self, step: Step) -> None:
        expected = step.get("value") or "OK"
        got = self._machine_status()
        if got not in STATUS_MAP.get(expected, (expected,)):
            raise StepFailed(f"expected status {expected}, the machine's is {got}")

    # -- transmitting --------------------------------------------------------------------------------
    def _end_carrier(self) -> None:
        if self.tester.modem.open_carrier is not None:
            self.clock.advance_to(self.tester.modem.end_carrier())

    def _send_until_done(self, end: int) -> None:
        self.clock.advance_to(end)

    def _transmit(self, step: Step) -> None:
        modem = self.tester.modem
        kind = step.type
        key = step.modem
        if key is not None and key not in MODULATIONS:
            raise StepFailed(f"no modem {key!r}")
        if kind == "CED":
            self._end_carrier()
            self._send_until_done(modem.send_tone("ced", TESTER_CED))
        elif kind == "CNG":
            self._end_carrier()
            modem.start_cng()
            self._advance(500 * MS)
            modem.stop_cng()
        elif kind == "PREAMBLE":
            self._preamble(step)
        elif kind == "POSTAMBLE":
            if modem.open_carrier is not None:
                flags = step.int("value", POSTAMBLE_FLAGS)
                self._send_until_done(modem.send_flags(self._flag_time(flags, modem.open_carrier)))
        elif kind == "HDLC":
            frame = self._frame_value(step)
            carrier = key or modem.open_carrier or "V.21"
            if modem.open_carrier not in (None, carrier):
                self._end_carrier()
            bad = [0] if step.get("crc_error") == "0" else []
            end = modem.send_hdlc([frame], carrier, final=False, preamble=0, bad_fcs=bad)
            self._send_until_done(end)
        elif kind == "TCF":
            self._end_carrier()
            length = step.int("value", 450)
            pattern = min(step.int("pattern", 0), length)
            data = b"\x55" * pattern + bytes(length - pattern)
            self._send_until_done(modem.send_data(data, self._need_modem(step)))
        elif kind == "MSG":
            self._end_carrier()
            key = self._need_modem(step)
            data = self._page_for(step)
            self._send_until_done(modem.send_data(data, key, short_train=True))
        elif kind == "PP":
            self._partial_page(step)
        elif kind == "CLEAR":
            self._end_carrier()
            self.clock.run_due()
            self.tester.line.hang_up()
            self.clock.run_due()
        else:
            raise StepFailed(f"the tester cannot send {kind}")

    def _need_modem(self, step: Step) -> str:
        if not step.modem:
            raise StepFailed(f"a {step.type} step needs a modem")
        return step.modem

    @staticmethod
    def _flag_time(flags: int, modulation: str) -> int:
        return flags * 8 * SECOND // MODULATIONS[modulation].rate

    def _preamble(self, step: Step) -> None:
        modem = self.tester.modem
        key = step.modem or modem.open_carrier or "V.21"
        flags = step.int("value", PREAMBLE_FLAGS)
        duration = self._flag_time(flags, key)
        if modem.open_carrier == key:
            self._send_until_done(modem.send_flags(duration))
            return
        self._end_carrier()
        if key != "V.21":
            duration += FAST_PREAMBLE
        end = modem.send_hdlc([], key, final=False, preamble=duration)
        self._send_until_done(end)

    def _frame_value(self, step: Step) -> bytes:
        """The octets to send; a trailing `...` adds nothing (SpanDSP sends what is written)."""
        try:
            octets, _mask, _open = parse_octets(step.get("value") or "")
        except ValueError:
            raise StepFailed(f"cannot read the frame value {step.get('value')!r}") from None
        if not octets:
            raise StepFailed("a frame to send needs its octets")
        return octets

    def _page_for(self, step: Step) -> bytes:
        name = step.get("value")
        if not name:
            raise StepFailed("a page step needs a file name")
        try:
            pages = document(name)
        except KeyError as exc:
            raise StepFailed(str(exc.args[0])) from None
        compression = (step.get("compression") or "T.4 1D").upper()
        coding = {"T.4 1D": "mh", "T.4 2D": "mr", "T.6": "mmr"}.get(compression)
        if coding is None:
            raise StepFailed(f"the tester cannot code {compression}")
        rate = MODULATIONS[step.modem].rate if step.modem else 4800
        rows = parse_rows(step.get("bad_rows") or "")
        return page_data(
            pages[0], coding, min_bits=step.int("min_bits", 0), rate=rate, bad_rows=rows
        )

    def _partial_page(self, step: Step) -> None:
        """One ECM block of a page: FCD frames numbered within the block, then RCP frames."""
        modem = self.tester.modem
        key = step.modem or modem.open_carrier
        if key is None or key == "V.21":
            raise StepFailed("a partial page goes on a high-speed carrier (PREAMBLE modem=...)")
        size = step.int("frame_size", 64)
        block = step.int("block", 0)
        bad = step.int("crc_error", -1)
        data = self._page_for(step)
        first = 256 * block * size
        chunk = data[first : first + 256 * size]
        frames: list[bytes] = []
        bad_index: list[int] = []
        for offset in range(0, len(chunk), size):
            number = (first + offset) // size
            piece = chunk[offset : offset + size].ljust(size, b"\x00")
            if number == bad:
                bad_index.append(len(frames))
            frames.append(bytes((0xFF, 0x03, BY_NAME["FCD"].fcf, number & 0xFF)) + piece)
        frames += [bytes((0xFF, 0x03, BY_NAME["RCP"].fcf))] * RCP_FRAMES
        end = modem.send_hdlc(frames, key, final=False, preamble=0, bad_fcs=bad_index)
        self._send_until_done(end)

    # -- receiving ------------------------------------------------------------------------------------
    def _timeout(self, step: Step) -> int:
        return step.int("timeout", DEFAULT_R_TIMEOUT) * MS

    def _receive(self, step: Step) -> None:
        kind = step.type
        if kind in ("CED", "CNG"):
            self._await_tone(step, kind.lower())
        elif kind == "HDLC":
            self._await_frame(step)
        elif kind == "SILENCE":
            if not self._until(self.tester.far_end_quiet, self._timeout(step)):
                raise StepFailed("the machine did not fall silent")
            self.cursor = len(self.tester.heard)
        elif kind in ("TCF", "MSG", "PP"):
            self._await_carrier(step)
        elif kind == "CLEAR":
            self._await_clear(step)
        else:
            raise StepFailed(f"the tester cannot wait for {kind}")

    def _new(self) -> list[Heard]:
        return self.tester.heard[self.cursor :]

    def _await_tone(self, step: Step, tone: str) -> None:
        def found() -> tuple[Heard | None, Heard | None]:
            on = off = None
            for heard in self._new():
                if heard.kind == "tone_on" and heard.name == tone and on is None:
                    on = heard
                elif heard.kind == "tone_off" and heard.name == tone and on is not None:
                    off = heard
                    break
            return on, off

        if not self._until(lambda: found()[1] is not None, self._timeout(step)):
            on = found()[0]
            raise StepFailed(f"no {tone.upper()}" + (" end" if on is not None else ""))
        on, off = found()
        assert on is not None and off is not None
        self.cursor = self.tester.heard.index(off) + 1
        self.last_frame_end[tone.upper()] = off.t
        length = off.t - on.t
        self._log(f"  {tone.upper()} {_seconds(length)}")
        for check in step.checks:
            window = _window(check.desc)
            if window is not None and re.search(r"\bis\b", check.desc):
                self._timing(check, length, window)

    def _frames_to_consider(self, control: int | None) -> list[Heard]:
        return [
            h
            for h in self._new()
            if h.kind == "frame"
            and h.name == "V.21"
            and h.crc_ok
            and len(h.frame) >= 2
            and (control is None or h.frame[1] == control)
        ]

    def _peek_frame(self, step: Step) -> bytes | None:
        expected = Expectation.of(step)
        if not self._until(
            lambda: bool(self._frames_to_consider(expected.control)), self._timeout(step)
        ):
            return None
        return self._frames_to_consider(expected.control)[0].frame

    def _await_frame(self, step: Step) -> None:
        expected = Expectation.of(step)
        arrived = self._until(
            lambda: bool(self._frames_to_consider(expected.control)), self._timeout(step)
        )
        if not arrived:
            if expected.nothing_ok:
                self._log("  nothing (allowed)")
                return
            heard = [notation(h.frame) for h in self._new() if h.kind == "frame" and h.crc_ok]
            seen = f"; heard {', '.join(heard)}" if heard else ""
            raise StepFailed(
                f"no frame within {self._timeout(step) // MS} ms{seen}{self._machine_note()}"
            )
        got = self._frames_to_consider(expected.control)[0]
        self.cursor = self.tester.heard.index(got) + 1
        self._log(f"  got {notation(got.frame)}")
        if not any(p.matches(got.frame) for p in expected.patterns):
            want = " or ".join(
                notation(p.octets).rsplit(" (", 1)[0] + (" ..." if p.open_ended else "")
                for p in expected.patterns
            )
            raise StepFailed(f"expected {want}, got {notation(got.frame)}")
        self._frame_checks(step, got)
        name = frame_name(got.frame).rstrip("+")
        self.last_frame_end[name] = got.t
        if name == "DCS" and len(got.frame) > 3:
            try:
                self.dcs = DcsParams.decode(got.frame[3:])
            except ValueError:
                self.dcs = None

    def _frame_checks(self, step: Step, got: Heard) -> None:
        for check in step.checks:
            desc = check.desc
            window = _window(desc)
            if "preamble" in desc.lower():
                first = self._first_frame_of_carrier(got)
                airtime = hdlc_bits(first.frame) * SECOND // 300
                preamble = first.t - airtime - first.carrier_start
                self._timing(check, preamble, window or PREAMBLE_WINDOW)
                continue
            interval = _INTERVAL.search(desc)
            if interval is None or window is None:
                continue
            before = interval.group(1).upper()
            since = self.last_frame_end.get(before)
            if since is None:
                raise StepFailed(f"{desc}: no {before} was heard before")
            self._timing(check, got.carrier_start - since, window)

    def _timing(self, check: Check, measured: int, window: tuple[int, int]) -> None:
        """A timing check of the script, on the virtual clock."""
        ok = window[0] <= measured <= window[1]
        limits = f"{_seconds(window[0])} to {_seconds(window[1])}"
        self._log(f"  check {check.name}: {_seconds(measured)} ({limits}) {'ok' if ok else 'FAIL'}")
        self.checks_done += 1
        if not ok:
            raise StepFailed(f"{check.desc}: measured {_seconds(measured)}")

    def _first_frame_of_carrier(self, got: Heard) -> Heard:
        for heard in self.tester.heard:
            if heard.kind == "frame" and heard.carrier_start == got.carrier_start:
                return heard
        return got

    def _await_carrier(self, step: Step) -> None:
        key = self._need_modem(step)

        def carrier_ups() -> list[Heard]:
            return [h for h in self._new() if h.kind == "carrier_up"]

        if not self._until(lambda: bool(carrier_ups()), self._timeout(step)):
            raise StepFailed(
                f"no {step.type} carrier within {self._timeout(step) // MS} ms{self._machine_note()}"
            )
        up = carrier_ups()[0]
        if up.name != key:
            frames = [
                notation(h.frame) for h in self._new() if h.kind == "frame" and h.name == "V.21"
            ]
            if up.name == "V.21" and self._until(
                lambda: any(h.kind == "frame" for h in self._new()), 5 * SECOND
            ):
                frames = [notation(h.frame) for h in self._new() if h.kind == "frame"]
            what = f"V.21 ({', '.join(frames)})" if up.name == "V.21" and frames else up.name
            raise StepFailed(f"expected {step.type} at {key}, got {what}")

        def down() -> Heard | None:
            index = self.tester.heard.index(up)
            for heard in self.tester.heard[index:]:
                if heard.kind == "carrier_down" and heard.name == key:
                    return heard
            return None

        if not self._until(lambda: down() is not None, self._timeout(step)):
            raise StepFailed(
                f"the {step.type} carrier did not end within {self._timeout(step) // MS} ms"
            )
        end = down()
        assert end is not None
        index = self.tester.heard.index(up)
        body = self.tester.heard[index : self.tester.heard.index(end)]
        self.cursor = self.tester.heard.index(end) + 1
        if step.type == "MSG":
            data = b"".join(h.data for h in body if h.kind == "data")
            self._log(f"  page: {len(data)} octets at {key}")
            if step.get("value"):
                self._check_page(step, data)
        elif step.type == "PP":
            count = sum(1 for h in body if h.kind == "frame")
            self._log(f"  partial page: {count} frames at {key}")
        else:
            length = sum(len(h.data) for h in body if h.kind == "data")
            self._log(f"  TCF: {length} octets at {key}")

    def _check_page(self, step: Step, data: bytes) -> None:
        """The page the machine sent decodes to the document's page at the DCS's resolution."""
        if self.dcs is None:
            return
        expected = document(step.get("value") or "")[0].page
        page, quality = decode_page(data, self.dcs)
        want = fit_pixels(expected, self.dcs.resolution, self.dcs.width)
        if page is None or not np.array_equal(page.pixels, want):
            raise StepFailed(
                f"the page does not decode to {step.get('value')} "
                f"({quality.lines} lines, {quality.bad_lines} bad)"
            )
        self._log(f"  the page decodes to {step.get('value')}, pel for pel")

    def _await_clear(self, step: Step) -> None:
        start = self.clock.now
        low = step.int("timein", 0) * MS
        high = self._timeout(step)
        if not self._until(self._call_done, high + MS):
            raise StepFailed(f"the machine did not clear the call within {high // MS} ms")
        took = self.clock.now - start
        self._log(f"  cleared after {took // MS} ms")
        if not low <= took <= high:
            raise StepFailed(
                f"the machine cleared the call after {took // MS} ms "
                f"(expected {low // MS} to {high // MS} ms)"
            )

    def _machine_note(self) -> str:
        if self.call is not None and self.call.done:
            return f" (the machine had ended the call: {self._machine_status()})"
        return ""


# -- the suite -------------------------------------------------------------------------------------
def run_test(script: Script, *, seed: int = 0, verbose: bool = False) -> ConformanceResult:
    reason = NOT_APPLICABLE.get(script.name)
    if reason is not None:
        return ConformanceResult(script.name, "n/a", reason)
    return ConformanceRun(script, seed=seed, verbose=verbose).run()


def summary(results: Sequence[ConformanceResult]) -> str:
    passed = sum(r.verdict == "pass" for r in results)
    failed = sum(r.verdict == "fail" for r in results)
    missing = sum(r.verdict == "n/a" for r in results)
    return f"TSB85: {passed} passed, {failed} failed, {missing} not applicable of {len(results)}"


def select(scripts: Sequence[Script], only: Sequence[str] | None) -> list[Script]:
    if not only:
        return list(scripts)
    names = {s.name for s in scripts}
    unknown = [n for n in only if n not in names]
    if unknown:
        raise SuiteError(f"no test named {', '.join(unknown)} in the suite")
    wanted = set(only)
    return [s for s in scripts if s.name in wanted]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", type=Path, required=True, help="TSB85 suite (tsb85.xml)")
    parser.add_argument(
        "--only", nargs="+", action="extend", metavar="NAME", help="run only these tests"
    )
    parser.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print every step with its virtual time"
    )


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        scripts = select(parse_suite(args.suite), args.only)
    except SuiteError as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return 2
    results = []
    for script in scripts:
        result = run_test(script, seed=args.seed, verbose=args.verbose)
        results.append(result)
        print(result.line(), flush=True)
    wall = time.perf_counter() - started
    print(f"({len(results)} tests in {wall:.1f} s of wall time)", file=sys.stderr)
    print(summary(results), flush=True)
    return 1 if any(r.verdict == "fail" for r in results) else 0


__all__ = [
    "NOT_APPLICABLE",
    "STATUS_MAP",
    "Script",
    "Step",
    "ConformanceResult",
    "ConformanceRun",
    "add_arguments",
    "parse_suite",
    "run",
    "run_test",
    "summary",
]
