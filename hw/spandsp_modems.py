"""SpanDSP's fax modems through ctypes: the parts the audio modem chip is built from.

Debian's libspandsp2 0.0.6 (no Python binding exists), loaded and declared by `hw.spandsp` (the
one loader; SpanDSP's whole fax terminals, T.38 and audio, are bound there too). Every `*_init`
function allocates its state when given NULL, so the opaque structs' sizes never matter here; each
wrapper frees its state with the matching `*_free` when it is collected. ctypes callbacks are kept
referenced by the object that registered them (a collected callback called from C crashes the
process).

Samples are numpy int16 arrays at 8000 samples/s. Bits move between a modem and its user through a
`BitPort`: a C function and its user-data pointer. SpanDSP's own HDLC transmitter and receiver are
ports (`HdlcTransmitter.port`, `HdlcReceiver.port`); `BitQueue` and `BitCollector` are ports over
numpy buffers, compiled with numba so that no Python runs per bit (a ctypes callback per bit costs
about 0.2 µs: at 14400 bit/s that alone would be 3 ms per second of audio, each way). Negative
values on a port are SpanDSP's status codes (`SIG_STATUS_*`), in band with the bits.

Parts: V.21 channel 2 (`FskTransmitter`, `FskReceiver`), V.27ter / V.29 / V.17
(`FastTransmitter`, `FastReceiver`), HDLC, CNG and CED (`ConnectToneTransmitter`,
`ConnectToneDetector`), DTMF (`DtmfTransmitter`, `DtmfReceiver`).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .spandsp import (
    DIGITS_RX,
    GET_BIT,
    HDLC_FRAME,
    MODEM_STATUS,
    PUT_BIT,
    TONE_REPORT,
    State,
    address_of,
    load_spandsp,
)

# -- SpanDSP's constants (headers of 0.0.6) -------------------------------------------------------
SIG_STATUS_CARRIER_DOWN = -1
SIG_STATUS_CARRIER_UP = -2
SIG_STATUS_TRAINING_IN_PROGRESS = -3
SIG_STATUS_TRAINING_SUCCEEDED = -4
SIG_STATUS_TRAINING_FAILED = -5
SIG_STATUS_FRAMING_OK = -6
SIG_STATUS_END_OF_DATA = -7
SIG_STATUS_ABORT = -8
SIG_STATUS_SHUTDOWN_COMPLETE = -10

FSK_V21CH2 = 1
FSK_FRAME_MODE_SYNC = 1

MODEM_CONNECT_TONES_NONE = 0
MODEM_CONNECT_TONES_FAX_CNG = 1
MODEM_CONNECT_TONES_ANS = 2  # = MODEM_CONNECT_TONES_FAX_CED
MODEM_CONNECT_TONES_ANS_PR = 3
MODEM_CONNECT_TONES_ANSAM = 4
MODEM_CONNECT_TONES_ANSAM_PR = 5
MODEM_CONNECT_TONES_FAX_PREAMBLE = 6
MODEM_CONNECT_TONES_FAX_CED = MODEM_CONNECT_TONES_ANS


class FskSpec(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("freq_zero", ctypes.c_int),
        ("freq_one", ctypes.c_int),
        ("tx_level", ctypes.c_int),
        ("min_level", ctypes.c_int),
        ("baud_rate", ctypes.c_int),
    ]


# -- bit ports ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BitPort:
    """A get_bit or put_bit function for a modem, with its user data (kept alive by `owner`)."""

    function: int
    user_data: int
    owner: object


_HEAD = 8  # int64 slots before the bits of a BitQueue / BitCollector buffer
_Q_READ, _Q_WRITE, _Q_END, _Q_FILL, _Q_UNDERRUNS = range(5)
_C_COUNT, _C_CAPACITY = range(2)


def _build_bit_functions() -> tuple[int, int, Any]:
    """(get_bit address, put_bit address, objects to keep): numba-compiled where numba is there,
    else ctypes callbacks running Python (the same logic, slower)."""
    try:
        from numba import carray, cfunc, types
    except ImportError:  # pragma: no cover - numba is a dependency; this is the fallback
        return _python_bit_functions()

    @cfunc(types.int32(types.voidptr), cache=True)
    def get_bit(user_data):  # type: ignore[no-untyped-def]
        head = carray(user_data, _HEAD, dtype=np.int64)
        read = head[_Q_READ]
        if read < head[_Q_WRITE]:
            bits = carray(user_data, _HEAD * 8 + head[_Q_WRITE], dtype=np.int8)
            head[_Q_READ] = read + 1
            return bits[_HEAD * 8 + read]
        if head[_Q_END] != 0:
            return SIG_STATUS_END_OF_DATA
        head[_Q_UNDERRUNS] += 1
        return head[_Q_FILL]

    @cfunc(types.void(types.voidptr, types.int32), cache=True)
    def put_bit(user_data, bit):  # type: ignore[no-untyped-def]
        head = carray(user_data, _HEAD, dtype=np.int64)
        count = head[_C_COUNT]
        if count < head[_C_CAPACITY]:
            store = carray(user_data, _HEAD * 8 + head[_C_CAPACITY], dtype=np.int8)
            store[_HEAD * 8 + count] = bit
            head[_C_COUNT] = count + 1

    get_address, put_address = get_bit.address, put_bit.address
    assert get_address is not None and put_address is not None
    return get_address, put_address, (get_bit, put_bit)


def _python_bit_functions() -> tuple[int, int, Any]:  # pragma: no cover - without numba only
    def get_bit(user_data: int) -> int:
        head = np.ctypeslib.as_array((ctypes.c_int64 * _HEAD).from_address(user_data))
        read = int(head[_Q_READ])
        if read < head[_Q_WRITE]:
            head[_Q_READ] = read + 1
            return int(ctypes.c_int8.from_address(user_data + _HEAD * 8 + read).value)
        if head[_Q_END]:
            return SIG_STATUS_END_OF_DATA
        head[_Q_UNDERRUNS] += 1
        return int(head[_Q_FILL])

    def put_bit(user_data: int, bit: int) -> None:
        head = np.ctypeslib.as_array((ctypes.c_int64 * _HEAD).from_address(user_data))
        count = int(head[_C_COUNT])
        if count < head[_C_CAPACITY]:
            ctypes.c_int8.from_address(user_data + _HEAD * 8 + count).value = bit
            head[_C_COUNT] = count + 1

    get_cb, put_cb = GET_BIT(get_bit), PUT_BIT(put_bit)
    return address_of(get_cb), address_of(put_cb), (get_cb, put_cb)


_bit_functions: tuple[int, int, Any] | None = None


def _bit_function_addresses() -> tuple[int, int]:
    global _bit_functions
    if _bit_functions is None:
        _bit_functions = _build_bit_functions()
    return _bit_functions[0], _bit_functions[1]


class BitQueue:
    """Bits for a transmitter (a get_bit port): `push` bits in, the modem pulls them one by one.
    Once drained it returns `fill` (counting an underrun), or END_OF_DATA after `end()`, which
    makes a SpanDSP modem send its turn-off sequence. The buffer never moves (C holds its
    address): it holds up to `capacity` bits not yet taken."""

    def __init__(self, fill: int = 1, capacity: int = 1 << 20) -> None:
        self._buffer = np.zeros(_HEAD * 8 + capacity, dtype=np.int8)
        self._head = self._buffer[: _HEAD * 8].view(np.int64)
        self._bits = self._buffer[_HEAD * 8 :]
        self._head[_Q_FILL] = fill

    @property
    def port(self) -> BitPort:
        return BitPort(_bit_function_addresses()[0], self._buffer.ctypes.data, self)

    @property
    def pending(self) -> int:
        """Bits pushed and not yet taken by the modem."""
        return int(self._head[_Q_WRITE] - self._head[_Q_READ])

    @property
    def underruns(self) -> int:
        return int(self._head[_Q_UNDERRUNS])

    def push(self, bits: np.ndarray) -> None:
        read, write = int(self._head[_Q_READ]), int(self._head[_Q_WRITE])
        if write + bits.size > self._bits.size:  # move what is pending to the front
            self._bits[: write - read] = self._bits[read:write].copy()
            read, write = 0, write - read
            self._head[_Q_READ], self._head[_Q_WRITE] = read, write
            if write + bits.size > self._bits.size:
                raise ValueError(f"more than {self._bits.size} bits queued for a transmitter")
        self._bits[write : write + bits.size] = bits
        self._head[_Q_WRITE] = write + bits.size
        self._head[_Q_END] = 0

    def end(self) -> None:
        self._head[_Q_END] = 1

    def clear(self, fill: int | None = None) -> None:
        self._head[_Q_READ] = self._head[_Q_WRITE] = self._head[_Q_END] = 0
        if fill is not None:
            self._head[_Q_FILL] = fill


class BitCollector:
    """What a receiver demodulates (a put_bit port): bits (0/1) and status codes (negative), in
    order, up to `capacity` between two `take()` calls (more are dropped)."""

    def __init__(self, capacity: int = 8192) -> None:
        self._buffer = np.zeros(_HEAD * 8 + capacity, dtype=np.int8)
        self._head = self._buffer[: _HEAD * 8].view(np.int64)
        self._head[_C_CAPACITY] = capacity

    @property
    def port(self) -> BitPort:
        return BitPort(_bit_function_addresses()[1], self._buffer.ctypes.data, self)

    def take(self) -> np.ndarray:
        """Everything put since the last call (int8: 0, 1, or a SIG_STATUS_* code)."""
        count = int(self._head[_C_COUNT])
        out = self._buffer[_HEAD * 8 : _HEAD * 8 + count].copy()
        self._head[_C_COUNT] = 0
        return out


# -- samples ---------------------------------------------------------------------------------------
def _samples(samples: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(samples, dtype=np.int16)


# -- HDLC --------------------------------------------------------------------------------------------
class HdlcTransmitter:
    """SpanDSP's HDLC framer (CRC-16): frames in, the stuffed bit stream out through `port`."""

    def __init__(self, inter_frame_flags: int = 1) -> None:
        lib = load_spandsp()
        self._state = State(
            lib.hdlc_tx_init(None, 0, inter_frame_flags, 0, None, None), "hdlc_tx_free"
        )
        self._lib = lib

    @property
    def port(self) -> BitPort:
        return BitPort(address_of(self._lib.hdlc_tx_get_bit), self._state.ptr, self)

    def flags(self, count: int) -> bool:
        """Queue `count` flags (0: end the transmission once drained)."""
        return self._lib.hdlc_tx_flags(self._state.ptr, count) == 0

    def frame(self, frame: bytes) -> bool:
        """Queue a frame (the FCS is added); False while the previous one is still going."""
        buf = ctypes.create_string_buffer(bytes(frame), len(frame))
        return self._lib.hdlc_tx_frame(self._state.ptr, ctypes.addressof(buf), len(frame)) == 0

    def get(self, count: int) -> bytes:
        """The next `count` octets of the bit stream (most significant bit first, as SpanDSP
        packs it)."""
        buf = ctypes.create_string_buffer(count)
        got = self._lib.hdlc_tx_get(self._state.ptr, ctypes.addressof(buf), count)
        return buf.raw[: max(got, 0)]


