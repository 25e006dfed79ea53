"""One TSB85 test played against the machine: a fresh simulation, the tester, the steps in order.

The machine is a `Simulation` with its firmware at factory settings, put in TEL receive mode so
that the job layer does not answer the call itself; its side of the call is the firmware's own
T.30 through `FaxCall`, configured by `config_from_settings` plus the script's SET steps.
- `CALL`: the tester calls the machine (which answers; its polling document is the step's value);
  `ANSWER`: the machine calls the tester to send the document named, or, with none, to poll. The
  script's time starts when the call is connected (the scripts have no dialing phase).
- dir="T" steps go to the tester (conformance_tester.py); `WAIT` is silence; like SpanDSP's
  tester, the tester does not listen during WAIT and T steps.
- dir="R" steps wait (7 s unless `timeout` says) for what the machine must send: CED, CNG, an
  HDLC frame (SpanDSP's rule: frames whose control octet differs from the one expected are passed
  over, the next with the same control octet must match), silence, a TCF, page or partial page at
  the modem named (a page with a value is decoded and compared pel for pel), or the machine
  clearing the call within `timein`..`timeout` ms.
- `<repeat min max>`: `min` rounds at least; another round while the next frame matches the
  round's first awaited frame rather than what follows.
- `STATUS` compares the machine's call result with SpanDSP's status name (`STATUS_MAP`).
- Timing checks whose text states a window are measured on the virtual clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from estudio190f.firmware.fax_call import FaxCall, PageStore, config_from_settings
from estudio190f.firmware.t30.capabilities import DcsParams
from estudio190f.firmware.t30.image import decode_page, fit_pixels
from estudio190f.firmware.t30.station import StationConfig
from estudio190f.firmware.t30.timing import BY_NAME as TIMES
from estudio190f.hw.clock import MS, SECOND
from estudio190f.hw.line import LineEvent
from estudio190f.hw.modem import hdlc_bits

from .conformance_pages import EtsiPage, document
from .conformance_script import (
    INTERVAL,
    Check,
    Expectation,
    Repeat,
    Script,
    Step,
    StepFailed,
    frame_name,
    notation,
    window,
)
from .conformance_tester import Heard, Tester
from .sim import Simulation

DEFAULT_R_TIMEOUT = 7000  # ms: SpanDSP's tester waits this long for an R step without timeout
TEST_LIMIT = 60 * 60 * SECOND  # a test still running after this much virtual time is stopped
PREAMBLE_WINDOW = (TIMES["preamble"].low, TIMES["preamble"].high)  # T.30 5.3.1: 1 s +-15 %
OK_WITH_UNKNOWN_FRAMES = "OK, unknown frames ignored"

# SpanDSP's completion status names (TSB85 STATUS values) -> the machine's statuses that mean the
# same. The machine's statuses are SpanDSP's names where it has them (firmware/t30/results.py);
# a name not listed here maps to itself. docs/conformance.md explains each row.
STATUS_MAP: dict[str, tuple[str, ...]] = {
    # "Far end is not able to transmit": nothing to poll, whichever side finds it out. The
    # machine reports that as NOPOLL (its polling code 401).
    "TX_INCAPABLE": ("TX_INCAPABLE", "NOPOLL"),
    # "Unexpected DCN after EOM or MPS sequence": SpanDSP uses it on the sending side too; the
    # machine as sender reports a DCN after any post-message command as TX_BADPG (407,
    # Panasonic's "DCN after post-message"), as SpanDSP does after EOP.
    "RX_DCNPHD": ("RX_DCNPHD", "TX_BADPG"),
    # SpanDSP keeps the first error of a call as its status, even when the call then completes:
    # a frame with no T.30 FCF leaves UNEXPECTED. The machine ignores such a frame (and counts
    # it); its result for the call is OK.
    "UNEXPECTED": ("UNEXPECTED", OK_WITH_UNKNOWN_FRAMES),
    # MRGN03's 5.1 s scan line: SpanDSP's receiver refuses the page and gives up after the
    # sender's repeated EOP (RETRYDCN); the machine disconnects as T.4 4.1.3 says as soon as the
    # line passes 5 s (RX_LINE_TOO_LONG).
    "RETRYDCN": ("RETRYDCN", "RX_LINE_TOO_LONG"),
}


@dataclass
class ConformanceResult:
    name: str
    verdict: str  # pass | fail | n/a
    reason: str = ""
    virtual_seconds: float = 0.0
    trace: list[str] = field(default_factory=list)


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
                self.tester.end_carrier()  # listening now, as the round's first step would
                frame = self._peek_frame(head)
                if frame is None or not any(
                    p.matches(frame) for p in self._expectation(head).patterns
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
            self.tester.end_carrier()
            self.clock.advance(step.int("value", 1) * MS)
            self.cursor = len(self.tester.heard)
        elif step.dir == "T":
            self.tester.send(step)
            self.cursor = len(self.tester.heard)
        elif step.dir == "R":
            self.tester.end_carrier()
            self._receive(step)
        else:
            raise StepFailed(f'a {kind} step needs dir="T" or dir="R"')

    # -- time ---------------------------------------------------------------------------------------
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
        assert line is not None, "the machine under test is on the tester's line"
        if self.role == "called":
            pages = [p.page for p in self.documents[0]] if self.documents else []

            def answer(event: LineEvent) -> None:
                if event.kind == "ring" and self.call is None:
                    self.call = FaxCall.answer(
                        self.board, self.config, sink=self.sink, polling_document=pages
                    )

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
        """The machine's call result, as SpanDSP's status would put it: a call that completed
        although the far end sent frames with no T.30 FCF (which the machine ignored) is
        OK_WITH_UNKNOWN_FRAMES (STATUS_MAP: SpanDSP keeps UNEXPECTED for it)."""
        if self.call is None:
            return "no call"
        if self.call.result is not None:
            status = self.call.result.outcome.status
        else:
            outcome = self.call.session.outcome
            status = outcome.status if outcome is not None else "OK"  # running, no error yet
        if status == "OK" and self.call.session.report.unknown_frames:
            return OK_WITH_UNKNOWN_FRAMES
        return status

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

    # -- receiving ------------------------------------------------------------------------------------
    @staticmethod
    def _expectation(step: Step) -> Expectation:
        try:
            return Expectation.of(step)
        except ValueError as exc:
            raise StepFailed(f"cannot read the frame value {step.get('value')!r}: {exc}") from None

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
            stated = window(check.desc)
            if stated is not None and re.search(r"\bis\b", check.desc):
                self._timing(check, length, stated)

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
        expected = self._expectation(step)
        if not self._until(
            lambda: bool(self._frames_to_consider(expected.control)), self._timeout(step)
        ):
            return None
        return self._frames_to_consider(expected.control)[0].frame

    def _await_frame(self, step: Step) -> None:
        expected = self._expectation(step)
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
            stated = window(desc)
            if "preamble" in desc.lower():
                first = self._first_frame_of_carrier(got)
                airtime = hdlc_bits(first.frame) * SECOND // 300
                preamble = first.t - airtime - first.carrier_start
                self._timing(check, preamble, stated or PREAMBLE_WINDOW)
                continue
            interval = INTERVAL.search(desc)
            if interval is None or stated is None:
                continue
            before = interval.group(1).upper()
            since = self.last_frame_end.get(before)
            if since is None:
                raise StepFailed(f"{desc}: no {before} was heard before")
            self._timing(check, got.carrier_start - since, stated)

    def _timing(self, check: Check, measured: int, limits: tuple[int, int]) -> None:
        """A timing check of the script, on the virtual clock."""
        ok = limits[0] <= measured <= limits[1]
        text = f"{_seconds(limits[0])} to {_seconds(limits[1])}"
        self._log(f"  check {check.name}: {_seconds(measured)} ({text}) {'ok' if ok else 'FAIL'}")
        self.checks_done += 1
        if not ok:
            raise StepFailed(f"{check.desc}: measured {_seconds(measured)}")

    def _first_frame_of_carrier(self, got: Heard) -> Heard:
        for heard in self.tester.heard:
            if heard.kind == "frame" and heard.carrier_start == got.carrier_start:
                return heard
        return got

    def _await_carrier(self, step: Step) -> None:
        key = step.required_modem()

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


def _seconds(ticks: int) -> str:
    return f"{ticks / SECOND:.3f} s"


def run_test(script: Script, *, seed: int = 0, verbose: bool = False) -> ConformanceResult:
    return ConformanceRun(script, seed=seed, verbose=verbose).run()
