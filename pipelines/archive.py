"""Pipeline: store each extracted bulletin in the run's archive (``ARCHIVE_PATH``).

The run's worker process writes it (:meth:`archive.writer.RunWriter.bulletin`).
"""
from __future__ import annotations

from scrapy.crawler import Crawler

from scrapy.exceptions import DropItem

from archive.store import CONTENT_COLUMNS, Capture
from crawler.extensions import archive_run
from crawler.items import BulletinPage
from crawler.worker import WorkerFailed

#: Fields counted in the run's "fields filled" summary.
SUMMARY_FIELDS = CONTENT_COLUMNS


class ArchivePipeline:
    """Upserts records; counts new/changed/unchanged and filled fields in the crawl stats."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ArchivePipeline":
        return cls(crawler)

    async def process_item(self, item: BulletinPage) -> BulletinPage:
        if not isinstance(item, BulletinPage) or item.record is None:
            return item
        run = archive_run(self.crawler)
        assert run is not None, "the ArchiveRun extension must be enabled"
        headers = {key.lower(): value for key, value in item.headers.items()}
        capture = Capture(item.capture_id, headers.get("etag"), headers.get("last-modified"))
        try:
            outcome = await run.worker.ask("bulletin", item.record, capture, item.requested_url)
        except WorkerFailed as error:
            run.stop_on_write_failure(str(error))
            raise DropItem(f"not stored: {error}: {item.url}") from None
        self.stats.inc_value(f"archive/{outcome}")
        self.stats.inc_value("archive/bulletins")
        for name in SUMMARY_FIELDS:
            if getattr(item.record, name):
                self.stats.inc_value(f"archive/filled/{name}")
        return item