class HdlcReceiver:
    """SpanDSP's HDLC deframer: bits in (its `port`, or `put` for octets), frames out to
    `on_frame(frame_without_fcs, fcs_ok)` and status changes (FRAMING_OK after `framing_flags`
    flags back to back, carrier up/down passed through) to `on_status(code)`."""

    def __init__(
        self,
        on_frame: Callable[[bytes, bool], None],
        on_status: Callable[[int], None] | None = None,
        framing_flags: int = 5,
    ) -> None:
        lib = load_spandsp()
        self._lib = lib
        self.on_frame = on_frame
        self.on_status = on_status or (lambda code: None)

        def frame(_user: int, data: Any, length: int, ok: int) -> None:
            if length < 0 or not data:  # a status code passed where no status handler is set
                return
            self.on_frame(ctypes.string_at(data, length), bool(ok))

        def status(_user: int, code: int) -> None:
            self.on_status(code)

        frame_cb, status_cb = HDLC_FRAME(frame), MODEM_STATUS(status)
        pointer = lib.hdlc_rx_init(None, 0, 1, framing_flags, address_of(frame_cb), None)
        self._state = State(pointer, "hdlc_rx_free")
        self._state.keep(frame_cb, status_cb)
        lib.hdlc_rx_set_status_handler(pointer, address_of(status_cb), None)

    @property
    def port(self) -> BitPort:
        return BitPort(address_of(self._lib.hdlc_rx_put_bit), self._state.ptr, self)

    def put(self, octets: bytes) -> None:
        """Octets of the bit stream, most significant bit first (SpanDSP's `hdlc_rx_put`)."""
        buf = ctypes.create_string_buffer(bytes(octets), len(octets))
        self._lib.hdlc_rx_put(self._state.ptr, ctypes.addressof(buf), len(octets))

    def restart(self) -> None:
        self._lib.hdlc_rx_restart(self._state.ptr)


