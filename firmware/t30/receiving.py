"""The receiving half of the T.30 session: DCS and the TCF check, the pages, and the answers to
post-message commands.

- Phase B: a DCS is followed by TCF; at least 1 s of it under the error threshold gets CFR, else
  FTT. A DCS faster than our modem, or one whose SID is wrong, lets the TCF go by and answers FTT
  (DCN for the password).
- Phase C without ECM: each coded line is timed as it arrives; one over 5 s (T.4 4.1.3) makes
  the receiver disconnect the line. With ECM: FCD frames collected by number.
- Phase D without ECM: the page judged by its bad lines: MCF, RTP (kept, retrain) or RTN
  (refused); PIN when it could not be kept, PIP when it was kept but no further page would fit.
  With ECM: PPS counters, PPR for the frames missing (the map marks every slot not received, as
  SpanDSP does), RNR while the sink is not ready, CTR to CTC, ERR to EOR. ERR acknowledges the
  end of retransmission without confirming the block (T.30 Annex A: only MCF confirms): the
  receiver goes back to phase C, where the sender may send the block anew with the same counters
  (TSB85 OREN04, OREN06); a page a given-up block left with holes is held until the sender moves
  on (another page, a DCS) or the call ends, then kept. A command repeated because our answer was
  lost gets the same answer again; a page is never kept twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from estudio190f.firmware.page import Page
from estudio190f.hw.modem import MODULATIONS

from . import image
from .capabilities import DcsParams, ctc_modulation, modulation_rate
from .engine import SessionBase
from .events import Listen, Notify, StartTimer, StopTimer
from .frames import FrameError, ParsedFrame, decode_ident, parse_eor, parse_pps, ppr_map
from .station import ReceivedPage
from .timing import GAP, T2, TCF

TRAIN_LONGEST = max(m.long_train for m in MODULATIONS.values())  # µs (V.17 long): a TCF let go by


@dataclass
class EcmPage:
    """The blocks of one ECM page as they are settled (MCF or ERR), by block number."""

    number: int  # the PPS page counter
    blocks: dict[int, bytes] = field(default_factory=dict)
    holes: bool = False  # a block given up with EOR left frames out

    def data(self) -> bytes:
        return b"".join(self.blocks[n] for n in sorted(self.blocks))


class Receiver(SessionBase):
    def __init__(self) -> None:
        super().__init__()
        self._post_response: list[bytes] = []  # the answer to the last post-message command
        self._tcf: list[bytes] = []
        self._tcf_verdict = "FTT"  # r_tcf_ignored: what follows the TCF (FTT, or DCN's status)
        self._rx_data: list[bytes] = []
        self._lines: image.CodedLineTimer | None = None
        self._ecm_frames: dict[int, bytes] = {}  # the block arriving: frame number -> octets
        self._ecm_counters = (0, 0, 0)  # page, block, frames of the last PPS
        self._ecm_page: EcmPage | None = None
        self._ecm_pending: tuple[str | None, int, int, int] | None = None  # PPS answered RNR
        self._ecm_done_block: tuple[int, int] | None = None  # (page, block) confirmed last
        self._held: tuple[EcmPage, str] | None = None  # a page with holes after ERR, its post

    # -- phase B: DCS and TCF -------------------------------------------------------------------------
    def _idents(self, frames: list[ParsedFrame]) -> dict[str, str]:
        found = {}
        for frame in frames[:-1]:
            if frame.type is not None and frame.type.fif == "ident":
                found[frame.type.name] = decode_ident(frame.fif)
        return found

    def _rx_got_dcs(self, frames: list[ParsedFrame]) -> None:
        self._keep_held_page()
        idents = self._idents(frames)
        self.report.remote_id = idents.get("TSI", self.report.remote_id)
        self.report.subaddress = idents.get("SUB", self.report.subaddress)
        self._emit(StopTimer("T1"), StopTimer("T4"), StopTimer("T2"), StopTimer("TCF"))
        refused = None
        wanted = self.config.required_password
        if wanted:
            self.report.password_ok = idents.get("SID") == wanted
            if not self.report.password_ok:
                refused = "PWD_UNACCEPTABLE"  # said with DCN where CFR would go, after the TCF
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
        self._emit(Notify("negotiated", {"params": params, "remote_id": self.report.remote_id}))
        if modulation_rate(params.modulation) > self.config.top_speed:
            # Our modem cannot train at that rate: let the TCF go by, then answer.
            self._tcf_verdict = refused or "FTT"
            self._goto("r_tcf_ignored")
            wait = GAP + TRAIN_LONGEST + TCF + 100_000
            self._emit(Listen(("V.21",)), StartTimer("TCF", wait))
            return
        if refused is not None:
            self._tcf_verdict = refused
            self._goto("r_tcf_ignored")
        else:
            self._goto("r_tcf")
        self._emit(Listen((params.modulation, "V.21")), StartTimer("TCF", T2))

    def _tcf_ended(self) -> None:
        """The TCF carrier ended (or never came: the TCF timer)."""
        assert self.params is not None
        self._emit(StopTimer("TCF"))
        verdict = self._tcf_verdict
        if self.state == "r_tcf":
            limit = self.config.behaviour.train_limit
            too_fast = limit and modulation_rate(self.params.modulation) > limit
            good = image.tcf_ok(b"".join(self._tcf), self.params.modulation)
            verdict = "CFR" if good and not too_fast else "FTT"
        if verdict == "CFR":
            self._post_response = []
            self._ecm_frames = {}
            self._respond([self._frame("CFR")], "r_wait_page", (self.params.modulation, "V.21"))
        elif verdict == "FTT":
            self._respond([self._frame("FTT")], "r_wait_cmd")
        else:
            self._disconnect(verdict)

    # -- phase C ---------------------------------------------------------------------------------------
    def _page_carrier_started(self) -> None:
        assert self.params is not None
        self._goto("r_page")
        self._emit(StopTimer("T2"))
        if not self.params.ecm:
            self._rx_data = []
            self._lines = image.CodedLineTimer(self.params.rate)
            self._emit(Notify("page_start", {"page": self.report.pages_received + 1}))
        elif not self._ecm_frames and self._ecm_page is None:
            self._emit(Notify("page_start", {"page": self.report.pages_received + 1}))

    def _page_carrier_ended(self) -> None:
        assert self.params is not None
        self._goto("r_wait_pps" if self.params.ecm else "r_wait_post")
        self._emit(Listen(("V.21",)), StartTimer("T2", T2))

    def _page_data(self, data: bytes) -> None:
        self._rx_data.append(data)
        if self._lines is not None and self._lines.feed(data):
            # T.4 4.1.3: "the receiver must disconnect the line". The sender is still sending
            # (it could not hear a DCN): the line is simply released.
            self._emit(Listen(()))
            self._finish("RX_LINE_TOO_LONG")

    def _ecm_frame_in(self, frame: ParsedFrame) -> None:
        if self.state != "r_page" or frame.type is None:
            return
        if frame.type.name == "FCD" and frame.fif:
            self._ecm_frames[frame.fif[0]] = frame.fif[1:]

    # -- phase D without ECM ---------------------------------------------------------------------------
    def _rx_got_post(self, frames: list[ParsedFrame]) -> None:
        """MPS/EOP/EOM after a page without ECM: judge the page, keep it, answer."""
        assert self.params is not None
        post = frames[-1].name.removeprefix("PRI-")
        data = b"".join(self._rx_data)
        self._rx_data = []
        page, quality = image.decode_page(data, self.params)
        verdict = quality.verdict
        response = "RTN"
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
        if post == "EOP" and response == "MCF" and self.config.behaviour.dcn_for_last_mcf:
            self._disconnect("OK")  # a far end's habit: DCN where MCF should go
            return
        frames = [self._frame(response)]
        self._post_response = frames
        if response in ("PIP", "PIN") or post == "EOP" and response != "RTN":
            self._respond(frames, "r_wait_dcn")
        elif response == "RTN":
            # EOM returns to the beginning of phase B whatever the answer: DIS after T2.
            self._respond(frames, "r_rtn_after_eom" if post == "EOM" else "r_rtn_sent")
        elif post == "EOM":
            # Back to phase B: the sender may go on with DCS (or DTC) at once; if nothing comes
            # within T2 we send DIS again (TSB85: MCF to DIS 5 to 7 s).
            self._respond(frames, "r_after_eom")
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
            self._post_response = [self._frame("RTN")]
            self._respond(self._post_response, "r_rtn_sent")

    # -- phase D with ECM ------------------------------------------------------------------------------
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
            self._respond(self._last_response, self._response_state, self._response_listen)
            return
        self._settle_held(page_no)
        if self._ecm_page is None or self._ecm_page.number != page_no:
            self._ecm_page = EcmPage(page_no)
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
        assert self._ecm_page is not None
        if not self.sink.ready():
            self._respond([self._frame("RNR")], "r_rnr_sent")
            return
        post, page_no, block_no, count = self._ecm_pending
        self._ecm_pending = None
        self._ecm_page.blocks[block_no] = self._block_data(count)
        self._ecm_done_block = (page_no, block_no)
        if post is None:
            self._respond([self._frame("MCF")], "r_wait_page", (self.params.modulation, "V.21"))
            return
        page, self._ecm_page = self._ecm_page, None
        response = self._keep_ecm_page(page, post.removeprefix("PRI-"))
        self._answer_post(response, post.removeprefix("PRI-"))

    def _block_data(self, count: int) -> bytes:
        data = b"".join(self._ecm_frames.get(n, b"") for n in range(count))
        self._ecm_frames = {}
        return data

    def _keep_ecm_page(self, page: EcmPage, post: str) -> str:
        assert self.params is not None
        data = page.data()
        decoded, quality = image.decode_page(data, self.params)
        verdict = "poor" if page.holes else "good"
        kept = self._keep_page(decoded, quality, len(data), verdict, post)
        return kept if kept in ("PIP", "PIN") else "MCF"

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
        page_no, block_no, count = self._ecm_counters
        if self._ecm_page is None or self._ecm_page.number != page_no:
            self._ecm_page = EcmPage(page_no)
        page = self._ecm_page
        page.holes = page.holes or any(n not in self._ecm_frames for n in range(count))
        page.blocks[block_no] = self._block_data(count)
        if post is not None:
            self._held, self._ecm_page = (page, post.removeprefix("PRI-")), None
        # ERR is not MCF: the block is not confirmed, and the same counters may come again
        # with the block sent anew (TSB85 OREN04, OREN06). Phase C goes on.
        self._respond([self._frame("ERR")], "r_wait_page", (self.params.modulation, "V.21"))

    def _settle_held(self, page_no: int) -> None:
        """A PPS after ERR to EOR-x: the same page counter is that page sent anew (it replaces
        the held one); another means the sender moved on, so the held page is kept."""
        if self._held is None:
            return
        page, _post = self._held
        if page.number == page_no:
            self._held = None
            self._ecm_page = EcmPage(page_no)
        else:
            self._keep_held_page()

    def _keep_held_page(self) -> None:
        if self._held is None:
            return
        page, post = self._held
        self._held = None
        self._keep_ecm_page(page, post)

    def _before_finish(self) -> None:
        self._keep_held_page()
