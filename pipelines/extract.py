"""Pipeline: turn each fetched :class:`BulletinPage` into its :class:`BulletinRecord`."""
from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.items import BulletinPage
from pipelines.extraction import extract_record


class ExtractPipeline:
    """Runs :func:`pipelines.extraction.extract_record` and counts what was found."""

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ExtractPipeline":
        return cls(crawler)

    def process_item(self, item: BulletinPage) -> BulletinPage:
        if not isinstance(item, BulletinPage):
            return item
        record = extract_record(item)
        if not record.title and not record.body:
            self.stats.inc_value("extract/empty_pages")
            raise DropItem(f"no title and no body: {item.url}")
        if record.extraction.get("metadata_fields") == "0":
            self.stats.inc_value("extract/without_metadata")
        self.stats.inc_value(f"extract/container/{record.extraction['container']}")
        item.record = record
        return item
