"""The one place that declares the archive's tables, indexes and views.

Every command opens the archive through :func:`open_archive`, which calls
:func:`ensure_db_shape`; so a new column or table lands in old archives too.
Column names of ``bulletins`` are a contract that scripts outside the repo use.
"""
from __future__ import annotations

import functools
import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils

#: Columns of ``bulletins`` in order (contract: keep names, add freely).
BULLETIN_COLUMNS: dict[str, type] = {
    "url": str,          # canonical URL of the document (primary key)
    "site": str,         # host (netloc) of the portal
    "portal": str,       # the portal's short name in the registry (sites.toml), else its host
    "index_no": str,     # 索引号
    "doc_no": str,       # 文号, "" when the page says none / 无
    "publisher": str,    # 发布机构 / 发文单位 / 发文机关
    "category": str,     # 主题分类
    "validity": str,     # 有效性
    "published": str,    # 发布日期, ISO YYYY-MM-DD
    "issued": str,       # 发文日期 / 成文日期, ISO, may be NULL
    "title": str,        # 名称, else heading / ArticleTitle
    "body": str,         # plain text, paragraphs as lines, table rows as tab-joined cells
    "attachments": str,  # JSON list of {"name", "url"}
    "fetched_at": str,   # ISO timestamp (UTC) of the capture this row was extracted from
    "source_url": str,   # the URL the page was actually served from (after redirects)
    "list_url": str,     # the list page that linked to it
    "content_hash": str,   # sha256 of the content columns (a change makes a new version)
    "first_seen": str,     # ISO timestamp of the first capture
    "last_seen": str,      # ISO timestamp of the latest capture, or of a 304 revalidation
    "missing_since": str,  # when the portal was first found without it (404/410, off the lists)
    "capture_id": int,     # the capture (WARC record) this row was extracted from
    "etag": str,           # validators the server gave, for conditional re-fetches
    "last_modified": str,
}

#: Other URLs a bulletin was listed under that redirect to it (``alias`` -> ``url``).
URL_ALIAS_COLUMNS: dict[str, type] = {"alias": str, "url": str, "seen_at": str}

#: Every extracted state a bulletin has had; ``bulletins`` holds the latest.
VERSION_COLUMNS: dict[str, type] = {
    "id": int, "url": str, "content_hash": str, "seen_at": str, "capture_id": int,
    **{name: BULLETIN_COLUMNS[name] for name in (
        "index_no", "doc_no", "publisher", "category", "validity", "published", "issued",
        "title", "body", "attachments")},
}

#: One row per HTTP response written to a WARC file: where its raw bytes are.
CAPTURE_COLUMNS: dict[str, type] = {
    "id": int, "run_id": int, "url": str, "kind": str, "status": int, "fetched_at": str,
    "content_type": str, "warc_file": str, "warc_offset": int, "warc_length": int,
    "payload_sha256": str,
}

#: Primary key of ``attachments``: a file is linked once per bulletin.
ATTACHMENT_KEY = ("bulletin_url", "url")
#: Attachment files, stored by content hash under the archive's folder.
ATTACHMENT_COLUMNS: dict[str, type] = {
    "bulletin_url": str, "url": str, "name": str, "mime_type": str, "size": int,
    "sha256": str, "path": str, "fetched_at": str, "capture_id": int,
}

#: One row per crawl: what it did and how it ended.
CRAWL_RUN_COLUMNS: dict[str, type] = {
    "id": int, "started_at": str, "finished_at": str, "mode": str, "outcome": str,
    "start_urls": str, "requests": int, "new": int, "changed": int, "unchanged": int,
    "removed": int, "errors": int, "problems": str, "warc_file": str, "stats": str,
}

#: Which portal each host belongs to (the registry's name, else the host), as of the last crawl
#: of that host: ``bulletins.portal`` follows it.
PORTAL_HOST_COLUMNS: dict[str, type] = {"host": str, "portal": str}

#: Each portal's verdict in each run that crawled it, with what the run did there.
PORTAL_RUN_COLUMNS: dict[str, type] = {
    "run_id": int, "portal": str, "outcome": str, "problems": str, "bulletins": int,
    "new": int, "changed": int, "errors": int,
}

