"""The text of archived attachment files: which files still need it, and storing it.

A file (by its sha256) may be linked by several bulletins, one ``attachments`` row each; its
text is made once and stored on every row holding it. :func:`save_text` is the one writer of
``attachments.text``: the search index keeps each bulletin's attachment text in its row
(:mod:`archive.search.index`), and only a writer that knows the text indexed before can update
it, so every change goes through here, in one transaction with the index.

What makes the text (reading the files, in a limited child process) is the caller's business
(:mod:`crawler.attachments_ingest`).
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from archive.search import PendingIndex, attachment_text, index_attachments

#: Columns of ``attachments`` made from the file itself (see archive.schema.ATTACHMENTS).
TEXT_COLUMNS = ("text", "text_method", "pages", "error", "ocr_confidence", "needs_ocr", "tables",
                "extractor_version")


@dataclass(frozen=True)
class PendingFile:
    """A stored file whose text is still to be made (or made again)."""

    sha256: str
    #: ``attachments.path`` values of the file (one per extension it was linked with).
    paths: tuple[str, ...]
    name: str
    mime_type: str


_PENDING_SQL = """select sha256, json_group_array(distinct path), min(name), min(mime_type) from attachments
where sha256 in (select sha256 from attachments where {where}) group by sha256 order by min(rowid)"""


def pending_files(db: sqlite_utils.Database, version: int, *, ocr: bool = False,
                  redo_errors: Sequence[str] = (), everything: bool = False) -> list[PendingFile]:
    """Files without text from extractor ``version`` (older or none); with ``ocr`` also those read
    without it that needed it; those whose error is one of ``redo_errors`` (a tool that was missing
    and is here now); ``everything``: every file (``reprocess``). Oldest first."""
    errors = list(dict.fromkeys(redo_errors))
    where = "sha256 is not null" if everything else (
        "ifnull(extractor_version, 0) < ? or (? and needs_ocr = 1)"
        + (f" or error in ({', '.join('?' * len(errors))})" if errors else ""))
    params: list[Any] = [] if everything else [version, int(ocr), *errors]
    return _pending(db, where, params)


def unread_files(db: sqlite_utils.Database) -> list[PendingFile]:
    """Files linked since their text was last made, or never read (cheap: a partial index)."""
    return _pending(db, "extractor_version is null and sha256 is not null", [])


def _pending(db: sqlite_utils.Database, where: str, params: list[Any]) -> list[PendingFile]:
    return [PendingFile(sha256, tuple(json.loads(paths)), name or "", mime_type or "")
            for sha256, paths, name, mime_type in db.execute(_PENDING_SQL.format(where=where), params)]


def is_linked(db: sqlite_utils.Database, sha256: str) -> bool:
    """Whether a bulletin links file ``sha256`` (its text has a row to be stored on)."""
    return db.execute("select 1 from attachments where sha256 = ? limit 1", [sha256]).fetchone() is not None


def known_text(db: sqlite_utils.Database, sha256: str, version: int, *, ocr: bool = False) -> dict[str, Any] | None:
    """The text columns of a row holding file ``sha256`` that are current (made by ``version``, and
    with OCR when ``ocr`` asks for it): another bulletin linking the same file needs no new read."""
    row = next(db.query(
        f"select {', '.join(TEXT_COLUMNS)} from attachments where sha256 = ? and extractor_version = ?"
        " and not (? and ifnull(needs_ocr, 0) = 1) limit 1", [sha256, version, int(ocr)]), None)
    return row


def text_values(result: Mapping[str, Any], version: int) -> dict[str, Any]:
    """The text columns for what reading a file gave (``result``: an AttachmentText as a mapping)."""
    return {
        "text": result.get("text") or "",
        "text_method": result.get("text_method") or None,
        "pages": result.get("pages"),
        "error": result.get("error"),
        "ocr_confidence": result.get("ocr_confidence"),
        "needs_ocr": int(bool(result.get("needs_ocr"))),
        "tables": json.dumps(result.get("tables") or [], ensure_ascii=False),
        "extractor_version": version,
    }


def save_text(db: sqlite_utils.Database, sha256: str, values: Mapping[str, Any],
              pending: PendingIndex | None = None) -> list[str]:
    """Store the text columns ``values`` on the rows of file ``sha256`` that do not hold them yet
    and re-index the bulletins of those rows, atomically; return those bulletins' URLs (their
    items are the caller's). Rows holding them already are left alone: a file linked by hundreds
    of bulletins costs its new link one row, not hundreds."""
    columns = [name for name in TEXT_COLUMNS if name in values]
    given = [values[name] for name in columns]
    differs = " or ".join(f"[{name}] is not ?" for name in columns)
    bulletins = [url for (url,) in db.execute(
        f"select distinct bulletin_url from attachments where sha256 = ? and ({differs}) order by bulletin_url",
        [sha256, *given])]
    if not bulletins:
        return []
    with db.atomic():
        before = {url: attachment_text(db, url) for url in bulletins}
        db.execute(f"update attachments set {', '.join(f'[{name}] = ?' for name in columns)}"
                   f" where sha256 = ? and ({differs})", [*given, sha256, *given])
        for url in bulletins:
            index_attachments(db, url, before[url], pending)
    return bulletins


def mark_stale(db: sqlite_utils.Database, bulletin_url: str, url: str, sha256: str) -> None:
    """The file linked at ``url`` is another one now: its text is to be made again (until then the
    old text stays, as indexed)."""
    db.execute("update attachments set extractor_version = null where bulletin_url = ? and url = ?"
               " and sha256 is not ?", [bulletin_url, url, sha256])


def attachment_sources(db: sqlite_utils.Database, bulletin_url: str) -> list[dict[str, Any]]:
    """Each attachment of a bulletin that has text: url, name, text and tables (as stored: JSON
    text, which a caller may key a cache on), in URL order."""
    return list(db.query("select url, name, text, tables from attachments where bulletin_url = ?"
                         " and ifnull(text, '') != '' order by url", [bulletin_url]))


def decoded_tables(stored: str | None) -> list[Any]:
    """The tables of an ``attachments`` row (``[]`` when absent or not a JSON list)."""
    try:
        tables = json.loads(stored or "[]")
    except ValueError:
        return []
    return tables if isinstance(tables, list) else []
