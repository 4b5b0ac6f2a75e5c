"""Pipeline: store each extracted bulletin in the SQLite archive (``ARCHIVE_PATH``)."""
from __future__ import annotations

import sqlite_utils
from scrapy.crawler import Crawler

from archive.schema import open_archive
from archive.store import save_bulletin
from crawler.items import BulletinPage

#: Fields counted in the run's "fields filled" summary.
SUMMARY_FIELDS = (
    "index_no", "doc_no", "publisher", "category", "validity", "published", "issued",
    "title", "body", "attachments",
)


class ArchivePipeline:
    """Upserts records; counts new/changed/unchanged and filled fields in the crawl stats."""

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats
        self.path = crawler.settings.get("ARCHIVE_PATH")
        self.db: sqlite_utils.Database | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ArchivePipeline":
        return cls(crawler)

    def open_spider(self) -> None:
        self.db = open_archive(self.path)

    def close_spider(self) -> None:
        if self.db is not None:
            self.db.close()

    def process_item(self, item: BulletinPage) -> BulletinPage:
        if not isinstance(item, BulletinPage) or item.record is None:
            return item
        assert self.db is not None
        outcome = save_bulletin(self.db, item.record)
        self.stats.inc_value(f"archive/{outcome}")
        self.stats.inc_value("archive/bulletins")
        for name in SUMMARY_FIELDS:
            if getattr(item.record, name):
                self.stats.inc_value(f"archive/filled/{name}")
        return item
