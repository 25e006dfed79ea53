"""The T.30 timing table: every time-out and signal time of a fax call, declared once.

The session, the conformance tester, the Class 1 modem and docs/t30.md read this table; a test
checks that the docs list the same rows. Values are µs on the virtual clock. The times a modem
itself produces (preamble, CED, CNG cadence, the answer delay and the 75 ms gap) are declared in
`hw.modem` because hw/ cannot import firmware/ and the Class 1 modem needs them too; their rows
here take the value from there, so each value still exists once.

Sources: the time-out definitions of T.30 (quoted as SpanDSP's t30.c quotes them), T.30 5.3.1
(preamble), T.30 clause 5 note 3 (the 75 ms gap, 75 +-20 ms), T.4 4.1.3 (the 5 s limit on a coded line).
Where T.30 gives a tolerance the value is its nominal one (DESIGN.md 5).
"""

from __future__ import annotations

from dataclasses import dataclass

from estudio190f.hw.clock import MS, SECOND
from estudio190f.hw.modem import (
    ANSWER_DELAY,
    CED_TIME,
    CNG_OFF,
    CNG_ON,
    SIGNAL_GAP,
    V21_PREAMBLE,
)


@dataclass(frozen=True, slots=True)
class Timing:
    name: str
    value: int  # µs
    low: int  # the tolerance T.30 (or T.4) allows, µs (0: no lower limit)
    high: int  # (0: no upper limit)
    source: str
    use: str  # what it times in this machine

    @property
    def seconds(self) -> float:
        return self.value / SECOND


def _pm(value: int, spread: int) -> tuple[int, int]:
    return value - spread, value + spread


TIMING: tuple[Timing, ...] = (
    Timing(
        "T0", 60 * SECOND, *_pm(60 * SECOND, 5 * SECOND), "T.30 time-out T0",
        "calling: from the end of dialling until the far end's first V.21 signal (a line that "
        "rings out, or answers without a fax signal, ends NO ANSWER); T1 replaces it",
    ),
    Timing(
        "T1", 35 * SECOND, *_pm(35 * SECOND, 5 * SECOND), "T.30 time-out T1",
        "phase B: the called station repeats DIS until it runs out; the calling station starts "
        "it on the far end's first V.21 signal (operating method 4) and gives up waiting for DIS",
    ),
    Timing(
        "T2", 6 * SECOND, *_pm(6 * SECOND, 1 * SECOND), "T.30 time-out T2",
        "a receiver waiting for a command or the image carrier; stopped while flags arrive",
    ),
    Timing(
        "T3", 10 * SECOND, *_pm(10 * SECOND, 5 * SECOND), "T.30 time-out T3",
        "not started: the machine offers no operator intervention (PRI-Q is answered as Q)",
    ),
    Timing(
        "T4", 3 * SECOND, *_pm(3 * SECOND, 450 * MS), "T.30 time-out T4 (±15 %)",
        "waiting for a response: a command is sent again when it runs out (3 tries)",
    ),
    Timing(
        "T5", 60 * SECOND, *_pm(60 * SECOND, 5 * SECOND), "T.30 time-out T5",
        "ECM: from the first RNR, how long the sender asks with RR before DCN",
    ),
    Timing(
        "CED", CED_TIME, 2600 * MS, 4000 * MS, "T.30 (CED 2100 Hz)",
        "the called station's answer tone",
    ),
    Timing(
        "answer delay", ANSWER_DELAY, ANSWER_DELAY, 0, "T.30 (at least 0.2 s)",
        "silence between going off hook and CED",
    ),
    Timing(
        "CNG on", CNG_ON, 425 * MS, 575 * MS, "T.30 (CNG 1100 Hz)", "the calling tone, on",
    ),
    Timing(
        "CNG off", CNG_OFF, 2550 * MS, 3450 * MS, "T.30 (CNG 1100 Hz)", "the calling tone, off",
    ),
    Timing(
        "preamble", V21_PREAMBLE, *_pm(V21_PREAMBLE, 150 * MS), "T.30 5.3.1 (1 s ±15 %)",
        "V.21 flags before the first frame of a carrier",
    ),
    Timing(
        "gap", SIGNAL_GAP, *_pm(SIGNAL_GAP, 20 * MS), "T.30 clause 5, note 3",
        "silence between signals of different modulations (and after CED); replies start this "
        "long after the far end's carrier ended",
    ),
    Timing(
        "TCF", 1500 * MS, 1350 * MS, 1650 * MS, "T.30 (TCF 1.5 s ±10 %)",
        "the training check: zeros at the page's modem after DCS",
    ),
    Timing(
        "DCN hold", 1 * SECOND, 800 * MS, 1200 * MS, "TSB85 (the line clears 0.8-1.2 s after DCN)",
        "after sending DCN the station stays off hook this long, so the far end hears all of it",
    ),
    Timing(
        "coded line", 5 * SECOND, 0, 5 * SECOND, "T.4 4.1.3",
        "the longest a receiver lets one coded scan line (data, fill, EOL) take without ECM; "
        "beyond it the receiver disconnects the line",
    ),
)  # fmt: skip

BY_NAME: dict[str, Timing] = {t.name: t for t in TIMING}

T0 = BY_NAME["T0"].value
T1 = BY_NAME["T1"].value
T2 = BY_NAME["T2"].value
T4 = BY_NAME["T4"].value
T5 = BY_NAME["T5"].value
CED = BY_NAME["CED"].value
GAP = BY_NAME["gap"].value
PREAMBLE = BY_NAME["preamble"].value
TCF = BY_NAME["TCF"].value
DCN_HOLD = BY_NAME["DCN hold"].value
MAX_CODED_LINE = BY_NAME["coded line"].value


def _time(us: int) -> str:
    return f"{us / SECOND:g} s" if us >= SECOND else f"{us // MS} ms"


def markdown() -> str:
    """The table as docs/t30.md prints it (a test keeps the two the same)."""
    rows = ["| time | value | allowed | source | what it times here |", "|---|---|---|---|---|"]
    for t in TIMING:
        if not t.high:
            allowed = f"at least {_time(t.low)}"
        elif not t.low:
            allowed = f"up to {_time(t.high)}"
        else:
            allowed = f"{_time(t.low)} to {_time(t.high)}"
        rows.append(f"| {t.name} | {_time(t.value)} | {allowed} | {t.source} | {t.use} |")
    return "\n".join(rows)
