"""SpanDSP's fax modems through ctypes: the parts the audio modem chip is built from, and SpanDSP's
own audio fax terminal as an independent far end.

Debian's libspandsp2 0.0.6 (no Python binding exists). Every `*_init` function allocates its state
when given NULL, so the opaque structs' sizes never matter here; each wrapper frees its state with
the matching `*_free` when it is collected. ctypes callbacks are kept referenced by the object that
registered them (a collected callback called from C crashes the process).

Samples are numpy int16 arrays at 8000 samples/s. Bits move between a modem and its user through a
`BitPort`: a C function and its user-data pointer. SpanDSP's own HDLC transmitter and receiver are
ports (`HdlcTransmitter.port`, `HdlcReceiver.port`); `BitQueue` and `BitCollector` are ports over
numpy buffers, compiled with numba so that no Python runs per bit (a ctypes callback per bit costs
about 0.2 µs: at 14400 bit/s that alone would be 3 ms per second of audio, each way). Negative
values on a port are SpanDSP's status codes (`SIG_STATUS_*`), in band with the bits.

Parts: V.21 channel 2 (`FskTransmitter`, `FskReceiver`), V.27ter / V.29 / V.17
(`FastTransmitter`, `FastReceiver`), HDLC, CNG and CED (`ConnectToneTransmitter`,
`ConnectToneDetector`), DTMF (`DtmfTransmitter`, `DtmfReceiver`), and the fax terminal
(`FaxTerminal`: `fax_init`, its T.30 with files, ECM, ident, the phase E result and the frames).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

SAMPLE_RATE = 8000
DEBIAN_PACKAGE = "libspandsp2"


class SpanDspMissing(RuntimeError):
    """libspandsp is not installed."""


_lib: ctypes.CDLL | None = None


def load_spandsp() -> ctypes.CDLL:
    """The SpanDSP library, loaded once; `SpanDspMissing` (one line naming the Debian package)
    where it is absent."""
    global _lib
    if _lib is None:
        path = ctypes.util.find_library("spandsp") or "libspandsp.so.2"
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            raise SpanDspMissing(
                f"SpanDSP is not installed: install the Debian package {DEBIAN_PACKAGE} "
                f"(apt-get install {DEBIAN_PACKAGE})"
            ) from None
        _declare(lib)
        _lib = lib
    return _lib


def spandsp_available() -> bool:
    try:
        load_spandsp()
    except SpanDspMissing:
        return False
    return True


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

T30_SUPPORT_V27TER = 0x01
T30_SUPPORT_V29 = 0x02
T30_SUPPORT_V17 = 0x04
T30_SUPPORT_T4_1D_COMPRESSION = 0x02
T30_SUPPORT_T4_2D_COMPRESSION = 0x04
T30_SUPPORT_T6_COMPRESSION = 0x08
T30_ERR_OK = 0

# -- ctypes prototypes ------------------------------------------------------------------------------
_P = ctypes.c_void_p
_I = ctypes.c_int
_F = ctypes.c_float
_S = ctypes.c_char_p

# Callback types (async.h, hdlc.h, telephony.h, dtmf.h, t30.h).
GET_BIT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
PUT_BIT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int)
MODEM_STATUS = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int)
HDLC_FRAME = ctypes.CFUNCTYPE(
    None, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint8), ctypes.c_int, ctypes.c_int
)
HDLC_UNDERFLOW = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
TONE_REPORT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int)
DIGITS_RX = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int)
T30_PHASE_E = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)
T30_FRAME = ctypes.CFUNCTYPE(
    None,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_int,
    ctypes.POINTER(ctypes.c_uint8),
    ctypes.c_int,
)


class FskSpec(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("freq_zero", ctypes.c_int),
        ("freq_one", ctypes.c_int),
        ("tx_level", ctypes.c_int),
        ("min_level", ctypes.c_int),
        ("baud_rate", ctypes.c_int),
    ]


class T30Stats(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_int)
        for name in (
            "bit_rate",
            "error_correcting_mode",
            "pages_tx",
            "pages_rx",
            "pages_in_file",
            "x_resolution",
            "y_resolution",
            "width",
            "length",
            "image_size",
            "encoding",
            "bad_rows",
            "longest_bad_row_run",
            "error_correcting_mode_retries",
            "current_status",
        )
    ] + [("_spare", ctypes.c_int * 16)]  # room should the library's struct be longer


# name: (result type, argument types). Buffers and callbacks are passed as raw addresses (c_void_p).
_PROTOTYPES: dict[str, tuple[Any, list[Any]]] = {
    # HDLC
    "hdlc_tx_init": (_P, [_P, _I, _I, _I, _P, _P]),
    "hdlc_tx_frame": (_I, [_P, _P, ctypes.c_size_t]),
    "hdlc_tx_flags": (_I, [_P, _I]),
    "hdlc_tx_get": (_I, [_P, _P, ctypes.c_size_t]),
    "hdlc_tx_free": (_I, [_P]),
    "hdlc_rx_init": (_P, [_P, _I, _I, _I, _P, _P]),
    "hdlc_rx_set_status_handler": (None, [_P, _P, _P]),
    "hdlc_rx_put": (None, [_P, _P, _I]),
    "hdlc_rx_restart": (_I, [_P]),
    "hdlc_rx_free": (_I, [_P]),
    # V.21
    "fsk_tx_init": (_P, [_P, _P, _P, _P]),
    "fsk_tx_restart": (_I, [_P, _P]),
    "fsk_tx_power": (None, [_P, _F]),
    "fsk_tx": (_I, [_P, _P, _I]),
    "fsk_tx_set_get_bit": (None, [_P, _P, _P]),
    "fsk_tx_free": (_I, [_P]),
    "fsk_rx_init": (_P, [_P, _P, _I, _P, _P]),
    "fsk_rx_restart": (_I, [_P, _P, _I]),
    "fsk_rx_signal_cutoff": (None, [_P, _F]),
    "fsk_rx_signal_power": (_F, [_P]),
    "fsk_rx": (_I, [_P, _P, _I]),
    "fsk_rx_set_modem_status_handler": (None, [_P, _P, _P]),
    "fsk_rx_free": (_I, [_P]),
    # V.17
    "v17_tx_init": (_P, [_P, _I, _I, _P, _P]),
    "v17_tx_restart": (_I, [_P, _I, _I, _I]),
    "v17_tx_power": (None, [_P, _F]),
    "v17_tx": (_I, [_P, _P, _I]),
    "v17_tx_set_get_bit": (None, [_P, _P, _P]),
    "v17_tx_free": (_I, [_P]),
    "v17_rx_init": (_P, [_P, _I, _P, _P]),
    "v17_rx_restart": (_I, [_P, _I, _I]),
    "v17_rx": (_I, [_P, _P, _I]),
    "v17_rx_signal_cutoff": (None, [_P, _F]),
    "v17_rx_signal_power": (_F, [_P]),
    "v17_rx_set_put_bit": (None, [_P, _P, _P]),
    "v17_rx_set_modem_status_handler": (None, [_P, _P, _P]),
    "v17_rx_free": (_I, [_P]),
    # V.29
    "v29_tx_init": (_P, [_P, _I, _I, _P, _P]),
    "v29_tx_restart": (_I, [_P, _I, _I]),
    "v29_tx_power": (None, [_P, _F]),
    "v29_tx": (_I, [_P, _P, _I]),
    "v29_tx_set_get_bit": (None, [_P, _P, _P]),
    "v29_tx_free": (_I, [_P]),
    "v29_rx_init": (_P, [_P, _I, _P, _P]),
    "v29_rx_restart": (_I, [_P, _I, _I]),
    "v29_rx": (_I, [_P, _P, _I]),
    "v29_rx_signal_cutoff": (None, [_P, _F]),
    "v29_rx_signal_power": (_F, [_P]),
    "v29_rx_set_put_bit": (None, [_P, _P, _P]),
    "v29_rx_set_modem_status_handler": (None, [_P, _P, _P]),
    "v29_rx_free": (_I, [_P]),
    # V.27ter
    "v27ter_tx_init": (_P, [_P, _I, _I, _P, _P]),
    "v27ter_tx_restart": (_I, [_P, _I, _I]),
    "v27ter_tx_power": (None, [_P, _F]),
    "v27ter_tx": (_I, [_P, _P, _I]),
    "v27ter_tx_set_get_bit": (None, [_P, _P, _P]),
    "v27ter_tx_free": (_I, [_P]),
    "v27ter_rx_init": (_P, [_P, _I, _P, _P]),
    "v27ter_rx_restart": (_I, [_P, _I, _I]),
    "v27ter_rx": (_I, [_P, _P, _I]),
    "v27ter_rx_signal_cutoff": (None, [_P, _F]),
    "v27ter_rx_signal_power": (_F, [_P]),
    "v27ter_rx_set_put_bit": (None, [_P, _P, _P]),
    "v27ter_rx_set_modem_status_handler": (None, [_P, _P, _P]),
    "v27ter_rx_free": (_I, [_P]),
    # CNG, CED
    "modem_connect_tones_tx_init": (_P, [_P, _I]),
    "modem_connect_tones_tx": (_I, [_P, _P, _I]),
    "modem_connect_tones_tx_free": (_I, [_P]),
    "modem_connect_tones_rx_init": (_P, [_P, _I, _P, _P]),
    "modem_connect_tones_rx": (_I, [_P, _P, _I]),
    "modem_connect_tones_rx_free": (_I, [_P]),
    # DTMF
    "dtmf_tx_init": (_P, [_P]),
    "dtmf_tx_put": (_I, [_P, _S, _I]),
    "dtmf_tx_set_timing": (None, [_P, _I, _I]),
    "dtmf_tx_set_level": (None, [_P, _I, _I]),
    "dtmf_tx": (_I, [_P, _P, _I]),
    "dtmf_tx_free": (_I, [_P]),
    "dtmf_rx_init": (_P, [_P, _P, _P]),
    "dtmf_rx": (_I, [_P, _P, _I]),
    "dtmf_rx_free": (_I, [_P]),
    # The audio fax terminal and its T.30
    "fax_init": (_P, [_P, _I]),
    "fax_rx": (_I, [_P, _P, _I]),
    "fax_tx": (_I, [_P, _P, _I]),
    "fax_set_transmit_on_idle": (None, [_P, _I]),
    "fax_get_t30_state": (_P, [_P]),
    "fax_free": (_I, [_P]),
    "t30_set_tx_file": (None, [_P, _S, _I, _I]),
    "t30_set_rx_file": (None, [_P, _S, _I]),
    "t30_set_ecm_capability": (_I, [_P, _I]),
    "t30_set_tx_ident": (_I, [_P, _S]),
    "t30_get_rx_ident": (_S, [_P]),
    "t30_set_supported_modems": (_I, [_P, _I]),
    "t30_set_supported_compressions": (_I, [_P, _I]),
    "t30_set_phase_e_handler": (None, [_P, _P, _P]),
    "t30_set_real_time_frame_handler": (None, [_P, _P, _P]),
    "t30_get_transfer_statistics": (None, [_P, _P]),
    "t30_completion_code_to_str": (_S, [_I]),
}


def _declare(lib: ctypes.CDLL) -> None:
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


def _address(fn: Any) -> int:
    """The C address of a ctypes callback or a library function."""
    value = ctypes.cast(fn, ctypes.c_void_p).value
    assert value is not None
    return value


class _State:
    """A SpanDSP state allocated by its init function and freed by its `*_free`."""

    def __init__(self, pointer: int | None, free: str) -> None:
        if not pointer:
            raise RuntimeError(f"SpanDSP could not allocate a state ({free})")
        self.ptr: int = pointer
        self._keep: list[Any] = []  # callbacks and buffers C holds on to
        weakref.finalize(self, getattr(load_spandsp(), free), pointer)

    def keep(self, *objects: Any) -> None:
        self._keep.extend(objects)


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
    return _address(get_cb), _address(put_cb), (get_cb, put_cb)


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
        self._state = _State(
            lib.hdlc_tx_init(None, 0, inter_frame_flags, 0, None, None), "hdlc_tx_free"
        )
        self._lib = lib

    @property
    def port(self) -> BitPort:
        return BitPort(_address(self._lib.hdlc_tx_get_bit), self._state.ptr, self)

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
        pointer = lib.hdlc_rx_init(None, 0, 1, framing_flags, _address(frame_cb), None)
        self._state = _State(pointer, "hdlc_rx_free")
        self._state.keep(frame_cb, status_cb)
        lib.hdlc_rx_set_status_handler(pointer, _address(status_cb), None)

    @property
    def port(self) -> BitPort:
        return BitPort(_address(self._lib.hdlc_rx_put_bit), self._state.ptr, self)

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
        self._state = _State(
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
        self._state = _State(pointer, "fsk_rx_free")
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
        self._state = _State(pointer, f"{self._prefix}_free")
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
        self._state = _State(
            init(None, rate, sink.function, sink.user_data), f"{self._prefix}_free"
        )
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
        self._state = _State(
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
        pointer = lib.modem_connect_tones_rx_init(None, tone, _address(callback), None)
        self._state = _State(pointer, "modem_connect_tones_rx_free")
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
        self._state = _State(lib.dtmf_tx_init(None), "dtmf_tx_free")
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
        self._state = _State(lib.dtmf_rx_init(None, _address(callback), None), "dtmf_rx_free")
        self._state.keep(callback)

    def rx(self, samples: np.ndarray) -> None:
        samples = _samples(samples)
        self._lib.dtmf_rx(self._state.ptr, samples.ctypes.data, samples.size)


# -- the fax terminal --------------------------------------------------------------------------------
FRAME_SENT = 0
FRAME_RECEIVED = 1


class FaxTerminal:
    """SpanDSP's complete audio fax terminal (its T.30, its modems): 160-sample blocks in and out.

    The calling side sends `tx_file` (TIFF), the answering side files what it receives in
    `rx_file` (either side may do either). `frames` logs every T.30 frame as
    (FRAME_SENT | FRAME_RECEIVED, frame without FCS); `completion` is the phase E result
    (T30_ERR_OK = 0) once the call has ended.
    """

    def __init__(
        self,
        calling: bool,
        *,
        ident: str = "SPANDSP",
        ecm: bool = False,
        tx_file: str | None = None,
        rx_file: str | None = None,
        modems: int = T30_SUPPORT_V27TER | T30_SUPPORT_V29 | T30_SUPPORT_V17,
        compressions: int = T30_SUPPORT_T4_1D_COMPRESSION
        | T30_SUPPORT_T4_2D_COMPRESSION
        | T30_SUPPORT_T6_COMPRESSION,
    ) -> None:
        lib = load_spandsp()
        self._lib = lib
        self._state = _State(lib.fax_init(None, int(calling)), "fax_free")
        fax = self._state.ptr
        lib.fax_set_transmit_on_idle(fax, 1)
        self.t30: int = lib.fax_get_t30_state(fax)
        self.frames: list[tuple[int, bytes]] = []
        self.completion: int | None = None

        def phase_e(_t30: int, _user: int, code: int) -> None:
            self.completion = code

        def frame(_t30: int, _user: int, direction: int, msg: Any, length: int) -> None:
            self.frames.append(
                (FRAME_RECEIVED if direction else FRAME_SENT, ctypes.string_at(msg, length))
            )

        phase_e_cb, frame_cb = T30_PHASE_E(phase_e), T30_FRAME(frame)
        self._state.keep(phase_e_cb, frame_cb)
        lib.t30_set_phase_e_handler(self.t30, _address(phase_e_cb), None)
        lib.t30_set_real_time_frame_handler(self.t30, _address(frame_cb), None)
        lib.t30_set_tx_ident(self.t30, ident.encode("ascii"))
        lib.t30_set_ecm_capability(self.t30, int(ecm))
        lib.t30_set_supported_modems(self.t30, modems)
        lib.t30_set_supported_compressions(self.t30, compressions)
        if tx_file is not None:
            lib.t30_set_tx_file(self.t30, tx_file.encode(), -1, -1)
        if rx_file is not None:
            lib.t30_set_rx_file(self.t30, rx_file.encode(), -1)

    def rx(self, samples: np.ndarray) -> None:
        samples = _samples(samples)
        for start in range(0, samples.size, 160):
            block = np.ascontiguousarray(samples[start : start + 160])
            self._lib.fax_rx(self._state.ptr, block.ctypes.data, block.size)

    def tx(self, count: int) -> np.ndarray:
        out = np.zeros(count, dtype=np.int16)
        for start in range(0, count, 160):
            n = min(160, count - start)
            block = np.zeros(n, dtype=np.int16)
            made = self._lib.fax_tx(self._state.ptr, block.ctypes.data, n)
            out[start : start + made] = block[:made]
        return out

    @property
    def remote_ident(self) -> str:
        raw = self._lib.t30_get_rx_ident(self.t30)
        return raw.decode("ascii", "replace") if raw else ""

    def statistics(self) -> T30Stats:
        stats = T30Stats()
        self._lib.t30_get_transfer_statistics(self.t30, ctypes.addressof(stats))
        return stats

    def completion_text(self) -> str:
        if self.completion is None:
            return "call in progress"
        raw = self._lib.t30_completion_code_to_str(self.completion)
        return raw.decode("ascii", "replace") if raw else str(self.completion)
