"""The firmware version block, laid out as the service manual shows it (DESIGN.md 5).

The manual prints the block as "2nd G3 UF 8K G3B A A Vxxxxx YC / Firmware Version V1xxxx / AA /
Model Number YC"; the x's are this simulator's own version numbers.
"""

from __future__ import annotations

ROM_VERSION = "V10001"
FIRMWARE_VERSION = "V10001"
BLOCK = (
    f"2ND G3 UF 8K G3B A A {ROM_VERSION} YC",
    f"FIRMWARE VERSION {FIRMWARE_VERSION}",
    "AA",
    "MODEL NUMBER YC",
)


def lcd_pages() -> list[tuple[str, str]]:
    """The block as 2x20 LCD pages (LEFT/RIGHT step through them)."""
    lines: list[str] = []
    for item in BLOCK:
        while len(item) > 20:
            cut = item.rfind(" ", 0, 21)
            cut = cut if cut > 0 else 20
            lines.append(item[:cut])
            item = item[cut:].lstrip()
        lines.append(item)
    if len(lines) % 2:
        lines.append("")
    return [(lines[i], lines[i + 1]) for i in range(0, len(lines), 2)]
