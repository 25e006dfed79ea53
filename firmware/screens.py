"""The screens of standby and of entry: what the LCD shows there and what each key does.

Standby (`standby.fax|copy|scan`): the clock and `FAX READY` (or a fault's word); the mode keys;
digits start a fax number, a number of copies or an e-mail address as the mode says; START runs
the mode's job. Entry (`dial.number`, `dial.options`, `dial.speed_dial`, `copies`, `address`):
STOP abandons it, CLEAR deletes the last character, SET adds a destination to a broadcast list,
START runs the job for every destination. `PanelScreens` builds them all (with the FUNCTION menu
and service mode) and registers each with the control panel for its state.
"""

from __future__ import annotations

from .control_panel import Screen
from .directory import Entry
from .entry import DIAL_KEYS, DIGITS, EntryMode, NumberEntry, TextEntry
from .fax.service import SendOptions
from .menu import MenuScreen
from .service import ServiceScreen
from .services import Services
from .settings import EMAIL_RE, SPEED_DIAL_SLOTS


class PanelScreens:
    """Every screen of the panel, registered for its state."""

    def __init__(self, services: Services) -> None:
        self.standby = StandbyScreen(self, services)
        self.dial = DialScreen(self, services)
        self.options = SendOptionsScreen(self, services)
        self.speed_dial = SpeedDialScreen(self, services)
        self.copies = CopiesScreen(self, services)
        self.address = AddressScreen(self, services)
        self.service = ServiceScreen(services)
        self.menu = MenuScreen(services, self.service)
        for screen in (self.standby, self.dial, self.options, self.speed_dial, self.copies,
                       self.address, self.service, self.menu):  # fmt: skip
            services.panel.register(screen)

    # -- opening entry screens ------------------------------------------------------------------
    def open_dial(self, first: str = "", title: str = "") -> None:
        self.dial.reset(first, title)
        self.dial.panel.fire("start_dial")

    def open_speed_dial(self, back_to: DestinationScreen | None) -> None:
        self.speed_dial.reset(back_to)
        self.speed_dial.panel.fire("start_speed_dial")

    def open_copies(self, first: str) -> None:
        self.copies.entry = NumberEntry(first, max_len=2, keys=DIGITS)
        self.copies.panel.fire("start_copies")

    def open_address(self, typed_key: str | None = None, entry: Entry | None = None,
                     keep: bool = False) -> None:  # fmt: skip
        address = self.address
        if not keep:
            address.reset()
        address.panel.fire("start_address")
        if entry is not None:
            address.add(entry)
        elif typed_key is not None:
            address.key(typed_key)


class PanelScreen(Screen):
    """A screen of this module: it reaches the units and the other screens."""

    def __init__(self, screens: PanelScreens, services: Services) -> None:
        super().__init__(services.panel)
        self.screens = screens
        self.s = services


