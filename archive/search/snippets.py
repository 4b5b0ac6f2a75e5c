"""Snippets and match marks, cut from the original text in Python.

A contentless FTS5 table has no ``snippet()``; and cutting from the original keeps the user's
characters (case, full-width forms) while matching on the folded text, whose offsets are the same.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from archive.search.tokens import folded_for

#: Marks around matches in JSON snippets (and the default of :func:`mark`).
MARK_OPEN, MARK_CLOSE = "【", "】"
#: Snippet length in characters, and how much text to keep before the first match.
SNIPPET_CHARS = 80
SNIPPET_LEAD = 20

Span = tuple[int, int]

_SPACE = re.compile(r"\s+")


def mark(text: str, spans: Iterable[Span], open_: str = MARK_OPEN, close: str = MARK_CLOSE) -> str:
    """``text`` with each (start, end) span wrapped in ``open_``/``close``."""
    out, at = [], 0
    for start, end in spans:
        out += [text[at:start], open_, text[start:end], close]
        at = end
    out.append(text[at:])
    return "".join(out)


def spans(folded: str, needles: Sequence[str], start: int, end: int) -> list[Span]:
    """Merged occurrences of ``needles`` in ``folded``, clipped to [start, end)."""
    found: list[Span] = []
    for needle in needles:
        at = folded.find(needle, max(0, start - len(needle) + 1), end + len(needle) - 1)
        while at >= 0:
            found.append((max(at, start), min(at + len(needle), end)))
            at = folded.find(needle, at + 1, end + len(needle) - 1)
    merged: list[Span] = []
    for span in sorted(found):
        if merged and span[0] <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], span[1]))
        else:
            merged.append(span)
    return merged


def title_marks(title: str, needles: Sequence[str]) -> tuple[Span, ...]:
    """Where the needles occur in a whole title."""
    return tuple(spans(folded_for(title, needles), needles, 0, len(title)))


def cut_snippet(text: str, needles: Sequence[str]) -> tuple[str, tuple[Span, ...]]:
    """About :data:`SNIPPET_CHARS` of ``text`` around the first match, whitespace collapsed."""
    folded = folded_for(text, needles)
    positions = [p for n in needles if (p := folded.find(n)) >= 0]
    start = max(0, min(min(positions, default=0) - SNIPPET_LEAD, len(text) - SNIPPET_CHARS))
    end = min(len(text), start + SNIPPET_CHARS)
    pieces: list[tuple[str, bool]] = []
    at = start
    for s, e in spans(folded, needles, start, end):
        pieces += [(text[at:s], False), (text[s:e], True)]
        at = e
    pieces.append((text[at:end], False))
    out, marks = "…" if start > 0 else "", []
    for i, (piece, marked) in enumerate(pieces):
        piece = _SPACE.sub(" ", piece)
        if i == 0:
            piece = piece.lstrip()
        if i == len(pieces) - 1:
            piece = piece.rstrip()
        if marked:
            marks.append((len(out), len(out) + len(piece)))
        out += piece
    if end < len(text):
        out += "…"
    return out, tuple(marks)
