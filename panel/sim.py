"""A simulation: one virtual clock, the phone network, and the machines on it.

`Machine` is the facade the operator's side uses (keys, feeder, faults, power, queries); it
builds one board, the firmware on it, the output writer, and applies a settings file over NVRAM.
`Simulation` holds the clock and every machine; the key-script interpreter, the pytest plugin,
the console and the window all work through it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from estudio190f.firmware.directory import Directory, Entry
from estudio190f.firmware.machine import Firmware
from estudio190f.firmware.settings import (
    BY_KEY,
    Settings,
    SettingsFile,
    Value,
    load_settings_file,
)
from estudio190f.hw.board import Board
from estudio190f.hw.clock import SECOND, Clock
from estudio190f.hw.line import LineInterface, PhoneNetwork
from estudio190f.hw.rtc import FACTORY_TIME

from .outputs import OutputWriter

if TYPE_CHECKING:
    import numpy as np

    from estudio190f.hw.audio_call import AudioCarriage
    from estudio190f.hw.audio_line import LoopImpairments
    from estudio190f.hw.iax2_route import Iax2Trunk

    from .recordings import CallRecordings

LINE_MODES = ("signal", "audio")


class FarEnd(Protocol):
    """A station on the line that is not one of our machines (`device NAME NUMBER spandsp`):
    it answers calls by itself, and sends a document when told (`on NAME send NUMBER FILE`)."""

    number: str

    def send(self, number: str, document: Path) -> None:
        """Call `number` and send `document` (a TIFF file)."""

    def close(self) -> None: ...


BOOT_LIMIT = 120 * SECOND


class Machine:
    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        number: str | None = None,
        state_dir: Path | None = None,
        out_dir: Path | None = None,
        settings_file: SettingsFile | None = None,
    ) -> None:
        self.sim = sim
        self.name = name
        self.board = Board(sim.clock, name if name != "main" else "", state_dir, sim.seed)
        self._apply_settings(Settings(self.board.nvram), settings_file, number)
        sim.network.attach(self.board, self.number)
        self.firmware = Firmware(self.board)
        self.firmware.settings.listeners.add(self._setting_changed)
        self.outputs = OutputWriter(out_dir, self.board) if out_dir else None
        if self.outputs is not None:
            self.outputs.follow_fax(self.firmware.fax)

    # -- set-up ---------------------------------------------------------------------------
    def _apply_settings(
        self, settings: Settings, settings_file: SettingsFile | None, number: str | None
    ) -> None:
        self.start_clock: datetime | None = None
        self.smtp_explicit = False
        if settings_file is not None:
            directory = Directory(self.board.nvram)
            with self.board.nvram.transaction():
                for key, value in settings_file.values.items():
                    settings.set(key, value)
                for spec in settings_file.entries:
                    directory.put(Entry(spec.kind, spec.slot, spec.name, spec.fax, spec.email))
            self.start_clock = settings_file.clock
            self.smtp_explicit = "smtp.host" in settings_file.values
            self.board.log.emit(
                "settings",
                "file_applied",
                path=settings_file.path,
                keys=sorted(settings_file.values),
            )
        if number is not None:
            settings.set("machine.number", number)

    def _setting_changed(self, key: str, value: Value | None) -> None:
        """The line follows the machine's number (FUNCTION 2 1, or a factory reset); the machine
        under test's line mode is the simulation's."""
        if key in ("line.mode", "*") and self.sim.machines.get("main") is self:
            self.sim.line_mode_changed(self)
        line = self.board.line
        network = self.sim.network
        if key not in ("machine.number", "*") or line is None:
            return
        number = self.number
        if number == line.number:
            return
        try:
            network.renumber(line, number)
        except ValueError as exc:
            self.board.log.emit("line", "renumber_refused", number=number, reason=str(exc))

    @property
    def number(self) -> str:
        return str(
            self.board.nvram.get("settings", "machine.number", BY_KEY["machine.number"].default)
        )

    # -- operator actions -------------------------------------------------------------------
    def press(self, key: str) -> None:
        self.board.panel.keys.press(key)

    def release(self, key: str) -> None:
        self.board.panel.keys.release(key)

    def power(self, on: bool) -> None:
        if on:
            self.board.power_on()
        else:
            self.board.power_off()

    def set_clock(self, when: datetime) -> None:
        self.firmware.panel.set_clock(when)

    def fault(self, name: str, on: bool) -> None:
        if on:
            self.board.faults.set(name)
        else:
            self.board.faults.clear(name)

    def load_documents(self, paths: list[Path]) -> None:
        from .documents import load_sheets  # the edge that reads image files

        sheets = []
        for path in paths:
            sheets.extend(load_sheets(path))
        self.board.feeder.load(sheets)

    def load_paper(self, count: int) -> None:
        self.board.printer.load_paper(count)

    # -- what the operator sees --------------------------------------------------------------
    def lcd_lines(self) -> list[str]:
        return [line.rstrip() for line in self.board.panel.lcd.lines]

    def leds(self) -> dict[str, str]:
        return self.board.panel.led_states()

    def state(self) -> str:
        return self.firmware.state_path()

    def printed_count(self) -> int:
        return self.board.printer.delivered_count()

    def ready(self) -> bool:
        return self.firmware.panel.running and self.board.printer.warmed_up


class Simulation:
    def __init__(
        self,
        *,
        seed: int = 0,
        out_dir: Path | None = None,
        state_dir: Path | None = None,
        settings_file: SettingsFile | Path | None = None,
        number: str | None = None,
        start_time: datetime = FACTORY_TIME,
        boot: bool = True,
        line: str | None = None,
        iax2: tuple[str, int] | None = None,
    ) -> None:
        """`line` ("signal" or "audio") wins over the settings' `line.mode` (as `--line` does);
        the audio line needs SpanDSP (`SpanDspMissing` says what to install). `iax2` (host,
        port) opens the PBX trunk there (`run --iax2`); `[line.peers]` iax2 numbers open it on
        a loopback port of the system's choosing if not."""
        if line is not None and line not in LINE_MODES:
            raise ValueError(f"the line is signal or audio, not {line!r}")
        self.clock = Clock()
        self.seed = seed
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.start_time = start_time
        self.network = PhoneNetwork(self.clock)
        self.machines: dict[str, Machine] = {}
        self.relay: Any = None
        self.closers: list[Callable[[], None]] = []
        self.devices: dict[str, FarEnd] = {}  # far ends that are not machines, by name
        self.audio: AudioCarriage | None = None  # the audio line, once a call needs it
        self.recordings: dict[LineInterface, CallRecordings] = {}  # where each line's calls go
        self.line_mode = "signal"
        self._starting = True
        self.iax2: Iax2Trunk | None = None  # the PBX trunk, when there is one
        if isinstance(settings_file, Path):
            settings_file = load_settings_file(settings_file)
        self.peers = dict(settings_file.peers) if settings_file is not None else {}
        self.main = self.add_machine(
            "main", number=number, state_dir=self.state_dir, out_dir=self.out_dir,
            settings_file=settings_file, boot=boot,
        )  # fmt: skip
        if line is not None and self.main.firmware.settings.text("line.mode") != line:
            self.main.firmware.settings.set("line.mode", line)  # the listener sets the mode
        else:
            self.line_mode_changed(self.main)
        if iax2 is not None or any(peer.kind == "iax2" for peer in self.peers.values()):
            self.start_iax2(*(iax2 or ("127.0.0.1", 0)))
        self._starting = False

    def add_machine(
        self,
        name: str,
        *,
        number: str | None = None,
        state_dir: Path | None = None,
        out_dir: Path | None = None,
        settings_file: SettingsFile | None = None,
        boot: bool = True,
    ) -> Machine:
        if name in self.machines or name in self.devices:
            raise ValueError(f"a machine named {name!r} exists already")
        if out_dir is None and self.out_dir is not None and name != "main":
            out_dir = self.out_dir / name
        machine = Machine(
            self,
            name,
            number=number,
            state_dir=state_dir,
            out_dir=out_dir,
            settings_file=settings_file,
        )
        self.machines[name] = machine
        self.point_at_relay(machine)
        if boot:
            self.boot(machine)
        return machine

    # -- the audio line ---------------------------------------------------------------------------
    def line_mode_changed(self, main: Machine) -> None:
        """The machine under test's `line.mode` is the simulation's: calls placed from now on
        travel that way. The audio line needs SpanDSP: SpanDspMissing at start, else the change
        is refused (the event log says why) and calls stay on the signal line."""
        from estudio190f.hw.spandsp import SpanDspMissing

        mode = main.firmware.settings.text("line.mode")
        if mode == self.line_mode:
            return
        if mode == "audio":
            try:
                self.audio_line().mode = "audio"
            except SpanDspMissing as exc:
                if self._starting:
                    raise  # at start: whoever starts the simulation says it in one line
                main.board.log.emit("line", "mode_refused", mode=mode, reason=str(exc))
                return
        elif self.audio is not None:
            self.audio.mode = mode
        self.line_mode = mode
        main.board.log.emit("line", "mode", mode=mode)

    def audio_line(self) -> AudioCarriage:
        """The exchange's audio carriage (made the first time: SpanDSP loaded then)."""
        if self.audio is None:
            from estudio190f.hw.audio_call import AudioCarriage
            from estudio190f.hw.spandsp import load_spandsp

            load_spandsp()
            self.audio = AudioCarriage(self.network, mode=self.line_mode, seed=self.seed,
                                       loop_of=self._loop_of)  # fmt: skip
            self.audio.recordings.add(self._recorded)
        return self.audio

    def start_iax2(self, host: str = "127.0.0.1", port: int = 0) -> Iax2Trunk:
        """The PBX trunk on UDP at host:port (docs/iax2.md): its peers call this simulation's
        numbers, and the `[line.peers]` iax2 numbers are called through it. Its calls are carried
        as sound, so it needs SpanDSP (SpanDspMissing otherwise); OSError if the port is taken."""
        if self.iax2 is None:
            import random
            import socket

            from estudio190f.hw.iax2_route import Iax2Trunk

            self.audio_line()
            trunk = Iax2Trunk(self.network, host=host, port=port, log=self.main.board.log,
                              rng=random.Random(f"{self.seed}:iax2"))  # fmt: skip
            self.iax2 = trunk
            self.closers.append(trunk.close)
            for number, peer in self.peers.items():
                if peer.kind == "iax2":
                    trunk.map(number, (socket.gethostbyname(peer.host), peer.port))
        return self.iax2

    def record_calls(self, line: LineInterface, folder: Path | None) -> None:
        """Write the calls of `line` (a station without a board: a SpanDSP device) there."""
        from .recordings import CallRecordings

        if folder is not None:
            self.recordings[line] = CallRecordings(folder / "calls")

    def _loop_of(self, line: LineInterface) -> LoopImpairments:
        """A station's local loop on the audio line, from its settings."""
        from estudio190f.hw.audio_call import default_loop
        from estudio190f.hw.audio_line import LoopImpairments

        machine = next((m for m in self.machines.values() if m.board.line is line), None)
        if machine is None:
            return default_loop(line)
        settings = machine.firmware.settings
        echo_ms = settings.number("line.echo_ms")
        return LoopImpairments(
            snr_db=float(settings.number("line.snr_db")) if line.noise else None,
            attenuation_db=float(settings.number("line.attenuation_db")),
            echo_delay_ms=float(echo_ms),
            echo_db=float(settings.number("line.echo_db")) if echo_ms else None,
        )

    def _recorded(self, line: LineInterface, samples: np.ndarray) -> None:
        recordings = self.recordings.get(line)
        if recordings is None:
            machine = next((m for m in self.machines.values() if m.board.line is line), None)
            if machine is None or machine.outputs is None:
                return
            from .recordings import CallRecordings

            recordings = self.recordings[line] = CallRecordings(machine.outputs.dir / "calls")
        path = recordings.save(samples)
        machine = next((m for m in self.machines.values() if m.board.line is line), None)
        if machine is not None:
            machine.board.log.emit(
                "line", "recorded", file=path.name, seconds=round(samples.shape[0] / 8000, 2)
            )

    def boot(self, machine: Machine) -> None:
        """Power on and run until standby and warmed up; then set the machine's clock."""
        machine.power(True)
        self.clock.advance(BOOT_LIMIT, stop=machine.ready)
        if not machine.ready():
            raise RuntimeError(f"machine {machine.name} did not reach standby: {machine.state()}")
        machine.set_clock(machine.start_clock or self.start_time)
        self.clock.run_due()

    def start_relay(self, maildir: Path | None = None) -> Any:
        """Start the embedded loopback relay and point every machine's scan-to-email at it.

        A machine whose settings file names an SMTP host keeps it. `relay.down` takes the relay
        off the air (connections refused); `clear relay.down` brings it back on the same port.
        """
        import tempfile

        from .relay import DEFAULT_USER, EmbeddedRelay

        if maildir is None:
            holder = tempfile.TemporaryDirectory(prefix="estudio190f-mail-")
            self.closers.append(holder.cleanup)
            maildir = Path(holder.name) / "mail"
        user, password = DEFAULT_USER
        relay = EmbeddedRelay(maildir, {user: password}).start()
        self.relay = relay
        self.closers.append(relay.stop)
        for machine in self.machines.values():
            self.point_at_relay(machine)
        return relay

    def _retry_mail(self) -> None:
        """The relay is back: every machine tries its queued e-mail now."""
        for machine in self.machines.values():
            machine.firmware.email.engine.retry_now()

    def point_at_relay(self, machine: Machine) -> None:
        from .relay import DEFAULT_USER

        if self.relay is None:
            return
        # `relay.down` is a fault of the one relay every machine uses; clearing it brings the relay
        # back on the same port and retries every machine's queue.
        self.relay.attach_fault(machine.board.faults, on_up=self._retry_mail)
        if machine.smtp_explicit:
            return
        settings = machine.firmware.settings
        with machine.board.nvram.transaction():
            for key, value in (
                ("smtp.host", "127.0.0.1"), ("smtp.port", self.relay.port), ("smtp.security", "none"),
                ("smtp.auth", "cram-md5"), ("smtp.user", DEFAULT_USER[0]),
                ("smtp.password", DEFAULT_USER[1]),
            ):  # fmt: skip
                settings.set(key, value)

    def machine(self, name: str | None) -> Machine:
        if name is None or name == "main":
            return self.main
        try:
            return self.machines[name]
        except KeyError:
            raise KeyError(
                f"no machine named {name!r} (declare it with: device {name} NUMBER)"
            ) from None

    def close(self) -> None:
        for device in self.devices.values():
            device.close()
        for closer in reversed(self.closers):
            closer()
        self.closers.clear()
        for machine in self.machines.values():
            if machine.outputs is not None:
                machine.outputs.close()
