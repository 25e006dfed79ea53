"""The console's protocol core without I/O: framing, limits and the shape of what it sends."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from estudio190f.panel.console import (
    MAX_LINE,
    Command,
    ConsoleSession,
    Refused,
    event_text,
    quote,
)


def drain(session: ConsoleSession) -> list[Command | Refused]:
    items = []
    while (item := session.next_command()) is not None:
        items.append(item)
    return items


def texts(items) -> list[str]:
    return [i.text if isinstance(i, Command) else f"ERR {i.reason}" for i in items]


def take_all(session: ConsoleSession) -> bytes:
    out = b""
    while chunk := session.take(4096):
        out += chunk
    return out


def test_cr_lf_and_crlf_each_end_a_line_and_crlf_is_one_end():
    s = ConsoleSession()
    s.receive_data(b"lcd?\rstate?\ntime?\r\nled?\n\rprinted?\r\r\n")
    assert texts(drain(s)) == ["lcd?", "state?", "time?", "led?", "printed?"]


def test_a_line_waits_for_its_end_and_a_crlf_may_be_split():
    s = ConsoleSession()
    s.receive_data(b"lc")
    assert s.next_command() is None
    s.receive_data(b"d?\r")
    assert texts(drain(s)) == ["lcd?"]
    s.receive_data(b"\n")
    assert s.next_command() is None and s.pending_input == 0
    s.receive_data(b"state?\n")
    assert texts(drain(s)) == ["state?"]


def test_blank_and_comment_lines_are_not_commands():
    s = ConsoleSession()
    s.receive_data(b"\r\n  \t \r\n# press START\r\nlcd? \r\n")
    assert texts(drain(s)) == ["lcd?"]


def test_parse_errors_are_refusals_with_the_parsers_reason():
    s = ConsoleSession()
    s.receive_data(b"Press COPY\r\nwait soon\r\n")
    assert texts(drain(s)) == [
        "ERR unknown verb 'Press' (verbs are lower case: press)",
        "ERR bad duration 'soon' (write e.g. 500ms, 5s, 2m, 1h)",
    ]


def test_nul_bytes_are_padding_and_backspace_edits_the_line():
    s = ConsoleSession()
    s.receive_data(b"lc\0d?\r\0press COPZ\x7fY\r\nstaX\bte?\n")
    assert texts(drain(s)) == ["lcd?", "press COPY", "state?"]


def test_non_utf8_and_control_characters_are_refused():
    s = ConsoleSession()
    s.receive_data(b"lcd\xff?\r\n\x1b[Alcd?\r\nlcd?\r\n")
    assert texts(drain(s)) == [
        "ERR line is not UTF-8 text",
        "ERR control character 0x1B in line",
        "lcd?",
    ]


def test_an_overlong_line_is_refused_once_and_the_next_line_runs():
    s = ConsoleSession()
    s.receive_data(b"x" * (MAX_LINE + 1))
    assert s.next_command() is None
    assert s.pending_input == 0  # nothing of it is kept
    for _ in range(50):
        s.receive_data(b"y" * 10_000)
        assert s.next_command() is None and s.pending_input <= MAX_LINE
    s.receive_data(b"zzz\r\nlcd?\r\n")
    assert texts(drain(s)) == ["ERR line too long", "lcd?"]


def test_a_line_of_exactly_the_limit_is_taken():
    s = ConsoleSession()
    s.receive_data(b"type " + b"1" * (MAX_LINE - 5) + b"\r\n")
    (item,) = drain(s)
    assert isinstance(item, Command) and item.step.verb == "type"


def test_answers_are_result_lines_then_ok_or_err_all_crlf():
    s = ConsoleSession()
    s.answer(["01-01-2026 09:00", "FAX READY"])
    s.answer([])
    s.refuse("unknown verb 'x'")
    assert take_all(s) == b"01-01-2026 09:00\r\nFAX READY\r\nOK\r\nOK\r\nERR unknown verb 'x'\r\n"


def test_a_result_line_never_reads_as_the_end_of_an_answer_or_an_event():
    s = ConsoleSession()
    s.answer(["OK", "ERR 5", "! lcd", "two\r\nlines"])
    assert take_all(s) == b" OK\r\n ERR 5\r\n ! lcd\r\ntwo  lines\r\nOK\r\n"


def test_events_are_sent_only_when_on_and_start_with_bang_space():
    s = ConsoleSession()
    assert not s.push_event('lcd "A" "B"')
    s.events = True
    assert s.push_event('lcd "A" "B"')
    assert take_all(s) == b'! lcd "A" "B"\r\n'


def test_events_beyond_the_output_limit_are_dropped_and_counted():
    s = ConsoleSession(output_limit=1000)
    s.events = True
    sent = sum(s.push_event(f"led FAX {'on' if i % 2 else 'off'}") for i in range(500))
    assert 500 - 20 <= s.pending_output < 500 + 20  # events stop at half the output limit
    assert s.room_for_answers()  # so that a command such as `events off` still gets through
    assert s.dropped == 500 - sent > 0
    s.answer(["still answered"])  # answers are never dropped
    out = take_all(s)
    assert out.endswith(b"still answered\r\nOK\r\n" + f"! dropped {500 - sent} events\r\n".encode())
    assert s.dropped == 0 and s.dropped_total == 500 - sent
    assert s.room_for_answers()


def test_discarding_output_forgets_pending_lines_and_drops():
    s = ConsoleSession(output_limit=100)
    s.events = True
    for _ in range(50):
        s.push_event("led FAX on")
    s.discard_output()
    assert take_all(s) == b""


def test_event_text_and_quoting():
    assert quote('SAY "HI" \\') == '"SAY \\"HI\\" \\\\"'
    assert event_text("main", "led", "FAX on") == "led FAX on"
    assert event_text("branch", "power", "off") == "on branch power off"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.integers(min_value=1, max_value=400), max_size=20))
def test_how_bytes_are_split_into_reads_never_changes_the_commands(data, cuts):
    whole = ConsoleSession()
    whole.receive_data(data)
    expected = texts(drain(whole))
    pieces = ConsoleSession()
    at = 0
    got = []
    for cut in [*cuts, len(data)]:
        pieces.receive_data(data[at : at + cut])
        at += cut
        got += texts(drain(pieces))
    pieces.receive_data(data[at:])
    got += texts(drain(pieces))
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=6000))
def test_after_any_garbage_a_fresh_line_is_understood(garbage):
    s = ConsoleSession()
    s.receive_data(garbage)
    drain(s)
    assert s.pending_input <= MAX_LINE + 1
    s.receive_data(b"\r\nlcd?\r\n")
    items = drain(s)
    assert isinstance(items[-1], Command) and items[-1].text == "lcd?"
