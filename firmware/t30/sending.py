"""The transmitting half of the T.30 session: DCS and TCF, the pages (ECM blocks or plain), the
post-message commands and what their responses lead to.

- Phase B: TSI (+ SUB, SID) and DCS, 75 ms, TCF; FTT steps down the fallback table; a DIS in
  answer to DCS makes the sender repeat the same DCS (three DIS: RETRYDCN).
- Phase C: the page coded as the DCS says; with ECM cut into blocks of FCD frames and RCP.
- Phase D: MPS when the next page goes with the same DCS, EOM when it needs another or starts
  another document, EOP at the end (PPS-x with ECM). RTP: kept, retrain one step slower. RTN:
  refused; the sender retrains one step slower and sends the page again (T.30: "further
  receptions may be possible, provided training and retraining are performed"), at most
  `page_tries` sends; after EOM the retraining starts from the far end's new DIS, as EOM
  returns to the beginning of phase B. ECM: PPR asks for frames again; after the 4th PPR for a
  block, CTC one step slower, or EOR at the bottom; RNR is answered with RR until T5.
"""

from __future__ import annotations

from collections.abc import Sequence

from estudio190f.firmware.page import Page

from . import image
from .capabilities import (
    FALLBACK,
    Capabilities,
    DcsParams,
    ctc_fif,
    dcs_scan_code,
    min_scan_for,
    modulations_up_to,
)
from .engine import SessionBase
from .events import (
    Command,
    Listen,
    Notify,
    SendData,
    SendFrames,
    SendSilence,
    StartTimer,
    StopCng,
    StopTimer,
)
from .frames import ParsedFrame, encode_ident, eor_fif, make_frame, parse_ppr, pps_fif
from .timing import GAP, T1, T5

PPR_LIMIT = 4  # after this many PPRs for one block: CTC or EOR (T.30 Annex A)


