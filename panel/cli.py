"""The `estudio190f` command (DESIGN.md 3.1): run, replay, relay, console, codec, conformance.

Start-up is part of the interface: this module imports nothing heavy at the top. Each subcommand's
module (and the machine itself, with numpy, the firmware and aiosmtpd) is imported when that
command runs, and its arguments are declared only when it is the command given, so `--help` and a
trivial `replay` stay fast (docs/benchmarks.md).

Errors a user can make (a bad path, a bad number, a port out of range) are one line on standard
error and exit status 2, never a traceback; Ctrl-C during `replay` is exit status 130. A bug
(an exception nobody expected) is one line naming it and exit status 3; set
ESTUDIO190F_TRACEBACK=1 to see the traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import stat
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from estudio190f import __version__

if TYPE_CHECKING:
    from estudio190f.firmware.settings import SettingsFile

    from .interpreter import Interpreter
    from .runner import Runner
    from .script import Step
    from .sim import Simulation

EXIT_INTERNAL = 3  # a bug: an exception nobody expected
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it
MAX_SPEED = 1_000_000.0  # a factor above this is `max` in all but name
MIN_SPEED = 0.001


class UsageError(Exception):
    """A mistake on the command line or in the paths it names: one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (and a pointer to --help) instead of two."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


# name: (help, module declaring its arguments with add_arguments() and running it with run(),
# or None for the two commands of this module)
SUBCOMMANDS: dict[str, tuple[str, str | None]] = {
    "run": ("start the emulator", None),
    "replay": ("run key scripts in virtual time", None),
    "relay": ("the loopback test relay alone", "estudio190f.panel.relay"),
    "console": ("interactive client for the serial console", "estudio190f.panel.console_client"),
    "codec": ("the machine's T.4/T.6 codec as a tool", "estudio190f.panel.codec_tool"),
    "conformance": ("run T.30 conformance (TSB85) scripts", "estudio190f.panel.conformance"),
    "decode": ("the fax calls and documents in a capture", "estudio190f.panel.decode_tool"),
    "coverage": ("coverage of key scripts: merge and report", "estudio190f.panel.coverage"),
}


