"""The mail queue in NVRAM: jobs waiting to be sent, and what the relay already accepted.

A job is one record of kind `email_job` (recipients, pages, tries) and one record of kind
`email_part` per message, holding the finished message bytes. The bytes are built once, at
submission, so every try sends the same message with the same Message-ID. A part is marked
accepted in its own NVRAM write the moment the relay answers 250 to its DATA, before the session
goes on: after a power cut, a resumed job sends only the parts not yet accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from estudio190f.hw.nvram import Nvram

from .message import BuiltMessage

JOB_KIND = "email_job"
PART_KIND = "email_part"
COUNTER_NS = "counters"
COUNTER_KEY = "email_job"


@dataclass(frozen=True)
class QueuedJob:
    record_id: int
    job: int
    recipients: tuple[str, ...]
    pages: int
    resolution: str
    format: str
    created: str  # ISO date and time on the machine's clock
    tries: int  # failed tries so far
    parts: int


@dataclass(frozen=True)
class QueuedPart:
    record_id: int
    job: int
    part: int
    message_id: str
    accepted: bool
    data: bytes | None = field(default=None, repr=False)


class MailQueue:
    def __init__(self, nvram: Nvram) -> None:
        self.nvram = nvram

    def next_job_number(self) -> int:
        """A new job number (a number lost to a power cut before `add` leaves a harmless gap)."""
        with self.nvram.transaction():
            number = int(self.nvram.get(COUNTER_NS, COUNTER_KEY, 0)) % 9999 + 1
            self.nvram.set(COUNTER_NS, COUNTER_KEY, number)
        return number

    def add(
        self,
        job: int,
        *,
        recipients: tuple[str, ...],
        pages: int,
        resolution: str,
        fmt: str,
        created: str,
        messages: list[BuiltMessage],
    ) -> None:
        """The job and all its messages, in one write: after a power cut, all or none."""
        with self.nvram.transaction():
            self.nvram.add_record(
                JOB_KIND,
                {
                    "job": job,
                    "recipients": list(recipients),
                    "pages": pages,
                    "resolution": resolution,
                    "format": fmt,
                    "created": created,
                    "tries": 0,
                    "parts": len(messages),
                },
            )
            for message in messages:
                self.nvram.add_record(
                    PART_KIND,
                    {
                        "job": job,
                        "part": message.part,
                        "message_id": message.message_id,
                        "first_page": message.first_page,
                        "last_page": message.last_page,
                        "accepted": False,
                    },
                    message.data,
                )

    def jobs(self) -> list[QueuedJob]:
        return [self._job(r.id, r.meta) for r in self.nvram.records(JOB_KIND)]

    def job(self, job: int) -> QueuedJob | None:
        for queued in self.jobs():
            if queued.job == job:
                return queued
        return None

    def parts(self, job: int, with_data: bool = False) -> list[QueuedPart]:
        return [
            QueuedPart(r.id, job, r.meta["part"], r.meta["message_id"], r.meta["accepted"], r.data)
            for r in self.nvram.records(PART_KIND, with_data=with_data)
            if r.meta["job"] == job
        ]

    def pending_parts(self, job: int) -> list[QueuedPart]:
        """The parts the relay has not accepted yet, with their bytes, in order."""
        return [p for p in self.parts(job, with_data=True) if not p.accepted]

    def mark_accepted(self, part_record_id: int) -> None:
        record = self.nvram.record(part_record_id)
        if record is None or record.kind != PART_KIND:
            raise KeyError(f"no queued message {part_record_id}")
        self.nvram.update_record(part_record_id, {**record.meta, "accepted": True})

    def count_try(self, queued: QueuedJob) -> int:
        """One more failed try of the job; returns the count."""
        record = self.nvram.record(queued.record_id)
        if record is None or record.kind != JOB_KIND:
            raise KeyError(f"no queued job {queued.job}")
        tries = int(record.meta["tries"]) + 1
        self.nvram.update_record(queued.record_id, {**record.meta, "tries": tries})
        return tries

    def remove(self, job: int) -> None:
        with self.nvram.transaction():
            for part in self.parts(job):
                self.nvram.delete_record(part.record_id)
            queued = self.job(job)
            if queued is not None:
                self.nvram.delete_record(queued.record_id)

    @staticmethod
    def _job(record_id: int, meta: dict[str, Any]) -> QueuedJob:
        return QueuedJob(
            record_id=record_id,
            job=int(meta["job"]),
            recipients=tuple(meta["recipients"]),
            pages=int(meta["pages"]),
            resolution=str(meta["resolution"]),
            format=str(meta["format"]),
            created=str(meta["created"]),
            tries=int(meta["tries"]),
            parts=int(meta["parts"]),
        )
