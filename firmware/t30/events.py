"""What goes into a T.30 session (events) and what comes out (commands), as small frozen values.

The session has no I/O and no clock: whoever runs it (firmware.fax_call for a machine, a TSB85
tester, a test) turns modem and timer happenings into these events and carries the commands out.

Commands form a program run in order: a transmit command holds the ones after it until the
modem has sent it, so "send DCS, 75 ms of silence, TCF, then listen and start T4" is one list.
`Hangup` ends the program at once (whatever is still queued is dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# -- events into the session ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToneHeard:
    tone: str  # cng | ced


@dataclass(frozen=True, slots=True)
class CarrierStarted:
    modulation: str


@dataclass(frozen=True, slots=True)
class CarrierEnded:
    modulation: str


@dataclass(frozen=True, slots=True)
class FrameIn:
    frame: bytes  # address, control, FCF, FIF (no FCS)
    crc_ok: bool = True
    modulation: str = "V.21"


@dataclass(frozen=True, slots=True)
class DataIn:
    data: bytes
    modulation: str


@dataclass(frozen=True, slots=True)
class TimerExpired:
    name: str  # T0 | T1 | T2 | T4 | T5 | TCF


@dataclass(frozen=True, slots=True)
class LineLost:
    reason: str = "dropped"  # dropped | remote_hangup


@dataclass(frozen=True, slots=True)
class Cancel:
    """The operator pressed STOP."""


Event = (
    ToneHeard | CarrierStarted | CarrierEnded | FrameIn | DataIn | TimerExpired | LineLost | Cancel
)

# -- commands out of the session ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendTone:
    tone: str  # ced
    duration: int  # µs


@dataclass(frozen=True, slots=True)
class StartCng:
    pass


@dataclass(frozen=True, slots=True)
class StopCng:
    pass


@dataclass(frozen=True, slots=True)
class SendSilence:
    duration: int  # µs


@dataclass(frozen=True, slots=True)
class SendFrames:
    """HDLC frames (no FCS) on one carrier: V.21 with its preamble, or ECM frames at speed."""

    frames: tuple[bytes, ...]
    modulation: str = "V.21"
    short_train: bool = False


@dataclass(frozen=True, slots=True)
class SendData:
    """Training, then data (TCF or a page), then the carrier goes off."""

    data: bytes
    modulation: str
    short_train: bool = False


@dataclass(frozen=True, slots=True)
class Listen:
    modulations: tuple[str, ...]  # () turns the receiver off


@dataclass(frozen=True, slots=True)
class StartTimer:
    name: str
    duration: int  # µs


@dataclass(frozen=True, slots=True)
class StopTimer:
    name: str


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


@dataclass(frozen=True, slots=True)
class Notify:
    """Progress for whoever runs the session, delivered in air-time order.

    kinds: phase (phase=A..E), negotiated (params, remote_id), page_start (page, pages),
    page_sent (page), page_confirmed (page), page_received (page, result), finished (outcome).
    """

    kind: str
    info: dict[str, Any] = field(default_factory=dict)


Command = (
    SendTone
    | StartCng
    | StopCng
    | SendSilence
    | SendFrames
    | SendData
    | Listen
    | StartTimer
    | StopTimer
    | Hangup
    | Notify
)
