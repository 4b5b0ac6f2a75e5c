"""Writing bulletins into the archive: upserts keyed by the canonical URL, with versions.

``bulletins`` holds the latest state of each document; ``versions`` gets a row each time the
extracted content changes (by content hash), so nothing a portal once said is lost. The
search index is updated in the same transaction, so it never drifts from the table.
Rows come in as plain dicts: what they are extracted from is the caller's business
(:mod:`crawler.ingest`).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import sqlite_utils

from archive.portals import portal_of_site
from archive.schema import CONTENT_COLUMNS, upsert_row
from archive.search import PendingIndex, attachment_text, index_bulletin

Outcome = Literal["new", "changed", "unchanged"]

@dataclass(frozen=True)
class Capture:
    """Where a record's bytes came from, and the validators for the next conditional fetch."""

    capture_id: int | None = None
    etag: str | None = None
    last_modified: str | None = None


#: Characters of a text column serialised at a time for its hash.
_HASH_SLICE = 1 << 18


def content_hash(row: dict[str, object]) -> str:
    """SHA-256 of the content columns as a JSON list (``ensure_ascii=False``) in UTF-8.

    Fed a slice of each text at a time: JSON escapes character by character, so the digest is
    that of the whole document, which a large body never becomes (twice: JSON, then UTF-8).
    """
    digest = hashlib.sha256()
    for position, column in enumerate(CONTENT_COLUMNS):
        digest.update(b", " if position else b"[")
        value = row.get(column)
        if not isinstance(value, str):
            digest.update(json.dumps(value, ensure_ascii=False).encode("utf-8"))
            continue
        digest.update(b'"')
        for start in range(0, len(value), _HASH_SLICE):
            digest.update(json.dumps(value[start:start + _HASH_SLICE], ensure_ascii=False)[1:-1].encode("utf-8"))
        digest.update(b'"')
    digest.update(b"]")
    return digest.hexdigest()


_CONTENT = ", ".join(f"[{column}]" for column in CONTENT_COLUMNS)
#: The bulletin's row just written, as a version: copied by the database, not bound again (a
#: statement keeps what was bound to it, a second copy of a large body until its next use).
_VERSION_OF_ROW = (f"INSERT INTO versions (url, content_hash, seen_at, capture_id, {_CONTENT})"
                   f" SELECT url, content_hash, ?, ?, {_CONTENT} FROM bulletins WHERE url = ?")

#: ``save_bulletin``'s default: the archived row is read here.
UNREAD: dict[str, object] = {}


def save_bulletin(
    db: sqlite_utils.Database,
    content: dict[str, object],
    capture: Capture = Capture(),
    pending_index: PendingIndex | None = None,
    previous: Mapping[str, object] | None = UNREAD,
) -> Outcome:
    """Insert or update one bulletin row, its version history and its index entry atomically.

    ``content`` holds the columns of ``bulletins`` up to ``list_url`` (``fetched_at`` is when
    its capture was made; ``portal``, when given, saves looking it up). With ``pending_index``
    (a batch transaction) the index entry is written when the batch flushes it, still before
    the commit. ``previous`` is the archived row (:func:`archived_bulletin`, ``None``: none)
    when the caller has read it already.
    """
    row = dict(content)
    row["portal"] = row.get("portal") or portal_of_site(db, row["site"])
    fetched_at = row["fetched_at"]
    row["content_hash"] = content_hash(row)
    row["last_seen"] = fetched_at
    row["missing_since"] = None
    row["capture_id"] = capture.capture_id
    row["etag"] = capture.etag
    row["last_modified"] = capture.last_modified
    with db.atomic():
        if previous is UNREAD:
            previous = archived_bulletin(db, row["url"])
        row["first_seen"] = previous["first_seen"] if previous else fetched_at
        inserted = upsert_row(db, "bulletins", row, ("url",))
        if previous is not None and previous["content_hash"] == row["content_hash"]:
            return "unchanged"
        db.execute(_VERSION_OF_ROW, [fetched_at, capture.capture_id, row["url"]])
        rowid = previous["rowid"] if previous else inserted
        files = attachment_text(db, row["url"])  # its files' text: indexed with it, unchanged here
        index_bulletin(
            db, rowid, row["title"], row["body"], row["published"],
            previous=(previous["title"], previous["body"], previous["published"], files) if previous else None,
            pending=pending_index, attachments=files,
        )
    return "new" if previous is None else "changed"


def archived_bulletin(db: sqlite_utils.Database, url: str) -> dict[str, object] | None:
    """The archived row of ``url`` with its ``rowid`` (to judge a re-fetched page against), or ``None``."""
    cursor = db.conn.execute("select rowid, * from bulletins where url = ?", [url])
    found = cursor.fetchone()
    return dict(zip((column[0] for column in cursor.description), found)) if found else None


def save_alias(db: sqlite_utils.Database, alias: str, url: str, seen_at: str) -> None:
    """Remember that ``alias`` (a listed URL) redirects to bulletin ``url``."""
    upsert_row(db, "url_aliases", {"alias": alias, "url": url, "seen_at": seen_at}, ("alias",))


def mark_seen(db: sqlite_utils.Database, url: str, seen_at: str) -> None:
    """A conditional re-fetch answered 304: the bulletin is still there, unchanged."""
    with db.atomic():
        db.execute(
            "update bulletins set last_seen = ?, missing_since = null where url = ?",
            [seen_at, url])


def mark_missing(db: sqlite_utils.Database, urls: list[str], when: str) -> int:
    """Keep, never delete: mark bulletins gone from the portal; return how many were new marks."""
    marked = 0
    with db.atomic():
        for url in urls:
            cursor = db.execute(
                "update bulletins set missing_since = ? where url = ? and missing_since is null",
                [when, url])
            marked += cursor.rowcount
    return marked


def mark_killed_runs(db: sqlite_utils.Database) -> None:
    """Runs still marked ``running`` were killed (only one process holds the archive's lock).

    Their bulletin captures still ``fetched`` (further pages or files not all fetched when the
    run died) are ``abandoned``: never ingested half; the next crawl fetches those bulletins again.
    """
    with db.atomic():
        db.execute("update crawl_runs set outcome = 'killed' where outcome = 'running'")
        db.execute("update captures set ingest_state = 'abandoned' where ingest_state = 'fetched'")
