"""T.38 IFP packets: the indicators, data types and fields of ITU-T T.38, and their ASN.1 PER coding.

An IFP (internet facsimile protocol) packet is either a T.30 indicator (a tone or the start of a
modem's training: what a gateway hears begin on the line) or T.30 data at one modulation, carrying
fields (HDLC octets, FCS verdicts, signal ends, non-ECM image octets). T.38 Annex A gives the ASN.1;
packets are coded in aligned PER, as SpanDSP (t38_core.c) and Wireshark (packet-t38.c) code them:

    IFPPacket ::= SEQUENCE { type-of-msg CHOICE { t30-indicator ENUMERATED {..16 values, ...},
                                                  t30-data ENUMERATED {..9 values, ...} },
                             data-field SEQUENCE OF SEQUENCE {
                                 field-type ENUMERATED {..8 values} -- 2002: {..8 values, ...}
                                 field-data OCTET STRING (SIZE(1..65535)) OPTIONAL } OPTIONAL }

Versions: T.38 (1998), "version 0", has no extension marker in field-type, so a field header is 4
bits and two fields without data share an octet; from the 2002 corrigendum on (versions 1-3) the
header is 5 bits. SpanDSP 0.0.6 and Wireshark's default ("pre-corrigendum") speak version 0.

Octets in HDLC and T.4 fields are as T.38 carries them: the first bit on the line is the most
significant bit (T.30's own notation: DIS is 0x01). The rest of this project keeps octets in line
order, first bit least significant (DIS 0x80); `hw.hdlc.reverse_bits` converts (t38.py does it).
No I/O: bytes in, packets out, and back.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- the tables ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndicatorType:
    name: str  # as T.38, SpanDSP and Wireshark spell it
    code: int
    modulation: str = ""  # the modem key (hw.modem.MODULATIONS) whose training this is
    short_train: bool = False
    tone: str = ""  # cng | ced


@dataclass(frozen=True, slots=True)
class DataType:
    name: str
    code: int
    modulation: str = ""  # the modem key; "" for V.8, V.34 and V.33, which the modem lacks


@dataclass(frozen=True, slots=True)
class FieldType:
    name: str
    code: int
    hdlc: bool  # belongs to an HDLC carrier (else a non-ECM data carrier or V.34)
    frame_end: bool = False  # ends a frame: FCS verdict follows
    fcs_ok: bool = False
    sig_end: bool = False  # the carrier ends


INDICATOR_TYPES: tuple[IndicatorType, ...] = (
    IndicatorType("no-signal", 0),
    IndicatorType("cng", 1, tone="cng"),
    IndicatorType("ced", 2, tone="ced"),
    IndicatorType("v21-preamble", 3, "V.21"),
    IndicatorType("v27-2400-training", 4, "V.27ter/2400"),
    IndicatorType("v27-4800-training", 5, "V.27ter/4800"),
    IndicatorType("v29-7200-training", 6, "V.29/7200"),
    IndicatorType("v29-9600-training", 7, "V.29/9600"),
    IndicatorType("v17-7200-short-training", 8, "V.17/7200", True),
    IndicatorType("v17-7200-long-training", 9, "V.17/7200"),
    IndicatorType("v17-9600-short-training", 10, "V.17/9600", True),
    IndicatorType("v17-9600-long-training", 11, "V.17/9600"),
    IndicatorType("v17-12000-short-training", 12, "V.17/12000", True),
    IndicatorType("v17-12000-long-training", 13, "V.17/12000"),
    IndicatorType("v17-14400-short-training", 14, "V.17/14400", True),
    IndicatorType("v17-14400-long-training", 15, "V.17/14400"),
    # after the extension marker (T.38 1998 Amd 2 / 2002)
    IndicatorType("v8-ansam", 16),
    IndicatorType("v8-signal", 17),
    IndicatorType("v34-cntl-channel-1200", 18),
    IndicatorType("v34-pri-channel", 19),
    IndicatorType("v34-CC-retrain", 20),
    IndicatorType("v33-12000-training", 21),
    IndicatorType("v33-14400-training", 22),
)
INDICATOR_ROOT = 16  # indicators 0-15 are in the root of the enumeration

DATA_TYPES: tuple[DataType, ...] = (
    DataType("v21", 0, "V.21"),
    DataType("v27-2400", 1, "V.27ter/2400"),
    DataType("v27-4800", 2, "V.27ter/4800"),
    DataType("v29-7200", 3, "V.29/7200"),
    DataType("v29-9600", 4, "V.29/9600"),
    DataType("v17-7200", 5, "V.17/7200"),
    DataType("v17-9600", 6, "V.17/9600"),
    DataType("v17-12000", 7, "V.17/12000"),
    DataType("v17-14400", 8, "V.17/14400"),
    DataType("v8", 9),
    DataType("v34-pri-rate", 10),
    DataType("v34-CC-1200", 11),
    DataType("v34-pri-ch", 12),
    DataType("v33-12000", 13),
    DataType("v33-14400", 14),
)
DATA_ROOT = 9

FIELD_TYPES: tuple[FieldType, ...] = (
    FieldType("hdlc-data", 0, True),
    FieldType("hdlc-sig-end", 1, True, sig_end=True),
    FieldType("hdlc-fcs-OK", 2, True, frame_end=True, fcs_ok=True),
    FieldType("hdlc-fcs-BAD", 3, True, frame_end=True),
    FieldType("hdlc-fcs-OK-sig-end", 4, True, frame_end=True, fcs_ok=True, sig_end=True),
    FieldType("hdlc-fcs-BAD-sig-end", 5, True, frame_end=True, sig_end=True),
    FieldType("t4-non-ecm-data", 6, False),
    FieldType("t4-non-ecm-sig-end", 7, False, sig_end=True),
    # after the extension marker (2002 and later only): V.34 fax
    FieldType("cm-message", 8, False),
    FieldType("jm-message", 9, False),
    FieldType("ci-message", 10, False),
    FieldType("v34rate", 11, False),
)
FIELD_ROOT = 8

INDICATORS: dict[str, IndicatorType] = {t.name: t for t in INDICATOR_TYPES}
DATA: dict[str, DataType] = {t.name: t for t in DATA_TYPES}
FIELDS: dict[str, FieldType] = {t.name: t for t in FIELD_TYPES}
_INDICATOR_BY_CODE = {t.code: t for t in INDICATOR_TYPES}
_DATA_BY_CODE = {t.code: t for t in DATA_TYPES}
_FIELD_BY_CODE = {t.code: t for t in FIELD_TYPES}
DATA_FOR_MODULATION: dict[str, DataType] = {t.modulation: t for t in DATA_TYPES if t.modulation}
TRAINING_FOR: dict[tuple[str, bool], IndicatorType] = {
    (t.modulation, t.short_train): t for t in INDICATOR_TYPES if t.modulation
}
# V.27ter and V.29 have one training: a short-train request gets the only one there is.
for _t in INDICATOR_TYPES:
    if _t.modulation and (_t.modulation, True) not in TRAINING_FOR:
        TRAINING_FOR[(_t.modulation, True)] = _t

VERSIONS = (0, 1, 2, 3)
MAX_FIELD_DATA = 65535


# -- the packets -----------------------------------------------------------------------------------


class IfpError(ValueError):
    """Octets that are not an IFP packet of the version asked for."""


@dataclass(frozen=True, slots=True)
class T38Indicator:
    """A T.30 indicator: a tone, a V.21 preamble or a training begins (or no signal)."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in INDICATORS:
            raise IfpError(f"no T.38 indicator {self.name!r}")

    @property
    def type(self) -> IndicatorType:
        return INDICATORS[self.name]


