"""How a fax call ends: status names, Panasonic-style information codes and LCD words.

Status names follow SpanDSP's T.30 completion codes (without the `T30_ERR_` prefix) so the TSB85
scripts' STATUS values map one to one; a few are this project's (BUSY, NO_ANSWER, NO_DIAL_TONE,
PROCEDURE_INTERRUPT, CANCELLED). Information codes 404-410 are the Panasonic meanings DESIGN.md 5
quotes; the others are this project's choices in the same style (docs/t30.md lists them all).
"""

from __future__ import annotations

from dataclasses import dataclass

OK_WORD = "COMPLETED"
ERROR_WORD = "COMM. ERROR"


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    code: str  # 3-digit information code; "" when there is none (OK, busy, no answer)
    lcd: str  # the LCD word of DESIGN.md 3.3
    meaning: str
    source: str = "project"  # where the code comes from: DESIGN.md 5 (Panasonic) or project

    @property
    def ok(self) -> bool:
        return self.status == "OK"


P = "DESIGN.md 5 (Panasonic)"

OUTCOMES: tuple[Outcome, ...] = (
    Outcome("OK", "", OK_WORD, "the call completed", ""),
    Outcome("BUSY", "", "BUSY", "the number was busy", ""),
    Outcome("NO_ANSWER", "", "NO ANSWER", "no fax answered within T0 (60 s from dialling)", ""),
    Outcome("NO_DIAL_TONE", "411", ERROR_WORD, "no dial tone: the line is dead"),
    Outcome("INCOMPATIBLE", "400", ERROR_WORD, "no common modem, width or coding with the far end"),
    Outcome("RX_INCAPABLE", "400", ERROR_WORD, "the far end cannot receive"),
    Outcome("TX_INCAPABLE", "400", ERROR_WORD, "the far end cannot transmit (nothing to poll)"),
    Outcome("NOPOLL", "401", ERROR_WORD, "polling refused: no document to poll"),
    Outcome("T1_EXPIRED", "403", ERROR_WORD, "T1 expired: no fax handshake from the far end"),
    Outcome("TX_NODIS", "403", ERROR_WORD, "something other than DIS came while waiting for DIS"),
    Outcome("TX_PHBDEAD", "404", ERROR_WORD, "no response to DCS after 3 tries", P),
    Outcome("TX_BADDCS", "406", ERROR_WORD, "the far end refused our DCS (DCN after DCS)", P),
    Outcome("CANNOT_TRAIN", "405", ERROR_WORD, "FTT after TCF at 2400 bit/s", P),
    Outcome("PWD_UNACCEPTABLE", "406", ERROR_WORD, "password or identification refused", P),
    Outcome("TX_GOTDCN", "406", ERROR_WORD, "the far end disconnected before its DIS", P),
    Outcome("TX_PHDDEAD", "407", ERROR_WORD, "no response after a post-message command", P),
    Outcome("TX_BADPG", "407", ERROR_WORD, "DCN after a post-message command", P),
    Outcome(
        "RETRYDCN",
        "408",
        ERROR_WORD,
        "retries used up: RTN after every send of a page, DIS back to every DCS, an ECM block "
        "given up (EOR)",
        P,
    ),
    Outcome(
        "PROCEDURE_INTERRUPT",
        "409",
        ERROR_WORD,
        "PIN (or PIP with pages left) after post-message",
        P,
    ),
    Outcome("RX_DCNFAX", "410", ERROR_WORD, "DCN while waiting for a post-message command", P),
    Outcome("RX_DCNDATA", "410", ERROR_WORD, "DCN while waiting for page data", P),
    Outcome("RX_DCNPHD", "410", ERROR_WORD, "DCN after MPS or EOM", P),
    Outcome("RX_DCNWHY", "410", ERROR_WORD, "DCN while waiting for DCS", P),
    Outcome("RX_DCNNORTN", "410", ERROR_WORD, "DCN after asking for a page again (RTN)", P),
    Outcome("RX_DCNRRD", "410", ERROR_WORD, "DCN after RR/RNR", P),
    Outcome("CALLDROPPED", "411", ERROR_WORD, "the line dropped during the call"),
    Outcome("RX_T2EXPFAX", "412", ERROR_WORD, "T2 expired waiting for page data"),
    Outcome("RX_NOCARRIER", "412", ERROR_WORD, "the image carrier was lost"),
    Outcome(
        "RX_LINE_TOO_LONG",
        "412",
        ERROR_WORD,
        "a coded scan line took over 5 s (T.4 4.1.3): the receiver disconnected the line",
    ),
    Outcome("RX_T2EXPMPS", "413", ERROR_WORD, "T2 expired waiting for a post-message command"),
    Outcome("RX_T2EXP", "413", ERROR_WORD, "T2 expired waiting for a command"),
    Outcome("RX_T2EXPRR", "413", ERROR_WORD, "T2 expired waiting for RR"),
    Outcome("NOMEM", "414", "MEMORY FULL", "memory full: a page could not be kept"),
    Outcome("TX_T5EXP", "415", ERROR_WORD, "T5 expired: the receiver stayed not ready (RNR)"),
    Outcome("TX_ECMPHD", "416", ERROR_WORD, "ECM: a block could not be corrected"),
    Outcome("RX_ECMPHD", "416", ERROR_WORD, "ECM: an invalid ECM command"),
    Outcome("UNEXPECTED", "418", ERROR_WORD, "an unexpected frame"),
    Outcome("TX_INVALRSP", "418", ERROR_WORD, "an invalid response after a page"),
    Outcome("RX_INVALCMD", "418", ERROR_WORD, "an unexpected command after a page"),
    Outcome("CANCELLED", "419", ERROR_WORD, "stopped by the operator"),
)
BY_STATUS: dict[str, Outcome] = {o.status: o for o in OUTCOMES}


def outcome(status: str) -> Outcome:
    return BY_STATUS[status]
