"""Modems on an audio line, for the tests: what `--line audio` will wire in (phase 2), in small.

`ChipLine` stands where `hw.line.LineInterface` stands for one `Modem`: the modem's signals go to
its `AudioModemChip` at the clock's instant. `AudioPair` puts two modems on one clock, each with
its chip, joined by an `AudioLink`; every PUMP of virtual time it tells each chip what its modem
listens for, carries the sound up to now and gives each modem what its chip recognised.
`ScriptedCaller` / `ScriptedAnswerer` play one side of a T.30 call on a bare modem (just enough
to prove the modem against SpanDSP's fax terminal; the firmware's engine is wired in phase 2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest
from conftest import REQUIRE_PEERS, need_testdata  # tests/conftest.py (tests/ is on sys.path)
from PIL import Image

from estudio190f.firmware.page import Page
from estudio190f.firmware.t30 import image
from estudio190f.firmware.t30.capabilities import (
    Capabilities,
    DcsParams,
    dcs_scan_code,
    min_scan_for,
)
from estudio190f.firmware.t30.frames import encode_ident, make_frame, parse_frame, pps_fif
from estudio190f.hw.audio_line import AudioLink, AudioStation, LoopImpairments
from estudio190f.hw.audio_modem import AudioModemChip
from estudio190f.hw.clock import MS, SECOND, Clock
from estudio190f.hw.modem import (
    CarrierDown,
    CarrierUp,
    DataReceived,
    FrameReceived,
    Modem,
    ModemEvent,
    Signal,
    ToneOn,
)
from estudio190f.hw.spandsp import spandsp_available

PUMP = 20 * MS
GAP = 75 * MS


def need_spandsp() -> None:
    if not spandsp_available():
        reason = "needs libspandsp2 (Debian package; .ci/run installs it)"
        if REQUIRE_PEERS:
            pytest.fail(reason)
        pytest.skip(reason)


def chart_page(n: int = 1, resolution: str = "fine") -> Page:
    with Image.open(need_testdata("ccitt", f"itu{n}.pbm")) as img:
        pixels = ~np.asarray(img, dtype=bool)
    if resolution == "standard":
        pixels = pixels[::2]
    return Page(np.ascontiguousarray(pixels), resolution)


class ChipLine:
    """The line port of one modem on the audio line: its signals go to its chip."""

    def __init__(self, clock: Clock, chip: AudioModemChip) -> None:
        self.clock = clock
        self.chip = chip
        self.sent: list[tuple[int, Signal]] = []

    def transmit(self, signal: Signal) -> None:
        self.sent.append((self.clock.now, signal))
        self.chip.transmit(signal, self.clock.now)


@dataclass
class Side:
    modem: Modem
    chip: AudioModemChip
    line: ChipLine
    heard: list[tuple[int, int, Signal]] = field(
        default_factory=list
    )  # (instant, delivered, signal)
    events: list[tuple[int, ModemEvent]] = field(default_factory=list)


class AudioPair:
    """Two modems through one audio line on one clock."""

    def __init__(
        self,
        *,
        live: bool = False,
        a_loop: LoopImpairments | None = None,
        b_loop: LoopImpairments | None = None,
        seed: int = 0,
        far: AudioStation | None = None,
    ) -> None:
        need_spandsp()
        self.clock = Clock()
        self.sides: list[Side] = []
        for _ in range(1 if far is not None else 2):
            modem = Modem(self.clock)
            chip = AudioModemChip(0, live=live)
            line = ChipLine(self.clock, chip)
            modem.line = line  # type: ignore[assignment]  # stands where LineInterface stands
            side = Side(modem, chip, line)
            modem.listeners.add(
                lambda event, side=side: side.events.append((self.clock.now, event))
            )
            self.sides.append(side)
        stations: list[AudioStation] = [s.chip for s in self.sides]
        if far is not None:
            stations.append(far)
        self.link = AudioLink(stations[0], stations[1], a_loop=a_loop, b_loop=b_loop, seed=seed)
        self.clock.call_later(PUMP, self._pump)

    @property
    def a(self) -> Side:
        return self.sides[0]

    @property
    def b(self) -> Side:
        return self.sides[1]

    def _pump(self) -> None:
        for side in self.sides:
            side.chip.listen(side.modem.rx_modes)
        for station, at, signal in self.link.run_until(self.clock.now):
            side = next(s for s in self.sides if s.chip is station)
            side.heard.append((at, self.clock.now, signal))
            side.modem.on_line_signal(signal)
        self.clock.call_later(PUMP, self._pump)

    def drain(self, extra: float = 3.0) -> None:
        """Run until every modem has sent all it queued, and `extra` seconds more."""
        end = max(s.modem.tx_free_at for s in self.sides) + int(extra * SECOND)
        while self.clock.now < end:
            self.clock.advance(100 * MS)

    def run(self, seconds: float, until: Callable[[], bool] | None = None) -> None:
        end = self.clock.now + int(seconds * SECOND)
        while self.clock.now < end:
            self.clock.advance(100 * MS)
            if until is not None and until():
                return


# -- one side of a T.30 call, scripted ------------------------------------------------------------------
class _Scripted:
    """Collects the V.21 frames of each carrier and reacts when the carrier ends."""

    def __init__(self, modem: Modem) -> None:
        self.modem = modem
        self.received: list[list[bytes]] = []
        self.bad_frames = 0
        self._frames: list[bytes] = []
        self.fast_frames: list[bytes] = []
        self.data: list[bytes] = []
        self.tones: list[str] = []
        modem.listeners.add(self._event)

    def _event(self, event: ModemEvent) -> None:
        if isinstance(event, FrameReceived) and event.modulation == "V.21":
            if event.crc_ok:
                self._frames.append(event.frame)
            else:
                self.bad_frames += 1
        elif isinstance(event, FrameReceived):
            if event.crc_ok:
                self.fast_frames.append(event.frame)
        elif isinstance(event, DataReceived):
            self.data.append(event.data)
        elif isinstance(event, CarrierUp) and event.modulation != "V.21":
            self.data = []
        elif isinstance(event, CarrierDown):
            if event.modulation == "V.21":
                frames, self._frames = self._frames, []
                if frames:
                    self.received.append(frames)
                    self.on_frames([parse_frame(f).name for f in frames], frames)
            else:
                self.on_fast_carrier_end(b"".join(self.data))
        elif isinstance(event, ToneOn):
            self.tones.append(event.tone)

    def names(self) -> list[list[str]]:
        return [[parse_frame(f).name for f in frames] for frames in self.received]

    def respond(self, *frames: bytes, modulation: str = "V.21") -> None:
        self.modem.send_silence(GAP)
        self.modem.send_hdlc(list(frames), modulation)

    def on_frames(self, names: list[str], frames: list[bytes]) -> None:
        raise NotImplementedError

    def on_fast_carrier_end(self, data: bytes) -> None:
        pass


class ScriptedCaller(_Scripted):
    """Calls (CNG), waits for DIS, sends TSI+DCS, TCF and one page (ECM or not), then DCN."""

    def __init__(self, modem: Modem, page: Page, modulation: str, *, ecm: bool = False) -> None:
        super().__init__(modem)
        self.page = page
        self.modulation = modulation
        self.ecm = ecm
        self.params: DcsParams | None = None
        self.step = "wait_dis"
        modem.receive("V.21")
        modem.start_cng()

    def on_frames(self, names: list[str], frames: list[bytes]) -> None:
        modem = self.modem
        if self.step == "wait_dis" and "DIS" in names:
            dis = Capabilities.decode(parse_frame(frames[names.index("DIS")]).fif)
            self.params = DcsParams(
                modulation=self.modulation,
                resolution=self.page.resolution,
                coding="mmr" if self.ecm else "mh",
                min_scan_ms=dcs_scan_code(min_scan_for(dis, self.page.resolution)),
                ecm=self.ecm,
                length="a4",
            )
            modem.stop_cng()
            ident = make_frame("TSI", encode_ident("5551234"), final=False, x=1)
            self.respond(ident, make_frame("DCS", self.params.encode(), x=1))
            modem.send_silence(GAP)
            modem.send_data(image.tcf_data(self.modulation), self.modulation)
            self.step = "wait_cfr"
        elif self.step == "wait_cfr" and "CFR" in names:
            assert self.params is not None
            data = image.encode_page(self.page, self.params)
            short = self.modulation.startswith("V.17")
            modem.send_silence(GAP)
            if self.ecm:
                block = image.ecm_blocks(data, 256)[0]
                fcd = [make_frame("FCD", bytes((n,)) + f, final=False) for n, f in enumerate(block)]
                modem.send_hdlc(fcd + [make_frame("RCP", final=False)] * 3, self.modulation,
                                short_train=short)  # fmt: skip
                self.respond(make_frame("PPS", pps_fif("EOP", 0, 0, len(block), 1), x=1))
            else:
                modem.send_data(data, self.modulation, short_train=short)
                self.respond(make_frame("EOP", x=1))
            self.step = "wait_mcf"
        elif self.step == "wait_mcf" and "MCF" in names:
            self.respond(make_frame("DCN", x=1))
            self.step = "done"


class ScriptedAnswerer(_Scripted):
    """Answers (CED, CSI+DIS), takes DCS and TCF (CFR or FTT), pages (MCF), until DCN."""

    def __init__(self, modem: Modem, *, ecm: bool = False, answer_after: int = SECOND) -> None:
        super().__init__(modem)
        self.caps = Capabilities(
            modulations=("V.17/14400", "V.17/12000", "V.17/9600", "V.29/9600", "V.17/7200",
                         "V.29/7200", "V.27ter/4800", "V.27ter/2400"),
            fine=True, mr=True, mmr=ecm, ecm=ecm, min_scan_ms=0,
        )  # fmt: skip
        self.params: DcsParams | None = None
        self.tcf: list[tuple[str, bool]] = []
        self.pages: list[Page | None] = []
        self.ecm_data: dict[int, bytes] = {}
        self.page_data = b""
        self.step = "wait_dcs"
        modem.receive("V.21")
        modem.send_silence(answer_after)
        modem.send_tone("ced")
        modem.send_silence(GAP)
        ident = make_frame("CSI", encode_ident("5559876"), final=False)
        modem.send_hdlc([ident, make_frame("DIS", self.caps.encode())])

    def on_frames(self, names: list[str], frames: list[bytes]) -> None:
        modem = self.modem
        if "DCS" in names:
            self.params = DcsParams.decode(parse_frame(frames[names.index("DCS")]).fif)
            self.step = "tcf"
            modem.receive(self.params.modulation, "V.21")
        elif self.params is not None and ("EOP" in names or "MPS" in names):
            self.pages.append(image.decode_page(self.page_data, self.params)[0])
            self.respond(make_frame("MCF"))
        elif self.params is not None and "PPS" in names:
            for frame in self.fast_frames:
                if frame[2] & 0xFE == 0x06:
                    self.ecm_data[frame[3]] = frame[4:]
            data = b"".join(self.ecm_data[n] for n in sorted(self.ecm_data))
            self.pages.append(image.decode_page(data, self.params)[0])
            self.respond(make_frame("MCF"))
        elif "DCN" in names:
            self.step = "done"

    def on_fast_carrier_end(self, data: bytes) -> None:
        params = self.params
        if params is None:
            return
        if self.step == "tcf":
            ok = image.tcf_ok(data, params.modulation)
            self.tcf.append((params.modulation, ok))
            self.respond(make_frame("CFR" if ok else "FTT"))
            self.step = "page" if ok else "wait_dcs"
            self.modem.receive(params.modulation, "V.21")
        elif self.step == "page" and not params.ecm:
            self.page_data = data


def signal_summary(signals: Sequence[Signal]) -> list[tuple[str, str, str, bool]]:
    """(kind, modulation, tone, short_train) of the signals that are not frames or data."""
    return [
        (s.kind, s.modulation, s.tone, s.short_train) for s in signals if not (s.frames or s.data)
    ]
