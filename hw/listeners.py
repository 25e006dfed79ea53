"""Typed listener lists: how one part of the machine tells others that something happened.

A `Listeners[[A, B]]` holds callables taking (A, B); calling it calls each in the order they
were added, over a copy of the list, so a listener may add or remove listeners (itself included)
while it is being told. Hardware models use them as their interrupt lines (sensor edges, line
events, key make and break), the firmware for what its units report (a page printed, a call
ended). Listeners should be bound methods or module functions, not lambdas: a simulation can then
be saved whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, ParamSpec

P = ParamSpec("P")


class Listeners(Generic[P]):
    __slots__ = ("_fns",)

    def __init__(self) -> None:
        self._fns: list[Callable[P, None]] = []

    def add(self, fn: Callable[P, None]) -> None:
        self._fns.append(fn)

    def discard(self, fn: Callable[P, None]) -> None:
        """Remove `fn` if it is there (a listener added twice is removed once)."""
        if fn in self._fns:
            self._fns.remove(fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for fn in list(self._fns):
            fn(*args, **kwargs)

    def __contains__(self, fn: object) -> bool:
        return fn in self._fns

    def __len__(self) -> int:
        return len(self._fns)

    def __iter__(self) -> Iterator[Callable[P, None]]:
        return iter(list(self._fns))

    def clear(self) -> None:
        self._fns.clear()
