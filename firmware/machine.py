"""The firmware's main state machine: power, standby and the three modes, entry, menus, jobs.

Built with `transitions` (hierarchical, states separated by "."). The state says which screen the
operator is on; a `Screen` object for that state takes the keys (`key_<NAME>` methods, gathered
by name). Jobs (copy, fax, e-mail) are features that plug in (`firmware.features`); while one runs
the state is `job` and the LCD shows the job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from transitions.extensions import HierarchicalMachine
from transitions.extensions.nesting import NestedState

from estudio190f.hw.board import Board
from estudio190f.hw.clock import MS, SECOND, Timer

from .directory import Directory, Entry
from .entry import DIAL_KEYS, NumberEntry, TextEntry
from .features import Features
from .journal import Journal
from .settings import EMAIL_RE, Settings

MODES = ("fax", "copy", "scan")
MESSAGE_TIME = 2 * SECOND  # COMPLETED and other notices (sister model: COMPLETED shown 2 s)
OVERLAY_TIME = 2 * SECOND
BOOT_TIME = 3 * SECOND
WARMUP_POLL = 500 * MS
NVRAM_NOTICE_TIME = 5 * SECOND
RESOLUTIONS = ("standard", "fine", "superfine", "photo")
CONTRASTS = ("normal", "dark", "light")  # the CONTRAST key steps in this order
RESOLUTION_LABEL = {
    "standard": "STANDARD",
    "fine": "FINE",
    "superfine": "SUPER FINE",
    "photo": "PHOTO",
}


class FirmwareState(NestedState):
    separator = "."


class FirmwareStateMachine(HierarchicalMachine):
    state_cls = FirmwareState


STATES: list[Any] = [
    "off",
    "booting",
    {"name": "standby", "children": list(MODES)},
    {"name": "dial", "children": ["number", "speed_dial"]},
    "copies",
    "address",
    {"name": "menu", "children": ["browse", "edit", "code"]},
    {"name": "service", "children": ["browse", "test"]},
    {
        "name": "job",
        "children": ["copy", "fax_send", "fax_receive", "scan_email", "print", "report"],
    },
    "message",
]

_ACTIVE = ["booting", "standby", "dial", "copies", "address", "menu", "service", "job", "message"]
_ENTRY = ["dial", "copies", "address"]

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "power_lost", "source": "*", "dest": "off"},
    {"trigger": "power_up", "source": "off", "dest": "booting"},
    *(
        {"trigger": "home", "source": _ACTIVE, "dest": f"standby.{m}", "conditions": f"mode_is_{m}"}
        for m in MODES
    ),
    *({"trigger": f"select_{m}", "source": "standby", "dest": f"standby.{m}"} for m in MODES),
    {"trigger": "start_dial", "source": ["standby.fax", "dial"], "dest": "dial.number"},
    {
        "trigger": "start_speed_dial",
        "source": ["standby", "dial", "address"],
        "dest": "dial.speed_dial",
    },
    {"trigger": "start_copies", "source": "standby.copy", "dest": "copies"},
    {"trigger": "start_address", "source": ["standby.scan", "dial.speed_dial"], "dest": "address"},
    {"trigger": "open_menu", "source": "standby", "dest": "menu.browse"},
    {"trigger": "edit_item", "source": "menu", "dest": "menu.edit"},
    {"trigger": "browse", "source": ["menu", "message"], "dest": "menu.browse"},
    {"trigger": "enter_code", "source": "menu.browse", "dest": "menu.code"},
    {"trigger": "open_service", "source": "menu.code", "dest": "service.browse"},
    {"trigger": "service_test", "source": "service", "dest": "service.test"},
    {"trigger": "service_menu", "source": ["service", "message"], "dest": "service.browse"},
    *(
        {"trigger": f"begin_{j}", "source": [*_ACTIVE[1:]], "dest": f"job.{j}"}
        for j in ["copy", "fax_send", "fax_receive", "scan_email", "print", "report"]
    ),
    {"trigger": "show_notice", "source": _ACTIVE, "dest": "message"},
    {"trigger": "resume_edit", "source": "message", "dest": "menu.edit"},
    {"trigger": "resume_entry_dial", "source": "message", "dest": "dial.number"},
    {"trigger": "resume_entry_copies", "source": "message", "dest": "copies"},
    {"trigger": "resume_entry_address", "source": "message", "dest": "address"},
]


def _gather(obj: object) -> dict[str, Callable[[], Any]]:
    return {
        name[4:]: getattr(obj, name)
        for name in dir(obj)
        if name.startswith("key_") and callable(getattr(obj, name))
    }


class Screen:
    """Takes the keys while its state is current. `key_<NAME>` handles one key; `key_any` the rest."""

    takes_timeout = False

    def __init__(self, fw: Firmware) -> None:
        self.fw = fw
        self._handlers = _gather(self)

    def render(self) -> None:
        pass

    def key(self, key: str) -> None:
        handler = self._handlers.get(key)
        if handler is not None:
            handler()
        elif not self.key_any(key):
            self.fw.beep(key)

    def key_any(self, key: str) -> bool:
        return False

    def entry_info(self) -> tuple[str, bool] | None:
        """What `type` enters here: ("digits", False), ("text", lower_case) or None."""
        return None


class StandbyScreen(Screen):
    def render(self) -> None:
        fw = self.fw
        alert = fw.alert_text()
        fw.lcd.show(fw.clock_text(), alert or fw.ready_text())

    def key_FAX(self) -> None:
        self.fw.set_mode("fax")

    def key_COPY(self) -> None:
        self.fw.set_mode("copy")

    def key_SCAN(self) -> None:
        self.fw.set_mode("scan")

    def key_FUNCTION(self) -> None:
        self.fw.open_menu_screen()

    def key_RESOLUTION(self) -> None:
        self.fw.cycle_resolution()

    def key_CONTRAST(self) -> None:
        self.fw.cycle_contrast()

    def key_STOP(self) -> None:
        fw = self.fw
        fw.job_resolution = fw.job_contrast = None
        stopper = fw.features.get("stop_background")
        if stopper is not None:
            stopper.run()
        fw.render()

    def key_START(self) -> None:
        fw = self.fw
        if fw.mode == "copy":
            fw.run_feature("copy", copies=1)
        elif fw.mode == "fax":
            # START with no number: manual reception of a ringing call (TEL mode), if any.
            if "fax_receive" in fw.features:
                fw.run_feature("fax_receive", manual=True)
            else:
                fw.notice("ENTER FAX NUMBER", "")
        else:
            fw.notice("ENTER ADDRESS", "")

    def key_REDIAL_PAUSE(self) -> None:
        fw = self.fw
        if fw.mode != "fax":
            return fw.beep("REDIAL_PAUSE")
        if not fw.last_number:
            return fw.notice("REDIAL", "NO NUMBER")
        fw.open_dial(fw.last_number, "REDIAL")

    def key_SPEED_DIAL(self) -> None:
        if self.fw.mode == "copy":
            return self.fw.beep("SPEED_DIAL")
        self.fw.open_speed_dial()

    def key_MONITOR(self) -> None:
        if self.fw.mode != "fax":
            return self.fw.beep("MONITOR")
        self.fw.run_feature("fax_monitor")

    def key_any(self, key: str) -> bool:
        fw = self.fw
        if key.startswith("ONE_TOUCH_"):
            fw.recall_one_touch(int(key[-2:]))
            return True
        if key in DIAL_KEYS:
            if fw.mode == "fax":
                fw.open_dial(key)
            elif fw.mode == "copy":
                if key.isdigit():
                    fw.open_copies(key)
                else:
                    return False
            else:
                fw.open_address(typed_key=key)
            return True
        return False


class EntryScreen(Screen):
    """A screen where the operator enters something for a job: STOP abandons it, RESOLUTION and
    CONTRAST still work, and the panel timeout applies."""

    takes_timeout = True

    def key_STOP(self) -> None:
        self.fw.go_home()

    def key_RESOLUTION(self) -> None:
        self.fw.cycle_resolution()

    def key_CONTRAST(self) -> None:
        self.fw.cycle_contrast()


class DestinationScreen(EntryScreen):
    """Entry of destinations (fax numbers or e-mail addresses): SET adds the one shown to a list and
    starts the next (broadcast), CLEAR on an empty entry takes the last one back, START runs the
    feature for all of them. Recalled directory entries show their name on line 1."""

    feature = ""
    resume_trigger = ""

    def __init__(self, fw: Firmware) -> None:
        super().__init__(fw)
        self.items: list[str] = []
        self.title = ""
        self.entry: NumberEntry | TextEntry = self.new_entry()

    def new_entry(self, value: str = "") -> NumberEntry | TextEntry:
        raise NotImplementedError

    def heading(self) -> str:
        raise NotImplementedError

    def render(self) -> None:
        self.fw.lcd.show(self.title or self.heading(), self.entry.render())

    def take(self, value: str, title: str) -> None:
        """A recalled destination: the one being entered joins the list, this one is shown."""
        if self.entry.value:
            self.items.append(self.entry.value)
        self.entry = self.new_entry(value)
        if isinstance(self.entry, TextEntry):
            self.entry.fix()
        self.title = title
        self.render()

    def refuse(self, line1: str, line2: str = "") -> None:
        self.fw.notice(line1, line2, then=self.fw.resumer(self, self.resume_trigger))

    def destinations(self) -> list[str]:
        if isinstance(self.entry, TextEntry):
            self.entry.fix()
        return [*self.items, *([self.entry.value] if self.entry.value else [])]

    def key_CLEAR(self) -> None:
        if not self.entry.value:
            if self.items:
                self.entry = self.new_entry(self.items.pop())
                return self.render()
            return self.fw.go_home()
        self.title = ""
        self.entry.key("CLEAR")
        self.render()

    def key_SET(self) -> None:
        value = self.destinations()
        if self.entry.value:
            self.items = value
            self.entry = self.new_entry()
            self.title = ""
        self.render()

    def key_SPEED_DIAL(self) -> None:
        self.fw.open_speed_dial()

    def key_START(self) -> None:
        targets = self.destinations()
        if not targets:
            return self.fw.beep("START")
        self.start(targets)

    def start(self, targets: list[str]) -> None:
        raise NotImplementedError


class DialScreen(DestinationScreen):
    """Number entry in FAX mode."""

    feature = "fax_send"
    resume_trigger = "resume_entry_dial"

    def new_entry(self, value: str = "") -> NumberEntry:
        return NumberEntry(value, max_len=32, allow_pause=True)

    @property
    def numbers(self) -> list[str]:
        return self.items

    # Send options chosen with FUNCTION (feature "fax_options": delayed TX, polling): they go to
    # the send feature with the numbers, and line 1 names them.
    options: dict[str, Any] = {}
    option_label = ""

    def reset(self, value: str = "", title: str = "") -> None:
        self.entry = self.new_entry(value)
        self.items = []
        self.title = title
        self.options = {}
        self.option_label = ""

    def entry_info(self) -> tuple[str, bool] | None:
        return ("digits", False)

    def heading(self) -> str:
        if self.option_label:
            return self.option_label
        return f"BROADCAST {len(self.items) + 1:02d}" if self.items else "FAX NUMBER"

    def key_FUNCTION(self) -> None:
        self.fw.run_feature("fax_options", dial=self)

    def key_any(self, key: str) -> bool:
        if key in DIAL_KEYS or key == "REDIAL_PAUSE":
            self.title = ""
            self.entry.key(key)
            self.render()
            return True
        if key.startswith("ONE_TOUCH_"):
            self.add_entry(self.fw.directory.get("one_touch", int(key[-2:])))
            return True
        return False

    def add_entry(self, entry: Entry | None) -> None:
        if entry is None or entry.fax is None:
            return self.refuse("NOT REGISTERED")
        self.take(entry.fax, entry.name or entry.label)

    def start(self, targets: list[str]) -> None:
        self.fw.last_number = targets[-1]
        self.fw.run_feature("fax_send", numbers=targets, **self.options)


class SpeedDialScreen(Screen):
    """SPEED_DIAL then three digits recalls an entry."""

    takes_timeout = True

    def __init__(self, fw: Firmware) -> None:
        super().__init__(fw)
        self.entry = NumberEntry(max_len=3, keys="0123456789")
        self.back_to: DialScreen | AddressScreen | None = None

    def entry_info(self) -> tuple[str, bool] | None:
        return ("digits", False)

    def render(self) -> None:
        self.fw.lcd.show("SPEED DIAL", f"NO.(001-100): {self.entry.value}")

    def key_any(self, key: str) -> bool:
        if key.isdigit() and len(key) == 1:
            self.entry.key(key)
            if len(self.entry.value) == 3:
                self.recall(int(self.entry.value))
            else:
                self.render()
            return True
        return False

    def recall(self, slot: int) -> None:
        fw = self.fw
        entry = fw.directory.get("speed_dial", slot) if 1 <= slot <= 100 else None
        target = self.back_to
        if entry is None:
            self.entry = NumberEntry(max_len=3, keys="0123456789")
            return fw.notice("NOT REGISTERED", f"SPEED DIAL {slot:03d}", then=self._resume)
        if fw.mode == "scan" or isinstance(target, AddressScreen):
            if entry.email is None:
                self.entry = NumberEntry(max_len=3, keys="0123456789")
                return fw.notice("NO E-MAIL ADDRESS", entry.name, then=self._resume)
            fw.open_address(entry=entry, keep=isinstance(target, AddressScreen))
        else:
            if entry.fax is None:
                self.entry = NumberEntry(max_len=3, keys="0123456789")
                return fw.notice("NO FAX NUMBER", entry.name, then=self._resume)
            if isinstance(target, DialScreen):
                fw.activate(target, "start_dial")
                target.add_entry(entry)
            else:
                fw.open_dial(entry.fax, entry.name or entry.label)

    def _resume(self) -> None:
        if self.back_to is not None:
            trigger = (
                "resume_entry_dial"
                if isinstance(self.back_to, DialScreen)
                else "resume_entry_address"
            )
            if self.fw.state == "message":
                self.fw.activate(self.back_to, trigger)
            else:
                self.fw.activate(
                    self.back_to, "start_dial" if trigger.endswith("dial") else "start_address"
                )
        else:
            self.fw.go_home()

    def key_CLEAR(self) -> None:
        if not self.entry.value:
            return self._resume()
        self.entry.key("CLEAR")
        self.render()

    def key_STOP(self) -> None:
        self.fw.go_home()


class CopiesScreen(EntryScreen):
    def __init__(self, fw: Firmware) -> None:
        super().__init__(fw)
        self.entry = NumberEntry(max_len=2, keys="0123456789")

    def entry_info(self) -> tuple[str, bool] | None:
        return ("digits", False)

    def render(self) -> None:
        self.fw.lcd.show("NO. OF COPIES", self.entry.value or "")

    def key_any(self, key: str) -> bool:
        if key.isdigit() and len(key) == 1:
            self.entry.key(key)
            self.render()
            return True
        return False

    def key_CLEAR(self) -> None:
        if not self.entry.value:
            return self.fw.go_home()
        self.entry.key("CLEAR")
        self.render()

    def key_START(self) -> None:
        count = int(self.entry.value or "1")
        if not 1 <= count <= 99:
            self.entry = NumberEntry(max_len=2, keys="0123456789")
            then = self.fw.resumer(self, "resume_entry_copies")
            return self.fw.notice("NO. OF COPIES", "OUT OF RANGE 1-99", then=then)
        self.fw.run_feature("copy", copies=count)


class AddressScreen(DestinationScreen):
    """An e-mail address typed on the keypad (multi-tap), or recalled."""

    feature = "scan_email"
    resume_trigger = "resume_entry_address"

    def new_entry(self, value: str = "") -> TextEntry:
        return TextEntry(self.fw.clock, value, max_len=63, lower=True)

    @property
    def addresses(self) -> list[str]:
        return self.items

    def reset(self) -> None:
        self.entry = self.new_entry()
        self.items = []
        self.title = ""

    def entry_info(self) -> tuple[str, bool] | None:
        assert isinstance(self.entry, TextEntry)
        return ("text", self.entry.lower)

    def heading(self) -> str:
        assert isinstance(self.entry, TextEntry)
        count = f" {len(self.items) + 1}" if self.items else ""
        return f"E-MAIL{count}".ljust(16) + self.entry.case_label

    def key_any(self, key: str) -> bool:
        if key.startswith("ONE_TOUCH_"):
            entry = self.fw.directory.get("one_touch", int(key[-2:]))
            if entry is None or entry.email is None:
                self.refuse("NO E-MAIL ADDRESS")
            else:
                self.add(entry)
            return True
        if self.entry.key(key):
            self.title = ""
            self.render()
            return True
        return False

    def add(self, entry: Entry) -> None:
        self.take(entry.email or "", entry.name or entry.label)

    def start(self, targets: list[str]) -> None:
        bad = [a for a in targets if not EMAIL_RE.fullmatch(a)]
        if bad:
            return self.refuse("INVALID ADDRESS", bad[0])
        self.fw.run_feature("scan_email", addresses=targets)


class MessageScreen(Screen):
    """A notice shown for a while; any key ends it early."""

    def __init__(self, fw: Firmware) -> None:
        super().__init__(fw)
        self.lines = ("", "")
        self.then: Callable[[], Any] | None = None
        self.timer: Timer | None = None

    def render(self) -> None:
        self.fw.lcd.show(*self.lines)

    def finish(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        then, self.then = self.then, None
        if then is not None:
            then()
        else:
            self.fw.go_home()

    def key(self, key: str) -> None:
        self.finish()
        if key != "STOP" and not key.startswith("ONE_TOUCH"):
            screen = self.fw.screen
            if screen is not self:
                screen.key(key)


class JobScreen(Screen):
    """While a job runs the LCD shows it; STOP cancels it."""

    def __init__(self, fw: Firmware) -> None:
        super().__init__(fw)
        self.job: JobHandle | None = None

    def render(self) -> None:
        if self.job is not None:
            self.fw.lcd.show(*self.job.lines)

    def key_STOP(self) -> None:
        if self.job is not None and self.job.on_stop is not None:
            self.job.on_stop()

    def key_any(self, key: str) -> bool:
        if self.job is not None and self.job.on_key is not None:
            return bool(self.job.on_key(key))
        return False


class JobHandle:
    """What a feature gets back from `Firmware.begin_job`: its window on the LCD."""

    def __init__(
        self,
        fw: Firmware,
        kind: str,
        on_stop: Callable[[], Any] | None,
        on_key: Callable[[str], Any] | None,
    ) -> None:
        self.fw = fw
        self.kind = kind
        self.on_stop = on_stop
        self.on_key = on_key
        self.lines: tuple[str, str] = ("", "")
        self.substate = ""
        self.active = True

    def show(self, line1: str, line2: str = "") -> None:
        self.lines = (line1, line2)
        if self.active and self.fw.job is self:
            self.fw.lcd.show(line1, line2)

    def set_state(self, substate: str) -> None:
        self.substate = substate

    def finish(
        self,
        line1: str = "",
        line2: str = "",
        duration: int = MESSAGE_TIME,
        then: Callable[[], Any] | None = None,
    ) -> None:
        if not self.active:
            return
        self.active = False
        fw = self.fw
        if fw.job is self:
            fw.job = None
            fw.job_resolution = fw.job_contrast = None
            if line1 or line2:
                fw.notice(line1, line2, duration=duration, then=then)
            elif fw.powered:
                fw.go_home()


class Firmware:
    """The e-STUDIO190F control program on one board."""

    # Bound by `transitions` from STATES and TRANSITIONS (declared here for type checkers).
    state: str
    trigger: Callable[..., bool]
    home: Callable[[], bool]
    power_up: Callable[[], bool]
    power_lost: Callable[[], bool]

    def __init__(self, board: Board) -> None:
        self.board = board
        self.clock = board.clock
        self.log = board.log
        self.lcd = board.panel.lcd
        self.leds = board.panel.leds
        self.timers = board.timers
        self.settings = Settings(board.nvram)
        self.directory = Directory(board.nvram)
        self.journal = Journal(board.nvram, self.clock_text)
        self.features = Features()
        self.mode = "fax"
        self.last_number = ""
        self.job_resolution: str | None = None
        self.job_contrast: str | None = None
        self.alerts: dict[str, str] = {}
        self.job: JobHandle | None = None
        self.boot_hooks: list[Callable[[], None]] = []
        self.power_off_hooks: list[Callable[[], None]] = []
        self.memory_clear_hooks: list[Callable[[], None]] = []
        # What standby adds after READY on line 2 (e.g. the fax jobs' "REDIAL"): first non-empty.
        self.standby_notes: list[Callable[[], str]] = []
        self._indicator_sources: dict[tuple[str, str], str] = {}
        self.paper: Any = None  # firmware.copy_job.PaperHandling
        self.email: Any = None  # firmware.email.scan_to_email.ScanToEmail
        self.fax: Any = None
        self.key_listeners: list[Callable[[str], None]] = []  # service key test, recorders
        self.state = "off"
        self.machine = FirmwareStateMachine(
            model=self, states=STATES, transitions=TRANSITIONS, initial="off",
            auto_transitions=False, after_state_change=self._state_changed,
        )  # fmt: skip
        self.standby = StandbyScreen(self)
        self.dial = DialScreen(self)
        self.speed_dial = SpeedDialScreen(self)
        self.copies = CopiesScreen(self)
        self.address = AddressScreen(self)
        self.message = MessageScreen(self)
        self.job_screen = JobScreen(self)
        from .menu import MenuScreen
        from .service import ServiceScreen

        self.menu = MenuScreen(self)
        self.service = ServiceScreen(self)
        self.screen: Screen = self.standby
        self._overlay_timer: Timer | None = None
        self._panel_timer: Timer | None = None
        self._minute_timer: Timer | None = None
        board.panel.keys.listeners.append(self._on_key)
        board.power_listeners.append(self._on_power)
        from .assembly import install

        install(self)

    # -- conditions used by the transition table ------------------------------------------
    def mode_is_fax(self) -> bool:
        return self.mode == "fax"

    def mode_is_copy(self) -> bool:
        return self.mode == "copy"

    def mode_is_scan(self) -> bool:
        return self.mode == "scan"

    # -- power ----------------------------------------------------------------------------
    @property
    def powered(self) -> bool:
        return self.board.powered

    def _on_power(self, on: bool) -> None:
        if on:
            self._boot()
        else:
            for hook in list(self.power_off_hooks):
                hook()
            if self.job is not None:
                self.job.active = False
                self.job = None
            self._overlay_timer = self._panel_timer = self._minute_timer = None
            self.message.timer = None
            self.message.then = None
            self.power_lost()
            self.lcd.clear()
            for led in self.leds.values():
                led.set("off")

    def _boot(self) -> None:
        self.power_up()
        self.mode = "fax"
        self.job_resolution = self.job_contrast = None
        self.lcd.show("E-STUDIO190F", "PLEASE WAIT")
        self.timers.call_later(BOOT_TIME, self._booted, label="boot")

    def _booted(self) -> None:
        printer = self.board.printer
        if printer is not None and not printer.warmed_up:
            # The fuser warms up: PLEASE WAIT stays until the printer is ready.
            self.timers.call_later(WARMUP_POLL, self._booted, label="warm-up")
            return
        self._schedule_minute()
        self.restore_leds()
        nvram = self.board.nvram
        if nvram.reset_reason:
            reason = nvram.reset_reason
            nvram.reset_reason = None
            self.log.emit("nvram", "reset", reason=reason, moved_to=str(nvram.moved_to or ""))
            self.journal.add("SYSTEM", result="NVRAM RESET", detail={"reason": reason})
            self.screen = self.standby
            self.home()
            self.notice("NVRAM RESET", "FACTORY DEFAULTS", duration=NVRAM_NOTICE_TIME)
        else:
            self.screen = self.standby
            self.home()
            self.render()
        self.log.emit("firmware", "ready")
        for hook in list(self.boot_hooks):
            hook()

    # -- state bookkeeping ----------------------------------------------------------------
    def _state_changed(self, *args: Any, **kwargs: Any) -> None:
        self.log.emit("firmware", "state", state=self.state)

    def state_path(self) -> str:
        if self.state.startswith("job") and self.job is not None and self.job.substate:
            return f"{self.state}/{self.job.substate}"
        return self.state

    def activate(self, screen: Screen, trigger: str) -> None:
        """Make `screen` current through the named transition, then draw it."""
        self.screen = screen
        self.trigger(trigger)
        self._restart_panel_timer()
        screen.render()

    def resumer(self, screen: Screen, trigger: str) -> Callable[[], None]:
        """A `then` for a notice: go back to `screen` through `trigger`."""
        return lambda: self.activate(screen, trigger)

    def render(self) -> None:
        if self._overlay_timer is not None:
            return
        self.screen.render()

    def go_home(self) -> None:
        if not self.powered or self.state in ("off", "booting"):
            return
        self.screen = self.standby
        self.home()
        self._cancel_panel_timer()
        self.render()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.trigger(f"select_{mode}")
        self._mode_leds()
        self.render()

    def _mode_leds(self) -> None:
        for m in MODES:
            self.leds[m.upper()].set("on" if m == self.mode else "off")

    def set_indicator(self, name: str, state: str, source: str = "") -> None:
        """MEMORY (documents in memory) and LINE (line in use), set by the jobs. Several sources
        may hold one LED: it shows the strongest (on, then blink, then off)."""
        self._indicator_sources[(name, source)] = state
        if self.powered and self.state != "off":
            self.leds[name].set(self.indicator(name))

    def indicator(self, name: str) -> str:
        held = [s for (n, _), s in self._indicator_sources.items() if n == name]
        return "on" if "on" in held else ("blink" if "blink" in held else "off")

    def restore_leds(self) -> None:
        self._mode_leds()
        self.leds["ALARM"].set("on" if self.alerts else "off")
        for name in ("MEMORY", "LINE"):
            self.leds[name].set(self.indicator(name))

    def clear_memory(self) -> None:
        """Service mode MEMORY CLEAR: documents in memory, queued mail and the journal."""
        for hook in list(self.memory_clear_hooks):
            hook()
        self.journal.clear()
        self.log.emit("firmware", "memory_clear")

    # -- screens --------------------------------------------------------------------------
    def open_dial(self, first: str = "", title: str = "") -> None:
        self.dial.reset(first, title)
        self.activate(self.dial, "start_dial")

    def open_speed_dial(self) -> None:
        sd = self.speed_dial
        sd.entry = NumberEntry(max_len=3, keys="0123456789")
        sd.back_to = self.screen if isinstance(self.screen, (DialScreen, AddressScreen)) else None
        self.activate(sd, "start_speed_dial")

    def open_copies(self, first: str) -> None:
        self.copies.entry = NumberEntry(first, max_len=2, keys="0123456789")
        self.activate(self.copies, "start_copies")

    def open_address(
        self, typed_key: str | None = None, entry: Entry | None = None, keep: bool = False
    ) -> None:
        if not keep:
            self.address.reset()
        self.screen = self.address
        self.trigger("start_address")
        self._restart_panel_timer()
        if entry is not None:
            self.address.add(entry)
        elif typed_key is not None:
            self.address.key(typed_key)
        else:
            self.address.render()

    def open_menu_screen(self) -> None:
        self.menu.open()

    def recall_one_touch(self, slot: int) -> None:
        entry = self.directory.get("one_touch", slot)
        if entry is None:
            return self.notice("NOT REGISTERED", f"ONE-TOUCH {slot:02d}")
        if self.mode == "scan":
            if entry.email is None:
                return self.notice("NO E-MAIL ADDRESS", entry.name)
            return self.open_address(entry=entry)
        if self.mode == "copy":
            return self.beep(f"ONE_TOUCH_{slot:02d}")
        if entry.fax is None:
            return self.notice("NO FAX NUMBER", entry.name)
        self.open_dial(entry.fax, entry.name or entry.label)
        if self.documents_waiting():
            self.dial.key_START()

    def documents_waiting(self) -> bool:
        feeder = self.board.feeder
        return bool(feeder is not None and getattr(feeder, "document_set", False))

    # -- notices, overlays, beeps ---------------------------------------------------------
    def notice(
        self,
        line1: str,
        line2: str = "",
        duration: int = MESSAGE_TIME,
        then: Callable[[], Any] | None = None,
    ) -> None:
        """Show a message for `duration`, then run `then` (default: back to standby)."""
        if not self.powered or self.state in ("off", "booting"):
            return
        self._cancel_overlay()
        msg = self.message
        if msg.timer is not None:
            msg.timer.cancel()
        msg.lines = (line1, line2)
        msg.then = then
        self.screen = msg
        self.trigger("show_notice")
        self._cancel_panel_timer()
        msg.render()
        msg.timer = self.timers.call_later(duration, msg.finish, label="notice")

    def overlay(self, line1: str, line2: str) -> None:
        """Show something for a moment without leaving the current screen (RESOLUTION, CONTRAST)."""
        self._cancel_overlay()
        self.lcd.show(line1, line2)
        self._overlay_timer = self.timers.call_later(
            OVERLAY_TIME, self._end_overlay, label="overlay"
        )

    def _end_overlay(self) -> None:
        self._overlay_timer = None
        self.render()

    def _cancel_overlay(self) -> None:
        if self._overlay_timer is not None:
            self._overlay_timer.cancel()
            self._overlay_timer = None

    def beep(self, key: str) -> None:
        self.log.emit("firmware", "beep", key=key, state=self.state)

    # -- resolution and contrast for the next job -------------------------------------------
    @property
    def resolution(self) -> str:
        return self.job_resolution or str(self.settings.get("scan.resolution"))

    @property
    def contrast(self) -> str:
        return self.job_contrast or str(self.settings.get("scan.contrast"))

    def cycle_resolution(self) -> None:
        showing = self._overlay_timer is not None and self.lcd.lines[0].startswith("RESOLUTION")
        if showing:
            current = RESOLUTIONS.index(self.resolution)
            self.job_resolution = RESOLUTIONS[(current + 1) % len(RESOLUTIONS)]
        self.overlay("RESOLUTION", RESOLUTION_LABEL[self.resolution])

    def cycle_contrast(self) -> None:
        showing = self._overlay_timer is not None and self.lcd.lines[0].startswith("CONTRAST")
        if showing:
            current = CONTRASTS.index(self.contrast)
            self.job_contrast = CONTRASTS[(current + 1) % len(CONTRASTS)]
        self.overlay("CONTRAST", self.contrast.upper())

    # -- features and jobs -----------------------------------------------------------------
    def run_feature(self, name: str, **kwargs: Any) -> Any:
        feature = self.features.get(name)
        if feature is None:
            self.log.emit("firmware", "feature_missing", feature=name)
            return self.notice(self.features.missing_title(name), "NOT AVAILABLE")
        kwargs.setdefault("resolution", self.resolution)
        kwargs.setdefault("contrast", self.contrast)
        return feature.run(self, **kwargs)

    def begin_job(
        self,
        kind: str,
        on_stop: Callable[[], Any] | None = None,
        on_key: Callable[[str], Any] | None = None,
    ) -> JobHandle:
        """Put the LCD at a job's disposal (state `job.<kind>`)."""
        self._cancel_overlay()
        if self.message.timer is not None:
            self.message.timer.cancel()
            self.message.timer = None
        handle = JobHandle(self, kind, on_stop, on_key)
        self.job = handle
        self.job_screen.job = handle
        self.screen = self.job_screen
        self.trigger(f"begin_{kind}")
        self._cancel_panel_timer()
        return handle

    # -- alerts (faults needing the operator) -------------------------------------------------
    def set_alert(self, source: str, word: str | None) -> None:
        """A fault that needs the operator: shown in standby, ALARM LED on while any is set."""
        if word is None:
            if self.alerts.pop(source, None) is None:
                return
        else:
            if self.alerts.get(source) == word:
                return
            self.alerts[source] = word
        self.leds["ALARM"].set("on" if self.alerts else "off")
        if self.state.startswith("standby"):
            self.render()

    def alert_text(self) -> str:
        return next(iter(self.alerts.values()), "")

    def ready_text(self) -> str:
        """Standby's line 2: `FAX READY`, with a note right-aligned when a feature has one."""
        ready = f"{self.mode.upper()} READY"
        note = next((n for n in (fn() for fn in self.standby_notes) if n), "")
        if note and len(ready) + 1 + len(note) <= 20:
            return ready + note.rjust(20 - len(ready))
        return ready

    # -- clock ------------------------------------------------------------------------------
    def clock_text(self) -> str:
        return self.board.rtc.now().strftime("%m-%d-%Y %H:%M")

    def set_clock(self, when: Any) -> None:
        self.board.rtc.set(when)
        self.log.emit("firmware", "clock_set", when=when.strftime("%Y-%m-%d %H:%M"))
        self._schedule_minute()
        if self.state.startswith("standby"):
            self.render()

    def _schedule_minute(self) -> None:
        if self._minute_timer is not None:
            self._minute_timer.cancel()
        if not self.powered:
            return
        now = self.board.rtc.now()
        into_minute = (now.second * SECOND + now.microsecond) // 1
        delay = 60 * SECOND - into_minute
        self._minute_timer = self.timers.call_later(delay, self._minute_tick, label="minute")

    def _minute_tick(self) -> None:
        self._minute_timer = None
        if self.state.startswith("standby") and self._overlay_timer is None:
            self.render()
        self._schedule_minute()

    # -- keys -------------------------------------------------------------------------------
    def _on_key(self, key: str, down: bool) -> None:
        if not down or not self.powered or self.state in ("off", "booting"):
            return
        for listener in list(self.key_listeners):
            listener(key)
        self._restart_panel_timer()
        self._cancel_overlay_for(key)
        self.screen.key(key)

    def _cancel_overlay_for(self, key: str) -> None:
        if self._overlay_timer is None:
            return
        if key in ("RESOLUTION", "CONTRAST"):
            return
        self._cancel_overlay()
        self.render()

    def _restart_panel_timer(self) -> None:
        self._cancel_panel_timer()
        if not self.screen.takes_timeout:
            return
        seconds = int(self.settings.get("panel.timeout"))
        if seconds > 0:
            self._panel_timer = self.timers.call_later(
                seconds * SECOND, self._panel_timeout, label="panel-timeout"
            )

    def _cancel_panel_timer(self) -> None:
        if self._panel_timer is not None:
            self._panel_timer.cancel()
            self._panel_timer = None

    def _panel_timeout(self) -> None:
        self._panel_timer = None
        self.log.emit("firmware", "panel_timeout", state=self.state)
        self.go_home()

    def entry_info(self) -> tuple[str, bool] | None:
        if not self.powered or self.state in ("off", "booting"):
            return None
        return self.screen.entry_info()


PRESS_TIME = 100 * MS
