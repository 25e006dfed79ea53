"""SpanDSP (Debian libspandsp2 0.0.6) through ctypes: the one loader, and its two fax terminals.

SpanDSP is the reference software fax stack; the tests use it as an independent far end, and the
project uses it as one (a script's `device NAME NUMBER spandsp` or `spandsp-t38`). Every binding
of it goes through this module:

- `load_spandsp()` finds and opens the library once and declares every function any binding
  calls (`_PROTOTYPES`: the T.38 terminal, the audio fax terminal, and the modems, HDLC, tones and
  DTMF of `hw.spandsp_modems`); `SpanDspMissing` says in one line what to install.
- `T38Terminal` is SpanDSP's `t38_terminal`: a whole fax terminal (T.30 engine, T.4 image coding,
  TIFF files) that speaks T.38 IFP packets through a callback; framing them in UDPTL is the
  caller's job (hw/udptl.py).
- `FaxTerminal` is SpanDSP's audio fax terminal (`fax_init`): the same T.30 over its own modems,
  16-bit linear samples at 8 kHz in and out.

Both share their T.30 side (`_T30Terminal`): ident, ECM, the TIFF to send or the file to receive
into, the phase E result, the T.30 frames as SpanDSP sent and received them, and the transfer
statistics (kept as phase E left them).

Nothing here reads a clock: a terminal's time is the samples it is given. Signatures checked
against /usr/include/spandsp/ of libspandsp-dev 0.0.6. Every `*_init(NULL, ...)` allocates its
state; `_State` frees it with the matching `*_free` (on `close()` or when collected). ctypes
callbacks are passed to C as raw addresses and kept referenced by the object that registered them
(a collected callback called from C crashes the process).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 8000
DEBIAN_PACKAGE = "libspandsp2"

# t38_core.h: packet categories, for redundancy control
CATEGORIES = ("indicator", "control", "control_end", "image", "image_end")
# t38_terminal.h
OPTION_NO_PACING = 0x01
OPTION_REGULAR_INDICATORS = 0x02
OPTION_2S_REPEATING_INDICATORS = 0x04
OPTION_NO_INDICATORS = 0x08
# logging.h
LOG_SHOW_SEVERITY = 0x0400
LOG_SHOW_PROTOCOL = 0x0800
LOG_FLOW = 5
# t30.h
RESULT_OK = 0  # T30_ERR_OK
T30_ERR_OK = RESULT_OK
T30_SUPPORT_V27TER = 0x01
T30_SUPPORT_V29 = 0x02
T30_SUPPORT_V17 = 0x04
T30_SUPPORT_T4_1D_COMPRESSION = 0x02
T30_SUPPORT_T4_2D_COMPRESSION = 0x04
T30_SUPPORT_T6_COMPRESSION = 0x08
ALL_MODEMS = T30_SUPPORT_V27TER | T30_SUPPORT_V29 | T30_SUPPORT_V17
ALL_COMPRESSIONS = (
    T30_SUPPORT_T4_1D_COMPRESSION | T30_SUPPORT_T4_2D_COMPRESSION | T30_SUPPORT_T6_COMPRESSION
)


class SpanDspMissing(RuntimeError):
    """libspandsp is not on this machine (the message is the one line to show)."""


# -- the library -------------------------------------------------------------------------------
_P = ctypes.c_void_p
_I = ctypes.c_int
_F = ctypes.c_float
_S = ctypes.c_char_p

# Callback types (t30.h, t38_core.h, logging.h, async.h, hdlc.h, telephony.h, dtmf.h). Callbacks
# are passed as addresses (`address_of`), so every prototype below takes c_void_p for them.
T38_TX_PACKET = ctypes.CFUNCTYPE(_I, _P, _P, ctypes.POINTER(ctypes.c_uint8), _I, _I)
T30_PHASE_E = ctypes.CFUNCTYPE(None, _P, _P, _I)
T30_FRAME = ctypes.CFUNCTYPE(None, _P, _P, _I, ctypes.POINTER(ctypes.c_uint8), _I)
LOG_MESSAGE = ctypes.CFUNCTYPE(None, _I, _S)
GET_BIT = ctypes.CFUNCTYPE(_I, _P)
PUT_BIT = ctypes.CFUNCTYPE(None, _P, _I)
MODEM_STATUS = ctypes.CFUNCTYPE(None, _P, _I)
HDLC_FRAME = ctypes.CFUNCTYPE(None, _P, ctypes.POINTER(ctypes.c_uint8), _I, _I)
TONE_REPORT = ctypes.CFUNCTYPE(None, _P, _I, _I, _I)
DIGITS_RX = ctypes.CFUNCTYPE(None, _P, _S, _I)

# name: (result type, argument types) -- every SpanDSP function the project calls.
_PROTOTYPES: dict[str, tuple[Any, list[Any]]] = {
    # T.38 terminal
    "t38_terminal_init": (_P, [_P, _I, _P, _P]),
    "t38_terminal_free": (_I, [_P]),
    "t38_terminal_send_timeout": (_I, [_P, _I]),
    "t38_terminal_set_config": (None, [_P, _I]),
    "t38_terminal_get_t30_state": (_P, [_P]),
    "t38_terminal_get_t38_core_state": (_P, [_P]),
    "t38_terminal_get_logging_state": (_P, [_P]),
    "t38_core_rx_ifp_packet": (_I, [_P, _S, _I, ctypes.c_uint16]),
    "t38_core_get_logging_state": (_P, [_P]),
    "t38_set_t38_version": (None, [_P, _I]),
    "t38_set_redundancy_control": (None, [_P, _I, _I]),
    # the audio fax terminal
    "fax_init": (_P, [_P, _I]),
    "fax_free": (_I, [_P]),
    "fax_rx": (_I, [_P, _P, _I]),
    "fax_tx": (_I, [_P, _P, _I]),
    "fax_set_transmit_on_idle": (None, [_P, _I]),
    "fax_get_t30_state": (_P, [_P]),
    "fax_get_logging_state": (_P, [_P]),
    # T.30
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
    "t30_get_logging_state": (_P, [_P]),
    "t30_completion_code_to_str": (_S, [_I]),
    "t30_terminate": (None, [_P]),
    # logging
    "span_log_set_level": (_I, [_P, _I]),
    "span_log_set_message_handler": (None, [_P, _P]),
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
    # CNG, CED
    "modem_connect_tones_tx_init": (_P, [_P, _I]),
    "modem_connect_tones_tx": (_I, [_P, _P, _I]),
    "modem_connect_tones_tx_free": (_I, [_P]),
    "modem_connect_tones_rx_init": (_P, [_P, _I, _P, _P]),
    "modem_connect_tones_rx": (_I, [_P, _P, _I]),
    "modem_connect_tones_rx_free": (_I, [_P]),
    # G.711 (the tests check hw/g711.py against it)
    "g711_init": (_P, [_P, _I]),
    "g711_free": (_I, [_P]),
    "g711_encode": (_I, [_P, _P, _P, _I]),
    "g711_decode": (_I, [_P, _P, _P, _I]),
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
}

# V.17, V.29 and V.27ter: the same calls, named by the modem (V.17's restart also takes the
# short-train flag).
_HIGH_SPEED: dict[str, tuple[Any, list[Any]]] = {
    "tx_init": (_P, [_P, _I, _I, _P, _P]),
    "tx_restart": (_I, [_P, _I, _I]),
    "tx_power": (None, [_P, _F]),
    "tx": (_I, [_P, _P, _I]),
    "tx_set_get_bit": (None, [_P, _P, _P]),
    "tx_free": (_I, [_P]),
    "rx_init": (_P, [_P, _I, _P, _P]),
    "rx_restart": (_I, [_P, _I, _I]),
    "rx": (_I, [_P, _P, _I]),
    "rx_signal_cutoff": (None, [_P, _F]),
    "rx_signal_power": (_F, [_P]),
    "rx_set_put_bit": (None, [_P, _P, _P]),
    "rx_set_modem_status_handler": (None, [_P, _P, _P]),
    "rx_free": (_I, [_P]),
}
for _modem in ("v17", "v29", "v27ter"):
    _PROTOTYPES.update({f"{_modem}_{call}": proto for call, proto in _HIGH_SPEED.items()})
_PROTOTYPES["v17_tx_restart"] = (_I, [_P, _I, _I, _I])

_library: ctypes.CDLL | None = None


def load_spandsp() -> ctypes.CDLL:
    """The SpanDSP library (found once, by ctypes.util.find_library), every prototype declared;
    SpanDspMissing, whose message is one line saying what to install, where it is absent."""
    global _library
    if _library is None:
        name = ctypes.util.find_library("spandsp")
        if name is None:
            raise SpanDspMissing(f"libspandsp is not installed (Debian package {DEBIAN_PACKAGE})")
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else "cannot be opened"
            raise SpanDspMissing(
                f"libspandsp could not be loaded ({reason}); install the Debian package "
                f"{DEBIAN_PACKAGE}"
            ) from None
        for fn, (restype, argtypes) in _PROTOTYPES.items():
            proc = getattr(lib, fn)
            proc.restype = restype
            proc.argtypes = argtypes
        _library = lib
    return _library


def spandsp_available() -> bool:
    try:
        load_spandsp()
    except SpanDspMissing:
        return False
    return True


def address_of(fn: Any) -> int:
    """The C address of a ctypes callback or a library function."""
    value = ctypes.cast(fn, ctypes.c_void_p).value
    assert value is not None
    return value


class State:
    """A SpanDSP state allocated by its init function and freed by its `*_free` (by `free()`, or
    when the owner is collected), with the callbacks and buffers C holds on to."""

    def __init__(self, pointer: int | None, free: str) -> None:
        if not pointer:
            raise RuntimeError(f"SpanDSP could not allocate a state ({free})")
        self.ptr: int = pointer
        self._keep: list[Any] = []
        self._finalizer = weakref.finalize(self, getattr(load_spandsp(), free), pointer)

    @property
    def alive(self) -> bool:
        return self._finalizer.alive

    def keep(self, *objects: Any) -> None:
        self._keep.extend(objects)

    def free(self) -> None:
        self._finalizer()


def samples_for(us: int) -> int:
    """Samples (8 kHz) in `us` microseconds, rounded down."""
    return us * SAMPLE_RATE // 1_000_000


def result_text(code: int) -> str:
    """SpanDSP's name for a T.30 completion code ('OK', 'T1 expired' ...)."""
    text = load_spandsp().t30_completion_code_to_str(code)
    return text.decode("ascii", "replace") if text else f"code {code}"


