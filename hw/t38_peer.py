"""SpanDSP's T.38 terminal as a far end on a T.38 network: IFP framed in UDPTL, sans I/O.

`SpanDspT38Peer` wraps `spandsp.T38Terminal` with the project's UDPTL sender and receiver and the
same rules as `T38Endpoint`: the redundancy of a packet's kind (control or image), the copies
SpanDSP asks for indicators and signal ends (sent as our endpoint sends its own: 3, or 1 without
redundancy), holes given up after the reorder window. Datagrams in (`receive`), datagrams out
(`advance`), virtual time in µs passed in; the terminal's time follows it in 8 kHz samples. A
socket around it makes it a T.38 fax machine on the network; tests wire it to our endpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .spandsp import T38Terminal, samples_for
from .t38 import T38Config
from .t38_ifp import decode_ifp
from .udptl import Datagram, IfpArrived, UdptlEvent, UdptlReceiver, UdptlSender


class SpanDspT38Peer:
    def __init__(
        self,
        config: T38Config | None = None,
        *,
        calling: bool,
        tx_file: Path | None = None,
        rx_file: Path | None = None,
        ecm: bool = False,
        ident: str = "",
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config or T38Config()
        self.udptl_out = UdptlSender()
        self.udptl_in = UdptlReceiver(self.config.reorder_window)
        self.refused = 0  # IFP packets SpanDSP found malformed
        self._now = 0
        self._samples = 0  # samples the terminal has run
        self._outbox: list[Datagram] = []
        self.terminal = T38Terminal(
            calling=calling,
            on_packet=self._packet,
            tx_file=tx_file,
            rx_file=rx_file,
            ecm=ecm,
            ident=ident,
            version=self.config.version,
            log=log,
        )

    @property
    def done(self) -> bool:
        return self.terminal.done

    def advance(self, now: int) -> list[Datagram]:
        """Run the terminal up to `now`; the datagrams it sent meanwhile, stamped `now`."""
        self._now = now
        due = samples_for(now) - self._samples
        if due > 0:
            self._samples += due
            self.terminal.advance(due)
        out, self._outbox = self._outbox, []
        return out

    def receive(self, payload: bytes, now: int) -> None:
        """A datagram from the far end at `now`."""
        self._now = now
        self._deliver(self.udptl_in.receive(payload, now))

    def poll(self, now: int) -> None:
        """Give up UDPTL holes whose window has passed (call at `deadline()`)."""
        self._deliver(self.udptl_in.poll(now))

    def deadline(self) -> int | None:
        return self.udptl_in.deadline()

    def close(self) -> None:
        self.terminal.close()

    def _deliver(self, events: list[UdptlEvent]) -> None:
        for event in events:
            if isinstance(event, IfpArrived) and not self.terminal.receive_ifp(
                event.ifp, event.seq
            ):
                self.refused += 1

    def _packet(self, ifp: bytes, repeats: int) -> None:
        packet = decode_ifp(ifp, self.config.version)  # its kind sets its redundancy
        payload = self.udptl_out.send(ifp, self.config.redundancy_for(packet))
        copies = min(max(repeats, 1), self.config.copies_of_ends)
        self._outbox += [Datagram(self._now, payload)] * copies


__all__ = ["SpanDspT38Peer"]