#: Each failure of a run: which URL and why.
RUN_FAILURE_COLUMNS: dict[str, type] = {
    "id": int, "run_id": int, "url": str, "kind": str, "reason": str, "at": str,
}


def _ensure_table(db: sqlite_utils.Database, name: str, columns: dict[str, type], **kwargs) -> None:
    """Create ``name`` or add the columns an older archive lacks."""
    table = db[name]
    if name not in db.table_names():
        table.create(columns, **kwargs)
        return
    existing = set(table.columns_dict)
    for column, kind in columns.items():
        if column not in existing:
            table.add_column(column, kind)


#: Structure parsed from each bulletin's body (``pipelines.structure``); replaced per bulletin.
MEETING_COLUMNS: dict[str, type] = {
    "id": int, "bulletin_url": str, "date": str, "number": int, "kind": str, "heading": str,
}
ITEM_COLUMNS: dict[str, type] = {
    "id": int, "bulletin_url": str, "meeting_id": int, "position": int, "section": str,
    "status": str, "subject": str, "documents": str, "progress": str, "group_heading": str,
}
ITEM_UNIT_COLUMNS: dict[str, type] = {"item_id": int, "unit": str}

#: Views over the structure tables. "Open" = pending in the latest bulletin reporting that
#: decision (same meeting date/number/kind and subject), so a decision reported done later
#: no longer counts; work-report items (no meeting) are one decision per bulletin.
STRUCTURE_VIEWS: dict[str, str] = {
    "open_items_per_unit": """
with mention as (
  select i.id, i.status, i.bulletin_url, coalesce(b.published, '') as published,
         coalesce(m.date || '|' || coalesce(m.number, '') || '|' || m.kind, i.bulletin_url)
           || '|' || i.subject as decision
  from items i
  left join meetings m on m.id = i.meeting_id
  left join bulletins b on b.url = i.bulletin_url
),
latest as (select decision, max(published) as published from mention group by decision)
select u.unit as unit, count(distinct me.decision) as open_items,
       count(distinct me.bulletin_url) as bulletins, max(me.published) as latest_published
from mention me
join latest l on l.decision = me.decision and l.published = me.published
join item_units u on u.item_id = me.id
where me.status = 'pending'
group by u.unit
order by open_items desc, u.unit""",
    "items_per_meeting": """
select m.date as date, m.number as number, m.kind as kind, m.bulletin_url as bulletin_url,
       b.published as published, count(i.id) as items,
       count(case when i.status = 'pending' then 1 end) as pending,
       count(case when i.status = 'mostly_done' then 1 end) as mostly_done,
       count(case when i.status = 'done' then 1 end) as done,
       count(case when i.status = 'other' then 1 end) as other
from meetings m
left join items i on i.meeting_id = m.id
left join bulletins b on b.url = m.bulletin_url
group by m.bulletin_url, m.date, m.number, m.kind
order by m.date, m.number, b.published, m.bulletin_url""",
}


def _ensure_structure_tables(db: sqlite_utils.Database) -> None:
    """Meetings, items and their units, plus the views over them; fill them for old archives.

    A view is re-created only when its SQL changed, so opening the archive writes nothing
    in the usual case. When the tables are new and bulletins exist (an archive from before
    they were added), every body is parsed once so queries work without a re-crawl.
    """
    backfill = "items" not in db.table_names()
    _ensure_table(db, "meetings", MEETING_COLUMNS, pk="id",
                  foreign_keys=[("bulletin_url", "bulletins", "url")])
    db["meetings"].create_index(["bulletin_url"], if_not_exists=True)
    _ensure_table(db, "items", ITEM_COLUMNS, pk="id", foreign_keys=[
        ("bulletin_url", "bulletins", "url"), ("meeting_id", "meetings", "id")])
    db["items"].create_index(["bulletin_url"], if_not_exists=True)
    db["items"].create_index(["meeting_id"], if_not_exists=True)
    db["items"].create_index(["status"], if_not_exists=True)
    _ensure_table(db, "item_units", ITEM_UNIT_COLUMNS, pk=("item_id", "unit"),
                  foreign_keys=[("item_id", "items", "id")])
    db["item_units"].create_index(["unit"], if_not_exists=True)
    for name, sql in STRUCTURE_VIEWS.items():
        wanted = f"CREATE VIEW [{name}] AS {sql.strip()}"
        row = db.execute("select sql from sqlite_master where type = 'view' and name = ?", [name]).fetchone()
        if row is None or row[0] != wanted:
            with db.atomic():
                db.execute(f"DROP VIEW IF EXISTS [{name}]")
                db.execute(wanted)
    if backfill and db["bulletins"].count:
        from archive.structure import rebuild_structures

        rebuild_structures(db)


