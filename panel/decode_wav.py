"""`estudio190f decode FILE.wav [--out DIR]`: the T.30 frames of a recorded fax call, and its pages.

Reads a recording made here or by other fax software (mono or stereo; 16-bit linear, µ-law or
A-law; 8 kHz, other rates resampled), demodulates every channel with the audio modem's receiver
(`hw.audio_modem.AudioReceiver`: V.21 frames always; after a DCS the high-speed modulation it
names), and prints one line per T.30 frame: the time in seconds from the start of the recording,
the channel, the frame's name and what it says (as the event log's session trace writes it). The
pages found (non-ECM page data, or the ECM frames of a page's blocks, decoded as the DCS says) are
written under DIR as TIFF Class F, one file per document and channel (`ch1-doc1.tif`, ...).

Without `--out` the pages are counted, not written. A file that is not a readable WAV gives one
line on standard error and exit status 2; exit 0 otherwise (a recording with no fax in it prints
nothing). `estudio190f decode` (panel/decode_tool.py) comes here when the file is a WAV
(`is_wav`: told apart by its content, not its name).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from estudio190f.firmware.page import Page
from estudio190f.firmware.t30.capabilities import DcsParams, ctc_modulation
from estudio190f.firmware.t30.frames import FrameError, parse_frame, parse_pps
from estudio190f.firmware.t30.image import decode_page
from estudio190f.firmware.t30.trace import describe
from estudio190f.firmware.tiff_f import write_tiff_f
from estudio190f.hw.audio_modem import BLOCK, AudioReceiver
from estudio190f.hw.modem import CARRIER_OFF, CARRIER_ON, DATA, FRAMES
from estudio190f.hw.spandsp import SpanDspMissing
from estudio190f.hw.wav import WavAudio, WavError, read_wav_file

POST_PAGE = ("MPS", "EOP", "EOM", "PRI-MPS", "PRI-EOP", "PRI-EOM")
END_OF_DOCUMENT = ("EOP", "EOM", "PRI-EOP", "PRI-EOM")


@dataclass(frozen=True)
class FoundFrame:
    at_us: int
    channel: int  # 1-based
    frame: bytes
    fcs_ok: bool

    def line(self) -> str:
        name, detail = describe(self.frame)
        mark = "" if self.fcs_ok else " [bad FCS]"
        return f"{self.at_us / 1e6:9.3f}  ch{self.channel}  {name:<7} {detail}{mark}"


@dataclass
class FoundPage:
    channel: int
    document: int
    page: Page
    lines: int
    bad_lines: int


@dataclass
class _Channel:
    """One channel's demodulator and what its T.30 frames say about the high-speed carriers."""

    number: int
    receiver: AudioReceiver = field(default_factory=AudioReceiver)
    params: DcsParams | None = None
    tcf_next: bool = False  # the next high-speed carrier is the TCF
    in_carrier: bool = False
    data: list[bytes] = field(default_factory=list)  # non-ECM page data of the last carrier
    ecm: dict[int, bytes] = field(default_factory=dict)  # this page's ECM frames by number
    document: int = 1
    frames: list[FoundFrame] = field(default_factory=list)
    pages: list[FoundPage] = field(default_factory=list)

    def feed(self, samples: np.ndarray) -> None:
        for start in range(0, samples.size, BLOCK):
            for at, signal in self.receiver.receive(samples[start : start + BLOCK]):
                if signal.modulation == "V.21":
                    if signal.kind == FRAMES:
                        for frame, ok in signal.frames:
                            self._v21_frame(at, frame, ok)
                elif signal.kind == CARRIER_ON:
                    self.in_carrier = True
                    self.data = []
                elif signal.kind == DATA:
                    self.data.append(signal.data)
                elif signal.kind == FRAMES:
                    self._ecm_frames(signal.frames)
                elif signal.kind == CARRIER_OFF:
                    self.in_carrier = False
                    if self.tcf_next:
                        self.tcf_next = False
                        self.data = []

    def _v21_frame(self, at: int, frame: bytes, ok: bool) -> None:
        self.frames.append(FoundFrame(at, self.number, frame, ok))
        if not ok:
            return
        try:
            parsed = parse_frame(frame)
        except FrameError:
            return
        name = parsed.name
        if name == "DCS":
            try:
                self.params = DcsParams.decode(parsed.fif)
            except ValueError:
                return
            self.tcf_next = True
            self.receiver.listen([self.params.modulation])
        elif name == "CTC" and self.params is not None:
            self.params = self.params.with_modulation(ctc_modulation(parsed.fif))
            self.receiver.listen([self.params.modulation])
        elif name in POST_PAGE and self.params is not None and not self.params.ecm:
            self._page(b"".join(self.data), name)
            self.data = []
        elif name == "PPS" and self.params is not None:
            try:
                post = parse_pps(parsed.fif)[0]
            except FrameError:
                return
            if post is not None:
                data = b"".join(self.ecm[n] for n in sorted(self.ecm))
                self.ecm = {}
                self._page(data, post)

    def _ecm_frames(self, frames: tuple[tuple[bytes, bool], ...]) -> None:
        for frame, ok in frames:
            if ok and len(frame) >= 4 and frame[2] & 0xFE == 0x06:  # FCD: frame number, data
                self.ecm[frame[3]] = frame[4:]

    def _page(self, data: bytes, post: str) -> None:
        assert self.params is not None
        if data:
            page, quality = decode_page(data, self.params)
            if page is not None:
                self.pages.append(
                    FoundPage(self.number, self.document, page, quality.lines, quality.bad_lines)
                )
        if post in END_OF_DOCUMENT:
            self.document += 1


