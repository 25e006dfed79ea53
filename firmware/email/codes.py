"""Result codes of scan-to-email: what the LCD and the journal show for each way a send ends.

One table, read by the session policy, the queue, the journal and docs/email.md. SMTP replies keep
their own three digits (454, 535, ...); causes that have no SMTP reply (the relay never answered,
the machine refused to go on) get codes in the 800s, which no SMTP reply uses (RFC 5321 4.2.1
reply codes run 2yz to 5yz), so every cause stays distinct on a 20-character LCD line.
"""

from __future__ import annotations

from dataclasses import dataclass

EMAIL_SENT = "EMAIL SENT"
EMAIL_ERROR = "EMAIL ERROR"
AUTH_ERROR = "AUTH ERROR"


@dataclass(frozen=True)
class ResultCode:
    code: str  # three digits, as the LCD and the journal show it
    word: str  # the LCD word (DESIGN.md 3.3)
    retry: bool  # the queue keeps the job and tries again later
    meaning: str


def _table(*codes: ResultCode) -> dict[str, ResultCode]:
    return {c.code: c for c in codes}


# fmt: off
CODES: dict[str, ResultCode] = _table(
    ResultCode("250", EMAIL_SENT, False, "The relay accepted every message of the job."),
    ResultCode("454", AUTH_ERROR, True, "Temporary authentication failure (RFC 4954): tried again later."),
    ResultCode("501", AUTH_ERROR, False, "The relay could not read the AUTH exchange (RFC 4954: bad base64 or cancelled)."),
    ResultCode("504", AUTH_ERROR, False, "The relay does not support the AUTH mechanism set (RFC 4954)."),
    ResultCode("530", AUTH_ERROR, False, "The relay requires authentication and the setting is NONE."),
    ResultCode("534", AUTH_ERROR, False, "The relay finds the AUTH mechanism too weak (RFC 4954)."),
    ResultCode("535", AUTH_ERROR, False, "User name or password refused (RFC 4954); Postfix also answers "
               "535 for an unknown mechanism or unreadable base64."),
    ResultCode("538", AUTH_ERROR, False, "The relay wants TLS before this AUTH mechanism (RFC 4954)."),
    ResultCode("801", AUTH_ERROR, False, "The relay does not offer the AUTH mechanism set: nothing was sent "
               "(no fall-back to another mechanism)."),
    ResultCode("802", AUTH_ERROR, False, "The relay's challenge was not valid base64: cancelled with '*'."),
    ResultCode("803", AUTH_ERROR, False, "PLAIN/LOGIN over a connection without TLS refused "
               "(smtp.allow_clear_text is off): no credentials sent."),
    ResultCode("804", EMAIL_ERROR, False, "Security is STARTTLS but the relay does not offer it."),
    ResultCode("805", EMAIL_ERROR, False, "The TLS handshake failed."),
    ResultCode("806", EMAIL_ERROR, False, "The relay's certificate is not trusted or not for this host "
               "(or the CA file is unusable)."),
    ResultCode("810", EMAIL_ERROR, True, "Connection refused: the relay is down or not listening."),
    ResultCode("811", EMAIL_ERROR, True, "Timeout: the relay did not answer in time (RFC 5321 4.5.3.2)."),
    ResultCode("812", EMAIL_ERROR, True, "The relay dropped the connection."),
    ResultCode("813", EMAIL_ERROR, True, "The relay's host name does not resolve or cannot be reached."),
    ResultCode("814", EMAIL_ERROR, False, "Every recipient was refused by the relay."),
    ResultCode("815", EMAIL_ERROR, True, "The relay's reply could not be read (over-long lines, not "
               "SMTP): tried again later (RFC 5321 4.5.3.1)."),
)
# fmt: on

# Transport failures of the LAN port (hw.lan Reply.failure) -> code.
FAILURE_CODES: dict[str, str] = {
    "refused": "810",
    "timeout": "811",
    "dropped": "812",
    "unreachable": "813",
    "tls": "805",
    "certificate": "806",
    "unreadable": "815",
}


def for_code(code: str) -> ResultCode:
    """The table row for a code; any other SMTP reply keeps its digits (4yz retried)."""
    known = CODES.get(code)
    if known is not None:
        return known
    temporary = code.startswith("4")
    return ResultCode(
        code, EMAIL_ERROR, temporary, "Other SMTP reply" + (" (temporary)" if temporary else "")
    )
