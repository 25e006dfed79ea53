"""SpanDSP (Debian libspandsp2 0.0.6) through ctypes: the library loader and its T.38 terminal.

SpanDSP is the reference software fax stack; the tests use it as an independent far end, and the
project may use it as one (a `spandsp-t38` device). `load_spandsp()` finds and opens the library
once (shared by every binding: T.38 here, audio modems elsewhere). `T38Terminal` is SpanDSP's
`t38_terminal`: a whole fax terminal (T.30 engine, T.4 image coding, TIFF files) that speaks T.38
IFP packets through a callback; framing them in UDPTL is the caller's job (hw/udptl.py).

Time: the terminal runs on samples at 8000 per second; `advance(samples)` moves it on (timers,
paced transmission). Nothing here reads a clock: the caller drives it from virtual time
(`samples_for(µs)`). Signatures checked against /usr/include/spandsp/ of libspandsp-dev 0.0.6.
ctypes callbacks are kept on the terminal so the garbage collector leaves them alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 8000

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
# t30.h: T30_ERR_OK
RESULT_OK = 0


class SpanDspMissing(RuntimeError):
    """libspandsp is not on this machine."""


_library: ctypes.CDLL | None = None
_Octets = ctypes.POINTER(ctypes.c_uint8)  # const uint8_t * in a callback

_TxPacket = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_void_p,
    _Octets,
    ctypes.c_int,
    ctypes.c_int,
)
_PhaseE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)
_RealTimeFrame = ctypes.CFUNCTYPE(
    None,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_int,
    _Octets,
    ctypes.c_int,
)
_Message = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p)


class _T30Stats(ctypes.Structure):
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
    ] + [("_reserve", ctypes.c_int * 16)]  # room should a build have more fields


# (function, result type, argument types): every SpanDSP call this module makes.
_SIGNATURES: tuple[tuple[str, object, list[object]], ...] = (
    ("t38_terminal_init", ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_int, _TxPacket, ctypes.c_void_p]),
    ("t38_terminal_free", ctypes.c_int, [ctypes.c_void_p]),
    ("t38_terminal_send_timeout", ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    ("t38_terminal_set_config", None, [ctypes.c_void_p, ctypes.c_int]),
    ("t38_terminal_get_t30_state", ctypes.c_void_p, [ctypes.c_void_p]),
    ("t38_terminal_get_t38_core_state", ctypes.c_void_p, [ctypes.c_void_p]),
    ("t38_terminal_get_logging_state", ctypes.c_void_p, [ctypes.c_void_p]),
    ("t38_core_rx_ifp_packet", ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint16]),
    ("t38_core_get_logging_state", ctypes.c_void_p, [ctypes.c_void_p]),
    ("t38_set_t38_version", None, [ctypes.c_void_p, ctypes.c_int]),
    ("t38_set_redundancy_control", None, [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]),
    ("t30_set_tx_file", None, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]),
    ("t30_set_rx_file", None, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]),
    ("t30_set_ecm_capability", ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    ("t30_set_tx_ident", ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]),
    ("t30_get_rx_ident", ctypes.c_char_p, [ctypes.c_void_p]),
    ("t30_set_phase_e_handler", None, [ctypes.c_void_p, _PhaseE, ctypes.c_void_p]),
    ("t30_set_real_time_frame_handler", None, [ctypes.c_void_p, _RealTimeFrame, ctypes.c_void_p]),
    ("t30_get_transfer_statistics", None, [ctypes.c_void_p, ctypes.POINTER(_T30Stats)]),
    ("t30_get_logging_state", ctypes.c_void_p, [ctypes.c_void_p]),
    ("t30_completion_code_to_str", ctypes.c_char_p, [ctypes.c_int]),
    ("t30_terminate", None, [ctypes.c_void_p]),
    ("span_log_set_level", ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    ("span_log_set_message_handler", None, [ctypes.c_void_p, _Message]),
)  # fmt: skip


def load_spandsp() -> ctypes.CDLL:
    """The SpanDSP library (found once, by ctypes.util.find_library), or SpanDspMissing."""
    global _library
    if _library is None:
        name = ctypes.util.find_library("spandsp")
        if name is None:
            raise SpanDspMissing("libspandsp is not installed (Debian package libspandsp2)")
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            raise SpanDspMissing(f"libspandsp could not be loaded: {exc}") from None
        for fn, restype, argtypes in _SIGNATURES:
            proc = getattr(lib, fn)
            proc.restype = restype
            proc.argtypes = argtypes
        _library = lib
    return _library


def samples_for(us: int) -> int:
    """Samples (8 kHz) in `us` microseconds, rounded down."""
    return us * SAMPLE_RATE // 1_000_000


def result_text(code: int) -> str:
    """SpanDSP's name for a T.30 completion code ('OK', 'T1 expired' ...)."""
    text = load_spandsp().t30_completion_code_to_str(code)
    return text.decode("ascii", "replace") if text else f"code {code}"


@dataclass(frozen=True, slots=True)
class TransferStats:
    bit_rate: int
    ecm: bool
    pages_tx: int
    pages_rx: int
    width: int
    length: int
    bad_rows: int


