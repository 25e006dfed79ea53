"""The FUNCTION menu: numbered choices in the style of the sister model (e-STUDIO170F).

FUNCTION opens it; a digit picks the numbered choice, LEFT/RIGHT step through the choices and
SET opens the one shown; STOP goes back one level. In an editor SET stores the value, the LCD
says COMPLETED for 2 s and the machine returns to standby; a value out of range is refused on the
LCD and nothing is stored. FUNCTION then # 9 9 9 9 enters service mode (docs/service.md).

The tree below is the one declaration the menu, the function-list report and docs/settings.md
read; each leaf names a setting of `firmware.settings` or an action.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from estudio190f.hw.listeners import Listeners
from estudio190f.hw.rtc import RtcRange

from .control_panel import Screen
from .directory import Entry, slots
from .entry import (
    CASE_KEY,
    DIAL_KEYS,
    DIGITS,
    MULTITAP,
    DateTimeEntry,
    EntryMode,
    NumberEntry,
    TextEntry,
)
from .service import ServiceScreen
from .services import Services
from .settings import BY_KEY, EMAIL_RE, Setting, Value
from .version import lcd_pages

SERVICE_CODE = "#9999"

# What a leaf that is not a setting does.
Action = Literal[
    "datetime", "one_touch", "speed_dial", "polling_document", "cancel_files", "journal",
    "function_list", "directory_list", "version", "factory_reset",
]  # fmt: skip


# What each action does, for docs/settings.md.
ACTION_DOC: dict[Action, str] = {
    "datetime": "set the date and time (MM-DD-YYYY HH:MM)",
    "one_touch": "store a one-touch key: slot, name, then a fax number or an e-mail address",
    "speed_dial": "store a speed-dial number: slot, name, then a fax number or an e-mail address",
    "polling_document": "scan the feeder as the document remote machines may poll",
    "cancel_files": "delete every memory file waiting to be sent",
    "journal": "print the activity report",
    "function_list": "print every setting with its value",
    "directory_list": "print the one-touch and speed-dial entries",
    "version": "show the firmware version block",
    "factory_reset": "settings and directory back to the factory defaults (SET=YES)",
}


@dataclass(frozen=True)
class Item:
    label: str
    setting: str | None = None
    action: Action | None = None
    children: tuple[Item, ...] = field(default=())


def S(key: str, label: str | None = None) -> Item:
    return Item(label or BY_KEY[key].label, setting=key)


MENU = Item("FUNCTION", children=(
    Item("DATE & TIME", action="datetime"),
    Item("STATION ID", children=(S("machine.number"), S("machine.station_name"), S("machine.number2"))),
    Item("RECEIVE", children=(S("receive.mode"), S("receive.rings"), S("paper.long_page"))),
    Item("DIRECTORY", children=(
        Item("ONE-TOUCH", action="one_touch"),
        Item("SPEED DIAL", action="speed_dial"),
    )),
    Item("SCAN DEFAULTS", children=(S("scan.resolution"), S("scan.contrast"))),
    Item("TRANSMIT", children=(
        S("transmit.header"), S("transmit.mode"), S("transmit.report"),
        S("transmit.redial_tries"), S("transmit.redial_interval"),
        Item("POLLING DOCUMENT", action="polling_document"),
        S("polling.password"), S("polling.keep"),
        Item("CANCEL MEMORY TX", action="cancel_files"),
        S("transmit.port"),
    )),
    Item("E-MAIL", children=(
        S("smtp.host"), S("smtp.port"), S("smtp.security"), S("smtp.auth"), S("smtp.user"),
        S("smtp.password"), S("smtp.from"), S("smtp.format"),
        Item("MORE E-MAIL", children=(
            S("smtp.max_size_kb"), S("smtp.allow_clear_text"), S("smtp.ca_file"),
            S("smtp.retry_tries"), S("smtp.retry_interval"),
            Item("SMTP TIMEOUTS", children=(
                S("smtp.timeout_greeting"), S("smtp.timeout_command"), S("smtp.timeout_data_init"),
                S("smtp.timeout_data_block"), S("smtp.timeout_data_end"),
            )),
        )),
    )),
    Item("REPORTS", children=(
        Item("JOURNAL", action="journal"),
        Item("FUNCTION LIST", action="function_list"),
        Item("DIRECTORY LIST", action="directory_list"),
    )),
    Item("SETUP", children=(
        S("modem.top_speed"), S("modem.ecm"), S("modem.coding"), S("paper.size"),
        S("paper.capacity"), S("feeder.capacity"), S("memory.size_kb"), S("panel.timeout"),
        Item("LINE", children=(
            S("line.mode"), S("line.snr_db"), S("line.attenuation_db"), S("line.echo_ms"),
            S("line.echo_db"),
            Item("T.38 NETWORK", children=(
                S("t38.redundancy"), S("t38.image_redundancy"), S("t38.loss"), S("t38.jitter"),
            )),
        )),
    )),
    Item("MAINTENANCE", children=(
        Item("FIRMWARE VERSION", action="version"),
        Item("FACTORY RESET", action="factory_reset"),
        Item("OPTIONS", children=(
            S("options.second_line"), S("options.g3_version"), S("options.g3_model"),
        )),
    )),
))  # fmt: skip


def number_label(index: int) -> str:
    """Choices are numbered 1..9 then 0 for the tenth."""
    return str((index + 1) % 10)


def walk(item: Item = MENU, path: str = "") -> list[tuple[str, Item]]:
    """Every item with its key path, e.g. ("2-1", FAX NUMBER)."""
    found: list[tuple[str, Item]] = []
    for i, child in enumerate(item.children):
        p = f"{path}-{number_label(i)}" if path else number_label(i)
        found.append((p, child))
        found.extend(walk(child, p))
    return found


# -- editors ---------------------------------------------------------------------------------


class Editor:
    """Edits one thing; `commit()` returns None when stored, or the refusal to show."""

    title = ""
    done_text = "COMPLETED"

    def __init__(self, s: Services) -> None:
        self.s = s

    def lines(self) -> tuple[str, str]:
        return (self.title, "")

    def key(self, key: str) -> bool:
        return False

    def commit(self) -> str | None:
        return None

    def entry_mode(self) -> EntryMode | None:
        return None


class SettingEditor(Editor):
    def __init__(self, s: Services, setting: Setting) -> None:
        super().__init__(s)
        self.setting = setting
        self.title = setting.label
        current = s.settings.get(setting.key)
        self.fresh = True
        self.entry: NumberEntry | TextEntry = NumberEntry()
        self.choice = 0
        if setting.kind == "choice":
            self.choice = setting.choices.index(str(current))
        elif setting.kind == "int":
            self.entry = NumberEntry(str(current), max_len=len(str(setting.hi)), keys=DIGITS)
            rng = f" {setting.lo}-{setting.hi}"
            if len(self.title) + len(rng) <= 20:
                self.title += rng
        elif setting.kind == "digits":
            self.entry = NumberEntry(str(current), max_len=setting.max_len)
        else:
            lower = (
                setting.kind in ("email", "host", "secret", "path") or setting.key == "smtp.user"
            )
            self.entry = TextEntry(
                s.panel.clock, str(current), max_len=setting.max_len, lower=lower,
                masked=setting.secret,
            )  # fmt: skip
            self.entry.fix()

    def lines(self) -> tuple[str, str]:
        s = self.setting
        if s.kind == "choice":
            return (self.title, f"{self.choice + 1}:{s.choices[self.choice].upper()}")
        if isinstance(self.entry, TextEntry):
            return (self.title[:16].ljust(16) + self.entry.case_label, self.entry.render())
        return (self.title, self.entry.render())

    def entry_mode(self) -> EntryMode | None:
        if self.setting.kind == "choice":
            return None
        if isinstance(self.entry, TextEntry):
            secret = self.setting.key if self.setting.secret else ""
            return EntryMode.text(self.entry.lower, secret)
        return EntryMode.digits(self.entry.keys)

    def key(self, key: str) -> bool:
        s = self.setting
        if self.fresh and s.kind != "choice":
            # The stored value is shown; the first character typed starts a new value.
            text = isinstance(self.entry, TextEntry)
            starts = key in MULTITAP if text else (key in DIAL_KEYS or key == "REDIAL_PAUSE")
            if starts:
                self.entry.value = ""
            if starts or not (text and key == CASE_KEY):
                self.fresh = False
        if s.kind == "choice":
            n = len(s.choices)
            if key == "RIGHT":
                self.choice = (self.choice + 1) % n
            elif key == "LEFT":
                self.choice = (self.choice - 1) % n
            elif key.isdigit() and len(key) == 1 and 1 <= int(key) <= n:
                self.choice = int(key) - 1
            else:
                return False
            return True
        return bool(self.entry.key(key))

    def commit(self) -> str | None:
        setting = self.setting
        value: Value
        if setting.kind == "choice":
            value = setting.choices[self.choice]
        elif setting.kind == "int":
            if not self.entry.value:
                return "OUT OF RANGE"
            value = int(self.entry.value)
        else:
            if isinstance(self.entry, TextEntry):
                self.entry.fix()
            value = self.entry.value
        try:
            value = setting.check(value)
        except ValueError:
            return "OUT OF RANGE" if setting.kind == "int" else "INVALID ENTRY"
        self.s.settings.set(setting.key, value)
        self.s.panel.log.emit("settings", "set", key=setting.key, value=setting.show(value),
                              via="panel")  # fmt: skip
        return None


class DateTimeEditor(Editor):
    title = "DATE & TIME"

    def __init__(self, s: Services) -> None:
        super().__init__(s)
        self.entry = DateTimeEntry(s.panel.rtc.now())

    def lines(self) -> tuple[str, str]:
        return (self.title, self.entry.render())

    def entry_mode(self) -> EntryMode | None:
        return EntryMode.digits(DIGITS)

    def key(self, key: str) -> bool:
        return self.entry.key(key)

    def commit(self) -> str | None:
        when = self.entry.value()
        if when is None:
            return "INVALID DATE"
        try:
            self.s.panel.set_clock(when)
        except RtcRange:
            return "2000-2099 ONLY"
        return None


class DirectoryEditor(Editor):
    """Choose a slot, then NAME, then FAX or E-MAIL, then the number or address."""

    def __init__(self, s: Services, kind: str) -> None:
        super().__init__(s)
        self.kind = kind
        self.width = 2 if kind == "one_touch" else 3
        self.step = "slot"
        self.slot_entry = NumberEntry(max_len=self.width, keys=DIGITS)
        self.slot = 0
        self.name = TextEntry(s.panel.clock, max_len=16)
        self.is_email = False
        self.address: NumberEntry | TextEntry = NumberEntry()
        self.title = "ONE-TOUCH" if kind == "one_touch" else "SPEED DIAL"

    def label(self) -> str:
        return f"{self.title} {self.slot:0{self.width}d}"

    def lines(self) -> tuple[str, str]:
        if self.step == "slot":
            hint = (
                f"NO.(01-{slots(self.kind)}): "
                if self.width == 2
                else f"NO.(001-{slots(self.kind)}): "
            )
            return (self.title, hint + self.slot_entry.value)
        if self.step == "name":
            return (
                f"NAME {self.slot:0{self.width}d}".ljust(16) + self.name.case_label,
                self.name.render(),
            )
        if self.step == "type":
            return (self.label(), "2:E-MAIL" if self.is_email else "1:FAX")
        if isinstance(self.address, TextEntry):
            return ("E-MAIL ADDRESS".ljust(16) + self.address.case_label, self.address.render())
        return ("FAX NUMBER", self.address.render())

    def entry_mode(self) -> EntryMode | None:
        if self.step == "name":
            return EntryMode.text(self.name.lower)
        if self.step == "address":
            if isinstance(self.address, TextEntry):
                return EntryMode.text(self.address.lower)
            return EntryMode.digits(pause=True)
        if self.step == "slot":
            return EntryMode.digits(DIGITS)
        return None

    def _choose(self, slot: int) -> bool:
        if not 1 <= slot <= slots(self.kind):
            self.slot_entry = NumberEntry(max_len=self.width, keys=DIGITS)
            return False
        self.slot = slot
        entry = self.s.directory.get(self.kind, slot)
        self.name = TextEntry(self.s.panel.clock, entry.name if entry else "", max_len=16)
        self.name.fix()
        self.is_email = bool(entry and entry.email is not None)
        self._address_entry(entry)
        self.step = "name"
        return True

    def _address_entry(self, entry: Entry | None) -> None:
        if self.is_email:
            self.address = TextEntry(
                self.s.panel.clock, entry.email if entry and entry.email else "", max_len=63,
                lower=True,
            )  # fmt: skip
            self.address.fix()
        else:
            self.address = NumberEntry(
                entry.fax if entry and entry.fax else "", max_len=32, allow_pause=True
            )

    def key(self, key: str) -> bool:
        if self.step == "slot":
            if key.startswith("ONE_TOUCH_") and self.kind == "one_touch":
                self._choose(int(key[-2:]))
                return True
            if key.isdigit() and len(key) == 1:
                self.slot_entry.key(key)
                if len(self.slot_entry.value) == self.width:
                    if not self._choose(int(self.slot_entry.value)):
                        self.s.panel.beep(key)
                return True
            if key == "CLEAR":
                self.slot_entry.key(key)
                return True
            return False
        if self.step == "name":
            return self.name.key(key)
        if self.step == "type":
            if key in ("LEFT", "RIGHT"):
                self.is_email = not self.is_email
            elif key in ("1", "2"):
                self.is_email = key == "2"
            else:
                return False
            self._address_entry(self.s.directory.get(self.kind, self.slot))
            return True
        return bool(self.address.key(key))

    def commit(self) -> str | None:
        """SET: the next step, or store at the last. Returns "" to stay in the editor."""
        if self.step == "slot":
            return ""
        if self.step == "name":
            self.name.fix()
            self.step = "type"
            return ""
        if self.step == "type":
            self.step = "address"
            return ""
        if isinstance(self.address, TextEntry):
            self.address.fix()
        value = self.address.value
        directory = self.s.directory
        log = self.s.panel.log
        if not value:
            directory.delete(self.kind, self.slot)
            log.emit("directory", "delete", kind=self.kind, slot=self.slot)
            self.done_text = "DELETED"
            return None
        if self.is_email and not EMAIL_RE.fullmatch(value):
            return "INVALID ENTRY"
        entry = Entry(
            self.kind,
            self.slot,
            self.name.value,
            fax=None if self.is_email else value,
            email=value if self.is_email else None,
        )
        directory.put(entry)
        log.emit(
            "directory",
            "set",
            kind=self.kind,
            slot=self.slot,
            name=entry.name,
            address=entry.address,
        )
        return None


class VersionViewer(Editor):
    title = "FIRMWARE VERSION"

    def __init__(self, s: Services) -> None:
        super().__init__(s)
        self.pages = lcd_pages(s.settings)
        self.page = 0

    def lines(self) -> tuple[str, str]:
        return self.pages[self.page]

    def key(self, key: str) -> bool:
        if key == "RIGHT":
            self.page = (self.page + 1) % len(self.pages)
        elif key == "LEFT":
            self.page = (self.page - 1) % len(self.pages)
        else:
            return False
        return True

    def commit(self) -> str | None:
        self.page = (self.page + 1) % len(self.pages)
        return ""


class Confirm(Editor):
    def __init__(self, s: Services, title: str, action: Callable[[], None]) -> None:
        super().__init__(s)
        self.title = title
        self.action = action

    def lines(self) -> tuple[str, str]:
        return (self.title, "SET=YES STOP=NO")

    def commit(self) -> str | None:
        self.action()
        return None


# -- the menu screen -----------------------------------------------------------------------


class MenuScreen(Screen):
    """States menu.browse (choosing), menu.edit (an editor open), menu.code (service code)."""

    state = "menu"
    takes_timeout = True

    def __init__(self, s: Services, service: ServiceScreen) -> None:
        super().__init__(s.panel)
        self.s = s
        self.service = service
        self.stack: list[tuple[Item, int]] = [(MENU, 0)]
        self.editor: Editor | None = None
        self.code = ""
        # Every item opened (a submenu entered, an editor or an action started).
        self.opened: Listeners[[Item]] = Listeners()

    def open(self) -> None:
        self.stack = [(MENU, 0)]
        self.editor = None
        self.panel.fire("open_menu")

    def entry_mode(self) -> EntryMode | None:
        return self.editor.entry_mode() if self.editor is not None else None

    def lines(self) -> tuple[str, str]:
        if self.panel.state == "menu.code":
            return "FUNCTION", self.code
        if self.editor is not None:
            return self.editor.lines()
        node, index = self.stack[-1]
        if len(self.stack) == 1:
            title = node.label
        else:
            _, pindex = self.stack[-2]
            title = f"{number_label(pindex)}:{node.label}"
        child = node.children[index]
        return title, f"{number_label(index)}:{child.label}"

    def key(self, key: str) -> None:
        panel = self.panel
        if panel.state == "menu.code":
            return self._code_key(key)
        if self.editor is not None:
            return self._editor_key(key)
        node, index = self.stack[-1]
        n = len(node.children)
        if key == "RIGHT":
            self.stack[-1] = (node, (index + 1) % n)
        elif key == "LEFT":
            self.stack[-1] = (node, (index - 1) % n)
        elif key.isdigit() and len(key) == 1:
            pick = (int(key) - 1) % 10
            if pick >= n:
                return panel.beep(key)
            self.stack[-1] = (node, pick)
            return self._open(node.children[pick])
        elif key == "SET":
            return self._open(node.children[index])
        elif key == "STOP":
            if len(self.stack) == 1:
                return panel.go_home()
            self.stack.pop()
        elif key == "FUNCTION":
            return panel.go_home()
        elif key == "#" and len(self.stack) == 1:
            self.code = "#"
            return panel.fire("enter_code")
        else:
            return panel.beep(key)
        panel.refresh()

    # browsing ----------------------------------------------------------------------------
    def _open(self, item: Item) -> None:
        s, panel = self.s, self.panel
        self.opened(item)
        if item.children:
            self.stack.append((item, 0))
            return panel.refresh()
        editor: Editor | None = None
        if item.setting is not None:
            editor = SettingEditor(s, BY_KEY[item.setting])
        elif item.action == "datetime":
            editor = DateTimeEditor(s)
        elif item.action in ("one_touch", "speed_dial"):
            editor = DirectoryEditor(s, item.action)
        elif item.action == "version":
            editor = VersionViewer(s)
        elif item.action == "factory_reset":
            editor = Confirm(s, "FACTORY RESET?", self._factory_reset)
        elif item.action in ("journal", "function_list"):
            s.reports.print(item.action)
            return
        elif item.action == "directory_list":
            s.reports.print("directory")
            return
        elif item.action == "polling_document":
            return s.fax.store_polling_document()
        elif item.action == "cancel_files":
            return s.fax.cancel_files()
        if editor is None:
            return panel.beep("SET")
        self.editor = editor
        panel.fire("edit_item")

    def _factory_reset(self) -> None:
        s = self.s
        with s.settings.nvram.transaction():
            s.settings.factory_reset()
            s.directory.clear()
        self.panel.log.emit("settings", "factory_reset")

    # editing -----------------------------------------------------------------------------
    def _editor_key(self, key: str) -> None:
        panel = self.panel
        editor = self.editor
        assert editor is not None
        if key == "STOP":
            self.editor = None
            return panel.fire("browse")
        if key == "SET":
            refusal = editor.commit()
            if refusal == "":
                return panel.refresh()
            if refusal is None:
                self.editor = None
                title = editor.title if not isinstance(editor, DirectoryEditor) else editor.label()
                return panel.notice(title, editor.done_text)
            return self._refuse(editor, refusal)
        if editor.key(key):
            return panel.refresh()
        panel.beep(key)

    def _refuse(self, editor: Editor, reason: str) -> None:
        panel = self.panel
        panel.log.emit("settings", "refused", item=editor.title, reason=reason)
        if isinstance(editor, SettingEditor):
            self.editor = SettingEditor(self.s, editor.setting)
        elif isinstance(editor, DateTimeEditor):
            self.editor = DateTimeEditor(self.s)
        panel.notice(editor.title, reason, then=panel.resume("edit_item"))

    # service code --------------------------------------------------------------------------
    def _code_key(self, key: str) -> None:
        panel = self.panel
        if key == "STOP":
            self.code = ""
            return panel.fire("browse")
        if len(key) != 1:
            return panel.beep(key)
        self.code += key
        if len(self.code) < len(SERVICE_CODE):
            return panel.refresh()
        code, self.code = self.code, ""
        if code == SERVICE_CODE:
            panel.log.emit("firmware", "service_mode", on=True)
            return self.service.open()
        panel.beep(key)
        panel.fire("browse")
