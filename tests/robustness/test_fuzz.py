"""Fuzzing the operator's side (issue 14): the script parser, console input, the steps a client may
send, documents in the feeder and the settings file. The property everywhere: a clear error or a
correct result, never another exception (a traceback), a hang or a loss.

Quick by default (a few hundred examples in all); ESTUDIO190F_FUZZ=N multiplies the counts for a
longer run. docs/reliability.md lists what is tried and the counts of the last long run.
"""

from __future__ import annotations

import io
import os
import struct
import time
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from estudio190f.firmware.settings import SETTINGS, SettingsFileError, load_settings_file
from estudio190f.hw.faults import FAULT_NAMES
from estudio190f.hw.operator_panel import KEY_NAMES, LED_NAMES
from estudio190f.panel.console import ConsoleSession, Refused
from estudio190f.panel.documents import DocumentRefused, check_document, load_sheets
from estudio190f.panel.interpreter import ExpectationFailed, Interpreter, run_step
from estudio190f.panel.script import VERBS, ScriptError, Step, parse_line
from estudio190f.panel.sim import Simulation

SCALE = int(os.environ.get("ESTUDIO190F_FUZZ", "1"))


def examples(n: int):
    return settings(
        max_examples=n * SCALE,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# -- the script parser --------------------------------------------------------------------------

WORDS = st.sampled_from(
    [*VERBS, *KEY_NAMES, *LED_NAMES, *FAULT_NAMES, "lcd", "led", "state", "printed", "journal",
     "line", "within", "on", "off", "blink", "load", "5s", "1h", "25h", "99999999999h", "1.5s",
     "0ms", '"', '"READY"', "/", "/(a|aa)+$/", "/[/", "#", "{secret smtp.password}", "\\", "9" * 30]
)  # fmt: skip
LINES = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(WORDS, st.text(max_size=12)), max_size=12).map(" ".join),
)


@examples(400)
@given(LINES)
def test_any_line_parses_or_is_refused_with_a_reason(line):
    started = time.perf_counter()
    try:
        step = parse_line(line, 7)
    except ScriptError as exc:
        assert exc.message and exc.line == 7
        assert len(exc.message) < 400
    else:
        assert step is None or (isinstance(step, Step) and step.verb in VERBS)
    assert time.perf_counter() - started < 0.5


DURATIONS = st.builds(lambda n, u: f"{n}{u}", st.integers(0, 500), st.sampled_from(["ms", "s"]))
TEXTS = st.text(st.characters(codec="ascii", exclude_characters='"\\\r\n'), max_size=20)
REGEXES = st.sampled_from(["READY", "^FAX", "[0-9]+", "(a|b)*c", "P\\.\\d{3}", ".*"])
EXPECTATIONS = st.one_of(
    st.builds(lambda t, n: f'lcd "{t}"' + (f" line {n}" if n else ""), TEXTS,
              st.sampled_from([None, 1, 2])),
    st.builds(lambda r: f"lcd /{r}/", REGEXES),
    st.builds(lambda led, s: f"led {led} {s}", st.sampled_from(LED_NAMES),
              st.sampled_from(["on", "off", "blink"])),
    st.builds(lambda t: f"state {t}", st.sampled_from(["standby", "job", "menu", "fax"])),
    st.builds(lambda n: f"printed {n}", st.integers(0, 3)),
    st.builds(lambda t: f'journal "{t}"', st.sampled_from(["OK", "COPY", "NG"])),
)  # fmt: skip
KEYS = st.lists(st.sampled_from(KEY_NAMES), min_size=1, max_size=6).map(" ".join)
STEPS = st.one_of(
    KEYS.map(lambda k: f"press {k}"),
    TEXTS.map(lambda t: f'type "{t}"'),
    st.builds(lambda k, d: f"hold {k} {d}", st.sampled_from(KEY_NAMES), DURATIONS),
    DURATIONS.map(lambda d: f"wait {d}"),
    EXPECTATIONS.map(lambda e: f"expect {e}"),
    st.builds(lambda e, d: f"until {e} within {d}", EXPECTATIONS, DURATIONS),
    st.sampled_from(sorted(FAULT_NAMES)).map(lambda f: f"fault {f}"),
    st.sampled_from(sorted(FAULT_NAMES)).map(lambda f: f"clear {f}"),
    st.sampled_from(["power off", "power on", "lcd?", "led?", "state?", "time?", "printed?",
                     "journal?", "clock 2027-02-28 23:59", "clock 2026-01-01 09:00"]),
    st.integers(0, 260).map(lambda n: f"paper {n}"),
    st.sampled_from(["page.png", "page.png page.png", "junk.png", "folder", "missing.png"]).map(
        lambda p: f"adf load {p}"),
    # what a session does most: start a job and let it run
    st.sampled_from(["press COPY", "press FAX", "press SCAN", "press START", "press STOP",
                     "wait 30s", "wait 2m", "type 5559876", "press FUNCTION", "press SET",
                     "device branch 5559876", "on branch lcd?", "on branch press START"]),
)  # fmt: skip


