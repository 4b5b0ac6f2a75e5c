"""Writing bulletins into the archive: upserts keyed by the canonical URL."""
from __future__ import annotations

from typing import Literal

import sqlite_utils

from crawler.items import BulletinRecord

Outcome = Literal["new", "changed", "unchanged"]

#: Columns whose change means the document changed (capture bookkeeping excluded).
CONTENT_COLUMNS = (
    "index_no", "doc_no", "publisher", "category", "validity", "published", "issued",
    "title", "body", "attachments",
)


def save_bulletin(db: sqlite_utils.Database, record: BulletinRecord) -> Outcome:
    """Insert or update one bulletin in a single transaction; say what happened."""
    row = record.row()
    table = db["bulletins"]
    with db.conn:
        previous = next(table.rows_where("url = ?", [row["url"]], limit=1), None)
        table.upsert(row, pk="url")
    if previous is None:
        return "new"
    if any(previous.get(column) != row[column] for column in CONTENT_COLUMNS):
        return "changed"
    return "unchanged"