class StandbyScreen(PanelScreen):
    state = "standby"

    def lines(self) -> tuple[str, str]:
        panel = self.panel
        return panel.clock_text(), panel.alert_text() or self.ready_text()

    def ready_text(self) -> str:
        """`FAX READY`, with a note right-aligned while transmissions wait (REDIAL, MEM TX)."""
        ready = f"{self.panel.mode.upper()} READY"
        note = self.s.fax.standby_note()
        if note and len(ready) + 1 + len(note) <= 20:
            return ready + note.rjust(20 - len(ready))
        return ready

    def entry_mode(self) -> EntryMode | None:
        # The keypad works here as in the entry screens the first key opens.
        mode = self.panel.mode
        if mode == "fax":
            return EntryMode.digits(pause=False)
        if mode == "copy":
            return EntryMode.digits(DIGITS)
        return EntryMode.text(lower=True)

    def key_FAX(self) -> None:
        self.panel.set_mode("fax")

    def key_COPY(self) -> None:
        self.panel.set_mode("copy")

    def key_SCAN(self) -> None:
        self.panel.set_mode("scan")

    def key_FUNCTION(self) -> None:
        self.screens.menu.open()

    def key_RESOLUTION(self) -> None:
        self.panel.cycle_resolution()

    def key_CONTRAST(self) -> None:
        self.panel.cycle_contrast()

    def key_STOP(self) -> None:
        panel = self.panel
        panel.job_resolution = panel.job_contrast = None
        self.s.fax.stop_redials()
        panel.refresh()

    def key_START(self) -> None:
        mode = self.panel.mode
        if mode == "copy":
            self.s.copier.start(copies=1)
        elif mode == "fax":
            # START with no number: manual reception of a ringing call (TEL mode), if any.
            self.s.fax.answer_manually()
        else:
            self.panel.notice("ENTER ADDRESS", "")

    def key_REDIAL_PAUSE(self) -> None:
        panel = self.panel
        if panel.mode != "fax":
            return panel.beep("REDIAL_PAUSE")
        if not self.screens.dial.last_number:
            return panel.notice("REDIAL", "NO NUMBER")
        self.screens.open_dial(self.screens.dial.last_number, "REDIAL")

    def key_SPEED_DIAL(self) -> None:
        if self.panel.mode == "copy":
            return self.panel.beep("SPEED_DIAL")
        self.screens.open_speed_dial(None)

    def key_MONITOR(self) -> None:
        # On-hook dialing needs a line that dials digit by digit as the operator hears it; the
        # line dials a whole number at once, so the key says so.
        if self.panel.mode != "fax":
            return self.panel.beep("MONITOR")
        self.panel.notice("MONITOR", "NOT AVAILABLE")

    def key_any(self, key: str) -> bool:
        mode = self.panel.mode
        if key.startswith("ONE_TOUCH_"):
            self.recall_one_touch(int(key[-2:]))
            return True
        if key not in DIAL_KEYS:
            return False
        if mode == "fax":
            self.screens.open_dial(key)
        elif mode == "copy":
            if not key.isdigit():
                return False
            self.screens.open_copies(key)
        else:
            self.screens.open_address(typed_key=key)
        return True

    def recall_one_touch(self, slot: int) -> None:
        panel = self.panel
        entry = self.s.directory.get("one_touch", slot)
        if entry is None:
            return panel.notice("NOT REGISTERED", f"ONE-TOUCH {slot:02d}")
        if panel.mode == "scan":
            if entry.email is None:
                return panel.notice("NO E-MAIL ADDRESS", entry.name)
            return self.screens.open_address(entry=entry)
        if panel.mode == "copy":
            return panel.beep(f"ONE_TOUCH_{slot:02d}")
        if entry.fax is None:
            return panel.notice("NO FAX NUMBER", entry.name)
        self.screens.open_dial(entry.fax, entry.name or entry.label)
        if self.s.board.feeder.document_set:
            self.screens.dial.key_START()


class EntryScreen(PanelScreen):
    """A screen where the operator enters something for a job: STOP abandons it, RESOLUTION and
    CONTRAST still work, and the panel timeout applies."""

    takes_timeout = True

    def key_STOP(self) -> None:
        self.panel.go_home()

    def key_RESOLUTION(self) -> None:
        self.panel.cycle_resolution()

    def key_CONTRAST(self) -> None:
        self.panel.cycle_contrast()


