"""A Class 1 (ITU-T T.31) fax modem on a line port and a modem: `at` is the AT command
interpreter (with `syntax`, how a command line reads), `t31` the data phase that does on the line
what a fax command asks. `Class1Modem` is the whole modem as a host sees it; docs/class1.md says what it
understands."""

from ..hdlc import HdlcBitStream
from .at import Class1Modem
from .syntax import AtCommand, AtSyntaxError, parse_command_line
from .t31 import DataPhase, carrier_tail, dle_escape

__all__ = [
    "AtCommand",
    "AtSyntaxError",
    "Class1Modem",
    "DataPhase",
    "HdlcBitStream",
    "carrier_tail",
    "dle_escape",
    "parse_command_line",
]
