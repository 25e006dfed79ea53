"""A simulation: one virtual clock, the phone network, and the machines on it.

`Machine` is the facade the operator's side uses (keys, feeder, faults, power, queries); it
builds one board, the firmware on it, the output writer, and applies a settings file over NVRAM.
`Simulation` holds the clock and every machine; the key-script interpreter, the pytest plugin,
the console and the window all work through it. `save(path)` and `load(path)` / `restore(path)`
take a whole simulation to a snapshot file and back (`panel.snapshot`, docs/snapshots.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
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
from estudio190f.hw.clock import SECOND, Clock, Timer
from estudio190f.hw.line import LineInterface, PhoneNetwork
from estudio190f.hw.rtc import FACTORY_TIME
from estudio190f.hw.second_line import SecondLine

from .allocator import keep_freed_memory
from .outputs import OutputWriter

if TYPE_CHECKING:
    import numpy as np

    from estudio190f.firmware.settings import Peer
    from estudio190f.hw.audio_call import AudioCarriage
    from estudio190f.hw.audio_line import LoopImpairments
    from estudio190f.hw.iax2_route import Iax2Trunk
    from estudio190f.hw.t38_route import T38Settings, UdpT38Route
    from estudio190f.hw.udp_port import Address

    from .call_capture import CallCaptureFile
    from .recordings import CallRecordings
    from .snapshot import Restored, SnapshotInfo
    from .t38_device import SpanDspT38Device

LINE_MODES = ("signal", "audio")


class FarEnd(Protocol):
    """A station on the line that is not one of our machines (`device NAME NUMBER spandsp` or
    `spandsp-t38`): it answers calls by itself, and sends a document when told (`on NAME send
    NUMBER FILE`)."""

    number: str

    def send(self, number: str, document: Path) -> None:
        """Call `number` and send `document` (a TIFF file)."""

    def close(self) -> None: ...


BOOT_LIMIT = 120 * SECOND

# Who follows every machine of this process as it is made or restored (coverage recording).
MACHINE_WATCHERS: list[Callable[[Machine], None]] = []


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
        # The battery-backed clock runs while the machine is off: it reads the simulation's
        # time from the start, so what the machine journals while it boots has the right time.
        main = sim.machines.get("main")
        self.board.rtc.set(self.start_clock or (main.board.rtc.now() if main else sim.start_time))
        sim.network.attach(self.board, self.number)
        self.second_line = SecondLine(self.board, sim.network)
        self._fit_second_line()
        self.firmware = Firmware(self.board)
        self.firmware.settings.listeners.add(self._setting_changed)
        self.outputs: OutputWriter | None = None
        if out_dir:
            self._open_outputs(out_dir)

    def _open_outputs(self, out_dir: Path) -> OutputWriter:
        self.outputs = OutputWriter(out_dir, self.board)
        self.outputs.follow_fax(self.firmware.fax)
        return self.outputs

    # -- snapshots (panel.snapshot) -----------------------------------------------------------
    def detach(self) -> None:
        """Before a restore replaces this machine's state: its output writer closed, its SMTP
        connections dropped, its NVRAM closed."""
        if self.outputs is not None:
            self.outputs.close()
            self.outputs = None
        for link in list(self.board.lan.links):
            link.close()
        self.board.nvram.close()

    def attach(self, numbering: tuple[int, int] | None) -> None:
        """After a restore: the output folder (--out, or --out/NAME for a device) is written
        again, its files numbered on from the snapshot's."""
        out_dir = self.sim.out_dir
        if out_dir is None:
            return
        outputs = self._open_outputs(out_dir if self.name == "main" else out_dir / self.name)
        if numbering is not None:
            outputs.continue_numbering(*numbering)

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

    def _fit_second_line(self) -> None:
        """The 2nd G3 option board is in the machine when `options.second_line` says so, at
        `machine.number2` on the line. A number taken on the network is refused (logged: the
        settings file refuses its own clash at start) and the board stays as it was."""
        nvram = self.board.nvram
        wanted = nvram.get("settings", "options.second_line", BY_KEY["options.second_line"].default)
        number = str(nvram.get("settings", "machine.number2", BY_KEY["machine.number2"].default))
        if wanted != "on":
            self.second_line.remove()
            return
        try:
            self.second_line.fit(number)
        except ValueError as exc:
            self.board.log.emit("line", "renumber_refused", number=number, reason=str(exc))

    def _setting_changed(self, key: str, value: Value | None) -> None:
        """The line follows the machine's number (FUNCTION 2 1, or a factory reset); the 2nd G3
        board follows its option setting and number; the machine under test's line mode is the
        simulation's."""
        if key in ("line.mode", "*") and self.sim.machines.get("main") is self:
            self.sim.line_mode_changed(self)
        line = self.board.line
        network = self.sim.network
        if key in ("options.second_line", "machine.number2", "*"):
            self._fit_second_line()
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
    # What a snapshot keeps of the simulation object itself (its machines, network and clock are
    # saved whole); out_dir, state_dir, the relay and the closers are the operator's side.
    SAVED = ("seed", "start_time")

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
        keep_freed_memory()  # page images freed are reused, not faulted in afresh (allocator.py)
        self.clock = Clock()
        self.clock.faults.add(self._event_fault)
        self.seed = seed
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.start_time = start_time
        self.network = PhoneNetwork(self.clock)
        self.machines: dict[str, Machine] = {}
        self.relay: Any = None
        self.relay_port_hint: int | None = None  # the relay's port when a snapshot was taken
        self.closers: list[Callable[[], None]] = []
        # Called after a snapshot was restored into this simulation: whoever listens to its
        # machines from the operator's side (a console, the prompt) attaches to them again.
        self.restored: list[Callable[[], None]] = []
        self.t38: UdpT38Route | None = None  # T.38 over UDP: the dial plan's peers, run --t38
        self.capture: CallCaptureFile | None = None  # --capture
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
        if settings_file is not None:
            self.route_t38_peers(settings_file.peers)
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
        for watcher in list(MACHINE_WATCHERS):
            watcher(machine)
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
        as sound, so it needs SpanDSP (SpanDspMissing otherwise); OSError if the port is taken or
        the host unknown, PeerError if a peer's name does not resolve."""
        if self.iax2 is None:
            import random

            from estudio190f.hw.iax2_route import Iax2Trunk
            from estudio190f.hw.udp_port import resolve_ipv4

            self.audio_line()
            trunk = Iax2Trunk(self.network, host=host, port=port, log=self.main.board.log,
                              rng=random.Random(f"{self.seed}:iax2"))  # fmt: skip
            self.iax2 = trunk
            self.closers.append(trunk.close)
            for number, peer in self.peers.items():
                if peer.kind == "iax2":
                    trunk.map(number, resolve_ipv4(peer.host, peer.port))  # PeerError
        return self.iax2

    def record_calls(self, line: LineInterface, folder: Path | None) -> None:
        """Write the calls of `line` (a station without a board: a SpanDSP device) there."""
        from .recordings import CallRecordings

        if folder is not None:
            self.recordings[line] = CallRecordings(folder / "calls")

    def machine_on(self, line: LineInterface) -> Machine | None:
        """The machine whose (first) line `line` is; None for a device's or a peer's."""
        return next((m for m in self.machines.values() if m.board.line is line), None)

    def _loop_of(self, line: LineInterface) -> LoopImpairments:
        """A station's local loop on the audio line, from its settings."""
        from estudio190f.hw.audio_call import default_loop
        from estudio190f.hw.audio_line import LoopImpairments

        machine = self.machine_on(line)
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
        machine = self.machine_on(line)
        recordings = self.recordings.get(line)
        if recordings is None:
            if machine is None or machine.outputs is None:
                return
            from .recordings import CallRecordings

            recordings = self.recordings[line] = CallRecordings(machine.outputs.dir / "calls")
        path = recordings.save(samples)
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
        A simulation restored from a snapshot asks for the port the relay had then (so the
        machines' events name the same port), and takes another if that one is taken.
        """
        import tempfile

        from .relay import DEFAULT_USER, EmbeddedRelay

        if maildir is None:
            holder = tempfile.TemporaryDirectory(prefix="estudio190f-mail-")
            self.closers.append(holder.cleanup)
            maildir = Path(holder.name) / "mail"
        user, password = DEFAULT_USER
        relay = None
        if self.relay_port_hint:
            try:
                relay = EmbeddedRelay(maildir, {user: password}, port=self.relay_port_hint).start()
            except (OSError, RuntimeError):
                relay = None
        if relay is None:
            relay = EmbeddedRelay(maildir, {user: password}).start()
        self.relay = relay
        self.closers.append(relay.stop)
        for machine in self.machines.values():
            self.point_at_relay(machine)
        self.relay_follows_faults()
        return relay

    def relay_follows_faults(self) -> None:
        """The relay is off the air while any machine has `relay.down` set (a restored one)."""
        if self.relay is None:
            return
        down = any("relay.down" in m.board.faults.active for m in self.machines.values())
        if down and self.relay.running:
            self.relay.down()
        elif not down and not self.relay.running:
            self.relay.up()

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

    def _event_fault(self, timer: Timer, error: Exception) -> None:
        """An exception in a clock event: the machine whose event it was deals with it (the main
        machine for an event of the line or the world around the machines)."""
        owner = next(
            (m for m in self.machines.values() if timer.owner is m.board.timers),
            self.machines.get("main"),
        )
        if owner is None:
            raise error
        owner.firmware.internal_fault(timer.label or getattr(timer.fn, "__qualname__", "?"), error)

    # -- T.38: routes, far ends, captures (docs/t38.md) ------------------------------------------
    def t38_settings(self, line: LineInterface) -> T38Settings:
        """The `t38.*` settings of the machine on `line` (the main machine's for any other
        station), for a T.38 session of its call."""
        from estudio190f.hw.t38_route import T38Settings

        settings = (self.machine_on(line) or self.main).firmware.settings
        return T38Settings.from_values(
            settings.number("t38.redundancy"), settings.number("t38.image_redundancy"),
            float(settings.text("t38.loss")), settings.number("t38.jitter"),
        )  # fmt: skip

    def t38_route(self) -> UdpT38Route:
        """The route to T.38 peers over UDP (made on first use; calls from peers ring main)."""
        if self.t38 is None:
            from estudio190f.hw.t38_route import UdpT38Route

            self.t38 = UdpT38Route(
                self.clock, self.network, settings_for=self.t38_settings,
                answer_number=lambda: self.main.number, log=self.main.board.log, seed=self.seed,
            )  # fmt: skip
            self.closers.append(self.t38.close)
        return self.t38

    def listen_t38(self, host: str = "127.0.0.1", port: int = 0) -> Address:
        """`run --t38 [HOST:]PORT`: T.38 sessions from peers there are calls to main."""
        return self.t38_route().listen(host, port)

    def route_t38_peers(self, peers: dict[str, Peer]) -> None:
        """`[line.peers]` of kind t38: dialling such a number opens a T.38 session to the peer.
        A host that does not resolve (to IPv4) is a `PeerError`."""
        from estudio190f.hw.udp_port import PeerError, resolve_ipv4

        for number, peer in peers.items():
            if peer.kind != "t38":
                continue
            address = resolve_ipv4(peer.host, peer.port)
            try:
                self.t38_route().add_peer(number, address)
            except ValueError as exc:
                raise PeerError(f"[line.peers] {number}: {exc}") from None

    def add_t38_device(self, name: str, number: str) -> SpanDspT38Device:
        """`device NAME NUMBER spandsp-t38`: SpanDSP's T.38 terminal at `number`."""
        import zlib

        from .t38_device import SpanDspT38Device

        if name in self.machines or name in self.devices:
            raise ValueError(f"a machine named {name!r} exists already")
        if number in self.network.lines or number in self.network.routes:
            raise ValueError(f"number {number} is taken on this network")
        device = SpanDspT38Device(
            self.clock, self.network, name, number, settings_for=self.t38_settings,
            out_dir=self.out_dir / name if self.out_dir is not None else None,
            seed=self.seed * 7919 + zlib.crc32(name.encode()),
        )  # fmt: skip
        self.devices[name] = device  # closed by close()
        return device

    def start_capture(self, path: Path, epoch: int | None = None) -> CallCaptureFile:
        """`--capture`: every call from now on, whatever carries it, into the pcap at `path`
        (`epoch`: µs since 1970 of the simulation's start; default its start time as UTC)."""
        from .call_capture import CallCaptureFile

        if self.capture is None:
            self.capture = CallCaptureFile(self, path, epoch)
            self.closers.insert(0, self.capture.close)  # closed last
        return self.capture

    def machine(self, name: str | None) -> Machine:
        if name is None or name == "main":
            return self.main
        if name in self.devices:
            raise KeyError(f"{name} is a far-end device, not a machine")
        try:
            return self.machines[name]
        except KeyError:
            raise KeyError(
                f"no machine named {name!r} (declare it with: device {name} NUMBER)"
            ) from None

    # -- snapshots -----------------------------------------------------------------------------
    def save(self, path: Path, printed_base: dict[str, int] | None = None) -> SnapshotInfo:
        """Write the whole simulation to a snapshot file (docs/snapshots.md); its header.
        `printed_base`: the sheets counted before a script began (`expect printed`)."""
        from .snapshot import save

        return save(self, Path(path), printed_base)

    def restore(self, path: Path) -> Restored:
        """Replace this simulation's state by a snapshot's: the clock, the network and every
        machine (objects keep their identity: the main machine is still `self.main`). Nothing
        changes if the file is refused (SnapshotError)."""
        from .snapshot import read_state, timer_of_operator

        saved = read_state(self, Path(path), partial(Machine.__new__, Machine))
        state = saved.state
        # The machines as they were: their edges are closed, their sockets dropped.
        for machine in self.machines.values():
            machine.detach()
        self.clock.load_state(state["clock"], carry=timer_of_operator)
        routes = self.network.routes
        self.network.__dict__.update(state["network"])
        self.network.routes = routes
        machines: dict[str, Machine] = {}
        for name, machine_state in state["machines"]:
            # The object of that name takes the saved state (a new one for a machine not there).
            machine = self.machines.get(name) or saved.fresh.get(name) or Machine.__new__(Machine)
            machine.__dict__.clear()
            machine.__dict__.update(machine_state)
            machine.sim = self
            machine.outputs = None
            machines[name] = machine
        self.machines = machines
        self.main = machines["main"]
        for key, value in state["simulation"].items():
            setattr(self, key, value)
        operator = state["operator"]
        self.relay_port_hint = operator["relay_port"]
        for name, machine in machines.items():
            machine.attach(operator["outputs"].get(name))
        if self.state_dir is not None:
            self.main.board.nvram.keep_in(self.state_dir)
        if self.relay is not None:
            for machine in machines.values():
                self.point_at_relay(machine)
            self.relay_follows_faults()
        for machine in machines.values():
            for watcher in list(MACHINE_WATCHERS):
                watcher(machine)
        for hook in list(self.restored):
            hook()
        for machine in machines.values():
            if machine.board.lan.drop_cut_links():
                machine.firmware.email.engine.retry_now()
        return saved.restored

    @classmethod
    def load(
        cls, path: Path, *, out_dir: Path | None = None, state_dir: Path | None = None
    ) -> Simulation:
        """A simulation from a snapshot file, writing its outputs under `out_dir` and keeping
        the main machine's NVRAM in `state_dir` when given (SnapshotError if refused)."""
        from .snapshot import read_header

        read_header(Path(path))  # refused before anything is made
        sim = cls(out_dir=out_dir, state_dir=state_dir, boot=False)
        try:
            sim.restore(Path(path))
        except BaseException:
            sim.close()
            raise
        return sim

    def close(self) -> None:
        for device in self.devices.values():
            device.close()
        for closer in reversed(self.closers):
            closer()
        self.closers.clear()
        for machine in self.machines.values():
            if machine.outputs is not None:
                machine.outputs.close()
