"""Pipeline: store each extracted bulletin in the run's archive (``ARCHIVE_PATH``).

The run's archive writer process stores it (:meth:`archive.writer.RunWriter.bulletin`).
"""
from __future__ import annotations

from scrapy.crawler import Crawler

from archive.store import CONTENT_COLUMNS, Capture
from crawler.extensions import archive_run
from crawler.items import BulletinPage

#: Fields counted in the run's "fields filled" summary.
SUMMARY_FIELDS = CONTENT_COLUMNS


class ArchivePipeline:
    """Has records stored; counts them and their filled fields in the crawl stats.

    Whether each was new, changed or unchanged is counted by the writer and added to the
    stats when the run ends (see :meth:`crawler.extensions.ArchiveRun.spider_closed`).
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ArchivePipeline":
        return cls(crawler)

    def process_item(self, item: BulletinPage) -> BulletinPage:
        if not isinstance(item, BulletinPage) or item.record is None:
            return item
        run = archive_run(self.crawler)
        assert run is not None, "the ArchiveRun extension must be enabled"
        headers = {key.lower(): value for key, value in item.headers.items()}
        capture = Capture(item.capture_id, headers.get("etag"), headers.get("last-modified"))
        run.writer.send("bulletin", item.record, capture, item.requested_url)
        self.stats.inc_value("archive/bulletins")
        for name in SUMMARY_FIELDS:
            if getattr(item.record, name):
                self.stats.inc_value(f"archive/filled/{name}")
        return item
