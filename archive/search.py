"""Chinese full-text search over the archive: exact substring semantics on a bigram FTS5 index.

Semantics: a query word matches a bulletin exactly when its title or body contains the word as a
substring (Latin case-insensitively, see :func:`fold`); words separated by whitespace must all
match. Queries are 1–:data:`MAX_QUERY_CHARS` characters of any text; nothing the user types is
ever passed to ``MATCH`` or SQL unquoted.

Index: every *run* (maximal sequence of letters, digits and CJK characters, Latin folded to lower
case) becomes its overlapping bigrams plus its last character alone (``咸宁市`` → ``咸宁 宁市 市``,
``GDP增长`` → ``gd dp p增 增长 长``), stored in a contentless FTS5 table whose rowid is the
bulletin's rowid. Because runs mix digits, Latin and CJK, ``2020年``, ``5G`` and ``GDP增长`` are
inside one run, and because a run's stream ends with a lone character, a phrase of bigrams can never
straddle two runs: a word without punctuation becomes one phrase (``常务会议`` → ``"常务" + "务会" +
"会议"``, ``督`` → ``"督"*`` via the 1-character prefix index) that matches exactly the bulletins
containing it, so no verification is needed. A word with punctuation or symbols (``1.6436亿元``)
becomes an AND of the phrases of its runs — a superset — and the candidates are checked against the
original text in Python. A word with no letters/digits at all (``（``) is found by scanning.

The ``ascii`` FTS5 tokenizer is used on purpose: it splits only on ASCII non-alphanumerics, so every
bigram we write (which contains only alphanumerics and non-ASCII letters) stays one token.

Contentless FTS5 on SQLite 3.40 can only forget a row when told its old tokens, hence the index
API takes the previous title/body. ``search_meta`` stores the scheme (tokenizer rule + table
declaration), so changing either rebuilds the index on the next :func:`ensure_search_shape`, and a
count/rowid-sum of what was indexed, so :func:`index_status` can tell when rows were written without
being indexed (or renumbered by ``VACUUM``, which contentless tables cannot follow).
"""
from __future__ import annotations

import logging
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import islice

import sqlite_utils

logger = logging.getLogger(__name__)

FTS_TABLE = "bulletins_fts"
META_TABLE = "search_meta"
#: Longest query accepted (after stripping surrounding whitespace).
MAX_QUERY_CHARS = 30
#: bm25 column weights: a hit in the title counts this many times a hit in the body.
TITLE_WEIGHT = 3.0
#: Marks around matches in JSON snippets (and the default of :func:`mark`).
MARK_OPEN, MARK_CLOSE = "【", "】"
#: Snippet length in characters, and how much text to keep before the first match.
SNIPPET_CHARS = 80
SNIPPET_LEAD = 20
SORTS = ("relevance", "newest")

_FTS_DDL = (
    f"CREATE VIRTUAL TABLE [{FTS_TABLE}] USING fts5("
    "title, body, content='', prefix='1', tokenize='ascii')"
)
#: Bump the prefix whenever fold(), _RUN or tokenize_for_index() change; the declaration is
#: part of the scheme so editing it also triggers a rebuild.
SCHEME = "bigram-v1|" + _FTS_DDL

#: A run: letters, digits and CJK characters (Unicode alphanumerics), without "_".
_RUN = re.compile(r"[^\W_]+")
_SPACE = re.compile(r"\s+")
_BATCH = 200


class QueryError(ValueError):
    """The query or a filter cannot be searched (empty, too long, bad date); the message says why."""


def fold(text: str) -> str:
    """Lower-case ``text`` keeping its length, so offsets in the folded text are offsets in the original.

    Final sigma is folded to σ because ``str.lower`` is context-sensitive for it (``ΑΣ`` alone
    lowers to ``ας`` but inside ``ΑΣΒ`` to ``ασ``), which would break substring matching.
    """
    lowered = text.lower()
    if len(lowered) != len(text):  # e.g. "İ" lowers to two characters: keep such characters
        lowered = "".join(c if len(low := c.lower()) != 1 else low for c in text)
    return lowered.replace("ς", "σ")


