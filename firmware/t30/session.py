"""The T.30 session: one fax call's protocol, for the calling or the answering station.

A protocol core without I/O (the h11 way): `start()` and `handle(event)` return the commands
to carry out (events.py). Which state takes which frame is data (states.py); this module turns
modem and timer happenings into state changes, and holds phase A and the identification part of
phase B (DIS, DTC and polling). `sending.Sender` and `receiving.Receiver` hold the rest.

Phase A: the answerer waits its answer delay, sends CED, then NSF/CSI/DIS, repeated every T4
until T1 (which starts with phase B). The caller sends CNG; T0 runs from dialling until the far
end's first V.21 signal, when T1 starts (T.30, operating method 4: "the calling terminal starts
time-out T1 upon reception of the V.21 modulation scheme").
Replies start 75 ms after the far end's V.21 carrier has ended (T.30 clause 5, note 3); a session run
without carrier events (unit tests) acts on each final frame at once.
Garbled frames: a carrier that brought a T.30 frame with a bad FCS, and no good final one, is
answered with CRP by a station waiting for a command; a transmitter waiting for a response sends
its command again. A frame not addressed to a T.30 station (address other than FF, control other
than 03/13) is not for us: ignored like flags. A final frame with a T.30 header and an FCF that
is no T.30 frame ends the call where a command or response is expected (DCN); such a frame that
is not final is ignored and counted (`report.unknown_frames`).
"""

from __future__ import annotations

from collections.abc import Sequence

from estudio190f.firmware.page import Page

from .capabilities import Capabilities
from .engine import MAX_TRIES
from .events import (
    Cancel,
    CarrierEnded,
    CarrierStarted,
    Command,
    DataIn,
    Event,
    FrameIn,
    LineLost,
    Listen,
    SendFrames,
    SendSilence,
    SendTone,
    StartCng,
    StartTimer,
    StopCng,
    StopTimer,
    TimerExpired,
    ToneHeard,
)
from .frames import ADDRESS, CONTROL, CONTROL_FINAL, FrameError, ParsedFrame, parse_frame
from .receiving import Receiver
from .sending import Sender
from .states import BY_NAME
from .station import KeepAll, PageSink, ReceivedPage, SessionReport, StationConfig
from .timing import CED, GAP, T0, T1, T4


