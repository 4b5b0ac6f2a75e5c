"""Search results: the matching bulletins with their columns, snippet and match marks."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlite_utils

from archive.search import planner
from archive.search.query import Filters, QueryError, parse_query
from archive.search.snippets import Span, cut_snippet, mark, title_marks

#: Bulletin columns a hit carries besides title and body, in the order a reader wants them.
HIT_COLUMNS = (
    "url", "published", "issued", "site", "publisher", "index_no", "doc_no", "category",
    "validity", "attachments", "fetched_at", "missing_since",
)


@dataclass(frozen=True)
class SearchHit:
    """One result. ``snippet`` is plain text; ``snippet_marks``/``title_marks`` locate the matches."""

    rowid: int
    url: str
    title: str
    published: str | None
    site: str | None
    publisher: str | None
    snippet: str
    #: Negated bm25 (higher is better; title hits weigh TITLE_WEIGHT); None when not ranked
    #: (sorted by newest, or a query without letters/digits).
    score: float | None
    snippet_marks: tuple[Span, ...] = ()
    title_marks: tuple[Span, ...] = ()
    issued: str | None = None
    index_no: str | None = None
    doc_no: str | None = None
    category: str | None = None
    validity: str | None = None
    #: JSON list of {"name", "url"}, as stored.
    attachments: str | None = None
    fetched_at: str | None = None
    missing_since: str | None = None

    @property
    def marked_snippet(self) -> str:
        """The snippet with matches in 【…】 (what ``--json`` prints)."""
        return mark(self.snippet, self.snippet_marks)


def search(
    db: sqlite_utils.Database,
    query: str,
    *,
    limit: int | None = 20,
    since: str | date | None = None,
    until: str | date | None = None,
    publisher: str | None = None,
    site: str | None = None,
    portal: str | None = None,
    sort: str = "relevance",
) -> list[SearchHit]:
    """Bulletins containing every word of ``query``, best first (or newest first).

    Each hit is checked against its text while cutting the snippet, so results are exact even for
    queries with punctuation. Raises :class:`QueryError` for a bad query, date or sort.
    """
    if sort not in planner.SORTS:
        raise QueryError(f"sort must be one of {', '.join(planner.SORTS)}, not {sort!r}")
    if limit is not None and limit < 1:
        raise QueryError(f"limit must be at least 1, not {limit}")
    parsed = parse_query(query)
    filters = Filters.make(since, until, publisher, site, portal)
    candidates = planner.candidates(db, parsed, filters, sort)
    columns = ", ".join(HIT_COLUMNS) + ", title, body"
    hits: list[SearchHit] = []
    for row, score in planner.verified(db, parsed, candidates, columns, limit or 256):
        values = dict(zip(HIT_COLUMNS, row[1:]))
        title, body = row[-2] or "", row[-1] or ""
        snippet, snippet_marks = cut_snippet(body, parsed.needles)
        hits.append(SearchHit(
            rowid=row[0], title=title, snippet=snippet, score=score, snippet_marks=snippet_marks,
            title_marks=title_marks(title, parsed.needles), **values,
        ))
        if limit is not None and len(hits) >= limit:
            break
    return hits
