"""The control panel's firmware: the main state machine, the screen each state shows, the LCD
and the LEDs.

The main state says what the operator is doing (`standby.fax`, `dial.number`, `menu.edit`,
`job.fax_send`, ...); the tables below are its one declaration (docs/state-machine.md is made
from them). Each state has one `Screen`, registered once: the screen shown is derived from the
state, never set beside it, so `state?` and the LCD cannot disagree. A screen takes the keys
(`key_<NAME>` methods) and says what its two lines are; the LCD is written once at the end of
each instant (`Clock.call_last`), from the state as it stands then, so no picture is shown and
replaced at the same virtual instant.

While a job runs (`job.<kind>`) the LCD shows what the job says through its `JobHandle`; STOP
and other keys go to the job's owner. A notice (`message`) is shown for a while and then goes
home, or wherever its `then` says. Faults that need the operator (`set_alert`) show in standby
and light ALARM; MEMORY and LINE are lit while any unit holds them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Literal, Protocol

from transitions.extensions import HierarchicalMachine
from transitions.extensions.nesting import NestedState

from estudio190f.hw.clock import MS, SECOND, Clock, Timer, TimerGroup
from estudio190f.hw.eventlog import EventLog
from estudio190f.hw.listeners import Listeners
from estudio190f.hw.operator_panel import Led, OperatorPanel
from estudio190f.hw.rtc import RealTimeClock

from .entry import EntryMode
from .settings import Settings

Mode = Literal["fax", "copy", "scan"]
MODES: tuple[Mode, ...] = ("fax", "copy", "scan")
JobKind = Literal["copy", "fax_send", "fax_receive", "scan_email", "print", "report"]
JOB_KINDS: tuple[JobKind, ...] = (
    "copy",
    "fax_send",
    "fax_receive",
    "scan_email",
    "print",
    "report",
)
LedState = Literal["on", "off", "blink"]

MESSAGE_TIME = 2 * SECOND  # COMPLETED and other notices (sister model: COMPLETED shown 2 s)
OVERLAY_TIME = 2 * SECOND  # RESOLUTION / CONTRAST shown over the screen
PRESS_TIME = 100 * MS  # how long the key-script `press` holds a key
RESOLUTIONS = ("standard", "fine", "superfine", "photo")
CONTRASTS = ("normal", "dark", "light")  # the CONTRAST key steps in this order
RESOLUTION_LABEL = {
    "standard": "STANDARD",
    "fine": "FINE",
    "superfine": "SUPER FINE",
    "photo": "PHOTO",
}

# -- the main state machine, declared once ---------------------------------------------------------
STATES: list[str | dict[str, object]] = [
    "off",
    "booting",
    {"name": "standby", "children": list(MODES)},
    {"name": "dial", "children": ["number", "options", "speed_dial"]},
    "copies",
    "address",
    {"name": "menu", "children": ["browse", "edit", "code"]},
    {"name": "service", "children": ["browse", "test"]},
    {"name": "job", "children": list(JOB_KINDS)},
    "message",
]

_ACTIVE = ["booting", "standby", "dial", "copies", "address", "menu", "service", "job", "message"]

Transition = dict[str, str | list[str]]
TRANSITIONS: list[Transition] = [
    {"trigger": "power_lost", "source": "*", "dest": "off"},
    {"trigger": "power_up", "source": "off", "dest": "booting"},
    *(
        Transition(trigger="home", source=_ACTIVE, dest=f"standby.{m}", conditions=f"mode_is_{m}")
        for m in MODES
    ),
    *(Transition(trigger=f"select_{m}", source="standby", dest=f"standby.{m}") for m in MODES),
    # A reception the machine started gives way to the operator's fax number (`step_aside`).
    {
        "trigger": "start_dial",
        "source": ["standby.fax", "dial", "message", "job.fax_receive"],
        "dest": "dial.number",
    },
    {"trigger": "send_options", "source": ["dial", "message"], "dest": "dial.options"},
    {
        "trigger": "start_speed_dial",
        "source": ["standby", "dial", "address", "job.fax_receive"],
        "dest": "dial.speed_dial",
    },
    {"trigger": "start_copies", "source": ["standby.copy", "message"], "dest": "copies"},
    {
        "trigger": "start_address",
        "source": ["standby.scan", "dial.speed_dial", "message"],
        "dest": "address",
    },
    {"trigger": "open_menu", "source": "standby", "dest": "menu.browse"},
    {"trigger": "edit_item", "source": ["menu", "message"], "dest": "menu.edit"},
    {"trigger": "browse", "source": ["menu", "message"], "dest": "menu.browse"},
    {"trigger": "enter_code", "source": "menu.browse", "dest": "menu.code"},
    {"trigger": "open_service", "source": "menu.code", "dest": "service.browse"},
    {"trigger": "service_test", "source": "service", "dest": "service.test"},
    {"trigger": "service_menu", "source": ["service", "message"], "dest": "service.browse"},
    *(Transition(trigger=f"begin_{j}", source=_ACTIVE[1:], dest=f"job.{j}") for j in JOB_KINDS),
    {"trigger": "show_notice", "source": _ACTIVE, "dest": "message"},
]


class _State(NestedState):
    separator = "."


class _StateMachine(HierarchicalMachine):
    state_cls = _State


# -- screens --------------------------------------------------------------------------------------
class Screen:
    """What one state shows and how it takes the keys: `key_<NAME>` handles one key, `key_any`
    the rest (True if taken); an untaken key beeps. `lines()` is the LCD while the state is
    current. `state` names the state (or the parent of the states) it is the screen of."""

    state = ""
    takes_timeout = False  # the panel timeout sends the machine home from here

    def __init__(self, panel: ControlPanel) -> None:
        self.panel = panel
        self._handlers: dict[str, Callable[[], None]] = {
            name[4:]: getattr(self, name)
            for name in dir(self)
            if name.startswith("key_") and name != "key_any" and callable(getattr(self, name))
        }

    def lines(self) -> tuple[str, str]:
        return ("", "")

    def key(self, key: str) -> None:
        handler = self._handlers.get(key)
        if handler is not None:
            handler()
        elif not self.key_any(key):
            self.panel.beep(key)

    def key_any(self, key: str) -> bool:
        return False

    def entry_mode(self) -> EntryMode | None:
        """What `type` may enter here (None: no text or numbers)."""
        return None


class OffScreen(Screen):
    state = "off"


class BootScreen(Screen):
    state = "booting"

    def lines(self) -> tuple[str, str]:
        return ("E-STUDIO190F", "PLEASE WAIT")

    def key(self, key: str) -> None:
        pass


class JobOwner(Protocol):
    """The unit running a job on the LCD: it hears STOP and the keys the job screen gets."""

    def stop(self) -> None: ...

    def key(self, key: str) -> bool: ...


class JobView(Protocol):
    """What a job writes to: its two lines on the LCD, its own state, and its end."""

    def show(self, line1: str, line2: str = "") -> None: ...

    def set_state(self, substate: str) -> None: ...

    def finish(self, line1: str = "", line2: str = "") -> None: ...


class JobHandle:
    """A job's window on the LCD, from `ControlPanel.begin_job`. A handle made while the LCD was
    busy (`shown` False) keeps the job's lines without showing them."""

    def __init__(self, panel: ControlPanel, kind: JobKind, owner: JobOwner, shown: bool) -> None:
        self.panel = panel
        self.kind = kind
        self.owner = owner
        self.lines: tuple[str, str] = ("", "")
        self.substate = ""
        # Other jobs running beside this one (the 2nd G3 option's second call), as `state?`
        # shows them after ` + `.
        self.beside = ""
        self.active = shown

    @property
    def shown(self) -> bool:
        return self.active and self.panel.job is self

    def show(self, line1: str, line2: str = "") -> None:
        self.lines = (line1[:20], line2[:20])
        if self.shown:
            self.panel.refresh()

    def set_state(self, substate: str) -> None:
        self.substate = substate

    def finish(
        self,
        line1: str = "",
        line2: str = "",
        duration: int = MESSAGE_TIME,
        then: Callable[[], None] | None = None,
    ) -> None:
        """The job is over: a notice (line1, line2) if given, else home."""
        if not self.active:
            return
        self.active = False
        panel = self.panel
        if panel.job is self:
            panel.job = None
            panel.job_resolution = panel.job_contrast = None
            if line1 or line2:
                panel.notice(line1[:20], line2[:20], duration=duration, then=then)
            else:
                panel.go_home()


