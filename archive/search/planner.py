"""Query planning: which rows may match, in which order, and how cheaply.

Ranking: bm25 (title hits weigh :data:`TITLE_WEIGHT`), reported negated so higher is better, over
the query's uncommon words (in fewer than :data:`COMMON_DOCS` bulletins); a query of common words
only is listed newest first and unscored: that keeps the work bounded (see :func:`candidates`).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from itertools import islice

import sqlite_utils

from archive.search.index import FTS_TABLE
from archive.search.query import Filters, ParsedQuery, parse_query

#: bm25 column weights: a hit in the title counts this many times a hit in the body.
TITLE_WEIGHT = 3.0
SORTS = ("relevance", "newest")
#: A phrase in at least this many bulletins is common: too costly for bm25 to score and too
#: frequent to rank by (see :func:`candidates`).
COMMON_DOCS = 2000
#: Newest-first searches of common words probe at most this many of the most recent bulletins
#: one by one before collecting and sorting all the matches.
PROBE_ROWS = 200


#: (rowid, score) of a row that may match.
Candidate = tuple[int, float | None]


def _conditions(parsed: ParsedQuery, filters: Filters, checks: bool) -> tuple[str, list[object]]:
    """``AND …`` on ``bulletins``: the filters, and with ``checks`` instr for the words checked in
    SQL (exact, but it reads every candidate's body: a ranked search checks only its top hits)."""
    where, params = filters.sql()
    for needle in (w.text for w in parsed.words if checks and w.check == "sql"):
        where += " AND (instr(bulletins.title, ?) > 0 OR instr(bulletins.body, ?) > 0)"
        params += [needle, needle]
    return where, params


def _source(
    parsed: ParsedQuery, filters: Filters, checks: bool = True, match: str | None = None
) -> tuple[str, str, list[object]]:
    """(rowid column, ``FROM … WHERE …``, parameters) selecting candidate rows.

    ``match`` defaults to the whole query's expression; with it and ``checks`` the rows are
    exactly the matches when ``parsed.exact``, else a superset. Without an FTS expression (no
    letters or digits) every row is a candidate, always pre-checked in SQL.
    """
    match = parsed.match if match is None else match
    where, params = _conditions(parsed, filters, checks or not match)
    if not match:
        return "bulletins.rowid", f"FROM bulletins WHERE 1{where}", params
    fts = f"FROM [{FTS_TABLE}]"
    if where:
        fts += f" JOIN bulletins ON bulletins.rowid = [{FTS_TABLE}].rowid"
    return f"[{FTS_TABLE}].rowid", f"{fts} WHERE [{FTS_TABLE}] MATCH ?{where}", [match, *params]


def _density(db: sqlite_utils.Database, match: str) -> float | None:
    """Estimated share of bulletins matching ``match`` when at least :data:`COMMON_DOCS` do;
    None (uncommon) otherwise. Stops counting at COMMON_DOCS, so it costs little either way."""
    row = db.execute(
        f"SELECT rowid FROM [{FTS_TABLE}] WHERE [{FTS_TABLE}] MATCH ? LIMIT 1 OFFSET ?",
        [match, COMMON_DOCS - 1],
    ).fetchone()
    if row is None:
        return None
    first = db.execute("SELECT min(rowid) FROM bulletins").fetchone()[0] or 1
    return min(1.0, COMMON_DOCS / max(1, row[0] - first + 1))


def candidates(
    db: sqlite_utils.Database,
    parsed: ParsedQuery,
    filters: Filters,
    order: str,
    limit: int | None = None,
) -> Iterator[Candidate]:
    """(rowid, score) of candidate rows in ``order`` ("relevance", "newest" or "rowid").

    In rowid order the candidates are checked in SQL (exactly the matches when ``parsed.exact``);
    the other orders give a superset, which the caller checks while reading the top rows, of
    which ``limit`` is a hint.

    Work stays bounded however common the words. bm25 scores a row only after counting, for its
    IDF, every bulletin containing each phrase — tens of milliseconds for a word in most of
    100,000 bulletins — so relevance ranks by the query's uncommon words only (common ones barely
    move bm25: FTS5 floors the IDF of a word in half the bulletins to ~0), and a query made of
    common words only is listed newest first. Scores are bm25 negated (higher is better), None
    when not ranked.
    """
    if order == "rowid":
        rowid, source, params = _source(parsed, filters)
        return db.execute(f"SELECT {rowid}, NULL {source} ORDER BY {rowid}", params)
    phrases = dict.fromkeys(w.phrase for w in parsed.words if w.phrase)
    densities = {phrase: _density(db, phrase) for phrase in phrases}
    uncommon = [p for p, density in densities.items() if density is None]
    if order == "relevance" and uncommon:
        return _ranked(db, parsed, filters, " AND ".join(uncommon))
    density = None
    if densities and not uncommon:  # the phrases together: one lookup less for a single word
        density = densities.get(parsed.match) or _density(db, parsed.match)
    return _newest(db, parsed, filters, density, limit)


def _ranked(
    db: sqlite_utils.Database, parsed: ParsedQuery, filters: Filters, match: str
) -> Iterator[tuple[int, float]]:
    """bm25 order of the rows matching ``match`` (the uncommon phrases: a few thousand rows)."""
    rowid, source, params = _source(parsed, filters, checks=False, match=match)
    bm25 = f"-bm25([{FTS_TABLE}], {float(TITLE_WEIGHT)!r}, 1.0)"  # the weight is a constant
    return db.execute(f"SELECT {rowid}, {bm25} AS score {source} ORDER BY score DESC, {rowid} DESC", params)


def _newest(
    db: sqlite_utils.Database,
    parsed: ParsedQuery,
    filters: Filters,
    density: float | None,
    limit: int | None,
) -> Iterator[tuple[int, None]]:
    """Newest first, the cheapest way for how common the query is (``density``, None: uncommon).

    Common enough to find ``limit`` matches twice over among the :data:`PROBE_ROWS` most recent
    bulletins: look those up one by one (~50 µs each) first. Then, if the caller reads on (or
    else), collect the matches (cost proportional to the bulletins holding the query's tokens) and
    either sort them (uncommon: few) or walk the ``published`` index and keep those among them
    (common: many, and the walk stops when the caller does), skipping rows already yielded.
    """
    where, params = _conditions(parsed, filters, checks=not parsed.match)
    newest_first = "ORDER BY bulletins.published DESC, bulletins.rowid DESC"
    if not parsed.match:
        sql = f"SELECT bulletins.rowid, NULL FROM bulletins WHERE 1{where} {newest_first}"
        yield from db.execute(sql, params)
        return
    matched = f"SELECT [{FTS_TABLE}].rowid FROM [{FTS_TABLE}] WHERE [{FTS_TABLE}] MATCH ?"
    yielded: set[int] = set()
    probe = math.ceil(2 * limit / density) if density and limit else PROBE_ROWS + 1
    if probe <= PROBE_ROWS:
        # the most recent rows, under the table's name so that the same ORDER BY applies
        recent = (f"(SELECT bulletins.rowid, bulletins.published FROM bulletins WHERE 1{where} "
                  f"{newest_first} LIMIT ?) AS bulletins")
        probed = f"EXISTS ({matched} AND [{FTS_TABLE}].rowid = bulletins.rowid)"
        sql = f"SELECT rowid, NULL FROM {recent} WHERE {probed} {newest_first}"
        for row in db.execute(sql, [*params, probe, parsed.match]):
            yielded.add(row[0])
            yield row
    member = "+bulletins.rowid" if density else "bulletins.rowid"  # "+": scan by date, not by rowid
    sql = f"SELECT bulletins.rowid, NULL FROM bulletins WHERE {member} IN ({matched}){where} {newest_first}"
    for row in db.execute(sql, [parsed.match, *params]):
        if row[0] not in yielded:
            yield row


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


def verified(
    db: sqlite_utils.Database,
    parsed: ParsedQuery,
    candidates: Iterable[Candidate],
    columns: str,
    first: int = 256,
) -> Iterator[tuple[tuple, float | None]]:
    """Rows (rowid + ``columns``, which must end with title, body) of candidates that truly match,
    read in batches starting with ``first``."""
    for batch in _batched(candidates, first):
        rows = _rows(db, [rowid for rowid, _ in batch], columns)
        for rowid, score in batch:
            row = rows.get(rowid)
            if row is not None and parsed.matches(row[-2], row[-1]):
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
) -> Iterator[int]:
    """Rowids of all bulletins matching ``query`` (and filters), ascending.

    Validates eagerly (raises :class:`QueryError` here, not while iterating).
    """
    return _matching(db, parse_query(query), Filters.make(since, until, publisher, site))


