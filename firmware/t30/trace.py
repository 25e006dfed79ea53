"""Frames as a fax engineer reads them: the name, what it means, its information field decoded.

Used for the session trace in the event log (in the spirit of HylaFAX's session logs: one line
per frame, direction, name, the DIS/DCS bits spelled out) and by tests and tools.
"""

from __future__ import annotations

from .capabilities import Capabilities, DcsParams, ctc_modulation
from .frames import FrameError, decode_ident, parse_eor, parse_frame, parse_ppr, parse_pps

# Frames that carry a password: their content never reaches a log.
SECRET_FRAMES = ("SID", "PWD")


def describe(frame: bytes) -> tuple[str, str]:
    """(frame name, readable details) for a frame without FCS."""
    try:
        parsed = parse_frame(frame)
    except FrameError as exc:
        return "?", f"not a T.30 frame: {exc}"
    kind = parsed.type
    if kind is None:
        return parsed.name, "unknown FCF"
    fif = parsed.fif
    detail = kind.meaning
    try:
        if kind.fif == "caps" and kind.name in ("DIS", "DTC"):
            detail = Capabilities.decode(fif).describe()
        elif kind.fif == "caps":
            detail = DcsParams.decode(fif).describe()
        elif kind.name in SECRET_FRAMES:
            detail = f"{kind.meaning} ({len(decode_ident(fif))} characters, not shown)"
        elif kind.fif == "ident":
            detail = f'"{decode_ident(fif)}"'
        elif kind.fif == "pps":
            post, page, block, frames = parse_pps(fif)
            detail = f"{post or 'NULL'}, page {page}, block {block}, {frames} frames"
        elif kind.fif == "eor":
            detail = f"{parse_eor(fif) or 'NULL'}: the block is given up"
        elif kind.fif == "ppr":
            detail = "asks again for frames " + ranges(parse_ppr(fif, 256))
        elif kind.fif == "ctc":
            detail = f"continue at {ctc_modulation(fif)}"
        elif kind.fif == "ecm" and fif:
            detail = f"frame {fif[0]}, {len(fif) - 1} octets"
        elif kind.fif == "raw" and fif:
            detail = fif.hex(" ")
    except (ValueError, FrameError) as exc:
        detail = f"{kind.meaning} (bad information field: {exc})"
    if parsed.x:
        detail += " [X]"
    return kind.name, detail


def ranges(numbers: list[int]) -> str:
    """1, 2, 3, 7 -> '1-3, 7'."""
    if not numbers:
        return "none"
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(parts)
