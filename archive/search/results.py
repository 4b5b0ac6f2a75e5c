"""Search results: the matching bulletins with their columns, snippet and match marks.

A bulletin found through the text of an attachment (a word its page lacks) says which file:
``attachment`` ({name, url}), and its snippet is cut from that file's text.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlite_utils

from archive.search import planner
from archive.search.query import Filters, ParsedQuery, QueryError, parse_query
from archive.search.snippets import Span, cut_snippet, mark, title_marks
from archive.search.tokens import fold

#: Bulletin columns a hit carries besides title and body, in the order a reader wants them.
HIT_COLUMNS = (
    "url", "published", "issued", "site", "portal", "publisher", "index_no", "doc_no", "category",
    "validity", "attachments", "source_url", "list_url", "fetched_at", "first_seen", "last_seen", "missing_since",
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
    portal: str | None = None
    source_url: str | None = None
    list_url: str | None = None
    fetched_at: str | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    missing_since: str | None = None
    #: {"name", "url"} of the attachment whose text holds the words the page lacks (the snippet is
    #: cut from it); None when the page itself matched.
    attachment: dict[str, str | None] | None = None

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
        attachment, text = _matched_attachment(db, parsed, row[0], title, body)
        snippet, snippet_marks = cut_snippet(body if attachment is None else text, parsed.needles)
        hits.append(SearchHit(
            rowid=row[0], title=title, snippet=snippet, score=score, snippet_marks=snippet_marks,
            title_marks=title_marks(title, parsed.needles), attachment=attachment, **values,
        ))
        if limit is not None and len(hits) >= limit:
            break
    return hits


def _matched_attachment(
    db: sqlite_utils.Database, parsed: ParsedQuery, rowid: int, title: str, body: str
) -> tuple[dict[str, str | None] | None, str]:
    """The attachment holding the words the page lacks (the first holding all of them, else the
    most), with its text; (None, "") when the page matched by itself."""
    missing = parsed.missing(title, body)
    if not missing:
        return None, ""
    best, best_found = None, -1
    for url, name, text in planner.attachment_texts(db, rowid):
        folded = fold(text)
        found = sum(needle in folded for needle in missing)
        if found > best_found:
            best, best_found = ({"name": name, "url": url}, text), found
        if found == len(missing):
            break
    return best if best is not None else (None, "")