# -- argument types -------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text[:40]!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _speed(text: str) -> str:
    from .runner import parse_speed

    try:
        factor = parse_speed(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if factor is not None and not (MIN_SPEED <= factor <= MAX_SPEED):
        raise argparse.ArgumentTypeError(
            f"a speed factor is {MIN_SPEED:g} to {MAX_SPEED:,.0f} (or max), not {text[:40]!r}"
        )
    return text


def _number(text: str) -> str:
    if not (text.isascii() and text.isdigit() and len(text) <= 20):
        raise argparse.ArgumentTypeError(f"a phone number is 1 to 20 digits, not {text[:40]!r}")
    return text


def _host_port(text: str) -> tuple[str, int]:
    """`[HOST:]PORT` (HOST an IPv4 address or a name; default loopback)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host = "127.0.0.1"
    if not (port.isascii() and port.isdigit() and int(port) <= 65535) or (sep and not host):
        raise argparse.ArgumentTypeError(
            f"give [HOST:]PORT with PORT 0 to 65535, not {text[:40]!r}"
        )
    return host, int(port)


def _secret(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError("give --secret as KEY=VALUE (e.g. smtp.password=...)")
    return key, value


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only `command`'s own arguments are declared (its module imported)."""
    parser = OneLineParser(
        prog="estudio190f",
        description="Simulator of the Toshiba e-STUDIO190F plain-paper fax machine.",
    )
    parser.add_argument("--version", action="version", version=f"estudio190f {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (help_text, module) in SUBCOMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name != command:
            continue
        if module is None:
            (_run_arguments if name == "run" else _replay_arguments)(command_parser)
        else:
            mod = __import__(module, fromlist=["add_arguments"])
            mod.add_arguments(command_parser)
            command_parser.set_defaults(handler=mod.run)
    return parser


def _line_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--line",
        choices=("signal", "audio"),
        help="how calls travel: as modem signals (signal, the default) or as 8 kHz sound through "
        "SpanDSP's modems, each call recorded under OUT/calls/ (audio); wins over [line] mode",
    )


def _iax2_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host = "127.0.0.1"
    host = host.strip("[]") or "127.0.0.1"
    if not (port.isascii() and port.isdigit() and 0 <= int(port) <= 65535):
        raise argparse.ArgumentTypeError(f"give --iax2 as [HOST:]PORT, not {text[:40]!r}")
    return host, int(port)


def _run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("--config", type=Path, help="settings file (TOML) applied over NVRAM")
    run.add_argument("--state", type=Path, help="NVRAM directory (default: memory only)")
    run.add_argument(
        "--out",
        type=Path,
        default=Path("estudio190f-out"),
        help="output directory (default: ./estudio190f-out)",
    )
    run.add_argument(
        "--number", type=_number, help="this machine's phone number (wins over the settings file)"
    )
    run.add_argument("--seed", type=_positive_int, default=0)
    run.add_argument("--headless", action="store_true", help="no window, even with a display")
    run.add_argument("--speed", type=_speed, default="realtime", help="max, realtime or a factor")
    run.add_argument(
        "--serial",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help="pty[:LINK], tcp:PORT or rfc2217:PORT (may be repeated; port 0 = any)",
    )
    run.add_argument(
        "--modem-pty", metavar="LINK", help="a Class 1 fax modem on the line, at this pty link"
    )
    run.add_argument(
        "--modem-number", type=_number, default="5550100", help="the Class 1 modem's number"
    )
    run.add_argument(
        "--modem-pty-owner",
        metavar="USER",
        help="give the modem's pty (mode 0600) to this user, e.g. uucp for HylaFAX (needs root)",
    )
    run.add_argument(
        "--relay",
        choices=("default", "none"),
        default="default",
        help="default: start the embedded loopback SMTP relay",
    )
    run.add_argument("--record", type=Path, help="write what the operator did as a key script")
    run.add_argument(
        "--restore",
        type=Path,
        metavar="FILE",
        help="start from a snapshot (docs/snapshots.md) instead of a machine fresh from the box",
    )
    run.add_argument(
        "--t38",
        type=_host_port,
        metavar="[HOST:]PORT",
        help="take T.38 (UDPTL) calls there (loopback unless a host is given; port 0 = any)",
    )
    run.add_argument(
        "--capture", action="store_true", help="write every call to --out/calls.pcap (T.38)"
    )
    run.add_argument(
        "--documents",
        type=Path,
        action="append",
        metavar="DIR",
        help="a folder console clients may load documents from (repeatable; default: the "
        "current folder)",
    )
    _line_argument(run)
    run.add_argument(
        "--iax2",
        type=_iax2_address,
        metavar="[HOST:]PORT",
        help="a PBX trunk: an IAX2 endpoint on UDP (loopback unless a host is given; port 0 = "
        "any); its peers call the simulation's numbers, [line.peers] iax2 numbers are called",
    )


def _replay_arguments(replay: argparse.ArgumentParser) -> None:
    replay.add_argument("scripts", nargs="+", type=Path, metavar="SCRIPT")
    replay.add_argument("--config", type=Path)
    replay.add_argument("--out", type=Path)
    replay.add_argument("--seed", type=_positive_int, default=0)
    replay.add_argument("--junit", type=Path)
    replay.add_argument(
        "--restore",
        type=Path,
        metavar="FILE",
        help="each script starts from this snapshot (docs/snapshots.md)",
    )
    replay.add_argument(
        "--coverage",
        type=Path,
        metavar="FILE",
        help="record what the scripts visited to FILE (JSON; docs/coverage.md)",
    )
    replay.add_argument(
        "--capture", action="store_true", help="write every call to --out/calls.pcap (T.38)"
    )
    replay.add_argument(
        "--relay",
        choices=("default", "none"),
        default="default",
        help="default: an embedded loopback SMTP relay for scan-to-email",
    )
    replay.add_argument(
        "--secret",
        type=_secret,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="the value of `type {secret KEY}` in the scripts (repeatable; else the environment "
        "variable ESTUDIO190F_SECRET_KEY)",
    )
    replay.add_argument(
        "--jobs",
        type=_positive_int,
        nargs="?",
        const=0,
        default=1,
        metavar="N",
        help="run the scripts in N processes (no N, or 0: one per CPU); output, JUnit and exit "
        "status as if run in one",
    )
    replay.add_argument(
        "--shard",
        metavar="K/N",
        help="run only the K-th (from 1) of N disjoint slices of the scripts; auto/N takes K from "
        "JOB_COMPLETION_INDEX (Kubernetes, from 0) plus one",
    )
    _line_argument(replay)


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (top-level options take no values)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_of(argv)
    args = build_parser(command).parse_args(argv)
    name = f"estudio190f {args.command}"
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "replay":
            return cmd_replay(args)
        return int(args.handler(args))
    except UsageError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # whoever read our output went away (`| head`): nothing more to say to anyone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:
        if os.environ.get("ESTUDIO190F_TRACEBACK"):
            raise
        print(f"{name}: internal error ({_where(exc)}); ESTUDIO190F_TRACEBACK=1 shows the "
              "traceback", file=sys.stderr)  # fmt: skip
        return EXIT_INTERNAL


def _where(exc: BaseException) -> str:
    """`TypeName at file:line` of the innermost frame (no message: it is not vetted for what it
    may show)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return type(exc).__name__
    code = tb.tb_frame.f_code
    return f"{type(exc).__name__} at {Path(code.co_filename).name}:{tb.tb_lineno}"


# -- paths named on the command line --------------------------------------------------------------


def output_folder(option: str, path: Path) -> Path:
    """A folder we write into: made if missing; UsageError naming the option if it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"{option} {path}: exists and is not a folder") from None
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot make the folder: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: cannot write in it")
    return path


