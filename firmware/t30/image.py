"""Pages on the line: coding a page for the negotiated DCS, judging what arrived, TCF and ECM.

The T.30 session calls these; they are pure computation over the project's codec
(`firmware.codec`, MH/MR/MMR in line order, least significant bit first) with no I/O.

- A page is fitted to the DCS first: its resolution lowered (every other line) or raised (lines
  repeated) and its width resampled when the far end cannot take it as it is.
- Without ECM every coded line is padded to the minimum scan line time the receiver asked for
  (fill bits before the EOL, T.4 4.1.3).
- Copy quality: like SpanDSP since it followed the TSB85 thresholds (ETS 300 242's ERROR page:
  4.9 % bad lines must be accepted, 15.1 % refused), under 5 % bad lines is good (MCF), under
  15 % tolerable (RTP: kept, but retrain), worse is bad (RTN: the page is refused and sent again).
- TCF: 1.5 s of zeros; the receiver judges what follows its first 250 ms (the demodulator
  settles there: TSB85 MRGN07 sends a few bytes of 0x55 first and expects CFR) and accepts it when
  at least 1 s of that arrived with a bit-error rate under 1e-4 (a project threshold; T.30 leaves
  the criterion to the receiver).
- ECM (T.4 Annex A): the coded page cut into frames of 256 (or 64) octets, at most 256 frames a
  block (partial page).
- Without ECM a receiver times every coded scan line as it arrives (`CodedLineTimer`): T.4 4.1.3
  limits one line (data, fill and EOL) to 5 s, and a receiver that sees a longer one must
  disconnect the line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from estudio190f.firmware import codec
from estudio190f.firmware.page import Page
from estudio190f.hw.clock import SECOND

from .capabilities import DcsParams, modulation_rate
from .timing import MAX_CODED_LINE, TCF

TCF_SECONDS = TCF / SECOND
TCF_MIN_SECONDS = 1.0
TCF_SETTLE_SECONDS = 0.25
TCF_MAX_BER = 1e-4
FRAMES_PER_BLOCK = 256
# Lines per standard line at each resolution ("photo" is sent as fine).
LEVEL = {"standard": 1, "fine": 2, "photo": 2, "superfine": 4}
# MR's K factor: at most K-1 two-dimensional lines after a one-dimensional one (T.4 4.2.1.3.4).
K_FACTOR = {"standard": 2, "fine": 4, "superfine": 4}


def wire_resolution(resolution: str) -> str:
    return "fine" if resolution == "photo" else resolution


def fit_pixels(page: Page, resolution: str, width: int) -> np.ndarray:
    """The page's pixels at `resolution` and `width` (nearest neighbour where they differ)."""
    pixels = page.pixels
    have, want = LEVEL[page.resolution], LEVEL[resolution]
    if want < have:
        pixels = pixels[:: have // want]
    elif want > have:
        pixels = np.repeat(pixels, want // have, axis=0)
    if pixels.shape[1] != width:
        columns = (np.arange(width) * pixels.shape[1]) // width
        pixels = pixels[:, columns]
    return np.ascontiguousarray(pixels, dtype=bool)


def encode_page(page: Page, params: DcsParams) -> bytes:
    """The page coded as the DCS says: coding, K, minimum line bits without ECM, RTC/EOFB."""
    pixels = fit_pixels(page, params.resolution, params.width)
    min_bits = 0 if params.ecm else params.rate * params.min_scan_ms // 1000
    if params.coding == "mmr":
        return bytes(codec.encode(pixels, "mmr"))
    return bytes(
        codec.encode(
            pixels,
            params.coding,
            k=K_FACTOR.get(params.resolution, 4),
            min_line_bits=min_bits,
            eol=True,
            rtc=True,
        )
    )


@dataclass(frozen=True)
class PageQuality:
    lines: int
    bad_lines: int
    longest_bad_run: int
    rtc_seen: bool

    @property
    def verdict(self) -> str:
        """good (MCF) | poor (RTP) | bad (RTN): under 5 %, under 15 %, more bad lines."""
        if self.lines == 0:
            return "bad"
        if self.bad_lines * 20 < self.lines:
            return "good"
        if self.bad_lines * 100 < self.lines * 15:
            return "poor"
        return "bad"


def decode_page(data: bytes, params: DcsParams) -> tuple[Page | None, PageQuality]:
    """Decode what arrived; a stream the codec cannot read at all gives no page and a bad verdict."""
    try:
        result = codec.decode(data, params.coding, width=params.width)
    except codec.CodecError:
        return None, PageQuality(0, 0, 0, False)
    pixels = np.asarray(result.pixels, dtype=bool)
    quality = PageQuality(
        int(result.lines), int(result.bad_lines), int(result.longest_bad_run), bool(result.rtc_seen)
    )
    if pixels.ndim != 2 or pixels.shape[0] == 0:
        return None, PageQuality(0, 0, 0, quality.rtc_seen)
    return Page(pixels, params.resolution), quality


def tcf_data(modulation: str) -> bytes:
    return bytes(int(modulation_rate(modulation) * TCF_SECONDS) // 8)


def tcf_ok(data: bytes, modulation: str) -> bool:
    rate = modulation_rate(modulation)
    data = data[int(rate * TCF_SETTLE_SECONDS) // 8 :]
    if len(data) * 8 < rate * TCF_MIN_SECONDS:
        return False
    errors = int(np.unpackbits(np.frombuffer(data, dtype=np.uint8)).sum())
    return errors <= TCF_MAX_BER * len(data) * 8


def ecm_blocks(data: bytes, frame_size: int) -> list[list[bytes]]:
    """The coded page as blocks (partial pages) of frames; the last frame may be short."""
    frames = [data[i : i + frame_size] for i in range(0, len(data), frame_size)] or [b""]
    return [frames[i : i + FRAMES_PER_BLOCK] for i in range(0, len(frames), FRAMES_PER_BLOCK)]


class CodedLineTimer:
    """How long each coded scan line takes on the line, measured as page data arrives: from the
    end of one EOL to the end of the next (data, fill, EOL). `feed` returns True as soon as one
    line has taken longer than T.4's 5 s, even while it is still arriving."""

    def __init__(self, rate: int, limit: int = MAX_CODED_LINE) -> None:
        self.limit_bits = rate * limit // SECOND
        self.longest_bits = 0
        self._zeros = 0  # 0 bits in a row at the end of what came so far
        self._since_eol = 0  # bits since the last EOL ended

    def feed(self, data: bytes) -> bool:
        if not data:
            return False
        longest, self._zeros, self._since_eol = codec.coded_line_bits(
            data, self._zeros, self._since_eol
        )
        self.longest_bits = max(self.longest_bits, longest)
        return self.longest_bits > self.limit_bits
