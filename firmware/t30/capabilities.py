"""DIS, DTC and DCS: the capability bits of T.30 Table 2 as a table, and what they negotiate.

Bits are numbered as in T.30: bit 1 is the first bit of the first FIF octet on the line, i.e.
the least significant bit of octet 0 here (see frames.py on byte order). Bits 24, 32, 40, ...
are "extend field" bits: set when another octet follows. `BITS` names every single-bit flag
this engine reads or writes; the fields of several bits (rate, width, length, minimum scan line
time) have their own tables below.

`Capabilities` is what a DIS or DTC offers; `DcsParams` is what a DCS commands. The transmitter
picks the `DcsParams` from the far end's DIS and its own settings (`negotiate`); a DCS is
encoded and decoded exactly, so both ends agree on every parameter of the page.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Bit:
    n: int
    key: str
    meaning: str


BITS: tuple[Bit, ...] = (
    Bit(9, "ready_to_transmit", "ready to transmit a document (polling)"),
    Bit(10, "receive", "receiver fax operation"),
    Bit(15, "fine", "R8 x 7.7 lines/mm"),
    Bit(16, "mr", "two-dimensional coding (MR)"),
    Bit(26, "uncompressed", "uncompressed mode"),
    Bit(27, "ecm", "error correction mode"),
    Bit(28, "frame_64", "ECM frame size 64 octets (DCS)"),
    Bit(31, "mmr", "T.6 coding (MMR)"),
    Bit(41, "superfine", "R8 x 15.4 lines/mm"),
    Bit(42, "r300", "300 x 300 pels/25.4 mm"),
    Bit(43, "r16", "R16 x 15.4 lines/mm"),
    Bit(46, "min_scan_superfine_half", "min scan line time at 15.4 l/mm is half that at 7.7"),
    Bit(47, "selective_polling", "selective polling"),
    Bit(49, "subaddress", "subaddressing"),
    Bit(50, "password", "password"),
)
BIT_BY_KEY = {b.key: b for b in BITS}
EXTEND_BITS = tuple(range(24, 8 * 32, 8))

# Bits 11-14 (b11, b12, b13, b14). DIS/DTC: the modems offered; DCS: the one chosen.
DIS_RATES: dict[tuple[int, ...], tuple[str, ...]] = {
    (0, 0, 0, 0): ("V.27ter/2400",),
    (0, 1, 0, 0): ("V.27ter/4800", "V.27ter/2400"),
    (1, 0, 0, 0): ("V.29/9600", "V.29/7200"),
    (1, 1, 0, 0): ("V.29/9600", "V.29/7200", "V.27ter/4800", "V.27ter/2400"),
    (1, 1, 0, 1): (
        "V.17/14400", "V.17/12000", "V.17/9600", "V.17/7200",
        "V.29/9600", "V.29/7200", "V.27ter/4800", "V.27ter/2400",
    ),
}  # fmt: skip
DCS_RATES: dict[tuple[int, ...], str] = {
    (0, 0, 0, 0): "V.27ter/2400",
    (0, 1, 0, 0): "V.27ter/4800",
    (1, 0, 0, 0): "V.29/9600",
    (1, 1, 0, 0): "V.29/7200",
    (0, 0, 0, 1): "V.17/14400",
    (0, 1, 0, 1): "V.17/12000",
    (1, 0, 0, 1): "V.17/9600",
    (1, 1, 0, 1): "V.17/7200",
}
DCS_RATE_BITS = {mod: bits for bits, mod in DCS_RATES.items()}

# The order a transmitter falls back in after FTT (DESIGN.md 5, T.30 practice).
FALLBACK: tuple[str, ...] = (
    "V.17/14400", "V.17/12000", "V.17/9600", "V.29/9600",
    "V.17/7200", "V.29/7200", "V.27ter/4800", "V.27ter/2400",
)  # fmt: skip

# Bits 17-18: widths (pels). DIS: what the receiver takes; DCS: the one used.
DIS_WIDTHS: dict[tuple[int, ...], tuple[int, ...]] = {
    (0, 0): (1728,), (0, 1): (1728, 2048, 2432), (1, 0): (1728, 2048),
}  # fmt: skip
DCS_WIDTHS: dict[tuple[int, ...], int] = {(0, 0): 1728, (0, 1): 2432, (1, 0): 2048}
# Bits 19-20: recording length.
LENGTHS: dict[tuple[int, ...], str] = {(0, 0): "a4", (0, 1): "unlimited", (1, 0): "b4"}
# Bits 21-23: minimum scan line time (ms) at 3.85 l/mm, and whether 7.7 l/mm may use half of it.
DIS_MIN_SCAN: dict[tuple[int, ...], tuple[int, bool]] = {
    (0, 0, 0): (20, False), (0, 0, 1): (40, False), (0, 1, 0): (10, False), (1, 0, 0): (5, False),
    (0, 1, 1): (10, True), (1, 1, 0): (20, True), (1, 0, 1): (40, True), (1, 1, 1): (0, False),
}  # fmt: skip
DCS_MIN_SCAN: dict[tuple[int, ...], int] = {
    (0, 0, 0): 20,
    (0, 0, 1): 40,
    (0, 1, 0): 10,
    (1, 0, 0): 5,
    (1, 1, 1): 0,
}


def modulation_rate(key: str) -> int:
    return int(key.split("/")[1])


# -- bit sets <-> FIF octets ----------------------------------------------------------------------
def encode_bits(bits: set[int]) -> bytes:
    """FIF octets carrying `bits` (numbered from 1), with the extend bits that are needed."""
    top = max((b for b in bits if b not in EXTEND_BITS), default=16)
    count = max(3, (top + 7) // 8)
    out = bytearray(count)
    for b in bits:
        if b not in EXTEND_BITS and b <= count * 8:
            out[(b - 1) >> 3] |= 1 << ((b - 1) & 7)
    for octet in range(2, count - 1):  # every octet but the last says "more follows"
        out[octet] |= 0x80
    return bytes(out)


def decode_bits(fif: bytes) -> set[int]:
    """The bits set in a FIF, up to the octet whose extend bit is clear."""
    bits: set[int] = set()
    for octet, value in enumerate(fif):
        for i in range(8):
            if value >> i & 1:
                bits.add(octet * 8 + i + 1)
        if octet >= 2 and not value & 0x80:
            break
    return bits - set(EXTEND_BITS)


def _field(bits: set[int], first: int, width: int) -> tuple[int, ...]:
    return tuple(1 if first + i in bits else 0 for i in range(width))


def _put(bits: set[int], first: int, values: tuple[int, ...]) -> None:
    for i, v in enumerate(values):
        if v:
            bits.add(first + i)


# -- what a DIS/DTC offers ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Capabilities:
    receive: bool = True  # bit 10: can receive a fax
    ready_to_transmit: bool = False  # bit 9: has a document for polling
    modulations: tuple[str, ...] = DIS_RATES[(1, 1, 0, 1)]
    fine: bool = True
    superfine: bool = False
    mr: bool = False
    mmr: bool = False
    ecm: bool = False
    widths: tuple[int, ...] = (1728,)
    length: str = "a4"
    min_scan_ms: int = 20
    min_scan_half_fine: bool = False
    subaddress: bool = False
    password: bool = False
    selective_polling: bool = False

    def encode(self) -> bytes:
        bits: set[int] = set()
        flags = {
            "ready_to_transmit": self.ready_to_transmit, "receive": self.receive,
            "fine": self.fine, "mr": self.mr or self.mmr, "ecm": self.ecm,
            "mmr": self.mmr and self.ecm, "superfine": self.superfine,
            "subaddress": self.subaddress, "password": self.password,
            "selective_polling": self.selective_polling,
        }  # fmt: skip
        for key, on in flags.items():
            if on:
                bits.add(BIT_BY_KEY[key].n)
        _put(bits, 11, _dis_rate_code(self.modulations))
        _put(bits, 17, next(k for k, v in DIS_WIDTHS.items() if v == _width_set(self.widths)))
        _put(bits, 19, next(k for k, v in LENGTHS.items() if v == self.length))
        scan = next(
            k for k, v in DIS_MIN_SCAN.items() if v == (self.min_scan_ms, self.min_scan_half_fine)
        )
        _put(bits, 21, scan)
        return encode_bits(bits)

    @classmethod
    def decode(cls, fif: bytes) -> Capabilities:
        bits = decode_bits(fif)
        scan = DIS_MIN_SCAN.get(_field(bits, 21, 3), (20, False))
        return cls(
            receive=10 in bits,
            ready_to_transmit=9 in bits,
            modulations=DIS_RATES.get(_field(bits, 11, 4), DIS_RATES[(0, 0, 0, 0)]),
            fine=15 in bits,
            superfine=41 in bits,
            mr=16 in bits,
            mmr=31 in bits and 27 in bits,
            ecm=27 in bits,
            widths=DIS_WIDTHS.get(_field(bits, 17, 2), (1728,)),
            length=LENGTHS.get(_field(bits, 19, 2), "a4"),
            min_scan_ms=scan[0],
            min_scan_half_fine=scan[1],
            subaddress=49 in bits,
            password=50 in bits,
            selective_polling=47 in bits,
        )

    def describe(self) -> str:
        rates = ", ".join(self.modulations)
        parts = [
            "can receive" if self.receive else "cannot receive",
            *(["document to poll"] if self.ready_to_transmit else []),
            rates,
            "/".join(
                ["standard"]
                + (["fine"] if self.fine else [])
                + (["superfine"] if self.superfine else [])
            ),
            "/".join(["MH"] + (["MR"] if self.mr else []) + (["MMR"] if self.mmr else [])),
            "ECM" if self.ecm else "no ECM",
            "/".join(str(w) for w in self.widths) + " pels",
            f"{self.length} length",
            f"min scan {self.min_scan_ms} ms"
            + (" (half at fine)" if self.min_scan_half_fine else ""),
            *(["subaddress"] if self.subaddress else []),
            *(["password"] if self.password else []),
        ]
        return ", ".join(parts)


def _width_set(widths: tuple[int, ...]) -> tuple[int, ...]:
    if 2432 in widths:
        return (1728, 2048, 2432)
    if 2048 in widths:
        return (1728, 2048)
    return (1728,)


def _dis_rate_code(modulations: tuple[str, ...]) -> tuple[int, ...]:
    families = {m.split("/")[0] for m in modulations}
    if "V.17" in families:
        return (1, 1, 0, 1)
    if "V.29" in families:
        return (1, 1, 0, 0) if "V.27ter" in families else (1, 0, 0, 0)
    if "V.27ter/4800" in modulations:
        return (0, 1, 0, 0)
    return (0, 0, 0, 0)


def modulations_up_to(top: int) -> tuple[str, ...]:
    """The modulations a modem set to a top speed of `top` bit/s can run, fastest first."""
    return tuple(m for m in FALLBACK if modulation_rate(m) <= top)


# -- what a DCS commands -------------------------------------------------------------------------------
@dataclass(frozen=True)
class DcsParams:
    modulation: str = "V.27ter/4800"
    resolution: str = "standard"  # standard | fine | superfine
    coding: str = "mh"  # mh | mr | mmr
    width: int = 1728
    length: str = "a4"
    min_scan_ms: int = 20
    ecm: bool = False
    frame_size: int = 256

    def encode(self) -> bytes:
        bits: set[int] = {10}
        _put(bits, 11, DCS_RATE_BITS[self.modulation])
        if self.resolution == "fine":
            bits.add(15)
        elif self.resolution == "superfine":
            bits.add(41)
        if self.coding == "mr":
            bits.add(16)
        elif self.coding == "mmr":
            bits.add(31)
        _put(bits, 17, next(k for k, v in DCS_WIDTHS.items() if v == self.width))
        _put(bits, 19, next(k for k, v in LENGTHS.items() if v == self.length))
        _put(bits, 21, next(k for k, v in DCS_MIN_SCAN.items() if v == self.min_scan_ms))
        if self.ecm:
            bits.add(27)
            if self.frame_size == 64:
                bits.add(28)
        return encode_bits(bits)

    @classmethod
    def decode(cls, fif: bytes) -> DcsParams:
        bits = decode_bits(fif)
        rate = _field(bits, 11, 4)
        if rate not in DCS_RATES:
            raise ValueError(f"DCS asks for an unknown data rate {rate}")
        resolution = "superfine" if 41 in bits else "fine" if 15 in bits else "standard"
        coding = "mmr" if 31 in bits else "mr" if 16 in bits else "mh"
        return cls(
            modulation=DCS_RATES[rate],
            resolution=resolution,
            coding=coding,
            width=DCS_WIDTHS.get(_field(bits, 17, 2), 1728),
            length=LENGTHS.get(_field(bits, 19, 2), "a4"),
            min_scan_ms=DCS_MIN_SCAN.get(_field(bits, 21, 3), 20),
            ecm=27 in bits,
            frame_size=64 if 28 in bits else 256,
        )

    def describe(self) -> str:
        return (
            f"{self.modulation.replace('/', ' ')}, {self.resolution}, {self.coding.upper()}, "
            f"{'ECM ' + str(self.frame_size) if self.ecm else 'no ECM'}, {self.width} pels, "
            f"{self.length} length, min scan {self.min_scan_ms} ms"
        )

    @property
    def rate(self) -> int:
        return modulation_rate(self.modulation)

    def with_modulation(self, modulation: str) -> DcsParams:
        return replace(self, modulation=modulation)


def ctc_fif(modulation: str) -> bytes:
    """CTC carries the first two DCS octets: only the data rate to continue at is set."""
    bits: set[int] = set()
    _put(bits, 11, DCS_RATE_BITS[modulation])
    return encode_bits(bits)[:2]


def ctc_modulation(fif: bytes) -> str:
    bits = decode_bits(fif[:2] + b"\x00")
    return DCS_RATES.get(_field(bits, 11, 4), "V.27ter/2400")


def min_scan_for(caps: Capabilities, resolution: str) -> int:
    """The minimum scan line time (ms) a transmitter must keep at `resolution` for this DIS."""
    if caps.min_scan_half_fine and resolution in ("fine", "superfine"):
        return caps.min_scan_ms // 2
    return caps.min_scan_ms


def dcs_scan_code(ms: int) -> int:
    """The nearest DCS minimum scan time at or above `ms` (DCS can say 0, 5, 10, 20, 40)."""
    for value in (0, 5, 10, 20, 40):
        if ms <= value:
            return value
    return 40
