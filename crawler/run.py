"""Running one crawl: the code behind ``python -m crawler crawl``."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from archive.lock import ArchiveLock
from crawler.extensions import archive_run
from crawler.health import stat_count
from crawler.logs import quiet_network_tracebacks
from pipelines.archive import SUMMARY_FIELDS
from spiders.column import ColumnSpider


def project_settings(overrides: Mapping[str, Any] = ()) -> Settings:
    """The project's settings with command-line overrides on top (as ``scrapy -s`` does)."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    for name, value in dict(overrides).items():
        settings.set(name, value, priority="cmdline")
    return settings


@dataclass
class CrawlResult:
    """What a finished crawl did: its Scrapy stats and the run recorder's verdict."""

    stats: dict[str, Any]
    outcome: str
    problems: list[str] = field(default_factory=list)
    run_id: int | None = None
    removed: int = 0

    def count(self, key: str) -> int:
        return stat_count(self.stats, key)

    @property
    def healthy(self) -> bool:
        return self.outcome == "ok"

    def summary(self) -> str:
        archived = self.count("archive/bulletins")
        filled = ", ".join(
            f"{name} {self.count(f'archive/filled/{name}')}/{archived}" for name in SUMMARY_FIELDS
        )
        return (
            f"run {self.run_id}: {self.outcome}; list pages: {self.count('column/list_pages')}; "
            f"bulletins fetched: {archived} (new {self.count('archive/new')}, "
            f"changed {self.count('archive/changed')}, unchanged {self.count('archive/unchanged')}, "
            f"kept over pages that were no bulletin {self.count('archive/refused')}); "
            f"not modified: {self.count('archive/not_modified')}; removed: {self.removed}; "
            f"errors: {self.count('run/failures')}; requests: {self.count('downloader/request_count')}\n"
            f"fields filled: {filled}"
        )


def run_crawl(start_urls: Iterable[str], settings: Settings) -> CrawlResult:
    """Crawl the columns at ``start_urls`` into ``settings['ARCHIVE_PATH']`` (blocks).

    Raises :class:`archive.lock.ArchiveBusy` at once when another crawl holds the archive.
    """
    with ArchiveLock(settings.get("ARCHIVE_PATH")):
        process = CrawlerProcess(settings)
        quiet_network_tracebacks()
        crawler = process.create_crawler(ColumnSpider)
        process.crawl(crawler, start_urls=list(start_urls))
        process.start()
        run = archive_run(crawler)
        return CrawlResult(
            stats=dict(crawler.stats.get_stats()),
            outcome=run.outcome if run else "failed",
            problems=list(run.problems) if run else ["the crawl did not start"],
            run_id=run.run_id if run else None,
            removed=run.removed if run else 0,
        )