def output_file(option: str, path: Path) -> Path:
    """A file we will write: its folder must exist or be made, and it must not be a folder."""
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a folder, not a file")
    if path.exists() and not path.is_file():
        raise UsageError(f"{option} {path}: is not a regular file")
    try:
        output_folder(option, path.parent)
    except UsageError as exc:
        raise UsageError(f"{option} {path}: its folder: {str(exc).split(': ', 1)[1]}") from None
    return path


def input_folder(option: str, path: Path) -> Path:
    if not path.is_dir():
        raise UsageError(f"{option} {path}: no such folder")
    return path.resolve()


def read_text_file(path: Path, limit: int, what: str) -> str:
    """A regular file's text, at most `limit` bytes; UsageError-free: OSError/ValueError say why.

    Opened without blocking and checked before reading: a FIFO, a device (`/dev/zero`) or a
    folder is refused, and a file is never read past the limit.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ValueError(f"cannot read {what}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ValueError(f"{what} is a folder, not a file")
        if not stat.S_ISREG(mode):
            raise ValueError(f"{what} is not a regular file (a pipe or a device)")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError(f"{what} is over the size limit of {limit:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} is not UTF-8 text (byte {exc.start})") from None


def _load_config(path: Path | None) -> SettingsFile | None:
    if path is None:
        return None
    from estudio190f.firmware.settings import SettingsFileError, load_settings_file

    try:
        read_text_file(path, SETTINGS_FILE_LIMIT, "the settings file")
    except ValueError as exc:
        raise UsageError(f"--config {path}: {exc}") from None
    try:
        return load_settings_file(path)
    except SettingsFileError as exc:
        raise UsageError(f"settings file refused: {exc}") from None


SETTINGS_FILE_LIMIT = 1 << 20  # bytes; a settings file is a few hundred


def _check_t38_peers(settings: SettingsFile | None) -> None:
    """Every t38 peer of `[line.peers]` resolves (to IPv4), or a usage error naming it."""
    if settings is None:
        return
    from estudio190f.hw.udp_port import PeerError, resolve_ipv4

    for number, peer in settings.peers.items():
        if peer.kind != "t38":
            continue
        try:
            resolve_ipv4(peer.host, peer.port)
        except PeerError as exc:
            raise UsageError(f"[line.peers] {number}: {exc}") from None


def _need_line(line: str | None, settings: SettingsFile | None) -> None:
    """The audio line needs SpanDSP: where it is missing, one line saying what to install."""
    wanted = line or (settings.values.get("line.mode") if settings is not None else None)
    if wanted != "audio":
        return
    from estudio190f.hw.spandsp import SpanDspMissing, load_spandsp

    try:
        load_spandsp()
    except SpanDspMissing as exc:
        where = "--line audio" if line else '[line] mode = "audio"'
        raise UsageError(f"{where} needs SpanDSP: {exc}") from None


# -- replay ------------------------------------------------------------------------------------


class ScriptResult:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.status = "passed"  # passed | failed | error
        self.message = ""
        self.steps = 0
        self.virtual_seconds = 0.0
        self.wall_seconds = 0.0


def check_restore(args: argparse.Namespace) -> None:
    """`--restore FILE`: a snapshot this build reads, and no option that would start otherwise."""
    if args.restore is None:
        return
    # (--seed is left as it is: the snapshot's random generators go on; a machine declared
    # later takes its seed from the snapshot too.)
    for option, given in (
        ("--config", args.config),
        ("--number", getattr(args, "number", None)),
        ("--line", args.line),  # the line mode is a setting the snapshot holds
    ):
        if given is not None:
            raise UsageError(
                f"--restore and {option}: a snapshot holds the machines as they were (settings, "
                "numbers, random generators); give one or the other"
            )
    from .snapshot import SnapshotError, read_header

    try:
        read_header(args.restore)
    except SnapshotError as exc:
        raise UsageError(f"--restore: {exc}") from None


def cmd_replay(args: argparse.Namespace) -> int:
    check_restore(args)
    settings = _load_config(args.config)
    _check_t38_peers(settings)
    _need_line(args.line, settings)
    if args.capture and args.out is None:
        raise UsageError("--capture needs --out DIR (the capture is DIR/calls.pcap)")
    if args.out is not None:
        output_folder("--out", args.out)
    if args.junit is not None:
        output_file("--junit", args.junit)
    if args.coverage is not None:
        output_file("--coverage", args.coverage)
    names = _out_names(args.scripts)
    several = len(args.scripts) > 1
    # (path, out) of each script to run here: all of them, or the slice --shard names (a
    # script's output folder is the same either way).
    plan: list[tuple[Path, Path | None]] = []
    for path, name in zip(args.scripts, names, strict=True):
        out = None
        if args.out is not None:
            out = args.out / name if several else args.out
        plan.append((path, out))
    if args.shard is not None:
        from .jobs import Shard

        try:
            shard = Shard.parse(args.shard)
        except ValueError as exc:
            raise UsageError(f"--shard: {exc}") from None
        plan = [plan[i] for i in shard.select(args.scripts)]
    results = _replay_plan(args, settings, plan)
    if args.junit is not None:
        try:
            write_junit(args.junit, results)
        except OSError as exc:
            raise UsageError(f"--junit {args.junit}: cannot write: {exc.strerror}") from None
    if any(r.status == "internal" for r in results):
        return EXIT_INTERNAL
    if any(r.status == "error" for r in results):
        return 2
    if any(r.status == "failed" for r in results):
        return 1
    return 0


def _replay_plan(
    args: argparse.Namespace, settings: SettingsFile | None, plan: list[tuple[Path, Path | None]]
) -> list[ScriptResult]:
    """Run the scripts here, one after another, or with --jobs in that many processes."""
    jobs = args.jobs
    if jobs != 1 and len(plan) > 1:
        from .jobs import cpu_count

        jobs = jobs or cpu_count()
    if jobs <= 1 or len(plan) <= 1:
        recorder = start_coverage(args.coverage)
        results: list[ScriptResult] = []
        try:
            for path, out in plan:
                results.append(replay_script(args, settings, path, out))
                if recorder is not None:
                    recorder.coverage.runs += 1
        finally:
            if recorder is not None:
                end_coverage(recorder, args.coverage, "replay")
        return results
    return _replay_in_processes(args, settings, plan, jobs)


def _replay_in_processes(
    args: argparse.Namespace,
    settings: SettingsFile | None,
    plan: list[tuple[Path, Path | None]],
    jobs: int,
) -> list[ScriptResult]:
    """--jobs: each script in a worker process; with --coverage each call records into a file of
    its own (a scratch folder), merged at the end as if the scripts had run in one process."""
    import shutil
    import tempfile

    from .jobs import Lost, run_in_processes

    results: list[ScriptResult] = []
    coverage: Path | None = args.coverage
    parts = Path(tempfile.mkdtemp(prefix="estudio190f-coverage-")) if coverage else None
    calls = []
    for n, (path, out) in enumerate(plan):
        # Each call carries the options, not the list of every script (pickled once a call).
        options = {**vars(args), "scripts": []}
        if parts is not None:
            options["coverage"] = parts / f"{n:06d}.json"
        calls.append((argparse.Namespace(**options), settings, path, out))
    try:
        for (path, _), outcome in zip(
            plan, run_in_processes(replay_worker, calls, jobs), strict=True
        ):
            if isinstance(outcome, Lost):
                lost = ScriptResult(path)
                lost.status, lost.message = "internal", outcome.reason
                print(f"ERROR {path}: {outcome.reason}", file=sys.stderr)
                results.append(lost)
            else:
                results.append(outcome)
        if coverage is not None and parts is not None:
            from .coverage import merge

            merged = merge(sorted(parts.glob("*.json")))
            try:
                merged.write(coverage)
            except OSError as exc:
                raise UsageError(f"--coverage {coverage}: cannot write: {exc.strerror}") from None
            for line in merged.summary_lines():
                print(line)
    finally:
        if parts is not None:
            shutil.rmtree(parts, ignore_errors=True)
    return results


def replay_worker(
    args: argparse.Namespace, settings: SettingsFile | None, path: Path, out: Path | None
) -> ScriptResult:
    """One script in a --jobs worker: as `replay_script`, recording coverage into the call's own
    file (quietly: the parent prints the merged summary)."""
    recorder = start_coverage(args.coverage)
    try:
        return replay_script(args, settings, path, out)
    finally:
        if recorder is not None:
            recorder.coverage.runs += 1
            if args.coverage is None:
                end_coverage(recorder, None, "replay")  # into ESTUDIO190F_COVERAGE_DIR
            else:
                recorder.uninstall()
                recorder.write(args.coverage)


def replay_script(
    args: argparse.Namespace, settings: SettingsFile | None, path: Path, out: Path | None
) -> ScriptResult:
    """One script as `replay` runs it (the loop here and the --jobs workers both call this)."""
    return replay_one(
        path,
        settings,
        out,
        args.seed,
        relay=args.relay == "default",
        secrets=dict(args.secret),
        restore=args.restore,
        capture=args.capture,
        line=args.line,
    )


def start_coverage(path: Path | None) -> Any:
    """A coverage recorder following every machine of this process, when `--coverage FILE` asks
    for one or ESTUDIO190F_COVERAGE_DIR names a folder (docs/coverage.md); else None."""
    from os import environ

    if path is None and not environ.get("ESTUDIO190F_COVERAGE_DIR"):
        return None
    from .coverage_recorder import CoverageRecorder

    return CoverageRecorder().install()


def end_coverage(recorder: Any, path: Path | None, tag: str) -> None:
    """Write what the recorder counted: to FILE with its summary, or into the folder."""
    from .coverage_recorder import recording_folder, write_into

    recorder.uninstall()
    if path is not None:
        try:
            recorder.write(path)
        except OSError as exc:
            raise UsageError(f"--coverage {path}: cannot write: {exc.strerror}") from None
        for line in recorder.coverage.summary_lines():
            print(line)
        return
    folder = recording_folder()
    if folder is not None:
        write_into(folder, recorder.coverage, tag)


def _out_names(paths: list[Path]) -> list[str]:
    """SCRIPT-NAME for each script's output folder; a repeated name gets -2, -3, ..."""
    seen: dict[str, int] = {}
    names = []
    for path in paths:
        stem = path.stem
        seen[stem] = seen.get(stem, 0) + 1
        names.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return names


