"""The code tables of T.4 (MH run codes, MR/MMR mode codes) and the lookup arrays built from them.

The tables are written once, as bit strings in the order T.4 prints them (Tables 1/T.4, 2/T.4,
3/T.4 and 4/T.4), and every array the encoder and decoder use is derived from them here, so a
typing slip shows up everywhere at once (and in the tests against libtiff).

Bits are numbered in transmission order throughout the codec: the first bit on the line is the
most significant bit of a code (and of a byte, inside the codec; line order is applied at the
edges by `BIT_REVERSE`).
"""

from __future__ import annotations

import numpy as np

WHITE = 0
BLACK = 1

# Table 1/T.4: terminating codes, run lengths 0..63.
WHITE_TERMINATING = (
    "00110101 000111 0111 1000 1011 1100 1110 1111 10011 10100 00111 01000 001000 000011 110100"
    " 110101 101010 101011 0100111 0001100 0001000 0010111 0000011 0000100 0101000 0101011"
    " 0010011 0100100 0011000 00000010 00000011 00011010 00011011 00010010 00010011 00010100"
    " 00010101 00010110 00010111 00101000 00101001 00101010 00101011 00101100 00101101 00000100"
    " 00000101 00001010 00001011 01010010 01010011 01010100 01010101 00100100 00100101 01011000"
    " 01011001 01011010 01011011 01001010 01001011 00110010 00110011 00110100"
).split()
BLACK_TERMINATING = (
    "0000110111 010 11 10 011 0011 0010 00011 000101 000100 0000100 0000101 0000111 00000100"
    " 00000111 000011000 0000010111 0000011000 0000001000 00001100111 00001101000 00001101100"
    " 00000110111 00000101000 00000010111 00000011000 000011001010 000011001011 000011001100"
    " 000011001101 000001101000 000001101001 000001101010 000001101011 000011010010 000011010011"
    " 000011010100 000011010101 000011010110 000011010111 000001101100 000001101101 000011011010"
    " 000011011011 000001010100 000001010101 000001010110 000001010111 000001100100 000001100101"
    " 000001010010 000001010011 000000100100 000000110111 000000111000 000000100111 000000101000"
    " 000001011000 000001011001 000000101011 000000101100 000001011010 000001100110 000001100111"
).split()

# Table 2/T.4: make-up codes, run lengths 64, 128, ... 1728.
WHITE_MAKEUP = (
    "11011 10010 010111 0110111 00110110 00110111 01100100 01100101 01101000 01100111 011001100"
    " 011001101 011010010 011010011 011010100 011010101 011010110 011010111 011011000 011011001"
    " 011011010 011011011 010011000 010011001 010011010 011000 010011011"
).split()
BLACK_MAKEUP = (
    "0000001111 000011001000 000011001001 000001011011 000000110011 000000110100 000000110101"
    " 0000001101100 0000001101101 0000001001010 0000001001011 0000001001100 0000001001101"
    " 0000001110010 0000001110011 0000001110100 0000001110101 0000001110110 0000001110111"
    " 0000001010010 0000001010011 0000001010100 0000001010101 0000001011010 0000001011011"
    " 0000001100100 0000001100101"
).split()
# Table 3/T.4: extended make-up codes, 1792 ... 2560, the same for both colours.
EXTENDED_MAKEUP = (
    "00000001000 00000001100 00000001101 000000010010 000000010011 000000010100 000000010101"
    " 000000010110 000000010111 000000011100 000000011101 000000011110 000000011111"
).split()

EOL = "000000000001"
EOL_BITS = 12
MAX_MAKEUP = 2560  # longest single make-up code; longer runs repeat it (T.4 4.1.1.2)

# Table 4/T.4: two-dimensional mode codes (a1 - b1 = d for the vertical modes).
PASS = "0001"
HORIZONTAL = "001"
VERTICAL = {0: "1", 1: "011", 2: "000011", 3: "0000011", -1: "010", -2: "000010", -3: "0000010"}
EXTENSION_2D = "0000001"  # followed by 3 bits: uncompressed mode etc. (not supported)

