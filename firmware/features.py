"""Where capabilities plug into the firmware core.

The core (panel keys, menus, standby) calls features by name; the modules that implement them
(copying, fax send/receive, scan-to-email, reports, service tests) register a callable here when
the machine is built. A feature that is not registered makes the LCD say so: the key is never
silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# name -> (LCD line 1 when missing, what it does)
KNOWN: dict[str, tuple[str, str]] = {
    "copy": ("COPY", "COPY + START: scan to memory and print"),
    "fax_send": ("FAX SEND", "FAX + number + START: send the feeder's documents"),
    "fax_receive": ("FAX RECEIVE", "answer a ringing line (TEL mode START) and receive"),
    "fax_monitor": ("MONITOR", "MONITOR: on-hook dialing"),
    "scan_email": ("SCAN TO E-MAIL", "SCAN + address + START: scan and e-mail"),
    "report": ("REPORTS", "print the journal, function list or directory list"),
    "service_print": ("PRINT TEST", "service mode: print a test pattern"),
    "polling": ("POLLING", "poll a remote machine for documents"),
}


@dataclass
class Feature:
    name: str
    run: Callable[..., Any]


class Features:
    def __init__(self) -> None:
        self._by_name: dict[str, Feature] = {}

    def register(self, name: str, run: Callable[..., Any]) -> None:
        self._by_name[name] = Feature(name, run)

    def get(self, name: str) -> Feature | None:
        return self._by_name.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    @staticmethod
    def missing_title(name: str) -> str:
        return KNOWN.get(name, (name.upper(), ""))[0]