def replay_one(
    path: Path,
    settings: SettingsFile | None,
    out: Path | None,
    seed: int,
    relay: bool = True,
    secrets: dict[str, str] | None = None,
    restore: Path | None = None,
    capture: bool = False,
    line: str | None = None,
) -> ScriptResult:
    from .interpreter import ExpectationFailed, Interpreter, run_step
    from .script import ScriptError, parse_script
    from .sim import Simulation
    from .snapshot import SnapshotError
    from .syntax import SCRIPT_SIZE, SCRIPT_TIME

    result = ScriptResult(path)
    wall = time.perf_counter()
    try:
        text = read_text_file(path, SCRIPT_SIZE.value, "the script")
    except ValueError as exc:
        reason = str(exc)
        if "size limit" in reason:
            reason = f"the script is over the {SCRIPT_SIZE.name} limit of {SCRIPT_SIZE.shown}"
        result.status, result.message = "error", reason
        print(f"ERROR {path}: {result.message}", file=sys.stderr)
        return result
    try:
        steps = parse_script(text, str(path))
    except ScriptError as exc:
        result.status, result.message = "error", f"line {exc.line}: {exc.message}"
        print(f"ERROR {path}:{exc.line}: {exc.message}", file=sys.stderr)
        return result
    from estudio190f.hw.udp_port import PeerError

    try:
        if restore is None:
            sim = Simulation(seed=seed, out_dir=out, settings_file=settings, line=line)
        else:
            sim = Simulation(out_dir=out, boot=False)  # the snapshot's machines replace it
    except PeerError as exc:
        result.status, result.message = "error", str(exc)
        print(f"ERROR {path}: {exc}", file=sys.stderr)
        return result
    start = sim.clock.now
    step: Step | None = None
    try:
        interp = Interpreter(sim, base_dir=path.parent, secrets=secrets)
        if restore is not None:
            try:
                interp.restore(restore)
            except SnapshotError as exc:
                raise ScriptError(f"--restore: {exc}") from None
            start = sim.clock.now
        if capture and out is not None:
            from .call_capture import CAPTURE_NAME

            sim.start_capture(out / CAPTURE_NAME)
        if relay:
            sim.start_relay(out / "mail" if out is not None else None)
        interp.script_deadline = start + SCRIPT_TIME.value
        for step in steps:
            for line in run_step(interp, step):
                print(line)
            result.steps += 1
    except ExpectationFailed as exc:
        result.status = "failed"
        result.message = f"line {exc.step.line}: {exc.step.text}\n{exc.report()}"
        print(f"FAIL {path}:{exc.step.line}: {exc.step.text}", file=sys.stderr)
        print(exc.report(), file=sys.stderr)
    except ScriptError as exc:
        where = exc.line or (step.line if step else 0)
        result.status, result.message = "error", f"line {where}: {exc.message}"
        print(f"ERROR {path}:{where}: {exc.message}", file=sys.stderr)
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:
        if os.environ.get("ESTUDIO190F_TRACEBACK"):
            raise
        where = step.line if step else 0
        result.status = "internal"
        result.message = f"line {where}: internal error ({_where(exc)})"
        print(f"ERROR {path}:{where}: {result.message.split(': ', 1)[1]}", file=sys.stderr)
    finally:
        result.virtual_seconds = (sim.clock.now - start) / 1e6
        sim.close()
    result.wall_seconds = time.perf_counter() - wall
    if result.status == "passed":
        print(
            f"PASS {path} ({result.steps} steps, {result.virtual_seconds:.1f} s virtual, "
            f"{result.wall_seconds:.2f} s wall)"
        )
    return result


