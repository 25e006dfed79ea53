"""HDLC framing as T.30 uses it (T.30 5.3, after ISO/IEC 3309): flags, zero-bit insertion,
the 16-bit frame check sequence (CRC-16/X.25), and the abort sequence.

Bytes are in line order, as a Class 1 modem's host sees them: bit 0 of a byte is sent first.
The encoder turns frames into a continuous bit stream packed into such bytes; the decoder takes
that stream in chunks of any size (a bit error, a lost byte, a chunk boundary anywhere) and
reports what a receiving modem reports: good frames, frames whose FCS is wrong, and aborts.
Both work on whole chunks with numpy, not bit by bit: an ECM page is tens of kilobytes.
No I/O: bytes in, bytes or events out. It is here in hw/ because the Class 1 modem's HDLC unit
(hw/class1/t31.py: the stream a host running ECM writes after +FTM) uses it, and hw/ imports
nothing from firmware/.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

import numpy as np

FLAG = 0x7E
FLAG_BITS = np.unpackbits(np.array([FLAG], dtype=np.uint8), bitorder="little")
ABORT_ONES = 7  # seven or more 1 bits in a row abort a frame
MIN_FRAME_OCTETS = 4  # shorter frames between flags are ignored (ISO/IEC 3309: invalid frame)
MAX_FRAME_OCTETS = 4096  # a "frame" longer than this is no frame: dropped until the next flag
FCS_GOOD_RESIDUE = 0xF0B8  # CRC over a frame and its own FCS, before the final inversion

_REVERSED = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def reverse_bits(data: bytes) -> bytes:
    """Each octet with its bits in the other order (line order, first bit least significant, <->
    the order T.30 writes frames and T.38 carries them)."""
    return bytes(data).translate(_REVERSED)


def fcs16(data: bytes) -> int:
    """The FCS of `data`: CRC-16/X.25 (polynomial x^16 + x^12 + x^5 + 1, reflected, preset to
    ones, result inverted). fcs16(b"123456789") == 0x906E."""
    # binascii's CRC-CCITT runs in C but most significant bit first; X.25 is the same CRC on
    # bit-reversed bytes, with the 16-bit result reversed back.
    crc = binascii.crc_hqx(bytes(data).translate(_REVERSED), 0xFFFF)
    reflected = (_REVERSED[crc & 0xFF] << 8) | _REVERSED[crc >> 8]
    return reflected ^ 0xFFFF


def add_fcs(frame: bytes, good: bool = True) -> bytes:
    """The frame followed by its two FCS octets, low-order octet first (as transmitted). With
    `good=False` the FCS is inverted: how a modem passes on a frame heard with a bad FCS, so
    that its host's own check fails too."""
    fcs = fcs16(frame) if good else fcs16(frame) ^ 0xFFFF
    return bytes(frame) + fcs.to_bytes(2, "little")


def check_fcs(frame_with_fcs: bytes) -> bool:
    """True when the last two octets are the right FCS for the octets before them."""
    if len(frame_with_fcs) < 3:
        return False
    return fcs16(frame_with_fcs[:-2]) == int.from_bytes(frame_with_fcs[-2:], "little")


def _bits(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8), bitorder="little")


def stuff(bits: np.ndarray) -> np.ndarray:
    """Zero-bit insertion: a 0 after every fifth 1 in a row (the count restarts after it)."""
    if bits.size == 0:
        return bits
    index = np.arange(bits.size)
    last_zero = np.maximum.accumulate(np.where(bits == 0, index, -1))
    ones_so_far = index - last_zero  # 1s in a row ending here (meaningless on 0 bits)
    after = np.nonzero((bits == 1) & (ones_so_far % 5 == 0))[0] + 1
    return np.insert(bits, after, 0)


class HdlcEncoder:
    """Frames to a bit stream. Zero-bit insertion makes frames a whole number of bits but not of
    bytes, so the bits that do not fill a byte yet are held for the next call: end every
    transmission with `finish()`, which sends them."""

    def __init__(self) -> None:
        self._pending = np.zeros(0, dtype=np.uint8)
        self._after_flag = False

    def _emit(self, *parts: np.ndarray) -> bytes:
        bits = np.concatenate((self._pending, *parts)).astype(np.uint8)
        whole = bits.size - bits.size % 8
        self._pending = bits[whole:]
        return np.packbits(bits[:whole], bitorder="little").tobytes()

    def flags(self, count: int = 1) -> bytes:
        """`count` flags (the preamble before the first frame, or idle fill between frames)."""
        if count <= 0:
            return self._emit()
        self._after_flag = True
        return self._emit(np.tile(FLAG_BITS, count))

    def frame(self, frame: bytes, *, fcs: bool = True) -> bytes:
        """One frame with zero-bit insertion and its closing flag (and an opening flag unless a
        flag was the last thing sent); the FCS is added unless `fcs=False`."""
        body = add_fcs(frame) if fcs else bytes(frame)
        opening = np.zeros(0, dtype=np.uint8) if self._after_flag else FLAG_BITS
        self._after_flag = True
        return self._emit(opening, stuff(_bits(body)), FLAG_BITS)

    def frames(self, frames: list[bytes], *, preamble_flags: int = 1) -> bytes:
        """A transmission: the preamble flags, then the frames one after another."""
        out = self.flags(preamble_flags)
        return out + b"".join(self.frame(f) for f in frames)

    def abort(self) -> bytes:
        """The abort sequence: seven 1 bits (the frame being sent is void)."""
        self._after_flag = False
        return self._emit(np.ones(ABORT_ONES, dtype=np.uint8))

    def finish(self) -> bytes:
        """The bits still held, made up to a whole byte with 1s (idle line)."""
        if self._pending.size == 0:
            return b""
        pad = np.ones(8 - self._pending.size, dtype=np.uint8)
        self._after_flag = False
        return self._emit(pad)


