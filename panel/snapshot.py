"""Snapshots: a whole simulation in one file, and back (docs/snapshots.md).

What is saved is the simulation: every machine (board, firmware, NVRAM with image memory and the
mail queue, paper in the path, the output tray), the phone network with any call in progress,
the clock with its pending timers, the random generators and the event logs with their count.
What is not saved is the operator's side, which is not part of the simulation: the output
folder's writers, the relay, consoles, the window, a step in progress, anything listening from
outside (a listener is kept only when it belongs to `hw`, `firmware` or `panel.sim`). The
operator's side stays where it is across a restore and re-attaches itself (`Simulation.restored`).

The format (`FORMAT`): a line `estudio190f snapshot`, a line of JSON (the header: format, program,
build, the machines, the payload's size and SHA-256), then the payload: a pickle of the state,
zlib-compressed. A reader checks the magic, the format, the build that wrote it (a snapshot is read
by the build that wrote it; `ESTUDIO190F_SNAPSHOT_ANY_BUILD=1` tries anyway) and the checksum
before it unpickles anything, and unpickles only classes of the simulation's own modules and of
the few libraries its state is made of. That keeps out files that are not ours; it is not a
sandbox: a snapshot is trusted input, like a script.

Refused, with one line saying why: a call with a peer outside the process (T.38, IAX2), NVRAM in
the middle of a write, and anything of the outside world the simulation holds (a socket, SpanDSP's
C state, a Class 1 modem on a pty, an object of the operator's side). An SMTP session in progress
is saved as cut: its socket stays behind, and the restored machine hears the relay drop the
connection and tries again at once.

The anchors — the `Simulation`, its clock, the outside world, the phone network and each
`Machine` — are saved by name: a restore puts the saved state into the objects that are there,
so runners, consoles and drivers holding them go on with the restored machines.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import io
import json
import os
import pickle
import sys
import types
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from estudio190f import __version__
from estudio190f.hw.clock import Timer
from estudio190f.hw.faults import FaultRegistry
from estudio190f.hw.listeners import Listeners

if TYPE_CHECKING:
    from .sim import Machine, Simulation

MAGIC = b"estudio190f snapshot\n"
FORMAT = 1
HEADER_LIMIT = 64 * 1024  # bytes of the header line
FILE_MODE = 0o600  # a snapshot holds NVRAM, secrets included
PROTOCOL = 5
COMPRESSION = 1  # zlib level: pages compress well at the fastest level

# Modules whose objects make up a simulation; everything else is the operator's side or the
# outside world. A listener or a timer belongs to the simulation when its owner is from here.
SIMULATION_MODULES = ("estudio190f.hw.", "estudio190f.firmware.")
SIMULATION_PANEL_MODULES = ("estudio190f.panel.sim", "estudio190f.panel.snapshot")
# Modules whose classes a snapshot may hold (what its state is made of), beside the above.
LIBRARY_MODULES = (
    "numpy", "random", "_random", "collections", "datetime", "functools", "pathlib", "copyreg",
    "transitions", "enum", "zoneinfo", "_collections_abc",
)  # fmt: skip
BUILTINS = frozenset(
    {"set", "frozenset", "bytearray", "bytes", "complex", "slice", "range", "dict", "list",
     "tuple", "int", "float", "str", "bool", "getattr"}
)  # fmt: skip
ANY_BUILD = "ESTUDIO190F_SNAPSHOT_ANY_BUILD"


class SnapshotError(Exception):
    """A snapshot that cannot be taken or read; the message is one line saying why."""


# -- what belongs to the simulation ------------------------------------------------------------------


def _module_allowed(module: str) -> bool:
    return (
        module.startswith(SIMULATION_MODULES)
        or module in SIMULATION_PANEL_MODULES
        or module.split(".")[0] in LIBRARY_MODULES
    )


def _owner_module(fn: Any) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    if isinstance(fn, types.MethodType | types.BuiltinMethodType) and not isinstance(
        fn.__self__, types.ModuleType
    ):
        return type(fn.__self__).__module__
    if isinstance(fn, types.FunctionType | types.BuiltinFunctionType):
        return str(fn.__module__)
    return type(fn).__module__


def simulation_side(fn: Callable[..., Any]) -> bool:
    """Whether a listener or a timer's call belongs to the simulation (its owner is an object or a
    function of `hw`, `firmware` or `panel.sim`), rather than to the operator's side (an output
    writer, a console, a test) that a snapshot leaves out."""
    module = _owner_module(fn)
    return module.startswith(SIMULATION_MODULES) or module in SIMULATION_PANEL_MODULES


def _timer_of_simulation(timer: Timer) -> bool:
    return simulation_side(timer.fn)


def timer_of_operator(timer: Timer) -> bool:
    return not simulation_side(timer.fn)


# What an object of the outside world is, for the one line of a refusal.
def _outside_reason(kind: type) -> str:
    module, name = kind.__module__, kind.__qualname__
    if module.startswith("ctypes") or module.startswith("estudio190f.hw.spandsp"):
        return "SpanDSP's modem state lives in C (the audio line or a SpanDSP device)"
    if module in ("socket", "ssl", "_socket", "_ssl", "select", "selectors"):
        return f"a socket to the outside world ({module}.{name})"
    if module.startswith("estudio190f.panel.class1"):
        return "a Class 1 modem on a pty talks to a program outside the process"
    if module in ("_io", "io"):
        return f"an open file ({name})"
    if module.startswith("estudio190f.panel."):
        return f"an object of the operator's side ({module.removeprefix('estudio190f.')}.{name})"
    if module.startswith("threading") or module.startswith("_thread"):
        return f"a thread or a lock ({name})"
    return f"an object the simulation is not made of ({module}.{name})"


_FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType, type)
_CYTHON = ("cython_function_or_method", "fused_cython_function")


# -- writing -------------------------------------------------------------------------------------------


def _new_listeners(fns: tuple[Callable[..., None], ...]) -> Listeners[...]:
    listeners: Listeners[...] = Listeners()
    for fn in fns:
        listeners.add(fn)
    return listeners


def _new_object(kind: type, state: dict[str, Any]) -> Any:
    obj: Any = object.__new__(kind)
    obj.__dict__.update(state)
    return obj


class _Pickler(pickle.Pickler):
    """Anchors by name, the operator's listeners left out, the outside world refused."""

    def __init__(self, file: io.BytesIO, sim: Simulation) -> None:
        super().__init__(file, protocol=PROTOCOL)
        self.anchors: dict[int, tuple[str, ...]] = {
            id(sim): ("simulation",),
            id(sim.clock): ("clock",),
            id(sim.clock.outside): ("outside",),
            id(sim.network): ("network",),
        }
        for name, machine in sim.machines.items():
            self.anchors[id(machine)] = ("machine", name)
        for number, route in sim.network.routes.items():
            self.anchors.setdefault(id(route), ("route", number))
        self.verdicts: dict[type, str] = {}

    def persistent_id(self, obj: Any) -> tuple[str, ...] | None:
        anchor = self.anchors.get(id(obj))
        if anchor is not None:
            return anchor
        kind = type(obj)
        verdict = self.verdicts.get(kind)
        if verdict is None:
            if isinstance(obj, type) or kind in _FUNCTION_TYPES or kind.__name__ in _CYTHON:
                verdict = "by name"  # saved as a reference to its module: check that one
            elif _module_allowed(kind.__module__) or kind.__module__ in ("builtins", "pickle"):
                verdict = ""
            else:
                verdict = _outside_reason(kind)
            self.verdicts[kind] = verdict
        if verdict == "by name":
            module = str(getattr(obj, "__module__", "") or "")
            if module != "builtins" and not _module_allowed(module):
                verdict = _outside_reason(obj if isinstance(obj, type) else kind)
            else:
                return None
        if verdict:
            raise SnapshotError(verdict)
        return None

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is Listeners:
            return _new_listeners, (tuple(fn for fn in obj if simulation_side(fn)),)
        if kind is FaultRegistry:
            state = dict(obj.__dict__)
            state["_handlers"] = {
                name: handler
                for name, handler in obj._handlers.items()
                if simulation_side(handler.on_set) and simulation_side(handler.on_clear)
            }
            return _new_object, (kind, state)
        return NotImplemented