def count_matches(
    db: sqlite_utils.Database,
    query: str,
    *,
    since: str | date | None = None,
    until: str | date | None = None,
    publisher: str | None = None,
    site: str | None = None,
) -> int:
    """Number of bulletins matching ``query`` (and filters); raises :class:`QueryError`."""
    parsed = parse_query(query)
    filters = Filters.make(since, until, publisher, site)
    if parsed.exact:
        _, source, params = _source(parsed, filters)
        return db.execute(f"SELECT count(*) {source}", params).fetchone()[0]
    return sum(1 for _ in _matching(db, parsed, filters))


def known_filter_values(
    db: sqlite_utils.Database, filters: Filters, limit: int = 12
) -> dict[str, list[str]]:
    """For each of ``filters``' site and publisher that matches no bulletin, the values that exist.

    Lets a caller say "unknown site x (known: a, b)" instead of "nothing matches". At most
    ``limit`` values each, the most frequent first.
    """
    unknown: dict[str, list[str]] = {}
    for name, value in (("site", filters.site), ("publisher", filters.publisher)):
        if value is None:
            continue
        where, params = Filters(**{name: value}).sql()
        if db.execute(f"SELECT 1 FROM bulletins WHERE 1{where} LIMIT 1", params).fetchone():
            continue
        unknown[name] = [row[0] for row in db.execute(
            f"SELECT {name} FROM bulletins WHERE coalesce({name}, '') != '' "
            f"GROUP BY {name} ORDER BY count(*) DESC, {name} LIMIT ?", [limit])]
    return unknown