def decode_recording(audio: WavAudio) -> tuple[list[FoundFrame], list[FoundPage]]:
    """Every channel's frames (in time order) and pages."""
    channels = [_Channel(n + 1) for n in range(audio.channels)]
    for index, channel in enumerate(channels):
        channel.feed(np.ascontiguousarray(audio.samples[:, index]))
    frames = sorted((f for c in channels for f in c.frames), key=lambda f: (f.at_us, f.channel))
    pages = [p for c in channels for p in c.pages]
    return frames, pages


def write_pages(pages: list[FoundPage], out_dir: Path) -> list[tuple[Path, int]]:
    """One TIFF Class F file per channel and document; returns each path and its page count."""
    out_dir.mkdir(parents=True, exist_ok=True)
    groups: dict[tuple[int, int], list[FoundPage]] = {}
    for found in pages:
        groups.setdefault((found.channel, found.document), []).append(found)
    written = []
    for (channel, document), group in sorted(groups.items()):
        path = out_dir / f"ch{channel}-doc{document}.tif"
        errors = [(p.bad_lines, 0) for p in group]
        data = write_tiff_f([p.page for p in group], "mh", line_errors=errors)
        temporary = path.with_name(path.name + ".part")
        temporary.write_bytes(data)
        temporary.replace(path)
        written.append((path, len(group)))
    return written


def is_wav(head: bytes) -> bool:
    """Whether a file starting with `head` (12 bytes or more) is a WAV file."""
    return head[:4] in (b"RIFF", b"RIFX") and head[8:12] == b"WAVE"


def decode_wav(path: str | Path, out_dir: str | Path | None = None) -> int:
    """The command: print the frames, write the pages; the exit status."""
    try:
        audio = read_wav_file(path)
        frames, pages = decode_recording(audio)
    except WavError as exc:
        print(f"estudio190f decode: {path}: {exc}", file=sys.stderr)
        return 2
    except SpanDspMissing as exc:
        print(f"estudio190f decode: {exc}", file=sys.stderr)
        return 2
    for found in frames:
        print(found.line())
    if pages and out_dir is None:
        groups: dict[tuple[int, int], int] = {}
        for page in pages:
            groups[(page.channel, page.document)] = groups.get((page.channel, page.document), 0) + 1
        for (channel, document), count in sorted(groups.items()):
            print(f"ch{channel}: document {document}, {count} page(s) (--out DIR to write it)")
    elif pages:
        assert out_dir is not None
        for written, count in write_pages(pages, Path(out_dir)):
            print(f"{written}: {count} page{'s' if count != 1 else ''}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE.wav", help="a call recording")
    parser.add_argument("--out", type=Path, default=None, help="write the pages found there")


def run(args: argparse.Namespace) -> int:
    return decode_wav(args.file, args.out)
