"""A UDP socket at the machine's edge: non-blocking, served by the clock's driver (`hw.outside`).

`UdpPort` binds an IPv4 UDP socket (127.0.0.1 and a port the system chooses, unless told
otherwise) and is an `OutsideLink`: once `watch`ed, the driver calls `readable()` when datagrams
wait, and each goes to `on_datagram(payload, address)`. `send(payload, address)` never blocks: a
datagram the kernel will not take at once is dropped and counted, as a network would drop it
(T.38's redundancy is there for that). Nothing here reads a clock or starts a thread; what the
datagrams mean is the owner's business (`hw.t38_route`).
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from .outside import OutsideWorld

MAX_DATAGRAM = 65535
READ_BURST = 256  # datagrams read at one `readable()`, so one busy peer cannot starve the rest

Address = tuple[str, int]


class PeerError(ValueError):
    """A peer's address that cannot be used (a name that does not resolve to IPv4)."""


def resolve_ipv4(host: str, port: int) -> Address:
    """HOST (a name or an IPv4 address) and PORT as an address to send to. Blocks while a name
    is looked up: call it at set-up, never in a clock event."""
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PeerError(f"{host}: cannot resolve it to an IPv4 address ({reason})") from None
    address = infos[0][4]
    return (str(address[0]), int(address[1]))


class UdpPort:
    def __init__(
        self,
        on_datagram: Callable[[bytes, Address], None],
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.on_datagram = on_datagram
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.setblocking(False)
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.address: Address = self.sock.getsockname()[:2]
        self.sent = 0
        self.received = 0
        self.dropped = 0  # datagrams the kernel would not take (no buffer space, no route)
        self._outside: OutsideWorld | None = None

    # -- the driver's side (hw.outside.OutsideLink) ----------------------------------------------
    def fileno(self) -> int:
        return self.sock.fileno()

    def readable(self) -> None:
        for _ in range(READ_BURST):
            try:
                data, address = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:
                continue  # an ICMP "port unreachable" for something sent earlier
            except OSError:
                return  # closed under us
            self.received += 1
            self.on_datagram(data, (address[0], address[1]))

    def wants_write(self) -> bool:
        return False  # datagrams go at once or not at all

    def writable(self) -> None:
        pass

    # -- the owner's side -------------------------------------------------------------------------
    def watch(self, outside: OutsideWorld) -> None:
        """Have the driver serve this socket."""
        if self._outside is None:
            self._outside = outside
            outside.watch(self)

    def unwatch(self) -> None:
        if self._outside is not None:
            self._outside.unwatch(self)
            self._outside = None

    @property
    def watched(self) -> bool:
        return self._outside is not None

    def send(self, payload: bytes, address: Address) -> bool:
        """Send one datagram now; False (and counted) when the kernel would not take it."""
        try:
            self.sock.sendto(payload, address)
        except (BlockingIOError, InterruptedError, ConnectionRefusedError, OSError):
            self.dropped += 1
            return False
        self.sent += 1
        return True

    def close(self) -> None:
        self.unwatch()
        self.sock.close()

    def __repr__(self) -> str:
        return f"UdpPort({self.address[0]}:{self.address[1]})"


__all__ = ["Address", "PeerError", "UdpPort", "resolve_ipv4"]