def _bigrams(run: str) -> list[str]:
    return list(map(operator.add, run, run[1:]))


def tokenize_for_index(text: str) -> str:
    """The token stream stored for ``text``: per run, its bigrams then its last character."""
    tokens: list[str] = []
    for run in _RUN.findall(fold(text or "")):
        tokens.extend(map(operator.add, run, run[1:]))
        tokens.append(run[-1])
    return " ".join(tokens)


def _phrase(run: str, ends_run: bool) -> str:
    """FTS5 phrase for a run of the query; ``ends_run`` when punctuation follows it in the query."""
    tokens = _bigrams(run) + ([run[-1]] if ends_run else [])
    if not tokens:  # one character that may be followed by more: any token starting with it
        return f'"{run}"*'
    return " + ".join(f'"{token}"' for token in tokens)


@dataclass(frozen=True)
class QueryWord:
    """One whitespace-separated word of a query, folded."""

    text: str
    #: FTS5 phrases that every bulletin containing the word matches (empty: no letters/digits).
    phrases: tuple[str, ...]
    #: True when matching the phrases is the same as containing the word (no check needed).
    exact: bool


def _parse_word(word: str) -> QueryWord:
    runs = list(_RUN.finditer(word))
    if len(runs) == 1 and runs[0].group() == word:
        return QueryWord(word, (_phrase(word, False),), True)
    phrases = [_phrase(m.group(), m.end() < len(word)) for m in runs]
    # Candidates are verified anyway, so drop bare 1-character prefixes (huge doclists) when a
    # more selective phrase exists.
    selective = [p for p in phrases if not p.endswith("*")]
    return QueryWord(word, tuple(dict.fromkeys(selective or phrases)), False)


@dataclass(frozen=True)
class ParsedQuery:
    """A query split into words, with its FTS5 expression and whether that alone is exact."""

    text: str
    words: tuple[QueryWord, ...]

    @property
    def match(self) -> str:
        """FTS5 ``MATCH`` expression; ``""`` when no word has letters or digits (scan instead)."""
        phrases = dict.fromkeys(p for w in self.words for p in w.phrases)
        return " AND ".join(phrases)

    @property
    def exact(self) -> bool:
        return all(w.exact for w in self.words)

    @property
    def needles(self) -> tuple[str, ...]:
        return tuple(w.text for w in self.words)

    def matches(self, title: str | None, body: str | None) -> bool:
        """The definition of a match, checked on the original text."""
        folded_title, folded_body = fold(title or ""), fold(body or "")
        return all(n in folded_title or n in folded_body for n in self.needles)


def parse_query(query: str) -> ParsedQuery:
    """Split and validate a user query; raises :class:`QueryError` when empty or too long."""
    stripped = (query or "").strip()
    if not stripped:
        raise QueryError("empty query")
    if len(stripped) > MAX_QUERY_CHARS:
        raise QueryError(
            f"query too long: {len(stripped)} characters (at most {MAX_QUERY_CHARS})"
        )
    words = dict.fromkeys(fold(stripped).split())
    return ParsedQuery(stripped, tuple(_parse_word(w) for w in words))


def build_match(query: str) -> str:
    """The FTS5 expression for ``query`` (quoted bigram phrases joined by AND).

    ``""`` when the query has no letters, digits or CJK characters (there is nothing to look up;
    :func:`search` scans instead). Raises :class:`QueryError` for an empty or too long query.
    """
    return parse_query(query).match


# --- index maintenance -------------------------------------------------------------------


def _meta(db: sqlite_utils.Database, key: str) -> object:
    row = db.execute(f"SELECT value FROM [{META_TABLE}] WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def _set_meta(db: sqlite_utils.Database, key: str, value: object) -> None:
    db.execute(
        f"INSERT INTO [{META_TABLE}](key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


def _count_indexed(db: sqlite_utils.Database, rowid: int, sign: int) -> None:
    """Keep the indexed count and rowid sum that :func:`index_status` compares with the table."""
    db.execute(
        f"UPDATE [{META_TABLE}] SET value = value + ? WHERE key = 'docs'", [sign]
    )
    db.execute(
        f"UPDATE [{META_TABLE}] SET value = value + ? WHERE key = 'rowid_sum'", [sign * rowid]
    )


def _streams(title: str | None, body: str | None) -> tuple[str, str]:
    return tokenize_for_index(title or ""), tokenize_for_index(body or "")


def _fts_delete(db: sqlite_utils.Database, rowid: int, title: str | None, body: str | None) -> None:
    db.execute(
        f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}], rowid, title, body) VALUES ('delete', ?, ?, ?)",
        [rowid, *_streams(title, body)],
    )


