"""The desktop window of `estudio190f run`: the control panel, the document feeder and the output
tray of the simulated machine, drawn with Tkinter, and a status strip (docs/window.md).

The window is a plug-in of the machine, as a person at the machine is: it only looks at what the
hardware shows (LCD, LEDs, feeder and tray, line, memory) and acts through key-script steps sent
to an `Interpreter` one after another (`press KEY`, `adf load PATH`, `fault NAME`, `power off`),
so `run --record` records clicks like typed steps. Nothing in hw/ or firmware/ knows it exists.

It runs inside the real-time runner's single thread: a runner idle hook redraws what changed and
lets Tk handle its events at most `FRAME` seconds apart, and the window lowers the runner's
longest select wait to `FRAME` so a click is handled within a frame while the runner keeps serving
the serial console's descriptors. A modal file dialog runs Tk's own event loop; while it is open
the window drives the runner from Tk timers instead, so the machine and the console keep going.

The LCD is drawn by `lcd_image.render_lcd` from a built-in 5x7 dot-matrix character set.

What the window shows is also kept in the Tcl array `panel_window` (LCD lines, LED states, widget
paths of the keys, counts of pages in the feeder and sheets in the tray), which any Tk program on
the same display can read with Tk's `send` command; the window tests read the widgets that way.
"""

from __future__ import annotations

import functools
import shlex
import sys
import time
import tkinter as tk
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from tkinter import filedialog
from typing import Any

from PIL import Image, ImageDraw, ImageTk

from estudio190f.hw.faults import FAULT_NAMES
from estudio190f.hw.operator_panel import KEY_NAMES, LED_NAMES

from .interpreter import ExpectationFailed, Interpreter, StepQueue
from .lcd_image import render_lcd
from .runner import Runner
from .script import ScriptError, Step, quote
from .sim import Simulation

FRAME = 0.02  # wall seconds between redraws and Tk event handling (50 a second)
MEMORY_EVERY = 1.0  # wall seconds between reads of image memory use (an NVRAM query)
DIRECTORY_EVERY = 2.0  # ... of the one-touch names shown under the keys
MESSAGE_TIME_MS = 8000  # how long a message stays in the status strip
MAX_PENDING_STEPS = 100  # clicks waiting to run; more are refused (a stuck key, a cat)
THUMB_WIDTH = 84  # thumbnails in the feeder and tray lists
THUMBS_PER_FRAME = 4  # thumbnails made per frame, so a 30-page load does not freeze the window
APP_NAME = "estudio190f"  # the Tk application name (`winfo interps`, `send`)
TCL_ARRAY = "panel_window"

# -- keys: labels, layout, shortcuts ----------------------------------------------------------------

KEY_LABELS: dict[str, str] = {
    "START": "START", "STOP": "STOP", "CLEAR": "CLEAR", "SET": "SET", "FUNCTION": "FUNCTION",
    "LEFT": "\u25c0", "RIGHT": "\u25b6", "FAX": "FAX", "COPY": "COPY", "SCAN": "SCAN",
    "RESOLUTION": "RESOLUTION", "CONTRAST": "CONTRAST", "REDIAL_PAUSE": "REDIAL/\nPAUSE",
    "SPEED_DIAL": "SPEED\nDIAL", "MONITOR": "MONITOR",
    **{f"ONE_TOUCH_{n:02d}": f"{n:02d}" for n in range(1, 13)},
}  # fmt: skip

# Keyboard shortcuts: the key's keysyms, and how the tooltip names them. Letters are free for
# shortcuts because text is entered on the keypad (multi-tap), as on the machine.
SHORTCUTS: dict[str, tuple[tuple[str, ...], str]] = {
    **{d: ((d, f"KP_{d}"), d) for d in "0123456789"},
    "*": (("asterisk", "KP_Multiply"), "*"),
    "#": (("numbersign",), "#"),
    "START": (("Return", "KP_Enter"), "Enter"),
    "STOP": (("Escape",), "Esc"),
    "CLEAR": (("BackSpace",), "Backspace"),
    "LEFT": (("Left",), "Left arrow"),
    "RIGHT": (("Right",), "Right arrow"),
    **{f"ONE_TOUCH_{n:02d}": ((f"F{n}",), f"F{n}") for n in range(1, 13)},
    "FAX": (("x", "X"), "X"),
    "COPY": (("c", "C"), "C"),
    "SCAN": (("s", "S"), "S"),
    "FUNCTION": (("f", "F"), "F"),
    "SET": (("t", "T"), "T"),
    "RESOLUTION": (("r", "R"), "R"),
    "CONTRAST": (("o", "O"), "O"),
    "REDIAL_PAUSE": (("p", "P"), "P"),
    "SPEED_DIAL": (("d", "D"), "D"),
    "MONITOR": (("h", "H"), "H"),
}
KEYSYM_TO_KEY: dict[str, str] = {sym: key for key, (syms, _) in SHORTCUTS.items() for sym in syms}

_WIDGET_NAMES = {"*": "star", "#": "hash"}


def key_widget_name(key: str) -> str:
    """The Tk name of a key's button (Tk names must not start with an upper-case letter)."""
    return "key_" + _WIDGET_NAMES.get(key, key.lower())


def speed_text(speed: float | None) -> str:
    if speed is None:
        return "max"
    if speed == 1.0:
        return "realtime"
    return f"\u00d7{speed:g}"


# Colours of the panel, after the machine's grey plastic and its keys.
PANEL_BG = "#4a4f55"
PANEL_FG = "#e8e8e8"
KEY_BG = "#d9d9d4"
KEY_ACTIVE = "#f2f2ec"
START_BG = "#3f9b4f"
STOP_BG = "#c8453b"
ACTIVE = {START_BG: "#55b766", STOP_BG: "#dc5c52"}  # the colour under the pointer
LED_COLOURS = {  # (lit, dark)
    "ALARM": ("#ff3b2f", "#4a2422"),
    "MEMORY": ("#3cff5a", "#213d26"),
    "LINE": ("#3cff5a", "#213d26"),
    "FAX": ("#3cff5a", "#213d26"),
    "COPY": ("#3cff5a", "#213d26"),
    "SCAN": ("#3cff5a", "#213d26"),
}
LED_SIZE = 14


