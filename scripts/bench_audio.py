#!/usr/bin/env python3
"""Benchmark: the audio modem chip, as a multiple of real time (samples per second / 8000).

1. Each modulation alone: the transmitter making 20 s of carrier (TCF-like data, or V.21 frames),
   and the receiver demodulating it, timed separately; beside them SpanDSP's bare modulator and
   demodulator on the same bits (the C floor: what the chip's glue costs on top).
2. A call's worth of sound between two chips, both directions, through the line model (no
   T.30 engine: the modems play a fixed exchange: CNG, CED, DIS, DCS, TCF, one page of ITU
   chart 1 fine MH at V.17 14400, EOP, MCF, DCN), pumped every `--pump` ms of virtual time as
   the audio line would be (chips not live: a simulated line), with and without noise (30 dB
   SNR: the noise costs the same at any SNR, and at 30 dB the page still arrives whole). The figure is the call's air time over the wall time. A profile of one run says where
   the time goes.

    python scripts/bench_audio.py [--repeat 5] [--pump 20] [--no-profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time

import numpy as np
from PIL import Image
from testdata_path import CHARTS

from estudio190f.firmware.page import Page
from estudio190f.firmware.t30 import image
from estudio190f.firmware.t30.capabilities import DcsParams
from estudio190f.firmware.t30.frames import make_frame
from estudio190f.hw import spandsp_modems as sd
from estudio190f.hw.audio_line import AudioLink, LoopImpairments
from estudio190f.hw.audio_modem import AudioModemChip, AudioReceiver, AudioTransmitter
from estudio190f.hw.clock import MS, SECOND, Clock
from estudio190f.hw.modem import CARRIER_OFF, CARRIER_ON, DATA, FRAMES, MODULATIONS, Modem, Signal

SECONDS = 20
GAP = 75 * MS


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# -- 1. each modulation ------------------------------------------------------------------------------
def carrier_signals(key: str) -> list[tuple[int, Signal]]:
    """A carrier of SECONDS as the modem would emit it: data blocks, or V.21 frames."""
    mod = MODULATIONS[key]
    t = 0
    out = [(0, Signal(CARRIER_ON, key))]
    if key == "V.21":
        t = SECOND
        frame = make_frame("DIS", bytes(8))
        while t < SECONDS * SECOND:
            t += (len(frame) + 3) * 8 * SECOND // 300
            out.append((t, Signal(FRAMES, key, frames=((frame, True),))))
    else:
        t = mod.long_train
        block = mod.rate // 8
        rng = np.random.default_rng(1)
        while t < SECONDS * SECOND:
            t += SECOND
            out.append((t, Signal(DATA, key, data=rng.bytes(block))))
    out.append((t, Signal(CARRIER_OFF, key)))
    return out


def bench_modulations(repeat: int) -> None:
    print(f"1. one modulation, {SECONDS} s of carrier: x real time (median of {repeat})")
    print(f"   {'modulation':<14}{'chip tx':>9}{'chip rx':>9}{'C tx':>9}{'C rx':>9}"
          "   (C: SpanDSP alone, 160-sample calls)")  # fmt: skip
    for key in ("V.21", *[k for k in MODULATIONS if k != "V.21"]):
        chip_tx, chip_rx = chip_speeds(key, repeat)
        c_tx, c_rx = bare_spandsp(key, repeat)
        print(f"   {key:<14}{chip_tx:9.0f}{chip_rx:9.0f}{c_tx:9.0f}{c_rx:9.0f}")


def chip_speeds(key: str, repeat: int) -> tuple[float, float]:
    """The chip's transmitter making SECONDS of a carrier, its receiver demodulating it."""
    signals = carrier_signals(key)
    end = signals[-1][0] + SECOND

    def modulate() -> np.ndarray:
        tx = AudioTransmitter(0, live=False)
        for at, signal in signals:
            tx.transmit(signal, at)
        return tx.audio(end)

    samples = modulate()

    def demodulate() -> None:
        rx = AudioReceiver(0)
        rx.listen([key])
        rx.receive(samples)

    air = samples.size / 8000
    return air / timed(modulate, repeat), air / timed(demodulate, repeat)


def bare_spandsp(key: str, repeat: int) -> tuple[float, float]:
    """SpanDSP's own modulator and demodulator on SECONDS of bits, in 160-sample blocks."""
    if key == "V.21":
        return float("nan"), float("nan")
    mod = MODULATIONS[key]
    family, rate = key.split("/")[0], mod.rate
    bits = np.zeros(rate * SECONDS, dtype=np.int8)

    def modulate() -> np.ndarray:
        queue = sd.BitQueue(fill=0)
        tx = sd.FastTransmitter(family, rate, queue.port)
        queue.push(bits)
        queue.end()
        out = []
        while True:
            piece = tx.tx(160)
            out.append(piece)
            if piece.size < 160:
                return np.concatenate(out)

    samples = modulate()

    def demodulate() -> None:
        collector = sd.BitCollector(capacity=1024)
        rx = sd.FastReceiver(family, rate, collector.port)
        for start in range(0, samples.size, 160):
            rx.rx(samples[start : start + 160])
            collector.take()

    air = samples.size / 8000
    return air / timed(modulate, repeat), air / timed(demodulate, repeat)


