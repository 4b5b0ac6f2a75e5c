"""The one place that declares the archive's tables, indexes and views.

Every command opens the archive through :func:`open_archive`, which calls
:func:`ensure_db_shape`; so a new column or table lands in old archives too.
Column names of ``bulletins`` are a contract that scripts outside the repo use.
"""
from __future__ import annotations

from pathlib import Path

import sqlite_utils

#: Columns of ``bulletins`` in order (contract: keep names, add freely).
BULLETIN_COLUMNS: dict[str, type] = {
    "url": str,          # canonical URL of the document (primary key)
    "site": str,         # host (netloc) of the portal
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
}


class ArchiveMissing(Exception):
    """Raised when a command needs an existing archive and none is there."""


def ensure_db_shape(db: sqlite_utils.Database) -> None:
    """Create or upgrade tables so the database matches this version of the code."""
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    if "bulletins" not in db.table_names():
        db["bulletins"].create(BULLETIN_COLUMNS, pk="url", not_null={"url", "site"})
    else:
        existing = set(db["bulletins"].columns_dict)
        for name, kind in BULLETIN_COLUMNS.items():
            if name not in existing:
                db["bulletins"].add_column(name, kind)
    db["bulletins"].create_index(["published"], if_not_exists=True)
    db["bulletins"].create_index(["site", "published"], if_not_exists=True)
    from archive.search import ensure_search_shape

    ensure_search_shape(db)


def open_archive(path: str | Path, *, create: bool = True) -> sqlite_utils.Database:
    """Open (and shape) the archive at ``path``; refuse a missing one unless ``create``."""
    path = Path(path)
    if not create and not path.exists():
        raise ArchiveMissing(f"no archive at {path} (run 'python -m crawler crawl' first)")
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    ensure_db_shape(db)
    return db
