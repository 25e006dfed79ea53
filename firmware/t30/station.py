"""What a T.30 session is given and what it gives back: the station's configuration, the way it
behaves on the line, the page sink that keeps received pages and the report of the call.

`StationConfig` is what one station offers and asks for (from the machine's settings, or a
tester's SET steps). `Behaviour` is how it acts where T.30 leaves room or where a far end bends
the rules: the machine always behaves by the book (the defaults); firmware/t30/habits.py makes far
ends with named habits out of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

from estudio190f.firmware.page import Page

from .capabilities import Capabilities, DcsParams, modulations_up_to
from .timing import BY_NAME

ANSWER_DELAY = BY_NAME["answer delay"].value


@dataclass(frozen=True)
class Behaviour:
    """How a station acts on the line. The defaults are T.30's; every other value reproduces a
    far end's habit (firmware/t30/habits.py)."""

    answer_delay: int = ANSWER_DELAY  # µs of silence between going off hook and CED
    withheld: frozenset[str] = frozenset()  # identification frames it never sends (DIS, CSI)
    train_limit: int = 0  # bit/s: a TCF faster than this is answered FTT (0: no limit)
    ignored: frozenset[str] = frozenset()  # commands it does not act on, as if unknown
    dcn_for_last_mcf: bool = False  # answers the last page's EOP with DCN instead of MCF
    hang_up_in_phase_c: int = 0  # µs into phase C after which it drops the line (0: never)

    def but(self, **changes: object) -> Behaviour:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass
class StationConfig:
    """What one station offers and asks for."""

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
    behaviour: Behaviour = field(default_factory=Behaviour)

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
    unknown_frames: int = 0  # frames with a T.30 header but no T.30 FCF, ignored