@dataclass(frozen=True)
class MachineInfo:
    name: str
    number: str
    state: str
    events: int  # events its log had emitted: its events.jsonl's line count at the snapshot


@dataclass(frozen=True)
class SnapshotInfo:
    """The header of a snapshot file."""

    format: int
    program: str
    build: str
    ticks: int  # virtual time (µs since the simulation began)
    time: str  # the main machine's clock, YYYY-MM-DD HH:MM:SS
    machines: tuple[MachineInfo, ...]
    payload_bytes: int
    payload_sha256: str

    def to_json(self) -> str:
        data = {
            "format": self.format, "program": self.program, "build": self.build,
            "ticks": self.ticks, "time": self.time,
            "machines": [m.__dict__ for m in self.machines],
            "payload": {"encoding": f"pickle-{PROTOCOL}+zlib", "bytes": self.payload_bytes,
                        "sha256": self.payload_sha256},
        }  # fmt: skip
        return json.dumps(data, separators=(",", ":"), ensure_ascii=True)


def check_savable(sim: Simulation) -> None:
    """SnapshotError when the simulation is in a state a snapshot cannot hold."""
    if sim.clock.outside.paced:
        raise SnapshotError(
            "a call with a peer outside the process is in progress (T.38 or IAX2): its peer "
            "cannot be saved; take the snapshot before or after the call"
        )
    for number, line in sim.network.lines.items():
        call = line.call
        if call is not None and call.route is not None and call.state != "ended":
            raise SnapshotError(
                f"the call of {number} with a peer outside the process is in progress: its peer "
                "cannot be saved; take the snapshot before or after the call"
            )
    for machine in sim.machines.values():
        if machine.board.nvram._depth:
            raise SnapshotError(f"NVRAM of {machine.name} is being written; try again at a step")


