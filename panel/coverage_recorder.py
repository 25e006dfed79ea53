"""Recording coverage: what exists (read from the firmware's own tables) and what the machines
of this process visit (docs/coverage.md).

`CoverageRecorder().install()` follows every machine made or restored in this process from then
on (`panel.sim.MACHINE_WATCHERS`): it listens to the machine's event log, to the control panel's
transitions and to the FUNCTION menu, and counts what it meets in a `Coverage`
(`panel.coverage`). `replay --coverage FILE` and the pytest plugin's `--estudio-coverage FILE`
run one; so do `replay` and `run` when ESTUDIO190F_COVERAGE_DIR names a folder (the pytest
plugin sets it for the replays its tests start), each writing its own file there.

The areas and what counts as visiting an item of each are declared below (`AREAS`); the T.30
paths, the SMTP reply classes and the LCD words are this module's tables, the rest are the
firmware's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

from estudio190f.firmware import screens as _screens_module  # its screens: Screen subclasses
from estudio190f.firmware.control_panel import STATES, TRANSITIONS, Screen, _StateMachine
from estudio190f.firmware.email.codes import CODES
from estudio190f.firmware.menu import MENU, Item, walk
from estudio190f.firmware.settings import SETTINGS
from estudio190f.firmware.t30.frames import FRAME_TYPES
from estudio190f.firmware.t30.results import OUTCOMES
from estudio190f.hw.eventlog import Event
from estudio190f.hw.faults import FAULT_NAMES
from estudio190f.hw.lan import (
    CERTIFICATE,
    DROPPED,
    REFUSED,
    TIMEOUT,
    TLS_FAILED,
    UNREACHABLE,
    UNREADABLE,
)
from estudio190f.hw.modem import MODULATIONS

from . import sim as sim_module
from .coverage import Area, Coverage
from .sim import Machine

ENVIRONMENT = "ESTUDIO190F_COVERAGE_DIR"

# The LCD words tests look for (DESIGN.md 3.3), and the standby words.
LCD_WORDS = (
    "DIALING", "SENDING", "RECEIVING", "COMPLETED", "COMM. ERROR", "BUSY", "NO ANSWER",
    "NO PAPER", "PAPER JAM", "DOCUMENT JAM", "COVER OPEN", "MEMORY FULL", "COPYING", "PRINTING",
    "SCANNING", "EMAIL SENT", "EMAIL ERROR", "AUTH ERROR", "CHECK DOCUMENT", "FAX READY",
    "COPY READY", "SCAN READY",
)  # fmt: skip

# T.30 paths (docs/t30.md, firmware/t30/states.py): name -> what it is. Each is visited when
# either end of a call meets what `_T30_FRAME_PATHS` and the handlers below say.
T30_PATHS: dict[str, str] = {
    "fallback after FTT": "the training check failed (FTT): DCS again at a lower speed",
    "RTN: page again": "a page received badly (RTN): retrain, the page again",
    "RTP: retrain": "a page received with errors (RTP): retrain before the next",
    "page without ECM": "a page sent without ECM (MPS, EOM or EOP after it)",
    "ECM page": "a page sent in ECM blocks",
    "ECM PPR": "ECM frames asked for again (PPR)",
    "ECM CTC": "continue to correct at a lower speed (CTC, CTR)",
    "ECM EOR": "an ECM block given up (EOR, ERR)",
    "receiver not ready": "the receiver has no room yet (RNR, RR)",
    "multi-page": "a page followed by another (MPS, or PPS-MPS)",
    "end of message": "a document ends and another follows (EOM, or PPS-EOM)",
    "polling": "the caller receives (DTC)",
    "polling password": "a password sent with a poll (PWD)",
    "sender password": "a password for transmission (SID)",
    "CRP": "a garbled frame asked for again (CRP)",
    "procedure interrupt": "an operator call asked for (PIP, PIN)",
    "command repeated": "a command sent again after T4 ran out",
    "bad frame": "a frame received with a bad FCS",
    "call cut": "the line dropped in the middle of a call (CALLDROPPED)",
}
_T30_FRAME_PATHS: dict[str, str] = {
    "FTT": "fallback after FTT", "RTN": "RTN: page again", "RTP": "RTP: retrain",
    "MPS": "multi-page", "EOM": "end of message", "PPR": "ECM PPR", "CTC": "ECM CTC",
    "CTR": "ECM CTC", "EOR": "ECM EOR", "ERR": "ECM EOR", "RNR": "receiver not ready",
    "RR": "receiver not ready", "DTC": "polling", "PWD": "polling password",
    "SID": "sender password", "CRP": "CRP", "PIP": "procedure interrupt",
    "PIN": "procedure interrupt",
}  # fmt: skip
_POSTS = {"MPS": "multi-page", "EOM": "end of message"}
# Frames the session trace does not name one by one: an ECM block's image frames.
ECM_IMAGE_FRAMES = ("FCD", "RCP")

# SMTP replies by step and class (the LAN port's steps; the session policy answers each class
# differently), and the transport failures.
SMTP_STEPS: dict[str, tuple[int, ...]] = {
    "connect": (2, 4, 5), "ehlo": (2, 5), "starttls": (2, 4, 5), "command": (2, 3, 4, 5),
    "mail": (2, 4, 5), "rcpt": (2, 4, 5), "data": (2, 4, 5), "quit": (2,),
}  # fmt: skip
SMTP_FAILURES = (REFUSED, UNREACHABLE, TIMEOUT, DROPPED, TLS_FAILED, CERTIFICATE, UNREADABLE)


def _transitions() -> list[str]:
    """Every transition the table declares, as `source -trigger-> dest` (a parent state as the
    source stands for each state inside it; `*` for every state)."""

    class _Model:
        pass

    machine = _StateMachine(
        model=_Model(), states=STATES, transitions=TRANSITIONS, initial="off",
        auto_transitions=False,
    )  # fmt: skip
    found: list[str] = []
    for trigger, event in machine.events.items():
        for source, transitions in event.transitions.items():
            found += [f"{source} -{trigger}-> {t.dest}" for t in transitions]
    return list(dict.fromkeys(found))


def _leaf_states() -> list[str]:
    names: list[str] = []
    for state in STATES:
        if isinstance(state, str):
            names.append(state)
        else:
            names += [f"{state['name']}.{child}" for child in state["children"]]  # type: ignore[attr-defined]
    return names


def _screens() -> list[str]:
    assert _screens_module.PanelScreens is not None  # every screen class is defined by now
    found: list[str] = []
    pending: list[type[Screen]] = [Screen]
    while pending:
        cls = pending.pop(0)
        own = cls.__dict__.get("state")
        if own:
            found.append(str(own))
        pending += cls.__subclasses__()
    return list(dict.fromkeys(found))


_MENU_ITEMS: dict[int, str] = {id(item): f"{path} {item.label}" for path, item in walk(MENU)}


def empty() -> Coverage:
    """A coverage with every area and what exists in it, nothing visited yet."""
    areas = [
        Area("states", "a state of the main state machine (firmware/control_panel.py)",
             _leaf_states()),
        Area("transitions", "a transition of the main state machine's table", _transitions()),
        Area("screens", "an LCD screen, named for the state it is the screen of", _screens()),
        Area("lcd words", "a word of DESIGN.md 3.3 seen on the LCD", list(LCD_WORDS)),
        Area("menu", "a FUNCTION menu item opened (firmware/menu.py)",
             list(_MENU_ITEMS.values())),
        Area("settings", "a setting changed (the menu, a settings file, a test)",
             [s.key for s in SETTINGS]),
        Area("t30 frames", "a T.30 frame type sent or received (the image frames of an ECM "
             "block, FCD and RCP, count as the path `ECM page`)",
             [f"{f.name} {d}" for f in FRAME_TYPES if f.name not in ECM_IMAGE_FRAMES
              for d in ("sent", "received")]),
        Area("t30 paths", "a T.30 procedure beside the plain one", list(T30_PATHS)),
        Area("modulations", "a high-speed carrier heard",
             [k for k in MODULATIONS if k != "V.21"]),
        Area("fax results", "how a fax call ended (firmware/t30/results.py)",
             [o.status for o in OUTCOMES]),
        Area("faults", "a fault set and cleared", [f"{n} {e}" for n in FAULT_NAMES
                                                  for e in ("set", "clear")]),
        Area("smtp replies", "an SMTP reply met, by step and class, or a transport failure",
             [f"{step} {c}yz" for step, classes in SMTP_STEPS.items() for c in classes]
             + [f"transport {f}" for f in SMTP_FAILURES]),
        Area("email results", "how a scan-to-email try ended (firmware/email/codes.py)",
             [f"{c.code} {c.word}" for c in CODES.values()]),
    ]  # fmt: skip
    return Coverage({a.name: a for a in areas})


Handler = Callable[[Machine, Event], None]


class CoverageRecorder:
    """Counts what the machines it follows visit."""

    def __init__(self) -> None:
        self.coverage = empty()
        a = self.coverage.areas
        self._states, self._transitions = a["states"], a["transitions"]
        self._screens, self._words, self._menu = a["screens"], a["lcd words"], a["menu"]
        self._settings, self._frames, self._paths = a["settings"], a["t30 frames"], a["t30 paths"]
        self._modulations, self._results = a["modulations"], a["fax results"]
        self._faults, self._smtp, self._email = a["faults"], a["smtp replies"], a["email results"]
        self._known_transitions = set(self._transitions.known)
        self._handlers: dict[tuple[str, str], Handler] = {
            ("firmware", "state"): self._on_state,
            ("panel", "lcd"): self._on_lcd,
            ("settings", "set"): self._on_setting,
            ("settings", "file_applied"): self._on_settings_file,
            ("t30", "send"): self._on_frame,
            ("t30", "recv"): self._on_frame,
            ("t30", "send_ecm"): self._on_ecm,
            ("t30", "carrier"): self._on_carrier,
            ("t30", "timeout"): self._on_timeout,
            ("fax", "result"): self._on_fax_result,
            ("fault", "set"): self._on_fault,
            ("fault", "clear"): self._on_fault,
            ("lan", "smtp"): self._on_smtp,
            ("email", "result"): self._on_email,
            ("email", "deferred"): self._on_email,
        }

    # -- following machines ------------------------------------------------------------------------
    def install(self) -> CoverageRecorder:
        """Follow every machine made or restored in this process from now on."""
        if self.follow not in sim_module.MACHINE_WATCHERS:
            sim_module.MACHINE_WATCHERS.append(self.follow)
        return self

    def uninstall(self) -> None:
        if self.follow in sim_module.MACHINE_WATCHERS:
            sim_module.MACHINE_WATCHERS.remove(self.follow)

    def follow(self, machine: Machine) -> None:
        """Listen to one machine (its log, its panel's transitions, its FUNCTION menu)."""
        firmware = machine.firmware
        machine.board.log.listeners.add(partial(self._event, machine))
        firmware.panel.transition_listeners.add(self._transition)
        firmware.screens.menu.opened.add(self._menu_opened)
        self._on_state(machine, {"state": firmware.panel.state})

    def write(self, path: Path) -> None:
        self.coverage.write(path)

    # -- what the machines report ----------------------------------------------------------------
    def _event(self, machine: Machine, event: Event) -> None:
        handler = self._handlers.get((event["src"], event["ev"]))
        if handler is not None:
            handler(machine, event)

    def _transition(self, source: str, trigger: str, dest: str) -> None:
        state = source
        while True:
            item = f"{state} -{trigger}-> {dest}"
            if item in self._known_transitions or "." not in state:
                break
            state = state.rpartition(".")[0]
        if item not in self._known_transitions:
            item = f"{source} -{trigger}-> {dest}"
        self._transitions.hit(item)

    def _menu_opened(self, item: Item) -> None:
        self._menu.hit(_MENU_ITEMS.get(id(item), item.label))

    def _on_state(self, machine: Machine, event: Event) -> None:
        self._states.hit(str(event["state"]))

    def _on_lcd(self, machine: Machine, event: Event) -> None:
        panel = machine.firmware.panel
        try:
            self._screens.hit(panel.screen.state)
        except LookupError:
            pass
        text = " | ".join(str(line) for line in event.get("lines", ()))
        for word in LCD_WORDS:
            if word in text:
                self._words.hit(word)

    def _on_setting(self, machine: Machine, event: Event) -> None:
        self._settings.hit(str(event["key"]))

    def _on_settings_file(self, machine: Machine, event: Event) -> None:
        for key in event.get("keys", ()):
            self._settings.hit(str(key))

    def _on_frame(self, machine: Machine, event: Event) -> None:
        name = str(event.get("frame", "?"))
        sent = event["ev"] == "send"
        self._frames.hit(f"{name} {'sent' if sent else 'received'}")
        path = _T30_FRAME_PATHS.get(name)
        if path is not None:
            self._paths.hit(path)
        if name in ("MPS", "EOM", "EOP"):
            self._paths.hit("page without ECM")
        if name == "PPS":
            post = str(event.get("info", "")).split(",")[0]
            if post in _POSTS:
                self._paths.hit(_POSTS[post])
        if not sent and event.get("fcs") == "bad":
            self._paths.hit("bad frame")

    def _on_ecm(self, machine: Machine, event: Event) -> None:
        self._paths.hit("ECM page")

    def _on_carrier(self, machine: Machine, event: Event) -> None:
        if event.get("up"):
            self._modulations.hit(str(event.get("modulation")))

    def _on_timeout(self, machine: Machine, event: Event) -> None:
        if event.get("timer") == "T4":
            self._paths.hit("command repeated")

    def _on_fax_result(self, machine: Machine, event: Event) -> None:
        status = str(event.get("status"))
        self._results.hit(status)
        if status == "CALLDROPPED":
            self._paths.hit("call cut")

    def _on_fault(self, machine: Machine, event: Event) -> None:
        self._faults.hit(f"{event.get('fault')} {event['ev']}")

    def _on_smtp(self, machine: Machine, event: Event) -> None:
        failure = event.get("failure")
        if failure:
            self._smtp.hit(f"transport {failure}")
        else:
            self._smtp.hit(f"{event.get('step')} {int(event.get('code', 0)) // 100}yz")

    def _on_email(self, machine: Machine, event: Event) -> None:
        code = str(event.get("code"))
        known = CODES.get(code)
        self._email.hit(f"{code} {known.word if known is not None else 'other'}")


# -- docs ---------------------------------------------------------------------------------------------


def areas_table() -> str:
    """The areas of docs/coverage.md, with how many items each has now, and the T.30 paths."""
    rows = ["| area | an item is | items |", "|---|---|---|"]
    rows += [f"| {a.name} | {a.what} | {len(a.known)} |" for a in empty().areas.values()]
    rows += ["", "The T.30 paths:", "", "| path | what it is |", "|---|---|"]
    rows += [f"| {name} | {what} |" for name, what in T30_PATHS.items()]
    return "\n".join(rows) + "\n"


# -- a process recording for a coverage folder (ESTUDIO190F_COVERAGE_DIR) -------------------------


def recording_folder() -> Path | None:
    """The folder the environment asks this process to write its coverage into, if any."""
    folder = os.environ.get(ENVIRONMENT)
    return Path(folder) if folder else None


def write_into(folder: Path, coverage: Coverage, tag: str) -> Path:
    """One process's coverage as a new file in the folder (merged later with the others)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{tag}-{os.getpid()}-{id(coverage):x}.json"
    coverage.write(path)
    return path


__all__ = [
    "ENVIRONMENT", "LCD_WORDS", "SMTP_STEPS", "T30_PATHS", "CoverageRecorder", "areas_table", "empty",
    "recording_folder", "write_into",
]  # fmt: skip