class DestinationScreen(EntryScreen):
    """Entry of destinations (fax numbers or e-mail addresses): SET adds the one shown to a list and
    starts the next (broadcast), CLEAR on an empty entry takes the last one back, START runs the
    job for all of them. Recalled directory entries show their name on line 1."""

    resume_trigger = ""

    def __init__(self, screens: PanelScreens, services: Services) -> None:
        super().__init__(screens, services)
        self.items: list[str] = []
        self.title = ""
        self.entry: NumberEntry | TextEntry = self.new_entry()

    def new_entry(self, value: str = "") -> NumberEntry | TextEntry:
        raise NotImplementedError

    def heading(self) -> str:
        raise NotImplementedError

    def lines(self) -> tuple[str, str]:
        return self.title or self.heading(), self.entry.render()

    def take(self, value: str, title: str) -> None:
        """A recalled destination: the one being entered joins the list, this one is shown."""
        if self.entry.value:
            self.items.append(self.entry.value)
        self.entry = self.new_entry(value)
        if isinstance(self.entry, TextEntry):
            self.entry.fix()
        self.title = title
        self.panel.refresh()

    def refuse(self, line1: str, line2: str = "") -> None:
        self.panel.notice(line1, line2, then=self.panel.resume(self.resume_trigger))

    def destinations(self) -> list[str]:
        if isinstance(self.entry, TextEntry):
            self.entry.fix()
        return [*self.items, *([self.entry.value] if self.entry.value else [])]

    def key_CLEAR(self) -> None:
        if not self.entry.value:
            if self.items:
                self.entry = self.new_entry(self.items.pop())
                return self.panel.refresh()
            return self.panel.go_home()
        self.title = ""
        self.entry.key("CLEAR")
        self.panel.refresh()

    def key_SET(self) -> None:
        value = self.destinations()
        if self.entry.value:
            self.items = value
            self.entry = self.new_entry()
            self.title = ""
        self.panel.refresh()

    def key_SPEED_DIAL(self) -> None:
        self.screens.open_speed_dial(self)

    def key_START(self) -> None:
        targets = self.destinations()
        if not targets:
            return self.panel.beep("START")
        self.start(targets)

    def start(self, targets: list[str]) -> None:
        raise NotImplementedError


class DialScreen(DestinationScreen):
    """Number entry in FAX mode (state `dial.number`)."""

    state = "dial.number"
    resume_trigger = "start_dial"

    def __init__(self, screens: PanelScreens, services: Services) -> None:
        super().__init__(screens, services)
        self.options = SendOptions()
        self.last_number = ""

    def new_entry(self, value: str = "") -> NumberEntry:
        return NumberEntry(value, max_len=32, allow_pause=True)

    @property
    def numbers(self) -> list[str]:
        return self.items

    def reset(self, value: str = "", title: str = "") -> None:
        self.entry = self.new_entry(value)
        self.items = []
        self.title = title
        self.options = SendOptions()

    def entry_mode(self) -> EntryMode | None:
        return EntryMode.digits(pause=True)

    def heading(self) -> str:
        if self.options.label:
            return self.options.label
        return f"BROADCAST {len(self.items) + 1:02d}" if self.items else "FAX NUMBER"

    def key_FUNCTION(self) -> None:
        self.screens.options.open()

    def key_any(self, key: str) -> bool:
        if key in DIAL_KEYS or key == "REDIAL_PAUSE":
            self.title = ""
            self.entry.key(key)
            self.panel.refresh()
            return True
        if key.startswith("ONE_TOUCH_"):
            self.add_entry(self.s.directory.get("one_touch", int(key[-2:])))
            return True
        return False

    def add_entry(self, entry: Entry | None) -> None:
        if entry is None or entry.fax is None:
            return self.refuse("NOT REGISTERED")
        self.take(entry.fax, entry.name or entry.label)

    def start(self, targets: list[str]) -> None:
        self.last_number = targets[-1]
        self.s.fax.send(targets, self.options)


