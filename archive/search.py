"""Chinese full-text search over the archive: exact substring semantics on a bigram FTS5 index.

Semantics: a query word matches a bulletin exactly when its title or body contains the word as a
substring (Latin case-insensitively, see :func:`fold`); words separated by whitespace must all
match. Queries are 1–:data:`MAX_QUERY_CHARS` characters of any text; nothing the user types is
ever passed to ``MATCH`` or SQL unquoted.

Index: every *run* (maximal sequence of letters, digits and CJK characters, Latin folded to lower
case) becomes its overlapping bigrams plus its last character alone (``咸宁市`` → ``咸宁 宁市 市``,
``GDP增长`` → ``gd dp p增 增长 长``), stored in a contentless FTS5 table whose rowid is the
bulletin's rowid. Runs mix digits, Latin and CJK, so ``2020年``, ``5G`` and ``GDP增长`` are one
run; and since a run's stream ends with a lone character, a phrase of bigrams never straddles two
runs. So a word without punctuation becomes one phrase (``常务会议`` → ``"常务" + "务会" +
"会议"``; ``督`` → ``"督"*`` through the 1-character prefix index) that matches exactly the
bulletins containing it. A word with punctuation or symbols (``1.6436亿元``) is looked up by the
phrase of its longest run (a superset) and then checked: with SQL ``instr`` on the raw text when
the word has no letter case (exact, as folding cannot touch it), else in Python on the folded
text. A word with no letters or digits at all (``（``) can only be found by a scan.

The ``ascii`` FTS5 tokenizer is used on purpose: it splits only on ASCII non-alphanumerics, so every
token we write (alphanumerics and non-ASCII characters) stays one token.

Ranking: bm25 (title hits weigh :data:`TITLE_WEIGHT`), reported negated so higher is better, over
the query's uncommon words (in fewer than :data:`COMMON_DOCS` bulletins); a query of common words
only is listed newest first and unscored — that keeps the work bounded (see :func:`_candidates`).
Snippets are cut from the original text in Python (contentless tables have no ``snippet()``).

Contentless FTS5 on SQLite 3.40 can only forget a row when told its old tokens, hence the index
API takes the previous title/body, and rowids must never change (no ``INSERT OR REPLACE``, and
``VACUUM`` may renumber a table without an INTEGER PRIMARY KEY: reindex after it). ``search_meta``
stores the scheme (tokenizer rule + table declaration), so changing either rebuilds the index on
the next :func:`ensure_search_shape`, and a count and rowid sum of what was indexed, so
:func:`index_status` can tell when rows were written without being indexed, or renumbered.
"""
from __future__ import annotations

import io
import logging
import math
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
#: A phrase in at least this many bulletins is common: too costly for bm25 to score and too
#: frequent to rank by (see :func:`_candidates`).
COMMON_DOCS = 2000
#: Newest-first searches of common words probe at most this many of the most recent bulletins
#: one by one before collecting and sorting all the matches.
PROBE_ROWS = 200

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
_BULK_HASH_BYTES = 64 * 1024 * 1024


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
    """Overlapping character pairs: a query phrase of them matches only inside one run."""
    return list(map(operator.add, run, run[1:]))


#: Characters of a run turned into bigrams at a time (bounds the memory of a huge body).
_SLICE = 1 << 16


def tokenize_for_index(text: str) -> str:
    """The token stream stored for ``text``: per run, its bigrams then its last character.

    Written a slice of a run at a time: a body of millions of characters never becomes a
    list of millions of two-character strings (the stream costs about 3× the text, no more).
    """
    stream = io.StringIO()
    separator = ""
    for match in _RUN.finditer(fold(text or "")):
        run = match.group()
        for start in range(0, len(run) - 1, _SLICE):
            stream.write(separator)
            stream.write(" ".join(_bigrams(run[start:start + _SLICE + 1])))
            separator = " "
        stream.write(separator)
        stream.write(run[-1])
        separator = " "
    return stream.getvalue()


def _phrase(run: str, ends_run: bool) -> str:
    """FTS5 phrase for a run of the query; ``ends_run`` when punctuation follows it in the query."""
    tokens = _bigrams(run) + ([run[-1]] if ends_run else [])
    if not tokens:  # one character that may be followed by more: any token starting with it
        return f'"{run}"*'
    return " + ".join(f'"{token}"' for token in tokens)


@dataclass(frozen=True)
class QueryWord:
    """One whitespace-separated word of a query, folded, and how to find it."""

    text: str
    #: FTS5 phrase every bulletin containing the word matches; None when it has no letters/digits.
    phrase: str | None
    #: What must still be checked: "" nothing (the phrase is exact), "sql" the raw text with
    #: instr (exact for a word without case), "python" the folded text.
    check: str


