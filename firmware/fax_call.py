"""One fax call on a machine: the T.30 session bound to the board's line and modem.

`FaxCall.dial` seizes the line, dials, and once answered runs the session as the calling
station (sending the pages, or polling); `FaxCall.answer` answers a ringing line and runs it as
the answering station (receiving, or sending a polled document), on the board's first line and
modem or on the `port` given (the 2nd G3 option's). The session's commands run in order on the
modem, its timers on the board's timer group (a power cut cancels them), and the modem's and
line's happenings go back into the session. Nothing here touches the LCD: progress
(`CallProgress`) and the end (`CallResult`) go to the callbacks the job layer gives.

The session trace goes to the event log under source `t30`: one event per frame sent (`send`)
or received (`recv`), with the frame's name and its decoded fields, plus `negotiated`, `page`
and `result` events, so a fax engineer can follow a call as in a HylaFAX session log.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from estudio190f.hw.board import Board
from estudio190f.hw.clock import SECOND, Timer
from estudio190f.hw.line import LineEvent, LineInterface
from estudio190f.hw.modem import (
    CarrierDown,
    CarrierUp,
    DataReceived,
    FrameReceived,
    Modem,
    ModemEvent,
    ToneOn,
    TransmitDone,
)

from .page import Page
from .settings import Settings
from .t30 import events as ev
from .t30.capabilities import DcsParams
from .t30.results import Outcome, outcome
from .t30.session import T30Session
from .t30.station import KeepAll, PageSink, ReceivedPage, StationConfig
from .t30.timing import T0
from .t30.trace import SECRET_FRAMES, describe


@dataclass
class CallProgress:
    stage: str  # dialing | ringing | phase A-E | done
    page: int = 0  # page in progress (1-based; 0 before the first)
    speed: str = ""  # e.g. "V.17 14400"
    remote_id: str = ""


@dataclass
class CallResult:
    outcome: Outcome
    direction: str  # send | receive | poll
    pages_total: int  # pages the sender had (0 for a receiver)
    pages_confirmed: list[int] = field(default_factory=list)  # sender: pages the far end took
    received: list[ReceivedPage] = field(default_factory=list)  # receiver: pages kept, decoded
    speed: str = ""
    duration: float = 0.0  # seconds on the line (answer to hang-up)
    remote_id: str = ""
    params: DcsParams | None = None

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    @property
    def code(self) -> str:
        return self.outcome.code

    @property
    def lcd(self) -> str:
        return self.outcome.lcd

    @property
    def pages_done(self) -> int:
        return (
            len(self.received)
            if self.direction in ("receive", "poll")
            else len(self.pages_confirmed)
        )


class PageStore:
    """A receiving sink: keeps pages up to a count (None: no limit)."""

    def __init__(self, max_pages: int | None = None) -> None:
        self.max_pages = max_pages
        self.pages: list[ReceivedPage] = []
        self.busy = False  # ECM: answer RNR while set (the printer or memory is not ready)

    def store(self, page: ReceivedPage) -> bool:
        if self.max_pages is not None and len(self.pages) >= self.max_pages:
            return False
        self.pages.append(page)
        return True

    def room_for_more(self) -> bool:
        return self.max_pages is None or len(self.pages) < self.max_pages

    def ready(self) -> bool:
        return not self.busy


# The machine's non-standard facilities frame (NSF, and NSC when it polls): T.35 country code
# 00 (Japan), then the terminal provider code HylaFAX's and SpanDSP's NSF tables list for
# Toshiba (00 09), then the model name. What the real machine puts after the provider code is
# unknown: no proprietary facility is offered, so no peer acts on it.
MACHINE_NSF = b"\x00\x00\x09" + b"e-STUDIO190F"


def config_from_settings(settings: Settings) -> StationConfig:
    """The station's T.30 configuration from the machine's settings."""
    return StationConfig(
        nsf=MACHINE_NSF,
        ident=settings.text("machine.number"),
        top_speed=int(settings.text("modem.top_speed")),
        ecm=settings.text("modem.ecm") == "on",
        coding=settings.text("modem.coding"),
    )


def speed_text(params: DcsParams | None) -> str:
    return params.modulation.replace("/", " ") if params is not None else ""


class FaxCall:
    """One call. Build it with `dial` or `answer`; it runs on the clock until `result` is set."""

    def __init__(
        self,
        board: Board,
        session: T30Session,
        direction: str,
        *,
        on_progress: Callable[[CallProgress], None] | None = None,
        on_page: Callable[[str, int], None] | None = None,
        on_done: Callable[[CallResult], None] | None = None,
        sink: PageSink | None = None,
        port: tuple[LineInterface, Modem] | None = None,
    ) -> None:
        line, modem = port or (board.line, board.modem)
        if line is None or modem is None:
            raise ValueError("the machine is not on a phone line")
        self.board = board
        self.line: LineInterface = line  # `port`: another line and modem than the board's first
        self.modem: Modem = modem
        self.log = board.log
        self.session = session
        self.direction = direction
        self.on_progress = on_progress
        self.on_page = on_page
        self.on_done = on_done
        self.sink = sink
        self.progress = CallProgress("idle")
        self.result: CallResult | None = None
        self._queue: deque[ev.Command] = deque()
        self._awaiting: str | None = None  # tag of the transmission in progress
        self._tx_count = 0
        self._timers: dict[str, Timer] = {}
        self._t0: Timer | None = None
        self._dialled_at: int | None = None  # T0 runs from here (the session takes it over)
        self._drop: Timer | None = None  # a far end's habit: the line dropped in phase C
        self._connected_at: int | None = None
        self._started = False
        self.line.listeners.add(self._line_event)
        self.modem.listeners.add(self._modem_event)

    # -- building a call --------------------------------------------------------------------------
    @classmethod
    def dial(
        cls,
        board: Board,
        number: str,
        pages: Sequence[Page] = (),
        config: StationConfig | None = None,
        *,
        poll: bool = False,
        sink: PageSink | None = None,
        on_progress: Callable[[CallProgress], None] | None = None,
        on_page: Callable[[str, int], None] | None = None,
        on_done: Callable[[CallResult], None] | None = None,
        port: tuple[LineInterface, Modem] | None = None,
    ) -> FaxCall:
        """Call `number` to send `pages` (or, with `poll`, to receive the far end's document).
        The session reads `pages` as it goes (it is not copied): `on_page(kind, page)` says
        when a page is sent, confirmed or received."""
        config = config or StationConfig()
        if poll:
            config.poll = True
        sink = sink or KeepAll()
        session = T30Session("caller", config, pages, sink)
        call = cls(
            board,
            session,
            "poll" if poll else "send",
            on_progress=on_progress,
            on_page=on_page,
            on_done=on_done,
            sink=sink,
            port=port,
        )
        call.log.emit("fax", "dial", number=number, pages=len(pages), poll=poll)
        call._set_progress(stage="dialing")
        if call.line.state != "idle":
            # Our own line is in use (a call in progress): leave it alone.
            call.log.emit("fax", "line_in_use", state=call.line.state)
            call._end("BUSY", release=False)
            return call
        call.line.dial(number)
        return call

    @classmethod
    def answer(
        cls,
        board: Board,
        config: StationConfig | None = None,
        *,
        sink: PageSink | None = None,
        polling_document: Sequence[Page] = (),
        on_progress: Callable[[CallProgress], None] | None = None,
        on_done: Callable[[CallResult], None] | None = None,
        port: tuple[LineInterface, Modem] | None = None,
    ) -> FaxCall:
        """Answer the ringing line and receive (or be polled for `polling_document`)."""
        sink = sink or KeepAll()
        session = T30Session("answerer", config or StationConfig(), polling_document, sink)
        call = cls(board, session, "receive", on_progress=on_progress, on_done=on_done, sink=sink,
                   port=port)  # fmt: skip
        call.log.emit("fax", "answer")
        if call.line.connected:
            call._start_session()
        elif call.line.state == "ringing":
            call.line.go_off_hook()
        else:
            call._end("CALLDROPPED")  # the caller let go before we answered
        return call

    # -- operator -----------------------------------------------------------------------------------
    def cancel(self) -> None:
        """STOP: end the call now (DCN when the session is running)."""
        if self.result is not None:
            return
        if not self._started:
            self._end("CANCELLED")
            return
        self._flush()
        self._run(self.session.handle(ev.Cancel()))

    @property
    def done(self) -> bool:
        return self.result is not None

    # -- line and modem ------------------------------------------------------------------------------
    def _line_event(self, event: LineEvent) -> None:
        if self.result is not None:
            return
        kind = event.kind
        if kind == "dialed":
            self._dialled_at = self.board.clock.now
            self._t0 = self.board.timers.call_later(T0, self._no_answer, label="fax T0")
        elif kind == "ringback":
            self._set_progress(stage="ringing")
        elif kind == "busy":
            self._end("BUSY")
        elif kind == "no_dial_tone":
            self._end("NO_DIAL_TONE")
        elif kind in ("answered", "connected"):
            if self._t0 is not None:
                self._t0.cancel()
            self._start_session()
        elif kind in ("dropped", "remote_hangup"):
            if not self._started:
                self._end("CALLDROPPED")
                return
            self._flush()
            if self.session.outcome is not None:
                # The session had ended (we were sending DCN) when the far end let go.
                self._end(self.session.outcome.status)
                return
            self._run(self.session.handle(ev.LineLost(kind)))

    def _no_answer(self) -> None:
        if not self._started and self.result is None:
            self._end("NO_ANSWER")

    def _start_session(self) -> None:
        if self._started:
            return
        self._started = True
        now = self._connected_at = self.board.clock.now
        self.log.emit("t30", "connected", role=self.session.role)
        self._set_progress(stage="A")
        # T0 runs on in the session until the far end's first V.21 signal (T.30: T1 replaces it).
        since = 0 if self._dialled_at is None else now - self._dialled_at
        self._run(self.session.start(t0_left=T0 - since))

    def _modem_event(self, event: ModemEvent) -> None:
        if self.result is not None or not self._started:
            return
        session_event: ev.Event | None = None
        if isinstance(event, TransmitDone):
            if event.tag == self._awaiting:
                self._awaiting = None
                self._pump()
            return
        if isinstance(event, FrameReceived):
            if event.modulation == "V.21":
                self._trace("recv", event.frame, event.crc_ok)
            session_event = ev.FrameIn(event.frame, event.crc_ok, event.modulation)
        elif isinstance(event, DataReceived):
            session_event = ev.DataIn(event.data, event.modulation)
        elif isinstance(event, CarrierUp):
            if event.modulation != "V.21":
                self.log.emit("t30", "carrier", up=True, modulation=event.modulation)
            session_event = ev.CarrierStarted(event.modulation)
        elif isinstance(event, CarrierDown):
            if event.modulation != "V.21":
                self.log.emit("t30", "carrier", up=False, modulation=event.modulation)
            session_event = ev.CarrierEnded(event.modulation)
        elif isinstance(event, ToneOn):
            session_event = ev.ToneHeard(event.tone)
        if session_event is not None:
            self._run(self.session.handle(session_event))

    # -- running the session's commands ----------------------------------------------------------------
    def _run(self, commands: list[ev.Command]) -> None:
        self._queue.extend(commands)
        self._pump()

    def _flush(self) -> None:
        """Drop what is queued and silence the modem (the line is gone, or STOP)."""
        self._queue.clear()
        self._awaiting = None
        self.modem.stop()

    def _pump(self) -> None:
        while self._queue and self._awaiting is None and self.result is None:
            self._execute(self._queue.popleft())

    def _execute(self, cmd: ev.Command) -> None:
        modem = self.modem
        if isinstance(cmd, ev.SendFrames):
            if cmd.modulation == "V.21":
                for frame in cmd.frames:
                    self._trace("send", frame, True)
            else:
                self.log.emit("t30", "send_ecm", frames=len(cmd.frames), modulation=cmd.modulation)
            modem.send_hdlc(
                cmd.frames, cmd.modulation, short_train=cmd.short_train, tag=self._tag()
            )
        elif isinstance(cmd, ev.SendData):
            modem.send_data(cmd.data, cmd.modulation, short_train=cmd.short_train, tag=self._tag())
        elif isinstance(cmd, ev.SendSilence):
            modem.send_silence(cmd.duration, tag=self._tag())
        elif isinstance(cmd, ev.SendTone):
            modem.send_tone(cmd.tone, cmd.duration, tag=self._tag())
        elif isinstance(cmd, ev.StartCng):
            modem.start_cng()
        elif isinstance(cmd, ev.StopCng):
            modem.stop_cng()
        elif isinstance(cmd, ev.Listen):
            modem.receive(*cmd.modulations)
        elif isinstance(cmd, ev.StartTimer):
            self._cancel_timer(cmd.name)
            self._timers[cmd.name] = self.board.timers.call_later(
                cmd.duration, self._timer_expired, cmd.name, label=f"t30 {cmd.name}"
            )
        elif isinstance(cmd, ev.StopTimer):
            self._cancel_timer(cmd.name)
        elif isinstance(cmd, ev.Notify):
            self._notify(cmd)
        elif isinstance(cmd, ev.Hangup):
            self._queue.clear()
            self._hang_up()

    def _tag(self) -> str:
        self._tx_count += 1
        self._awaiting = f"fax-{id(self)}-{self._tx_count}"
        return self._awaiting

    def _cancel_timer(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def _timer_expired(self, name: str) -> None:
        self._timers.pop(name, None)
        if self.result is None:
            self.log.emit("t30", "timeout", timer=name, state=self.session.state)
            self._run(self.session.handle(ev.TimerExpired(name)))

    # -- reporting ------------------------------------------------------------------------------------
    def _trace(self, direction: str, frame: bytes, crc_ok: bool) -> None:
        name, detail = describe(frame)
        shown = frame[:3] if name in SECRET_FRAMES else frame  # a password stays out of the log
        fields: dict[str, Any] = {"frame": name, "info": detail, "hex": shown.hex(" ")}
        if not crc_ok:
            fields["fcs"] = "bad"
        self.log.emit("t30", direction, **fields)

    def _notify(self, cmd: ev.Notify) -> None:
        info = cmd.info
        kind = cmd.kind
        if kind == "phase":
            self.log.emit("t30", "phase", phase=info["phase"], state=info["state"])
            self._set_progress(stage=info["phase"])
            drop_after = self.session.config.behaviour.hang_up_in_phase_c
            if info["phase"] == "C" and drop_after and self._drop is None:
                self._drop = self.board.timers.call_later(
                    drop_after, self._drop_line, label="fax habit: drop in phase C"
                )
        elif kind == "negotiated":
            params: DcsParams = info["params"]
            self.log.emit(
                "t30", "negotiated", params=params.describe(), remote=info.get("remote_id", "")
            )
            self._set_progress(speed=speed_text(params), remote_id=str(info.get("remote_id", "")))
        elif kind == "page_start":
            self.log.emit("t30", "page", event="start", **info)
            self._set_progress(page=int(info["page"]))
        elif kind in ("page_sent", "page_confirmed", "page_received"):
            event = kind.removeprefix("page_")
            self.log.emit("t30", "page", event=event, **info)
            if self.on_page is not None:
                self.on_page(event, int(info["page"]))
        elif kind == "finished":
            pass  # the result is reported when the line is released (Hangup)

    def _set_progress(self, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(self.progress, key, value)
        if self.on_progress is not None:
            self.on_progress(self.progress)

    def _drop_line(self) -> None:
        """A far end's habit: it goes on hook in the middle of phase C."""
        self._drop = None
        if self.result is None:
            self.log.emit("fax", "habit", habit="drops the line in phase C")
            self._flush()
            self._end("CALLDROPPED")

    def _hang_up(self) -> None:
        status = self.session.outcome.status if self.session.outcome is not None else "CALLDROPPED"
        self._end(status)

    def _end(self, status: str, release: bool = True) -> None:
        if self.result is not None:
            return
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for pending in (self._t0, self._drop):
            if pending is not None:
                pending.cancel()
        now = self.board.clock.now
        duration = (now - self._connected_at) / SECOND if self._connected_at is not None else 0.0
        if release:
            self.line.hang_up()
            self.modem.receive()
        self.modem.listeners.discard(self._modem_event)
        self.line.listeners.discard(self._line_event)
        report = self.session.report
        received = list(getattr(self.sink, "pages", [])) if self.direction != "send" else []
        self.result = CallResult(
            outcome=outcome(status),
            direction=self.direction,
            pages_total=len(self.session.document) if self.direction == "send" else 0,
            pages_confirmed=list(report.pages_confirmed),
            received=received,
            speed=speed_text(report.params),
            duration=round(duration, 3),
            remote_id=report.remote_id,
            params=report.params,
        )
        result = self.result
        self.log.emit(
            "fax", "result", status=result.outcome.status, code=result.code, lcd=result.lcd,
            direction=result.direction, pages=result.pages_done, total=result.pages_total,
            speed=result.speed, duration=result.duration, remote=result.remote_id,
        )  # fmt: skip
        self._set_progress(stage="done")
        if self.on_done is not None:
            self.on_done(result)