def _payload(sim: Simulation, printed_base: dict[str, int] | None) -> dict[str, Any]:
    outputs = {
        name: m.outputs.numbering() for name, m in sim.machines.items() if m.outputs is not None
    }
    return {
        "clock": sim.clock.save_state(_timer_of_simulation),
        "network": {k: v for k, v in sim.network.__dict__.items() if k != "routes"},
        "machines": [
            (name, {k: v for k, v in m.__dict__.items() if k not in ("sim", "outputs")})
            for name, m in sim.machines.items()
        ],
        "simulation": {key: getattr(sim, key) for key in sim.SAVED},
        "operator": {
            "printed_base": dict(printed_base or {}),
            "outputs": outputs,
            "relay_port": sim.relay.port if sim.relay is not None else sim.relay_port_hint,
        },
    }


def dumps(sim: Simulation, printed_base: dict[str, int] | None = None) -> bytes:
    """The payload's pickle (uncompressed), or SnapshotError saying what cannot be saved, and where."""
    check_savable(sim)
    payload = _payload(sim, printed_base)
    buffer = io.BytesIO()
    pickler = _Pickler(buffer, sim)
    try:
        pickler.dump(payload)
    except SnapshotError as exc:
        where = find_unsavable(sim, payload)
        raise SnapshotError(f"{exc}{f' (at {where})' if where else ''}") from None
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as exc:
        where = find_unsavable(sim, payload)
        reason = str(exc).splitlines()[0][:200]
        raise SnapshotError(f"cannot save {where or 'the simulation'}: {reason}") from None
    return buffer.getvalue()


def save(sim: Simulation, path: Path, printed_base: dict[str, int] | None = None) -> SnapshotInfo:
    """Write the snapshot of `sim` to `path` (mode 0600, written whole); its header."""
    data = dumps(sim, printed_base)
    packed = zlib.compress(data, COMPRESSION)
    main = sim.machines.get("main")
    info = SnapshotInfo(
        format=FORMAT,
        program=f"estudio190f {__version__}",
        build=build(),
        ticks=sim.clock.now,
        time=main.board.rtc.now().strftime("%Y-%m-%d %H:%M:%S") if main is not None else "",
        machines=tuple(
            MachineInfo(name, m.number, m.state(), m.board.log.sequence)
            for name, m in sim.machines.items()
        ),
        payload_bytes=len(packed),
        payload_sha256=hashlib.sha256(packed).hexdigest(),
    )
    _write_private(Path(path), MAGIC + info.to_json().encode("ascii") + b"\n" + packed)
    return info


def _write_private(path: Path, data: bytes) -> None:
    """Written to a temporary name beside it (mode 0600), then renamed: whole or not at all."""
    if path.exists() and not path.is_file():
        raise SnapshotError(f"{path} is not a regular file")
    if path.exists() and path.stat().st_size and not _is_snapshot(path):
        raise SnapshotError(f"{path} exists and is not a snapshot: not overwritten")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), FILE_MODE)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SnapshotError(f"cannot write {path}: {exc.strerror or exc}") from None


def _is_snapshot(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


# -- the build that writes and reads ----------------------------------------------------------------

_BUILD: str | None = None


def build() -> str:
    """A fingerprint of the code whose objects a snapshot holds (hw, firmware, panel/sim.py,
    panel/snapshot.py, panel/outputs.py): a snapshot is read by the build that wrote it."""
    global _BUILD
    if _BUILD is None:
        root = Path(__file__).resolve().parent.parent
        digest = hashlib.sha256()
        files = [*sorted((root / "hw").rglob("*.py")), *sorted((root / "firmware").rglob("*.py"))]
        files += [root / "panel" / name for name in ("sim.py", "snapshot.py", "outputs.py")]
        for file in files:
            digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes() + b"\0")
        _BUILD = digest.hexdigest()[:16]
    return _BUILD