def _parse_word(word: str) -> QueryWord:
    runs = list(_RUN.finditer(word))
    if len(runs) == 1 and runs[0].group() == word:
        return QueryWord(word, _phrase(word, False), "")
    # Punctuation inside: the longest run's phrase narrows the candidates (more phrases would
    # cost more than they filter), the substring check does the rest.
    longest = max(runs, key=lambda m: len(m.group()), default=None)
    phrase = _phrase(longest.group(), longest.end() < len(word)) if longest else None
    caseless = word.isprintable() and word.lower() == word.upper()
    return QueryWord(word, phrase, "sql" if caseless else "python")


@dataclass(frozen=True)
class ParsedQuery:
    """A query split into words, with its FTS5 expression and the checks it still needs."""

    text: str
    words: tuple[QueryWord, ...]

    @property
    def match(self) -> str:
        """FTS5 ``MATCH`` expression; ``""`` when no word has letters or digits (scan instead)."""
        return " AND ".join(dict.fromkeys(w.phrase for w in self.words if w.phrase))

    @property
    def exact(self) -> bool:
        """True when SQL alone selects exactly the matches (no check in Python needed)."""
        return all(w.check != "python" for w in self.words)

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
    pending: "PendingIndex | None" = None,
) -> None:
    """Index (or re-index) bulletin ``rowid`` after it was inserted or updated.

    ``previous`` is the (title, body) the row had when it was last indexed, ``None`` for a new
    row: a contentless index can only drop the old tokens when given them again. The row's rowid
    must not change on update (use upsert, not INSERT OR REPLACE). With ``pending``, the writes
    wait there until the transaction is about to commit (see :class:`PendingIndex`).
    """
    if previous is not None and (previous[0] or "", previous[1] or "") == (title or "", body or ""):
        return
    if pending is not None:
        pending.entries.append((rowid, title, body, previous))
        return
    with db.atomic():
        _index_writes(db, rowid, title, body, previous)


def _index_writes(
    db: sqlite_utils.Database, rowid: int, title: str | None, body: str | None,
    previous: tuple[str | None, str | None] | None,
) -> None:
    if previous is not None:
        _fts_delete(db, rowid, *previous)
    db.execute(
        f"INSERT INTO [{FTS_TABLE}](rowid, title, body) VALUES (?, ?, ?)",
        [rowid, *_streams(title, body)],
    )
    if previous is None:
        _count_indexed(db, rowid, +1)


@dataclass
class PendingIndex:
    """Index writes of a batch transaction, held back until just before it commits.

    FTS5 (SQLite 3.40) flushes its in-memory terms to a new index segment at every savepoint,
    so indexing each bulletin inside the savepoint that stores it writes (and later merges) one
    segment per bulletin: twice the cost of indexing the batch at once. The caller must
    :meth:`flush` inside the same transaction, so table and index still commit together.
    """

    entries: list[tuple[int, str | None, str | None, tuple[str | None, str | None] | None]] = field(
        default_factory=list)

    def flush(self, db: sqlite_utils.Database) -> None:
        """Write the held entries in order (no savepoints: the caller's transaction is the unit)."""
        for entry in self.entries:
            _index_writes(db, *entry)
        self.entries.clear()


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
        # A bigger in-memory buffer (default 1 MB) writes fewer segments: ~40% faster bulk load.
        db.execute(
            f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}], rank) VALUES ('hashsize', ?)", [_BULK_HASH_BYTES]
        )
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
    if not db.conn.in_transaction:  # the WAL now holds a copy of the index: give the space back
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
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
    if value is None or isinstance(value, date):  # a datetime is a date too: keep the day
        return value.strftime("%Y-%m-%d") if value else None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise QueryError(f"{name}: not a date (YYYY-MM-DD): {value!r}") from None


def _text(value: str | None, name: str) -> str | None:
    """A filter value SQLite can bind (a command line can carry undecodable bytes)."""
    if value and not value.isprintable():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise QueryError(f"{name}: not valid text: {value!r}") from None
    return value or None


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
        made = cls(_iso_day(since, "since"), _iso_day(until, "until"),
                   _text(publisher, "publisher"), _text(site, "site"))
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


def _candidates(
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


def _verified(
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
    #: Negated bm25 (higher is better; title hits weigh TITLE_WEIGHT); None when not ranked
    #: (sorted by newest, or a query without letters/digits).
    score: float | None
    snippet_marks: tuple[Span, ...] = ()
    title_marks: tuple[Span, ...] = ()

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


def cut_snippet(text: str, needles: Sequence[str]) -> tuple[str, tuple[Span, ...]]:
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
    candidates = _candidates(db, parsed, filters, sort, limit)
    columns = "url, published, site, publisher, title, body"
    hits: list[SearchHit] = []
    for row, score in _verified(db, parsed, candidates, columns, limit or 256):
        rowid, url, published, site_, publisher_, title, body = row
        snippet, snippet_marks = cut_snippet(body or "", parsed.needles)
        title = title or ""
        title_marks = tuple(_spans(fold(title), parsed.needles, 0, len(title)))
        hits.append(
            SearchHit(rowid, url, title, published, site_, publisher_, snippet, score,
                      snippet_marks, title_marks)
        )
        if limit is not None and len(hits) >= limit:
            break
    return hits
