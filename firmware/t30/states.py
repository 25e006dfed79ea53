"""The T.30 session's states, as one table: everything that affects the state machine lives here.

Each state says its T.30 phase, what it waits for, the timer its wait runs on (the one that
stops when the far end's flags begin and starts again when nothing usable came with them), which
frames it takes and the handler for each, and how the call ends when a DCN, a final frame with no
T.30 FCF, or T2 comes while in it. A frame a state does not list is ignored (T.30 tells a station
to ignore what it does not expect) and the wait goes on.

States are named for the side: `t_*` are the transmitter's, `r_*` the receiver's. The caller
normally transmits and the answerer receives; with polling they swap.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class State:
    name: str
    phase: str  # A-E
    waits_for: str  # for docs and `state?`
    timer: str | None = None  # the wait's timer: T4 (a response), T2 (a command), None
    frames: dict[str, str] = field(default_factory=dict)  # frame name -> handler method
    on_dcn: str | None = None  # status a DCN ends the call with here
    on_unknown: str | None = None  # a final frame with no T.30 FCF: DCN with this status
    on_t2: str | None = None  # status T2 ends the call with here


_POSTS = {"MPS": "_rx_repeated_post", "EOP": "_rx_repeated_post", "EOM": "_rx_repeated_post"}
_RESPONSES = {"PIP": "_tx_got_pip", "PIN": "_tx_got_pin", "CRP": "_repeat_command"}
_ECM_RESPONSES = {"MCF": "_tx_got_mcf", "PPR": "_tx_got_ppr", "RNR": "_tx_got_rnr", **_RESPONSES}
_TX = {"on_dcn": "TX_BADPG", "on_unknown": "TX_INVALRSP"}
_RX_B = {"on_dcn": "RX_DCNWHY", "on_unknown": "UNEXPECTED", "on_t2": "RX_T2EXP"}

STATES: tuple[State, ...] = (
    State("idle", "A", "start()"),
    # -- the transmitter's ----------------------------------------------------------------------
    State("calling", "A", "the far end's first V.21 signal; CNG goes out (T0)", None,
          {"DIS": "_tx_got_dis"}, "TX_GOTDCN", "TX_NODIS"),
    State("t_wait_dis", "B", "DIS (T1)", None, {"DIS": "_tx_got_dis"}, "TX_GOTDCN", "TX_NODIS"),
    State("t_dcs_sent", "B", "CFR, FTT, DIS again or CRP after DCS and TCF", "T4",
          {"CFR": "_tx_got_cfr", "FTT": "_tx_got_ftt", "DIS": "_tx_got_dis",
           "CRP": "_repeat_command"}, "TX_BADDCS", "TX_INVALRSP"),
    State("t_post_sent", "D", "MCF, RTP, RTN, PIP, PIN or CRP after MPS/EOM/EOP", "T4",
          {"MCF": "_tx_got_mcf", "RTP": "_tx_got_rtp", "RTN": "_tx_got_rtn", **_RESPONSES},
          **_TX),
    State("t_pps_sent", "D", "MCF, PPR, RNR, PIP, PIN or CRP after PPS", "T4",
          _ECM_RESPONSES, **_TX),
    State("t_rr_sent", "D", "the answer to RR while the receiver is not ready (T5 runs)", "T4",
          _ECM_RESPONSES, "RX_DCNRRD", "TX_INVALRSP"),
    State("t_ctc_sent", "D", "CTR after CTC", "T4",
          {"CTR": "_tx_got_ctr", "CRP": "_repeat_command"}, **_TX),
    State("t_eor_sent", "D", "ERR after EOR", "T4",
          {"ERR": "_tx_got_err", "RNR": "_tx_got_rnr", "CRP": "_repeat_command"}, **_TX),
    State("t_eor_rr_sent", "D", "ERR after RR, the receiver not ready after EOR (T5 runs)",
          "T4", {"ERR": "_tx_got_err", "RNR": "_tx_got_rnr", "CRP": "_repeat_command"},
          "RX_DCNRRD", "TX_INVALRSP"),
    # -- the receiver's -------------------------------------------------------------------------
    State("answering", "A", "(CED goes out)"),
    State("r_dis_sent", "B", "DCS or DTC; DIS again every T4 until T1", "T4",
          {"DCS": "_rx_got_dcs", "DTC": "_rx_got_dtc", "DIS": "_rx_got_dis",
           "CRP": "_resend_response", **_POSTS, "PPS": "_rx_repeated_post"},
          "RX_DCNWHY", "UNEXPECTED"),
    State("r_dtc_sent", "B", "DCS after our DTC (polling); DTC again every T4, 3 times", "T4",
          {"DCS": "_rx_got_dcs", "DIS": "_rx_got_dis", "CRP": "_resend_response"},
          "RX_DCNWHY", "UNEXPECTED"),
    State("r_wait_cmd", "B", "DCS (or DTC) after our FTT or RTP", "T2",
          {"DCS": "_rx_got_dcs", "DTC": "_rx_got_dtc", "CRP": "_resend_response", **_POSTS,
           "PPS": "_rx_repeated_post"}, **_RX_B),
    State("r_rtn_sent", "B", "DCS (retrain) or the post command again after our RTN", "T2",
          {"DCS": "_rx_got_dcs", "CRP": "_resend_response", **_POSTS},
          "RX_DCNNORTN", "UNEXPECTED", "RX_T2EXP"),
    State("r_rtn_after_eom", "B", "DCS after RTN to EOM; DIS again when T2 runs out", "T2",
          {"DCS": "_rx_got_dcs", "DTC": "_rx_got_dtc", "CRP": "_resend_response", **_POSTS},
          "RX_DCNNORTN", "UNEXPECTED", "RX_T2EXP"),
    State("r_after_eom", "B", "DCS or DTC after MCF to EOM; DIS again when T2 runs out", "T2",
          {"DCS": "_rx_got_dcs", "DTC": "_rx_got_dtc", "CRP": "_resend_response", **_POSTS,
           "PPS": "_rx_repeated_post"}, **_RX_B),
    State("r_tcf", "B", "the TCF carrier, then CFR or FTT", None, {"DCS": "_rx_got_dcs"},
          "RX_DCNWHY", "UNEXPECTED", "RX_T2EXP"),
    State("r_tcf_ignored", "B", "the TCF to go by (too fast, or the caller refused): FTT or DCN",
          None, {"DCS": "_rx_got_dcs"}, "RX_DCNWHY", "UNEXPECTED", "RX_T2EXP"),
    State("r_wait_page", "C", "the image carrier (or ECM frames), or the sender's next command",
          "T2", {"DCS": "_rx_got_dcs", "CRP": "_resend_response", **_POSTS,
                 "PPS": "_rx_got_pps", "CTC": "_rx_got_ctc", "EOR": "_rx_got_eor",
                 "RR": "_rx_got_rr"}, "RX_DCNDATA", "RX_INVALCMD", "RX_T2EXPFAX"),
    State("r_page", "C", "the end of the image carrier", None, {}, "RX_DCNDATA", "RX_INVALCMD",
          "RX_NOCARRIER"),
    State("r_wait_post", "D", "MPS, EOP or EOM after a page without ECM", "T2",
          {"MPS": "_rx_got_post", "EOP": "_rx_got_post", "EOM": "_rx_got_post",
           "PRI-MPS": "_rx_got_post", "PRI-EOP": "_rx_got_post", "PRI-EOM": "_rx_got_post",
           "CRP": "_resend_response", "DCS": "_rx_got_dcs"},
          "RX_DCNFAX", "RX_INVALCMD", "RX_T2EXPMPS"),
    State("r_wait_pps", "D", "PPS, EOR or CTC after an ECM block", "T2",
          {"PPS": "_rx_got_pps", "EOR": "_rx_got_eor", "CTC": "_rx_got_ctc", "RR": "_rx_got_rr",
           "CRP": "_resend_response", "DCS": "_rx_got_dcs"},
          "RX_DCNFAX", "RX_INVALCMD", "RX_T2EXPMPS"),
    State("r_rnr_sent", "D", "RR after our RNR (the block waits for room)", "T2",
          {"RR": "_rx_got_rr", "PPS": "_rx_got_pps", "EOR": "_rx_got_eor",
           "CRP": "_resend_response"}, "RX_DCNRRD", "RX_INVALCMD", "RX_T2EXPRR"),
    State("r_wait_dcn", "D", "DCN after the last answer (EOP repeated: the answer again)", "T2",
          {"EOP": "_rx_repeated_post", "PPS": "_rx_repeated_post", "CRP": "_resend_response"},
          "END", None, "END"),
    State("done", "E", "nothing: the call is over"),
)  # fmt: skip

BY_NAME: dict[str, State] = {s.name: s for s in STATES}
PHASES: dict[str, str] = {s.name: s.phase for s in STATES}
# The status a DCN ends the call with, by state ("END": as the call stands, OK or NOMEM).
DCN_STATUS: dict[str, str] = {s.name: s.on_dcn for s in STATES if s.on_dcn is not None}


def markdown() -> str:
    """The table as docs/t30.md prints it (a test keeps the two the same)."""
    rows = [
        "| state | phase | waits for | timer | a DCN here ends it |",
        "|---|---|---|---|---|",
    ]
    for s in STATES:
        dcn = {None: "", "END": "as it stands (OK, or NOMEM)"}.get(s.on_dcn, s.on_dcn)
        rows.append(f"| `{s.name}` | {s.phase} | {s.waits_for} | {s.timer or ''} | {dcn} |")
    return "\n".join(rows)