class T38Terminal:
    """SpanDSP's T.38 fax terminal, one end of a call.

    `on_packet(ifp, repeats)` gets every IFP packet it sends (`repeats`: the copies SpanDSP asks
    for, which UDPTL redundancy replaces). Feed it the far end's IFP packets with
    `receive_ifp(ifp, seq)` (UDPTL sequence numbers: SpanDSP drops repeats and notes gaps) and
    move its time on with `advance(samples)`. `result` is the T.30 completion code once the call
    is over (phase E); `frames` lists the T.30 frames (direction "rx"/"tx", frame without FCS,
    first bit least significant) as SpanDSP sent and received them.
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
        lib = load_spandsp()
        self._lib = lib
        self.on_packet = on_packet
        self.result: int | None = None
        self.frames: list[tuple[str, bytes]] = []
        self._log = log
        self._error: BaseException | None = None  # raised in a callback, re-raised after the call
        # ctypes callbacks, held for the terminal's lifetime
        self._tx_cb = _TxPacket(self._tx_packet)
        self._phase_e_cb = _PhaseE(self._phase_e)
        self._frame_cb = _RealTimeFrame(self._frame)
        self._message_cb = _Message(self._message)
        state = lib.t38_terminal_init(None, 1 if calling else 0, self._tx_cb, None)
        if not state:
            raise RuntimeError("t38_terminal_init failed")
        self._state: int | None = state
        self._t30 = lib.t38_terminal_get_t30_state(state)
        self._core = lib.t38_terminal_get_t38_core_state(state)
        lib.t38_set_t38_version(self._core, version)
        lib.t30_set_phase_e_handler(self._t30, self._phase_e_cb, None)
        lib.t30_set_real_time_frame_handler(self._t30, self._frame_cb, None)
        lib.t30_set_ecm_capability(self._t30, 1 if ecm else 0)
        if ident:
            lib.t30_set_tx_ident(self._t30, ident.encode("ascii", "replace")[:20])
        if tx_file is not None:
            lib.t30_set_tx_file(self._t30, str(tx_file).encode(), -1, -1)
        if rx_file is not None:
            lib.t30_set_rx_file(self._t30, str(rx_file).encode(), -1)
        if log is not None:
            level = LOG_SHOW_SEVERITY | LOG_SHOW_PROTOCOL | LOG_FLOW
            for get in (
                lib.t38_terminal_get_logging_state,
                lambda _: lib.t30_get_logging_state(self._t30),
                lambda _: lib.t38_core_get_logging_state(self._core),
            ):
                logging_state = get(state)
                lib.span_log_set_level(logging_state, level)
                lib.span_log_set_message_handler(logging_state, self._message_cb)

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

    def terminate(self) -> None:
        """End the call at once (phase E follows with the call's status)."""
        self._lib.t30_terminate(self._t30)

    @property
    def done(self) -> bool:
        return self.result is not None

    @property
    def result_text(self) -> str:
        return "in progress" if self.result is None else result_text(self.result)

    @property
    def remote_ident(self) -> str:
        raw = self._lib.t30_get_rx_ident(self._t30)
        return raw.decode("ascii", "replace") if raw else ""

    def stats(self) -> TransferStats:
        raw = _T30Stats()
        self._lib.t30_get_transfer_statistics(self._t30, ctypes.byref(raw))
        return TransferStats(
            raw.bit_rate,
            bool(raw.error_correcting_mode),
            raw.pages_tx,
            raw.pages_rx,
            raw.width,
            raw.length,
            raw.bad_rows,
        )

    def close(self) -> None:
        """Free SpanDSP's state (the received TIFF is complete once phase E has run)."""
        if self._state is not None:
            self._lib.t38_terminal_free(self._state)
            self._state = None

    def __enter__(self) -> T38Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- callbacks from SpanDSP ------------------------------------------------------------------------
    def _live(self) -> int:
        if self._state is None:
            raise RuntimeError("the terminal was closed")
        return self._state

    def _raise_pending(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _tx_packet(
        self, _s: int, _user: int, buf: ctypes._Pointer[ctypes.c_uint8], length: int, count: int
    ) -> int:
        # An exception cannot cross the C code: keep it and raise it when SpanDSP returns.
        try:
            self.on_packet(ctypes.string_at(buf, length), count)
        except BaseException as exc:  # noqa: BLE001
            self._error = self._error or exc
            return -1
        return 0

    def _phase_e(self, _s: int, _user: int, code: int) -> None:
        self.result = code

    def _frame(
        self,
        _s: int,
        _user: int,
        incoming: int,
        msg: ctypes._Pointer[ctypes.c_uint8],
        length: int,
    ) -> None:
        self.frames.append(("rx" if incoming else "tx", ctypes.string_at(msg, length)))

    def _message(self, _level: int, text: bytes | None) -> None:
        if self._log is not None and text:
            self._log(text.decode("ascii", "replace").rstrip("\n"))


__all__ = [
    "OPTION_NO_PACING",
    "RESULT_OK",
    "SAMPLE_RATE",
    "SpanDspMissing",
    "T38Terminal",
    "TransferStats",
    "load_spandsp",
    "result_text",
    "samples_for",
]