# -- V.21 channel 2 ----------------------------------------------------------------------------------
def _fsk_spec(lib: ctypes.CDLL, which: int) -> int:
    specs = (FskSpec * 10).in_dll(lib, "preset_fsk_specs")
    return ctypes.addressof(specs[which])


class FskTransmitter:
    """V.21 channel 2 (1650/1850 Hz, 300 bit/s), taking bits from a port."""

    def __init__(self, source: BitPort, power_dbm0: float | None = None) -> None:
        lib = load_spandsp()
        self._lib = lib
        self._spec = _fsk_spec(lib, FSK_V21CH2)
        self._state = State(
            lib.fsk_tx_init(None, self._spec, source.function, source.user_data), "fsk_tx_free"
        )
        self._state.keep(source)
        if power_dbm0 is not None:
            lib.fsk_tx_power(self._state.ptr, power_dbm0)

    def set_source(self, source: BitPort) -> None:
        self._lib.fsk_tx_set_get_bit(self._state.ptr, source.function, source.user_data)
        self._state.keep(source)

    def restart(self) -> None:
        self._lib.fsk_tx_restart(self._state.ptr, self._spec)

    def tx(self, count: int) -> np.ndarray:
        out = np.zeros(count, dtype=np.int16)
        self._lib.fsk_tx(self._state.ptr, out.ctypes.data, count)
        return out