class Sender(SessionBase):
    def __init__(self) -> None:
        super().__init__()
        self._modulations: list[str] = []  # the fallback table both ends offer
        self._trained: str | None = None  # modulation of the last successful TCF/long train
        self._retrain_at: str | None = None  # after RTN to EOM: the speed the next DCS starts at
        self.page_index = 0
        self._document_ends: set[int] = set()  # page indexes that end a document (EOM after)
        self._page_sends = 0
        self._post = "EOP"
        self._blocks: list[list[bytes]] = []
        self._block = 0
        self._ppr_count = 0
        self._resend: list[int] = []

    @property
    def on_last_block(self) -> bool:
        """ECM: whether the block being sent is the page's last."""
        return self._block == len(self._blocks) - 1

    def _ident_frames(self, own: tuple[str, str], *optional: tuple[str, str]) -> list[bytes]:
        """Our identification frame (CSI, TSI or CIG: sent even when empty), then each optional
        one (SUB, SID, PWD, SEP) that has a text; none of them final."""
        pairs = [own, *(pair for pair in optional if pair[1])]
        return [self._frame(name, encode_ident(text), final=False) for name, text in pairs]

    # -- phase B -----------------------------------------------------------------------------------
    def _begin_transmit(self, caps: Capabilities) -> None:
        local = modulations_up_to(self.config.top_speed)
        both = [m for m in FALLBACK if m in caps.modulations and m in local]
        if self._retrain_at is not None:
            slower = FALLBACK[FALLBACK.index(self._retrain_at) :]
            both = [m for m in both if m in slower] or both[-1:]
            self._retrain_at = None
        self._modulations = both
        if not both:
            self._disconnect("INCOMPATIBLE")
            return
        self.params = self._page_params(caps, both[0])
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

    # -- phase C ------------------------------------------------------------------------------------
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
        following = self._page_params(
            self.report.remote_caps, self.params.modulation, self.page_index + 1
        )
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
        data = image.encode_page(self.document[self.page_index], self.params)
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
        data = image.encode_page(self.document[self.page_index], self.params)
        self._blocks = image.ecm_blocks(data, self.params.frame_size)
        self._block = 0
        self._post = self._post_command()
        number = self.page_index + 1
        self._emit(
            Notify("page_start", {"page": number, "pages": len(self.document), "bytes": len(data)})
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

    # -- phase D ----------------------------------------------------------------------------------------
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
        """After EOM: back to the beginning of phase B, where the far end's DIS comes (T1)."""
        self.params = None
        self._goto("t_wait_dis")
        self._emit(Listen(("V.21",)), StartTimer("T1", T1))

    def _block_done(self, confirmed: bool) -> None:
        """MCF (or ERR after EOR) for an ECM block, or MCF for a page without ECM: send the
        page's next block, else the page is done."""
        self._emit(StopTimer("T4"), StopTimer("T5"))
        ecm = self.state in ("t_pps_sent", "t_rr_sent", "t_eor_sent", "t_eor_rr_sent")
        if ecm and not self.on_last_block:
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
        """The page was refused: retrain one step slower and send it again."""
        self._emit(StopTimer("T4"))
        assert self.params is not None
        lower = self._next_fallback()
        if self._page_sends >= self.config.page_tries:
            self._disconnect("RETRYDCN" if lower is not None else "CANNOT_TRAIN")
            return
        if self._post == "EOM":
            # EOM returned the call to the beginning of phase B: the retraining follows the far
            # end's DIS (T1), from one step below the refused speed.
            self._retrain_at = lower or self.params.modulation
            self._await_dis()
            return
        if lower is not None:
            self.params = self.params.with_modulation(lower)
        self._send_dcs()

    def _tx_got_pip(self, frames: list[ParsedFrame]) -> None:
        self._emit(StopTimer("T4"), StopTimer("T5"))
        self._confirm_page()
        self._disconnect("PROCEDURE_INTERRUPT" if self._post != "EOP" else "OK")

    def _tx_got_pin(self, frames: list[ParsedFrame]) -> None:
        self._emit(StopTimer("T4"), StopTimer("T5"))
        self._disconnect("PROCEDURE_INTERRUPT")

    # -- ECM: PPR, CTC, EOR, RNR ----------------------------------------------------------------------
    def _tx_got_ppr(self, frames: list[ParsedFrame]) -> None:
        assert self.params is not None
        self._emit(StopTimer("T4"), StopTimer("T5"))
        block = self._blocks[self._block]
        wanted = parse_ppr(frames[-1].fif, len(block)) or list(range(len(block)))
        self._ppr_count += 1
        if self._ppr_count % PPR_LIMIT:
            self._send_block(wanted)
            return
        self._resend = wanted
        lower = self._next_fallback()
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

    def _tx_got_ctr(self, frames: list[ParsedFrame]) -> None:
        self._emit(StopTimer("T4"))
        self._trained = None  # no TCF after CTC: the next carrier trains long
        self._send_block(self._resend)

    def _tx_got_err(self, frames: list[ParsedFrame]) -> None:
        """EOR acknowledged: the block stays as it arrived; go on."""
        self.report.ecm_errors += 1
        self._block_done(False)

    def _tx_got_rnr(self, frames: list[ParsedFrame]) -> None:
        """The receiver is busy: ask again with RR until it is ready, for at most T5 from the
        first RNR."""
        self._emit(StopTimer("T4"))
        after_eor = self.state in ("t_eor_sent", "t_eor_rr_sent")
        if self.state in ("t_pps_sent", "t_eor_sent"):
            self._emit(StartTimer("T5", T5))
        program: list[Command] = [SendSilence(GAP), SendFrames((self._frame("RR"),))]
        self._send_command(program, "TX_PHDDEAD", "t_eor_rr_sent" if after_eor else "t_rr_sent")

    def _tx_got_dis_again(self) -> None:
        """A DIS in answer to our DCS says the DCS was not taken: the same DCS again (TSB85
        MTGX12 expects it unchanged even when the DIS now offers less); when every try got DIS
        back, the far end answered but never accepted (retries used up)."""
        self._emit(StopCng())
        self._repeat_command(fail="RETRYDCN")
