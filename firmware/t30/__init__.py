"""The T.30 engine: a fax call's protocol as a core without I/O (see docs/t30.md).

`T30Session` (session.py, with its halves sending.py and receiving.py over engine.py) runs one
call for the calling or the answering station; `states` is its state table, `timing` the table
of T.30 times, `station` what a session is given and gives back, `habits` the far ends with named
habits, `frames` the FCF table, `capabilities` the DIS/DTC/DCS bits, `results` the outcomes with
their information codes, `image` the page coding it needs, `trace` the readable decoding of
frames for session logs.
"""

from .capabilities import FALLBACK, Capabilities, DcsParams
from .events import Command, Event
from .results import OUTCOMES, Outcome, outcome
from .session import T30Session
from .station import Behaviour, KeepAll, PageSink, ReceivedPage, SessionReport, StationConfig

__all__ = [
    "FALLBACK",
    "OUTCOMES",
    "Behaviour",
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
