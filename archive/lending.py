"""Long texts handed to a statement through a SQL function instead of bound to it.

SQLite copies a bound value and the connection's cached statement keeps that copy until the
statement's next use; binding a ``str`` also leaves its UTF-8 copy on it. For the body of an
18 MiB page (and the token stream the index makes of it) that held the text two or three more
times through the rest of a batch. A lent text is made into the value the statement asks for
(:class:`Lender`'s ``make``) only when it runs, and SQLite lets that value go once done.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import sqlite_utils


class _Held(threading.local):
    """The texts lent to the statement this thread is running."""

    texts: Sequence[str] = ()


class Lender:
    """SQL function ``name(n)``: ``make`` of text ``n`` of those lent (:meth:`lending`), as TEXT."""

    def __init__(self, name: str, make: Callable[[str], bytes | memoryview]):
        self.name = name
        self._make = make
        self._held = _Held()

    def register(self, db: sqlite_utils.Database) -> None:
        """Let the connection's statements ask for lent texts."""
        db.register_function(self._value, name=self.name)  # once a connection

    def sql(self, n: int) -> str:
        """The SQL expression of lent text ``n`` (UTF-8 given to SQLite as the text it spells)."""
        return f"CAST({self.name}({n}) AS TEXT)"

    @contextmanager
    def lending(self, texts: Sequence[str]) -> Iterator[None]:
        """``texts`` lent while the block runs its statement (on this thread), then let go."""
        self._held.texts = texts
        try:
            yield
        finally:
            del self._held.texts  # back to the class default: no text held

    def _value(self, n: int) -> bytes | memoryview:
        return self._make(self._held.texts[n])
