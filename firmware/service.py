"""Service mode: key test, LCD test, LED test, memory clear, and the tests paper handling adds.

Entered from the FUNCTION menu with # 9 9 9 9 (docs/service.md); STOP leaves it for standby.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from estudio190f.hw.clock import MS
from estudio190f.hw.operator_panel import LED_NAMES

from .machine import Screen

if TYPE_CHECKING:
    from .machine import Firmware

ITEMS = ("KEY TEST", "LCD TEST", "LED TEST", "MEMORY CLEAR", "SENSOR TEST", "PRINT TEST")

SENSOR_POLL = 100 * MS

LCD_PATTERNS = (
    ("#" * 20, "#" * 20),
    ("0123456789ABCDEFGHIJ", "KLMNOPQRSTUVWXYZ-.:/"),
    ("", ""),
)


class ServiceScreen(Screen):
    def __init__(self, fw: Firmware) -> None:
        super().__init__(fw)
        self.index = 0
        self.test = ""
        self.step = 0
        self.last_key = ""

    def open(self) -> None:
        self.index = 0
        self.test = ""
        self.fw.activate(self, "open_service")

    def render(self) -> None:
        lcd = self.fw.lcd
        if self.test == "":
            return lcd.show("SERVICE MODE", f"{self.index + 1}:{ITEMS[self.index]}")
        if self.test == "KEY TEST":
            return lcd.show("KEY TEST STOP x2=END", self.last_key)
        if self.test == "LCD TEST":
            return lcd.show(*LCD_PATTERNS[self.step])
        if self.test == "LED TEST":
            return lcd.show(
                "LED TEST", ("ALL ON", "ALL BLINK", "ALL OFF")[self.step] + "  SET=NEXT"
            )
        if self.test == "MEMORY CLEAR":
            return lcd.show("CLEAR MEMORY?", "SET=YES STOP=NO")
        if self.test == "SENSOR TEST":
            return lcd.show(*sensor_lines(self.fw))

    def key(self, key: str) -> None:
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
            self.fw.log.emit("firmware", "service_mode", on=False)
            return self.fw.go_home()
        else:
            return self.fw.beep(key)
        self.render()

    def _start(self) -> None:
        fw = self.fw
        name = ITEMS[self.index]
        if name == "PRINT TEST":
            return fw.run_feature("service_print")
        self.test, self.step, self.last_key = name, 0, ""
        fw.trigger("service_test")
        if name == "LED TEST":
            self._leds(0)
        if name == "SENSOR TEST":
            self._poll_sensors()
        self.render()

    def _poll_sensors(self) -> None:
        """Live: the LCD is redrawn every SENSOR_POLL while the test runs."""
        if self.test != "SENSOR TEST" or self.fw.state != "service.test":
            return
        self.render()
        self.fw.timers.call_later(SENSOR_POLL, self._poll_sensors, label="sensor-test")

    def _leds(self, step: int) -> None:
        state = ("on", "blink", "off")[step]
        for name in LED_NAMES:
            self.fw.leds[name].set(state)

    def _end_test(self) -> None:
        fw = self.fw
        if self.test == "LED TEST":
            for name in LED_NAMES:
                fw.leds[name].set("off")
            fw.restore_leds()
        self.test = ""
        fw.trigger("service_menu")
        self.render()

    def _test_key(self, key: str) -> None:
        fw = self.fw
        if self.test == "KEY TEST":
            if key == "STOP" and self.last_key == "STOP":
                return self._end_test()
            self.last_key = key
            fw.log.emit("service", "key_test", key=key)
            return self.render()
        if key == "STOP":
            return self._end_test()
        if self.test == "LCD TEST":
            self.step += 1
            if self.step >= len(LCD_PATTERNS):
                return self._end_test()
            return self.render()
        if self.test == "LED TEST" and key == "SET":
            self.step += 1
            if self.step > 2:
                return self._end_test()
            self._leds(self.step)
            return self.render()
        if self.test == "MEMORY CLEAR" and key == "SET":
            fw.clear_memory()
            self.test = ""
            return fw.notice("MEMORY CLEAR", "COMPLETED", then=self._back)
        fw.beep(key)

    def _back(self) -> None:
        self.fw.screen = self
        self.fw.trigger("service_menu")
        self.render()


def _bit(value: object) -> str:
    return "1" if value else "0"


def sensor_lines(fw: Firmware) -> tuple[str, str]:
    """ADF: D document set, R registration, E exit, C cover closed.
    PR: P paper present, K pick-up, R registration, E exit, C cover closed, W warmed up."""
    board = fw.board
    line1 = line2 = ""
    if board.feeder is not None:
        f = board.feeder.sensors()
        line1 = (
            f"ADF D{_bit(f['document_set'])} R{_bit(f['registration'])} "
            f"E{_bit(f['exit'])} C{_bit(f['cover'])}"
        )
    if board.printer is not None:
        p = board.printer.sensors()
        line2 = (
            f"PR P{_bit(p['paper_present'])} K{_bit(p['pickup_sensor'])} "
            f"R{_bit(p['registration_sensor'])} E{_bit(p['exit_sensor'])} "
            f"C{_bit(p['cover_closed'])} W{_bit(p['warmed_up'])}"
        )
    return line1, line2
