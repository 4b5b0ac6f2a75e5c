"""Keeping the bigram index in step with ``bulletins``: writes, rebuilds, scheme and status.

The index is a contentless FTS5 table whose rowid is the bulletin's rowid. The ``ascii`` FTS5
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import sqlite_utils

from archive.search.tokens import TOKENS_VERSION, tokenize_for_index

logger = logging.getLogger(__name__)

FTS_TABLE = "bulletins_fts"
META_TABLE = "search_meta"

_FTS_DDL = (
    f"CREATE VIRTUAL TABLE [{FTS_TABLE}] USING fts5("
    "title, body, content='', prefix='1', tokenize='ascii')"
)
#: The tokenizer rule and the table declaration: a change of either rebuilds the index.
SCHEME = f"{TOKENS_VERSION}|{_FTS_DDL}"
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


def _count_indexed(db: sqlite_utils.Database, rowid: int) -> None:
    """Keep the indexed count and rowid sum that :func:`index_status` compares with the table."""
    db.execute(f"UPDATE [{META_TABLE}] SET value = value + 1 WHERE key = 'docs'")
    db.execute(f"UPDATE [{META_TABLE}] SET value = value + ? WHERE key = 'rowid_sum'", [rowid])


def _streams(title: str | None, body: str | None) -> tuple[str, str]:
    return tokenize_for_index(title or ""), tokenize_for_index(body or "")


def index_bulletin(
    db: sqlite_utils.Database,
    rowid: int,
    title: str | None,
    body: str | None,
    previous: tuple[str | None, str | None] | None = None,
    pending: PendingIndex | None = None,
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
        db.execute(
            f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}], rowid, title, body) VALUES ('delete', ?, ?, ?)",
            [rowid, *_streams(*previous)],
        )
    db.execute(
        f"INSERT INTO [{FTS_TABLE}](rowid, title, body) VALUES (?, ?, ?)",
        [rowid, *_streams(title, body)],
    )
    if previous is None:
        _count_indexed(db, rowid)


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
