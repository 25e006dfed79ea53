"""The window's parts that need no display: the LCD's dot-matrix drawing, the key shortcuts, the
path field's parsing."""

from __future__ import annotations

import string

import numpy as np
import pytest

from estudio190f.hw.operator_panel import KEY_NAMES, LCD_COLUMNS
from estudio190f.panel.lcd_image import (
    GLYPHS,
    LCD_BACKLIGHT,
    LCD_DOT_ON,
    PITCH,
    glyph,
    lcd_line_box,
    lcd_size,
    render_lcd,
)
from estudio190f.panel.window import KEY_LABELS, SHORTCUTS, key_widget_name, parse_paths, speed_text


def test_every_character_the_lcd_can_show_has_its_own_5x7_glyph():
    shown = [c for c in string.printable if c.isprintable() and not c.islower()]
    assert set(shown) <= set(GLYPHS)
    patterns = {}
    for ch in shown:
        dots = glyph(ch)
        assert dots.shape == (7, 5), ch
        patterns.setdefault(dots.tobytes(), []).append(ch)
    assert [chars for chars in patterns.values() if len(chars) > 1] == []


def test_lower_case_shows_as_upper_case_and_unknown_characters_as_a_block():
    assert np.array_equal(glyph("a"), glyph("A"))
    assert glyph("\u00e9").all()


def dot_lit(image: np.ndarray, line: int, column: int, row: int, col: int) -> bool:
    """Whether dot (row, col) of the character at `column` on `line` is drawn lit."""
    left, top, _, _ = lcd_line_box(line)
    x = left + (column * 6 + col) * PITCH
    y = top + row * PITCH
    return tuple(image[y, x]) == LCD_DOT_ON


def test_the_drawing_puts_each_glyph_in_its_cell():
    image = np.asarray(render_lcd(["A", "         T"]))
    assert image.shape == (lcd_size()[1], lcd_size()[0], 3)
    a = glyph("A")
    assert all(dot_lit(image, 1, 0, r, c) == a[r, c] for r in range(7) for c in range(5))
    t = glyph("T")
    assert all(dot_lit(image, 2, 9, r, c) == t[r, c] for r in range(7) for c in range(5))
    assert not any(dot_lit(image, 2, 8, r, c) for r in range(7) for c in range(5))


def test_changing_one_line_changes_only_that_line_of_the_drawing():
    fax = np.asarray(render_lcd(["01-01-2026 09:00", "FAX READY"]))
    copy = np.asarray(render_lcd(["01-01-2026 09:00", "COPY READY"]))
    changed = np.argwhere((fax != copy).any(axis=2))
    left, top, right, bottom = lcd_line_box(2)
    assert changed.size
    assert changed[:, 0].min() >= top and changed[:, 0].max() < bottom
    assert changed[:, 1].min() >= left and changed[:, 1].max() < right


def test_text_past_20_characters_is_cut_as_on_the_lcd():
    long = "X" * LCD_COLUMNS
    assert np.array_equal(
        np.asarray(render_lcd([long + "YYY", ""])), np.asarray(render_lcd([long, ""]))
    )


def test_a_powered_off_lcd_is_dark():
    image = np.asarray(render_lcd(["FAX READY", ""], powered=False))
    assert (image != np.array(LCD_BACKLIGHT, dtype=np.uint8)).any(axis=2).all()
    assert len(np.unique(image.reshape(-1, 3), axis=0)) == 1


def test_every_key_has_a_label_a_shortcut_and_a_tk_name():
    assert set(SHORTCUTS) == set(KEY_NAMES) == set(KEY_LABELS) | set("0123456789*#")
    keysyms = [sym for syms, _ in SHORTCUTS.values() for sym in syms]
    assert len(keysyms) == len(set(keysyms))
    assert SHORTCUTS["START"][0][0] == "Return" and SHORTCUTS["STOP"][0] == ("Escape",)
    assert SHORTCUTS["CLEAR"][0] == ("BackSpace",)
    assert SHORTCUTS["ONE_TOUCH_12"][0] == ("F12",)
    names = [key_widget_name(k) for k in KEY_NAMES]
    assert len(set(names)) == len(names)
    assert all(n[0].islower() and "." not in n for n in names)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/a/b.png", ["/a/b.png"]),
        ("/a/b.png '/c/d e.png'", ["/a/b.png", "/c/d e.png"]),
        ("file:///tmp/my%20scan.tif", ["/tmp/my scan.tif"]),
        ("file:///a.png\nfile:///b%231.png\n", ["/a.png", "/b#1.png"]),
        ("   ", []),
    ],
)
def test_the_path_field_takes_paths_quoted_words_and_file_links(text, expected):
    assert parse_paths(text) == expected


def test_a_path_with_spaces_that_exists_is_one_path(tmp_path):
    page = tmp_path / "my scan 1.png"
    page.write_bytes(b"")
    assert parse_paths(f"  {page}  ") == [str(page)]


def test_the_speed_is_shown_as_the_run_was_started():
    assert [speed_text(s) for s in (None, 1.0, 20.0, 2.5)] == [
        "max",
        "realtime",
        "\u00d720",
        "\u00d72.5",
    ]
