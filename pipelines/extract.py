"""Pipeline: turn each fetched :class:`BulletinPage` into its :class:`BulletinRecord`.

The extraction itself (:func:`pipelines.extraction.extract_record`) runs in the run's extraction
worker process (:mod:`crawler.worker`), beside the fetching.
"""
from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.extensions import archive_run
from crawler.items import BulletinPage
from crawler.worker import WorkerFailed
from pipelines.bulletin import not_a_bulletin
from pipelines.challenges import SCRIPT_ONLY


class ExtractPipeline:
    """Has each page extracted and counts what was found."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ExtractPipeline":
        return cls(crawler)

    async def process_item(self, item: BulletinPage) -> BulletinPage:
        if not isinstance(item, BulletinPage):
            return item
        run = archive_run(self.crawler)
        assert run is not None, "the ArchiveRun extension must be enabled"
        try:
            record = await run.extractor.ask("extract", item)
        except WorkerFailed as error:  # "extraction worker failed: …"
            self._drop(item.url, str(error))
        self.stats.inc_value("extract/pages")
        if record.extraction["script_only"] == "yes":
            self.stats.inc_value("column/challenges")  # fails the run: see crawler.health
            self._drop(item.url, SCRIPT_ONLY)
        if not record.title and not record.body:
            self.stats.inc_value("extract/empty_pages")
            self._drop(item.url, "empty page: no title and no body")
        self._drop_unless_bulletin(item.url, not_a_bulletin(record))
        if record.extraction.get("metadata_block") == "no":
            self.stats.inc_value("extract/without_metadata")
        self.stats.inc_value(f"extract/container/{record.extraction['container']}")
        item.record = record
        return item

    def _drop_unless_bulletin(self, url: str, reason: str | None) -> None:
        if reason:
            self.stats.inc_value("extract/not_bulletins")
            self._drop(url, reason)

    def _drop(self, url: str, reason: str) -> None:
        """Record why the page is not a bulletin, and keep it out of the archive."""
        run = archive_run(self.crawler)
        assert run is not None
        run.record_failure(url, "bulletin", reason)
        raise DropItem(f"{reason}: {url}")
