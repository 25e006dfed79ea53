"""The `estudio190f` command (DESIGN.md 3.1): run, replay, relay, console, codec, conformance."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from estudio190f import __version__
from estudio190f.firmware.settings import SettingsFile, SettingsFileError, load_settings_file

from .interpreter import (
    ExpectationFailed,
    Interpreter,
    Recorder,
    StepQueue,
    refusal_reason,
    run_step,
)
from .runner import Runner, parse_speed
from .script import ScriptError, Step, parse_script
from .sim import Simulation


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _speed(text: str) -> str:
    try:
        parse_speed(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="estudio190f",
        description="Simulator of the Toshiba e-STUDIO190F plain-paper fax machine.",
    )
    parser.add_argument("--version", action="version", version=f"estudio190f {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="start the emulator")
    run.add_argument("--config", type=Path, help="settings file (TOML) applied over NVRAM")
    run.add_argument("--state", type=Path, help="NVRAM directory (default: memory only)")
    run.add_argument(
        "--out",
        type=Path,
        default=Path("estudio190f-out"),
        help="output directory (default: ./estudio190f-out)",
    )
    run.add_argument("--number", help="this machine's phone number (wins over the settings file)")
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
    run.add_argument("--modem-number", default="5550100", help="the Class 1 modem's number")
    run.add_argument(
        "--relay",
        choices=("default", "none"),
        default="default",
        help="default: start the embedded loopback SMTP relay",
    )
    run.add_argument("--record", type=Path, help="write what the operator did as a key script")

    replay = sub.add_parser("replay", help="run key scripts in virtual time")
    replay.add_argument("scripts", nargs="+", type=Path, metavar="SCRIPT")
    replay.add_argument("--config", type=Path)
    replay.add_argument("--out", type=Path)
    replay.add_argument("--seed", type=_positive_int, default=0)
    replay.add_argument("--junit", type=Path)
    replay.add_argument(
        "--relay",
        choices=("default", "none"),
        default="default",
        help="default: an embedded loopback SMTP relay for scan-to-email",
    )

    relay = sub.add_parser("relay", help="the loopback test relay alone")
    _extend(relay, "estudio190f.panel.relay")

    console = sub.add_parser("console", help="interactive client for the serial console")
    _extend(console, "estudio190f.panel.console_client")

    codec = sub.add_parser("codec", help="the machine's T.4/T.6 codec as a tool")
    _extend(codec, "estudio190f.panel.codec_tool")

    conformance = sub.add_parser("conformance", help="run T.30 conformance (TSB85) scripts")
    _extend(conformance, "estudio190f.panel.conformance")

    decode = sub.add_parser("decode", help="the fax calls and documents in a T.38 capture")
    _extend(decode, "estudio190f.panel.decode_tool")
    return parser


def _extend(parser: argparse.ArgumentParser, module: str) -> None:
    """Let the module that implements a subcommand declare its own arguments."""
    mod = __import__(module, fromlist=["add_arguments"])
    mod.add_arguments(parser)
    parser.set_defaults(handler=mod.run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "replay":
        return cmd_replay(args)
    return int(args.handler(args))


# -- replay ------------------------------------------------------------------------------------


class ScriptResult:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.status = "passed"  # passed | failed | error
        self.message = ""
        self.steps = 0
        self.virtual_seconds = 0.0
        self.wall_seconds = 0.0


def _load_config(path: Path | None) -> SettingsFile | None:
    if path is None:
        return None
    return load_settings_file(path)


def cmd_replay(args: argparse.Namespace) -> int:
    try:
        settings = _load_config(args.config)
    except SettingsFileError as exc:
        print(f"estudio190f replay: settings file refused: {exc}", file=sys.stderr)
        return 2
    names = _out_names(args.scripts)
    several = len(args.scripts) > 1
    results: list[ScriptResult] = []
    for path, name in zip(args.scripts, names, strict=True):
        out = None
        if args.out is not None:
            out = args.out / name if several else args.out
        results.append(replay_one(path, settings, out, args.seed, relay=args.relay == "default"))
    if args.junit is not None:
        write_junit(args.junit, results)
    if any(r.status == "error" for r in results):
        return 2
    if any(r.status == "failed" for r in results):
        return 1
    return 0


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
    path: Path, settings: SettingsFile | None, out: Path | None, seed: int, relay: bool = True
) -> ScriptResult:
    result = ScriptResult(path)
    wall = time.perf_counter()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        result.status, result.message = "error", f"cannot read script: {exc}"
        print(f"ERROR {path}: {result.message}", file=sys.stderr)
        return result
    try:
        steps = parse_script(text, str(path))
    except ScriptError as exc:
        result.status, result.message = "error", f"line {exc.line}: {exc.message}"
        print(f"ERROR {path}:{exc.line}: {exc.message}", file=sys.stderr)
        return result
    sim = Simulation(seed=seed, out_dir=out, settings_file=settings)
    if relay:
        sim.start_relay(out / "mail" if out is not None else None)
    interp = Interpreter(sim, base_dir=path.parent)
    start = sim.clock.now
    step: Step | None = None
    try:
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
    failures = sum(r.status == "failed" for r in results)
    errors = sum(r.status == "error" for r in results)
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


class Prompt:
    """The terminal of a headless `run`: script steps at a prompt, the LCD when it changes."""

    def __init__(self, interp: Interpreter, runner: Runner) -> None:
        self.interp = interp
        self.runner = runner
        self.buffer = b""
        self.steps = StepQueue(interp, self._done)
        self.fd = sys.stdin.fileno()
        self.tty = os.isatty(self.fd)
        self.open = True
        lcd = interp.sim.main.board.panel.lcd
        lcd.listeners.append(self._lcd_changed)

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
            self.steps.send(raw.decode("utf-8", "replace").rstrip("\r"))

    def _done(self, text: str, step: Step | None, result: list[str] | None,
              error: BaseException | None) -> None:  # fmt: skip
        if error is not None:
            print(f"ERR {refusal_reason(error)}", flush=True)
        elif step is not None:
            for line in result or []:
                print(line, flush=True)
            print("OK", flush=True)
        self._prompt()


def cmd_run(args: argparse.Namespace) -> int:
    try:
        settings = _load_config(args.config)
    except SettingsFileError as exc:
        print(f"estudio190f run: settings file refused: {exc}", file=sys.stderr)
        return 2
    speed = parse_speed(args.speed)
    start_time = datetime.now().replace(second=0, microsecond=0)  # the one wall-clock read
    sim = Simulation(
        seed=args.seed,
        out_dir=args.out,
        state_dir=args.state,
        settings_file=settings,
        number=args.number,
        start_time=start_time,
    )
    runner = Runner(sim.clock, speed)
    interp = Interpreter(sim, base_dir=Path.cwd())
    if args.record is not None:
        interp.recorder = Recorder(args.record, sim.clock)
    endpoints: list[Any] = []
    announced: list[str] = []  # the endpoint lines printed at start, for the window's status strip
    status = 0
    try:
        endpoints = start_endpoints(args, sim, runner, interp, settings, announced)
    except (OSError, ValueError) as exc:
        print(f"estudio190f run: {exc}", file=sys.stderr)
        status = 2
    if status == 0:
        print(
            f"machine {sim.main.number} ready; output in {args.out}"
            + (
                f", NVRAM in {args.state}"
                if args.state
                else " (NVRAM in memory; --state DIR keeps it)"
            ),
            flush=True,
        )
        stop_signals(runner)
        window = None
        if not args.headless and os.environ.get("DISPLAY"):
            window = start_window(sim, runner, interp, announced)
        if window is None:
            Prompt(interp, runner).start()
        try:
            runner.run()
        except KeyboardInterrupt:
            pass
    # Clean shutdown: NVRAM is already consistent (every write is a transaction); close the edges.
    for endpoint in reversed(endpoints):
        try:
            endpoint.close()
        except Exception as exc:  # keep shutting the rest down
            print(f"estudio190f run: closing {endpoint}: {exc}", file=sys.stderr)
    if interp.recorder is not None:
        interp.recorder.close()
    sim.main.board.log.emit("runner", "shutdown")
    sim.close()
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
) -> list[Any]:
    """Serial endpoints, the Class 1 modem and the relay; each prints its line (DESIGN.md 3.1),
    which is also added to `announced` when given."""
    endpoints: list[Any] = []

    def announce(line: str) -> None:
        print(line, flush=True)
        if announced is not None:
            announced.append(line)

    if args.relay == "default":
        relay = sim.start_relay(args.out / "mail")
        announce(f"relay smtp 127.0.0.1:{relay.port}")
    for spec in args.serial:
        from .console import open_endpoint

        try:
            endpoint = open_endpoint(spec, sim, runner, interp)
        except BaseException:
            # the caller never sees the list: close what is open (a pty symlink, a listener)
            for opened in reversed(endpoints):
                opened.close()
            raise
        endpoints.append(endpoint)
        announce(endpoint.describe())
    if args.modem_pty:
        from .class1 import open_modem_pty

        modem = open_modem_pty(args.modem_pty, args.modem_number, sim, runner)
        endpoints.append(modem)
        announce(f"modem pty {modem.link} number {args.modem_number}")
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