# -- 2. a call's worth of sound ------------------------------------------------------------------------
class _ChipLine:
    def __init__(self, clock: Clock, chip: AudioModemChip) -> None:
        self.clock, self.chip = clock, chip

    def transmit(self, signal: Signal) -> None:
        self.chip.transmit(signal, self.clock.now)


def chart_page() -> Page:
    with Image.open(CHARTS / "itu1.pbm") as img:
        return Page(np.ascontiguousarray(~np.asarray(img, dtype=bool)), "fine")


def audio_call(page_data: bytes, pump: int, snr: float | None) -> tuple[float, bool]:
    """(air seconds, the page arrived whole): two modems on one clock through chips and a link."""
    clock = Clock()
    modems = [Modem(clock), Modem(clock)]
    chips = [AudioModemChip(0, live=False), AudioModemChip(0, live=False)]
    for modem, chip in zip(modems, chips, strict=True):
        modem.line = _ChipLine(clock, chip)  # type: ignore[assignment]
    link = AudioLink(chips[0], chips[1], b_loop=LoopImpairments(snr_db=snr), seed=1)
    got: list[bytes] = []

    def deliver() -> None:
        for chip, modem in zip(chips, modems, strict=True):
            chip.listen(modem.rx_modes)
        for station, _, signal in link.run_until(clock.now):
            index = chips.index(station)  # type: ignore[arg-type]
            if index == 1 and signal.kind == DATA:
                got.append(signal.data)
            modems[index].on_line_signal(signal)
        clock.call_later(pump, deliver)

    def drain(extra: int = 100 * MS) -> None:
        clock.advance_to(max(m.tx_free_at for m in modems) + extra)

    clock.call_later(pump, deliver)
    a, b = modems
    mod = "V.17/14400"
    a.receive("V.21")
    b.receive("V.21")
    a.start_cng()
    clock.advance(3700 * MS)
    a.stop_cng()
    b.send_tone("ced")
    b.send_silence(GAP)
    b.send_hdlc([make_frame("DIS", b"\x00\xee\xf8\x80")])
    drain()
    b.receive(mod, "V.21")
    a.send_hdlc([make_frame("DCS", DcsParams(mod, "fine").encode(), x=1)])
    a.send_silence(GAP)
    a.send_data(image.tcf_data(mod), mod)
    drain()
    b.send_silence(GAP)
    b.send_hdlc([make_frame("CFR")])
    drain()
    a.send_silence(GAP)
    a.send_data(page_data, mod, short_train=True)
    a.send_silence(GAP)
    a.send_hdlc([make_frame("EOP", x=1)])
    drain()
    b.send_silence(GAP)
    b.send_hdlc([make_frame("MCF")])
    drain()
    a.send_silence(GAP)
    a.send_hdlc([make_frame("DCN", x=1)])
    drain(500 * MS)
    data = b"".join(got)
    return clock.now / SECOND, data.endswith(page_data)


def bench_call(repeat: int, pump_ms: int, profile: bool) -> None:
    page_data = image.encode_page(chart_page(), DcsParams("V.17/14400", "fine", min_scan_ms=0))
    pump = pump_ms * MS
    print(f"\n2. a call's sound between two chips, pumped every {pump_ms} ms (median of {repeat})")
    for label, snr in (("quiet line", None), ("noise, SNR 30 dB", 30.0)):
        air, ok = audio_call(page_data, pump, snr)
        wall = timed(lambda snr=snr: audio_call(page_data, pump, snr), repeat)
        print(f"   {label:<20} {air:6.1f} s of air in {wall:5.2f} s: {air / wall:5.0f}x"
              f"  (page arrived whole: {ok})")  # fmt: skip
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        audio_call(page_data, pump, None)
        profiler.disable()
        stats = pstats.Stats(profiler)
        total = sum(entry[2] for entry in stats.stats.values())  # type: ignore[attr-defined]
        groups: dict[str, float] = {}
        for (filename, _, name), entry in stats.stats.items():  # type: ignore[attr-defined]
            own = entry[2]
            if name.endswith(("rx_at", "tx")) and "spandsp_modems" in filename:
                group = "SpanDSP (C, through ctypes)"
            elif "audio_modem" in filename:
                group = "chip glue (Python)"
            elif "audio_line" in filename:
                group = "line model (Python)"
            elif "numpy" in filename or filename == "~":
                group = "numpy and builtins"
            elif "clock" in filename or "modem.py" in filename:
                group = "clock and modem (the signal line's own cost)"
            else:
                group = "other"
            groups[group] = groups.get(group, 0.0) + own
        print("   where the time goes (profile of one quiet call):")
        for group, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
            print(f"     {100 * seconds / total:5.1f} %  {group}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pump", type=int, default=20, help="ms of virtual time between pumps")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    sd.load_spandsp()
    bench_modulations(args.repeat)
    bench_call(args.repeat, args.pump, not args.no_profile)


if __name__ == "__main__":
    main()
