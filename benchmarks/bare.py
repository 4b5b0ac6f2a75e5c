"""The reference of the crawl benchmark: a bare Scrapy spider that fetches and extracts nothing.

``python -m benchmarks.bare URL_FILE [-s NAME=VALUE ...]`` fetches every URL of ``URL_FILE``
(one a line: the pages a project crawl asked the replica for, robots.txt aside) with the
project's settings minus its pipelines, extension and middlewares, keeps no item, and prints
its Scrapy stats as one JSON line on stdout. List pages go first, as the project's spider
queues them (priority 10).
"""
from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response
from scrapy.settings import Settings

from crawler.commands.crawl import parse_setting_overrides
from crawler.run import project_settings

#: The project's own components, switched off (Scrapy's defaults stay).
PROJECT_COMPONENTS = ("ITEM_PIPELINES", "EXTENSIONS", "DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES")


class BareSpider(scrapy.Spider):
    """Requests each URL once; the callback reads nothing."""

    name = "bare"

    def __init__(self, urls: list[str], list_urls: frozenset[str] = frozenset(), **kwargs: Any):
        super().__init__(**kwargs)
        self.urls = urls
        self.list_urls = list_urls

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse, priority=10 if url in self.list_urls else 0)

    def parse(self, response: Response) -> None:
        return None


def bare_settings(overrides: dict[str, Any]) -> Settings:
    """The project's settings with ``overrides``, minus the project's components."""
    settings = project_settings(overrides)
    for name in PROJECT_COMPONENTS:
        settings.set(name, {}, priority="cmdline")
    return settings


def read_url_file(path: Path) -> tuple[list[str], frozenset[str]]:
    """URLs, and those marked as list pages (a line ``L <url>``; others are ``- <url>``)."""
    urls, lists = [], set()
    for line in path.read_text(encoding="utf-8").splitlines():
        kind, _, url = line.partition(" ")
        urls.append(url)
        if kind == "L":
            lists.add(url)
    return urls, frozenset(lists)


def main(argv: list[str]) -> int:
    """Run the bare crawl over the URL file; print its stats as JSON."""
    path, *rest = argv
    pairs = [value for flag, value in zip(rest[::2], rest[1::2]) if flag in ("-s", "--set")]
    urls, list_urls = read_url_file(Path(path))
    process = CrawlerProcess(bare_settings(parse_setting_overrides(pairs)))
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, urls=urls, list_urls=list_urls)
    process.start()
    print(json.dumps(crawler.stats.get_stats(), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
