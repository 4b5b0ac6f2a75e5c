"""Running one crawl: the code behind ``python -m crawler crawl``."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from archive.lock import ArchiveLock
from archive.portals import record_portal_hosts, record_portal_runs
from archive.schema import open_archive
from crawler.extensions import archive_run
from crawler.health import stat_count
from crawler.logs import quiet_network_tracebacks
from crawler.sites import site_verdicts
from crawler.urls import netloc_of
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
    #: Each portal of the run and its problems (none: healthy).
    portals: dict[str, list[str]] = field(default_factory=dict)

    @property
    def unhealthy_portals(self) -> dict[str, list[str]]:
        return {portal: problems for portal, problems in self.portals.items() if problems}

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
            f"changed {self.count('archive/changed')}, unchanged {self.count('archive/unchanged')}); "
            f"not modified: {self.count('archive/not_modified')}; removed: {self.removed}; "
            f"errors: {self.count('run/failures')}; requests: {self.count('downloader/request_count')}\n"
            f"fields filled: {filled}"
        )


def run_crawl(start_urls: Iterable[str], settings: Settings,
              portals: Mapping[str, str] | None = None) -> CrawlResult:
    """Crawl the columns at ``start_urls`` into ``settings['ARCHIVE_PATH']`` (blocks).

    ``portals`` maps each host of the crawl to its portal's name (default: each host its
    own portal); every portal gets its verdict in ``portal_runs``.
    Raises :class:`archive.lock.ArchiveBusy` at once when another crawl holds the archive.
    """
    start_urls = list(start_urls)
    portals = dict(portals or {netloc_of(url): netloc_of(url) for url in start_urls})
    path = settings.get("ARCHIVE_PATH")
    with ArchiveLock(path):
        db = open_archive(path)
        record_portal_hosts(db, portals)
        db.close()
        process = CrawlerProcess(settings)
        quiet_network_tracebacks()
        crawler = process.create_crawler(ColumnSpider)
        process.crawl(crawler, start_urls=start_urls)
        process.start()
        run = archive_run(crawler)
        result = CrawlResult(
            stats=dict(crawler.stats.get_stats()),
            outcome=run.outcome if run else "failed",
            problems=list(run.problems) if run else ["the crawl did not start"],
            run_id=run.run_id if run else None,
            removed=run.removed if run else 0,
        )
        reasons = result.problems or ([] if result.healthy else [f"run {result.outcome}"])
        result.portals = site_verdicts(reasons, portals)
        if result.run_id is not None:
            db = open_archive(path)
            record_portal_runs(db, result.run_id, result.portals)
            db.close()
        return result
