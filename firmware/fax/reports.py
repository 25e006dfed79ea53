"""What the fax unit tells the operator about a call once it is over: the LCD words of its end,
its journal entry (TX, RX, POLL, with the 3-digit information code), and the transmission report
a file prints when every destination is settled (as `transmit.report` says: always, on error,
off). On a machine with the 2nd G3 option, the journal entry and the report's line of each call
name its port (`port` 1 or 2; 0 on a machine with one port, where nothing is named).
"""

from __future__ import annotations

from typing import Any

from ..fax_call import CallResult
from ..journal import Journal
from ..reports import ReportPrinter
from ..settings import Settings
from ..t30.results import ERROR_WORD
from .outbox import Outbox
from .receiving import Reception


def result_lines(result: CallResult, redial_minutes: int | None) -> tuple[str, str]:
    """The LCD words for a call's end: COMPLETED, BUSY, NO ANSWER, COMM. ERROR + code, ..."""
    if result.ok:
        return "COMPLETED", ""
    word, code = result.lcd, result.code
    if redial_minutes is not None:
        tail = f"REDIAL IN {redial_minutes} MIN"
        return word, f"{code} {tail}" if code else tail
    return word, f"CODE {code}" if code else ""


def pages_word(pages: int) -> str:
    return f"{pages} PAGE{'S' if pages != 1 else ''}"


def journal_transmission(journal: Journal, outbox: Outbox, number: str, serial: int,
                         resumed: bool, confirmed: list[int], result: CallResult,
                         sent: list[int], port: int = 0) -> None:  # fmt: skip
    """The TX journal entry of one call: the pages it got across, and those still missing."""
    total = outbox.total()
    status = result.outcome.status
    detail: dict[str, Any] = {
        "number": number, "file": outbox.label, "serial": serial, "status": status,
        "pages_sent": sent, "total": total, "resumed": resumed,
    }  # fmt: skip
    if port:
        detail["port"] = port
    if not result.ok and sent and total and len(confirmed) < total:
        detail["unsent"] = [n for n in range(1, total + 1) if n not in confirmed]
    word = "OK" if result.ok else ("CANCELLED" if status == "CANCELLED" else result.lcd)
    journal.add(
        "TX", remote=(result.remote_id or number)[:20], pages=len(sent), result=word,
        code=result.code, duration=result.duration, speed=result.speed, detail=detail,
    )  # fmt: skip


def journal_reception(journal: Journal, rx: Reception, result: CallResult, port: int = 0) -> None:
    """The RX (answered) or POLL (we polled) journal entry of a call that brought pages."""
    detail: dict[str, Any] = {"status": result.outcome.status}
    if port:
        detail["port"] = port
    if rx.sink.refused or result.outcome.status == "NOMEM":
        detail["memory_full"] = True
    if rx.number:
        detail["number"] = rx.number
    journal.add(rx.kind, remote=rx.document.remote[:20], pages=len(rx.document.pages),
                result="OK" if result.ok else result.lcd, code=result.code,
                duration=result.duration, speed=result.speed, detail=detail)  # fmt: skip


def journal_polled(journal: Journal, result: CallResult, file_label: str, serial: int,
                   total: int, port: int = 0) -> None:  # fmt: skip
    """The TX journal entry of a call that polled our polling document."""
    sent = list(result.pages_confirmed)
    detail: dict[str, Any] = {"polled": True, "file": file_label, "serial": serial,
                              "pages_sent": sent, "total": total}  # fmt: skip
    if port:
        detail["port"] = port
    journal.add(
        "TX", remote=(result.remote_id or "")[:20], pages=len(sent),
        result="OK" if result.ok else result.lcd, code=result.code,
        duration=result.duration, speed=result.speed, detail=detail,
    )  # fmt: skip


def transmission_report(outbox: Outbox, settings: Settings, reports: ReportPrinter) -> None:
    """The transmission report of a settled file, as `transmit.report` says."""
    when = settings.text("transmit.report")
    failed = any(d.state != "done" for d in outbox.destinations)
    if when == "off" or (when == "error" and not failed):
        return
    total = outbox.total() or 0
    ports = any(call.port for call in outbox.calls)  # the 2nd G3 option: each call's port
    body = [
        f"FILE {outbox.label:<10} PAGES {total:<4} RESOLUTION {outbox.resolution.upper()}",
        "",
        f"{'NO.':<4}{'DATE':<11}{'TIME':<6}{'DESTINATION':<21}{'REMOTE ID':<21}"
        f"{'PAGES':<10}{'TIME':>6}  {'SPEED':<11}{'PORT  ' if ports else ''}RESULT",
    ]
    for call in outbox.calls:
        date, _, time = call.when.partition(" ")
        pages = ",".join(str(p) for p in call.pages) or "-"
        minutes, seconds = divmod(round(call.duration), 60)
        code = f" {call.code}" if call.code else ""
        port = f"{call.port:<6}" if ports else ""
        body.append(
            f"T-{call.serial:03d}{'':1}{date:<11}{time:<6}{call.number[:20]:<21}"
            f"{(call.remote or '-')[:20]:<21}{pages[:9]:<10}{minutes:02d}'{seconds:02d}\""
            f"  {call.speed[:10]:<11}{port}{call.result}{code}"
        )
    body += ["", "DESTINATION          RESULT"]
    for d in outbox.destinations:
        code = f" {d.code}" if d.code else ""
        body.append(f"{d.number[:20]:<21}{d.result or d.state.upper()}{code}")
    reports.text_report("TRANSMISSION REPORT", body, "TX REPORT", report="transmission",
                        file=outbox.label)  # fmt: skip


__all__ = ["ERROR_WORD", "journal_polled", "journal_reception", "journal_transmission",
           "pages_word", "result_lines", "transmission_report"]  # fmt: skip