@examples(300)
@given(STEPS)
def test_lines_built_from_the_grammar_parse_to_their_verb(line):
    step = parse_line(line, 1)
    assert step is not None and step.verb == line.split()[0]


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    folder = tmp_path_factory.mktemp("docs")
    Image.new("1", (1728, 1100), 1).save(folder / "page.png", dpi=(203.2, 195.58))
    (folder / "junk.png").write_bytes(b"not an image at all")
    (folder / "folder").mkdir()
    return folder


@examples(60)
@given(st.lists(STEPS, min_size=1, max_size=12))
def test_any_sequence_of_steps_runs_or_is_refused_and_the_machine_answers(documents, lines):
    """As a console client would send them: each step ends OK, or with a ScriptError or a failed
    expectation; never another exception; afterwards the machine still answers."""
    sim = Simulation()
    interp = Interpreter(sim, base_dir=documents, documents=(documents,))
    started = time.perf_counter()
    try:
        for n, line in enumerate(lines, start=1):
            step = parse_line(line, n)
            assert step is not None
            try:
                result = run_step(interp, step)
            except (ScriptError, ExpectationFailed):
                continue
            assert all(isinstance(x, str) for x in result)
        assert len(run_step(interp, parse_line("lcd?", 99))) == 2  # type: ignore[arg-type]
    finally:
        sim.close()
    assert time.perf_counter() - started < 60


# -- console input -------------------------------------------------------------------------------

CHUNKS = st.lists(
    st.one_of(
        st.binary(max_size=600),
        st.sampled_from([b"\r", b"\n", b"\r\n", b"\x00", b"\xff\xfe", b"\x7f", b"\x1b[A"]),
        st.integers(4000, 9000).map(lambda n: b"7" * n),  # over-long
        STEPS.map(lambda s: s.encode() + b"\r\n"),
    ),
    max_size=25,
)


@examples(300)
@given(CHUNKS)
def test_console_input_gives_commands_or_refusals_and_holds_little(chunks):
    session = ConsoleSession()
    for chunk in chunks:
        session.receive_data(chunk)
        while (item := session.next_command()) is not None:
            if isinstance(item, Refused):
                assert item.reason and "\n" not in item.reason and "\r" not in item.reason
            else:
                assert item.step.verb in VERBS
        # an overlong line is dropped as it comes, not kept
        assert session.pending_input <= session.max_line + len(chunk)


# -- documents -----------------------------------------------------------------------------------


def png(width: int, height: int, body: bytes = b"", bit_depth: int = 1, colour: int = 0) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(body)) + chunk(b"IEND", b"")  # fmt: skip


def tiff(width: int, height: int, pages: int = 1) -> bytes:
    out = io.BytesIO()
    frame = Image.new("1", (8, 8), 1)
    frame.save(out, format="TIFF", save_all=True, append_images=[frame] * (pages - 1))
    data = bytearray(out.getvalue())
    # patch the first page's ImageWidth (256) and ImageLength (257) entries
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    for i in range(count):
        at = ifd + 2 + 12 * i
        tag, kind = struct.unpack_from("<HH", data, at)
        if tag in (256, 257):
            value = width if tag == 256 else height
            struct.pack_into("<HHI", data, at, tag, 4, 1)
            struct.pack_into("<I", data, at + 8, value)
    return bytes(data)


