"""Builds the scan-to-email messages: MIME, a short text part, the pages as TIFF-F or PDF.

The manual's Internet-fax chapter fixes the look (DESIGN.md 5): `X-Mailer: Internet FAX,
Toshiba`, subject `IMAGE from Internet FAX`, the pages as TIFF Class F profile S (MH, 1728 wide;
RFC 3949's `image/tiff; application=faxbw`). The PDF form is one PDF of all the pages.
A message bigger than the size limit is split: the pages are shared out over several messages,
each with its own attachment and its own Message-ID, in page order.

Everything is deterministic: the Date comes from the machine's clock, the Message-ID from the job,
the MIME boundary from the Message-ID, so a message rebuilt for a retry is byte for byte the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email import utils
from email.message import EmailMessage
from email.policy import SMTP

from estudio190f.firmware.page import Page

from .pdf import write_pdf

X_MAILER = "Internet FAX, Toshiba"
SUBJECT = "IMAGE from Internet FAX"
FORMATS = ("tiff", "pdf")

# base64 in lines of 76 characters plus CRLF: 78 bytes on the wire for every 57 of data.
_B64_NUMERATOR, _B64_DENOMINATOR = 78, 57

StageListener = Callable[[str], None]


@dataclass(frozen=True)
class MessageParty:
    """Who the message is from and to, and how the machine names itself in the text part."""

    sender: str
    recipients: tuple[str, ...]
    station: str = "TOSHIBA"
    number: str = ""


@dataclass(frozen=True)
class BuiltMessage:
    message_id: str
    part: int  # 1-based
    parts: int
    first_page: int  # 1-based, inclusive
    last_page: int
    data: bytes = field(repr=False)


def encode_attachment(pages: list[Page], fmt: str, *, created: datetime) -> bytes:
    """The pages as one TIFF Class F (profile S: MH) or one PDF."""
    if fmt == "tiff":
        # Imported here so that loading the e-mail engine does not load the codec's tables.
        from estudio190f.firmware.tiff_f import write_tiff_f

        return write_tiff_f(pages, coding="mh")
    if fmt == "pdf":
        return write_pdf(pages, created=created, title=SUBJECT, producer=X_MAILER)
    raise ValueError(f"no attachment format {fmt!r} (known: {', '.join(FORMATS)})")


def message_id(created: datetime, job: int, part: int, parts: int, party: MessageParty) -> str:
    domain = party.sender.rpartition("@")[2] or "localhost"
    number = party.number or "0"
    return f"<{created:%Y%m%d%H%M%S}.J{job:04d}.{part}of{parts}.{number}@{domain}>"


def build_message(
    attachment: bytes,
    *,
    fmt: str,
    party: MessageParty,
    created: datetime,
    message_id: str,
    filename: str,
    text: str,
) -> bytes:
    """One RFC 5322 message (CRLF line ends) with a text part and the attachment."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = party.sender
    msg["To"] = ", ".join(party.recipients)
    msg["Subject"] = SUBJECT
    msg["Date"] = utils.format_datetime(created)
    msg["Message-ID"] = message_id
    msg["X-Mailer"] = X_MAILER
    msg.set_content(text, charset="us-ascii", cte="7bit")
    if fmt == "tiff":
        msg.add_attachment(
            attachment,
            maintype="image",
            subtype="tiff",
            filename=filename,
            params={"application": "faxbw"},
        )
    else:
        msg.add_attachment(attachment, maintype="application", subtype="pdf", filename=filename)
    # A boundary of our own (the email package picks a random one): "=_" never occurs in
    # base64 or in the text part.
    msg.set_boundary("=_fax_" + hashlib.sha1(message_id.encode()).hexdigest()[:24])
    return msg.as_bytes()


def _text(party: MessageParty, first: int, last: int, total: int, part: int, parts: int,
          resolution: str, fmt: str) -> str:  # fmt: skip
    sender = f"{party.station} ({party.number})" if party.number else party.station
    pages = f"page {first}" if first == last else f"pages {first}-{last}"
    kind = "TIFF Class F" if fmt == "tiff" else "PDF"
    lines = [f"Scanned document from {sender}.", f"{pages.capitalize()} of {total}, {resolution}."]
    if parts > 1:
        lines.append(f"This is message {part} of {parts}.")
    lines.append(f"The pages are attached as {kind}.")
    return "\r\n".join(lines) + "\r\n"


def compose(
    pages: list[Page],
    *,
    fmt: str,
    party: MessageParty,
    created: datetime,
    job: int,
    resolution: str,
    max_bytes: int,
    on_stage: StageListener | None = None,
) -> list[BuiltMessage]:
    """The messages of one job: one if it fits in `max_bytes`, else the pages split over several.

    `on_stage(name)` is told when encoding ("encode") and message building ("build") begin, for
    a benchmark at the edge to time them; the firmware itself reads no clock.
    """
    if not pages:
        raise ValueError("no pages to send")
    stage = on_stage or (lambda name: None)

    def make(groups: list[tuple[int, int]], attachments: list[bytes]) -> list[BuiltMessage]:
        stage("build")
        built = []
        for part, ((first, last), attachment) in enumerate(
            zip(groups, attachments, strict=True), start=1
        ):
            mid = message_id(created, job, part, len(groups), party)
            suffix = "" if len(groups) == 1 else f"-{part}"
            data = build_message(
                attachment,
                fmt=fmt,
                party=party,
                created=created,
                message_id=mid,
                filename=f"scan{job:04d}{suffix}.{'tif' if fmt == 'tiff' else 'pdf'}",
                text=_text(party, first, last, len(pages), part, len(groups), resolution, fmt),
            )
            built.append(BuiltMessage(mid, part, len(groups), first, last, data))
        return built

    stage("encode")
    whole = encode_attachment(pages, fmt, created=created)
    single = make([(1, len(pages))], [whole])
    if len(single[0].data) <= max_bytes or len(pages) == 1:
        return single

    # Too big: size every page alone, then fill messages in page order.
    overhead = len(single[0].data) - _wire_size(len(whole))
    stage("encode")
    sizes = [_wire_size(len(encode_attachment([p], fmt, created=created))) for p in pages]
    groups: list[tuple[int, int]] = []
    start, used = 0, overhead
    for index, size in enumerate(sizes):
        if index > start and used + size > max_bytes:
            groups.append((start + 1, index))
            start, used = index, overhead
        used += size
    groups.append((start + 1, len(pages)))
    while True:
        stage("encode")
        attachments = [encode_attachment(pages[a - 1 : b], fmt, created=created) for a, b in groups]
        built = make(groups, attachments)
        too_big = [
            i for i, m in enumerate(built) if len(m.data) > max_bytes and m.first_page < m.last_page
        ]
        if not too_big:
            return built
        # The estimate was short (per-file overhead): halve the groups that overflowed.
        split: list[tuple[int, int]] = []
        for i, (a, b) in enumerate(groups):
            if i in too_big:
                middle = (a + b) // 2
                split += [(a, middle), (middle + 1, b)]
            else:
                split.append((a, b))
        groups = split


def _wire_size(n: int) -> int:
    return -(-n * _B64_NUMERATOR // _B64_DENOMINATOR)
