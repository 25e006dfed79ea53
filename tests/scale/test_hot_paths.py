"""The fast paths made for speed give exactly what the plain ones gave: the CIS's row averaging
against Pillow's BOX resize, the T.4 line timer against a numpy reading of the bits, header text
against drawing it glyph by glyph, the printed sheet's packing against numpy, the decoder's
second try for a long page, the encoder's zeroing ahead on dirty memory, NVRAM's record listings
in RAM, and the allocator setting of a simulating process."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from estudio190f.firmware import codec, reports
from estudio190f.firmware.t30.image import CodedLineTimer
from estudio190f.hw import scanner
from estudio190f.hw.document import MAX_WIDTH_MM, Sheet
from estudio190f.hw.nvram import Nvram
from estudio190f.hw.printer import black_fraction, pack_white


def pillow_lines(sheet: Sheet, lines_per_mm: float, first: int, last: int) -> np.ndarray:
    """What `sample_lines` gave before the fast path: Pillow's BOX resize of the band."""
    count = last - first
    out = np.full((count, scanner.SCAN_PELS), 255, dtype=np.uint8)
    out_cols = min(scanner.SCAN_PELS, max(1, round(min(sheet.width_mm, MAX_WIDTH_MM) * 8)))
    left = (scanner.SCAN_PELS - out_cols) // 2
    rows_per_mm = sheet.rows / sheet.length_mm
    y0, y1 = first / lines_per_mm * rows_per_mm, last / lines_per_mm * rows_per_mm
    if y0 >= sheet.rows:
        return out
    on_paper = count if y1 <= sheet.rows else max(1, round((sheet.rows - y0) / (y1 - y0) * count))
    y1 = min(y1, float(sheet.rows))
    r0, r1 = int(math.floor(y0)), min(sheet.rows, int(math.ceil(y1)))
    x_span = sheet.cols * min(1.0, MAX_WIDTH_MM / sheet.width_mm)
    x0 = (sheet.cols - x_span) / 2
    band = sheet.band_image(r0, r1).convert("L")
    seen = band.resize((out_cols, on_paper), Image.Resampling.BOX,
                       box=(x0, y0 - r0, x0 + x_span, y1 - r0))  # fmt: skip
    out[:on_paper, left : left + out_cols] = np.asarray(seen)
    return out


