"""The TSB85 tester: a bare modem on its own line of the simulation's phone network that plays
the script's side of a call (the dir="T" steps) and records everything it hears.

What it sends: CED (3 s) and CNG, V.21 preambles (37 flags unless the step says; a high-speed
preamble is its training and 200 ms of flags), HDLC frames as written (`crc_error="0"`: a bad
FCS), postambles (5 flags), TCF (zeros, `pattern` octets of 0x55 first), pages coded as SpanDSP's
tester codes them (conformance_pages.py), ECM partial pages (FCD frames numbered within the block,
the frame `crc_error` names with a bad FCS, then RCP), and the hang-up (CLEAR). A carrier stays
on from a preamble through its frames and postamble until a step that is not part of it. What it
hears is kept as `Heard` records, for the runner to compare with the R steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from estudio190f.firmware.t30.frames import BY_NAME
from estudio190f.firmware.t30.timing import BY_NAME as TIMES
from estudio190f.firmware.t30.timing import CED
from estudio190f.hw.clock import MS, SECOND
from estudio190f.hw.modem import (
    MODULATIONS,
    CarrierDown,
    CarrierUp,
    DataReceived,
    FrameReceived,
    Modem,
    ModemEvent,
    ToneOff,
    ToneOn,
)

from .conformance_pages import document, page_data, parse_rows
from .conformance_script import Step, StepFailed, parse_octets
from .sim import Simulation

TESTER_NUMBER = "5550199"
PREAMBLE_FLAGS = 37  # SpanDSP: "slow HDLC preamble == 37 flag bytes"
POSTAMBLE_FLAGS = 5
FAST_PREAMBLE = 200 * MS  # flags before the first ECM frame at high speed (as SpanDSP's tester)
RCP_FRAMES = 3
CNG_ON = TIMES["CNG on"].value


@dataclass
class Heard:
    """Something the tester's modem heard, when it completed."""

    t: int
    kind: str  # tone_on | tone_off | carrier_up | carrier_down | frame | data
    name: str = ""  # tone or modulation
    frame: bytes = b""
    crc_ok: bool = True
    data: bytes = b""
    carrier_start: int = 0  # frames: when their carrier came up