class FskReceiver:
    """V.21 channel 2 demodulator (synchronous mode), giving bits and carrier status to a port."""

    def __init__(self, sink: BitPort, cutoff_dbm0: float = -39.09) -> None:
        lib = load_spandsp()
        self._lib = lib
        self._spec = _fsk_spec(lib, FSK_V21CH2)
        pointer = lib.fsk_rx_init(
            None, self._spec, FSK_FRAME_MODE_SYNC, sink.function, sink.user_data
        )
        self._state = State(pointer, "fsk_rx_free")
        self._state.keep(sink)
        self.signal_cutoff(cutoff_dbm0)

    def signal_cutoff(self, dbm0: float) -> None:
        self._lib.fsk_rx_signal_cutoff(self._state.ptr, dbm0)

    def signal_power(self) -> float:
        return float(self._lib.fsk_rx_signal_power(self._state.ptr))

    def restart(self) -> None:
        self._lib.fsk_rx_restart(self._state.ptr, self._spec, FSK_FRAME_MODE_SYNC)

    def rx(self, samples: np.ndarray) -> None:
        samples = _samples(samples)
        self.rx_at(samples.ctypes.data, samples.size)

    def rx_at(self, address: int, count: int) -> None:
        """`count` int16 samples already in memory at `address` (saves a conversion per call)."""
        self._lib.fsk_rx(self._state.ptr, address, count)


