"""The firmware version block, laid out as the service manual's label table shows it (DESIGN.md 5).

The manual (p.78) prints the block as "2nd G3 UF 8K G3B A A Vxxxxx YC / Firmware Version V1xxxx /
AA / Model Number YC": the 2nd G3 option board (its ROM label UF 8K G3B A A, its firmware version
and model number), then the main firmware's version, its "AA" field and the model number. The
x's are not in the manual: the main firmware's version is this simulator's own; the 2nd G3
board's version and model number are settings (`options.g3_version`, `options.g3_model`,
docs/settings.md), so a rig can match the board it expects. The FUNCTION menu's FIRMWARE VERSION,
the service mode's VERSION and the function list all show this block.
"""

from __future__ import annotations

from .settings import Settings

FIRMWARE_VERSION = "V10001"  # the main firmware (V1xxxx in the label table)
G3_BOARD_LABEL = "UF 8K G3B A A"  # the 2nd G3 board's ROM label
MAIN_FIELD = "AA"
MODEL_NUMBER = "YC"


def block(g3_version: str, g3_model: str) -> tuple[str, ...]:
    """The label table's lines, upper case."""
    return (
        f"2ND G3 {G3_BOARD_LABEL} {g3_version} {g3_model}".upper(),
        f"FIRMWARE VERSION {FIRMWARE_VERSION}",
        MAIN_FIELD,
        f"MODEL NUMBER {MODEL_NUMBER}",
    )


def machine_block(settings: Settings) -> tuple[str, ...]:
    """The block of this machine (its 2nd G3 board's version and model from the settings)."""
    return block(settings.text("options.g3_version"), settings.text("options.g3_model"))


def lcd_pages(settings: Settings) -> list[tuple[str, str]]:
    """The block as 2x20 LCD pages (LEFT/RIGHT step through them)."""
    lines: list[str] = []
    for item in machine_block(settings):
        while len(item) > 20:
            cut = item.rfind(" ", 0, 21)
            cut = cut if cut > 0 else 20
            lines.append(item[:cut])
            item = item[cut:].lstrip()
        lines.append(item)
    if len(lines) % 2:
        lines.append("")
    return [(lines[i], lines[i + 1]) for i in range(0, len(lines), 2)]
