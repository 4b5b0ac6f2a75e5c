"""Running one crawl and judging its health: the code behind ``python -m crawler crawl``."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

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
    """What a finished crawl did, read from the Scrapy stats and the spider."""

    stats: dict[str, Any]
    start_outcomes: dict[str, str] = field(default_factory=dict)

    def count(self, key: str) -> int:
        return int(self.stats.get(key, 0) or 0)

    @property
    def bulletins(self) -> int:
        return self.count("archive/bulletins")

    @property
    def errors(self) -> int:
        return self.count("column/list_failed") + self.count("column/bulletin_failed")

    def problems(self) -> list[str]:
        """Reasons this run was not healthy; empty when it was."""
        problems = [
            f"start page failed: {url} ({outcome})"
            for url, outcome in self.start_outcomes.items()
            if outcome != "ok"
        ]
        if not problems and self.bulletins == 0:
            linked = self.count("column/bulletin_links")
            if linked:
                problems.append(
                    f"no bulletins archived: {linked} bulletin links found, "
                    f"{self.count('column/bulletin_failed')} failed"
                )
            else:
                problems.append(
                    "no bulletins found: the list pages linked to no bulletin page "
                    f"({self.count('column/list_pages')} list pages read)"
                )
        return problems

    def summary(self) -> str:
        filled = ", ".join(
            f"{name} {self.count(f'archive/filled/{name}')}/{self.bulletins}"
            for name in SUMMARY_FIELDS
        )
        return (
            f"list pages: {self.count('column/list_pages')}; "
            f"bulletins: {self.bulletins} (new {self.count('archive/new')}, "
            f"changed {self.count('archive/changed')}, "
            f"unchanged {self.count('archive/unchanged')}); "
            f"errors: {self.errors}; requests: {self.count('downloader/request_count')}\n"
            f"fields filled: {filled}"
        )


def run_crawl(start_urls: Iterable[str], settings: Settings) -> CrawlResult:
    """Crawl the columns at ``start_urls`` into ``settings['ARCHIVE_PATH']`` (blocks)."""
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(ColumnSpider)
    process.crawl(crawler, start_urls=list(start_urls))
    process.start()
    spider = crawler.spider
    return CrawlResult(
        stats=dict(crawler.stats.get_stats()),
        start_outcomes=dict(getattr(spider, "start_outcomes", {})),
    )