@dataclass(frozen=True, slots=True)
class T38Field:
    type: str  # a FIELD_TYPES name
    data: bytes = b""

    def __post_init__(self) -> None:
        if self.type not in FIELDS:
            raise IfpError(f"no T.38 field type {self.type!r}")
        if len(self.data) > MAX_FIELD_DATA:
            raise IfpError(f"field data of {len(self.data)} octets (at most {MAX_FIELD_DATA})")


@dataclass(frozen=True, slots=True)
class T38Data:
    """T.30 data at one modulation: one or more fields."""

    data_type: str  # a DATA_TYPES name
    fields: tuple[T38Field, ...]

    def __post_init__(self) -> None:
        if self.data_type not in DATA:
            raise IfpError(f"no T.38 data type {self.data_type!r}")

    @property
    def modulation(self) -> str:
        return DATA[self.data_type].modulation

    @property
    def is_image(self) -> bool:
        """Bulk high-speed data (image or ECM frames) with no carrier end in it: the packets a
        gateway sends with less redundancy."""
        return self.data_type != "v21" and not any(FIELDS[f.type].sig_end for f in self.fields)


IfpPacket = T38Indicator | T38Data


def describe_ifp(packet: IfpPacket) -> str:
    """One line, as SpanDSP's and Wireshark's logs put it: 't30ind: cng', 'v21: hdlc-data (3)'."""
    if isinstance(packet, T38Indicator):
        return f"t30ind: {packet.name}"
    parts = [f"{f.type} ({len(f.data)})" if f.data else f.type for f in packet.fields]
    return f"{packet.data_type}: " + (", ".join(parts) if parts else "no fields")