def valid_png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (200, 300), 128).save(out, format="PNG")
    return out.getvalue()


DIMENSION = st.one_of(st.integers(0, 64), st.integers(1, 2**31 - 1))
FILES = st.one_of(
    st.binary(max_size=3000),
    st.builds(lambda w, h: png(w, h, b"\x00" * 64), DIMENSION, DIMENSION),
    st.builds(lambda w, h, p: tiff(w, h, p), DIMENSION, DIMENSION, st.integers(1, 60)),
    st.builds(lambda cut: valid_png()[:cut], st.integers(0, 400)),
    st.builds(lambda at, byte: _flip(valid_png(), at, byte), st.integers(0, 500),
              st.integers(0, 255)),
    st.builds(lambda cut: tiff(1728, 2200)[:cut], st.integers(0, 300)),
)  # fmt: skip


def _flip(data: bytes, at: int, byte: int) -> bytes:
    at %= len(data)
    return data[:at] + bytes([byte]) + data[at + 1 :]


@examples(250)
@given(FILES)
def test_any_file_in_the_feeder_is_sheets_or_refused_with_the_limit(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("doc") / "doc.png"
    path.write_bytes(data)
    started = time.perf_counter()
    try:
        pages = check_document(path)
        sheets = load_sheets(path)
    except DocumentRefused as exc:
        message = str(exc)
        assert "\n" not in message
        assert "600 mm" in message or "50" in message
    else:
        assert 1 <= len(sheets) <= pages  # a broken file is one sheet the machine reports
        for sheet in sheets:
            assert sheet.problem is not None or (sheet.rows > 0 and sheet.cols > 0)
            assert 0 < sheet.length_mm <= 600 and 0 < sheet.width_mm <= 216
    assert time.perf_counter() - started < 5


# -- the settings file ---------------------------------------------------------------------------

VALUES = st.one_of(
    st.integers(-(2**70), 2**70), st.text(max_size=80), st.booleans(),
    st.floats(allow_nan=True), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)  # fmt: skip
SETTING_KEYS = st.sampled_from([s.key for s in SETTINGS] + ["machine.clock", "machine.nope"])


def _toml(value) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {float("inf"): "inf", float("-inf"): "-inf"}.get(
            value, "nan" if value != value else repr(value)
        )
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def settings_text(pairs, entries) -> str:
    tables: dict[str, list[str]] = {}
    for key, value in pairs:
        table, name = key.split(".", 1)
        tables.setdefault(table, []).append(f"{name} = {_toml(value)}")
    text = "".join(f"[{t}]\n" + "\n".join(lines) + "\n" for t, lines in tables.items())
    for kind, slot, name, number in entries:
        text += f"[[{kind}]]\nslot = {slot}\nname = {_toml(name)}\nfax = {_toml(number)}\n"
    return text


SETTINGS_FILES = st.one_of(
    st.text(max_size=400),
    st.builds(
        settings_text,
        st.lists(st.tuples(SETTING_KEYS, VALUES), max_size=8, unique_by=lambda p: p[0]),
        st.lists(st.tuples(st.sampled_from(["one_touch", "speed_dial"]), st.integers(-3, 200),
                           st.text(max_size=20), st.text(max_size=12)), max_size=3),
    ),
)  # fmt: skip


@examples(300)
@given(SETTINGS_FILES)
def test_any_settings_file_is_read_or_refused_with_line_and_reason(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cfg") / "fax.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        loaded = load_settings_file(path)
    except SettingsFileError as exc:
        assert str(exc).startswith(str(path))
        return
    # a file that loads is one the machine starts with
    sim = Simulation(settings_file=loaded)
    try:
        assert len(run_step(Interpreter(sim), parse_line("lcd?", 1))) == 2  # type: ignore[arg-type]
    finally:
        sim.close()