def index_bulletin(
    db: sqlite_utils.Database,
    rowid: int,
    title: str | None,
    body: str | None,
    previous: tuple[str | None, str | None] | None = None,
) -> None:
    """Index (or re-index) bulletin ``rowid`` after it was inserted or updated.

    ``previous`` is the (title, body) the row had when it was last indexed, ``None`` for a new
    row: a contentless index can only drop the old tokens when given them again. The row's rowid
    must not change on update (use upsert, not INSERT OR REPLACE).
    """
    if previous is not None and (previous[0] or "", previous[1] or "") == (title or "", body or ""):
        return
    with db.atomic():
        if previous is not None:
            _fts_delete(db, rowid, *previous)
        db.execute(
            f"INSERT INTO [{FTS_TABLE}](rowid, title, body) VALUES (?, ?, ?)",
            [rowid, *_streams(title, body)],
        )
        if previous is None:
            _count_indexed(db, rowid, +1)


def delete_from_index(
    db: sqlite_utils.Database, rowid: int, title: str | None, body: str | None
) -> None:
    """Forget bulletin ``rowid``; ``title``/``body`` must be what was indexed for it."""
    with db.atomic():
        _fts_delete(db, rowid, title, body)
        _count_indexed(db, rowid, -1)


def rebuild_index(
    db: sqlite_utils.Database, progress: Callable[[int, int], None] | None = None
) -> int:
    """Drop and rebuild the index from ``bulletins`` in one transaction; returns rows indexed.

    One transaction means concurrent readers keep the old index until the new one is complete,
    and a crash leaves the old index and scheme in place. ``progress(done, total)`` is called
    every few hundred rows.
    """
    with db.atomic():
        db.execute(f"CREATE TABLE IF NOT EXISTS [{META_TABLE}] (key TEXT PRIMARY KEY, value)")
        db.execute(f"DROP TABLE IF EXISTS [{FTS_TABLE}]")
        db.execute(_FTS_DDL)
        total, rowid_sum = db.execute("SELECT count(*), total(rowid) FROM bulletins").fetchone()
        done = 0

        def rows() -> Iterator[tuple[int, str, str]]:
            nonlocal done
            for rowid, title, body in db.conn.execute("SELECT rowid, title, body FROM bulletins"):
                yield (rowid, *_streams(title, body))
                done += 1
                if progress is not None and done % 500 == 0:
                    progress(done, total)

        db.conn.executemany(
            f"INSERT INTO [{FTS_TABLE}](rowid, title, body) VALUES (?, ?, ?)", rows()
        )
        db.execute(f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}]) VALUES ('optimize')")
        _set_meta(db, "scheme", SCHEME)
        _set_meta(db, "docs", done)
        _set_meta(db, "rowid_sum", int(rowid_sum))
    if progress is not None:
        progress(done, total)
    return done


def ensure_search_shape(db: sqlite_utils.Database) -> bool:
    """Create the search index, or rebuild it when its scheme is not this code's; True if rebuilt."""
    if (
        db[META_TABLE].exists()
        and db[FTS_TABLE].exists()
        and _meta(db, "scheme") == SCHEME
    ):
        return False
    rows = db.execute("SELECT count(*) FROM bulletins").fetchone()[0]
    if rows:
        logger.warning("search index missing or outdated: indexing %d bulletins", rows)
    rebuild_index(db)
    return True


@dataclass(frozen=True)
class IndexStatus:
    """What the index believes it holds versus what ``bulletins`` holds."""

    indexed: int
    rows: int
    in_sync: bool