class HdlcBitStream:
    """Frames as a synchronous HDLC bit stream (two opening flags, then each frame with zero-bit
    insertion, its FCS and a closing flag) packed into octets in line order, least significant
    bit first: what a Class 1 host that runs ECM over +FRM decodes itself. Bits that do not fill
    an octet wait for the next frame; `finish()` pads the last octet with idle ones."""

    def __init__(self) -> None:
        self._encoder = HdlcEncoder()
        self._opening = self._encoder.flags(2)  # sent with the first frame

    def frame(self, frame: bytes, fcs_ok: bool = True) -> bytes:
        return self._take(self._encoder.frame(add_fcs(frame, fcs_ok), fcs=False))

    def finish(self) -> bytes:
        return self._take(self._encoder.finish())

    def _take(self, data: bytes) -> bytes:
        data, self._opening = self._opening + data, b""
        return data


@dataclass(frozen=True)
class HdlcFrame:
    data: bytes  # the frame without its FCS (address, control, FCF, FIF...)
    fcs_ok: bool  # False also for a frame that is not a whole number of octets


@dataclass(frozen=True)
class HdlcAbort:
    """A frame was under way when seven 1s arrived: its contents are discarded."""


HdlcEvent = HdlcFrame | HdlcAbort


class HdlcDecoder:
    """A bit stream (line-order bytes, any chunking) to frames and aborts.

    A frame that is not a whole number of octets is invalid (ISO/IEC 3309). `invalid="report"`
    reports it as a frame with a bad FCS, as a modem tells its host a frame went wrong;
    `invalid="drop"` ignores it, as an HDLC receiver does (the Class 1 modem unframing a host's
    ECM stream). Fragments shorter than MIN_FRAME_OCTETS between flags are never frames, and a
    run of more than MAX_FRAME_OCTETS without a flag is dropped."""

    def __init__(self, invalid: str = "report") -> None:
        if invalid not in ("report", "drop"):
            raise ValueError(f"invalid must be report or drop, not {invalid!r}")
        self.invalid = invalid
        self._ones = 0  # 1 bits in a row at the end of what came so far
        self._in_frame = False  # a flag was seen and nothing has aborted since
        self._frame: list[np.ndarray] = []  # de-stuffed bits since the last flag
        self.frames_good = 0
        self.frames_bad = 0
        self.aborts = 0

    def feed(self, data: bytes) -> list[HdlcEvent]:
        bits = _bits(data)
        if bits.size == 0:
            return []
        index = np.arange(bits.size)
        last_zero = np.maximum.accumulate(np.where(bits == 0, index, -1))
        # 1s in a row up to and including each bit (0 on a 0 bit), carried across chunks.
        ones_through = np.where(last_zero >= 0, index - last_zero, self._ones + index + 1)
        ones_through[bits == 0] = 0
        ones_before = np.concatenate(([self._ones], ones_through[:-1]))
        zero = bits == 0
        stuffed = zero & (ones_before == 5)
        flag_ends = np.nonzero(zero & (ones_before == 6))[0]
        aborts = np.nonzero((bits == 1) & (ones_through == ABORT_ONES))[0]
        self._ones = int(ones_through[-1])

        keep = ~stuffed
        events: list[HdlcEvent] = []
        start = 0
        marks = sorted([(int(p), True) for p in flag_ends] + [(int(p), False) for p in aborts])
        for position, is_flag in marks:
            piece = bits[start : position + 1][keep[start : position + 1]]
            start = position + 1
            if is_flag:
                if self._in_frame:
                    self._frame.append(piece)
                    event = self._close_frame()
                    if event is not None:
                        events.append(event)
                self._in_frame = True
                self._frame = []
            else:
                if self._in_frame:
                    held = sum(p.size for p in self._frame) + piece.size
                    if held > ABORT_ONES:  # more than the abort's own 1s: a frame was under way
                        self.aborts += 1
                        events.append(HdlcAbort())
                self._in_frame = False
                self._frame = []
        if self._in_frame:
            self._frame.append(bits[start:][keep[start:]])
            if sum(p.size for p in self._frame) > 8 * (MAX_FRAME_OCTETS + 2):
                self._in_frame = False  # too long for a frame: wait for the next flag
                self._frame = []
        return events

    def _close_frame(self) -> HdlcFrame | None:
        bits = np.concatenate(self._frame) if self._frame else np.zeros(0, np.uint8)
        bits = bits[: max(0, bits.size - FLAG_BITS.size)]  # the closing flag itself
        if bits.size < 8 * MIN_FRAME_OCTETS or bits.size > 8 * (MAX_FRAME_OCTETS + 2):
            return None  # flags back to back, a fragment, or too long: not a frame
        if bits.size % 8 and self.invalid == "drop":
            return None
        octets = np.packbits(bits[: bits.size - bits.size % 8], bitorder="little").tobytes()
        good = bits.size % 8 == 0 and check_fcs(octets)
        if good:
            self.frames_good += 1
        else:
            self.frames_bad += 1
        return HdlcFrame(octets[:-2], good)
