"""Is a fetched page a bulletin? Judged by its content, never by its URL.

A column's list may link pages that are not documents (a sub-column's index, a login page, a
"more" page); discovery by structure cannot always tell from the link alone. A bulletin has a
title and a date (from its metadata block, its ``<meta>`` tags or its URL) and something to
say: body text or attached files. A page without them is recorded as "not a bulletin" with
the reason, and never stored as one.
"""
from __future__ import annotations

from typing import Any

#: Every reason given here starts with this (the spider counts such pages per column).
NOT_A_BULLETIN = "not a bulletin"


def not_a_bulletin(record: Any) -> str | None:
    """Why the extracted ``record`` is not a bulletin, or None when it is one."""
    missing = [what for what, present in (
        ("no title", bool(record.title)),
        ("no date", bool(record.published)),
        ("no body and no attachment", bool(record.body or record.attachments)),
    ) if not present]
    return f"{NOT_A_BULLETIN}: {', '.join(missing)}" if missing else None
