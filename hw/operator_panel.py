"""The operator-panel boards PNL1/PNL2: key matrix, 2x20 character LCD and LEDs.

These are signals only. The key matrix reports make and break to whoever scans it (the
firmware); the LCD shows what it was last given; an LED is on, off or blinking.
"""

from __future__ import annotations

from .clock import MS, Clock
from .eventlog import EventLog
from .listeners import Listeners

LCD_COLUMNS = 20
LCD_LINES = 2

# Americas layout (DESIGN.md 3.3). The order is the matrix scan order.
KEY_NAMES: tuple[str, ...] = (
    "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#",
    "START", "STOP", "CLEAR", "SET", "FUNCTION", "LEFT", "RIGHT",
    "FAX", "COPY", "SCAN", "RESOLUTION", "CONTRAST", "REDIAL_PAUSE", "SPEED_DIAL", "MONITOR",
    *(f"ONE_TOUCH_{n:02d}" for n in range(1, 13)),
)  # fmt: skip

LED_NAMES: tuple[str, ...] = ("ALARM", "MEMORY", "LINE", "FAX", "COPY", "SCAN")
LED_STATES = ("on", "off", "blink")
BLINK_PERIOD = 1000 * MS  # 500 ms lit, 500 ms dark


class KeyMatrix:
    """Keys with make/break. Subscribers get (key, pressed: bool)."""

    def __init__(self, clock: Clock, log: EventLog) -> None:
        self.clock = clock
        self.log = log
        self.down: set[str] = set()
        self.listeners: Listeners[[str, bool]] = Listeners()

    def press(self, key: str) -> None:
        self._check(key)
        if key in self.down:
            return
        self.down.add(key)
        self.log.emit("panel", "key", key=key, down=True)
        self.listeners(key, True)

    def release(self, key: str) -> None:
        self._check(key)
        if key not in self.down:
            return
        self.down.discard(key)
        self.log.emit("panel", "key", key=key, down=False)
        self.listeners(key, False)

    @staticmethod
    def _check(key: str) -> None:
        if key not in KEY_NAMES:
            raise KeyError(f"no key named {key!r}")


class Lcd:
    """2 lines x 20 characters. What is written is upper-cased and cut or padded to 20."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.lines: list[str] = [" " * LCD_COLUMNS] * LCD_LINES
        self.powered = True
        self.listeners: Listeners[[list[str]]] = Listeners()

    def show(self, line1: str | None = None, line2: str | None = None) -> None:
        new = list(self.lines)
        for i, text in enumerate((line1, line2)):
            if text is not None:
                new[i] = text.upper()[:LCD_COLUMNS].ljust(LCD_COLUMNS)
        self._set(new)

    def clear(self) -> None:
        self._set([" " * LCD_COLUMNS] * LCD_LINES)

    def _set(self, new: list[str]) -> None:
        if new == self.lines:
            return
        self.lines = new
        self.log.emit("panel", "lcd", lines=[ln.rstrip() for ln in new])
        self.listeners(list(new))

    def text(self, line: int | None = None) -> str:
        if line is None:
            return "\n".join(self.lines)
        return self.lines[line - 1]


class Led:
    def __init__(self, name: str, clock: Clock, log: EventLog) -> None:
        self.name = name
        self.clock = clock
        self.log = log
        self.state = "off"
        self.since = 0
        self.listeners: Listeners[[str, str]] = Listeners()

    def set(self, state: str) -> None:
        if state not in LED_STATES:
            raise ValueError(f"LED state must be one of {LED_STATES}, not {state!r}")
        if state == self.state:
            return
        self.state = state
        self.since = self.clock.now
        self.log.emit("panel", "led", led=self.name, state=state)
        self.listeners(self.name, state)

    def lit(self) -> bool:
        """Whether the lamp is lit right now (a blinking LED alternates without clock events)."""
        if self.state == "blink":
            return ((self.clock.now - self.since) % BLINK_PERIOD) < BLINK_PERIOD // 2
        return self.state == "on"


class OperatorPanel:
    def __init__(self, clock: Clock, log: EventLog) -> None:
        self.keys = KeyMatrix(clock, log)
        self.lcd = Lcd(log)
        self.leds = {name: Led(name, clock, log) for name in LED_NAMES}

    def led_states(self) -> dict[str, str]:
        return {name: led.state for name, led in self.leds.items()}