# -- aligned PER, the few constructs T.38 uses ------------------------------------------------------


class _BitWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self._acc = 0
        self._n = 0  # bits held in _acc (< 8)

    def put(self, value: int, nbits: int) -> None:
        self._acc = (self._acc << nbits) | value
        self._n += nbits
        while self._n >= 8:
            self._n -= 8
            self.out.append((self._acc >> self._n) & 0xFF)
        self._acc &= (1 << self._n) - 1

    def align(self) -> None:
        if self._n:
            self.put(0, 8 - self._n)

    def octets(self, data: bytes) -> None:
        self.align()
        self.out += data

    def finish(self) -> bytes:
        self.align()
        return bytes(self.out)


class _BitReader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0  # in bits

    def get(self, nbits: int) -> int:
        end = self.pos + nbits
        if end > len(self.data) * 8:
            raise IfpError("packet ends in the middle of a field")
        last = (end + 7) >> 3
        chunk = int.from_bytes(self.data[self.pos >> 3 : last], "big")
        self.pos = end
        return (chunk >> (last * 8 - end)) & ((1 << nbits) - 1)

    def align(self) -> None:
        pad = -self.pos % 8
        if pad and self.get(pad):
            raise IfpError("padding bits are not zero")

    def octets(self, count: int) -> bytes:
        self.align()
        start = self.pos >> 3
        if start + count > len(self.data):
            raise IfpError(f"field data of {count} octets runs past the end of the packet")
        self.pos += count * 8
        return bytes(self.data[start : start + count])

    def end(self) -> None:
        self.align()
        if self.pos != len(self.data) * 8:
            raise IfpError(f"{len(self.data) - self.pos // 8} octets left over after the packet")


def _put_length(w: _BitWriter, count: int) -> None:
    """An unconstrained length determinant (X.691 10.9, aligned): 1 octet below 128, else 2."""
    w.align()
    if count < 0x80:
        w.put(count, 8)
    elif count < 0x4000:
        w.put(0x8000 | count, 16)
    else:
        raise IfpError(f"{count} items need PER fragmentation, which no T.38 packet uses")


def _get_length(r: _BitReader) -> int:
    r.align()
    first = r.get(8)
    if first & 0x80 == 0:
        return first
    if first & 0x40 == 0:
        return ((first & 0x3F) << 8) | r.get(8)
    raise IfpError("fragmented length (64K items or more)")


def _put_enum(w: _BitWriter, code: int, root: int, root_bits: int) -> None:
    """An extensible ENUMERATED: 0 + root index, or 1 + a normally small number (X.691 13)."""
    if code < root:
        w.put(0, 1)
        w.put(code, root_bits)
    else:
        w.put(1, 1)
        w.put(0, 1)  # normally small: below 64
        w.put(code - root, 6)


def _get_enum(r: _BitReader, root: int, root_bits: int) -> int:
    if r.get(1) == 0:
        return r.get(root_bits)
    if r.get(1):
        raise IfpError("enumeration extension of 64 or more")
    return root + r.get(6)


# -- the codec --------------------------------------------------------------------------------------


def encode_ifp(packet: IfpPacket, version: int = 0) -> bytes:
    """The PER octets of an IFP packet in T.38 `version` (0-3)."""
    if version not in VERSIONS:
        raise IfpError(f"T.38 version {version} (0 to 3 exist)")
    w = _BitWriter()
    if isinstance(packet, T38Indicator):
        code = packet.type.code
        if code >= INDICATOR_ROOT and version == 0:
            raise IfpError(f"indicator {packet.name} needs T.38 version 1 or later")
        w.put(0, 1)  # no data-field
        w.put(0, 1)  # t30-indicator
        _put_enum(w, code, INDICATOR_ROOT, 4)
        return w.finish()
    code = DATA[packet.data_type].code
    if code >= DATA_ROOT and version == 0:
        raise IfpError(f"data type {packet.data_type} needs T.38 version 1 or later")
    fields = packet.fields
    if version == 0 and 1 <= len(fields) <= 2 and fields[0].data:
        fast = _encode_bulk(code, fields)
        if fast is not None:
            return fast
    return _encode_data_bits(w, code, fields, version)