@functools.lru_cache(maxsize=64)
def _write_sql(table: str, columns: tuple[str, ...], conflict: tuple[str, ...]) -> str:
    names = ", ".join(f"[{c}]" for c in columns)
    sql = f"INSERT INTO [{table}] ({names}) VALUES ({', '.join('?' * len(columns))})"
    if conflict:
        updates = ", ".join(f"[{c}] = excluded.[{c}]" for c in columns if c not in conflict)
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {updates}"
    return sql


def insert_row(db: sqlite_utils.Database, table: str, row: dict[str, Any]) -> None:
    """Insert ``row`` into a table declared here.

    For the crawl's many small writes: sqlite-utils' ``insert`` reads the table's columns on
    every call, which costs ten times the insert itself.
    """
    db.conn.execute(_write_sql(table, tuple(row), ()), tuple(row.values()))


def upsert_row(db: sqlite_utils.Database, table: str, row: dict[str, Any], pk: tuple[str, ...]) -> None:
    """Insert ``row``, or update the given columns of the row with the same primary key ``pk``."""
    db.conn.execute(_write_sql(table, tuple(row), pk), tuple(row.values()))


class ArchiveError(Exception):
    """The archive cannot be used: told to the user in one line (exit code 2)."""


class ArchiveMissing(ArchiveError):
    """Raised when a command needs an existing archive and none is there."""


def ensure_db_shape(db: sqlite_utils.Database) -> None:
    """Create or upgrade tables so the database matches this version of the code."""
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    portal_backfill = "bulletins" in db.table_names() and "portal" not in db["bulletins"].columns_dict
    _ensure_table(db, "bulletins", BULLETIN_COLUMNS, pk="url", not_null={"url", "site"})
    if portal_backfill:  # an archive from before portals: each host was its own portal
        db.execute("update bulletins set portal = site")
    db["bulletins"].create_index(["published"], if_not_exists=True)
    db["bulletins"].create_index(["site", "published"], if_not_exists=True)
    db["bulletins"].create_index(["portal", "published"], if_not_exists=True)
    _ensure_table(db, "portal_hosts", PORTAL_HOST_COLUMNS, pk="host")
    _ensure_table(db, "portal_runs", PORTAL_RUN_COLUMNS, pk=("run_id", "portal"))
    _ensure_table(db, "url_aliases", URL_ALIAS_COLUMNS, pk="alias")
    _ensure_table(db, "versions", VERSION_COLUMNS, pk="id")
    db["versions"].create_index(["url", "seen_at"], if_not_exists=True)
    _ensure_table(db, "captures", CAPTURE_COLUMNS, pk="id")
    db["captures"].create_index(["url"], if_not_exists=True)
    _ensure_table(db, "attachments", ATTACHMENT_COLUMNS, pk=ATTACHMENT_KEY)
    db["attachments"].create_index(["sha256"], if_not_exists=True)
    _ensure_table(db, "crawl_runs", CRAWL_RUN_COLUMNS, pk="id")
    _ensure_table(db, "run_failures", RUN_FAILURE_COLUMNS, pk="id")
    db["run_failures"].create_index(["run_id"], if_not_exists=True)
    _ensure_structure_tables(db)
    from archive.search import ensure_search_shape

    ensure_search_shape(db)


def open_archive(path: str | Path, *, create: bool = True) -> sqlite_utils.Database:
    """Open (and shape) the archive at ``path``; refuse a missing one unless ``create``."""
    path = Path(path)
    if not create and not path.exists():
        raise ArchiveMissing(f"no archive at {path} (run 'python -m crawler crawl' first)")
    if path.is_dir():
        raise ArchiveError(f"{path} is a folder, not an archive file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite_utils.Database(path)
        ensure_db_shape(db)
    except (sqlite3.DatabaseError, OSError) as error:
        raise ArchiveError(f"cannot open archive {path}: {error}") from None
    return db