# -- reading -------------------------------------------------------------------------------------------


def read_header(path: Path) -> SnapshotInfo:
    """The header of the snapshot at `path`; SnapshotError if it is not one this build reads."""
    return _read(Path(path), payload=False)[0]


def _read(path: Path, payload: bool = True) -> tuple[SnapshotInfo, bytes]:
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise SnapshotError(f"cannot read {path}: {exc.strerror or exc}") from None
    with f:
        if not os.path.isfile(path):
            raise SnapshotError(f"{path} is not a regular file")
        if f.read(len(MAGIC)) != MAGIC:
            raise SnapshotError(f"{path} is not an estudio190f snapshot")
        line = f.readline(HEADER_LIMIT + 1)
        info = _header(path, line)
        if not payload:
            return info, b""
        packed = f.read(info.payload_bytes + 1)
    if len(packed) != info.payload_bytes:
        raise SnapshotError(f"{path} is truncated or has bytes after its payload")
    if hashlib.sha256(packed).hexdigest() != info.payload_sha256:
        raise SnapshotError(f"{path} is damaged (its checksum does not match)")
    try:
        return info, zlib.decompress(packed)
    except zlib.error:
        raise SnapshotError(f"{path} is damaged (its payload does not decompress)") from None


def _header(path: Path, line: bytes) -> SnapshotInfo:
    if len(line) > HEADER_LIMIT or not line.endswith(b"\n"):
        raise SnapshotError(f"{path}: its header is damaged")
    try:
        data = json.loads(line)
        version = data["format"]
    except (ValueError, KeyError, TypeError):
        raise SnapshotError(f"{path}: its header is damaged") from None
    if version != FORMAT:
        raise SnapshotError(
            f"{path} is a snapshot of format {version!r}; this estudio190f ({__version__}) reads "
            f"format {FORMAT} only"
        )
    try:
        payload = data["payload"]
        info = SnapshotInfo(
            format=version,
            program=str(data["program"]),
            build=str(data["build"]),
            ticks=int(data["ticks"]),
            time=str(data["time"]),
            machines=tuple(
                MachineInfo(str(m["name"]), str(m["number"]), str(m["state"]), int(m["events"]))
                for m in data["machines"]
            ),
            payload_bytes=int(payload["bytes"]),
            payload_sha256=str(payload["sha256"]),
        )
    except (KeyError, TypeError, ValueError):
        raise SnapshotError(f"{path}: its header is damaged") from None
    if info.build != build() and os.environ.get(ANY_BUILD) != "1":
        raise SnapshotError(
            f"{path} was taken by another build of the simulator ({info.program}, build "
            f"{info.build}; this is estudio190f {__version__}, build {build()}): a snapshot is "
            f"read by the build that wrote it ({ANY_BUILD}=1 tries anyway)"
        )
    return info


def _safe_getattr(obj: Any, name: str) -> Any:
    """`getattr` for bound methods in a snapshot: no dunder names."""
    if name.startswith("__"):
        raise pickle.UnpicklingError(f"attribute {name!r} refused")
    return getattr(obj, name)


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, sim: Simulation, new_machine: Callable[[], Machine]) -> None:
        super().__init__(io.BytesIO(data))
        self.sim = sim
        self.new_machine = new_machine  # an empty Machine, for a name the simulation lacks
        self.fresh: dict[str, Machine] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins":
            if name == "getattr":
                return _safe_getattr
            if name in BUILTINS:
                return getattr(builtins, name)
        elif _module_allowed(module):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a simulation")

    def persistent_load(self, pid: Any) -> Any:
        sim = self.sim
        match pid:
            case ("simulation",):
                return sim
            case ("clock",):
                return sim.clock
            case ("outside",):
                return sim.clock.outside
            case ("network",):
                return sim.network
            case ("machine", str(name)):
                machine = sim.machines.get(name) or self.fresh.get(name)
                if machine is None:
                    machine = self.fresh[name] = self.new_machine()
                return machine
            case ("route", str(number)):
                return sim.network.routes.get(number)
        raise pickle.UnpicklingError(f"unknown reference {pid!r}")


@dataclass
class Restored:
    """What a restore gives back to the operator's side."""

    info: SnapshotInfo
    printed_base: dict[str, int]


