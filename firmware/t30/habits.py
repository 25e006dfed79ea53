"""Far ends with habits: fax machines that bend T.30 the way machines in the field do, one table.

Each habit has a name (for scripts: `device NAME NUMBER habit=NAME[,NAME...]`), the symptom it
reproduces as a service engineer would describe it, and how it changes the station: the fields
of its `Behaviour` (station.py) it sets, and station settings it needs when it has none. The
machine itself never has a habit; a simulated far end does. `apply_habits(config, names)` gives
the far end's configuration; an unknown name raises ValueError listing the known ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from estudio190f.hw.clock import SECOND

from .station import StationConfig

# The NSF a habit far end sends when its station has none: T.35 country code 00 (Japan), a
# provider code no peer knows, a model name; nobody acts on it (docs/t30.md: NSF).
FAR_END_NSF = b"\x00\x00\x00" + b"FAR END"


@dataclass(frozen=True)
class Habit:
    name: str
    symptom: str  # what the field sees, and what this machine does about it
    behaviour: Mapping[str, object]  # Behaviour fields it sets
    station: Mapping[str, object] = field(default_factory=dict)  # settings it needs if unset


HABITS: tuple[Habit, ...] = (
    Habit(
        "nsf_only",
        "Answers with its NSF alone, no CSI and no DIS (a machine waiting for its own maker's "
        "non-standard set-up, NSS, before it offers the standard procedure): the caller hears "
        "a fax but never gets the DIS it needs; this machine starts T1 on that first V.21 "
        "signal, waits for DIS until T1 (35 s) runs out and ends 403 with DCN.",
        {"withheld": frozenset({"CSI", "DIS"})},
        {"nsf": FAR_END_NSF},
    ),
    Habit(
        "ftt_to_lowest",
        "Answers every training check faster than 2400 bit/s with FTT (a receiver with a "
        "pessimistic TCF check or a poor line interface): the sender steps down the whole "
        "fallback table, seven FTTs from V.17 14400, and the page goes at V.27ter 2400; the fax "
        "gets through, slowly, and the log shows the FTTs.",
        {"train_limit": 2400},
    ),
    Habit(
        "ignores_ecm",
        "Offers ECM in its DIS but does not act on ECM's commands (PPS, EOR, CTC, RR are "
        "ignored as unknown): the sender's partial page goes unanswered, PPS is sent three "
        "times and the call ends 407 with the page not confirmed; with ECM switched off at the "
        "sender (the service engineer's remedy) the same far end takes the page.",
        {"ignored": frozenset({"PPS", "EOR", "CTC", "RR"})},
    ),
    Habit(
        "dcn_without_mcf",
        "Takes the last page but answers its EOP with DCN instead of MCF: it printed the page, "
        "the sender cannot know; this machine reports 407 (DCN after a post-message command) "
        "with the last page not confirmed, as a real sender must.",
        {"dcn_for_last_mcf": True},
    ),
    Habit(
        "slow_answer",
        "Picks up and stays silent 33 s before its CED (a PC fax whose software starts slowly, "
        "an answering machine that plays its message first): its DIS comes about 36 s after the "
        "answer, past T1. A caller that starts T1 at the answer gives up there (403); this "
        "machine runs T0 until the first V.21 signal, as T.30 says, and sends.",
        {"answer_delay": 33 * SECOND},
    ),
    Habit(
        "drops_in_phase_c",
        "Goes on hook 5 s into phase C, in the middle of the page (a far end that jams or loses "
        "power, a faulty exchange): the sender loses the line mid-page; this machine reports "
        "411 (the line dropped) with that page not confirmed, so a memory transmission sends it "
        "again.",
        {"hang_up_in_phase_c": 5 * SECOND},
    ),
)

BY_NAME: dict[str, Habit] = {h.name: h for h in HABITS}
NAMES: tuple[str, ...] = tuple(h.name for h in HABITS)


def habits(names: Iterable[str]) -> list[Habit]:
    """The habits named, in order; ValueError naming the unknown one and listing the known."""
    found = []
    for name in names:
        habit = BY_NAME.get(name)
        if habit is None:
            raise ValueError(f'unknown habit "{name}"; known habits: {", ".join(NAMES)}')
        found.append(habit)
    return found


def apply_habits(config: StationConfig, names: Iterable[str]) -> StationConfig:
    """A copy of `config` with the habits named: its behaviour changed, and the settings a habit
    needs filled in where the station has none."""
    behaviour = config.behaviour
    station: dict[str, object] = {}
    for habit in habits(names):
        behaviour = behaviour.but(**habit.behaviour)
        for key, value in habit.station.items():
            if not getattr(config, key):
                station[key] = value
    return replace(config, behaviour=behaviour, **station)  # type: ignore[arg-type]


def markdown() -> str:
    """The table as docs/t30.md prints it (a test keeps the two the same)."""
    rows = ["| habit | symptom, and what the machine does |", "|---|---|"]
    rows += [f"| `{h.name}` | {h.symptom} |" for h in HABITS]
    return "\n".join(rows)
