"""Re-run extraction over the whole archive from its WARC captures, without one request.

After the extractor improves, ``python -m crawler reprocess`` rebuilds every bulletin row
from the server's bytes kept in the captures; changes become new versions as in a crawl.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from archive.store import Capture, save_bulletin
from archive.structure import rebuild_structures
from archive.warc import read_capture
from crawler.items import BulletinPage
from pipelines.extraction import extract_record

_SELECT = """
select b.url, b.list_url, b.fetched_at, b.etag, b.last_modified, c.id as capture_id,
       c.url as source_url, c.warc_file, c.warc_offset
from bulletins b join captures c on c.id = b.capture_id
order by b.rowid
"""


def reprocess_archive(
    db: sqlite_utils.Database, archive_path: Path, progress: Callable[[int], None] | None = None
) -> Counter[str]:
    """Re-extract every bulletin that has a capture, then re-parse every body's structure."""
    outcomes: Counter[str] = Counter()
    captures = archive_path.parent / "captures"
    outcomes["without_capture"] = db.execute(
        "select count(*) from bulletins where capture_id is null").fetchone()[0]
    for row in list(db.query(_SELECT)):
        warc_path = captures / row["warc_file"]
        try:
            stored = read_capture(warc_path, row["warc_offset"])
        except (OSError, ValueError, StopIteration):
            outcomes["capture_unreadable"] += 1
            continue
        page = BulletinPage(
            url=row["url"], source_url=row["source_url"], status=stored.status,
            headers=stored.headers, body=stored.body, fetched_at=row["fetched_at"],
            list_url=row["list_url"] or "", capture_id=row["capture_id"],
        )
        record = extract_record(page)
        outcomes[save_bulletin(db, record, Capture(row["capture_id"], row["etag"], row["last_modified"]))] += 1
        if progress:
            progress(1)
    # Unchanged bodies keep their rows in save_bulletin; a better parser must still reach them.
    outcomes["structures"] = rebuild_structures(db)
    return outcomes