# -- V.27ter, V.29, V.17 ----------------------------------------------------------------------------
# family: (function prefix for tx, for rx, the rates, training has a short form)
FAST_FAMILIES: dict[str, tuple[str, str, tuple[int, ...]]] = {
    "V.27ter": ("v27ter_tx", "v27ter_rx", (2400, 4800)),
    "V.29": ("v29_tx", "v29_rx", (7200, 9600)),
    "V.17": ("v17_tx", "v17_rx", (7200, 9600, 12000, 14400)),
}


def _family(family: str, rate: int) -> tuple[str, str]:
    if family not in FAST_FAMILIES or rate not in FAST_FAMILIES[family][2]:
        raise ValueError(f"no SpanDSP modem {family} at {rate} bit/s")
    tx, rx, _ = FAST_FAMILIES[family]
    return tx, rx


class FastTransmitter:
    """A V.27ter, V.29 or V.17 transmitter: training (long or, for V.17, short), then the bits of
    its source, then on END_OF_DATA the turn-off sequence, after which `tx` gives fewer samples."""

    def __init__(self, family: str, rate: int, source: BitPort, power_dbm0: float | None = None):
        lib = load_spandsp()
        self._lib = lib
        self.family = family
        self._prefix = _family(family, rate)[0]
        init = getattr(lib, f"{self._prefix}_init")
        pointer = init(None, rate, 0, source.function, source.user_data)
        self._state = State(pointer, f"{self._prefix}_free")
        self._state.keep(source)
        self._tx = getattr(lib, self._prefix)
        self._power = power_dbm0
        if power_dbm0 is not None:
            getattr(lib, f"{self._prefix}_power")(pointer, power_dbm0)

    def set_source(self, source: BitPort) -> None:
        getattr(self._lib, f"{self._prefix}_set_get_bit")(
            self._state.ptr, source.function, source.user_data
        )
        self._state.keep(source)

    def restart(self, rate: int, short_train: bool = False) -> None:
        _family(self.family, rate)
        restart = getattr(self._lib, f"{self._prefix}_restart")
        if self.family == "V.17":
            restart(self._state.ptr, rate, 0, int(short_train))
        else:
            restart(self._state.ptr, rate, 0)
        if self._power is not None:  # restart resets nothing of the power, but be explicit
            getattr(self._lib, f"{self._prefix}_power")(self._state.ptr, self._power)

    def tx(self, count: int) -> np.ndarray:
        """Up to `count` samples (fewer once the turn-off sequence has ended)."""
        out = np.zeros(count, dtype=np.int16)
        made = self._tx(self._state.ptr, out.ctypes.data, count)
        return out[:made]


class FastReceiver:
    """A V.27ter, V.29 or V.17 demodulator: bits and status codes (carrier up/down, training in
    progress/succeeded/failed) to its sink. After a carrier drops it re-arms itself for the next
    training; `restart` re-arms it now (V.17: `short_train` expects the short training, which
    needs an earlier long training at that rate)."""

    def __init__(self, family: str, rate: int, sink: BitPort, cutoff_dbm0: float | None = None):
        lib = load_spandsp()
        self._lib = lib
        self.family = family
        self.rate = rate
        self._prefix = _family(family, rate)[1]
        init = getattr(lib, f"{self._prefix}_init")
        self._state = State(init(None, rate, sink.function, sink.user_data), f"{self._prefix}_free")
        self._state.keep(sink)
        self._rx = getattr(lib, self._prefix)
        if cutoff_dbm0 is not None:
            self.signal_cutoff(cutoff_dbm0)

    def restart(self, rate: int | None = None, short_train: bool = False) -> None:
        if rate is not None:
            _family(self.family, rate)
            self.rate = rate
        getattr(self._lib, f"{self._prefix}_restart")(self._state.ptr, self.rate, int(short_train))

    def signal_cutoff(self, dbm0: float) -> None:
        getattr(self._lib, f"{self._prefix}_signal_cutoff")(self._state.ptr, dbm0)

    def signal_power(self) -> float:
        return float(getattr(self._lib, f"{self._prefix}_signal_power")(self._state.ptr))

    def rx(self, samples: np.ndarray) -> None:
        samples = _samples(samples)
        self.rx_at(samples.ctypes.data, samples.size)

    def rx_at(self, address: int, count: int) -> None:
        """`count` int16 samples already in memory at `address`."""
        self._rx(self._state.ptr, address, count)


