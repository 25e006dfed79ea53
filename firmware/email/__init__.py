"""Scan-to-email: SMTP AUTH CRAM-MD5 to a relay, TIFF-F or PDF messages, a queue in NVRAM.

Modules: `session` (the SMTP policy, no I/O), `codes` (the result code table), `message` (MIME,
attachments, splitting), `pdf` (the PDF writer), `queue` (the NVRAM mail queue) and
`scan_to_email` (the engine that delivers them) and `scan_job` (SCAN + START on the panel).
Sockets live in `hw.lan`.
"""

from .codes import AUTH_ERROR, CODES, EMAIL_ERROR, EMAIL_SENT, ResultCode
from .scan_to_email import EmailResult, ScanToEmail
from .session import cram_md5_response

__all__ = [
    "AUTH_ERROR",
    "CODES",
    "EMAIL_ERROR",
    "EMAIL_SENT",
    "EmailResult",
    "ResultCode",
    "ScanToEmail",
    "cram_md5_response",
]
