"""Keeping the bigram index in step with ``bulletins``: writes, rebuilds, scheme and status.

One index row per bulletin, three columns: its title, its body, and the text of its archived
attachments (:func:`attachment_text`, the ``attachments.text`` of its files joined in URL
order). Attachments are a column of their bulletin's row, not rows of their own, so a query's
words may be split between the page and its files ("咸宁 财政局" with 财政局 only in the
attached list), the planner stays one FTS5 query in key order, and bm25 weighs the three
(:data:`~archive.search.planner.ATTACHMENT_WEIGHT`). The price: a bulletin's row is rewritten
when the text of one of its files changes (:func:`index_attachments`, given the text indexed
before), and attachment texts change only through the one writer that calls it
(:mod:`crawler.attachments_ingest`).

The index is a contentless FTS5 table whose rowid is a *key*: the bulletin's publication day in
the high bits, its rowid in the low 32 (:func:`fts_key`). FTS5 walks its doclists in rowid
order, so ``ORDER BY rowid DESC`` lists matches newest first and stops after the first few, and a
date filter is a rowid range: a newest-first search of a word in 13,000 bulletins reads its
first 20 instead of sorting all of them. :data:`BULLETIN_ROWID` turns a key back into the
bulletin's rowid for joins. The ``ascii`` FTS5
tokenizer is used on purpose: it splits only on ASCII non-alphanumerics, so every token we write
(alphanumerics and non-ASCII characters) stays one token.

Contentless FTS5 on SQLite 3.40 can only forget a row when told its old tokens, hence the index
API takes the previous title/body, and rowids must never change (no ``INSERT OR REPLACE``, and
``VACUUM`` may renumber a table without an INTEGER PRIMARY KEY: reindex after it). ``search_meta``
stores the scheme (tokenizer rule + table declaration), so changing either rebuilds the index on
the next :func:`ensure_search_shape`, and a count and rowid sum of what was indexed, so
:func:`index_status` can tell when rows were written without being indexed, or renumbered.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import sqlite_utils

from archive.lending import Lender
from archive.search.tokens import TOKENS_VERSION, index_stream

logger = logging.getLogger(__name__)

FTS_TABLE = "bulletins_fts"
META_TABLE = "search_meta"

_FTS_DDL = (
    f"CREATE VIRTUAL TABLE [{FTS_TABLE}] USING fts5("
    "title, body, attachments, content='', prefix='1', tokenize='ascii')"
)
#: Bits of an FTS rowid that hold the bulletin's rowid; the publication day is above them.
ROWID_BITS = 32
ROWID_MASK = (1 << ROWID_BITS) - 1
#: SQL for the bulletin rowid of an index row (to join ``bulletins`` on).
BULLETIN_ROWID = f"([{FTS_TABLE}].rowid & {ROWID_MASK})"
#: The tokenizer rule, the key layout and the table declaration: a change rebuilds the index.
SCHEME = f"{TOKENS_VERSION}|day-key-v1|{_FTS_DDL}"

#: (title, body, published, attachments text) of a bulletin as indexed; a 3-tuple means no
#: attachment text.
Indexed = tuple[str | None, ...]


def attachment_text(db: sqlite_utils.Database, bulletin_url: str) -> str:
    """What the index holds for the bulletin's attachments: their texts, joined in URL order.

    Runs end at the line breaks, so a phrase never matches across two files.
    """
    return "\n".join(text for (text,) in db.execute(
        "SELECT text FROM attachments WHERE bulletin_url = ? AND ifnull(text, '') != '' ORDER BY url",
        [bulletin_url]))


def _full(indexed: Indexed) -> tuple[str, str, str, str]:
    """``indexed`` as four strings (title, body, published, attachments)."""
    values = tuple(value or "" for value in indexed)
    return (values + ("", "", "", ""))[:4]  # type: ignore[return-value]


def day_number(published: str | date | None) -> int:
    """Days since 0001-01-01 of an ISO date (0 when missing or not a date: sorts oldest)."""
    if isinstance(published, date):
        return published.toordinal()
    try:
        return date.fromisoformat((published or "")[:10]).toordinal()
    except ValueError:
        return 0


def fts_key(rowid: int, published: str | None) -> int:
    """The index rowid of bulletin ``rowid``: newest first is descending key order."""
    if not 0 < rowid <= ROWID_MASK:
        raise ValueError(f"bulletin rowid {rowid} out of the index's range")
    return day_number(published) << ROWID_BITS | rowid
_BULK_HASH_BYTES = 64 * 1024 * 1024


def _meta(db: sqlite_utils.Database, key: str) -> object:
    row = db.execute(f"SELECT value FROM [{META_TABLE}] WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def _set_meta(db: sqlite_utils.Database, key: str, value: object) -> None:
    db.execute(
        f"INSERT INTO [{META_TABLE}](key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


def _count_indexed(db: sqlite_utils.Database, *rowids: int) -> None:
    """Keep the indexed count and rowid sum that :func:`index_status` compares with the table."""
    if not rowids:
        return
    db.execute(f"UPDATE [{META_TABLE}] SET value = value + ? WHERE key = 'docs'", [len(rowids)])
    db.execute(f"UPDATE [{META_TABLE}] SET value = value + ? WHERE key = 'rowid_sum'", [sum(rowids)])


#: The texts of an index row being written, as the token streams (UTF-8) the statement asks for.
_STREAMS = Lender("zwdc_index_stream", index_stream)
#: The row's title, body and attachments streams (texts 0, 1, 3 of :func:`_full`).
_STREAM_VALUES = ", ".join(_STREAMS.sql(n) for n in (0, 1, 3))


def index_bulletin(
    db: sqlite_utils.Database,
    rowid: int,
    title: str | None,
    body: str | None,
    published: str | None = None,
    previous: Indexed | None = None,
    pending: PendingIndex | None = None,
    attachments: str | None = None,
) -> None:
    """Index (or re-index) bulletin ``rowid`` after it was inserted or updated.

    ``attachments`` is the text of its attachments (:func:`attachment_text`). ``previous`` is the
    (title, body, published, attachments) the row had when it was last indexed, ``None`` for a
    new row: a contentless index can only drop the old tokens when given them again, under the
    old key. The row's rowid must not change on update (use upsert, not INSERT OR REPLACE).
    With ``pending``, the writes wait there until the transaction is about to commit (see
    :class:`PendingIndex`).
    """
    current = _full((title, body, published, attachments))
    if previous is not None and _full(previous) == current:
        return
    if pending is not None:
        pending.add(rowid, current, previous)
        return
    with db.atomic():
        _STREAMS.register(db)
        _index_writes(db, rowid, current, previous)


def index_attachments(
    db: sqlite_utils.Database, bulletin_url: str, previous: str, pending: PendingIndex | None = None
) -> None:
    """Re-index a bulletin after the text of its attachments changed from ``previous`` (what
    :func:`attachment_text` gave before the change) to what the table now holds."""
    row = db.execute("SELECT rowid, title, body, published FROM bulletins WHERE url = ?", [bulletin_url]).fetchone()
    if row is None:
        return
    rowid, title, body, published = row
    index_bulletin(db, rowid, title, body, published, previous=(title, body, published, previous),
                   pending=pending, attachments=attachment_text(db, bulletin_url))


def _index_writes(db: sqlite_utils.Database, rowid: int, now: Indexed, previous: Indexed | None) -> None:
    if previous is not None:
        _write(db, fts_key(rowid, previous[2]), "delete", previous)
    _write(db, fts_key(rowid, now[2]), None, now)
    if previous is None:
        _count_indexed(db, rowid)


def _write(db: sqlite_utils.Database, key: int, command: str | None, indexed: Indexed) -> None:
    """Add (``command`` None) or forget ("delete": the texts must be those indexed) index row ``key``.

    The token streams are lent, not bound (:mod:`archive.lending`): the stream of a large body
    (about 6 bytes a character) was held twice, once in Python, while FTS5 built the row's term
    lists beside it; now each lives only as SQLite's copy once made. Needs
    ``_STREAMS.register`` on the connection.
    """
    with _STREAMS.lending(_full(indexed)):
        if command is None:
            db.execute(f"INSERT INTO [{FTS_TABLE}](rowid, title, body, attachments) VALUES (?, {_STREAM_VALUES})", [key])
        else:
            db.execute(
                f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}], rowid, title, body, attachments)"
                f" VALUES (?, ?, {_STREAM_VALUES})",
                [command, key],
            )


@dataclass
class PendingIndex:
    """Index writes of a batch transaction, held back until just before it commits.

    FTS5 (SQLite 3.40) flushes its in-memory terms to a new index segment at every savepoint,
    so indexing each bulletin inside the savepoint that stores it writes (and later merges) one
    segment per bulletin: twice the cost of indexing the batch at once. The caller must
    :meth:`flush` inside the same transaction, so table and index still commit together.
    """

    #: rowid -> (texts to index now, texts indexed before the transaction; None: not indexed).
    entries: dict[int, tuple[Indexed, Indexed | None]] = field(default_factory=dict)

    def add(self, rowid: int, now: Indexed, previous: Indexed | None) -> None:
        """Hold the re-indexing of ``rowid``; a row changed twice in the transaction (a bulletin
        whose attachments' texts arrive one by one) is written once, from what the index holds."""
        held = self.entries.pop(rowid, None)
        self.entries[rowid] = (now, previous if held is None else held[1])

    def flush(self, db: sqlite_utils.Database) -> None:
        """Write the held entries (no savepoints: the caller's transaction is the unit).

        In key order: FTS5 flushes its pending terms to a new segment whenever a write's rowid is
        below the previous one's. The sort is stable, so a row's delete comes before its insert.
        """
        writes: list[tuple[int, str | None, Indexed]] = []
        for rowid, (now, previous) in self.entries.items():
            if previous is not None and _full(previous) == _full(now):
                continue  # changed, then back: the index holds it already
            if previous is not None:
                writes.append((fts_key(rowid, previous[2]), "delete", previous))
            writes.append((fts_key(rowid, now[2]), None, now))
        _count_indexed(db, *(rowid for rowid, (_now, previous) in self.entries.items() if previous is None))
        writes.sort(key=lambda write: write[0])
        _STREAMS.register(db)
        for key, command, indexed in writes:
            _write(db, key, command, indexed)
        self.entries.clear()


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
        # In key order (see PendingIndex.flush); the texts are read row by row in that order.
        keys = sorted(fts_key(rowid, published) for rowid, published in db.conn.execute(
            "SELECT rowid, published FROM bulletins"))
        done = 0
        read = db.conn.cursor()
        _STREAMS.register(db)
        for key in keys:
            title, body, url = read.execute(
                "SELECT title, body, url FROM bulletins WHERE rowid = ?", [key & ROWID_MASK]).fetchone()
            _write(db, key, None, (title, body, None, attachment_text(db, url)))
            done += 1
            if progress is not None and done % 500 == 0:
                progress(done, total)
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