def test_cis_row_averaging_is_pillows_to_the_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    from estudio190f.hw import cis_optics

    assert cis_optics.AVAILABLE
    fast_bands = []
    box_rows = cis_optics.box_rows
    monkeypatch.setattr(
        cis_optics, "box_rows", lambda *a: fast_bands.append(box_rows(*a)) or fast_bands[-1]
    )
    rng = np.random.default_rng(7)
    bands = 0
    for trial in range(60):
        cols = int(rng.choice([1728, 1728, 1000, 1727, 17, 8]))
        rows = int(rng.integers(1, 1200))
        length_mm = float(rng.choice([rows / 8, rows / float(rng.uniform(2, 20))]))
        black = rng.random((rows, cols)) < float(rng.choice([0.01, 0.2, 0.5]))
        if trial % 3 == 0:
            black[:, : cols // 2] = False  # long white runs: the 64-pel fast path
        sheet = Sheet.from_pixels(black, cols / 8, length_mm, "random")
        lines_per_mm = float(rng.choice([3.85, 7.7, 15.4, rng.uniform(1, 30)]))
        first, total = 0, scanner.lines_for(sheet, lines_per_mm)
        while first < total + 3:
            last = first + int(rng.integers(1, 300))
            fast = scanner.sample_lines(sheet, lines_per_mm, first, last)
            assert np.array_equal(fast, pillow_lines(sheet, lines_per_mm, first, last)), (
                trial, cols, rows, length_mm, lines_per_mm, first, last)  # fmt: skip
            first, bands = last, bands + 1
    assert bands > 250
    assert fast_bands.count(True) > 150  # most through the kernel, the rest through Pillow


def numpy_line_timer(chunks: list[bytes]) -> tuple[int, int, int]:
    """The timer as it was: unpack the bits and find the EOLs with numpy."""
    longest_bits, zeros, since = 0, 0, 0
    for data in chunks:
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
        if bits.size == 0:
            continue
        ones = np.flatnonzero(bits)
        if ones.size == 0:
            zeros += bits.size
            since += bits.size
            longest = since
        else:
            previous = np.concatenate(([-1 - zeros], ones[:-1]))
            ends = ones[ones - previous - 1 >= 11]
            if ends.size:
                first = since + int(ends[0]) + 1
                later = int(np.diff(ends).max()) if ends.size > 1 else 0
                longest = max(first, later)
                since = bits.size - int(ends[-1]) - 1
            else:
                since += bits.size
                longest = since
            zeros = bits.size - int(ones[-1]) - 1
        longest_bits = max(longest_bits, longest)
    return longest_bits, zeros, since


def test_t4_line_timer_matches_the_bitwise_reading() -> None:
    rng = np.random.default_rng(5)
    page = np.zeros((200, 1728), dtype=bool)
    page[::7, 100:400] = True
    streams = [codec.encode(page, "mr", k=4, min_line_bits=300), codec.encode(page, "mh")]
    for trial in range(200):
        if trial % 4 == 0:
            data = streams[trial % 8 // 4]
        else:
            size = int(rng.integers(0, 3000))
            data = bytes(((rng.random(size) < rng.random() * 0.3) * rng.integers(0, 256, size))
                         .astype(np.uint8))  # fmt: skip
        chunks, pos = [], 0
        while pos < len(data):
            step = int(rng.integers(0, 400))
            chunks.append(data[pos : pos + step])
            pos += step
        timer = CodedLineTimer(14400)
        for chunk in chunks:
            timer.feed(chunk)
        assert (timer.longest_bits, timer._zeros, timer._since_eol) == numpy_line_timer(chunks)


def test_header_text_is_drawn_as_glyph_by_glyph() -> None:
    table = reports.glyphs()
    rng = np.random.default_rng(3)
    for _ in range(200):
        width, height = int(rng.integers(1, 400)), int(rng.integers(22, 60))
        base = rng.random((height, width)) < 0.1
        text = "".join(chr(int(c)) for c in rng.integers(0, 300, int(rng.integers(0, 40))))
        row, col = int(rng.integers(0, height - 21)), int(rng.integers(0, width + 20))
        expected = base.copy()
        for i, ch in enumerate(text):
            x = col + i * reports.CELL_W
            if x + reports.CELL_W > width:
                break
            expected[row : row + reports.CELL_H, x : x + reports.CELL_W] |= table.get(
                ch, table["?"]
            )
        drawn = base.copy()
        reports.draw_text(drawn, row, col, text)
        assert np.array_equal(drawn, expected)


@pytest.mark.parametrize("shape", [(2151, 1727), (10, 1728), (7, 9), (3, 1), (0, 5), (100, 2431)])
def test_printed_sheet_packing(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    wide = rng.random((shape[0], shape[1] + 3)) < 0.3
    for black in (wide[:, : shape[1]].copy(), wide[:, 1 : 1 + shape[1]]):  # and a view
        assert pack_white(black) == np.packbits(~black, axis=1).tobytes()
        if black.size:
            assert black_fraction(black) == float(black.mean())


def test_a_page_longer_than_the_first_room_decodes_whole() -> None:
    page = np.zeros((9000, 1728), dtype=bool)
    page[::50, 100:200] = True
    page[-1, :] = True
    for coding in ("mh", "mr", "mmr"):
        result = codec.decode(codec.encode(page, coding), coding)
        assert result.lines == 9000 and result.rtc_seen
        assert np.array_equal(result.pixels, page)
        assert result.pixels.flags.c_contiguous and result.pixels.flags.owndata
        limited = codec.decode(codec.encode(page, coding), coding, max_lines=6000)
        assert np.array_equal(limited.pixels, page[:6000])


def test_encoder_and_decoder_on_dirty_memory() -> None:
    rng = np.random.default_rng(9)
    page = rng.random((700, 1728)) < 0.05
    reference = {c: codec.encode(page, c) for c in ("mh", "mr", "mmr")}
    for _ in range(3):
        junk = [np.full(n, 0xFF, dtype=np.uint8) for n in (1 << 22, 1 << 23, 9_000_000)]
        del junk  # freed memory full of ones, which the next arrays are likely to get
        for coding, stream in reference.items():
            assert codec.encode(page, coding) == stream
            assert np.array_equal(codec.decode(stream, coding).pixels, page)
    garbage = bytes(rng.integers(0, 256, 5000, dtype=np.uint8))
    first = codec.decode(garbage, "mr")
    _ = [np.full(1 << 23, 0xFF, dtype=np.uint8) for _ in range(2)]
    again = codec.decode(garbage, "mr")
    assert np.array_equal(first.pixels, again.pixels) and first.lines == again.lines


def test_nvram_listings_follow_every_write() -> None:
    nvram = Nvram()
    assert nvram.records("job") == []
    first = nvram.add_record("job", {"n": 1, "pages": [1]})
    assert [r.meta for r in nvram.records("job")] == [{"n": 1, "pages": [1]}]
    nvram.records("job")[0].meta["pages"].append(99)  # a caller changing what it got
    assert nvram.records("job")[0].meta == {"n": 1, "pages": [1]}
    nvram.update_record(first, {"n": 2})
    assert [r.meta for r in nvram.records("job")] == [{"n": 2}]
    second = nvram.add_record("job", {"n": 3}, b"data")
    assert [r.id for r in nvram.records("job")] == [first, second]
    assert (
        nvram.records("job")[1].data is None
        and nvram.records("job", with_data=True)[1].data == b"data"
    )
    with pytest.raises(RuntimeError), nvram.transaction():
        nvram.delete_record(first)
        assert [r.id for r in nvram.records("job")] == [second]  # seen inside the transaction
        raise RuntimeError("power cut")
    assert [r.id for r in nvram.records("job")] == [first, second]  # rolled back
    nvram.delete_records("job")
    assert nvram.records("job") == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_simulating_process_keeps_freed_memory() -> None:
    code = ("from estudio190f.panel import allocator\n"
            "from estudio190f.panel.sim import Simulation\n"
            "Simulation(boot=False)\n"
            "print(allocator.keep_freed_memory())\n")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES",)}
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=60)  # fmt: skip
    assert plain.stdout.strip() == "True", plain.stderr
    chosen = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**env, "MALLOC_TRIM_THRESHOLD_": "1000000"}, timeout=60)  # fmt: skip
    assert chosen.stdout.strip() == "False"  # the user's own setting stands