def write_junit(path: Path, results: list[ScriptResult]) -> None:
    from xml.sax.saxutils import escape, quoteattr  # imports urllib, http, email, ssl: 50 ms

    failures = sum(r.status == "failed" for r in results)
    errors = sum(r.status in ("error", "internal") for r in results)
    total = sum(r.wall_seconds for r in results)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuite name="estudio190f replay" tests="{len(results)}" failures="{failures}" '
        f'errors="{errors}" time="{total:.3f}">',
    ]
    for r in results:
        head = f'  <testcase classname="replay" name={quoteattr(str(r.path))} time="{r.wall_seconds:.3f}"'
        if r.status == "passed":
            lines.append(head + "/>")
            continue
        tag = "failure" if r.status == "failed" else "error"
        first = r.message.splitlines()[0] if r.message else tag
        lines.append(head + ">")
        lines.append(f"    <{tag} message={quoteattr(first)}>{escape(r.message)}</{tag}>")
        lines.append("  </testcase>")
    lines.append("</testsuite>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- run ---------------------------------------------------------------------------------------

PROMPT_MAX_LINE = 4096  # bytes of one line at the prompt; longer lines are refused, as the console


class Prompt:
    """The terminal of a headless `run`: script steps at a prompt, the LCD when it changes."""

    def __init__(self, interp: Interpreter, runner: Runner) -> None:
        from .interpreter import StepQueue

        self.interp = interp
        self.runner = runner
        self.buffer = b""
        self.discarding = False  # inside an overlong line: skip to its end
        self.steps = StepQueue(interp, self._done)
        self.fd = sys.stdin.fileno()
        self.tty = os.isatty(self.fd)
        self.open = True
        lcd = interp.sim.main.board.panel.lcd
        lcd.listeners.add(self._lcd_changed)
        interp.sim.restored.append(self._restored)

    def _restored(self) -> None:
        """A snapshot was restored (`restore FILE`): follow the restored machine's LCD."""
        lcd = self.interp.sim.main.board.panel.lcd
        lcd.listeners.add(self._lcd_changed)
        self._lcd_changed(list(lcd.lines))

    def _lcd_changed(self, lines: list[str]) -> None:
        print(f"LCD |{lines[0]}|{lines[1]}|", flush=True)

    def start(self) -> None:
        self.runner.add_reader(self.fd, self._readable)
        self._lcd_changed(list(self.interp.sim.main.board.panel.lcd.lines))  # what it shows now
        self._prompt()

    def _prompt(self) -> None:
        if self.tty and self.open:
            print("> ", end="", flush=True)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            data = b""
        if not data:
            # End of input does not stop the machine (DESIGN.md 3.1): stop reading, keep running.
            self.runner.remove_reader(self.fd)
            self.open = False
            return
        self.buffer += data
        while b"\n" in self.buffer:
            raw, self.buffer = self.buffer.split(b"\n", 1)
            if self.discarding or len(raw) > PROMPT_MAX_LINE:
                self.discarding = False
                print(f"ERR line too long (over {PROMPT_MAX_LINE} bytes)", flush=True)
                continue
            self.steps.send(raw.decode("utf-8", "replace").rstrip("\r"))
        if len(self.buffer) > PROMPT_MAX_LINE:
            self.discarding, self.buffer = True, b""

    def _done(self, text: str, step: Step | None, result: list[str] | None,
              error: BaseException | None) -> None:  # fmt: skip
        from .interpreter import refusal_reason

        if error is not None:
            print(f"ERR {refusal_reason(error)}", flush=True)
        elif step is not None:
            for line in result or []:
                print(line, flush=True)
            print("OK", flush=True)
        self._prompt()


def cmd_run(args: argparse.Namespace) -> int:
    import errno
    import socket
    import sqlite3
    from datetime import datetime

    from estudio190f.hw.spandsp import SpanDspMissing
    from estudio190f.hw.udp_port import PeerError

    from .interpreter import Interpreter, Recorder
    from .runner import Runner, parse_speed
    from .sim import Simulation

    check_restore(args)
    settings = _load_config(args.config)
    _check_t38_peers(settings)
    _need_line(args.line, settings)
    output_folder("--out", args.out)
    if args.state is not None:
        output_folder("--state", args.state)
    if args.record is not None:
        output_file("--record", args.record)
    documents = tuple(input_folder("--documents", d) for d in args.documents or [Path.cwd()])
    if args.serial:
        from .console import parse_endpoint

        for spec in args.serial:  # every one checked before anything is opened
            try:
                parse_endpoint(spec)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
    speed = parse_speed(args.speed)
    start_time = datetime.now().replace(second=0, microsecond=0)  # the one wall-clock read
    recorder = start_coverage(None)
    try:
        if args.restore is not None:
            from .snapshot import SnapshotError

            try:
                sim = Simulation.load(args.restore, out_dir=args.out, state_dir=args.state)
            except SnapshotError as exc:
                raise UsageError(f"--restore: {exc}") from None
            if args.iax2 is not None:
                sim.start_iax2(*args.iax2)
        else:
            sim = Simulation(
                seed=args.seed,
                out_dir=args.out,
                state_dir=args.state,
                settings_file=settings,
                number=args.number,
                start_time=start_time,
                line=args.line,
                iax2=args.iax2,
            )
    except PeerError as exc:
        raise UsageError(str(exc)) from None
    except SpanDspMissing as exc:
        what = "--iax2" if args.iax2 is not None else "the audio line"
        raise UsageError(f"{what} needs SpanDSP: {exc}") from None
    except OSError as exc:
        if args.iax2 is not None and (
            isinstance(exc, socket.gaierror)
            or exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES)
        ):
            host, port = args.iax2
            raise UsageError(f"--iax2 {host}:{port}: cannot listen there: {exc.strerror}") from None
        where = f"--state {args.state}" if args.state is not None else f"--out {args.out}"
        raise UsageError(f"{where}: cannot use it: {exc.strerror or exc}") from None
    except sqlite3.Error as exc:
        where = f"--state {args.state}" if args.state is not None else f"--out {args.out}"
        raise UsageError(f"{where}: cannot use it: {exc}") from None
    runner = Runner(sim.clock, speed)
    stop_signals(runner)  # from here on SIGTERM is a clean shutdown, also during start-up
    interp = Interpreter(sim, base_dir=Path.cwd())
    endpoints: list[Any] = []
    announced: list[str] = []  # the endpoint lines printed at start, for the window's status strip
    status = 0
    try:
        if args.record is not None:
            try:
                interp.recorder = Recorder(args.record, sim.clock)
            except OSError as exc:
                raise UsageError(f"--record {args.record}: cannot write: {exc.strerror}") from None
        try:
            endpoints = start_endpoints(args, sim, runner, interp, settings, announced, documents)
        except (OSError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        if args.capture:
            from .call_capture import CAPTURE_NAME

            sim.start_capture(args.out / CAPTURE_NAME, int(start_time.timestamp()) * 1_000_000)
        print(
            f"machine {sim.main.number} ready; output in {args.out}"
            + (
                f", NVRAM in {args.state}"
                if args.state
                else " (NVRAM in memory; --state DIR keeps it)"
            ),
            flush=True,
        )
        window = None
        if not args.headless and os.environ.get("DISPLAY"):
            window = start_window(sim, runner, interp, announced)
        if window is None:
            Prompt(interp, runner).start()
        try:
            runner.run()
        except KeyboardInterrupt:
            pass
    except UsageError as exc:
        print(f"estudio190f run: {exc}", file=sys.stderr)
        status = 2
    finally:
        # Clean shutdown: NVRAM is already consistent (every write is a transaction); close the
        # edges.
        for endpoint in reversed(endpoints):
            try:
                endpoint.close()
            except Exception as exc:  # keep shutting the rest down
                print(f"estudio190f run: closing {endpoint}: {exc}", file=sys.stderr)
        if interp.recorder is not None:
            interp.recorder.close()
        sim.main.board.log.emit("runner", "shutdown")
        sim.close()
        if recorder is not None:
            end_coverage(recorder, None, "run")
    return status


def stop_signals(runner: Runner) -> None:
    def handler(signum: int, frame: Any) -> None:
        runner.stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, handler)


