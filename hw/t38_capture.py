"""Calls as captures: the modem signals of any call, on the virtual line or over T.38, written as
T.38 over UDPTL in a libpcap file (the `--capture` of `run` and `replay`).

Each direction of a call gets its own capture-only `T38Endpoint` (so UDPTL numbering starts at 0
for each call) whose datagrams go into the pcap as sent from the station's address to the far
station's (`hw.pcap.CallRecorder`: one IPv4 address per station, UDP port 6000 at both ends).
Frames pass through `redact` first: the caller gives the rule that keeps passwords out of the
file (the frames that carry them are the firmware's table, which hw/ does not import). Sans I/O:
signals in, pcap octets out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from .modem import FRAMES, Signal
from .pcap import CallRecorder
from .t38 import T38Config, T38Endpoint


class CallCapture:
    def __init__(
        self,
        recorder: CallRecorder | None = None,
        config: T38Config | None = None,
        redact: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.recorder = recorder or CallRecorder()
        self.config = config or T38Config()
        self.redact = redact
        self._endpoints: dict[tuple[str, str], T38Endpoint] = {}

    def header(self) -> bytes:
        return self.recorder.header()

    def signal(self, at: int, src: str, dst: str, signal: Signal) -> bytes:
        """The pcap records of a signal station `src` put on its call to `dst` at `at` µs."""
        endpoint = self._endpoints.get((src, dst))
        if endpoint is None:
            endpoint = self._endpoints[(src, dst)] = T38Endpoint(self.config)
        if signal.kind == FRAMES and self.redact is not None:
            frames = tuple((self.redact(frame), ok) for frame, ok in signal.frames)
            if frames != signal.frames:
                signal = replace(signal, frames=frames)
        return b"".join(
            self.recorder.datagram(d.at, src, dst, d.payload) for d in endpoint.send(signal, at)
        )

    def end_call(self, a: str, b: str) -> None:
        """The call between stations `a` and `b` is over: the next one starts afresh."""
        self._endpoints.pop((a, b), None)
        self._endpoints.pop((b, a), None)


__all__ = ["CallCapture"]