# -- steps from the window to the machine -----------------------------------------------------------


def parse_paths(text: str) -> list[str]:
    """Paths typed or pasted into the path field: one path (spaces and all) when it names a file,
    else one per line, or shell words; `file://` URIs (from a file manager) are decoded."""
    text = text.strip()
    if not text:
        return []
    if Path(text).expanduser().exists():
        return [text]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1:
        words = lines
    else:
        try:
            words = shlex.split(text)
        except ValueError:
            words = [text]
    return [_from_uri(w) for w in words]


def _from_uri(word: str) -> str:
    if word.startswith("file://"):
        parsed = urllib.parse.urlparse(word)
        return urllib.parse.unquote(parsed.path)
    return word


# -- small Tk parts ---------------------------------------------------------------------------------


class Tooltip:
    """A line of help shown under a widget while the pointer rests on it."""

    DELAY_MS = 500

    def __init__(self, widget: tk.Widget, text: str) -> None:
        self.widget = widget
        self.text = text
        self.tip: tk.Toplevel | None = None
        self.pending: str | None = None
        widget.bind("<Enter>", self._enter, add="+")
        widget.bind("<Leave>", self._leave, add="+")
        widget.bind("<ButtonPress>", self._leave, add="+")

    def _enter(self, _event: tk.Event) -> None:
        self._cancel()
        self.pending = self.widget.after(self.DELAY_MS, self._show)

    def _leave(self, _event: tk.Event) -> None:
        self._cancel()
        if self.tip is not None:
            self.tip.destroy()
            self.tip = None

    def _cancel(self) -> None:
        if self.pending is not None:
            self.widget.after_cancel(self.pending)
            self.pending = None

    def _show(self) -> None:
        self.pending = None
        if self.tip is not None or not self.widget.winfo_exists():
            return
        x = self.widget.winfo_rootx() + 8
        y = self.widget.winfo_rooty() + self.widget.winfo_height() + 4
        tip = tk.Toplevel(self.widget)
        tip.wm_overrideredirect(True)
        tip.wm_geometry(f"+{x}+{y}")
        tk.Label(tip, text=self.text, bg="#ffffe0", fg="#000000", relief="solid", bd=1,
                 padx=4, pady=2, justify="left").pack()  # fmt: skip
        self.tip = tip


def _call_on_event(fn: Callable[[], None], _event: tk.Event) -> None:
    fn()


class ThumbnailList(tk.Frame):
    """A scrolling column of thumbnails with captions, each clickable."""

    def __init__(self, master: tk.Misc, height: int, **kw: Any) -> None:
        super().__init__(master, **kw)
        self.canvas = tk.Canvas(self, width=THUMB_WIDTH + 28, height=height, highlightthickness=0,
                                bg="#2c3035")  # fmt: skip
        bar = tk.Scrollbar(self, orient="vertical", command=self.canvas.yview)
        self.canvas.configure(yscrollcommand=bar.set)
        self.inner = tk.Frame(self.canvas, bg="#2c3035", name="items")
        self.canvas.create_window((0, 0), window=self.inner, anchor="nw")
        self.inner.bind("<Configure>", self._resized)
        self.canvas.pack(side="left", fill="both", expand=True)
        bar.pack(side="right", fill="y")
        self.items: list[tk.Label] = []
        self.images: list[ImageTk.PhotoImage] = []

    def _resized(self, _event: tk.Event) -> None:
        self.canvas.configure(scrollregion=self.canvas.bbox("all"))

    def show(
        self, entries: Sequence[tuple[ImageTk.PhotoImage, str, Callable[[], None] | None]]
    ) -> None:
        for item in self.items:
            item.destroy()
        self.items = []
        self.images = [image for image, _, _ in entries]
        for index, (image, caption, on_click) in enumerate(entries):
            item = tk.Label(self.inner, image=image, text=caption, compound="top",
                            bg="#2c3035", fg=PANEL_FG, name=f"item{index}",
                            cursor="hand2" if on_click else "")  # fmt: skip
            item.pack(padx=10, pady=4)
            if on_click is not None:
                item.bind("<Button-1>", functools.partial(_call_on_event, on_click))
            self.items.append(item)
        self.canvas.yview_moveto(0.0)


class SheetViewer:
    """A sheet at full size (scaled to fit the screen), in its own window; a click closes it."""

    def __init__(self, root: tk.Tk, image: Image.Image, title: str, note: str) -> None:
        top = tk.Toplevel(root)
        top.title(title)
        screen_h = root.winfo_screenheight()
        grey = image.convert("L")
        scale = min(1.0, (screen_h * 0.85) / grey.height)
        shown = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
                            Image.Resampling.LANCZOS)  # fmt: skip
        self.photo = ImageTk.PhotoImage(shown, master=top)
        tk.Label(top, text=note, anchor="w").pack(fill="x")
        label = tk.Label(top, image=self.photo, bd=0)
        label.pack()
        for widget in (top, label):
            widget.bind("<Button-1>", lambda _e: top.destroy())
        top.bind("<Escape>", lambda _e: top.destroy())
        self.top = top


def thumbnail(image: Image.Image) -> Image.Image:
    grey = image.convert("L")
    height = max(1, round(grey.height * THUMB_WIDTH / grey.width))
    small = grey.resize((THUMB_WIDTH, height), Image.Resampling.BOX, reducing_gap=3.0)
    framed = Image.new("L", (THUMB_WIDTH + 2, height + 2), 90)
    framed.paste(small, (1, 1))
    return framed