# Mode numbers used by the two-dimensional decoder (MODE_TABLE).
MODE_INVALID, MODE_PASS, MODE_HORIZONTAL, MODE_VERTICAL, MODE_EXTENSION, MODE_ZEROS = range(6)

RUN_PEEK = 13  # the longest run code (black make-up) is 13 bits
MODE_PEEK = 7  # the longest mode code (VL3/VR3, extension prefix) is 7 bits

# Bytes with their bit order reversed: line order (LSB first) <-> codec order (MSB first).
BIT_REVERSE = np.array([int(f"{b:08b}"[::-1], 2) for b in range(256)], dtype=np.uint8)


def _makeup_codes(makeup: list[str]) -> list[str]:
    return makeup + EXTENDED_MAKEUP


def _run_codes(colour: int) -> tuple[list[str], list[str]]:
    if colour == WHITE:
        return WHITE_TERMINATING, _makeup_codes(WHITE_MAKEUP)
    return BLACK_TERMINATING, _makeup_codes(BLACK_MAKEUP)


def _encoder_tables() -> tuple[np.ndarray, np.ndarray]:
    """RUN_CODE[colour, i], RUN_LENGTH[colour, i]: i < 64 terminating code of run i; 63 + m the
    make-up code of run 64 * m (m = 1..40)."""
    code = np.zeros((2, 104), dtype=np.int64)
    length = np.zeros((2, 104), dtype=np.int64)
    for colour in (WHITE, BLACK):
        terminating, makeup = _run_codes(colour)
        for i, bits in enumerate(terminating):
            code[colour, i] = int(bits, 2)
            length[colour, i] = len(bits)
        for m, bits in enumerate(makeup, start=1):
            code[colour, 63 + m] = int(bits, 2)
            length[colour, 63 + m] = len(bits)
    return code, length


def _decoder_table(colour: int) -> np.ndarray:
    """Indexed by the next 13 bits: run * 16 + code length, 0 for no valid code, -1 for EOL."""
    table = np.zeros(1 << RUN_PEEK, dtype=np.int32)
    terminating, makeup = _run_codes(colour)
    entries = [(bits, run) for run, bits in enumerate(terminating)]
    entries += [(bits, 64 * m) for m, bits in enumerate(makeup, start=1)]
    for bits, run in entries:
        span = 1 << (RUN_PEEK - len(bits))
        first = int(bits, 2) * span
        assert not table[first : first + span].any(), f"code {bits} overlaps another"
        table[first : first + span] = run * 16 + len(bits)
    span = 1 << (RUN_PEEK - EOL_BITS)
    first = int(EOL, 2) * span
    table[first : first + span] = -1
    return table


def _mode_table() -> np.ndarray:
    """Indexed by the next 7 bits: mode * 256 + (d + 3) * 16 + code length."""
    table = np.zeros(1 << MODE_PEEK, dtype=np.int32)
    entries = [(PASS, MODE_PASS, 0), (HORIZONTAL, MODE_HORIZONTAL, 0)]
    entries += [(bits, MODE_VERTICAL, d) for d, bits in VERTICAL.items()]
    entries += [(EXTENSION_2D, MODE_EXTENSION, 0), ("0000000", MODE_ZEROS, 0)]
    for bits, mode, d in entries:
        span = 1 << (MODE_PEEK - len(bits))
        first = int(bits, 2) * span
        assert not table[first : first + span].any(), f"mode code {bits} overlaps another"
        table[first : first + span] = mode * 256 + (d + 3) * 16 + len(bits)
    return table


RUN_CODE, RUN_LENGTH = _encoder_tables()
RUN_TABLE = np.stack([_decoder_table(WHITE), _decoder_table(BLACK)])
MODE_TABLE = _mode_table()
VERTICAL_CODE = np.array([int(VERTICAL[d], 2) for d in range(-3, 4)], dtype=np.int64)
VERTICAL_LENGTH = np.array([len(VERTICAL[d]) for d in range(-3, 4)], dtype=np.int64)
