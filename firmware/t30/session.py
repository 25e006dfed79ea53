"""The T.30 session: one fax call's protocol, for the calling or the answering station.

A protocol core without I/O (the h11 way): `start()` and `handle(event)` return the commands
to carry out (events.py). Which state takes which frame is data, in `FRAME_HANDLERS`; a frame a
state does not list is ignored (T.30 tells a station to ignore what it does not expect), except
DCN, which ends the call with the status `DCN_STATUS` gives for that state.

Roles and sides. The caller normally transmits and the answerer receives; with polling (the
caller sends DTC after the answerer's DIS) they swap. States are named for the side:
`t_*` are the transmitter's, `r_*` the receiver's; `PHASES` gives each its T.30 phase.

Phase A: the answerer sends CED after 0.2 s, then NSF/CSI/DIS; the caller sends CNG and waits
for DIS (T1). Phase B: TSI/SUB/SID/DCS and TCF; CFR, or FTT and the fallback table; DCS sent up
to 3 times without an answer (T4). Phase C: the page, or ECM blocks of FCD frames and RCP.
Phase D: MPS/EOM/EOP (PPS-x with ECM) and MCF/RTP/RTN/PIP/PIN (PPR, RNR/RR, CTC/CTR, EOR/ERR),
each command up to 3 times (T4); the receiver waits T2 for every command and page. Phase E: DCN.
A garbled frame (bad FCS) is answered with CRP by a station waiting for a command; a
transmitter that gets a garbled response repeats its command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from estudio190f.firmware.page import Page

from . import image
from .capabilities import (
    FALLBACK,
    Capabilities,
    DcsParams,
    ctc_fif,
    ctc_modulation,
    dcs_scan_code,
    min_scan_for,
    modulation_rate,
    modulations_up_to,
)
from .events import (
    Cancel,
    CarrierEnded,
    CarrierStarted,
    Command,
    DataIn,
    Event,
    FrameIn,
    Hangup,
    LineLost,
    Listen,
    Notify,
    SendData,
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
from .frames import (
    FrameError,
    ParsedFrame,
    decode_ident,
    encode_ident,
    eor_fif,
    make_frame,
    parse_eor,
    parse_frame,
    parse_ppr,
    parse_pps,
    ppr_map,
    pps_fif,
)
from .results import Outcome, outcome

SECOND = 1_000_000
MS = 1_000
T1 = 35 * SECOND  # T.30 timers (DESIGN.md 5)
T2 = 6 * SECOND
T4 = 3 * SECOND
T5 = 60 * SECOND
GAP = 75 * MS  # silence between signals of different modulations (T.30 5.3.2.4)
ANSWER_DELAY = 200 * MS  # answering to CED (T.30 5.2.1: at least 0.2 s)
CED = 3 * SECOND  # CED 2.6-4 s
# After sending DCN the station stays off hook this long before it releases the line, so the
# far end hears the whole DCN and drops the call first (TSB85 expects the line to clear 0.8 to
# 1.2 s after DCN).
DCN_HOLD = 1 * SECOND
MAX_TRIES = 3  # a command is sent at most this often (T.30 5.3.6.2.1, DCS "up to 3 times")
PPR_LIMIT = 4  # after this many PPRs for one block: CTC or EOR
TIMERS = ("T1", "T2", "T4", "T5", "TCF")

PHASES: dict[str, str] = {
    "idle": "A",
    "answering": "A",
    "t_wait_dis": "B",
    "t_dcs_sent": "B",
    "t_post_sent": "D",
    "t_pps_sent": "D",
    "t_ctc_sent": "D",
    "t_eor_sent": "D",
    "r_wait_cmd": "B",
    "r_tcf": "B",
    "r_wait_page": "C",
    "r_page": "C",
    "r_wait_post": "D",
    "r_wait_dcn": "D",
    "done": "E",
}

# state -> frame name -> handler method (the whole protocol table in one place)
FRAME_HANDLERS: dict[str, dict[str, str]] = {
    "t_wait_dis": {"DIS": "_tx_got_dis"},
    "t_dcs_sent": {"CFR": "_tx_got_cfr", "FTT": "_tx_got_ftt", "DIS": "_tx_got_dis", "CRP": "_repeat_command"},
    "t_post_sent": {
        "MCF": "_tx_got_mcf", "RTP": "_tx_got_rtp", "RTN": "_tx_got_rtn", "PIP": "_tx_got_pip",
        "PIN": "_tx_got_pin", "CRP": "_repeat_command",
    },
    "t_pps_sent": {
        "MCF": "_tx_got_mcf", "PPR": "_tx_got_ppr", "RNR": "_tx_got_rnr", "PIP": "_tx_got_pip",
        "PIN": "_tx_got_pin", "CRP": "_repeat_command",
    },
    "t_ctc_sent": {"CTR": "_tx_got_ctr", "CRP": "_repeat_command"},
    "t_eor_sent": {"ERR": "_tx_got_err", "RNR": "_tx_got_rnr", "CRP": "_repeat_command"},
    "r_wait_cmd": {
        "DCS": "_rx_got_dcs", "DTC": "_rx_got_dtc", "DIS": "_rx_got_dis", "CRP": "_resend_response",
        "MPS": "_rx_repeated_post", "EOP": "_rx_repeated_post", "EOM": "_rx_repeated_post",
        "PPS": "_rx_repeated_post",
    },
    "r_tcf": {"DCS": "_rx_got_dcs"},
    "r_wait_page": {
        "DCS": "_rx_got_dcs", "CRP": "_resend_response", "MPS": "_rx_repeated_post",
        "EOP": "_rx_repeated_post", "EOM": "_rx_repeated_post", "PPS": "_rx_got_pps",
        "CTC": "_rx_got_ctc", "EOR": "_rx_got_eor", "RR": "_rx_got_rr",
    },
    "r_wait_post": {
        "MPS": "_rx_got_post", "EOP": "_rx_got_post", "EOM": "_rx_got_post",
        "PRI-MPS": "_rx_got_post", "PRI-EOP": "_rx_got_post", "PRI-EOM": "_rx_got_post",
        "PPS": "_rx_got_pps", "RR": "_rx_got_rr", "CTC": "_rx_got_ctc", "EOR": "_rx_got_eor",
        "CRP": "_resend_response", "DCS": "_rx_got_dcs",
    },
    "r_wait_dcn": {"EOP": "_rx_repeated_post", "CRP": "_resend_response", "PPS": "_rx_repeated_post"},
}  # fmt: skip

# The status a DCN ends the call with, by the state it arrives in.
DCN_STATUS: dict[str, str] = {
    "t_wait_dis": "TX_GOTDCN",
    "t_dcs_sent": "TX_BADDCS",
    "t_post_sent": "TX_BADPG",
    "t_pps_sent": "TX_BADPG",
    "t_ctc_sent": "TX_BADPG",
    "t_eor_sent": "TX_BADPG",
    "r_wait_cmd": "RX_DCNWHY",
    "r_tcf": "RX_DCNWHY",
    "r_wait_page": "RX_DCNDATA",
    "r_page": "RX_DCNDATA",
    "r_wait_post": "RX_DCNFAX",
    "r_wait_dcn": "OK",
}

# A final frame whose FCF is no T.30 frame at all, where a command or response is expected,
# ends the call (DCN) with this status; a known frame a state does not take is ignored.
INVALID_STATUS: dict[str, str] = {
    "t_wait_dis": "TX_NODIS",
    "t_dcs_sent": "TX_INVALRSP",
    "t_post_sent": "TX_INVALRSP",
    "t_pps_sent": "TX_INVALRSP",
    "t_ctc_sent": "TX_INVALRSP",
    "t_eor_sent": "TX_INVALRSP",
    "r_wait_cmd": "UNEXPECTED",
    "r_tcf": "UNEXPECTED",
    "r_wait_page": "RX_INVALCMD",
    "r_page": "RX_INVALCMD",
    "r_wait_post": "RX_INVALCMD",
}

# Receiver states that wait for a command with T2 (T2 stops when flags come, restarts if nothing
# usable came with them).
COMMAND_WAITS = ("r_wait_cmd", "r_wait_page", "r_wait_post", "r_wait_dcn")

# The status T2 ends the call with, by the receiver state it expires in.
T2_STATUS: dict[str, str] = {
    "r_wait_cmd": "RX_T2EXP",
    "r_tcf": "RX_T2EXP",
    "r_wait_page": "RX_T2EXPFAX",
    "r_page": "RX_NOCARRIER",
    "r_wait_post": "RX_T2EXPMPS",
    "r_wait_dcn": "OK",
}


@dataclass
class StationConfig:
    """What one station offers and asks for (from the machine's settings, or a tester's)."""

    ident: str = ""  # CSI / TSI / CIG: the station's number
    top_speed: int = 14400
    ecm: bool = True
    coding: str = "mmr"  # the best coding offered and used: mh | mr | mmr (MMR only with ECM)
    fine: bool = True
    superfine: bool = True
    receive: bool = True  # DIS bit 10: this station can receive now
    min_scan_ms: int = 0  # the receiver's minimum scan line time
    widths: tuple[int, ...] = (1728,)
    length: str = "unlimited"
    nsf: bytes = b""  # NSF information field sent before CSI and DIS (empty: none)
    subaddress: str = ""  # sent as SUB with DCS
    sender_password: str = ""  # sent as SID with DCS
    required_password: str = ""  # receiving: a caller's SID must match (empty: not checked)
    poll: bool = False  # calling to poll the far end (receive) instead of sending
    polling_password: str = ""  # poller: sent as PWD with DTC; polled: required when set
    selective_polling: str = ""  # poller: sent as SEP with DTC
    crp: bool = True  # answer a garbled command with CRP
    frame_size: int = 256  # ECM frame size to ask for (256 or 64)
    page_tries: int = 3  # sends of one page (non-ECM) before giving up after RTN
    t1: int = T1
    t2: int = T2
    t4: int = T4
    t5: int = T5

    def capabilities(self, ready_to_transmit: bool = False) -> Capabilities:
        return Capabilities(
            receive=self.receive,
            ready_to_transmit=ready_to_transmit,
            modulations=modulations_up_to(self.top_speed),
            fine=self.fine,
            superfine=self.superfine,
            mr=self.coding in ("mr", "mmr"),
            mmr=self.coding == "mmr" and self.ecm,
            ecm=self.ecm,
            widths=self.widths,
            length=self.length,
            min_scan_ms=self.min_scan_ms,
            subaddress=True,
            password=True,
        )


@dataclass
class ReceivedPage:
    number: int  # 1-based, in the order pages were kept
    page: Page | None  # None when the data could not be decoded at all
    params: DcsParams
    lines: int
    bad_lines: int
    longest_bad_run: int
    verdict: str  # good | poor | bad (non-ECM); ECM pages are good unless EOR left holes
    data_bytes: int


class PageSink(Protocol):
    def store(self, page: ReceivedPage) -> bool:
        """Keep a received page; False when there is no room (the page is lost: PIN)."""
        ...

    def room_for_more(self) -> bool:
        """Whether another page would fit after this one (False: PIP, the call ends)."""
        ...

    def ready(self) -> bool:
        """ECM: whether the receiver can take the block now (False: RNR)."""
        ...


class KeepAll:
    """A sink that keeps every page in a list and never runs out of room."""

    def __init__(self) -> None:
        self.pages: list[ReceivedPage] = []

    def store(self, page: ReceivedPage) -> bool:
        self.pages.append(page)
        return True

    def room_for_more(self) -> bool:
        return True

    def ready(self) -> bool:
        return True


@dataclass
class SessionReport:
    """What the session knows at the end (and during) the call."""

    remote_id: str = ""
    remote_caps: Capabilities | None = None
    params: DcsParams | None = None
    pages_confirmed: list[int] = field(default_factory=list)  # transmitter: 1-based page numbers
    pages_received: int = 0  # receiver: pages kept
    subaddress: str = ""  # received SUB
    password_ok: bool | None = None
    ecm_errors: int = 0  # blocks given up on (EOR)


class T30Session:
    def __init__(
        self,
        role: str,
        config: StationConfig | None = None,
        document: Sequence[Page] | None = None,
        sink: PageSink | None = None,
    ) -> None:
        if role not in ("caller", "answerer"):
            raise ValueError(f"role must be caller or answerer, not {role!r}")
        self.role = role
        self.config = config or StationConfig()
        self.document: Sequence[Page] = document if document is not None else []
        self.sink: PageSink = sink or KeepAll()
        self.state = "idle"
        self.report = SessionReport()
        self.outcome: Outcome | None = None
        self.x = 0  # our X bit: 1 once we received a DIS
        self._out: list[Command] = []
        # frames of the V.21 carrier being received; commands and responses are acted on when
        # the carrier has ended (T.30 5.3.2.4: a reply starts 75 ms after the far end's signal)
        self._pending: list[ParsedFrame] = []
        self._received: list[list[ParsedFrame]] = []  # complete frame sets, final frame last
        self._frames_heard = False  # any V.21 frame on this carrier, good or not
        self._v21_carrier = False  # a V.21 carrier is on (whoever runs us reports carriers)
        # command repetition (T4)
        self._cmd: list[Command] = []
        self._cmd_fail = "UNEXPECTED"
        self._tries = 0
        self._phase_b_frames: list[bytes] = []  # DIS or DTC set, repeated until answered
        self._phase_b_repeat = False
        # transmitter
        self._modulations: list[str] = []
        self.params: DcsParams | None = None
        self._trained: str | None = None  # modulation of the last successful TCF/long train
        self.page_index = 0
        self._document_ends: set[int] = set()  # page indexes that end a document (EOM after)
        self._page_sends = 0
        self._post = "EOP"
        self._blocks: list[list[bytes]] = []
        self._block = 0
        self._ppr_count = 0
        self._resend: list[int] = []
        self._t5_running = False
        # receiver
        self._last_response: list[bytes] = []
        self._response_wait: tuple[str, tuple[str, ...]] = ("r_wait_cmd", ("V.21",))
        self._post_response: list[bytes] = []  # the answer to the last post-message command
        self._tcf: list[bytes] = []
        self._rx_data: list[bytes] = []
        self._rx_page_ready = False
        self._ecm_frames: dict[int, bytes] = {}
        self._ecm_page: list[bytes] = []
        self._ecm_pending: tuple[str | None, int, int, int] | None = None
        self._ecm_done_block: tuple[int, int] | None = None
        self._ecm_counters = (0, 0, 0)  # page, block, frames of the last PPS
        self._ecm_holes = False
        self._end_status = "OK"  # a receiver's status when the DCN comes (PIP/PIN: NOMEM)
        self._dis_after_t2 = False  # after MCF to EOM: T2 brings our DIS, not the end
        self._refuse: str | None = None  # a DCS refused (password): DCN instead of CFR

    # -- public interface ------------------------------------------------------------------------
    @property
    def phase(self) -> str:
        return PHASES.get(self.state, "E")

    @property
    def on_last_block(self) -> bool:
        """ECM: whether the block being sent is the page's last."""
        return self._block == len(self._blocks) - 1

    def start(self) -> list[Command]:
        """The call is connected (the caller's line answered, or the answerer off hook)."""
        if self.state != "idle":
            raise RuntimeError("the session has started already")
        if self.role == "caller":
            self._goto("t_wait_dis")
            self._emit(StartCng(), Listen(("V.21",)), StartTimer("T1", self.config.t1))
        else:
            self._goto("answering")
            self._emit(
                StartTimer("T1", self.config.t1),
                SendSilence(ANSWER_DELAY),
                SendTone("ced", CED),
                SendSilence(GAP),
            )
            self._send_dis()
        return self._take()

    def handle(self, event: Event) -> list[Command]:
        if self.outcome is not None:
            return []
        if isinstance(event, FrameIn):
            self._frame_in(event)
        elif isinstance(event, DataIn):
            self._data_in(event)
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

    # -- plumbing ----------------------------------------------------------------------------------
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

    def _finish(self, status: str) -> None:
        self.outcome = outcome(status)
        self._goto("done")
        self._emit(*(StopTimer(t) for t in TIMERS), StopCng())
        self._emit(Notify("finished", {"outcome": self.outcome}), Hangup())

    def _disconnect(self, status: str) -> None:
        """Send DCN, then end the call with `status`."""
        if self.outcome is not None:
            return
        self._emit(*(StopTimer(t) for t in TIMERS), StopCng(), Listen(()))
        self._emit(SendSilence(GAP), SendFrames((self._frame("DCN"),)), SendSilence(DCN_HOLD))
        self._finish(status)

    # -- commands and their repetition ---------------------------------------------------------------
    def _send_command(self, program: list[Command], fail: str, state: str) -> None:
        self._cmd = program
        self._cmd_fail = fail
        self._tries = 1
        self._goto(state)
        self._emit(*program, Listen(("V.21",)), StartTimer("T4", self.config.t4))

    def _repeat_command(
        self, frames: list[ParsedFrame] | None = None, fail: str | None = None
    ) -> None:
        if self._tries >= MAX_TRIES:
            self._disconnect(fail or self._cmd_fail)
            return
        self._tries += 1
        self._emit(StopTimer("T4"), *self._cmd, Listen(("V.21",)), StartTimer("T4", self.config.t4))

    def _respond(
        self, frames: list[bytes], state: str, listen: tuple[str, ...] = ("V.21",)
    ) -> None:
        self._last_response = frames
        self._response_wait = (state, listen)
        self._goto(state)
        self._emit(
            StopTimer("T2"),
            SendSilence(GAP),
            SendFrames(tuple(frames)),
            Listen(listen),
            StartTimer("T2", self.config.t2),
        )

    def _resend_response(self, frames: list[ParsedFrame] | None = None) -> None:
        if self._last_response:
            self._emit(StopTimer("T2"), SendSilence(GAP), SendFrames(tuple(self._last_response)))
            self._wait_again()

    def _wait_again(self) -> None:
        """Restart the receiver's wait: T4 while DIS/DTC is being repeated, else T2."""
        if self.state == "r_wait_cmd" and self._phase_b_repeat:
            self._emit(StartTimer("T4", self.config.t4))
        else:
            self._emit(StartTimer("T2", self.config.t2))

    # -- what arrives ------------------------------------------------------------------------------------
    def _frame_in(self, event: FrameIn) -> None:
        if event.modulation == "V.21":
            self._frames_heard = True
        if not event.crc_ok:
            return
        try:
            frame = parse_frame(event.frame)
        except FrameError:
            return
        if event.modulation != "V.21":
            self._ecm_frame_in(frame)
            return
        if not frame.final:
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
        name = final.name
        if name == "DCN":
            status = DCN_STATUS.get(self.state, "UNEXPECTED")
            if self.state == "r_wait_dcn":
                status = self._end_status
            elif self.state == "r_wait_cmd" and self._last_response == [self._frame("RTN")]:
                status = "RX_DCNNORTN"  # we asked for the page again; the sender gave up
            self._finish(status)
            return
        handler = FRAME_HANDLERS.get(self.state, {}).get(name)
        if handler is not None:
            getattr(self, handler)(frames)
        elif final.type is None and self.state in INVALID_STATUS:
            self._disconnect(INVALID_STATUS[self.state])
        else:
            self._unexpected()

    def _unexpected(self) -> None:
        """A frame this state does not take: ignore it, but keep waiting (T4 or T2 was stopped
        when its carrier came)."""
        waiting_response = self.state.startswith("t_") and self.state != "t_wait_dis"
        if waiting_response or (self.state == "r_wait_cmd" and self._phase_b_repeat):
            self._emit(StartTimer("T4", self.config.t4))
        elif self.state in COMMAND_WAITS:
            self._emit(StartTimer("T2", self.config.t2))

    def _carrier_started(self, modulation: str) -> None:
        if modulation == "V.21":
            self._pending = []
            self._received = []
            self._frames_heard = False
            self._v21_carrier = True
            if (self.state.startswith("t_") and self.state != "t_wait_dis") or self._phase_b_repeat:
                # A response (or command) is arriving: T4 is about its start, not its end.
                self._emit(StopTimer("T4"))
            elif self.state in COMMAND_WAITS:
                # T2 too is reset when flags are received (T.30 says so): a command that begins
                # in time is waited for to its end.
                self._emit(StopTimer("T2"))
            return
        if (
            self.state == "r_wait_page"
            and self.params is not None
            and modulation == self.params.modulation
        ):
            self._goto("r_page")
            self._emit(StopTimer("T2"))
            if not self.params.ecm:
                self._rx_data = []
                self._emit(Notify("page_start", {"page": self.report.pages_received + 1}))
            elif not self._ecm_frames and not self._ecm_page:
                self._emit(Notify("page_start", {"page": self.report.pages_received + 1}))

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
                # Frames came on that carrier but no good final one (a bad FCS, not T.30).
                self._on_garbled()
            else:
                # Flags and no frame: nothing was said; keep waiting as before the carrier.
                self._unexpected()
            return
        if (
            self.state == "r_tcf"
            and self.params is not None
            and modulation == self.params.modulation
        ):
            self._check_tcf()
        elif self.state == "r_page":
            self._rx_page_ready = not (self.params and self.params.ecm)
            self._goto("r_wait_post")
            self._emit(Listen(("V.21",)), StartTimer("T2", self.config.t2))

    def _data_in(self, event: DataIn) -> None:
        if self.state == "r_tcf":
            self._tcf.append(event.data)
        elif self.state == "r_page":
            self._rx_data.append(event.data)

    def _on_garbled(self) -> None:
        if self.state in ("t_dcs_sent", "t_post_sent", "t_pps_sent", "t_ctc_sent", "t_eor_sent"):
            self._repeat_command()
        elif self.state.startswith("r_"):
            self._emit(StopTimer("T2"))
            if self.config.crp:
                self._emit(SendSilence(GAP), SendFrames((self._frame("CRP"),)))
            self._wait_again()

    def _timer(self, name: str) -> None:
        state = self.state
        if name == "T1":
            if state == "t_wait_dis" or (state == "r_wait_cmd" and self._phase_b_repeat):
                self._disconnect("T1_EXPIRED")
        elif name == "T4":
            if state == "r_wait_cmd" and self._phase_b_repeat:
                self._repeat_phase_b()
            elif state.startswith("t_") and state != "t_wait_dis":
                self._repeat_command()
        elif name == "T2":
            if state == "r_wait_cmd" and self._dis_after_t2:
                self._dis_after_t2 = False
                self._emit(StartTimer("T1", self.config.t1))
                self._send_dis()
            elif state.startswith("r_"):
                status = T2_STATUS.get(state, "RX_T2EXP")
                if state == "r_wait_dcn":
                    status = self._end_status
                self._disconnect(status)
        elif name == "T5":
            self._t5_running = False
            if state in ("t_pps_sent", "t_eor_sent"):
                self._disconnect("TX_T5EXP")
        elif name == "TCF" and state == "r_tcf":
            if self._refuse is not None:
                self._disconnect(self._refuse)
            else:
                self._respond([self._frame("FTT")], "r_wait_cmd")

    def _line_lost(self) -> None:
        if self.outcome is not None:
            return
        # A far end that hangs up right after its DCN ends our carrier wait with the line:
        # that DCN still counts.
        pending = [f for f in self._received if f[-1].name == "DCN"]
        self._received = []
        if pending:
            self._dispatch(pending[0])
            return
        self._finish(self._end_status if self.state == "r_wait_dcn" else "CALLDROPPED")

    # -- phase B: the identification exchange ----------------------------------------------------
    def _send_dis(self) -> None:
        """NSF (if any), CSI and DIS; repeated every T4 until a command comes or T1 runs out."""
        config = self.config
        dis = self._frame("DIS", config.capabilities(bool(self.document)).encode())
        frames = [*self._nsf("NSF"), *self._ident_frames(("CSI", config.ident)), dis]
        self._last_response = frames
        self._offer(frames)

    def _offer(self, frames: list[bytes], *, lead: tuple[Command, ...] = (),
               then: tuple[Command, ...] = ()) -> None:  # fmt: skip
        """Send our DIS or DTC set and wait for a command; the set is repeated every T4
        (`_repeat_phase_b`)."""
        self._phase_b_frames = frames
        self._phase_b_repeat = True
        self._tries = 1
        self._goto("r_wait_cmd")
        self._emit(*lead, SendFrames(tuple(frames)), Listen(("V.21",)),
                   StartTimer("T4", self.config.t4), *then)  # fmt: skip

    def _nsf(self, name: str) -> list[bytes]:
        """Our NSF (or NSC) frame, when the station has one."""
        return [self._frame(name, self.config.nsf, final=False)] if self.config.nsf else []

    def _ident_frames(self, own: tuple[str, str], *optional: tuple[str, str]) -> list[bytes]:
        """Our identification frame (CSI, TSI or CIG: sent even when empty), then each optional
        one (SUB, SID, PWD, SEP) that has a text; none of them final."""
        pairs = [own, *(pair for pair in optional if pair[1])]
        return [self._frame(name, encode_ident(text), final=False) for name, text in pairs]

    def _repeat_phase_b(self) -> None:
        """No command came: DIS again until T1 runs out; DTC (a command) at most 3 times."""
        self._tries += 1
        if self.config.poll and self._tries > MAX_TRIES:
            self._disconnect("T1_EXPIRED")
            return
        self._emit(
            SendFrames(tuple(self._phase_b_frames)),
            Listen(("V.21",)),
            StartTimer("T4", self.config.t4),
        )

    def _idents(self, frames: list[ParsedFrame]) -> dict[str, str]:
        found = {}
        for frame in frames[:-1]:
            if frame.type is not None and frame.type.fif == "ident":
                found[frame.type.name] = decode_ident(frame.fif)
        return found

    def _tx_got_dis(self, frames: list[ParsedFrame]) -> None:
        dis = frames[-1]
        self.x = 1
        idents = self._idents(frames)
        self.report.remote_id = idents.get("CSI", self.report.remote_id)
        caps = Capabilities.decode(dis.fif)
        self.report.remote_caps = caps
        self._emit(StopCng(), StopTimer("T1"), StopTimer("T4"))
        if self.config.poll:
            self._send_dtc(caps)
            return
        if self.state == "t_dcs_sent" and self.params is not None:
            # A DIS in answer to our DCS says the DCS was not taken: send the same DCS again
            # (TSB85 MTGX12 expects it unchanged even when the DIS now offers less); when every
            # try got DIS back, the far end answered but never accepted (retries used up).
            self._repeat_command(fail="RETRYDCN")
            return
        if not self.document:
            self._disconnect("OK")
            return
        if not caps.receive:
            self._disconnect("RX_INCAPABLE")
            return
        self._begin_transmit(caps)

    def _begin_transmit(self, caps: Capabilities) -> None:
        local = modulations_up_to(self.config.top_speed)
        self._modulations = [m for m in FALLBACK if m in caps.modulations and m in local]
        if not self._modulations:
            self._disconnect("INCOMPATIBLE")
            return
        self.params = self._page_params(caps, self._modulations[0])
        self._send_dcs()

    def _page_params(
        self, caps: Capabilities, modulation: str, index: int | None = None
    ) -> DcsParams:
        page = self.document[self.page_index if index is None else index]
        resolution = image.wire_resolution(page.resolution)
        if resolution == "superfine" and not (caps.superfine and self.config.superfine):
            resolution = "fine"
        if resolution == "fine" and not caps.fine:
            resolution = "standard"
        ecm = self.config.ecm and caps.ecm
        coding = "mh"
        if self.config.coding == "mmr" and caps.mmr and ecm:
            coding = "mmr"
        elif self.config.coding in ("mr", "mmr") and caps.mr:
            coding = "mr"
        width = page.width if page.width in caps.widths else 1728
        length = "unlimited" if caps.length == "unlimited" else "a4"
        scan = 0 if ecm else dcs_scan_code(min_scan_for(caps, resolution))
        return DcsParams(
            modulation, resolution, coding, width, length, scan, ecm, self.config.frame_size
        )

    def _send_dcs(self) -> None:
        assert self.params is not None
        config = self.config
        frames = self._ident_frames(
            ("TSI", config.ident), ("SUB", config.subaddress), ("SID", config.sender_password)
        )
        frames.append(self._frame("DCS", self.params.encode()))
        self.report.params = self.params
        program: list[Command] = [
            SendSilence(GAP),
            Notify("negotiated", {"params": self.params, "remote_id": self.report.remote_id}),
            SendFrames(tuple(frames)),
            SendSilence(GAP),
            SendData(image.tcf_data(self.params.modulation), self.params.modulation),
        ]
        self._send_command(program, "TX_PHBDEAD", "t_dcs_sent")

    def _tx_got_cfr(self, frames: list[ParsedFrame]) -> None:
        assert self.params is not None
        self._trained = self.params.modulation
        self._emit(StopTimer("T4"))
        self._send_page()

    def _tx_got_ftt(self, frames: list[ParsedFrame]) -> None:
        self._emit(StopTimer("T4"))
        lower = self._next_fallback()
        if lower is None:
            self._disconnect("CANNOT_TRAIN")
            return
        assert self.params is not None
        self.params = self.params.with_modulation(lower)
        self._send_dcs()

    def _next_fallback(self) -> str | None:
        assert self.params is not None
        index = self._modulations.index(self.params.modulation) + 1
        return self._modulations[index] if index < len(self._modulations) else None

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
        self._offer(frames, lead=(SendSilence(GAP),), then=(StartTimer("T1", config.t1),))

    def _rx_got_dtc(self, frames: list[ParsedFrame]) -> None:
        """We are polled: send our document if we have one and the password is right."""
        self._polled(frames, x=0)  # we received DTC, not DIS

    def _rx_got_dis(self, frames: list[ParsedFrame]) -> None:
        """The caller answered our DIS with its own DIS: it has nothing to send and can receive,
        so, as with DTC, it gets our polling document (TSB85 MRGP06: DIS in place of DTC).
        A poller waiting after its DTC that gets DIS again was not heard: it repeats DTC."""
        if self.role == "caller":
            self._unexpected()
            return
        self._polled(frames, x=1)  # we received a DIS: our frames carry the X bit

    def _polled(self, frames: list[ParsedFrame], x: int) -> None:
        self.x = x
        self._dis_after_t2 = False
        idents = self._idents(frames)
        self.report.remote_id = idents.get("CIG", idents.get("CSI", self.report.remote_id))
        self._phase_b_repeat = False
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

    # -- phase B, receiver: DCS and TCF --------------------------------------------------------------
    def _rx_got_dcs(self, frames: list[ParsedFrame]) -> None:
        self._dis_after_t2 = False
        idents = self._idents(frames)
        self.report.remote_id = idents.get("TSI", self.report.remote_id)
        self.report.subaddress = idents.get("SUB", self.report.subaddress)
        self._phase_b_repeat = False
        self._emit(StopTimer("T1"), StopTimer("T4"), StopTimer("T2"), StopTimer("TCF"))
        wanted = self.config.required_password
        self._refuse = None
        if wanted:
            self.report.password_ok = idents.get("SID") == wanted
            if not self.report.password_ok:
                # Refused: say so with DCN where a CFR would go, after the TCF.
                self._refuse = "PWD_UNACCEPTABLE"
        try:
            params = DcsParams.decode(frames[-1].fif)
        except ValueError:
            self._disconnect("INCOMPATIBLE")
            return
        if params.coding == "mmr" and not params.ecm:
            self._disconnect("INCOMPATIBLE")
            return
        self.params = params
        self.report.params = params
        self._tcf = []
        self._goto("r_tcf")
        self._emit(Notify("negotiated", {"params": params, "remote_id": self.report.remote_id}))
        if modulation_rate(params.modulation) > self.config.top_speed:
            # Our modem cannot train at that rate: let the TCF go by, then say FTT.
            wait = GAP + 1_393 * MS + int(image.TCF_SECONDS * SECOND) + 100 * MS
            self._emit(Listen(("V.21",)), StartTimer("TCF", wait))
            return
        self._emit(Listen((params.modulation, "V.21")), StartTimer("TCF", self.config.t2))

    def _check_tcf(self) -> None:
        assert self.params is not None
        self._emit(StopTimer("TCF"))
        if self._refuse is not None:
            self._disconnect(self._refuse)
        elif image.tcf_ok(b"".join(self._tcf), self.params.modulation):
            self._trained = self.params.modulation
            self._post_response = []
            self._ecm_frames = {}
            self._respond([self._frame("CFR")], "r_wait_page", (self.params.modulation, "V.21"))
        else:
            self._respond([self._frame("FTT")], "r_wait_cmd")

    # -- phase C/D, transmitter ----------------------------------------------------------------------
    def add_document(self, pages: Sequence[Page]) -> None:
        """Another document for this call (batch transmission): it follows the pages already
        there, with EOM between the two documents (T.30: a new document is a new phase B)."""
        if self.document:
            self._document_ends.add(len(self.document) - 1)
        self.document = [*self.document, *pages]

    def _post_command(self) -> str:
        """MPS when the next page goes with the same DCS, EOM when it needs a new one or starts
        another document, EOP at the end."""
        if self.page_index + 1 >= len(self.document):
            return "EOP"
        if self.page_index in self._document_ends:
            return "EOM"
        assert self.params is not None and self.report.remote_caps is not None
        caps = self.report.remote_caps
        following = self._page_params(caps, self.params.modulation, self.page_index + 1)
        same = (following.resolution, following.width) == (
            self.params.resolution,
            self.params.width,
        )
        return "MPS" if same else "EOM"

    def _short_train(self) -> bool:
        assert self.params is not None
        return self.params.modulation.startswith("V.17") and self._trained == self.params.modulation

    def _send_page(self) -> None:
        assert self.params is not None
        if self.params.ecm:
            self._send_page_ecm()
            return
        page = self.document[self.page_index]
        data = image.encode_page(page, self.params)
        self._post = self._post_command()
        self._page_sends += 1
        number = self.page_index + 1
        self._emit(
            SendSilence(GAP),
            Notify("page_start", {"page": number, "pages": len(self.document), "bytes": len(data)}),
            SendData(data, self.params.modulation, short_train=self._short_train()),
            Notify("page_sent", {"page": number}),
        )
        program: list[Command] = [SendSilence(GAP), SendFrames((self._frame(self._post),))]
        self._send_command(program, "TX_PHDDEAD", "t_post_sent")

    def _send_page_ecm(self) -> None:
        assert self.params is not None
        page = self.document[self.page_index]
        data = image.encode_page(page, self.params)
        self._blocks = image.ecm_blocks(data, self.params.frame_size)
        self._block = 0
        self._post = self._post_command()
        self._emit(
            Notify(
                "page_start",
                {"page": self.page_index + 1, "pages": len(self.document), "bytes": len(data)},
            )
        )
        self._send_block(None)

    def _send_block(self, numbers: list[int] | None) -> None:
        """Send the frames of the current block (all, or those a PPR asked for), RCP, then PPS."""
        assert self.params is not None
        block = self._blocks[self._block]
        if numbers is None:
            numbers = list(range(len(block)))
            self._ppr_count = 0
        frames = [make_frame("FCD", bytes((n,)) + block[n], final=False) for n in numbers]
        frames += [make_frame("RCP", final=False)] * 3
        self._emit(
            SendSilence(GAP),
            SendFrames(tuple(frames), self.params.modulation, self._short_train()),
        )
        self._trained = self.params.modulation
        if self.on_last_block:
            self._emit(Notify("page_sent", {"page": self.page_index + 1}))
        post = self._post if self.on_last_block else None
        fif = pps_fif(post, self.page_index, self._block, len(block), self.x)
        program: list[Command] = [SendSilence(GAP), SendFrames((self._frame("PPS", fif),))]
        self._send_command(program, "TX_PHDDEAD", "t_pps_sent")

    def _page_done(self, confirmed: bool) -> None:
        """MCF/RTP/PIP (or ERR) for the page's last block: go on with what the post command said."""
        if confirmed:
            self._confirm_page()
        self._page_sends = 0
        post = self._post
        if post == "EOP":
            # A block given up with EOR left holes in a page: retries used up, not COMPLETED.
            self._disconnect("RETRYDCN" if self.report.ecm_errors else "OK")
            return
        self.page_index += 1
        if post == "EOM":
            self._await_dis()
            return
        self._send_page()

    def _confirm_page(self) -> None:
        """The far end took the page being sent (MCF, RTP or PIP)."""
        number = self.page_index + 1
        if number not in self.report.pages_confirmed:
            self.report.pages_confirmed.append(number)
            self._emit(Notify("page_confirmed", {"page": number}))

    def _await_dis(self) -> None:
        """After EOM: back to phase B, where the far end's DIS starts the next document."""
        self.params = None
        self._goto("t_wait_dis")
        self._emit(Listen(("V.21",)), StartTimer("T1", self.config.t1))

    def _block_done(self, confirmed: bool) -> None:
        """MCF (or ERR after EOR) for an ECM block, or MCF for a page without ECM: send the
        page's next block, else the page is done."""
        self._emit(StopTimer("T4"), StopTimer("T5"))
        self._t5_running = False
        if self.state in ("t_pps_sent", "t_eor_sent") and not self.on_last_block:
            self._block += 1
            self._send_block(None)
            return
        self._page_done(confirmed)

    def _tx_got_mcf(self, frames: list[ParsedFrame]) -> None:
        self._block_done(True)

    def _tx_got_rtp(self, frames: list[ParsedFrame]) -> None:
        """The page is kept, but retrain before the next one (DCS and TCF again)."""
        self._emit(StopTimer("T4"))
        self._confirm_page()
        self._page_sends = 0
        if self._post == "EOP":
            self._disconnect("OK")
            return
        self.page_index += 1
        if self._post == "EOM":
            self._await_dis()
            return
        # The page only just passed: retrain a step slower, as after RTN (TSB85 MTGN24).
        assert self.params is not None
        lower = self._next_fallback()
        if lower is not None:
            self.params = self.params.with_modulation(lower)
        self._send_dcs()

    def _tx_got_rtn(self, frames: list[ParsedFrame]) -> None:
        """The page was refused: retrain (one step slower where possible) and send it again."""
        self._emit(StopTimer("T4"))
        assert self.params is not None
        if self._page_sends >= self.config.page_tries:
            at_bottom = self._next_fallback() is None
            self._disconnect("CANNOT_TRAIN" if at_bottom else "RETRYDCN")
            return
        lower = self._next_fallback()
        if lower is not None:
            self.params = self.params.with_modulation(lower)
        self._send_dcs()

    def _tx_got_pip(self, frames: list[ParsedFrame]) -> None:
        self._emit(StopTimer("T4"))
        self._confirm_page()
        more = self._post != "EOP"
        self._disconnect("PROCEDURE_INTERRUPT" if more else "OK")

    def _tx_got_pin(self, frames: list[ParsedFrame]) -> None:
        self._emit(StopTimer("T4"))
        self._disconnect("PROCEDURE_INTERRUPT")

    def _tx_got_ppr(self, frames: list[ParsedFrame]) -> None:
        assert self.params is not None
        self._emit(StopTimer("T4"), StopTimer("T5"))
        self._t5_running = False
        block = self._blocks[self._block]
        wanted = parse_ppr(frames[-1].fif, len(block)) or list(range(len(block)))
        self._ppr_count += 1
        if self._ppr_count % PPR_LIMIT == 0:
            lower = self._next_fallback()
            self._resend = wanted
            if lower is not None:
                self.params = self.params.with_modulation(lower)
                self.report.params = self.params
                program: list[Command] = [
                    SendSilence(GAP),
                    SendFrames((self._frame("CTC", ctc_fif(lower)),)),
                ]
                self._send_command(program, "TX_PHDDEAD", "t_ctc_sent")
                return
            post = self._post if self.on_last_block else None
            program = [SendSilence(GAP), SendFrames((self._frame("EOR", eor_fif(post, self.x)),))]
            self._send_command(program, "TX_PHDDEAD", "t_eor_sent")
            return
        self._send_block(wanted)

    def _tx_got_ctr(self, frames: list[ParsedFrame]) -> None:
        self._emit(StopTimer("T4"))
        self._trained = None  # no TCF after CTC: the next carrier trains long
        self._send_block(self._resend)

    def _tx_got_err(self, frames: list[ParsedFrame]) -> None:
        """EOR acknowledged: the block stays as it arrived; go on."""
        self.report.ecm_errors += 1
        self._block_done(False)

    def _tx_got_rnr(self, frames: list[ParsedFrame]) -> None:
        """The receiver is busy: ask again with RR until it is ready, for at most T5."""
        self._emit(StopTimer("T4"))
        if not self._t5_running:
            self._t5_running = True
            self._emit(StartTimer("T5", self.config.t5))
        program: list[Command] = [SendSilence(GAP), SendFrames((self._frame("RR"),))]
        self._cmd = program
        self._tries = 1
        self._emit(*program, Listen(("V.21",)), StartTimer("T4", self.config.t4))

    # -- phase C/D, receiver -----------------------------------------------------------------------------
    def _ecm_frame_in(self, frame: ParsedFrame) -> None:
        if self.state != "r_page" or frame.type is None:
            return
        if frame.type.name == "FCD" and frame.fif:
            self._ecm_frames[frame.fif[0]] = frame.fif[1:]

    def _rx_got_post(self, frames: list[ParsedFrame]) -> None:
        """MPS/EOP/EOM after a page without ECM: judge the page, keep it, answer."""
        post = frames[-1].name.removeprefix("PRI-")
        if not self._rx_page_ready:
            # No page came since our last answer: the sender repeats the command.
            self._rx_repeated_post(frames)
            return
        assert self.params is not None
        self._rx_page_ready = False
        data = b"".join(self._rx_data)
        self._rx_data = []
        page, quality = image.decode_page(data, self.params)
        verdict = quality.verdict
        response = {"good": "MCF", "poor": "RTP", "bad": "RTN"}[verdict]
        if verdict != "bad":
            response = self._keep_page(page, quality, len(data), verdict, post)
        self._answer_post(response, post)

    def _keep_page(
        self, page: Page | None, quality: image.PageQuality, size: int, verdict: str, post: str
    ) -> str:
        """Give the page to the sink; the response: MCF/RTP, PIN if it could not be kept, PIP if
        it was kept but no further page would fit."""
        assert self.params is not None
        received = ReceivedPage(
            self.report.pages_received + 1, page, self.params, quality.lines,
            quality.bad_lines, quality.longest_bad_run, verdict, size,
        )  # fmt: skip
        if not self.sink.store(received):
            self._end_status = "NOMEM"
            return "PIN"
        self.report.pages_received += 1
        self._emit(Notify("page_received", {"page": received.number, "verdict": verdict}))
        if post != "EOP" and not self.sink.room_for_more():
            self._end_status = "NOMEM"
            return "PIP"
        return "MCF" if verdict == "good" else "RTP"

    def _answer_post(self, response: str, post: str) -> None:
        assert self.params is not None
        frames = [self._frame(response)]
        self._post_response = frames
        if response in ("PIP", "PIN"):
            self._respond(frames, "r_wait_dcn")
        elif response == "RTN":
            self._respond(frames, "r_wait_cmd")
        elif post == "EOP":
            self._respond(frames, "r_wait_dcn")
        elif post == "EOM":
            # Back to phase B: the sender may go on with DCS (or DTC) at once; if nothing comes
            # within T2 we send DIS again (TSB85: MCF to DIS 5 to 7 s).
            self._respond(frames, "r_wait_cmd")
            self._dis_after_t2 = True
        elif response == "RTP":
            self._respond(frames, "r_wait_cmd")
        else:
            self._ecm_frames = {}
            self._respond(frames, "r_wait_page", (self.params.modulation, "V.21"))

    def _rx_repeated_post(self, frames: list[ParsedFrame]) -> None:
        """A post-message command with no page before it: our answer to the last one was lost,
        so give it again; with no answer given since CFR, the page never came: RTN."""
        if self._post_response:
            self._last_response = self._post_response
            self._resend_response()
        else:
            self._respond([self._frame("RTN")], "r_wait_cmd")

    def _rx_got_pps(self, frames: list[ParsedFrame]) -> None:
        assert self.params is not None
        try:
            post, page_no, block_no, count = parse_pps(frames[-1].fif)
        except FrameError:
            self._respond([self._frame("CRP")], self.state)
            return
        if self._ecm_done_block == (page_no, block_no):
            # The block we confirmed last, again: our answer was lost. Answer it again; frames
            # sent with it are that block's once more (T.30 Annex A: the counters tell).
            self._ecm_frames = {}
            self._respond(self._last_response, *self._response_wait)
            return
        self._ecm_counters = (page_no, block_no, count)
        missing = [n for n in range(count) if n not in self._ecm_frames]
        if missing:
            # The map marks every frame slot not received, the block's or not (as SpanDSP does:
            # TSB85 OREN03-05 expect it when the PPS counts fewer frames than came).
            fif = ppr_map([n for n in range(256) if n not in self._ecm_frames], 256)
            self._respond(
                [self._frame("PPR", fif)], "r_wait_page", (self.params.modulation, "V.21")
            )
            return
        self._ecm_pending = (post, page_no, block_no, count)
        self._ecm_block_answer()

    def _ecm_block_answer(self) -> None:
        assert self.params is not None and self._ecm_pending is not None
        if not self.sink.ready():
            self._respond([self._frame("RNR")], "r_wait_post")
            return
        post, page_no, block_no, count = self._ecm_pending
        self._ecm_pending = None
        self._ecm_page.extend(self._ecm_frames.get(n, b"") for n in range(count))
        self._ecm_frames = {}
        self._ecm_done_block = (page_no, block_no)
        if post is None:
            self._respond([self._frame("MCF")], "r_wait_page", (self.params.modulation, "V.21"))
            return
        self._ecm_page_complete(post.removeprefix("PRI-"), "MCF")

    def _ecm_page_complete(self, post: str, response: str) -> None:
        assert self.params is not None
        data = b"".join(self._ecm_page)
        self._ecm_page = []
        page, quality = image.decode_page(data, self.params)
        verdict = "poor" if self._ecm_holes else "good"
        self._ecm_holes = False
        kept = self._keep_page(page, quality, len(data), verdict, post)
        if kept in ("PIP", "PIN"):
            response = kept
        self._answer_post(response, post)

    def _rx_got_rr(self, frames: list[ParsedFrame]) -> None:
        if self._ecm_pending is not None:
            self._ecm_block_answer()
        else:
            self._resend_response()

    def _rx_got_ctc(self, frames: list[ParsedFrame]) -> None:
        assert self.params is not None
        modulation = ctc_modulation(frames[-1].fif)
        self.params = self.params.with_modulation(modulation)
        self.report.params = self.params
        self._respond([self._frame("CTR")], "r_wait_page", (modulation, "V.21"))

    def _rx_got_eor(self, frames: list[ParsedFrame]) -> None:
        """The sender gives up on the block's missing frames: take it as it is, answer ERR."""
        assert self.params is not None
        try:
            post = parse_eor(frames[-1].fif)
        except FrameError:
            self._respond([self._frame("CRP")], self.state)
            return
        if self._last_response == [self._frame("ERR")] and not self._ecm_frames:
            self._resend_response()  # the same EOR again: our ERR was lost
            return
        _page_no, _block_no, count = self._ecm_counters
        self._ecm_holes = self._ecm_holes or any(n not in self._ecm_frames for n in range(count))
        self._ecm_page.extend(self._ecm_frames.get(n, b"") for n in range(count))
        self._ecm_frames = {}
        # Not marked as confirmed: ERR accepts the block as it is, it does not confirm it, so
        # the same counters may come again with the block sent anew (TSB85 OREN04, OREN06).
        if post is None:
            self._respond([self._frame("ERR")], "r_wait_page", (self.params.modulation, "V.21"))
            return
        self._ecm_page_complete(post.removeprefix("PRI-"), "ERR")


__all__ = [
    "KeepAll",
    "PageSink",
    "ReceivedPage",
    "SessionReport",
    "StationConfig",
    "T30Session",
]