def start_endpoints(
    args: argparse.Namespace,
    sim: Simulation,
    runner: Runner,
    interp: Interpreter,
    settings: SettingsFile | None,
    announced: list[str] | None = None,
    documents: tuple[Path, ...] | None = None,
) -> list[Any]:
    """Serial endpoints, the Class 1 modem and the relay; each prints its line (DESIGN.md 3.1),
    which is also added to `announced` when given. Console clients may load documents only from
    `documents` (default: the interpreter's folder)."""
    endpoints: list[Any] = []

    def announce(line: str) -> None:
        print(line, flush=True)
        if announced is not None:
            announced.append(line)

    try:
        if args.relay == "default":
            relay = sim.start_relay(args.out / "mail")
            announce(f"relay smtp 127.0.0.1:{relay.port}")
        if getattr(args, "iax2", None) is not None and sim.iax2 is not None:
            host, port = sim.iax2.address
            announce(f"iax2 udp {host}:{port}")
        for spec in args.serial:
            from .console import open_endpoint

            endpoint = open_endpoint(spec, sim, runner, interp, documents=documents)
            endpoints.append(endpoint)
            announce(endpoint.describe())
        if args.modem_pty:
            from .class1 import open_modem_pty

            modem = open_modem_pty(
                args.modem_pty, args.modem_number, sim, runner,
                owner=getattr(args, "modem_pty_owner", None),
            )  # fmt: skip
            endpoints.append(modem)
            announce(f"modem pty {modem.link} number {args.modem_number}")
        if getattr(args, "t38", None) is not None:
            try:
                host, port = sim.listen_t38(*args.t38)
            except OSError as exc:
                where = ":".join(map(str, args.t38))
                raise ValueError(f"--t38 {where}: cannot listen: {exc.strerror or exc}") from None
            announce(f"t38 udptl {host}:{port}")
    except BaseException:
        # the caller never sees the list: close what is open (a pty symlink, a listener)
        for opened in reversed(endpoints):
            opened.close()
        raise
    return endpoints


def start_window(
    sim: Simulation, runner: Runner, interp: Interpreter, endpoint_lines: Sequence[str] = ()
) -> Any:
    """The desktop window (docs/window.md), or None when Tk cannot start here."""
    try:
        from .window import open_window
    except ImportError:
        return None
    return open_window(sim, runner, interp, endpoint_lines)


if __name__ == "__main__":
    sys.exit(main())
