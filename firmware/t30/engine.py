"""The T.30 session's plumbing, shared by its sending and receiving halves: the command program it
builds, state changes, the end of the call, commands repeated on T4 and responses given again.

Nothing here decides what to send; `sending.Sender`, `receiving.Receiver` and `session.T30Session`
do. The session has no I/O and no clock: it returns commands (events.py) and is told of
happenings (carriers, frames, timers).
"""

from __future__ import annotations

from collections.abc import Sequence

from estudio190f.firmware.page import Page

from .capabilities import DcsParams
from .events import (
    Command,
    Hangup,
    Listen,
    Notify,
    SendFrames,
    SendSilence,
    StartTimer,
    StopCng,
    StopTimer,
)
from .frames import make_frame
from .results import Outcome, outcome
from .states import BY_NAME, PHASES
from .station import PageSink, SessionReport, StationConfig
from .timing import DCN_HOLD, GAP, T2, T4

MAX_TRIES = 3  # a command is sent at most this often (T.30: DCS "up to 3 times")
TIMERS = ("T0", "T1", "T2", "T4", "T5", "TCF")


class SessionBase:
    """State, program and repetition; the halves add the protocol."""

    role: str
    config: StationConfig
    document: Sequence[Page]
    sink: PageSink

    def __init__(self) -> None:
        self.state = "idle"
        self.report = SessionReport()
        self.outcome: Outcome | None = None
        self.x = 0  # our X bit: 1 once we received a DIS
        self.params: DcsParams | None = None
        self._out: list[Command] = []
        # the command waiting for a response, repeated on T4 (or at once after a garbled reply)
        self._cmd: list[Command] = []
        self._cmd_fail = "UNEXPECTED"
        self._tries = 0
        # our last response, given again when the far end repeats its command
        self._last_response: list[bytes] = []
        self._response_state = "idle"
        self._response_listen: tuple[str, ...] = ("V.21",)
        self._end_status = "OK"  # how a DCN (or T2) in r_wait_dcn ends the call: OK or NOMEM

    @property
    def phase(self) -> str:
        return PHASES.get(self.state, "E")

    # -- the program ------------------------------------------------------------------------------
    def _emit(self, *commands: Command) -> None:
        self._out.extend(commands)

    def _take(self) -> list[Command]:
        out, self._out = self._out, []
        return out

    def _goto(self, state: str) -> None:
        if state not in PHASES:
            raise ValueError(f"no T.30 state {state!r}")
        old_phase = self.phase
        self.state = state
        if self.phase != old_phase:
            self._emit(Notify("phase", {"phase": self.phase, "state": state}))

    def _frame(self, name: str, fif: bytes = b"", final: bool = True) -> bytes:
        return make_frame(name, fif, final=final, x=self.x)

    def _wait_timer(self) -> str | None:
        return BY_NAME[self.state].timer if self.state in BY_NAME else None

    def _wait_again(self) -> None:
        """Go on waiting in this state: its timer starts again (it stopped when flags came)."""
        timer = self._wait_timer()
        if timer is not None:
            self._emit(StartTimer(timer, T4 if timer == "T4" else T2))

    # -- the end ----------------------------------------------------------------------------------
    def _before_finish(self) -> None:
        """What a half must settle before the call ends (a page held after ERR)."""

    def _finish(self, status: str) -> None:
        self._before_finish()
        self.outcome = outcome(status)
        self._goto("done")
        self._emit(*(StopTimer(t) for t in TIMERS), StopCng())
        self._emit(Notify("finished", {"outcome": self.outcome}), Hangup())

    def _disconnect(self, status: str) -> None:
        """Send DCN, stay off hook DCN_HOLD (the far end hears all of it), end with `status`."""
        if self.outcome is not None:
            return
        self._emit(*(StopTimer(t) for t in TIMERS), StopCng(), Listen(()))
        self._emit(SendSilence(GAP), SendFrames((self._frame("DCN"),)), SendSilence(DCN_HOLD))
        self._finish(status)

    # -- commands and their repetition ------------------------------------------------------------
    def _send_command(self, program: list[Command], fail: str, state: str) -> None:
        """Send a command and wait T4 for the response; `fail` when 3 tries got none."""
        self._cmd = program
        self._cmd_fail = fail
        self._tries = 1
        self._goto(state)
        self._emit(*program, Listen(("V.21",)), StartTimer("T4", T4))

    def _repeat_command(self, frames: object = None, fail: str | None = None) -> None:
        if self._tries >= MAX_TRIES:
            self._disconnect(fail or self._cmd_fail)
            return
        self._tries += 1
        self._emit(StopTimer("T4"), *self._cmd, Listen(("V.21",)), StartTimer("T4", T4))

    # -- responses ----------------------------------------------------------------------------------
    def _respond(
        self, frames: list[bytes], state: str, listen: tuple[str, ...] = ("V.21",)
    ) -> None:
        """Answer a command, then wait in `state` (T2)."""
        self._last_response = frames
        self._response_state = state
        self._response_listen = listen
        self._goto(state)
        self._emit(
            StopTimer("T2"),
            SendSilence(GAP),
            SendFrames(tuple(frames)),
            Listen(listen),
            StartTimer("T2", T2),
        )

    def _resend_response(self, frames: object = None) -> None:
        """The far end did not hear our answer (it repeated its command, or sent CRP)."""
        if self._last_response:
            self._emit(StopTimer("T2"), SendSilence(GAP), SendFrames(tuple(self._last_response)))
            self._wait_again()