def unreadable_thumbnail(problem: str) -> Image.Image:
    height = round(THUMB_WIDTH * 279.4 / 215.9)
    img = Image.new("L", (THUMB_WIDTH, height), 235)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, THUMB_WIDTH - 1, height - 1), outline=90)
    draw.text((THUMB_WIDTH // 2 - 3, height // 2 - 16), "?", fill=0)
    words, line = [], ""
    for word in problem.split():
        if len(line) + len(word) > 12:
            words.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    words.append(line)
    for i, text in enumerate(words[:4]):
        draw.text((4, height // 2 + i * 11), text, fill=0)
    return img


@dataclass(eq=False)  # kept in dicts by identity
class TraySheet:
    sheet: Any  # hw.printer.PrintedSheet
    path: Path | None  # printed/NNNN.png, when the output writer saved it


# -- the window -------------------------------------------------------------------------------------


class PanelWindow:
    """The window on one machine (the simulation's main one)."""

    def __init__(self, root: tk.Tk, sim: Simulation, runner: Runner, interp: Interpreter,
                 endpoint_lines: Sequence[str] = ()) -> None:  # fmt: skip
        self.root = root
        self.sim = sim
        self.runner = runner
        self.machine = sim.main
        self.board = sim.main.board
        self.firmware = sim.main.firmware
        self.endpoint_lines = list(endpoint_lines)
        self.steps = StepQueue(interp, self._step_done)
        self.closed = False
        self.modal = False
        self._next_frame = 0.0
        self._pump_id: str | None = None
        self._message_id: str | None = None
        self._shown: dict[str, Any] = {}  # what each part last drew, to redraw only changes
        self._tcl: dict[str, str] = {}
        self.active_faults: set[str] = set(self.board.faults.active)
        self.line_speed = ""
        self.tray_sheets: list[TraySheet] = []
        self._feeder_thumbs: dict[Any, ImageTk.PhotoImage] = {}  # by the feeder's hw.document.Sheet
        self._tray_thumbs: dict[TraySheet, ImageTk.PhotoImage] = {}
        self._memory_text = ""
        self._memory_at = 0.0
        self._directory_at = 0.0
        self.viewers: list[SheetViewer] = []

        root.title(f"e-STUDIO190F {self.machine.number}")
        root.configure(bg=PANEL_BG)
        root.protocol("WM_DELETE_WINDOW", self.request_close)
        self.fault_vars: dict[str, tk.BooleanVar] = {}
        self.key_font = ("Helvetica", 8, "bold")
        self.pad_font = ("Helvetica", 14, "bold")
        self._build_menu()
        body = tk.Frame(root, bg=PANEL_BG, name="body")
        body.pack(side="top", fill="both", expand=True)
        self._build_feeder(body)
        self._build_panel(body)
        self._build_tray(body)
        self._build_status(root)
        self._bind_shortcuts()

        self.board.log.listeners.add(self._on_event)
        printer = self.board.printer
        if printer is not None:
            printer.delivery_listeners.add(self._on_delivered)
        runner.idle_hooks.append(self._on_idle)
        runner.max_wait = min(runner.max_wait, FRAME)
        sim.closers.append(self.close)
        sim.restored.append(self._restored)
        self.refresh()

    def _restored(self) -> None:
        """A snapshot was restored in place (`restore FILE` at the prompt or the console): the
        window shows the restored main machine from now on; the old one's listeners went with
        the state it had."""
        self.machine = self.sim.main
        self.board = self.machine.board
        self.firmware = self.machine.firmware
        self.board.log.listeners.add(self._on_event)
        printer = self.board.printer
        if printer is not None:
            printer.delivery_listeners.add(self._on_delivered)
        self.active_faults = set(self.board.faults.active)
        self._memory_at = self._directory_at = 0.0  # the memory and directory read afresh
        self.refresh()

    # -- building ---------------------------------------------------------------------------
    def _build_menu(self) -> None:
        menubar = tk.Menu(self.root, name="menubar")
        machine = tk.Menu(menubar, tearoff=False, name="machine")
        machine.add_command(
            label="Load documents\u2026", accelerator="Ctrl+O", command=self.load_dialog
        )
        machine.add_command(label="Fill the paper cassette", command=self.fill_paper)
        machine.add_separator()
        machine.add_command(label="Power off", command=lambda: self.send_step("power off"))
        machine.add_command(label="Power on", command=lambda: self.send_step("power on"))
        machine.add_command(label="Power cycle", command=self.power_cycle)
        machine.add_separator()
        machine.add_command(label="Quit", accelerator="Ctrl+Q", command=self.request_close)
        menubar.add_cascade(label="Machine", menu=machine, underline=0)
        faults = tk.Menu(menubar, tearoff=False, name="faults")
        for name, part in FAULT_NAMES.items():
            var = tk.BooleanVar(self.root, value=name in self.active_faults)
            self.fault_vars[name] = var
            faults.add_checkbutton(label=f"{name}  ({part})", variable=var,
                                   command=functools.partial(self.toggle_fault, name))  # fmt: skip
        menubar.add_cascade(label="Faults", menu=faults, underline=1)
        help_menu = tk.Menu(menubar, tearoff=False, name="help")
        help_menu.add_command(label="Keyboard shortcuts", command=self.show_shortcuts)
        menubar.add_cascade(label="Help", menu=help_menu, underline=0)
        self.root.configure(menu=menubar)
        self.menus = {"machine": machine, "faults": faults, "help": help_menu}
        for name, menu in self.menus.items():
            self._tcl_set(f"menu,{name}", str(menu))

    def _build_panel(self, body: tk.Frame) -> None:
        # Laid out like the machine's panel: one-touch keys on the left, the LCD with its lamps
        # and the function and mode keys in the middle, the keypad with STOP and START right.
        panel = tk.Frame(body, bg=PANEL_BG, name="panel", padx=10, pady=8)
        panel.grid(row=0, column=1, sticky="n")
        self.key_buttons: dict[str, tk.Button] = {}

        one_touch = tk.Frame(panel, bg=PANEL_BG, name="one_touch")
        one_touch.grid(row=0, column=0, sticky="n", padx=(0, 12))
        caption = tk.Label(
            one_touch, text="ONE-TOUCH", bg=PANEL_BG, fg=PANEL_FG, font=self.key_font
        )
        caption.grid(row=0, column=0, columnspan=3, sticky="w")
        self.one_touch_names: dict[str, tk.Label] = {}
        for n in range(1, 13):
            key = f"ONE_TOUCH_{n:02d}"
            row, col = divmod(n - 1, 3)
            cell = tk.Frame(one_touch, bg=PANEL_BG)
            cell.grid(row=1 + row, column=col, padx=2, pady=1)
            self._key(cell, key, width=3).pack()
            entry_name = tk.Label(
                cell, text="", bg=PANEL_BG, fg="#b8c0c8", font=("Helvetica", 7), width=7
            )
            entry_name.pack()
            self.one_touch_names[key] = entry_name

        middle = tk.Frame(panel, bg=PANEL_BG, name="middle")
        middle.grid(row=0, column=1, sticky="n", padx=(0, 12))
        display = tk.Frame(
            middle, bg="#2a2d31", name="display", padx=6, pady=6, bd=2, relief="sunken"
        )
        display.pack(side="top")
        self.lcd_photo = ImageTk.PhotoImage(render_lcd(["", ""]), master=self.root)
        self.lcd_label = tk.Label(display, image=self.lcd_photo, bd=0, highlightthickness=0,
                                  padx=0, pady=0, name="lcd")  # fmt: skip
        self.lcd_label.pack(side="top")
        self._tcl_set("lcd_widget", str(self.lcd_label))
        lamps = tk.Frame(display, bg="#2a2d31")
        lamps.pack(side="top", fill="x", pady=(6, 0))
        self.led_canvas: dict[str, tk.Canvas] = {}
        for name in ("ALARM", "MEMORY", "LINE"):
            self._led(lamps, name).pack(side="left", padx=(0, 18))

        controls = tk.Frame(middle, bg=PANEL_BG, name="controls")
        controls.pack(side="top", pady=(10, 0))
        functions = tk.Frame(controls, bg=PANEL_BG, name="functions")
        functions.pack(side="left", anchor="n", padx=(0, 12))
        layout = (
            ("RESOLUTION", "CONTRAST", "MONITOR"),
            ("REDIAL_PAUSE", "SPEED_DIAL", "FUNCTION"),
            ("LEFT", "SET", "RIGHT"),
        )
        for r, row_keys in enumerate(layout):
            for c, key in enumerate(row_keys):
                self._key(functions, key, width=8, height=2).grid(row=r, column=c, padx=2, pady=2)
        modes = tk.Frame(controls, bg=PANEL_BG, name="modes")
        modes.pack(side="left", anchor="n")
        for r, key in enumerate(("FAX", "COPY", "SCAN")):
            self._led(modes, key, label=False).grid(row=r, column=0, padx=(0, 4))
            self._key(modes, key, width=6, height=2).grid(row=r, column=1, pady=2)

        right = tk.Frame(panel, bg=PANEL_BG, name="right")
        right.grid(row=0, column=2, sticky="n")
        keypad = tk.Frame(right, bg=PANEL_BG, name="keypad")
        keypad.pack(side="top")
        pad = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#")
        for index, key in enumerate(pad):
            r, c = divmod(index, 3)
            button = self._key(keypad, key, width=2, font=self.pad_font)
            button.grid(row=r, column=c, padx=2, pady=2)
        self._key(keypad, "CLEAR", width=8, height=1).grid(row=4, column=0, columnspan=3,
                                                           sticky="ew", padx=2, pady=(2, 6))  # fmt: skip
        start_stop = tk.Frame(right, bg=PANEL_BG, name="start_stop")
        start_stop.pack(side="top", fill="x")
        self._key(start_stop, "STOP", width=5, height=2, bg=STOP_BG, fg="white").pack(
            side="left", padx=2)  # fmt: skip
        self._key(start_stop, "START", width=7, height=2, bg=START_BG, fg="white").pack(
            side="left", padx=2, fill="x", expand=True)  # fmt: skip
        missing = set(KEY_NAMES) - set(self.key_buttons)
        assert not missing, f"keys without a button: {missing}"

    def _key(self, master: tk.Misc, key: str, *, width: int, height: int = 1,
             font: Any = None, bg: str = KEY_BG, fg: str = "#1c1c1c") -> tk.Button:  # fmt: skip
        button = tk.Button(
            master, text=KEY_LABELS.get(key, key), name=key_widget_name(key), width=width,
            height=height, font=font or self.key_font, bg=bg, fg=fg, activebackground=ACTIVE.get(bg, KEY_ACTIVE),
            relief="raised", bd=2, takefocus=0, command=lambda: self.press(key),
        )  # fmt: skip
        shortcut = SHORTCUTS[key][1]
        Tooltip(button, f"{key}  \u2014  key: {shortcut}")
        self.key_buttons[key] = button
        self._tcl_set(f"key,{key}", str(button))
        return button

    def _led(self, master: tk.Misc, name: str, label: bool = True) -> tk.Frame:
        frame = tk.Frame(master, bg=master.cget("bg"))
        canvas = tk.Canvas(frame, width=LED_SIZE, height=LED_SIZE, bg=master.cget("bg"),
                           highlightthickness=0, bd=0, name=f"led_{name.lower()}")  # fmt: skip
        canvas.create_oval(1, 1, LED_SIZE - 1, LED_SIZE - 1, fill=LED_COLOURS[name][1], outline="#111",
                           tags=("lamp",))  # fmt: skip
        canvas.pack(side="left")
        if label:
            tk.Label(frame, text=name, bg=master.cget("bg"), fg=PANEL_FG, font=self.key_font).pack(
                side="left", padx=(4, 0)
            )
        Tooltip(canvas, f"LED {name}")
        self.led_canvas[name] = canvas
        self._tcl_set(f"led_widget,{name}", str(canvas))
        return frame

    def _build_feeder(self, body: tk.Frame) -> None:
        frame = tk.LabelFrame(body, text="Document feeder", name="feeder", bg=PANEL_BG, fg=PANEL_FG,
                              padx=6, pady=4)  # fmt: skip
        frame.grid(row=0, column=0, sticky="ns", padx=(8, 0), pady=6)
        load = tk.Button(frame, text="Load documents\u2026", name="load_documents",
                         command=self.load_dialog)  # fmt: skip
        load.pack(fill="x")
        Tooltip(
            load, "Choose image files (PNG, PBM, TIFF, JPEG) to put in the feeder  \u2014  Ctrl+O"
        )
        self._tcl_set("load_button", str(load))
        row = tk.Frame(frame, bg=PANEL_BG)
        row.pack(fill="x", pady=(4, 0))
        self.path_entry = tk.Entry(row, width=10, name="path_entry")
        self.path_entry.pack(side="left", fill="x", expand=True)
        self.path_entry.bind("<Return>", lambda _e: self.load_from_field())
        self.path_entry.bind("<KP_Enter>", lambda _e: self.load_from_field())
        go = tk.Button(row, text="Load", command=self.load_from_field, name="load_path")
        go.pack(side="left")
        Tooltip(
            self.path_entry, "Type or paste paths (or file:// links), then Enter  \u2014  Ctrl+L"
        )
        self._tcl_set("path_entry", str(self.path_entry))
        self.drop_note = tk.Label(frame, text="", bg=PANEL_BG, fg="#b8c0c8", font=("Helvetica", 8),
                                  wraplength=130, justify="left")  # fmt: skip
        self.drop_note.pack(fill="x", pady=(2, 0))
        self.feeder_state = tk.Label(frame, text="", bg=PANEL_BG, fg=PANEL_FG, font=self.key_font,
                                     justify="left", anchor="w", name="state")  # fmt: skip
        self.feeder_state.pack(fill="x", pady=(4, 2))
        self.feeder_list = ThumbnailList(frame, height=300, name="pages")
        self.feeder_list.pack(fill="both", expand=True)
        self.feeder_frame = frame
        self.drop_enabled = self._enable_drop(frame)

    def _enable_drop(self, frame: tk.Misc) -> bool:
        """Drag and drop from a file manager through the tkdnd Tcl extension when it is there
        (Debian: tkdnd); Tk alone cannot take drops."""
        try:
            self.root.tk.call("package", "require", "tkdnd")
        except tk.TclError:
            self.drop_note.configure(
                text="Drag and drop needs the tkdnd Tcl package; paste paths above."
            )
            return False
        command = self.root.register(self._dropped)
        for widget in (frame, self.feeder_list.canvas, self.feeder_list.inner):
            self.root.tk.call("tkdnd::drop_target", "register", widget, "DND_Files")
            self.root.tk.call("bind", widget, "<<Drop:DND_Files>>", f"{command} %D")
        self.drop_note.configure(text="or drop files here")
        self._tcl_set("drop_target", str(frame))
        return True

    def _dropped(self, data: str) -> str:
        paths = [str(p) for p in self.root.tk.splitlist(data)]
        self.load_paths(paths)
        return "copy"

    def _build_tray(self, body: tk.Frame) -> None:
        frame = tk.LabelFrame(body, text="Output tray", name="tray", bg=PANEL_BG, fg=PANEL_FG,
                              padx=6, pady=4)  # fmt: skip
        frame.grid(row=0, column=2, sticky="ns", padx=(0, 8), pady=6)
        self.tray_count_label = tk.Label(frame, text="", bg=PANEL_BG, fg=PANEL_FG, font=self.key_font,
                                         anchor="w")  # fmt: skip
        self.tray_count_label.pack(fill="x")
        outputs = self.machine.outputs
        folder = (
            str(outputs.printed_dir.resolve()) if outputs is not None else "(not saved: no --out)"
        )
        tk.Label(frame, text="saved in:", bg=PANEL_BG, fg="#b8c0c8", font=("Helvetica", 8),
                 anchor="w").pack(fill="x")  # fmt: skip
        folder_field = tk.Entry(frame, width=16, name="folder")
        folder_field.insert(0, folder)
        folder_field.configure(state="readonly")
        folder_field.pack(fill="x")
        Tooltip(folder_field, folder)
        self._tcl_set("tray_folder", folder)
        self.cassette_label = tk.Label(frame, text="", bg=PANEL_BG, fg=PANEL_FG, font=self.key_font,
                                       anchor="w", justify="left")  # fmt: skip
        self.cassette_label.pack(fill="x", pady=(4, 2))
        self.tray_list = ThumbnailList(frame, height=300, name="sheets")
        self.tray_list.pack(fill="both", expand=True)

    def _build_status(self, root: tk.Tk) -> None:
        strip = tk.Frame(root, bg="#202326", name="status", padx=6, pady=3)
        strip.pack(side="bottom", fill="x")
        row = tk.Frame(strip, bg="#202326")
        row.pack(side="top", fill="x")
        self.status: dict[str, tk.Label] = {}
        for name in ("power", "line", "memory", "clock", "speed"):
            label = tk.Label(row, text="", bg="#202326", fg=PANEL_FG, font=("Helvetica", 9),
                             name=name)  # fmt: skip
            label.pack(side="left", padx=(0, 14))
            self.status[name] = label
        # The endpoint lines `run` printed at start (serial console, Class 1 modem, relay).
        endpoints = "    ".join(self.endpoint_lines) or "no serial endpoint, no relay"
        label = tk.Label(strip, text=endpoints, bg="#202326", fg="#9fb7cf", font=("Helvetica", 9),
                         name="endpoints", anchor="w", justify="left", wraplength=900)  # fmt: skip
        label.pack(side="top", fill="x")
        self._tcl_set("status,endpoints", endpoints)
        self.message_label = tk.Label(root, text="", bg=PANEL_BG, fg="#ffd27f", anchor="w",
                                      font=("Helvetica", 9), name="message", padx=8)  # fmt: skip
        self.message_label.pack(side="bottom", fill="x")

    def _bind_shortcuts(self) -> None:
        self.root.bind("<KeyPress>", self._on_key)
        self.root.bind("<Control-o>", lambda _e: self._later(self.load_dialog))
        self.root.bind("<Control-q>", lambda _e: self.request_close())
        self.root.bind("<Control-l>", lambda _e: self.path_entry.focus_set())

    def _later(self, fn: Callable[[], None]) -> str:
        # Run after the current event: a modal dialog opened from a key binding would otherwise
        # hold the key's event handling open while it runs.
        self.root.after_idle(fn)
        return "break"

    # -- actions -----------------------------------------------------------------------------
    def send_step(self, text: str) -> None:
        """An action as a key-script step. A click while a key is still held (a `press` lasts
        100 ms of virtual time) waits its turn, as a second line typed at the prompt does."""
        if len(self.steps.pending) >= MAX_PENDING_STEPS:
            self.show_message(f"too many actions waiting; {text!r} ignored", True)
            return
        self.steps.send(text)

    def _step_done(self, text: str, step: Step | None, result: list[str] | None,
                   error: BaseException | None) -> None:  # fmt: skip
        if error is None:
            return
        if isinstance(error, ScriptError | ExpectationFailed):
            message = error.message
        else:
            message = str(error) or type(error).__name__
        # no step: the line did not parse, and the message says which line
        self.show_message(message if step is not None else f"{text}: {message}", True)

    def press(self, key: str) -> None:
        self.send_step(f"press {key}")

    def toggle_fault(self, name: str) -> None:
        var = self.fault_vars[name]
        want = var.get()
        var.set(name in self.active_faults)  # shown as it is until the machine says otherwise
        self.send_step(f"{'fault' if want else 'clear'} {name}")

    def fill_paper(self) -> None:
        printer = self.board.printer
        if printer is not None:
            self.send_step(f"paper {printer.capacity}")

    def power_cycle(self) -> None:
        self.send_step("power off")
        self.send_step("power on")

    def load_paths(self, paths: Sequence[str]) -> None:
        resolved = [str(Path(p).expanduser().absolute()) for p in paths if p]
        if resolved:
            self.send_step("adf load " + " ".join(quote(p) for p in resolved))

    def load_from_field(self) -> None:
        paths = parse_paths(self.path_entry.get())
        if paths:
            self.path_entry.delete(0, "end")
            self.load_paths(paths)
        self.root.focus_set()

    def load_dialog(self) -> None:
        """Tk's file dialog, with the machine and the console kept running while it is open."""
        if self.modal or self.closed:
            return
        self.modal = True
        self._pump_id = self.root.after(int(FRAME * 1000), self._pump_while_modal)
        try:
            chosen = filedialog.askopenfilenames(
                parent=self.root, title="Load documents",
                filetypes=[("Images", "*.png *.pbm *.pgm *.ppm *.tif *.tiff *.jpg *.jpeg"),
                           ("All files", "*")],
            )  # fmt: skip
        finally:
            self.modal = False
            if self._pump_id is not None:
                self.root.after_cancel(self._pump_id)
                self._pump_id = None
        if chosen:
            self.load_paths([str(p) for p in self.root.tk.splitlist(chosen)])

    def _pump_while_modal(self) -> None:
        self._pump_id = None
        if not self.modal or self.closed:
            return
        if self.runner.stopping:
            # Shutting down: cancel the dialog so the runner's loop gets its turn to end.
            self.root.tk.eval("set ::tk::Priv(selectFilePath) {}")
            return
        self.runner.run_once()
        self._pump_id = self.root.after(1, self._pump_while_modal)

    def request_close(self) -> None:
        """Closing the window stops the run as SIGTERM does (the runner's loop ends, then
        `estudio190f run` shuts down cleanly and closes the window)."""
        self.runner.stop()
        if self.modal:
            self.root.tk.eval("set ::tk::Priv(selectFilePath) {}")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._on_idle in self.runner.idle_hooks:
            self.runner.idle_hooks.remove(self._on_idle)
        if self._restored in self.sim.restored:
            self.sim.restored.remove(self._restored)
        if self._on_event in self.board.log.listeners:
            self.board.log.listeners.discard(self._on_event)
        printer = self.board.printer
        if printer is not None and self._on_delivered in printer.delivery_listeners:
            printer.delivery_listeners.discard(self._on_delivered)
        try:
            self.root.destroy()
        except tk.TclError:
            pass

    def show_message(self, text: str, error: bool = False) -> None:
        if self.closed:
            return
        self.message_label.configure(text=text, fg="#ff8a80" if error else "#ffd27f")
        self._tcl_set("message", text)
        if self._message_id is not None:
            self.root.after_cancel(self._message_id)
        self._message_id = self.root.after(MESSAGE_TIME_MS, self._clear_message)

    def _clear_message(self) -> None:
        self._message_id = None
        self.message_label.configure(text="")
        self._tcl_set("message", "")

    def show_shortcuts(self) -> None:
        top = tk.Toplevel(self.root)
        top.title("Keyboard shortcuts")
        lines = [f"{shown:<12} {key}" for key, (_, shown) in SHORTCUTS.items()]
        lines += ["", "Ctrl+O       load documents", "Ctrl+L       the path field",
                  "Ctrl+Q       quit (a clean shutdown)"]  # fmt: skip
        text = tk.Text(top, width=40, height=len(lines) + 1, font=("Courier", 10))
        text.insert("1.0", "\n".join(lines))
        text.configure(state="disabled")
        text.pack()

    # -- keyboard -----------------------------------------------------------------------------
    def _on_key(self, event: tk.Event) -> str | None:
        if isinstance(event.widget, tk.Entry | tk.Text):
            return None  # typing in the path field
        if int(event.state) & (0x0004 | 0x0008):  # Control, Alt: menus and accelerators
            return None
        key = KEYSYM_TO_KEY.get(event.keysym)
        if key is None:
            return None
        self.press(key)
        return "break"

    # -- what the machine tells ------------------------------------------------------------------
    def _on_event(self, event: dict[str, Any]) -> None:
        src = event.get("src")
        if src == "fault":
            name = str(event.get("fault"))
            if event.get("ev") == "set":
                self.active_faults.add(name)
            elif event.get("ev") == "clear":
                self.active_faults.discard(name)
        elif src == "t30" and event.get("ev") == "carrier" and event.get("up"):
            self.line_speed = str(event.get("modulation", "")).replace("/", " ")

    def _on_delivered(self, sheet: Any) -> None:
        # The output writer listens first (it was attached when the machine was built), so the
        # sheet's PNG is on disk now, and the last one it saved.
        outputs = self.machine.outputs
        path = outputs.last_printed if outputs is not None else None
        self.tray_sheets.append(TraySheet(sheet, path))
        del self.tray_sheets[:-100]  # the tray holds what the printer's tray holds

    # -- drawing -----------------------------------------------------------------------------
    def _on_idle(self) -> None:
        if self.closed:
            return
        now = time.monotonic()
        if now < self._next_frame:
            return
        self._next_frame = now + FRAME
        try:
            if not self.modal:
                self.root.update()  # clicks and keys: their steps start now
            if self.closed:
                return
            self.refresh()  # what they (and the clock) changed, drawn in the same frame
            self.root.update_idletasks()
        except tk.TclError:
            # The window is gone (destroyed under us): stop as if it had been closed.
            self.closed = True
            self.runner.stop()

    def refresh(self) -> None:
        self._draw_lcd()
        self._draw_leds()
        self._draw_feeder()
        self._draw_tray()
        self._draw_status()
        self._sync_faults()

    def _changed(self, part: str, value: Any) -> bool:
        if self._shown.get(part) == value:
            return False
        self._shown[part] = value
        return True

    def _tcl_set(self, name: str, value: str) -> None:
        if self._tcl.get(name) != value:
            self._tcl[name] = value
            self.root.setvar(f"{TCL_ARRAY}({name})", value)

    def _draw_lcd(self) -> None:
        lines = tuple(self.board.panel.lcd.lines)
        powered = bool(self.board.powered)
        if not self._changed("lcd", (lines, powered)):
            return
        self.lcd_photo.paste(render_lcd(lines, powered))
        self._tcl_set("lcd1", lines[0].rstrip() if powered else "")
        self._tcl_set("lcd2", lines[1].rstrip() if powered else "")

    def _draw_leds(self) -> None:
        powered = bool(self.board.powered)
        for name in LED_NAMES:
            led = self.board.panel.leds[name]
            lit = powered and led.lit()
            if self._changed(f"led,{name}", lit):
                lit_colour, dark_colour = LED_COLOURS[name]
                self.led_canvas[name].itemconfigure("lamp", fill=lit_colour if lit else dark_colour)
            self._tcl_set(f"led,{name}", led.state if powered else "off")

    def _draw_feeder(self) -> None:
        feeder = self.board.feeder
        waiting = list(feeder.tray)
        travel = feeder.travel
        in_path = travel.sheet if travel is not None else None
        jammed = "adf.jam" in self.active_faults
        stuck = travel is not None and travel.stall_at is not None
        sheets = [*( [in_path] if in_path is not None else [] ), *waiting]  # fmt: skip
        ready = sum(1 for s in sheets if s in self._feeder_thumbs)
        budget = THUMBS_PER_FRAME
        for sheet in sheets:
            if budget == 0:
                break
            if sheet not in self._feeder_thumbs:
                self._feeder_thumbs[sheet] = self._sheet_thumbnail(sheet)
                budget -= 1
        state = (tuple(id(s) for s in waiting), id(in_path), len(feeder.out_tray),
                 feeder.cover_closed, jammed, stuck, ready)  # fmt: skip
        if not self._changed("feeder", state):
            return
        for sheet in [s for s in self._feeder_thumbs if s not in sheets]:
            del self._feeder_thumbs[sheet]
        words = [f"{len(waiting)} page{'s' if len(waiting) != 1 else ''} waiting"]
        if in_path is not None:
            words.append(f"in the path: {in_path.name}")
        words.append("cover closed" if feeder.cover_closed else "COVER OPEN")
        if jammed or stuck:
            words.append("DOCUMENT JAM")
        if feeder.out_tray:
            words.append(f"{len(feeder.out_tray)} read, in the exit tray")
        self.feeder_state.configure(
            text="\n".join(words), fg="#ff8a80" if (jammed or stuck) else PANEL_FG
        )
        self._tcl_set("feeder_count", str(len(waiting)))
        self._tcl_set("feeder_state", "; ".join(words))
        entries = []
        for position, sheet in enumerate(sheets):
            image = self._feeder_thumbs.get(sheet)
            if image is None:
                continue
            if sheet is in_path:
                caption = "feeding" + (" \u2014 JAM" if stuck else "")
            else:
                caption = f"{position + (0 if in_path is not None else 1)}. {sheet.name}"
            entries.append((image, caption[:18], lambda s=sheet: self._view_original(s)))
        self.feeder_list.show(entries)
        self._tcl_set("feeder_pages", "\n".join(caption for _, caption, _ in entries))

    def _sheet_thumbnail(self, sheet: Any) -> ImageTk.PhotoImage:
        if not sheet.readable:
            return ImageTk.PhotoImage(
                unreadable_thumbnail(sheet.problem or "unreadable"), master=self.root
            )
        return ImageTk.PhotoImage(thumbnail(sheet.band_image(0, sheet.rows)), master=self.root)

    def _view_original(self, sheet: Any) -> None:
        if not sheet.readable:
            self.show_message(f"{sheet.name}: {sheet.problem}", True)
            return
        image = sheet.band_image(0, sheet.rows)
        self.viewers.append(
            SheetViewer(
                self.root,
                image,
                f"Original {sheet.name}",
                f"{sheet.name}: {sheet.width_mm:.0f} x {sheet.length_mm:.0f} mm",
            )
        )

    def _draw_tray(self) -> None:
        printer = self.board.printer
        newest = self.tray_sheets[-1].sheet.number if self.tray_sheets else 0
        cassette = (printer.sheets, printer.paper_size, printer.cover_closed)
        if self._changed("cassette", cassette):
            self.cassette_label.configure(
                text=f"cassette: {printer.sheets} sheets ({printer.paper_size})"
                + ("" if printer.cover_closed else "\nCOVER OPEN")
            )
        if not self._changed("tray", (len(self.tray_sheets), newest)):
            return
        entries = []
        for item in reversed(self.tray_sheets):  # newest on top
            image = self._tray_thumbs.get(item)
            if image is None:
                image = self._tray_thumbs[item] = ImageTk.PhotoImage(thumbnail(item.sheet.image()),
                                                                master=self.root)  # fmt: skip
            caption = item.path.name if item.path is not None else f"sheet {item.sheet.number}"
            entries.append((image, caption, lambda it=item: self._view_printed(it)))
        keep = set(self.tray_sheets)
        for key in [k for k in self._tray_thumbs if k not in keep]:
            del self._tray_thumbs[key]
        self.tray_list.show(entries)
        count = len(self.tray_sheets)
        self.tray_count_label.configure(text=f"{count} sheet{'s' if count != 1 else ''} printed")
        self._tcl_set("tray_count", str(count))
        newest_item = self.tray_sheets[-1] if self.tray_sheets else None
        self._tcl_set(
            "tray_newest", str(newest_item.path) if newest_item and newest_item.path else ""
        )
        self._tcl_set(
            "tray_newest_widget", str(self.tray_list.items[0]) if self.tray_list.items else ""
        )

    def _view_printed(self, item: TraySheet) -> None:
        name = item.path.name if item.path is not None else f"sheet {item.sheet.number}"
        note = str(item.path) if item.path is not None else "not saved (no --out)"
        self.viewers.append(
            SheetViewer(self.root, item.sheet.image(), f"Printed sheet {name}", note)
        )

    def _draw_status(self) -> None:
        board = self.board
        now = time.monotonic()
        texts = {
            "power": "POWER on" if board.powered else "POWER off",
            "line": "LINE " + self._line_text(),
            "clock": "CLOCK " + board.rtc.now().strftime("%m-%d-%Y %H:%M:%S"),
            "speed": "SPEED " + speed_text(self.runner.speed),
        }
        if now >= self._memory_at:
            self._memory_at = now + MEMORY_EVERY
            self._memory_text = "MEMORY " + self._memory_use()
        texts["memory"] = self._memory_text
        for name, text in texts.items():
            if self._changed(f"status,{name}", text):
                self.status[name].configure(text=text)
                self._tcl_set(f"status,{name}", text)
        if now >= self._directory_at:
            self._directory_at = now + DIRECTORY_EVERY
            self._draw_one_touch_names()

    def _line_text(self) -> str:
        line = self.board.line
        if line is None:
            return "no line"
        state = str(getattr(line, "state", "idle"))
        if state == "idle":
            self.line_speed = ""
        if state == "connected" and self.line_speed:
            return f"connected, {self.line_speed}"
        return state.replace("_", " ")

    def _memory_use(self) -> str:
        paper = getattr(self.firmware, "paper", None)
        memory = getattr(paper, "memory", None)
        if memory is None:
            return "n/a"
        used, capacity = memory.used, memory.capacity
        pages = memory.count()
        percent = 100.0 * used / capacity if capacity else 0.0
        return (f"{pages} page{'s' if pages != 1 else ''}, {used // 1024} of {capacity // 1024} KB "
                f"({percent:.0f} %)")  # fmt: skip

    def _draw_one_touch_names(self) -> None:
        names = {
            f"ONE_TOUCH_{e.slot:02d}": e.name for e in self.firmware.directory.entries("one_touch")
        }
        if not self._changed("one_touch", names):
            return
        for key, label in self.one_touch_names.items():
            label.configure(text=names.get(key, "")[:10])

    def _sync_faults(self) -> None:
        for name, var in self.fault_vars.items():
            on = name in self.active_faults
            if var.get() != on:
                var.set(on)
        if self._changed("fault_menu", "ready"):
            menu = self.menus["faults"]
            for index, name in enumerate(FAULT_NAMES):
                available = self.board.faults.available(name)
                menu.entryconfigure(index, state="normal" if available else "disabled")
        self._tcl_set("faults", " ".join(sorted(self.active_faults)))


def open_window(sim: Simulation, runner: Runner, interp: Interpreter,
                endpoint_lines: Sequence[str] = ()) -> PanelWindow | None:  # fmt: skip
    """Open the window on `sim`'s main machine, driven by `runner`; None when Tk cannot start
    (no display, no X server, a Tk without its libraries): `run` then takes steps at the prompt."""
    try:
        root = tk.Tk(className="Estudio190f")
    except tk.TclError as exc:
        print(f"estudio190f run: no window ({exc}); steps are taken at the prompt", file=sys.stderr)
        return None
    try:
        root.tk.call("tk", "appname", APP_NAME)
        return PanelWindow(root, sim, runner, interp, endpoint_lines)
    except Exception:
        root.destroy()
        raise
