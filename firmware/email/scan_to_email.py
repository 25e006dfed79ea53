"""Scan-to-email's engine: take scanned pages and recipients, queue the messages, deliver them.

`ScanToEmail.submit()` builds the messages at once (so the Message-IDs are fixed), stores the job
in NVRAM and schedules a try on the virtual clock. A try is one SMTP session on the LAN port,
driven by the session policy: each step goes out on the port, and its reply comes back as a call
when the relay has answered (no clock event waits on the relay; one session runs at a time). It
ends in one of three ways: every message accepted (`EMAIL SENT`, code 250, journal entry), a
temporary failure (relay down, 4yz: the job waits `smtp.retry_interval` minutes and is tried again,
up to `smtp.retry_tries` times), or a permanent one (`EMAIL ERROR` / `AUTH ERROR` with a code,
journal entry, the job removed). Jobs still queued at power-on are resumed.

The panel's job (`firmware.email.scan_job`) calls `submit()` and listens to `listeners` for
`EmailResult`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from estudio190f.firmware.journal import Journal
from estudio190f.firmware.page import Page
from estudio190f.firmware.settings import EMAIL_RE, Settings
from estudio190f.hw.board import Board
from estudio190f.hw.clock import MINUTE, Timer
from estudio190f.hw.lan import Reply, SmtpLink, SmtpTimeouts
from estudio190f.hw.listeners import Listeners

from .codes import EMAIL_SENT, for_code
from .message import MessageParty, StageListener, compose
from .queue import MailQueue, QueuedJob
from .session import (
    Command,
    Connect,
    Data,
    Done,
    Ehlo,
    Envelope,
    Mail,
    Outcome,
    Quit,
    Rcpt,
    SessionSettings,
    SmtpSession,
    StartTls,
    Step,
)

JOURNAL_KIND = "EMAIL"


@dataclass
class Attempt:
    """One try of a job: its session policy and the link it runs on."""

    queued: QueuedJob
    session: SmtpSession
    link: SmtpLink


@dataclass(frozen=True)
class EmailResult:
    """How a try of a job ended, for the LCD and whoever else listens."""

    job: int
    word: str  # EMAIL SENT | EMAIL ERROR | AUTH ERROR
    code: str  # see firmware.email.codes
    final: bool  # False: the job stays queued and will be tried again
    recipients: tuple[str, ...]
    pages: int
    reason: str
    retry_in: int = 0  # virtual ticks until the next try (when not final)

    @property
    def lcd(self) -> str:
        return f"{self.word} {self.code}" if self.code != "250" else self.word


class ScanToEmail:
    def __init__(self, board: Board, settings: Settings, journal: Journal) -> None:
        self.board = board
        self.settings = settings
        self.journal = journal
        self.queue = MailQueue(board.nvram)
        self.listeners: Listeners[[EmailResult]] = Listeners()
        # A benchmark at the edge may time the stages ("encode", "build", "smtp", "done").
        self.on_stage: StageListener | None = None
        self._timers: dict[int, Timer] = {}
        self._active: Attempt | None = None  # the session in progress
        self._waiting: list[int] = []  # jobs due while it runs
        board.power.changed.add(self._power)
        if board.powered:
            self.resume()

    # -- the panel's entry point ----------------------------------------------------------
    def submit(self, recipients: list[str], pages: list[Page], resolution: str) -> int:
        """Queue the pages for the recipients; returns the job number. Sending starts at once."""
        rcpts = tuple(r.strip() for r in recipients)
        if not rcpts:
            raise ValueError("no recipient")
        for r in rcpts:
            if not EMAIL_RE.fullmatch(r):
                raise ValueError(f"not an e-mail address: {r!r}")
        if not pages:
            raise ValueError("no pages")
        s = self.settings
        created = self.board.rtc.now().replace(microsecond=0)
        job = self.queue.next_job_number()
        party = MessageParty(
            sender=s.text("smtp.from"),
            recipients=rcpts,
            station=s.text("machine.station_name"),
            number=s.text("machine.number"),
        )
        messages = compose(
            pages,
            fmt=s.text("smtp.format"),
            party=party,
            created=created,
            job=job,
            resolution=resolution.upper(),
            max_bytes=s.number("smtp.max_size_kb") * 1024,
            on_stage=self.on_stage,
        )
        self.queue.add(
            job,
            recipients=rcpts,
            pages=len(pages),
            resolution=resolution,
            fmt=s.text("smtp.format"),
            created=created.isoformat(sep=" "),
            messages=messages,
        )
        self.board.log.emit(
            "email",
            "queued",
            job=job,
            pages=len(pages),
            messages=len(messages),
            bytes=sum(len(m.data) for m in messages),
        )
        self._schedule(job, 0)
        return job

    def pending(self) -> list[int]:
        """Job numbers still queued."""
        return [j.job for j in self.queue.jobs()]

    def retry_now(self) -> None:
        """Try every queued job now (e.g. when the relay is back)."""
        for queued in self.queue.jobs():
            self._schedule(queued.job, 0)

    def resume(self) -> None:
        """At power-on: the jobs that were queued when the power went are tried again."""
        for queued in self.queue.jobs():
            self.board.log.emit("email", "resumed", job=queued.job, tries=queued.tries)
            self._schedule(queued.job, 0)

    # -- tries ----------------------------------------------------------------------------
    def _power(self, on: bool) -> None:
        self._timers.clear()  # the board cancelled them with the power
        self._active = None  # the LAN port dropped its connection: nothing after the cut
        self._waiting.clear()
        if on:
            self.resume()

    def _schedule(self, job: int, delay: int) -> None:
        old = self._timers.pop(job, None)
        if old is not None:
            old.cancel()
        self._timers[job] = self.board.timers.call_later(
            delay, self._attempt, job, label=f"email job {job}"
        )

    def _stage(self, name: str) -> None:
        if self.on_stage is not None:
            self.on_stage(name)

    def _attempt(self, job: int) -> None:
        self._timers.pop(job, None)
        if not self.board.powered:
            return
        if self._active is not None:
            # One session at a time: this job is tried when the one in progress has ended.
            if job not in self._waiting and job != self._active.queued.job:
                self._waiting.append(job)
            return
        queued = self.queue.job(job)
        if queued is None:
            return self._next_waiting()
        parts = self.queue.pending_parts(job)
        if not parts:  # everything was accepted before a power cut: only the ending is left
            self._finish(queued, Outcome("250", "accepted before the power cut"))
            return self._next_waiting()
        s = self.settings
        envelopes = [
            Envelope(p.record_id, s.text("smtp.from"), queued.recipients, p.data or b"")
            for p in parts
        ]
        session = SmtpSession(
            SessionSettings(
                security=s.text("smtp.security"),
                auth=s.text("smtp.auth"),
                user=s.text("smtp.user"),
                password=s.text("smtp.password"),
                allow_clear_text=s.text("smtp.allow_clear_text") == "on",
            ),
            envelopes,
        )
        link = self.board.lan.smtp(
            s.text("smtp.host"),
            s.number("smtp.port"),
            implicit_tls=s.text("smtp.security") == "tls",
            ca_file=s.text("smtp.ca_file"),
            timeouts=SmtpTimeouts(
                greeting=s.number("smtp.timeout_greeting"),
                command=s.number("smtp.timeout_command"),
                data_init=s.number("smtp.timeout_data_init"),
                data_block=s.number("smtp.timeout_data_block"),
                data_end=s.number("smtp.timeout_data_end"),
            ),
        )
        self._stage("smtp")
        self.board.log.emit("email", "try", job=job, tries=queued.tries, messages=len(parts))
        self._active = Attempt(queued, session, link)
        self._go(self._active, session.start())

    def _go(self, attempt: Attempt, step: Step) -> None:
        """Perform the session's next step; its reply comes back to `_replied`."""
        if isinstance(step, Done):
            attempt.link.close()
            self._active = None
            self._ended(attempt.queued, step.outcome)
            return self._next_waiting()
        done = partial(self._replied, attempt, step)
        link = attempt.link
        if isinstance(step, Connect):
            link.connect(done)
        elif isinstance(step, Ehlo):
            link.ehlo(done)
        elif isinstance(step, StartTls):
            link.starttls(done)
        elif isinstance(step, Command):
            link.command(step.line, done, secret=step.secret, shown=step.shown)
        elif isinstance(step, Mail):
            link.mail(step.sender, list(step.options), done)
        elif isinstance(step, Rcpt):
            link.rcpt(step.recipient, done)
        elif isinstance(step, Data):
            link.data(step.message, done)
        elif isinstance(step, Quit):
            link.quit(done)

    def _replied(self, attempt: Attempt, step: Step, reply: Reply) -> None:
        if attempt is not self._active:
            return  # from before a power cut
        if isinstance(step, Data) and reply.code == 250:
            # Recorded before anything else happens: a cut after this never resends it.
            self.queue.mark_accepted(step.key)
            self.board.log.emit("email", "accepted", part=step.key)
        features = attempt.link.features if isinstance(step, Ehlo) else None
        self._go(attempt, attempt.session.receive(reply, features))

    def _next_waiting(self) -> None:
        if self._waiting and self.board.powered:
            self._schedule(self._waiting.pop(0), 0)

    def _ended(self, queued: QueuedJob, outcome: Outcome) -> None:
        row = for_code(outcome.code)
        if outcome.code == "250" or not row.retry:
            self._finish(queued, outcome)
            return
        tries = self.queue.count_try(queued)
        limit = self.settings.number("smtp.retry_tries")
        if tries > limit:
            self._finish(queued, outcome, tries=tries)
            return
        job = queued.job
        delay = self.settings.number("smtp.retry_interval") * MINUTE
        self.board.log.emit(
            "email", "deferred", job=job, code=outcome.code, tries=tries, retry_in_s=delay // 10**6
        )
        self._schedule(job, delay)
        self._notify(
            EmailResult(
                job,
                row.word,
                outcome.code,
                False,
                queued.recipients,
                queued.pages,
                outcome.reason,
                delay,
            )
        )

    def _finish(self, queued: QueuedJob, outcome: Outcome, tries: int | None = None) -> None:
        job = queued.job
        row = for_code(outcome.code)
        sent = outcome.code == "250"
        parts = self.queue.parts(job)
        detail = {
            "job": job,
            "recipients": list(queued.recipients),
            "messages": [p.message_id for p in parts],
            "accepted": [p.message_id for p in parts if p.accepted],
            "reason": outcome.reason,
            "tries": tries if tries is not None else queued.tries + 1,
        }
        if outcome.refused:
            detail["refused"] = list(outcome.refused)
        # The journal entry and the end of the job are one write.
        with self.board.nvram.transaction():
            self.journal.add(
                JOURNAL_KIND,
                remote=queued.recipients[0],
                pages=queued.pages,
                result="OK" if sent else row.word,
                code=outcome.code,
                detail=detail,
            )
            self.queue.remove(job)
        word = EMAIL_SENT if sent else row.word
        self.board.log.emit("email", "result", job=job, word=word, code=outcome.code)
        self._stage("done")
        self._notify(
            EmailResult(
                job, word, outcome.code, True, queued.recipients, queued.pages, outcome.reason
            )
        )

    def _notify(self, result: EmailResult) -> None:
        self.listeners(result)