# -- the T.30 side both terminals share ----------------------------------------------------------
class _T30Stats(ctypes.Structure):
    """t30_stats_t of SpanDSP 0.0.6 (spandsp/t30.h): fifteen ints."""

    _fields_ = [
        (name, ctypes.c_int)
        for name in (
            "bit_rate", "error_correcting_mode", "pages_tx", "pages_rx", "pages_in_file",
            "x_resolution", "y_resolution", "width", "length", "image_size", "encoding",
            "bad_rows", "longest_bad_row_run", "error_correcting_mode_retries", "current_status",
        )
    ] + [("_reserve", ctypes.c_int * 16)]  # room should a build have more fields  # fmt: skip


@dataclass(frozen=True, slots=True)
class TransferStats:
    bit_rate: int
    ecm: bool
    pages_tx: int
    pages_rx: int
    width: int
    length: int
    bad_rows: int


class _T30Terminal:
    """What SpanDSP's T.30 engine tells and is told, for either terminal.

    `result` is the T.30 completion code once the call is over (phase E; RESULT_OK is 0);
    `frames` lists the T.30 frames as SpanDSP sent ("tx") and received ("rx") them (without FCS,
    first bit least significant); `stats()` the transfer statistics (as phase E left them, once
    the terminal is closed)."""

    def __init__(self) -> None:
        self._lib = load_spandsp()
        self.result: int | None = None
        self.frames: list[tuple[str, bytes]] = []
        self._final: TransferStats | None = None
        self._t30 = 0
        self._log: Callable[[str], None] | None = None
        self._error: BaseException | None = None  # raised in a callback, re-raised after the call
        self._callbacks = (
            T30_PHASE_E(self._phase_e),
            T30_FRAME(self._frame),
            LOG_MESSAGE(self._message),
        )

    def _setup(
        self,
        t30: int,
        *,
        ident: str,
        ecm: bool,
        tx_file: str | Path | None,
        rx_file: str | Path | None,
        modems: int | None,
        compressions: int | None,
        log: Callable[[str], None] | None,
        logging_states: tuple[int, ...],
    ) -> None:
        lib = self._lib
        self._t30 = t30
        self._log = log
        phase_e, frame, message = self._callbacks
        lib.t30_set_phase_e_handler(t30, address_of(phase_e), None)
        lib.t30_set_real_time_frame_handler(t30, address_of(frame), None)
        lib.t30_set_ecm_capability(t30, int(ecm))
        if ident:
            lib.t30_set_tx_ident(t30, ident.encode("ascii", "replace")[:20])
        if modems is not None:
            lib.t30_set_supported_modems(t30, modems)
        if compressions is not None:
            lib.t30_set_supported_compressions(t30, compressions)
        if tx_file is not None:
            lib.t30_set_tx_file(t30, str(tx_file).encode(), -1, -1)
        if rx_file is not None:
            lib.t30_set_rx_file(t30, str(rx_file).encode(), -1)
        if log is not None:
            level = LOG_SHOW_SEVERITY | LOG_SHOW_PROTOCOL | LOG_FLOW
            for state in (*logging_states, lib.t30_get_logging_state(t30)):
                lib.span_log_set_level(state, level)
                lib.span_log_set_message_handler(state, address_of(message))

    # -- what it tells ---------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.result is not None

    @property
    def closed(self) -> bool:
        """Its state was freed (`close`): it neither sends nor hears any more."""
        return not self._alive()

    @property
    def result_text(self) -> str:
        return "in progress" if self.result is None else result_text(self.result)

    @property
    def remote_ident(self) -> str:
        if not self._alive():
            return ""
        raw = self._lib.t30_get_rx_ident(self._t30)
        return raw.decode("ascii", "replace") if raw else ""

    def stats(self) -> TransferStats:
        if not self._alive():
            return self._final or TransferStats(0, False, 0, 0, 0, 0, 0)
        raw = _T30Stats()
        self._lib.t30_get_transfer_statistics(self._t30, ctypes.addressof(raw))
        return TransferStats(
            raw.bit_rate,
            bool(raw.error_correcting_mode),
            raw.pages_tx,
            raw.pages_rx,
            raw.width,
            raw.length,
            raw.bad_rows,
        )

    def terminate(self) -> None:
        """End the call at once (phase E follows with the call's status)."""
        if self._alive():
            self._lib.t30_terminate(self._t30)

    def _alive(self) -> bool:
        raise NotImplementedError

    # -- callbacks from SpanDSP ----------------------------------------------------------------
    def _raise_pending(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _phase_e(self, _t30: int, _user: int, code: int) -> None:
        self.result = code
        try:
            self._final = self.stats()
        except BaseException as exc:  # noqa: BLE001 - cannot cross the C code
            self._error = self._error or exc

    def _frame(self, _t30: int, _user: int, incoming: int, msg: Any, length: int) -> None:
        self.frames.append(("rx" if incoming else "tx", ctypes.string_at(msg, length)))

    def _message(self, _level: int, text: bytes | None) -> None:
        if self._log is not None and text:
            self._log(text.decode("ascii", "replace").rstrip("\n"))


# -- the T.38 terminal ------------------------------------------------------------------------
class T38Terminal(_T30Terminal):
    """SpanDSP's T.38 fax terminal, one end of a call.

    `on_packet(ifp, repeats)` gets every IFP packet it sends (`repeats`: the copies SpanDSP asks
    for, which UDPTL redundancy replaces). Feed it the far end's IFP packets with
    `receive_ifp(ifp, seq)` (UDPTL sequence numbers: SpanDSP drops repeats and notes gaps) and
    move its time on with `advance(samples)`.
    """

    def __init__(
        self,
        *,
        calling: bool,
        on_packet: Callable[[bytes, int], None],
        tx_file: Path | None = None,
        rx_file: Path | None = None,
        ecm: bool = False,
        ident: str = "",
        version: int = 0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        lib = self._lib
        self.on_packet = on_packet
        self._tx_cb = T38_TX_PACKET(self._tx_packet)
        self._state = State(
            lib.t38_terminal_init(None, 1 if calling else 0, address_of(self._tx_cb), None),
            "t38_terminal_free",
        )
        state = self._state.ptr
        self._core = lib.t38_terminal_get_t38_core_state(state)
        lib.t38_set_t38_version(self._core, version)
        self._setup(
            lib.t38_terminal_get_t30_state(state), ident=ident, ecm=ecm, tx_file=tx_file,
            rx_file=rx_file, modems=None, compressions=None, log=log,
            logging_states=(lib.t38_terminal_get_logging_state(state),
                            lib.t38_core_get_logging_state(self._core)),
        )  # fmt: skip

    # -- driving it -------------------------------------------------------------------------------
    def receive_ifp(self, ifp: bytes, seq: int) -> bool:
        """An IFP packet from the far end; False when SpanDSP refused it as malformed."""
        data = bytes(ifp)
        self._live()
        code = self._lib.t38_core_rx_ifp_packet(self._core, data, len(data), seq & 0xFFFF)
        self._raise_pending()
        return bool(code == 0)

    def advance(self, samples: int) -> None:
        """Let `samples` (at 8 kHz) of time pass: timers run, paced packets go out."""
        self._lib.t38_terminal_send_timeout(self._live(), samples)
        self._raise_pending()

    def set_config(self, options: int) -> None:
        """T38_TERMINAL_OPTION_* bits (OPTION_NO_PACING, ...)."""
        self._lib.t38_terminal_set_config(self._live(), options)

    def set_redundancy(self, category: str, copies: int) -> None:
        """How many copies of a packet category SpanDSP asks `on_packet` for."""
        self._live()
        self._lib.t38_set_redundancy_control(self._core, CATEGORIES.index(category), copies)

    def close(self) -> None:
        """Free SpanDSP's state (the received TIFF is complete once phase E has run)."""
        self._state.free()

    def __enter__(self) -> T38Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _alive(self) -> bool:
        return self._state.alive

    def _live(self) -> int:
        if not self._state.alive:
            raise RuntimeError("the terminal was closed")
        return self._state.ptr

    def _tx_packet(self, _s: int, _user: int, buf: Any, length: int, count: int) -> int:
        # An exception cannot cross the C code: keep it and raise it when SpanDSP returns.
        try:
            self.on_packet(ctypes.string_at(buf, length), count)
        except BaseException as exc:  # noqa: BLE001
            self._error = self._error or exc
            return -1
        return 0


# -- the audio fax terminal ----------------------------------------------------------------------
BLOCK = 160  # SpanDSP's terminal is fed and drained 20 ms at a time


class FaxTerminal(_T30Terminal):
    """SpanDSP's complete audio fax terminal (its T.30, its modems): samples in and out.

    The calling side sends `tx_file` (TIFF), the answering side files what it receives in
    `rx_file` (either side may do either). It transmits on idle (`tx` always fills the block:
    silence when it has nothing to say).
    """

    def __init__(
        self,
        calling: bool,
        *,
        ident: str = "SPANDSP",
        ecm: bool = False,
        tx_file: str | Path | None = None,
        rx_file: str | Path | None = None,
        modems: int = ALL_MODEMS,
        compressions: int = ALL_COMPRESSIONS,
        log: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        lib = self._lib
        self._state = State(lib.fax_init(None, int(calling)), "fax_free")
        fax = self._state.ptr
        lib.fax_set_transmit_on_idle(fax, 1)
        self._setup(
            lib.fax_get_t30_state(fax), ident=ident, ecm=ecm, tx_file=tx_file, rx_file=rx_file,
            modems=modems, compressions=compressions, log=log,
            logging_states=(lib.fax_get_logging_state(fax),),
        )  # fmt: skip
        self._block = np.zeros(BLOCK, dtype=np.int16)

    def rx(self, samples: np.ndarray) -> None:
        """Samples heard (16-bit linear, 8 kHz), in 20 ms blocks."""
        fax = self._live()
        samples = np.ascontiguousarray(samples, dtype=np.int16)
        for start in range(0, samples.size, BLOCK):
            count = min(BLOCK, samples.size - start)
            self._lib.fax_rx(fax, samples.ctypes.data + 2 * start, count)
        self._raise_pending()

    def tx(self, count: int = BLOCK) -> np.ndarray:
        """The next `count` samples it sends."""
        fax = self._live()
        out = np.zeros(count, dtype=np.int16)
        for start in range(0, count, BLOCK):
            n = min(BLOCK, count - start)
            made = self._lib.fax_tx(fax, out.ctypes.data + 2 * start, n)
            if made < n:
                out[start + max(made, 0) : start + n] = 0
        self._raise_pending()
        return out

    def close(self) -> None:
        """Free SpanDSP's state (the received TIFF is complete once phase E has run)."""
        self._state.free()

    def _alive(self) -> bool:
        return self._state.alive

    def _live(self) -> int:
        if not self._state.alive:
            raise RuntimeError("the terminal was closed")
        return self._state.ptr


__all__ = [
    "ALL_COMPRESSIONS",
    "ALL_MODEMS",
    "DEBIAN_PACKAGE",
    "FaxTerminal",
    "OPTION_NO_PACING",
    "RESULT_OK",
    "SAMPLE_RATE",
    "SpanDspMissing",
    "State",
    "T30_ERR_OK",
    "T38Terminal",
    "TransferStats",
    "address_of",
    "load_spandsp",
    "result_text",
    "samples_for",
    "spandsp_available",
]
