"""Re-run extraction over the whole archive from its WARC captures, without one request.

After the extractor improves, ``python -m crawler reprocess`` rebuilds every bulletin row
from the server's bytes kept in the captures; changes become new versions as in a crawl. The
further pages of a split document are taken from the captures of the same run.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from archive.store import Capture, archived_bulletin, save_bulletin
from archive.structure import rebuild_structures
from archive.warc import read_capture
from crawler.items import BulletinPage, PagePart
from pipelines.extraction import extract_record
from pipelines.guard import replacement_refusal
from spiders.pagination import document_parts

_SELECT = """
select b.url, b.list_url, b.fetched_at, b.etag, b.last_modified, c.id as capture_id,
       c.url as source_url, c.warc_file, c.warc_offset, c.run_id
from bulletins b join captures c on c.id = b.capture_id
order by b.rowid
"""
_PART_CAPTURE = """
select id, url, warc_file, warc_offset from captures
where url = ? and run_id = ? and status = 200 order by id desc limit 1
"""


def _parts(db: sqlite_utils.Database, captures: Path, body: bytes, headers: dict[str, str],
           source_url: str, run_id: int) -> list[PagePart]:
    """The further pages of a split document, from the captures of the run that fetched it.

    Raises ``LookupError`` when one of them was not captured in that run.
    """
    parts = []
    for url in document_parts(body, headers.get("Content-Type"), source_url):
        row = next(db.query(_PART_CAPTURE, [url, run_id]), None)
        if row is None:
            raise LookupError(f"no capture of {url}")
        stored = read_capture(captures / row["warc_file"], row["warc_offset"])
        parts.append(PagePart(row["url"], stored.headers, stored.body, row["id"]))
    return parts


def reprocess_archive(
    db: sqlite_utils.Database, archive_path: Path, progress: Callable[[int], None] | None = None,
    on_refusal: Callable[[str, str], None] | None = None,
) -> Counter[str]:
    """Re-extract every bulletin that has a capture, then re-parse every body's structure.

    A capture whose extraction does not prove it is the bulletin (:mod:`pipelines.guard`) is
    not stored over its row: it is counted as ``refused`` and told to ``on_refusal(url, reason)``.
    """
    outcomes: Counter[str] = Counter()
    captures = archive_path.parent / "captures"
    outcomes["without_capture"] = db.execute(
        "select count(*) from bulletins where capture_id is null").fetchone()[0]
    for row in list(db.query(_SELECT)):
        warc_path = captures / row["warc_file"]
        try:
            stored = read_capture(warc_path, row["warc_offset"])
            parts = _parts(db, captures, stored.body, stored.headers, row["source_url"], row["run_id"])
        except (OSError, ValueError, StopIteration, LookupError):
            outcomes["capture_unreadable"] += 1
            continue
        page = BulletinPage(
            url=row["url"], source_url=row["source_url"], status=stored.status,
            headers=stored.headers, body=stored.body, fetched_at=row["fetched_at"],
            list_url=row["list_url"] or "", capture_id=row["capture_id"], parts=parts,
        )
        record = extract_record(page)
        refusal = replacement_refusal(archived_bulletin(db, row["url"]), asdict(record))
        if refusal:
            outcomes["refused"] += 1
            if on_refusal:
                on_refusal(row["url"], refusal)
        else:
            capture = Capture(row["capture_id"], row["etag"], row["last_modified"])
            outcomes[save_bulletin(db, record, capture)] += 1
        if progress:
            progress(1)
    # Unchanged bodies keep their rows in save_bulletin; a better parser must still reach them.
    outcomes["structures"] = rebuild_structures(db)
    return outcomes
