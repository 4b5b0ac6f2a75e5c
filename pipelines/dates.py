"""Dates as portals write them (``2020年09月16日``, ``2020-9-16 10:20``, ``2020/09/16``) to ISO, and
the time of a fetch as the archive records it."""
from __future__ import annotations

import datetime as dt
import re

_DATE = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*(?:年|[-/.])\s*(?P<m>\d{1,2})\s*(?:月|[-/.])\s*(?P<d>\d{1,2})(?!\d)"
)
_COMPACT = re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})(?P<m>[01]\d)(?P<d>[0-3]\d)(?!\d)")


def utc_now() -> str:
    """Now, as the archive writes its times: ISO 8601 in UTC, to the second."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def parse_date(text: str | None, *, compact: bool = False) -> str | None:
    """The first valid calendar date in ``text`` as ``YYYY-MM-DD``, else ``None``.

    ``compact`` also accepts ``YYYYMMDD`` (as in TRS URLs ``t20200916_…``), which in free
    text would be mistaken for other numbers.
    """
    if not text:
        return None
    patterns = (_DATE, _COMPACT) if compact else (_DATE,)
    for pattern in patterns:
        for match in pattern.finditer(text):
            try:
                return dt.date(int(match["y"]), int(match["m"]), int(match["d"])).isoformat()
            except ValueError:
                continue
    return None