def index_status(db: sqlite_utils.Database) -> IndexStatus:
    """Compare indexed count and rowid sum with the table (cheap; catches unindexed writes)."""
    rows, rowid_sum = db.execute("SELECT count(*), total(rowid) FROM bulletins").fetchone()
    docs, indexed_sum = _meta(db, "docs") or 0, _meta(db, "rowid_sum") or 0
    return IndexStatus(int(docs), rows, (docs, indexed_sum) == (rows, int(rowid_sum)))


# --- querying ------------------------------------------------------------------------------


def _iso_day(value: str | date | None, name: str) -> str | None:
    if value is None or isinstance(value, date):
        return value.isoformat() if value else None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise QueryError(f"{name}: not a date (YYYY-MM-DD): {value!r}") from None


@dataclass(frozen=True)
class Filters:
    """Row filters: published date range (inclusive), publisher substring, exact site (host)."""

    since: str | None = None
    until: str | None = None
    publisher: str | None = None
    site: str | None = None

    @classmethod
    def make(
        cls,
        since: str | date | None = None,
        until: str | date | None = None,
        publisher: str | None = None,
        site: str | None = None,
    ) -> Filters:
        """Validate and normalise; raises :class:`QueryError` for bad or inverted dates."""
        made = cls(_iso_day(since, "since"), _iso_day(until, "until"), publisher or None, site or None)
        if made.since and made.until and made.since > made.until:
            raise QueryError(f"since ({made.since}) is after until ({made.until})")
        return made

    def sql(self) -> tuple[str, list[object]]:
        """``AND …`` conditions on table ``bulletins`` with their parameters."""
        conditions = [
            ("bulletins.published >= ?", self.since),
            ("bulletins.published <= ?", self.until),
            ("instr(bulletins.publisher, ?) > 0", self.publisher),
            ("bulletins.site = ?", self.site),
        ]
        used = [(sql, value) for sql, value in conditions if value is not None]
        return "".join(f" AND {sql}" for sql, _ in used), [value for _, value in used]


_ORDER = {
    "relevance": "score DESC, bulletins.published DESC, bulletins.rowid DESC",
    "newest": "bulletins.published DESC, score DESC, bulletins.rowid DESC",
    "rowid": "bulletins.rowid",
}


def _source(parsed: ParsedQuery, filters: Filters) -> tuple[str, str, list[object]]:
    """(score expression, ``FROM … WHERE …``, parameters) selecting the candidate rows.

    Candidates are exactly the matches when ``parsed.exact``, a superset otherwise. The score is
    the negated bm25 (higher is better), 0.0 when the query has to be scanned.
    """
    where, params = filters.sql()
    if parsed.match:
        return (
            f"-bm25([{FTS_TABLE}], {float(TITLE_WEIGHT)!r}, 1.0)",  # a constant, not input
            f"FROM [{FTS_TABLE}] JOIN bulletins ON bulletins.rowid = [{FTS_TABLE}].rowid "
            f"WHERE [{FTS_TABLE}] MATCH ?{where}",
            [parsed.match, *params],
        )
    # No letters or digits to look up: scan, letting SQLite pre-filter words that have no case
    # (instr is exact for them); the caller verifies every candidate.
    scan = [n for n in parsed.needles if n.isprintable() and n.lower() == n.upper()]
    where += "".join(
        " AND (instr(bulletins.title, ?) > 0 OR instr(bulletins.body, ?) > 0)" for _ in scan
    )
    return "0.0", f"FROM bulletins WHERE 1{where}", [*params, *(v for n in scan for v in (n, n))]


def _candidates(
    db: sqlite_utils.Database,
    parsed: ParsedQuery,
    filters: Filters,
    order: str,
    limit: int | None = None,
) -> Iterator[tuple[int, float]]:
    """(rowid, score) of the candidate rows in ``order`` (a key of ``_ORDER``)."""
    score, source, params = _source(parsed, filters)
    sql = f"SELECT bulletins.rowid, {score} AS score {source} ORDER BY {_ORDER[order]}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    yield from db.execute(sql, params)


