"""Is a fetched page a bulletin? Judged by its content, never by its URL.

A column's list may link pages that are not documents (a sub-column's index, a login page, a
"more" page); discovery by structure cannot always tell from the link alone. A bulletin has a
title and a date (from its metadata block, its ``<meta>`` tags or its URL) and something to
say: body text or attached files. A page without them is recorded as "not a bulletin" with
the reason, and never stored as one.
"""
from __future__ import annotations

from typing import Any

from lxml.etree import _Element

from pipelines.body import extract_body
from pipelines.text import normalize_line, string_value

#: Every reason given here starts with this (the spider counts such pages per column).
NOT_A_BULLETIN = "not a bulletin"
#: Why a start page is refused as a column's list page (see :func:`reads_as_document`).
NOT_A_LIST = "not a list: a document (its only list is a box beside it)"
#: Characters of body text, links' text aside, that make a page a document: what a list page
#: shows besides its links is a heading, a pager and a few dates.
DOCUMENT_CHARS = 200


def not_a_bulletin(record: Any) -> str | None:
    """Why the extracted ``record`` is not a bulletin, or None when it is one."""
    missing = [what for what, present in (
        ("no title", bool(record.title)),
        ("no date", bool(record.published)),
        ("no body and no attachment", bool(record.body or record.attachments)),
    ) if not present]
    return f"{NOT_A_BULLETIN}: {', '.join(missing)}" if missing else None


def reads_as_document(tree: _Element) -> bool:
    """Whether the page is a document itself: its body, found as extraction finds it, says something
    at length besides its links. For a start page whose only list is a box of its chrome (a
    sidebar of a bulletin page, given where its column's list page was meant)."""
    body = extract_body(tree)
    text = sum(len(line) for line in body.lines)
    links = 0 if body.element is None else sum(len(normalize_line(string_value(a))) for a in body.element.iter("a"))
    return text - links >= DOCUMENT_CHARS
