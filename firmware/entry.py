"""Entry on the keypad: numbers, text by multi-tap, and date/time templates.

Multi-tap: pressing the same key again within `MULTITAP_WINDOW` steps through its characters;
another key, RIGHT, or waiting longer fixes the character. `#` switches letters between upper and
lower case (fields such as e-mail addresses and passwords start in lower case). CLEAR deletes
the last character. The `type` script verb reads `MULTITAP` to know which keys to press.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from estudio190f.hw.clock import MS, Clock

MULTITAP_WINDOW = 1000 * MS

# Characters each key steps through in text entry. Letters are listed upper case; the case
# toggle decides which is entered. Every printable ASCII character is reachable.
MULTITAP: dict[str, str] = {
    "1": ".@-_1",
    "2": "ABC2",
    "3": "DEF3",
    "4": "GHI4",
    "5": "JKL5",
    "6": "MNO6",
    "7": "PQRS7",
    "8": "TUV8",
    "9": "WXYZ9",
    "0": " 0",
    "*": "*/:+&'(),!?=#%$;<>[]^`{|}~\"\\",
}
CASE_KEY = "#"
DIAL_KEYS = "0123456789*#"
PAUSE = "P"


DIGITS = "0123456789"


@dataclass(frozen=True)
class EntryMode:
    """What the screen shown takes from the keypad, for the `type` script verb: digits (the keys
    it takes, and whether REDIAL/PAUSE enters a pause) or multi-tap text (starting in lower case
    or not)."""

    kind: Literal["digits", "text"]
    keys: str = DIAL_KEYS
    pause: bool = False
    lower: bool = False
    secret: str = ""  # a masked entry: the secret setting it edits (the recorder writes no secret)

    @classmethod
    def digits(cls, keys: str = DIAL_KEYS, pause: bool = False) -> EntryMode:
        return cls("digits", keys, pause)

    @classmethod
    def text(cls, lower: bool, secret: str = "") -> EntryMode:
        return cls("text", lower=lower, secret=secret)


def key_for_char(ch: str) -> tuple[str, int]:
    """The key and number of presses that enter `ch` in text entry."""
    upper = ch.upper()
    for key, chars in MULTITAP.items():
        i = chars.find(upper if ch.isalpha() else ch)
        if i >= 0:
            return key, i + 1
    raise ValueError(f"{ch!r} cannot be entered on the keypad")


class NumberEntry:
    """Digits, * and # (and a pause where allowed)."""

    kind = "digits"

    def __init__(
        self, value: str = "", max_len: int = 32, allow_pause: bool = False, keys: str = DIAL_KEYS
    ) -> None:
        self.value = value
        self.max_len = max_len
        self.allow_pause = allow_pause
        self.keys = keys

    def key(self, key: str) -> bool:
        if key in self.keys and len(key) == 1:
            if len(self.value) < self.max_len:
                self.value += key
            return True
        if key == "REDIAL_PAUSE" and self.allow_pause:
            if self.value and len(self.value) < self.max_len:
                self.value += PAUSE
            return True
        if key == "CLEAR":
            self.value = self.value[:-1]
            return True
        return False

    def render(self, masked: bool = False) -> str:
        return self.value[-20:]


class TextEntry:
    """Multi-tap text entry."""

    kind = "text"

    def __init__(
        self,
        clock: Clock,
        value: str = "",
        max_len: int = 20,
        lower: bool = False,
        masked: bool = False,
    ) -> None:
        self.clock = clock
        self.value = value
        self.max_len = max_len
        self.lower = lower
        self.masked = masked
        self._last_key: str | None = None
        self._last_time = -MULTITAP_WINDOW
        self._index = 0

    @property
    def pending(self) -> bool:
        return self._last_key is not None and self.clock.now - self._last_time <= MULTITAP_WINDOW

    def _char(self, key: str, index: int) -> str:
        ch = MULTITAP[key][index % len(MULTITAP[key])]
        return ch.lower() if self.lower and ch.isalpha() else ch

    def key(self, key: str) -> bool:
        if key in MULTITAP:
            if self.pending and key == self._last_key:
                self._index += 1
                self.value = self.value[:-1] + self._char(key, self._index)
            else:
                if len(self.value) >= self.max_len:
                    self._last_key = None
                    return True
                self._index = 0
                self.value += self._char(key, 0)
            self._last_key = key
            self._last_time = self.clock.now
            return True
        if key == CASE_KEY:
            self.lower = not self.lower
            self._last_key = None
            return True
        if key == "RIGHT":
            if self.pending:
                self._last_key = None
            elif len(self.value) < self.max_len:
                self.value += " "
            return True
        if key in ("CLEAR", "LEFT"):
            self.value = self.value[:-1]
            self._last_key = None
            return True
        return False

    def fix(self) -> None:
        self._last_key = None

    def render(self, masked: bool | None = None) -> str:
        hide = self.masked if masked is None else masked
        text = "*" * len(self.value) if hide else self.value
        return text[-20:]

    @property
    def case_label(self) -> str:
        return "[a]" if self.lower else "[A]"


class DateTimeEntry:
    """The template MM-DD-YYYY HH:MM, filled digit by digit."""

    kind = "digits"
    TEMPLATE = "MM-DD-YYYY HH:MM"

    def __init__(self, now: datetime) -> None:
        self.chars = list(now.strftime("%m-%d-%Y %H:%M"))
        self.positions = [i for i, c in enumerate(self.TEMPLATE) if c.isalpha()]
        self.cursor = 0

    def key(self, key: str) -> bool:
        if key.isdigit() and len(key) == 1:
            if self.cursor < len(self.positions):
                self.chars[self.positions[self.cursor]] = key
                self.cursor += 1
            return True
        if key in ("CLEAR", "LEFT"):
            self.cursor = max(0, self.cursor - 1)
            return True
        if key == "RIGHT":
            self.cursor = min(len(self.positions), self.cursor + 1)
            return True
        return False

    def render(self, masked: bool = False) -> str:
        return "".join(self.chars)

    def value(self) -> datetime | None:
        try:
            return datetime.strptime("".join(self.chars), "%m-%d-%Y %H:%M")
        except ValueError:
            return None
