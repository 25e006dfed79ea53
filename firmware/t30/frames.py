"""T.30 frames: the facsimile control field (FCF) table, one declaration per frame type.

Everything that knows what a frame is reads `FRAME_TYPES`: the session (which frames a state
accepts), the parser, the session trace and docs/t30.md.

Byte order. A frame here is a list of octets in line order with the first bit sent in the least
significant bit: how HDLC puts octets on the line, how a Class 1 host sees them, how SpanDSP
stores them (DIS = 0x80, DCS = 0x82). T.30's tables and the TSB85 scripts write the first bit on
the left instead (DIS `01`, DCS `41`); `hw.hdlc.reverse_bits` converts.

The X bit is the first bit of the FCF of most frames (the least significant bit here): 1 in
frames sent by the station that received a DIS, 0 otherwise (T.30 5.3.6.1). The frames of the
DIS and DTC groups have no X bit: their first bit tells the group apart (DIS 0x80, DTC 0x81).
"""

from __future__ import annotations

from dataclasses import dataclass

# T.30/TSB85 notation <-> line order (the one table lives with the HDLC code)
from estudio190f.hw.hdlc import reverse_bits as reverse_bits

ADDRESS = 0xFF
CONTROL = 0x03  # a frame that is not the last of its carrier ("C0" as T.30 writes it)
CONTROL_FINAL = 0x13  # the last frame ("C8")
IDENT_LEN = 20  # CSI, TSI, CIG, SUB, SID, PWD, SEP: 20 characters, last character first


@dataclass(frozen=True, slots=True)
class FrameType:
    name: str
    fcf: int  # line order, X bit clear
    fif: str  # what the information field holds: none | caps | ident | raw | pps | eor | ppr | ctc | ecm
    meaning: str
    x_bit: bool = True  # False: the first bit belongs to the code (DIS/DTC groups)


FRAME_TYPES: tuple[FrameType, ...] = (
    # From the called station (DIS group)
    FrameType("DIS", 0x80, "caps", "digital identification signal", x_bit=False),
    FrameType("CSI", 0x40, "ident", "called subscriber identification", x_bit=False),
    FrameType("NSF", 0x20, "raw", "non-standard facilities", x_bit=False),
    # From a calling station that wants to receive: polling (DTC group)
    FrameType("DTC", 0x81, "caps", "digital transmit command", x_bit=False),
    FrameType("CIG", 0x41, "ident", "calling subscriber identification", x_bit=False),
    FrameType("NSC", 0x21, "raw", "non-standard facilities command", x_bit=False),
    FrameType("PWD", 0xC1, "ident", "password (polling)", x_bit=False),
    FrameType("SEP", 0xA1, "ident", "selective polling address", x_bit=False),
    FrameType("PSA", 0x61, "ident", "polled subaddress", x_bit=False),
    # From the transmitter, before the message
    FrameType("DCS", 0x82, "caps", "digital command signal"),
    FrameType("TSI", 0x42, "ident", "transmitting subscriber identification"),
    FrameType("NSS", 0x22, "raw", "non-standard facilities set-up"),
    FrameType("SUB", 0xC2, "ident", "subaddress"),
    FrameType("SID", 0xA2, "ident", "sender identification (password for transmission)"),
    # Pre-message responses
    FrameType("CFR", 0x84, "none", "confirmation to receive"),
    FrameType("FTT", 0x44, "none", "failure to train"),
    FrameType("CTR", 0xC4, "none", "response for continue to correct"),
    # Post-message commands
    FrameType("EOM", 0x8E, "none", "end of message"),
    FrameType("MPS", 0x4E, "none", "multipage signal"),
    FrameType("EOP", 0x2E, "none", "end of procedure"),
    FrameType("PRI-EOM", 0x9E, "none", "procedure interrupt - end of message"),
    FrameType("PRI-MPS", 0x5E, "none", "procedure interrupt - multipage signal"),
    FrameType("PRI-EOP", 0x3E, "none", "procedure interrupt - end of procedure"),
    FrameType("PPS", 0xBE, "pps", "partial page signal"),
    FrameType("EOR", 0xCE, "eor", "end of retransmission"),
    FrameType("RR", 0x6E, "none", "receive ready"),
    FrameType("CTC", 0x12, "ctc", "continue to correct"),
    # Post-message responses
    FrameType("MCF", 0x8C, "none", "message confirmation"),
    FrameType("RTP", 0xCC, "none", "retrain positive"),
    FrameType("RTN", 0x4C, "none", "retrain negative"),
    FrameType("PIP", 0xAC, "none", "procedure interrupt positive"),
    FrameType("PIN", 0x2C, "none", "procedure interrupt negative"),
    FrameType("PPR", 0xBC, "ppr", "partial page request"),
    FrameType("RNR", 0xEC, "none", "receive not ready"),
    FrameType("ERR", 0x1C, "none", "response for end of retransmission"),
    # Line control
    FrameType("DCN", 0xFA, "none", "disconnect"),
    FrameType("CRP", 0x1A, "none", "command repeat"),
    FrameType("FNV", 0xCA, "raw", "field not valid"),
    # ECM image frames (T.4 Annex A), sent at the image modulation
    FrameType("FCD", 0x06, "ecm", "facsimile coded data"),
    FrameType("RCP", 0x86, "none", "return to control for partial page"),
)

