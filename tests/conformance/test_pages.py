"""The ETS 300 242 test pages the runner makes, and the tester's coding of them (fill bits,
stretched lines, corrupted rows): sizes where the TSB85 scripts depend on them."""

from __future__ import annotations

import numpy as np
import pytest

from estudio190f.firmware import codec
from estudio190f.panel.conformance_pages import DOCUMENTS, corrupt_rows, document, page_data

LINES = {
    "white": [1100],
    "white_2p": [1100, 1100],
    "diago1": [1002],
    "diago2": [1002],
    "stairstep": [1728],
    "impress": [1079],
    "impress_white": [1079, 1100],
    "error": [400],
    "duration1": [237],
    "duration2": [237],
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_page_is_a4_width_at_standard_resolution(name: str) -> None:
    pages = document(f"etsi_300_242_a4_{name}.tif")
    assert [p.page.lines for p in pages] == LINES[name]
    assert all(p.page.width == 1728 and p.page.resolution == "standard" for p in pages)


def runs(row: np.ndarray) -> tuple[int, int]:
    """The first white run and the black run after it."""
    black = np.flatnonzero(row)
    white = int(black[0]) if black.size else row.size
    return white, row.size - white


def test_the_diagonal_pages_hold_every_run_length_of_both_colours() -> None:
    white: set[int] = set()
    black: set[int] = set()
    for name in ("diago1", "diago2"):
        for row in document(name)[0].page.pixels[:1001]:
            w, b = runs(row)
            white.add(w)
            black.add(b)
    assert white == set(range(1729)) and black == set(range(1729))


def frames(data: bytes, size: int) -> int:
    return -(-len(data) // size)


def test_stairstep_codes_to_the_frame_counts_the_ecm_scripts_announce() -> None:
    stairstep = document("stairstep")[0]
    # PPS ... 6B: 215 frames of 64 octets; padded to 141 bits a line, 477 frames (block 1: 221,
    # PPS ... 3B); to 303 bits, 256 frames of 256 octets (PPS ... FF)
    assert frames(page_data(stairstep), 64) == 215
    assert frames(page_data(stairstep, min_bits=141), 64) == 256 + 221
    assert frames(page_data(stairstep, min_bits=303), 256) == 256


def test_impress_is_two_ecm_blocks_of_256_octet_frames() -> None:
    assert 256 < frames(page_data(document("impress")[0]), 256) <= 512


def eol_positions(data: bytes) -> list[int]:
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
    ones = np.flatnonzero(bits)
    gaps = np.diff(ones)
    return [int(p) for p, gap in zip(ones[1:], gaps, strict=True) if gap >= 12]


@pytest.mark.parametrize("name,seconds", [("duration1", 4.9), ("duration2", 5.1)])
def test_the_duration_pages_stretch_one_line_to_its_air_time(name: str, seconds: float) -> None:
    data = page_data(document(name)[0], rate=4800)
    eols = eol_positions(data)
    longest = max(b - a for a, b in zip(eols, eols[1:], strict=False))
    assert abs(longest - seconds * 4800) <= 8  # bits of the line at 4800 bit/s, EOL to EOL


def test_corrupted_rows_are_the_bad_lines_the_decoder_finds() -> None:
    error = document("error")[0]
    clean = page_data(error)
    damaged = corrupt_rows(clean, [100, 200, 300])
    assert codec.decode(clean, "mh").bad_lines == 0
    assert codec.decode(damaged, "mh").bad_lines == 3