@dataclass
class SavedState:
    """A snapshot read back: its header, the state it holds (for `Simulation.restore` to put into
    the simulation) and the machines made for names the simulation did not have."""

    info: SnapshotInfo
    state: dict[str, Any]
    fresh: dict[str, Machine]

    @property
    def restored(self) -> Restored:
        return Restored(self.info, dict(self.state["operator"]["printed_base"]))


def read_state(sim: Simulation, path: Path, new_machine: Callable[[], Machine]) -> SavedState:
    """The state in the snapshot at `path`, its anchors resolved against `sim`; `new_machine`
    makes an empty Machine for a name `sim` lacks. SnapshotError if the file is refused (then
    nothing in `sim` has changed)."""
    info, data = _read(Path(path))
    unpickler = _Unpickler(data, sim, new_machine)
    try:
        state = unpickler.load()
    except SnapshotError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to unpickle: the file is refused
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise SnapshotError(f"{path} cannot be read by this build: {reason}") from None
    return SavedState(info, state, unpickler.fresh)


# -- finding what cannot be saved -----------------------------------------------------------------

_LEAVES = (str, bytes, bytearray, memoryview, int, float, bool, type(None), pickle.PickleBuffer)


def find_unsavable(sim: Simulation, payload: dict[str, Any]) -> str:
    """The path (from the payload) of the first object a snapshot cannot hold, or ""."""
    probe = _Pickler(io.BytesIO(), sim)
    seen: set[int] = set()
    sys_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(sys_limit, 100_000))
    try:
        return _walk(payload, "snapshot", probe, seen) or ""
    finally:
        sys.setrecursionlimit(sys_limit)


def _walk(obj: Any, path: str, probe: _Pickler, seen: set[int]) -> str | None:
    if isinstance(obj, _LEAVES) or id(obj) in seen or type(obj).__module__.startswith("numpy"):
        return None
    seen.add(id(obj))
    try:
        if probe.persistent_id(obj) is not None:
            return None
    except SnapshotError:
        return path
    if isinstance(obj, _FUNCTION_TYPES):
        qualname = getattr(obj, "__qualname__", "")
        if "<lambda>" in qualname or "<locals>" in qualname:
            return f"{path} ({qualname}, a lambda or a closure: use a method or functools.partial)"
        return None
    if isinstance(obj, types.MethodType):
        return _walk(obj.__self__, f"{path}.__self__", probe, seen)
    if isinstance(obj, functools.partial):
        return _walk_all([("func", obj.func), *enumerate(obj.args)], path, probe, seen)
    if isinstance(obj, Listeners):
        kept = [(i, fn) for i, fn in enumerate(obj) if simulation_side(fn)]
        return _walk_all(kept, path, probe, seen)
    if isinstance(obj, dict):
        return _walk_all([(f"[{k!r}]", v) for k, v in obj.items()], path, probe, seen, raw=True)
    if isinstance(obj, list | tuple | set | frozenset) or type(obj).__name__ == "deque":
        return _walk_all(list(enumerate(obj)), path, probe, seen)
    reduced = probe.reducer_override(obj)
    try:
        if reduced is NotImplemented:
            reduced = obj.__reduce_ex__(PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - what pickle would say
        return f"{path} ({type(obj).__qualname__}: {str(exc).splitlines()[0][:120]})"
    if isinstance(reduced, str):
        return None
    parts: list[tuple[Any, Any]] = []
    args = reduced[1] if len(reduced) > 1 else ()
    parts += [(f"<arg {i}>", a) for i, a in enumerate(args or ()) if not isinstance(a, type)]
    if len(reduced) > 2 and reduced[2] is not None:
        state = reduced[2]
        states = state if isinstance(state, tuple) else (state,)
        for part in states:
            if isinstance(part, dict):
                parts += [(f".{k}", v) for k, v in part.items()]
            elif part is not None:
                parts.append((".<state>", part))
    for extra in reduced[3:5] if len(reduced) > 3 else ():
        if extra is not None:
            parts += [(f"[{i}]", x) for i, x in enumerate(extra)]
    return _walk_all(parts, path, probe, seen, raw=True)


def _walk_all(
    parts: Iterable[tuple[Any, Any]], path: str, probe: _Pickler, seen: set[int], raw: bool = False
) -> str | None:
    for key, value in parts:
        where = (
            f"{path}{key}" if raw else f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"
        )
        found = _walk(value, where, probe, seen)
        if found is not None:
            return found
    return None


__all__ = [
    "FILE_MODE", "FORMAT", "MAGIC", "MachineInfo", "Restored", "SnapshotError", "SnapshotInfo",
    "SavedState", "build", "check_savable", "dumps", "find_unsavable", "read_header", "read_state",
    "save", "simulation_side", "timer_of_operator",
]  # fmt: skip