class SendOptionsScreen(PanelScreen):
    """FUNCTION in number entry (state `dial.options`): 1 DELAYED TX (then HH:MM and SET),
    2 POLLING. SET chooses, STOP or FUNCTION goes back to the number unchanged."""

    state = "dial.options"
    takes_timeout = True
    CHOICES = (("DELAYED TX", "delayed"), ("POLLING", "poll"))

    def __init__(self, screens: PanelScreens, services: Services) -> None:
        super().__init__(screens, services)
        self.step = "choose"
        self.choice = 0
        self.time = ""

    def open(self) -> None:
        self.step, self.choice, self.time = "choose", 0, ""
        self.panel.fire("send_options")

    def entry_mode(self) -> EntryMode | None:
        return EntryMode.digits(DIGITS)

    def lines(self) -> tuple[str, str]:
        if self.step == "choose":
            label = self.CHOICES[self.choice][0]
            return "SEND OPTION", f"{self.choice + 1}:{label}"
        shown = (self.time + "____")[:4]
        return "DELAYED TX", f"TIME: {shown[:2]}:{shown[2:]}"

    def key_any(self, key: str) -> bool:
        if self.step == "choose":
            if key in ("LEFT", "RIGHT"):
                step = 1 if key == "RIGHT" else -1
                self.choice = (self.choice + step) % len(self.CHOICES)
            elif key.isdigit() and 1 <= int(key) <= len(self.CHOICES):
                self.choice = int(key) - 1
                self._chosen()
                return True
            else:
                return False
            self.panel.refresh()
            return True
        if key.isdigit() and len(key) == 1:
            if len(self.time) < 4:
                self.time += key
            self.panel.refresh()
            return True
        return False

    def key_SET(self) -> None:
        if self.step == "choose":
            self._chosen()
            return
        hours, minutes = (
            (int(self.time[:2]), int(self.time[2:])) if len(self.time) == 4 else (99, 99)
        )
        if hours > 23 or minutes > 59:
            self.time = ""
            return self.panel.notice("DELAYED TX", "INVALID TIME",
                                     then=self.panel.resume("send_options"))  # fmt: skip
        self.screens.dial.options = SendOptions(send_at=f"{hours:02d}:{minutes:02d}")
        self._back()

    def key_CLEAR(self) -> None:
        if self.step == "time" and self.time:
            self.time = self.time[:-1]
            self.panel.refresh()
        else:
            self._back()

    def key_STOP(self) -> None:
        self._back()

    def key_FUNCTION(self) -> None:
        self._back()

    def _chosen(self) -> None:
        if self.CHOICES[self.choice][1] == "poll":
            self.screens.dial.options = SendOptions(poll=True)
            return self._back()
        self.step = "time"
        self.panel.refresh()

    def _back(self) -> None:
        self.panel.fire("start_dial")


class SpeedDialScreen(PanelScreen):
    """SPEED_DIAL then three digits recalls an entry (state `dial.speed_dial`)."""

    state = "dial.speed_dial"
    takes_timeout = True

    def __init__(self, screens: PanelScreens, services: Services) -> None:
        super().__init__(screens, services)
        self.entry = NumberEntry(max_len=3, keys=DIGITS)
        self.back_to: DestinationScreen | None = None

    def reset(self, back_to: DestinationScreen | None) -> None:
        self.entry = NumberEntry(max_len=3, keys=DIGITS)
        self.back_to = back_to

    def entry_mode(self) -> EntryMode | None:
        return EntryMode.digits(DIGITS)

    def lines(self) -> tuple[str, str]:
        return "SPEED DIAL", f"NO.(001-{SPEED_DIAL_SLOTS:03d}): {self.entry.value}"

    def key_any(self, key: str) -> bool:
        if key.isdigit() and len(key) == 1:
            self.entry.key(key)
            if len(self.entry.value) == 3:
                self.recall(int(self.entry.value))
            else:
                self.panel.refresh()
            return True
        return False

    def recall(self, slot: int) -> None:
        panel = self.panel
        entry = self.s.directory.get("speed_dial", slot) if 1 <= slot <= SPEED_DIAL_SLOTS else None
        target = self.back_to
        self.entry = NumberEntry(max_len=3, keys=DIGITS)
        if entry is None:
            return panel.notice("NOT REGISTERED", f"SPEED DIAL {slot:03d}", then=self._resume)
        if panel.mode == "scan" or isinstance(target, AddressScreen):
            if entry.email is None:
                return panel.notice("NO E-MAIL ADDRESS", entry.name, then=self._resume)
            self.screens.open_address(entry=entry, keep=isinstance(target, AddressScreen))
        else:
            if entry.fax is None:
                return panel.notice("NO FAX NUMBER", entry.name, then=self._resume)
            if isinstance(target, DialScreen):
                panel.fire("start_dial")
                target.add_entry(entry)
            else:
                self.screens.open_dial(entry.fax, entry.name or entry.label)

    def _resume(self) -> None:
        if isinstance(self.back_to, DialScreen):
            self.panel.fire("start_dial")
        elif isinstance(self.back_to, AddressScreen):
            self.panel.fire("start_address")
        else:
            self.panel.go_home()

    def key_CLEAR(self) -> None:
        if not self.entry.value:
            return self._resume()
        self.entry.key("CLEAR")
        self.panel.refresh()

    def key_STOP(self) -> None:
        self.panel.go_home()