def _encode_bulk(code: int, fields: tuple[T38Field, ...]) -> bytes | None:
    """Version 0 octets of a data packet of one field with data, or that and a field without:
    None for any other shape (the bit writer does those)."""
    if code < DATA_ROOT:
        # The bulk of a call (a piece of a frame or of page data, perhaps with the frame's
        # verdict), octet by octet: fields present, t30-data, the type in the root; the count;
        # present, the field's type; its data's length - 1 in 16 bits, the data; a last field
        # without data in the high 4 bits of an octet.
        first = FIELDS[fields[0].type].code
        last = FIELDS[fields[-1].type].code if len(fields) == 2 and not fields[1].data else None
        if first < FIELD_ROOT and (len(fields) == 1 or (last is not None and last < FIELD_ROOT)):
            data = fields[0].data
            out = bytes((0xC0 | code << 1, len(fields), 0x80 | first << 4))
            out += (len(data) - 1).to_bytes(2, "big") + data
            return out if last is None else out + bytes((last << 4,))
    return None


def _encode_data_bits(
    w: _BitWriter, code: int, fields: tuple[T38Field, ...], version: int
) -> bytes:
    w.put(1 if fields else 0, 1)
    w.put(1, 1)  # t30-data
    _put_enum(w, code, DATA_ROOT, 4)
    if not fields:
        return w.finish()
    _put_length(w, len(fields))
    for field in fields:
        ftype = FIELDS[field.type].code
        w.put(1 if field.data else 0, 1)
        if version == 0:
            if ftype >= FIELD_ROOT:
                raise IfpError(f"field {field.type} needs T.38 version 1 or later")
            w.put(ftype, 3)
        else:
            _put_enum(w, ftype, FIELD_ROOT, 3)
        if field.data:
            w.align()
            w.put(len(field.data) - 1, 16)  # OCTET STRING (SIZE(1..65535)): 16-bit length - 1
            w.octets(field.data)
    return w.finish()


def decode_ifp(data: bytes, version: int = 0) -> IfpPacket:
    """The IFP packet in `data` (exactly one, nothing left over); IfpError if it is not one."""
    if version not in VERSIONS:
        raise IfpError(f"T.38 version {version} (0 to 3 exist)")
    if not data:
        raise IfpError("empty packet")
    r = _BitReader(bytes(data))
    has_fields = r.get(1)
    if r.get(1) == 0:
        code = _get_enum(r, INDICATOR_ROOT, 4)
        if has_fields:
            raise IfpError("an indicator with a data field")
        kind = _INDICATOR_BY_CODE.get(code)
        if kind is None:
            raise IfpError(f"unknown indicator {code}")
        r.end()
        return T38Indicator(kind.name)
    code = _get_enum(r, DATA_ROOT, 4)
    dtype = _DATA_BY_CODE.get(code)
    if dtype is None:
        raise IfpError(f"unknown data type {code}")
    fields: list[T38Field] = []
    if has_fields:
        count = _get_length(r)
        if count == 0:
            raise IfpError("a data field with no fields")
        for _ in range(count):
            present = r.get(1)
            if version == 0:
                ftype = r.get(3)
            else:
                ftype = _get_enum(r, FIELD_ROOT, 3)
            kind_f = _FIELD_BY_CODE.get(ftype)
            if kind_f is None:
                raise IfpError(f"unknown field type {ftype}")
            payload = b""
            if present:
                r.align()
                payload = r.octets(r.get(16) + 1)
            fields.append(T38Field(kind_f.name, payload))
    r.end()
    return T38Data(dtype.name, tuple(fields))


__all__ = [
    "DATA",
    "DATA_FOR_MODULATION",
    "DATA_TYPES",
    "FIELDS",
    "FIELD_TYPES",
    "INDICATORS",
    "INDICATOR_TYPES",
    "TRAINING_FOR",
    "VERSIONS",
    "DataType",
    "FieldType",
    "IfpError",
    "IfpPacket",
    "IndicatorType",
    "T38Data",
    "T38Field",
    "T38Indicator",
    "decode_ifp",
    "describe_ifp",
    "encode_ifp",
]
