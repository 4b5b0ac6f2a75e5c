"""Query planning: which rows may match, in which order, and how cheaply.

Ranking: bm25 (title hits weigh :data:`TITLE_WEIGHT`, attachment text :data:`ATTACHMENT_WEIGHT`),
reported negated so higher is better, over
the query's uncommon words (in fewer than :data:`COMMON_DOCS` bulletins); a query of common words
only is listed newest first and unscored: that keeps the work bounded (see :func:`candidates`).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import date
from itertools import islice

import sqlite_utils

from archive.search.index import BULLETIN_ROWID, FTS_TABLE, ROWID_BITS, day_number
from archive.search.query import Filters, ParsedQuery, contains_sql, parse_query

#: bm25 column weights: a hit in the title counts this many times a hit in the body; a hit in
#: an attachment's text half as much (files often repeat the page, and run long).
TITLE_WEIGHT = 3.0
ATTACHMENT_WEIGHT = 0.5
#: The rank of an index row, higher is better (the CLI, the web search and Datasette's canned query).
RANK_SQL = f"-bm25([{FTS_TABLE}], {TITLE_WEIGHT!r}, 1.0, {ATTACHMENT_WEIGHT!r})"
SORTS = ("relevance", "newest")
#: A phrase in at least this many bulletins is common: too costly for bm25 to score and too
#: frequent to rank by (see :func:`candidates`).
COMMON_DOCS = 2000


#: (rowid, score) of a row that may match.
Candidate = tuple[int, float | None]


def _conditions(parsed: ParsedQuery, filters: Filters, checks: bool) -> tuple[str, list[object]]:
    """``AND …`` on ``bulletins``: the filters, and with ``checks`` instr for the words checked in
    SQL (exact, but it reads every candidate's body: a ranked search checks only its top hits)."""
    where, params = filters.sql()
    for needle in (w.text for w in parsed.words if checks and w.check == "sql"):
        where += f" AND {contains_sql('bulletins', '?')}"
        params += [needle] * 3
    return where, params


def _source(
    parsed: ParsedQuery, filters: Filters, checks: bool = True, match: str | None = None
) -> tuple[str, str, list[object]]:
    """(bulletin rowid column, ``FROM … WHERE …``, parameters) selecting candidate rows.

    ``match`` defaults to the whole query's expression; with it and ``checks`` the rows are
    exactly the matches when ``parsed.exact``, else a superset. Without an FTS expression (no
    letters or digits) every row is a candidate, always pre-checked in SQL. With one, the date
    filters are a range of index keys (no join needed) and the others join ``bulletins``.
    """
    match = parsed.match if match is None else match
    if not match:
        where, params = _conditions(parsed, filters, True)
        return "bulletins.rowid", f"FROM bulletins WHERE 1{where}", params
    where, params = _conditions(parsed, replace(filters, since=None, until=None), checks)
    fts = f"FROM [{FTS_TABLE}]"
    if where:
        fts += f" JOIN bulletins ON bulletins.rowid = {BULLETIN_ROWID}"
    keys, key_params = "", []
    if filters.since:
        keys += f" AND [{FTS_TABLE}].rowid >= ?"
        key_params.append(day_number(filters.since) << ROWID_BITS)
    if filters.until:
        keys += f" AND [{FTS_TABLE}].rowid < ?"
        key_params.append(day_number(filters.until) + 1 << ROWID_BITS)
    return BULLETIN_ROWID, f"{fts} WHERE [{FTS_TABLE}] MATCH ?{keys}{where}", [match, *key_params, *params]


def _common(db: sqlite_utils.Database, phrase: str) -> bool:
    """Whether at least :data:`COMMON_DOCS` bulletins match ``phrase`` (stops counting there)."""
    return db.execute(
        f"SELECT 1 FROM [{FTS_TABLE}] WHERE [{FTS_TABLE}] MATCH ? LIMIT 1 OFFSET ?",
        [phrase, COMMON_DOCS - 1],
    ).fetchone() is not None


def candidates(
    db: sqlite_utils.Database, parsed: ParsedQuery, filters: Filters, order: str
) -> Iterator[Candidate]:
    """(rowid, score) of candidate rows in ``order`` ("relevance", "newest" or "rowid").

    In rowid order the candidates are checked in SQL (exactly the matches when ``parsed.exact``);
    the other orders give a superset, which the caller checks while reading the top rows.

    Work stays bounded however common the words. Newest first reads the index backwards and
    stops when the caller does. bm25 scores a row only after counting, for its IDF, every
    bulletin containing each phrase (tens of milliseconds for a word in most of 100,000
    bulletins), so relevance ranks by the query's uncommon words only (common ones barely move
    bm25: FTS5 floors the IDF of a word in half the bulletins to ~0), and a query made of common
    words only is listed newest first. Scores are bm25 negated (higher is better), None when not
    ranked.
    """
    if order == "rowid":
        rowid, source, params = _source(parsed, filters)
        return db.execute(f"SELECT {rowid}, NULL {source} ORDER BY {rowid}", params)
    if order == "relevance":
        phrases = dict.fromkeys(w.phrase for w in parsed.words if w.phrase)
        uncommon = [phrase for phrase in phrases if not _common(db, phrase)]
        if uncommon:
            return _ranked(db, parsed, filters, " AND ".join(uncommon))
    return _newest(db, parsed, filters)


def _ranked(
    db: sqlite_utils.Database, parsed: ParsedQuery, filters: Filters, match: str
) -> Iterator[tuple[int, float]]:
    """bm25 order of the rows matching ``match`` (the uncommon phrases: a few thousand rows)."""
    rowid, source, params = _source(parsed, filters, checks=False, match=match)
    return db.execute(f"SELECT {rowid}, {RANK_SQL} AS score {source} ORDER BY score DESC, {rowid} DESC", params)


def _newest(db: sqlite_utils.Database, parsed: ParsedQuery, filters: Filters) -> Iterator[tuple[int, None]]:
    """Newest first: the index backwards (its keys lead with the publication day), so the cost is
    that of the rows read, not of all the matches; without an FTS expression, a scan by date."""
    if not parsed.match:
        where, params = _conditions(parsed, filters, True)
        order = "ORDER BY bulletins.published DESC, bulletins.rowid DESC"
        return db.execute(f"SELECT bulletins.rowid, NULL FROM bulletins WHERE 1{where} {order}", params)
    rowid, source, params = _source(parsed, filters, checks=False)
    return db.execute(f"SELECT {rowid}, NULL {source} ORDER BY [{FTS_TABLE}].rowid DESC", params)


def _batched(items: Iterable[Candidate], first: int) -> Iterator[list[Candidate]]:
    """Batches of ``first`` items, then twice as many each time up to 1024: a search often stops
    after its first batch, and must not pull more candidates than it needs (each may cost)."""
    iterator, size = iter(items), first
    while batch := list(islice(iterator, size)):
        yield batch
        size = min(size * 2, 1024)


def _rows(
    db: sqlite_utils.Database, rowids: Sequence[int], columns: str
) -> dict[int, tuple]:
    placeholders = ", ".join("?" * len(rowids))
    cursor = db.execute(
        f"SELECT rowid, {columns} FROM bulletins WHERE rowid IN ({placeholders})", list(rowids)
    )
    return {row[0]: row for row in cursor}


def attachment_texts(db: sqlite_utils.Database, rowid: int) -> list[tuple[str, str | None, str]]:
    """(url, name, text) of each attachment of bulletin ``rowid`` that has text, in URL order."""
    return [tuple(row) for row in db.execute(
        "SELECT a.url, a.name, a.text FROM attachments a JOIN bulletins b ON a.bulletin_url = b.url"
        " WHERE b.rowid = ? AND ifnull(a.text, '') != '' ORDER BY a.url", [rowid])]


def verified(
    db: sqlite_utils.Database,
    parsed: ParsedQuery,
    candidates: Iterable[Candidate],
    columns: str,
    first: int = 256,
) -> Iterator[tuple[tuple, float | None]]:
    """Rows (rowid + ``columns``, which must end with title, body) of candidates that truly match,
    read in batches starting with ``first``. A row whose page lacks a word is checked against the
    text of its attachments (read only then)."""
    for batch in _batched(candidates, first):
        rows = _rows(db, [rowid for rowid, _ in batch], columns)
        for rowid, score in batch:
            row = rows.get(rowid)
            if row is None:
                continue
            if not parsed.missing(row[-2], row[-1]) or not parsed.missing(
                    row[-2], row[-1], *(text for _, _, text in attachment_texts(db, rowid))):
                yield row, score


def _matching(db: sqlite_utils.Database, parsed: ParsedQuery, filters: Filters) -> Iterator[int]:
    found = candidates(db, parsed, filters, "rowid")
    if parsed.exact:
        return (rowid for rowid, _ in found)
    return (row[0] for row, _ in verified(db, parsed, found, "title, body"))


def matching_rowids(
    db: sqlite_utils.Database,
    query: str,
    *,
    since: str | date | None = None,
    until: str | date | None = None,
    publisher: str | None = None,
    site: str | None = None,
    portal: str | None = None,
) -> Iterator[int]:
    """Rowids of all bulletins matching ``query`` (and filters), ascending.

    Validates eagerly (raises :class:`QueryError` here, not while iterating).
    """
    return _matching(db, parse_query(query), Filters.make(since, until, publisher, site, portal))


def count_matches(
    db: sqlite_utils.Database,
    query: str,
    *,
    since: str | date | None = None,
    until: str | date | None = None,
    publisher: str | None = None,
    site: str | None = None,
    portal: str | None = None,
) -> int:
    """Number of bulletins matching ``query`` (and filters); raises :class:`QueryError`."""
    parsed = parse_query(query)
    filters = Filters.make(since, until, publisher, site, portal)
    if parsed.exact:
        _, source, params = _source(parsed, filters)
        return db.execute(f"SELECT count(*) {source}", params).fetchone()[0]
    return sum(1 for _ in _matching(db, parsed, filters))


def known_filter_values(
    db: sqlite_utils.Database, filters: Filters, limit: int = 12
) -> dict[str, list[str]]:
    """For each of ``filters``' site, portal and publisher that matches no bulletin, the values that exist.

    Lets a caller say "unknown site x (known: a, b)" instead of "nothing matches". At most
    ``limit`` values each, the most frequent first.
    """
    unknown: dict[str, list[str]] = {}
    for name, value in (("site", filters.site), ("portal", filters.portal), ("publisher", filters.publisher)):
        if value is None:
            continue
        where, params = Filters(**{name: value}).sql()
        if db.execute(f"SELECT 1 FROM bulletins WHERE 1{where} LIMIT 1", params).fetchone():
            continue
        unknown[name] = [row[0] for row in db.execute(
            f"SELECT {name} FROM bulletins WHERE coalesce({name}, '') != '' "
            f"GROUP BY {name} ORDER BY count(*) DESC, {name} LIMIT ?", [limit])]
    return unknown
