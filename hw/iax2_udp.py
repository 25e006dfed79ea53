"""The IAX2 endpoint's UDP edge: one non-blocking socket that moves datagrams in and out.

`Iax2UdpPort` binds a UDP socket (loopback and a port the system chooses, unless told otherwise)
and pumps between it and an `Iax2Endpoint`: `receive(now)` reads every datagram waiting (call it
when the socket is readable: `fileno()` goes into a selector) and `flush()` sends what the endpoint
has to send (call it after anything that may have produced datagrams: receive, timers, an action
of the application). It never blocks, starts no thread and reads no clock: the caller passes `now`.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from .iax2 import Iax2Endpoint
from .iax2_frames import Address

MAX_DATAGRAM = 65535


class Iax2UdpPort:
    def __init__(
        self,
        endpoint: Iax2Endpoint,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        capture: Callable[[str, bytes, Address], None] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.capture = capture  # sees every datagram ("in"/"out", bytes, peer address)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.bind((host, port))
        self.dropped = 0  # datagrams the kernel would not take (no buffer space)

    @property
    def address(self) -> Address:
        host, port = self.sock.getsockname()
        return (host, port)

    def fileno(self) -> int:
        return self.sock.fileno()

    def receive(self, now: int) -> int:
        """Hand every waiting datagram to the endpoint; returns how many there were."""
        count = 0
        while True:
            try:
                data, (host, port) = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return count
            except ConnectionRefusedError:
                continue  # an ICMP "port unreachable" for something sent earlier
            count += 1
            if self.capture is not None:
                self.capture("in", data, (host, port))
            self.endpoint.receive_datagram(data, (host, port), now)

    def flush(self) -> int:
        """Send what the endpoint has to send; returns how many datagrams went."""
        sent = 0
        for data, address in self.endpoint.take_datagrams():
            if self.capture is not None:
                self.capture("out", data, address)
            try:
                self.sock.sendto(data, address)
                sent += 1
            except (BlockingIOError, InterruptedError, ConnectionRefusedError):
                self.dropped += 1  # UDP: the peer's retransmission or ours makes up for it
        return sent

    def close(self) -> None:
        self.sock.close()
