"""The Class 1 modem on a virtual line with a bare far-end station, in virtual time, no pty.

`Bench` plays the host (bytes in, bytes out) and the far end (a `Modem` on its own line, as
TSB85 testers do), so tests see exactly what efax or HylaFAX would read.
"""

from __future__ import annotations

from estudio190f.hw.class1 import Class1Modem
from estudio190f.hw.clock import SECOND, Clock
from estudio190f.hw.line import LineEvent, PhoneNetwork
from estudio190f.hw.modem import Modem, ModemEvent

MODEM_NUMBER = "5550100"
FAR_NUMBER = "5559876"


def fcs_reference(frame: bytes) -> bytes:
    """CRC-16/X.25 computed bit by bit (ISO/IEC 3309), low octet first: an independent check
    of the FCS the modem hands the host."""
    crc = 0xFFFF
    for byte in frame:
        for k in range(8):
            bit = (byte >> k) & 1
            crc = (crc >> 1) ^ 0x8408 if (crc ^ bit) & 1 else crc >> 1
    return (crc ^ 0xFFFF).to_bytes(2, "little")


def stuffed(data: bytes) -> bytes:
    return data.replace(b"\x10", b"\x10\x10")


class Bench:
    def __init__(self, *, answer_rings: int | None = 1) -> None:
        self.clock = Clock()
        self.network = PhoneNetwork(self.clock)
        self.line = self.network.add_line(MODEM_NUMBER)
        self.modem = Modem(self.clock)
        self.line.attach_modem(self.modem)
        self.c1 = Class1Modem(self.clock, self.modem, self.line)
        self.out = bytearray()
        self.c1.on_output = lambda: self.out.extend(self.c1.take_output())
        # the far end
        self.far_line = self.network.add_line(FAR_NUMBER)
        self.far = Modem(self.clock)
        self.far_line.attach_modem(self.far)
        self.far.receive("V.21", "V.17/14400", "V.29/9600")
        self.heard: list[tuple[int, ModemEvent]] = []
        self.far_events: list[tuple[int, LineEvent]] = []
        self.far.listeners.add(lambda e: self.heard.append((self.clock.now, e)))
        self.far_line.listeners.add(self._far_line_event)
        self.answer_rings = answer_rings

    def _far_line_event(self, event: LineEvent) -> None:
        self.far_events.append((self.clock.now, event))
        if event.kind == "ring_off" and event.n == self.answer_rings:
            self.far_line.go_off_hook()

    # -- the host side -------------------------------------------------------------------------
    def host(self, data: bytes | str, run: float = 0.0) -> bytes:
        """Write as the host, let `run` seconds pass, and return what the host can read."""
        self.c1.receive_data(data.encode() if isinstance(data, str) else data)
        if run:
            self.run(run)
        return self.read()

    def read(self) -> bytes:
        out = bytes(self.out)
        self.out.clear()
        return out

    def run(self, seconds: float) -> None:
        self.clock.advance(int(seconds * SECOND))

    def run_until_output(self, marker: bytes, limit: float = 120.0) -> bytes:
        """Run until the host has read `marker` (or the limit); return all it read."""
        got = bytearray()

        def seen() -> bool:
            got.extend(self.read())
            return marker in got

        self.clock.advance(int(limit * SECOND), stop=seen)
        self.clock.run_due()  # what else happens at this instant, before the host can answer
        got.extend(self.read())
        return bytes(got)

    def setup_fax(self) -> None:
        """What every fax program starts with: no echo, verbose results, class 1."""
        assert self.host("ATE0\r") == b"ATE0\r\r\nOK\r\n"
        assert self.host("AT+FCLASS=1\r") == b"\r\nOK\r\n"

    def connect_calling(self) -> bytes:
        """ATD the far end, which answers after a ring and sends one final frame (DIS); the host
        reads it, and the modem is back in command state. Returns what the host read."""
        self.setup_fax()
        self.c1.receive_data(b"ATD" + FAR_NUMBER.encode() + b"\r")
        self.clock.advance(30 * SECOND, stop=lambda: self.far_line.connected)
        assert self.far_line.connected
        self.far.send_hdlc([bytes((0xFF, 0x13, 0x80, 0x00, 0x46, 0x1F))])
        got = self.run_until_output(b"OK\r\n")
        assert got.startswith(b"\r\nCONNECT\r\n") and got.endswith(b"\r\nOK\r\n")
        self.heard.clear()
        return got

    def heard_of(self, kind: type) -> list[tuple[int, ModemEvent]]:
        return [(t, e) for t, e in self.heard if isinstance(e, kind)]