class CopiesScreen(EntryScreen):
    """The number of copies (state `copies`)."""

    state = "copies"

    def __init__(self, screens: PanelScreens, services: Services) -> None:
        super().__init__(screens, services)
        self.entry = NumberEntry(max_len=2, keys=DIGITS)

    def entry_mode(self) -> EntryMode | None:
        return EntryMode.digits(DIGITS)

    def lines(self) -> tuple[str, str]:
        return "NO. OF COPIES", self.entry.value or ""

    def key_any(self, key: str) -> bool:
        if key.isdigit() and len(key) == 1:
            self.entry.key(key)
            self.panel.refresh()
            return True
        return False

    def key_CLEAR(self) -> None:
        if not self.entry.value:
            return self.panel.go_home()
        self.entry.key("CLEAR")
        self.panel.refresh()

    def key_START(self) -> None:
        count = int(self.entry.value or "1")
        if not 1 <= count <= 99:
            self.entry = NumberEntry(max_len=2, keys=DIGITS)
            return self.panel.notice("NO. OF COPIES", "OUT OF RANGE 1-99",
                                     then=self.panel.resume("start_copies"))  # fmt: skip
        self.s.copier.start(copies=count)


class AddressScreen(DestinationScreen):
    """An e-mail address typed on the keypad (multi-tap), or recalled (state `address`)."""

    state = "address"
    resume_trigger = "start_address"

    def new_entry(self, value: str = "") -> TextEntry:
        return TextEntry(self.panel.clock, value, max_len=63, lower=True)

    @property
    def addresses(self) -> list[str]:
        return self.items

    def reset(self) -> None:
        self.entry = self.new_entry()
        self.items = []
        self.title = ""

    def entry_mode(self) -> EntryMode | None:
        assert isinstance(self.entry, TextEntry)
        return EntryMode.text(self.entry.lower)

    def heading(self) -> str:
        assert isinstance(self.entry, TextEntry)
        count = f" {len(self.items) + 1}" if self.items else ""
        return f"E-MAIL{count}".ljust(16) + self.entry.case_label

    def key_any(self, key: str) -> bool:
        if key.startswith("ONE_TOUCH_"):
            entry = self.s.directory.get("one_touch", int(key[-2:]))
            if entry is None or entry.email is None:
                self.refuse("NO E-MAIL ADDRESS")
            else:
                self.add(entry)
            return True
        if self.entry.key(key):
            self.title = ""
            self.panel.refresh()
            return True
        return False

    def add(self, entry: Entry) -> None:
        self.take(entry.email or "", entry.name or entry.label)

    def start(self, targets: list[str]) -> None:
        bad = [a for a in targets if not EMAIL_RE.fullmatch(a)]
        if bad:
            return self.refuse("INVALID ADDRESS", bad[0])
        self.s.email.start(targets)