class Tester:
    """The tester's line port and modem on the simulation's network; it records all it hears."""

    def __init__(self, sim: Simulation, number: str = TESTER_NUMBER) -> None:
        self.clock = sim.clock
        self.line = sim.network.add_line(number)
        self.modem = Modem(self.clock)
        self.line.attach_modem(self.modem)
        self.modem.receive(*MODULATIONS)  # it hears any carrier from its start (as SpanDSP's)
        self.heard: list[Heard] = []
        self._carrier_start: dict[str, int] = {}
        self.modem.listeners.add(self._on_modem)

    def _on_modem(self, event: ModemEvent) -> None:
        now = self.clock.now
        if isinstance(event, ToneOn):
            self.heard.append(Heard(now, "tone_on", event.tone))
        elif isinstance(event, ToneOff):
            self.heard.append(Heard(now, "tone_off", event.tone))
        elif isinstance(event, CarrierUp):
            start = now - (
                0 if event.modulation == "V.21" else MODULATIONS[event.modulation].long_train
            )
            self._carrier_start[event.modulation] = start
            self.heard.append(Heard(now, "carrier_up", event.modulation))
        elif isinstance(event, CarrierDown):
            self.heard.append(Heard(now, "carrier_down", event.modulation))
        elif isinstance(event, FrameReceived):
            start = self._carrier_start.get(event.modulation, now)
            self.heard.append(
                Heard(
                    now, "frame", event.modulation, event.frame, event.crc_ok, carrier_start=start
                )
            )
        elif isinstance(event, DataReceived):
            self.heard.append(Heard(now, "data", event.modulation, data=event.data))

    def far_end_quiet(self) -> bool:
        return self.modem.remote_quiet

    def end_carrier(self) -> None:
        """Close a carrier left on (the flags stop), letting the clock run to its end."""
        if self.modem.open_carrier is not None:
            self.clock.advance_to(self.modem.end_carrier())

    def _send_until_done(self, end: int) -> None:
        self.clock.advance_to(end)

    def send(self, step: Step) -> None:
        """Play one dir="T" step, the clock running until it is on the line."""
        modem = self.modem
        kind = step.type
        key = step.modem
        if key is not None and key not in MODULATIONS:
            raise StepFailed(f"no modem {key!r}")
        if kind == "CED":
            self.end_carrier()
            self._send_until_done(modem.send_tone("ced", CED))
        elif kind == "CNG":
            self.end_carrier()
            modem.start_cng()
            self.clock.advance(CNG_ON)
            modem.stop_cng()
        elif kind == "PREAMBLE":
            self._preamble(step)
        elif kind == "POSTAMBLE":
            if modem.open_carrier is not None:
                flags = step.int("value", POSTAMBLE_FLAGS)
                self._send_until_done(modem.send_flags(self._flag_time(flags, modem.open_carrier)))
        elif kind == "HDLC":
            frame = self._frame_value(step)
            carrier = key or modem.open_carrier or "V.21"
            if modem.open_carrier not in (None, carrier):
                self.end_carrier()
            bad = [0] if step.get("crc_error") == "0" else []
            end = modem.send_hdlc([frame], carrier, final=False, preamble=0, bad_fcs=bad)
            self._send_until_done(end)
        elif kind == "TCF":
            self.end_carrier()
            length = step.int("value", 450)
            pattern = min(step.int("pattern", 0), length)
            data = b"\x55" * pattern + bytes(length - pattern)
            self._send_until_done(modem.send_data(data, step.required_modem()))
        elif kind == "MSG":
            self.end_carrier()
            key = step.required_modem()
            data = self._page_for(step)
            self._send_until_done(modem.send_data(data, key, short_train=True))
        elif kind == "PP":
            self._partial_page(step)
        elif kind == "CLEAR":
            self.end_carrier()
            self.clock.run_due()
            self.line.hang_up()
            self.clock.run_due()
        else:
            raise StepFailed(f"the tester cannot send {kind}")

    @staticmethod
    def _flag_time(flags: int, modulation: str) -> int:
        return flags * 8 * SECOND // MODULATIONS[modulation].rate

    def _preamble(self, step: Step) -> None:
        modem = self.modem
        key = step.modem or modem.open_carrier or "V.21"
        flags = step.int("value", PREAMBLE_FLAGS)
        duration = self._flag_time(flags, key)
        if modem.open_carrier == key:
            self._send_until_done(modem.send_flags(duration))
            return
        self.end_carrier()
        if key != "V.21":
            duration += FAST_PREAMBLE
        end = modem.send_hdlc([], key, final=False, preamble=duration)
        self._send_until_done(end)

    def _frame_value(self, step: Step) -> bytes:
        """The octets to send; a trailing `...` adds nothing (SpanDSP sends what is written)."""
        try:
            octets, _mask, _open = parse_octets(step.get("value") or "")
        except ValueError:
            raise StepFailed(f"cannot read the frame value {step.get('value')!r}") from None
        if not octets:
            raise StepFailed("a frame to send needs its octets")
        return octets

    def _page_for(self, step: Step) -> bytes:
        name = step.get("value")
        if not name:
            raise StepFailed("a page step needs a file name")
        try:
            pages = document(name)
        except KeyError as exc:
            raise StepFailed(str(exc.args[0])) from None
        compression = (step.get("compression") or "T.4 1D").upper()
        coding = {"T.4 1D": "mh", "T.4 2D": "mr", "T.6": "mmr"}.get(compression)
        if coding is None:
            raise StepFailed(f"the tester cannot code {compression}")
        rate = MODULATIONS[step.modem].rate if step.modem else 4800
        rows = parse_rows(step.get("bad_rows") or "")
        return page_data(
            pages[0], coding, min_bits=step.int("min_bits", 0), rate=rate, bad_rows=rows
        )

    def _partial_page(self, step: Step) -> None:
        """One ECM block of a page: FCD frames numbered within the block, then RCP frames."""
        modem = self.modem
        key = step.modem or modem.open_carrier
        if key is None or key == "V.21":
            raise StepFailed("a partial page goes on a high-speed carrier (PREAMBLE modem=...)")
        size = step.int("frame_size", 64)
        block = step.int("block", 0)
        bad = step.int("crc_error", -1)
        data = self._page_for(step)
        first = 256 * block * size
        chunk = data[first : first + 256 * size]
        frames: list[bytes] = []
        bad_index: list[int] = []
        for offset in range(0, len(chunk), size):
            number = (first + offset) // size
            piece = chunk[offset : offset + size].ljust(size, b"\x00")
            if number == bad:
                bad_index.append(len(frames))
            frames.append(bytes((0xFF, 0x03, BY_NAME["FCD"].fcf, number & 0xFF)) + piece)
        frames += [bytes((0xFF, 0x03, BY_NAME["RCP"].fcf))] * RCP_FRAMES
        end = modem.send_hdlc(frames, key, final=False, preamble=0, bad_fcs=bad_index)
        self._send_until_done(end)
