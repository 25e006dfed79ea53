"""Service mode: key test, LCD test, LED test, memory clear, the tests paper handling adds, the
option setting (the 2nd G3 board fitted or not) and the firmware version block.

Entered from the FUNCTION menu with # 9 9 9 9 (docs/service.md); STOP leaves it for standby.
"""

from __future__ import annotations

from estudio190f.hw.board import Board
from estudio190f.hw.clock import MS
from estudio190f.hw.operator_panel import LED_NAMES

from .control_panel import Screen
from .services import Services
from .settings import BY_KEY
from .version import lcd_pages

ITEMS = ("KEY TEST", "LCD TEST", "LED TEST", "MEMORY CLEAR", "SENSOR TEST", "PRINT TEST",
         "OPTIONS", "VERSION")  # fmt: skip
OPTION = BY_KEY["options.second_line"]  # the option setting: the 2nd G3 board fitted or not

SENSOR_POLL = 100 * MS

LCD_PATTERNS = (
    ("#" * 20, "#" * 20),
    ("0123456789ABCDEFGHIJ", "KLMNOPQRSTUVWXYZ-.:/"),
    ("", ""),
)


class ServiceScreen(Screen):
    """States service.browse (choosing a test) and service.test (one running)."""

    state = "service"

    def __init__(self, s: Services) -> None:
        super().__init__(s.panel)
        self.s = s
        self.index = 0
        self.test = ""
        self.step = 0
        self.last_key = ""
        self.printing = False  # PRINT TEST queued: the LCD says so until the next key

    def open(self) -> None:
        self.index = 0
        self.test = ""
        self.printing = False
        self.panel.fire("open_service")

    def lines(self) -> tuple[str, str]:
        if self.test == "":
            if self.printing:
                return "PRINT TEST", "PRINTING"
            return "SERVICE MODE", f"{self.index + 1}:{ITEMS[self.index]}"
        if self.test == "KEY TEST":
            return "KEY TEST STOP x2=END", self.last_key
        if self.test == "LCD TEST":
            return LCD_PATTERNS[self.step]
        if self.test == "LED TEST":
            return "LED TEST", ("ALL ON", "ALL BLINK", "ALL OFF")[self.step] + "  SET=NEXT"
        if self.test == "MEMORY CLEAR":
            return "CLEAR MEMORY?", "SET=YES STOP=NO"
        if self.test == "OPTIONS":
            return OPTION.label, f"{self.step + 1}:{OPTION.choices[self.step].upper()}"
        if self.test == "VERSION":
            return lcd_pages(self.s.settings)[self.step]
        return sensor_lines(self.s.board)

    def key(self, key: str) -> None:
        self.printing = False
        if self.test:
            return self._test_key(key)
        n = len(ITEMS)
        if key == "RIGHT":
            self.index = (self.index + 1) % n
        elif key == "LEFT":
            self.index = (self.index - 1) % n
        elif key.isdigit() and 1 <= int(key) <= n:
            self.index = int(key) - 1
            return self._start()
        elif key == "SET":
            return self._start()
        elif key == "STOP":
            self.panel.log.emit("firmware", "service_mode", on=False)
            return self.panel.go_home()
        else:
            return self.panel.beep(key)
        self.panel.refresh()

    def _start(self) -> None:
        panel = self.panel
        name = ITEMS[self.index]
        if name == "PRINT TEST":
            # Service mode stays open; its LCD says the pattern is on its way.
            self.printing = self.s.reports.print("test_pattern", home=False)
            return panel.refresh()
        self.test, self.step, self.last_key = name, 0, ""
        panel.fire("service_test")
        if name == "LED TEST":
            self._leds(0)
        if name == "OPTIONS":
            self.step = OPTION.choices.index(self.s.settings.text(OPTION.key))
        if name == "SENSOR TEST":
            self._poll_sensors()

    def _poll_sensors(self) -> None:
        """Live: the LCD is redrawn every SENSOR_POLL while the test runs."""
        if self.test != "SENSOR TEST" or self.panel.state != "service.test":
            return
        self.panel.refresh()
        self.panel.timers.call_later(SENSOR_POLL, self._poll_sensors, label="sensor-test")

    def _leds(self, step: int) -> None:
        state = ("on", "blink", "off")[step]
        for name in LED_NAMES:
            self.panel.leds[name].set(state)

    def _end_test(self) -> None:
        panel = self.panel
        if self.test == "LED TEST":
            for name in LED_NAMES:
                panel.leds[name].set("off")
            panel.restore_leds()
        self.test = ""
        panel.fire("service_menu")

    def _test_key(self, key: str) -> None:
        panel = self.panel
        if self.test == "KEY TEST":
            if key == "STOP" and self.last_key == "STOP":
                return self._end_test()
            self.last_key = key
            panel.log.emit("service", "key_test", key=key)
            return panel.refresh()
        if key == "STOP":
            return self._end_test()
        if self.test == "LCD TEST":
            self.step += 1
            if self.step >= len(LCD_PATTERNS):
                return self._end_test()
            return panel.refresh()
        if self.test == "LED TEST" and key == "SET":
            self.step += 1
            if self.step > 2:
                return self._end_test()
            self._leds(self.step)
            return panel.refresh()
        if self.test == "OPTIONS":
            return self._option_key(key)
        if self.test == "VERSION" and key in ("SET", "RIGHT", "LEFT"):
            pages = len(lcd_pages(self.s.settings))
            self.step = (self.step + (-1 if key == "LEFT" else 1)) % pages
            return panel.refresh()
        if self.test == "MEMORY CLEAR" and key == "SET":
            self.s.clear_memory()
            self.test = ""
            return panel.notice("MEMORY CLEAR", "COMPLETED", then=panel.resume("service_menu"))
        panel.beep(key)

    def _option_key(self, key: str) -> None:
        """LEFT/RIGHT or a digit choose OFF or ON; SET stores it (the board is fitted or taken
        out at once) and goes back to the service menu."""
        panel = self.panel
        n = len(OPTION.choices)
        if key in ("LEFT", "RIGHT"):
            self.step = (self.step + (1 if key == "RIGHT" else -1)) % n
        elif key.isdigit() and 1 <= int(key) <= n:
            self.step = int(key) - 1
        elif key == "SET":
            value = self.s.settings.set(OPTION.key, OPTION.choices[self.step])
            panel.log.emit("settings", "set", key=OPTION.key, value=OPTION.show(value),
                           via="service")  # fmt: skip
            self.test = ""
            return panel.notice(OPTION.label, "COMPLETED", then=panel.resume("service_menu"))
        else:
            return panel.beep(key)
        panel.refresh()


def _bit(value: object) -> str:
    return "1" if value else "0"


def sensor_lines(board: Board) -> tuple[str, str]:
    """ADF: D document set, R registration, E exit, C cover closed.
    PR: P paper present, K pick-up, R registration, E exit, C cover closed, W warmed up."""
    f = board.feeder.sensors()
    line1 = (
        f"ADF D{_bit(f['document_set'])} R{_bit(f['registration'])} "
        f"E{_bit(f['exit'])} C{_bit(f['cover'])}"
    )
    p = board.printer.sensors()
    line2 = (
        f"PR P{_bit(p['paper_present'])} K{_bit(p['pickup_sensor'])} "
        f"R{_bit(p['registration_sensor'])} E{_bit(p['exit_sensor'])} "
        f"C{_bit(p['cover_closed'])} W{_bit(p['warmed_up'])}"
    )
    return line1, line2