class JobScreen(Screen):
    """While a job runs the LCD shows it; STOP and other keys go to its owner."""

    state = "job"

    def lines(self) -> tuple[str, str]:
        job = self.panel.job
        return job.lines if job is not None else ("", "")

    def key_STOP(self) -> None:
        job = self.panel.job
        if job is not None:
            job.owner.stop()

    def key_any(self, key: str) -> bool:
        job = self.panel.job
        return job is not None and job.owner.key(key)


class MessageScreen(Screen):
    """A notice shown for a while; any key ends it early (and then counts on the next screen,
    except STOP and the one-touch keys)."""

    state = "message"

    def __init__(self, panel: ControlPanel) -> None:
        super().__init__(panel)
        self.text = ("", "")
        self.then: Callable[[], None] | None = None
        self.timer: Timer | None = None

    def lines(self) -> tuple[str, str]:
        return self.text

    def finish(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        then, self.then = self.then, None
        if then is not None:
            then()
        else:
            self.panel.go_home()

    def key(self, key: str) -> None:
        self.finish()
        if key != "STOP" and not key.startswith("ONE_TOUCH"):
            screen = self.panel.screen
            if screen is not self:
                screen.key(key)


# -- the panel ------------------------------------------------------------------------------------
class ControlPanel:
    """The main state machine with its screens, the LCD and the LEDs of one machine."""

    # Bound by `transitions` from STATES and TRANSITIONS.
    state: str
    trigger: Callable[..., bool]

    def __init__(
        self,
        clock: Clock,
        timers: TimerGroup,
        log: EventLog,
        hardware: OperatorPanel,
        rtc: RealTimeClock,
        settings: Settings,
    ) -> None:
        self.clock = clock
        self.timers = timers
        self.log = log
        self.lcd = hardware.lcd
        self.leds: dict[str, Led] = hardware.leds
        self.rtc = rtc
        self.settings = settings
        self.mode: Mode = "fax"
        self.job: JobHandle | None = None
        self.job_resolution: str | None = None
        self.job_contrast: str | None = None
        self.alerts: dict[str, str] = {}
        self._indicators: dict[tuple[str, str], LedState] = {}
        self._screens: dict[str, Screen] = {}
        self._overlay: tuple[str, str] | None = None
        self._overlay_timer: Timer | None = None
        self._panel_timer: Timer | None = None
        self._panel_since = 0
        self._panel_armed = False
        self._minute_timer: Timer | None = None
        self._refresh: Timer | None = None
        # Every key pressed (service key test, recorders); arriving in standby (a unit that
        # shows itself there, e.g. printing in the background).
        self.key_listeners: Listeners[[str]] = Listeners()
        self.entered_standby: Listeners[[]] = Listeners()
        # Every transition of the table taken: (source state, trigger, destination state).
        self.transition_listeners: Listeners[[str, str, str]] = Listeners()
        self.state = "off"
        self.machine = _StateMachine(
            model=self, states=STATES, transitions=TRANSITIONS, initial="off",
            auto_transitions=False, after_state_change=self._state_changed,
        )  # fmt: skip
        self.message = MessageScreen(self)
        for screen in (OffScreen(self), BootScreen(self), JobScreen(self), self.message):
            self.register(screen)
        hardware.keys.listeners.add(self._on_key)

    # -- screens ------------------------------------------------------------------------------
    def register(self, screen: Screen) -> None:
        if screen.state in self._screens:
            raise ValueError(f"state {screen.state} has a screen already")
        self._screens[screen.state] = screen

    @property
    def screen(self) -> Screen:
        """The screen of the current state (the most specific one registered)."""
        path = self.state
        while path:
            screen = self._screens.get(path)
            if screen is not None:
                return screen
            path = path.rpartition(".")[0]
        raise LookupError(f"no screen for state {self.state}")

    def _take(self, trigger: str) -> None:
        """Take a transition of the table (`trigger` is bound by `transitions`)."""
        source = self.state
        self.trigger(trigger)
        if self.transition_listeners:
            self.transition_listeners(source, trigger, self.state)

    def fire(self, trigger: str) -> None:
        """Take a transition of the table; the screen of the new state is drawn."""
        self._take(trigger)
        self._cancel_overlay()
        self._restart_panel_timer()
        self.refresh()

    def mode_is_fax(self) -> bool:
        return self.mode == "fax"

    def mode_is_copy(self) -> bool:
        return self.mode == "copy"

    def mode_is_scan(self) -> bool:
        return self.mode == "scan"

    def _state_changed(self) -> None:
        self.log.emit("firmware", "state", state=self.state)

    @property
    def running(self) -> bool:
        return self.state not in ("off", "booting")

    @property
    def in_standby(self) -> bool:
        return self.state.startswith("standby")

    def free_for_background(self) -> bool:
        """Whether a job started by the machine itself (a call, printing) may take the LCD: the
        operator is not in the middle of something."""
        return self.in_standby or self.state in ("message", "job.print")

    def state_path(self) -> str:
        """The state, with a running job's own state after a `/` (`job.fax_send/t30.phase_c`),
        and the jobs running beside it after ` + `."""
        job = self.job
        if job is None or not self.state.startswith("job"):
            return self.state
        path = f"{self.state}/{job.substate}" if job.substate else self.state
        return f"{path} + {job.beside}" if job.beside else path

    def entry_mode(self) -> EntryMode | None:
        if not self.running:
            return None
        return self.screen.entry_mode()

    # -- the LCD ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Draw the LCD at the end of this instant, from the state as it stands then."""
        if self._refresh is None:
            self._refresh = self.timers.call_last(self._draw, label="lcd")

    def _draw(self) -> None:
        self._refresh = None
        if self.state == "off":
            self.lcd.clear()
            return
        self.lcd.show(*(self._overlay or self.screen.lines()))

    def go_home(self) -> None:
        """Back to standby in the current mode."""
        if self.running:
            self._home()

    def _home(self) -> None:
        was_standby = self.in_standby
        self._take("home")
        self._cancel_overlay()
        self._cancel_panel_timer()
        self.refresh()
        if not was_standby:
            self.entered_standby()

    def notice(
        self,
        line1: str,
        line2: str = "",
        duration: int = MESSAGE_TIME,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Show a message for `duration`, then run `then` (default: back to standby)."""
        if not self.running:
            return
        message = self.message
        if message.timer is not None:
            message.timer.cancel()
        message.text = (line1, line2)
        message.then = then
        self._take("show_notice")
        self._cancel_overlay()
        self._cancel_panel_timer()
        self.refresh()
        message.timer = self.timers.call_later(duration, message.finish, label="notice")

    def resume(self, trigger: str) -> Callable[[], None]:
        """A `then` for a notice: take this transition when it ends."""
        return partial(self.fire, trigger)

    def overlay(self, line1: str, line2: str) -> None:
        """Show something for a moment over the current screen (RESOLUTION, CONTRAST)."""
        self._cancel_overlay()
        self._overlay = (line1, line2)
        self._overlay_timer = self.timers.call_later(
            OVERLAY_TIME, self._end_overlay, label="overlay"
        )
        self.refresh()

    def _end_overlay(self) -> None:
        self._overlay_timer = None
        self._overlay = None
        self.refresh()

    def _cancel_overlay(self) -> None:
        if self._overlay_timer is not None:
            self._overlay_timer.cancel()
            self._overlay_timer = None
        if self._overlay is not None:
            self._overlay = None
            self.refresh()

    def beep(self, key: str) -> None:
        self.log.emit("firmware", "beep", key=key, state=self.state)

    # -- jobs ---------------------------------------------------------------------------------
    def begin_job(self, kind: JobKind, owner: JobOwner, background: bool = False) -> JobHandle:
        """Give the LCD to a job (state `job.<kind>`). A job the machine starts by itself
        (`background`) takes it only when the operator is not busy with something else; its
        handle then keeps its lines unseen."""
        if background and not (self.running and self.free_for_background()):
            return JobHandle(self, kind, owner, shown=False)
        message = self.message
        if message.timer is not None:
            message.timer.cancel()
            message.timer = None
        handle = JobHandle(self, kind, owner, shown=True)
        self.job = handle
        self._take(f"begin_{kind}")
        self._cancel_overlay()
        self._cancel_panel_timer()
        self.refresh()
        return handle

    def step_aside(self, key: str) -> None:
        """The job on the LCD is one the machine started (a reception): the operator's `key`
        counts as it would in standby (a fax number, a one-touch or speed-dial key) and the job
        runs on unseen; its owner shows it again when the panel comes back to standby."""
        job = self.job
        if job is not None:
            job.active = False
            self.job = None
        self._screens["standby"].key(key)
        self.refresh()

    # -- mode, scan options for the next job ----------------------------------------------------
    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        self._take(f"select_{mode}")
        self._mode_leds()
        self.refresh()

    @property
    def resolution(self) -> str:
        return self.job_resolution or self.settings.text("scan.resolution")

    @property
    def contrast(self) -> str:
        return self.job_contrast or self.settings.text("scan.contrast")

    def cycle_resolution(self) -> None:
        if self._overlay is not None and self._overlay[0] == "RESOLUTION":
            current = RESOLUTIONS.index(self.resolution)
            self.job_resolution = RESOLUTIONS[(current + 1) % len(RESOLUTIONS)]
        self.overlay("RESOLUTION", RESOLUTION_LABEL[self.resolution])

    def cycle_contrast(self) -> None:
        if self._overlay is not None and self._overlay[0] == "CONTRAST":
            current = CONTRASTS.index(self.contrast)
            self.job_contrast = CONTRASTS[(current + 1) % len(CONTRASTS)]
        self.overlay("CONTRAST", self.contrast.upper())

    # -- alerts and LEDs ------------------------------------------------------------------------
    def set_alert(self, source: str, word: str | None) -> None:
        """A fault that needs the operator: shown in standby, ALARM on while any is set."""
        if word is None:
            if self.alerts.pop(source, None) is None:
                return
        else:
            if self.alerts.get(source) == word:
                return
            self.alerts[source] = word
        if self.running:
            self.leds["ALARM"].set("on" if self.alerts else "off")
        self.refresh()

    def alert_text(self) -> str:
        return next(iter(self.alerts.values()), "")

    def set_indicator(self, name: Literal["MEMORY", "LINE"], state: LedState, source: str) -> None:
        """MEMORY (documents in memory) and LINE (line in use), held by the units. Several
        sources may hold one LED: it shows the strongest (on, then blink, then off)."""
        self._indicators[(name, source)] = state
        if self.running:
            self.leds[name].set(self.indicator(name))

    def indicator(self, name: str) -> LedState:
        held = [s for (n, _), s in self._indicators.items() if n == name]
        return "on" if "on" in held else ("blink" if "blink" in held else "off")

    def restore_leds(self) -> None:
        self._mode_leds()
        self.leds["ALARM"].set("on" if self.alerts else "off")
        for name in ("MEMORY", "LINE"):
            self.leds[name].set(self.indicator(name))

    def _mode_leds(self) -> None:
        for m in MODES:
            self.leds[m.upper()].set("on" if m == self.mode else "off")

    # -- power --------------------------------------------------------------------------------
    def powered_off(self) -> None:
        """The power went: RAM is gone (the board has cancelled every timer)."""
        if self.job is not None:
            self.job.active = False
            self.job = None
        self._overlay = None
        self._overlay_timer = self._panel_timer = self._minute_timer = self._refresh = None
        self._panel_armed = False
        self.message.timer = None
        self.message.then = None
        self._take("power_lost")
        self.lcd.clear()
        for led in self.leds.values():
            led.set("off")

    def booting(self) -> None:
        self._take("power_up")
        self.mode = "fax"
        self.job_resolution = self.job_contrast = None
        self.refresh()

    def ready(self) -> None:
        """Booted and warmed up: standby."""
        self._schedule_minute()
        self.restore_leds()
        self._home()

    # -- the clock on line 1 --------------------------------------------------------------------
    def clock_text(self) -> str:
        return self.rtc.now().strftime("%m-%d-%Y %H:%M")

    def set_clock(self, when: datetime) -> None:
        self.rtc.set(when)
        self.log.emit("firmware", "clock_set", when=when.strftime("%Y-%m-%d %H:%M"))
        self._schedule_minute()
        self.refresh()

    def _schedule_minute(self) -> None:
        if self._minute_timer is not None:
            self._minute_timer.cancel()
        if not self.running and self.state != "booting":
            return
        now = self.rtc.now()
        into_minute = now.second * SECOND + now.microsecond
        self._minute_timer = self.timers.call_later(
            60 * SECOND - into_minute, self._minute_tick, label="minute"
        )

    def _minute_tick(self) -> None:
        self._minute_timer = None
        if self.in_standby:
            self.refresh()
        self._schedule_minute()

    # -- keys ---------------------------------------------------------------------------------
    def _on_key(self, key: str, down: bool) -> None:
        if not down or not self.running:
            return
        self.key_listeners(key)
        self._restart_panel_timer()
        if self._overlay is not None and key not in ("RESOLUTION", "CONTRAST"):
            self._cancel_overlay()
        self.screen.key(key)

    # The panel timeout counts from the last key on a screen that takes it. A key only notes the
    # time; the one timer, when it comes, looks whether a key came since (then it waits on).
    def _restart_panel_timer(self) -> None:
        self._panel_since = self.clock.now
        self._panel_armed = self.screen.takes_timeout
        if self._panel_armed and self._panel_timer is None:
            self._arm_panel_timer(self._panel_since)

    def _arm_panel_timer(self, since: int) -> None:
        seconds = self.settings.number("panel.timeout")
        if seconds > 0:
            self._panel_timer = self.timers.call_at(
                since + seconds * SECOND, self._panel_timeout, label="panel-timeout"
            )

    def _cancel_panel_timer(self) -> None:
        self._panel_armed = False

    def _panel_timeout(self) -> None:
        self._panel_timer = None
        if not self._panel_armed:
            return
        seconds = self.settings.number("panel.timeout")
        if seconds <= 0:
            return
        if self.clock.now < self._panel_since + seconds * SECOND:
            return self._arm_panel_timer(self._panel_since)  # a key came since
        self._panel_armed = False
        self.log.emit("firmware", "panel_timeout", state=self.state)
        self.go_home()