class T30Session(Sender, Receiver):
    def __init__(
        self,
        role: str,
        config: StationConfig | None = None,
        document: Sequence[Page] | None = None,
        sink: PageSink | None = None,
    ) -> None:
        if role not in ("caller", "answerer"):
            raise ValueError(f"role must be caller or answerer, not {role!r}")
        super().__init__()
        self.role = role
        self.config = config or StationConfig()
        self.document = document if document is not None else []
        self.sink = sink or KeepAll()
        # the V.21 carrier being received: commands and responses are acted on when it has
        # ended (T.30 clause 5, note 3: a reply starts 75 ms after the far end's signal)
        self._pending: list[ParsedFrame] = []
        self._received: list[list[ParsedFrame]] = []  # complete frame sets, final frame last
        self._frames_heard = False  # a T.30 frame on this carrier, good or not
        self._v21_carrier = False  # a V.21 carrier is on (whoever runs us reports carriers)
        self._offer_frames: list[bytes] = []  # our DIS or DTC set, repeated until answered

    # -- public interface ------------------------------------------------------------------------
    @property
    def waits_for(self) -> str:
        """What the session waits for now, in words (for `state?` and logs)."""
        return BY_NAME[self.state].waits_for

    def start(self, t0_left: int = T0) -> list[Command]:
        """The call is connected (the caller's line answered, or the answerer off hook).
        `t0_left`: for the caller, what is left of T0 since dialling ended."""
        if self.state != "idle":
            raise RuntimeError("the session has started already")
        if self.role == "caller":
            self._goto("calling")
            self._emit(StartCng(), Listen(("V.21",)), StartTimer("T0", max(t0_left, 0)))
        else:
            self._goto("answering")
            delay = self.config.behaviour.answer_delay
            self._emit(SendSilence(delay), SendTone("ced", CED), SendSilence(GAP))
            self._send_dis()
        return self._take()

    def handle(self, event: Event) -> list[Command]:
        if self.outcome is not None:
            return []
        if isinstance(event, FrameIn):
            self._frame_in(event)
        elif isinstance(event, DataIn):
            if self.state == "r_tcf" or self.state == "r_tcf_ignored":
                self._tcf.append(event.data)
            elif self.state == "r_page":
                self._page_data(event.data)
        elif isinstance(event, CarrierStarted):
            self._carrier_started(event.modulation)
        elif isinstance(event, CarrierEnded):
            self._carrier_ended(event.modulation)
        elif isinstance(event, TimerExpired):
            self._timer(event.name)
        elif isinstance(event, LineLost):
            self._line_lost()
        elif isinstance(event, Cancel):
            self._disconnect("CANCELLED")
        elif isinstance(event, ToneHeard):
            pass  # CED and CNG only confirm what the V.21 exchange tells anyway
        return self._take()

    # -- what arrives ------------------------------------------------------------------------------------
    def _frame_in(self, event: FrameIn) -> None:
        raw = event.frame
        addressed = len(raw) >= 2 and raw[0] == ADDRESS and raw[1] in (CONTROL, CONTROL_FINAL)
        if event.crc_ok and not addressed:
            return  # an HDLC frame for another station, or noise that framed: not ours
        if event.modulation == "V.21":
            self._frames_heard = True
        if not event.crc_ok:
            return
        try:
            frame = parse_frame(raw)
        except FrameError:
            return
        if event.modulation != "V.21":
            self._ecm_frame_in(frame)
            return
        if not frame.final:
            if frame.type is None:
                self.report.unknown_frames += 1
            self._pending.append(frame)
            return
        frames = [*self._pending, frame]
        self._pending = []
        if self._v21_carrier:
            self._received.append(frames)
        else:
            self._dispatch(frames)  # no carrier reported: nothing to wait for

    def _dispatch(self, frames: list[ParsedFrame]) -> None:
        final = frames[-1]
        state = BY_NAME[self.state]
        if final.name == "DCN":
            status = state.on_dcn or "UNEXPECTED"
            self._finish(self._end_status if status == "END" else status)
            return
        handler = state.frames.get(final.name)
        if final.name in self.config.behaviour.ignored:
            handler = None
        if final.type is None:
            self.report.unknown_frames += 1
        if handler is not None:
            getattr(self, handler)(frames)
        elif final.type is None and state.on_unknown is not None:
            self._disconnect(state.on_unknown)
        else:
            self._wait_again()  # ignored; the wait's timer stopped when its carrier came

    def _carrier_started(self, modulation: str) -> None:
        if modulation == "V.21":
            self._pending = []
            self._received = []
            self._frames_heard = False
            self._v21_carrier = True
            if self.state == "calling":
                # The far end is a fax (method 4): T0 gives way to T1, and phase B begins.
                self._goto("t_wait_dis")
                self._emit(StopTimer("T0"), StartTimer("T1", T1))
            timer = self._wait_timer()
            if timer is not None:
                # T2 and T4 are reset when flags are received (T.30): a command or response
                # that begins in time is waited for to its end.
                self._emit(StopTimer(timer))
            return
        if self.state == "r_wait_page" and self.params and modulation == self.params.modulation:
            self._page_carrier_started()

    def _carrier_ended(self, modulation: str) -> None:
        if modulation == "V.21":
            received, self._received = self._received, []
            heard = self._frames_heard
            self._pending = []
            self._frames_heard = False
            self._v21_carrier = False
            if received:
                for frames in received:
                    if self.outcome is not None:
                        break
                    self._dispatch(frames)
            elif heard:
                self._garbled()  # frames came, but no good final one
            else:
                self._wait_again()  # flags and no frame: nothing was said
            return
        if self.params is None or modulation != self.params.modulation:
            return
        if self.state in ("r_tcf", "r_tcf_ignored"):
            self._tcf_ended()
        elif self.state == "r_page":
            self._page_carrier_ended()

    def _garbled(self) -> None:
        if BY_NAME[self.state].timer == "T4" and self.state.startswith("t_"):
            self._repeat_command()
        elif self.state.startswith("r_"):
            self._emit(StopTimer("T2"))
            if self.config.crp:
                self._emit(SendSilence(GAP), SendFrames((self._frame("CRP"),)))
            self._wait_again()

    def _timer(self, name: str) -> None:
        state = self.state
        if name == "T0" and state == "calling":
            self._finish("NO_ANSWER")  # no fax signal: nobody to say DCN to
        elif name == "T1" and state in ("t_wait_dis", "r_dis_sent", "r_dtc_sent"):
            self._disconnect("T1_EXPIRED")
        elif name == "T4" and state in ("r_dis_sent", "r_dtc_sent"):
            self._repeat_offer()
        elif name == "T4" and BY_NAME[state].timer == "T4":
            self._repeat_command()
        elif name == "T2" and state in ("r_after_eom", "r_rtn_after_eom"):
            self._send_dis()
        elif name == "T2" and state.startswith("r_"):
            status = BY_NAME[state].on_t2 or "RX_T2EXP"
            self._disconnect(self._end_status if status == "END" else status)
        elif name == "T5" and state in ("t_rr_sent", "t_eor_rr_sent"):
            self._disconnect("TX_T5EXP")
        elif name == "TCF" and state in ("r_tcf", "r_tcf_ignored"):
            self._tcf_ended()

    def _line_lost(self) -> None:
        # A far end that hangs up right after its DCN ends our carrier wait with the line:
        # that DCN still counts.
        pending = [f for f in self._received if f[-1].name == "DCN"]
        self._received = []
        if pending:
            self._dispatch(pending[0])
            return
        self._finish(self._end_status if self.state == "r_wait_dcn" else "CALLDROPPED")

    # -- phase B: DIS and DTC ----------------------------------------------------------------------
    def _send_dis(self) -> None:
        """NSF (if any), CSI and DIS; repeated every T4 until a command comes or T1 runs out."""
        config = self.config
        dis = self._frame("DIS", config.capabilities(bool(self.document)).encode())
        frames = [*self._nsf("NSF"), *self._ident_frames(("CSI", config.ident)), dis]
        self._offer(self._without_withheld(frames), "r_dis_sent")

    def _offer(self, frames: list[bytes], state: str, lead: tuple[Command, ...] = ()) -> None:
        """Send our DIS or DTC set and wait for a command, T1 for the whole of phase B."""
        self._offer_frames = frames
        self._last_response = frames
        self._tries = 1
        self._goto(state)
        self._emit(StartTimer("T1", T1), *lead, SendFrames(tuple(frames)), Listen(("V.21",)),
                   StartTimer("T4", T4))  # fmt: skip

    def _repeat_offer(self) -> None:
        """No command came: DIS again until T1 runs out; DTC (a command) at most 3 times."""
        self._tries += 1
        if self.state == "r_dtc_sent" and self._tries > MAX_TRIES:
            self._disconnect("T1_EXPIRED")
            return
        self._emit(SendFrames(tuple(self._offer_frames)), Listen(("V.21",)), StartTimer("T4", T4))

    def _nsf(self, name: str) -> list[bytes]:
        """Our NSF (or NSC) frame, when the station has one."""
        return [self._frame(name, self.config.nsf, final=False)] if self.config.nsf else []

    def _without_withheld(self, frames: list[bytes]) -> list[bytes]:
        """Our frames less those the station's behaviour withholds; the last one made final."""
        withheld = self.config.behaviour.withheld
        if not withheld:
            return frames
        kept = [f for f in frames if parse_frame(f).name not in withheld]
        if kept:
            last = kept[-1]
            kept[-1] = bytes((last[0], CONTROL_FINAL)) + last[2:]
        return kept

    def _tx_got_dis(self, frames: list[ParsedFrame]) -> None:
        dis = frames[-1]
        self.x = 1
        idents = self._idents(frames)
        self.report.remote_id = idents.get("CSI", self.report.remote_id)
        caps = Capabilities.decode(dis.fif)
        self.report.remote_caps = caps
        self._emit(StopCng(), StopTimer("T0"), StopTimer("T1"), StopTimer("T4"))
        if self.config.poll:
            self._send_dtc(caps)
        elif self.state == "t_dcs_sent" and self.params is not None:
            self._tx_got_dis_again()
        elif not self.document:
            self._disconnect("OK")
        elif not caps.receive:
            self._disconnect("RX_INCAPABLE")
        else:
            self._begin_transmit(caps)

    def _send_dtc(self, caps: Capabilities) -> None:
        """Poll: ask the far end (which offered a document in its DIS) to transmit."""
        if not caps.ready_to_transmit:
            self._disconnect("NOPOLL")
            return
        config = self.config
        idents = self._ident_frames(
            ("CIG", config.ident), ("PWD", config.polling_password),
            ("SEP", config.selective_polling),
        )  # fmt: skip
        frames = [*self._nsf("NSC"), *idents, self._frame("DTC", config.capabilities().encode())]
        self._offer(frames, "r_dtc_sent", lead=(SendSilence(GAP),))

    def _rx_got_dtc(self, frames: list[ParsedFrame]) -> None:
        """We are polled: send our document if we have one and the password is right."""
        self._polled(frames, x=0)  # we received DTC, not DIS

    def _rx_got_dis(self, frames: list[ParsedFrame]) -> None:
        """The caller answered our DIS with its own DIS: it has nothing to send and can receive,
        so, as with DTC, it gets our polling document (TSB85 MRGP06: DIS in place of DTC).
        A poller waiting after its DTC that gets DIS again was not heard: it repeats DTC."""
        if self.role == "caller":
            self._wait_again()
            return
        self._polled(frames, x=1)  # we received a DIS: our frames carry the X bit

    def _polled(self, frames: list[ParsedFrame], x: int) -> None:
        self.x = x
        idents = self._idents(frames)
        self.report.remote_id = idents.get("CIG", idents.get("CSI", self.report.remote_id))
        self._emit(StopTimer("T1"), StopTimer("T4"), StopTimer("T2"))
        wanted = self.config.polling_password
        if wanted and idents.get("PWD") != wanted:
            self.report.password_ok = False
            self._disconnect("PWD_UNACCEPTABLE")
            return
        if not self.document:
            self._disconnect("NOPOLL")
            return
        caps = Capabilities.decode(frames[-1].fif)
        self.report.remote_caps = caps
        self._begin_transmit(caps)


__all__ = [
    "KeepAll",
    "PageSink",
    "ReceivedPage",
    "SessionReport",
    "StationConfig",
    "T30Session",
]