# -- CNG and CED --------------------------------------------------------------------------------------
class ConnectToneTransmitter:
    """SpanDSP's own CNG (1100 Hz, 0.5 s on 3 s off, repeating) or CED (0.2 s silence, 2.6 s of
    2100 Hz, then nothing), both at -11 dBm0."""

    def __init__(self, tone: int) -> None:
        lib = load_spandsp()
        self._lib = lib
        self._state = State(
            lib.modem_connect_tones_tx_init(None, tone), "modem_connect_tones_tx_free"
        )

    def tx(self, count: int) -> np.ndarray:
        out = np.zeros(count, dtype=np.int16)
        made = self._lib.modem_connect_tones_tx(self._state.ptr, out.ctypes.data, count)
        return out[:made]


class ConnectToneDetector:
    """SpanDSP's detector for one tone: CNG (reported after 415 ms of 1100 Hz) or CED/ANS
    (2100 Hz, reported after about 550 ms); `on_tone(code)` gets the tone's code when it is
    detected and MODEM_CONNECT_TONES_NONE when it ends."""

    def __init__(self, tone: int, on_tone: Callable[[int], None]) -> None:
        lib = load_spandsp()
        self._lib = lib
        self.on_tone = on_tone

        def report(_user: int, code: int, _level: int, _delay: int) -> None:
            self.on_tone(code)

        callback = TONE_REPORT(report)
        pointer = lib.modem_connect_tones_rx_init(None, tone, address_of(callback), None)
        self._state = State(pointer, "modem_connect_tones_rx_free")
        self._state.keep(callback)

    def rx(self, samples: np.ndarray) -> None:
        samples = _samples(samples)
        self.rx_at(samples.ctypes.data, samples.size)

    def rx_at(self, address: int, count: int) -> None:
        """`count` int16 samples already in memory at `address`."""
        self._lib.modem_connect_tones_rx(self._state.ptr, address, count)


# -- DTMF ------------------------------------------------------------------------------------------------
class DtmfTransmitter:
    """DTMF digits, `on_ms` of tone and `off_ms` of silence each (SpanDSP's default level)."""

    def __init__(self, on_ms: int = 100, off_ms: int = 100) -> None:
        lib = load_spandsp()
        self._lib = lib
        self._state = State(lib.dtmf_tx_init(None), "dtmf_tx_free")
        lib.dtmf_tx_set_timing(self._state.ptr, on_ms, off_ms)

    def put(self, digits: str) -> int:
        """Queue digits (0-9 * # A-D); returns how many could not be queued."""
        return int(self._lib.dtmf_tx_put(self._state.ptr, digits.encode("ascii"), len(digits)))

    def tx(self, count: int) -> np.ndarray:
        out = np.zeros(count, dtype=np.int16)
        made = self._lib.dtmf_tx(self._state.ptr, out.ctypes.data, count)
        return out[:made]


class DtmfReceiver:
    """DTMF detection; the digits heard so far are in `digits`."""

    def __init__(self) -> None:
        lib = load_spandsp()
        self._lib = lib
        self.digits = ""

        def heard(_user: int, digits: bytes, length: int) -> None:
            self.digits += ctypes.string_at(digits, length).decode("ascii", "replace")

        callback = DIGITS_RX(heard)
        self._state = State(lib.dtmf_rx_init(None, address_of(callback), None), "dtmf_rx_free")
        self._state.keep(callback)

    def rx(self, samples: np.ndarray) -> None:
        samples = _samples(samples)
        self._lib.dtmf_rx(self._state.ptr, samples.ctypes.data, samples.size)
