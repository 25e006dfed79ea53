"""The T.30 engine: a fax call's protocol as a core without I/O (see docs/t30.md).

`T30Session` runs one call for the calling or the answering station; `frames` holds the FCF
table, `capabilities` the DIS/DTC/DCS bits, `results` the outcomes with their information codes,
`image` the page coding it needs, `trace` the readable decoding of frames for session logs.
"""

from .capabilities import FALLBACK, Capabilities, DcsParams
from .events import Command, Event
from .results import OUTCOMES, Outcome, outcome
from .session import KeepAll, PageSink, ReceivedPage, SessionReport, StationConfig, T30Session

__all__ = [
    "FALLBACK",
    "OUTCOMES",
    "Capabilities",
    "Command",
    "DcsParams",
    "Event",
    "KeepAll",
    "Outcome",
    "PageSink",
    "ReceivedPage",
    "SessionReport",
    "StationConfig",
    "T30Session",
    "outcome",
]
