"""IAX2 on the wire (RFC 5456): full and mini frames, information elements, and the code tables.

Everything here is bytes to values and back, without state. A datagram is a full frame (the F bit
set: reliable, sequenced, any frame type), a mini frame (voice only: the source call number, the
low 16 bits of the timestamp, the audio) or a meta frame (video and trunking, which this endpoint
neither sends nor takes: `decode_datagram` refuses it). The codes of frame types, IAX commands,
control subclasses, media formats and information elements are tables declared once here and read
by the call engine (`hw/iax2.py`), the logs (`describe`) and docs/iax2.md.

Byte order is network order throughout. A full frame's subclass is "compressed" (RFC 5456 8.1.2):
values below 0x80 are sent as they are; larger ones must be a power of two and are sent as
0x80 | log2 (the C bit), which is how media formats above 0x40 travel.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag

# source call (F bit), destination call (R bit), timestamp, oseqno, iseqno, type, subclass
FULL_HEADER = struct.Struct("!HHIBBBB")
MINI_HEADER = struct.Struct("!HH")  # source call (F bit clear), low 16 bits of the timestamp
F_BIT = 0x8000  # on the source call number: a full frame
R_BIT = 0x8000  # on the destination call number: a retransmission
C_BIT = 0x80  # on the subclass: the value is a power of two, given as its exponent
CALL_NUMBER_MASK = 0x7FFF


class FrameError(ValueError):
    """A datagram that is not an IAX2 frame this endpoint can take."""


class FrameType(IntEnum):
    DTMF_END = 1
    VOICE = 2
    VIDEO = 3
    CONTROL = 4
    NULL = 5
    IAX = 6
    TEXT = 7
    IMAGE = 8
    HTML = 9
    CNG = 10
    MODEM = 11
    DTMF_BEGIN = 12


class Command(IntEnum):
    """Subclasses of IAX frames (RFC 5456 8.4)."""

    NEW = 1
    PING = 2
    PONG = 3
    ACK = 4
    HANGUP = 5
    REJECT = 6
    ACCEPT = 7
    AUTHREQ = 8
    AUTHREP = 9
    INVAL = 10
    LAGRQ = 11
    LAGRP = 12
    REGREQ = 13
    REGAUTH = 14
    REGACK = 15
    REGREJ = 16
    REGREL = 17
    VNAK = 18
    DPREQ = 19
    DPREP = 20
    DIAL = 21
    TXREQ = 22
    TXCNT = 23
    TXACC = 24
    TXREADY = 25
    TXREL = 26
    TXREJ = 27
    QUELCH = 28
    UNQUELCH = 29
    POKE = 30
    MWI = 32
    UNSUPPORT = 33
    TRANSFER = 34
    CALLTOKEN = 40


# Commands that do not take an outgoing sequence number (RFC 5456 7): a receiver does not count
# them and nobody acknowledges them.
UNCOUNTED = frozenset({Command.ACK, Command.INVAL, Command.TXCNT, Command.TXACC, Command.VNAK})


class Control(IntEnum):
    """Subclasses of CONTROL frames (RFC 5456 8.3)."""

    HANGUP = 1
    RING = 2
    RINGING = 3
    ANSWER = 4
    BUSY = 5
    CONGESTION = 8
    FLASH = 9
    OPTION = 11
    KEY = 12
    UNKEY = 13
    PROGRESS = 14
    PROCEEDING = 15
    HOLD = 16
    UNHOLD = 17


class Format(IntFlag):
    """Media formats (RFC 5456 8.7): bits of the FORMAT and CAPABILITY information elements."""

    G723_1 = 0x1
    GSM = 0x2
    ULAW = 0x4
    ALAW = 0x8
    G726 = 0x10
    ADPCM = 0x20
    SLINEAR = 0x40
    LPC10 = 0x80
    G729 = 0x100
    SPEEX = 0x200
    ILBC = 0x400
    G726_AAL2 = 0x800
    G722 = 0x1000


AUDIO_FORMATS = Format.SLINEAR | Format.ULAW | Format.ALAW  # the ones this endpoint speaks
BYTES_PER_SAMPLE = {Format.SLINEAR: 2, Format.ULAW: 1, Format.ALAW: 1}


class AuthMethod(IntFlag):
    PLAINTEXT = 0x1
    MD5 = 0x2
    RSA = 0x4


class Ie(IntEnum):
    """Information elements (RFC 5456 8.6): the code of each."""

    CALLED_NUMBER = 1
    CALLING_NUMBER = 2
    CALLING_ANI = 3
    CALLING_NAME = 4
    CALLED_CONTEXT = 5
    USERNAME = 6
    PASSWORD = 7
    CAPABILITY = 8
    FORMAT = 9
    LANGUAGE = 10
    VERSION = 11
    ADSICPE = 12
    DNID = 13
    AUTHMETHODS = 14
    CHALLENGE = 15
    MD5_RESULT = 16
    RSA_RESULT = 17
    APPARENT_ADDR = 18
    REFRESH = 19
    DPSTATUS = 20
    CALLNO = 21
    CAUSE = 22
    IAX_UNKNOWN = 23
    MSGCOUNT = 24
    AUTOANSWER = 25
    MUSICONHOLD = 26
    TRANSFERID = 27
    RDNIS = 28
    DATETIME = 31
    CALLINGPRES = 38
    CALLINGTON = 39
    CALLINGTNS = 40
    SAMPLINGRATE = 41
    CAUSECODE = 42
    ENCRYPTION = 43
    ENCKEY = 44
    CODEC_PREFS = 45
    RR_JITTER = 46
    RR_LOSS = 47
    RR_PKTS = 48
    RR_DELAY = 49
    RR_DROPPED = 50
    RR_OOO = 51
    CALLTOKEN = 54


# How each element's data is coded. Elements not listed are kept as raw bytes.
TEXT = "text"  # UTF-8
U8 = "u8"
U16 = "u16"
U32 = "u32"
ADDRESS = "address"  # a struct sockaddr_in as Asterisk and libiax2 copy it (family in host order)
EMPTY = "empty"  # no data
IE_KINDS: dict[int, str] = {
    Ie.CALLED_NUMBER: TEXT,
    Ie.CALLING_NUMBER: TEXT,
    Ie.CALLING_ANI: TEXT,
    Ie.CALLING_NAME: TEXT,
    Ie.CALLED_CONTEXT: TEXT,
    Ie.USERNAME: TEXT,
    Ie.PASSWORD: TEXT,
    Ie.CAPABILITY: U32,
    Ie.FORMAT: U32,
    Ie.LANGUAGE: TEXT,
    Ie.VERSION: U16,
    Ie.ADSICPE: U16,
    Ie.DNID: TEXT,
    Ie.AUTHMETHODS: U16,
    Ie.CHALLENGE: TEXT,
    Ie.MD5_RESULT: TEXT,
    Ie.RSA_RESULT: TEXT,
    Ie.APPARENT_ADDR: ADDRESS,
    Ie.REFRESH: U16,
    Ie.DPSTATUS: U16,
    Ie.CALLNO: U16,
    Ie.CAUSE: TEXT,
    Ie.IAX_UNKNOWN: U8,
    Ie.MSGCOUNT: U16,
    Ie.AUTOANSWER: EMPTY,
    Ie.TRANSFERID: U32,
    Ie.RDNIS: TEXT,
    Ie.DATETIME: U32,
    Ie.CALLINGPRES: U8,
    Ie.CALLINGTON: U8,
    Ie.CALLINGTNS: U16,
    Ie.SAMPLINGRATE: U16,
    Ie.CAUSECODE: U8,
    Ie.ENCRYPTION: U16,
    Ie.CODEC_PREFS: TEXT,
    Ie.RR_JITTER: U32,
    Ie.RR_LOSS: U32,
    Ie.RR_PKTS: U32,
    Ie.RR_DELAY: U16,
    Ie.RR_DROPPED: U32,
    Ie.RR_OOO: U32,
}
SECRET_IES = frozenset({Ie.PASSWORD})  # never shown by `describe`
_INT_FORMATS = {U8: struct.Struct("!B"), U16: struct.Struct("!H"), U32: struct.Struct("!I")}

Address = tuple[str, int]
IeValue = str | int | Address | None


def _enum_name(enum: type[IntEnum], value: int) -> str | None:
    try:
        return enum(value).name
    except ValueError:
        return None


def ie_name(code: int) -> str:
    """`called_number`, `format` ... (`ie60` for a code not in the table)."""
    name = _enum_name(Ie, code)
    return name.lower() if name else f"ie{code}"


def _encode_value(ie: int, value: IeValue) -> bytes:
    kind = IE_KINDS.get(ie)
    if kind == TEXT and isinstance(value, str):
        return value.encode()
    if kind in _INT_FORMATS and isinstance(value, int):
        try:
            return _INT_FORMATS[kind].pack(value)
        except struct.error:
            raise FrameError(f"{ie_name(ie)} cannot carry {value}") from None
    if kind == ADDRESS and isinstance(value, tuple):
        host, port = value
        octets = bytes(int(part) for part in host.split("."))
        return struct.pack("<H", 2) + struct.pack("!H", port) + octets + bytes(8)
    if kind == EMPTY and value is None:
        return b""
    raise FrameError(f"information element {ie_name(ie)} cannot carry {value!r}")


def _decode_value(ie: int, data: bytes) -> IeValue | bytes:
    kind = IE_KINDS.get(ie)
    if kind == TEXT:
        return data.decode(errors="replace")
    if kind in _INT_FORMATS and len(data) == _INT_FORMATS[kind].size:
        (number,) = _INT_FORMATS[kind].unpack(data)
        return int(number)
    if kind == ADDRESS and len(data) >= 8:
        (port,) = struct.unpack("!H", data[2:4])
        return (".".join(str(b) for b in data[4:8]), port)
    if kind == EMPTY and not data:
        return None
    return data


@dataclass(frozen=True, slots=True)
class InformationElements:
    """The elements of a full frame, in the order they came (or are to go), as raw data."""

    items: tuple[tuple[int, bytes], ...] = ()

    @classmethod
    def build(cls, *pairs: tuple[Ie, IeValue]) -> InformationElements:
        """Elements from (element, value) pairs; a value of None leaves the element out, except
        for elements that carry no data."""
        items = []
        for ie, value in pairs:
            if value is None and IE_KINDS.get(ie) != EMPTY:
                continue
            items.append((int(ie), _encode_value(ie, value)))
        return cls(tuple(items))

    @classmethod
    def decode(cls, data: bytes) -> InformationElements:
        items = []
        pos = 0
        while pos < len(data):
            if pos + 2 > len(data):
                raise FrameError("information element cut short")
            ie, length = data[pos], data[pos + 1]
            if pos + 2 + length > len(data):
                raise FrameError(f"information element {ie_name(ie)} longer than the frame")
            items.append((ie, bytes(data[pos + 2 : pos + 2 + length])))
            pos += 2 + length
        return cls(tuple(items))

    def encode(self) -> bytes:
        out = bytearray()
        for ie, data in self.items:
            if len(data) > 255:
                raise FrameError(f"information element {ie_name(ie)} longer than 255 octets")
            out += bytes((ie, len(data))) + data
        return bytes(out)

    def __contains__(self, ie: object) -> bool:
        return any(code == ie for code, _ in self.items)

    def raw(self, ie: Ie) -> bytes | None:
        for code, data in self.items:
            if code == ie:
                return data
        return None

    def text(self, ie: Ie) -> str | None:
        data = self.raw(ie)
        return None if data is None else data.decode(errors="replace")

    def number(self, ie: Ie) -> int | None:
        data = self.raw(ie)
        if data is None:
            return None
        value = _decode_value(ie, data)
        return value if isinstance(value, int) else None

    def address(self, ie: Ie) -> Address | None:
        data = self.raw(ie)
        if data is None:
            return None
        value = _decode_value(ie, data)
        return value if isinstance(value, tuple) else None

    def describe(self) -> str:
        """`name=value` for each element, for logs; secrets are masked."""
        parts = []
        for code, data in self.items:
            if code in SECRET_IES:
                parts.append(f"{ie_name(code)}=***")
                continue
            value = _decode_value(code, data)
            shown = value.hex() if isinstance(value, bytes) else repr(value)
            parts.append(f"{ie_name(code)}={shown}")
        return " ".join(parts)


def compress_subclass(subclass: int) -> int:
    if subclass < C_BIT:
        return subclass
    if subclass & (subclass - 1):
        raise FrameError(f"subclass {subclass:#x} is neither below 0x80 nor a power of two")
    return C_BIT | (subclass.bit_length() - 1)


def uncompress_subclass(csub: int) -> int:
    return 1 << (csub & 0x1F) if csub & C_BIT else csub


@dataclass(frozen=True, slots=True)
class FullFrame:
    """A reliable frame: call numbers, timestamp (ms), sequence numbers, type and subclass."""

    source_call: int
    dest_call: int
    timestamp: int
    oseqno: int
    iseqno: int
    frame_type: int
    subclass: int
    payload: bytes = b""
    retransmission: bool = False

    def encode(self) -> bytes:
        header = FULL_HEADER.pack(
            F_BIT | (self.source_call & CALL_NUMBER_MASK),
            (R_BIT if self.retransmission else 0) | (self.dest_call & CALL_NUMBER_MASK),
            self.timestamp & 0xFFFFFFFF,
            self.oseqno & 0xFF,
            self.iseqno & 0xFF,
            self.frame_type,
            compress_subclass(self.subclass),
        )
        return header + self.payload

    @property
    def ies(self) -> InformationElements:
        """The information elements of an IAX frame (none for other types)."""
        if self.frame_type != FrameType.IAX:
            return InformationElements()
        return InformationElements.decode(self.payload)

    def is_command(self, command: Command) -> bool:
        return self.frame_type == FrameType.IAX and self.subclass == command

    @property
    def counted(self) -> bool:
        """Whether this frame takes a sequence number (and must be acknowledged)."""
        return not (self.frame_type == FrameType.IAX and self.subclass in UNCOUNTED)


@dataclass(frozen=True, slots=True)
class MiniFrame:
    """An unreliable voice frame in the format of the last full voice frame."""

    source_call: int
    timestamp: int  # the low 16 bits
    payload: bytes = b""

    def encode(self) -> bytes:
        header = MINI_HEADER.pack(self.source_call & CALL_NUMBER_MASK, self.timestamp & 0xFFFF)
        return header + self.payload


def decode_datagram(data: bytes) -> FullFrame | MiniFrame:
    """One UDP datagram as a frame; raises FrameError for anything else (meta frames included)."""
    if len(data) < MINI_HEADER.size:
        raise FrameError(f"a datagram of {len(data)} octets is not an IAX2 frame")
    (first,) = struct.unpack_from("!H", data)
    if first & F_BIT:
        if len(data) < FULL_HEADER.size:
            raise FrameError(f"a full frame of {len(data)} octets is cut short")
        source, dest, ts, oseq, iseq, ftype, csub = FULL_HEADER.unpack_from(data)
        return FullFrame(
            source_call=source & CALL_NUMBER_MASK,
            dest_call=dest & CALL_NUMBER_MASK,
            timestamp=ts,
            oseqno=oseq,
            iseqno=iseq,
            frame_type=ftype,
            subclass=uncompress_subclass(csub),
            payload=bytes(data[FULL_HEADER.size :]),
            retransmission=bool(dest & R_BIT),
        )
    if first == 0:
        raise FrameError("meta frames (video, trunk) are not taken")
    _, ts = MINI_HEADER.unpack_from(data)
    return MiniFrame(source_call=first, timestamp=ts, payload=bytes(data[MINI_HEADER.size :]))


def frame_name(frame: FullFrame | MiniFrame) -> str:
    """`NEW`, `ACK`, `RINGING`, `VOICE slinear`, `mini` ... for logs and tests."""
    if isinstance(frame, MiniFrame):
        return "mini"
    if frame.frame_type == FrameType.IAX:
        return _enum_name(Command, frame.subclass) or f"IAX {frame.subclass}"
    if frame.frame_type == FrameType.CONTROL:
        return _enum_name(Control, frame.subclass) or f"CONTROL {frame.subclass}"
    if frame.frame_type == FrameType.VOICE:
        fmt = Format(frame.subclass).name
        return f"VOICE {fmt.lower() if fmt else frame.subclass}"
    kind = _enum_name(FrameType, frame.frame_type) or f"type {frame.frame_type}"
    return f"{kind} {frame.subclass}"


def describe(frame: FullFrame | MiniFrame) -> str:
    """One line for a log: name, call numbers, timestamp, sequence numbers, elements."""
    if isinstance(frame, MiniFrame):
        return f"mini call {frame.source_call} ts {frame.timestamp} {len(frame.payload)} octets"
    text = (
        f"{frame_name(frame)} {frame.source_call}->{frame.dest_call} ts {frame.timestamp} "
        f"o {frame.oseqno} i {frame.iseqno}"
    )
    if frame.retransmission:
        text += " (retransmission)"
    if frame.frame_type == FrameType.IAX and frame.payload:
        try:
            text += " " + frame.ies.describe()
        except FrameError:
            text += f" (bad elements: {len(frame.payload)} octets)"
    elif frame.payload:
        text += f" {len(frame.payload)} octets"
    return text