def _batched(items: Iterable[tuple[int, float]], size: int) -> Iterator[list[tuple[int, float]]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _rows(
    db: sqlite_utils.Database, rowids: Sequence[int], columns: str
) -> dict[int, tuple]:
    placeholders = ", ".join("?" * len(rowids))
    cursor = db.execute(
        f"SELECT rowid, {columns} FROM bulletins WHERE rowid IN ({placeholders})", list(rowids)
    )
    return {row[0]: row for row in cursor}


def _verified(
    db: sqlite_utils.Database,
    parsed: ParsedQuery,
    candidates: Iterable[tuple[int, float]],
    columns: str,
) -> Iterator[tuple[tuple, float]]:
    """Rows (rowid + ``columns``, which must end with title, body) of candidates that truly match."""
    for batch in _batched(candidates, _BATCH):
        rows = _rows(db, [rowid for rowid, _ in batch], columns)
        for rowid, score in batch:
            row = rows.get(rowid)
            if row is not None and parsed.matches(row[-2], row[-1]):
                yield row, score


def _matching(db: sqlite_utils.Database, parsed: ParsedQuery, filters: Filters) -> Iterator[int]:
    candidates = _candidates(db, parsed, filters, "rowid")
    if parsed.exact:
        return (rowid for rowid, _ in candidates)
    return (row[0] for row, _ in _verified(db, parsed, candidates, "title, body"))


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


Span = tuple[int, int]


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
    score: float
    snippet_marks: tuple[Span, ...] = field(default=())
    title_marks: tuple[Span, ...] = field(default=())

    @property
    def marked_snippet(self) -> str:
        """The snippet with matches in 【…】 (what ``--json`` prints)."""
        return mark(self.snippet, self.snippet_marks)


def mark(text: str, spans: Iterable[Span], open_: str = MARK_OPEN, close: str = MARK_CLOSE) -> str:
    """``text`` with each (start, end) span wrapped in ``open_``/``close``."""
    out, at = [], 0
    for start, end in spans:
        out += [text[at:start], open_, text[start:end], close]
        at = end
    out.append(text[at:])
    return "".join(out)


def _spans(folded: str, needles: Sequence[str], start: int, end: int) -> list[Span]:
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


def _snippet(text: str, needles: Sequence[str]) -> tuple[str, tuple[Span, ...]]:
    """About :data:`SNIPPET_CHARS` of ``text`` around the first match, whitespace collapsed."""
    folded = fold(text)
    positions = [p for n in needles if (p := folded.find(n)) >= 0]
    start = max(0, min(min(positions, default=0) - SNIPPET_LEAD, len(text) - SNIPPET_CHARS))
    end = min(len(text), start + SNIPPET_CHARS)
    pieces: list[tuple[str, bool]] = []
    at = start
    for s, e in _spans(folded, needles, start, end):
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


def search(
    db: sqlite_utils.Database,
    query: str,
    *,
    limit: int | None = 20,
    since: str | date | None = None,
    until: str | date | None = None,
    publisher: str | None = None,
    site: str | None = None,
    sort: str = "relevance",
) -> list[SearchHit]:
    """Bulletins containing every word of ``query``, best first (or newest first).

    Each hit is checked against its text while cutting the snippet, so results are exact even for
    queries with punctuation. Raises :class:`QueryError` for a bad query, date or sort.
    """
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if limit is not None and limit < 1:
        raise QueryError(f"limit must be at least 1, not {limit}")
    parsed = parse_query(query)
    filters = Filters.make(since, until, publisher, site)
    candidates = _candidates(db, parsed, filters, sort, limit if parsed.exact else None)
    columns = "url, published, site, publisher, title, body"
    hits: list[SearchHit] = []
    for row, score in _verified(db, parsed, candidates, columns):
        rowid, url, published, site_, publisher_, title, body = row
        snippet, snippet_marks = _snippet(body or "", parsed.needles)
        title = title or ""
        title_marks = tuple(_spans(fold(title), parsed.needles, 0, len(title)))
        hits.append(
            SearchHit(rowid, url, title, published, site_, publisher_, snippet, score,
                      snippet_marks, title_marks)
        )
        if limit is not None and len(hits) >= limit:
            break
    return hits