BY_NAME: dict[str, FrameType] = {t.name: t for t in FRAME_TYPES}
_EXACT: dict[int, FrameType] = {t.fcf: t for t in FRAME_TYPES if not t.x_bit}
_MASKED: dict[int, FrameType] = {t.fcf: t for t in FRAME_TYPES if t.x_bit}

# The second octet of PPS and EOR: which post-message command ends the block (X bit clear).
PPS_NULL = 0x00
POST_MESSAGE = ("EOM", "MPS", "EOP", "PRI-EOM", "PRI-MPS", "PRI-EOP")


def frame_type(fcf: int) -> FrameType | None:
    """The frame type of an FCF octet (X bit ignored where the frame has one)."""
    exact = _EXACT.get(fcf)
    if exact is not None:
        return exact
    return _MASKED.get(fcf & 0xFE)


@dataclass(frozen=True, slots=True)
class ParsedFrame:
    type: FrameType | None
    fcf: int
    final: bool
    fif: bytes

    @property
    def name(self) -> str:
        return self.type.name if self.type is not None else f"FCF 0x{self.fcf:02X}"

    @property
    def x(self) -> int:
        return self.fcf & 1 if self.type is not None and self.type.x_bit else 0


class FrameError(ValueError):
    pass


def parse_frame(frame: bytes) -> ParsedFrame:
    """Split a frame (no FCS) into its parts; FrameError when the header is not T.30's."""
    if len(frame) < 3:
        raise FrameError(f"frame too short ({len(frame)} octets)")
    if frame[0] != ADDRESS:
        raise FrameError(f"address 0x{frame[0]:02X} is not 0xFF")
    if frame[1] not in (CONTROL, CONTROL_FINAL):
        raise FrameError(f"control 0x{frame[1]:02X} is not 0x03 or 0x13")
    fcf = frame[2]
    return ParsedFrame(frame_type(fcf), fcf, frame[1] == CONTROL_FINAL, bytes(frame[3:]))


def make_frame(name: str, fif: bytes = b"", *, final: bool = True, x: int = 0) -> bytes:
    """Build a frame: address, control (final or not), FCF with the X bit where it has one, FIF."""
    kind = BY_NAME[name]
    fcf = kind.fcf | (x & 1 if kind.x_bit else 0)
    return bytes((ADDRESS, CONTROL_FINAL if final else CONTROL, fcf)) + bytes(fif)


def encode_ident(text: str) -> bytes:
    """A 20-character identifier field: printable ASCII, sent last character first."""
    clean = "".join(c if 32 <= ord(c) < 127 else " " for c in text)[:IDENT_LEN]
    return clean.rjust(IDENT_LEN)[::-1].encode("ascii")


def decode_ident(fif: bytes) -> str:
    return fif.decode("ascii", "replace")[::-1].strip()


def pps_fif(post: str | None, page: int, block: int, frames: int, x: int) -> bytes:
    """PPS/EOR information: post-message command (None: more blocks follow), counters, frames-1."""
    code = PPS_NULL if post is None else BY_NAME[post].fcf | (x & 1)
    return bytes((code, page & 0xFF, block & 0xFF, (frames - 1) & 0xFF))


def parse_pps(fif: bytes) -> tuple[str | None, int, int, int]:
    """(post-message command or None, page counter, block counter, frame count)."""
    if len(fif) < 4:
        raise FrameError("PPS information field shorter than 4 octets")
    return _post_code(fif[0]), fif[1], fif[2], fif[3] + 1


def eor_fif(post: str | None, x: int) -> bytes:
    """EOR information: only the post-message command of the block given up (T.30 Annex A); the
    counters are those of the PPS before it."""
    return pps_fif(post, 0, 0, 1, x)[:1]


def parse_eor(fif: bytes) -> str | None:
    """EOR's post-message command (None: more blocks follow)."""
    if not fif:
        raise FrameError("EOR without its post-message octet")
    return _post_code(fif[0])


def _post_code(octet: int) -> str | None:
    code = octet & 0xFE
    if code == PPS_NULL:
        return None
    kind = _MASKED.get(code)
    if kind is None or kind.name not in POST_MESSAGE:
        raise FrameError(f"PPS/EOR with an unknown post-message code 0x{octet:02X}")
    return kind.name


def ppr_map(missing: set[int] | list[int], frames: int) -> bytes:
    """The 256-bit map of PPR: bit n set asks for frame n again. Like SpanDSP, the bits past the
    block's last frame are set too (those frames were never received)."""
    bits = bytearray(32)
    for n in list(missing) + list(range(frames, 256)):
        bits[n >> 3] |= 1 << (n & 7)
    return bytes(bits)


def parse_ppr(fif: bytes, frames: int) -> list[int]:
    """Frame numbers PPR asks for, below the block's frame count."""
    return [n for n in range(min(frames, len(fif) * 8)) if fif[n >> 3] >> (n & 7) & 1]
