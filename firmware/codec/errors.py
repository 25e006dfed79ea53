"""The codec's one exception type."""

from __future__ import annotations


class CodecError(Exception):
    """Input the codec cannot work with: a bad argument, a page of the wrong shape, an unreadable
    file. Garbage in a coded stream is not an error: the decoder conceals it and reports it."""
