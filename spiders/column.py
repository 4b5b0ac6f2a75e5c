"""``column`` spider: a column's list pages, then every bulletin they list.

List pages stay inside the column folder; bulletin links are followed anywhere on the
portal's own hosts (the start URLs' hosts plus ``PORTAL_EXTRA_HOSTS``) and nowhere else.
Each bulletin is requested once, by its canonical URL (``_slhxq``/``_app`` views fold into
the plain page); after redirects the final URL is what gets stored.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.exceptions import IgnoreRequest
from twisted.python.failure import Failure

from crawler.items import BulletinPage
from crawler.profiles import DEFAULT_PROFILE
from crawler.urls import canonical_url, column_of, in_column, netloc_of
from pipelines.text import parse_html
from spiders.listing import bulletin_links
from spiders.pagination import read_pagination


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class ColumnSpider(scrapy.Spider):
    name = "column"

    def __init__(self, start_urls: Iterable[str] | str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(start_urls, str):
            start_urls = [u for u in start_urls.split(",") if u]
        self.start_urls = list(start_urls or DEFAULT_PROFILE.start_urls)
        self.portal_hosts: set[str] = {netloc_of(url) for url in self.start_urls}
        #: start URL -> whether it answered, filled as the crawl goes (read by the CLI).
        self.start_outcomes: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> "ColumnSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        extra = crawler.settings.getlist("PORTAL_EXTRA_HOSTS")
        spider.portal_hosts.update(host.lower() for host in extra)
        return spider

    def is_portal_url(self, url: str) -> bool:
        return netloc_of(url) in self.portal_hosts

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.start_urls:
            self.start_outcomes[url] = "pending"
            yield scrapy.Request(
                url,
                callback=self.parse_list,
                errback=self.list_failed,
                cb_kwargs={"column": column_of(url), "start_url": url},
                meta={"start_url": url},
                priority=10,
            )

    def parse_list(self, response: Response, column: str, start_url: str) -> Iterable[Any]:
        """Queue the column's other list pages and this page's bulletins."""
        stats = self.crawler.stats
        if response.meta.get("start_url"):
            self.start_outcomes[start_url] = "ok"
        stats.inc_value("column/list_pages")
        tree = parse_html(response.text if isinstance(response, TextResponse) else "")
        for page_url in read_pagination(tree, response.url).page_urls(response.url):
            if in_column(page_url, column) and self.is_portal_url(page_url):
                yield response.follow(
                    page_url,
                    callback=self.parse_list,
                    errback=self.list_failed,
                    cb_kwargs={"column": column, "start_url": start_url},
                    priority=10,
                )
        links = bulletin_links(tree, response.url, column)
        if not links:
            stats.inc_value("column/list_pages_without_bulletins")
            self.logger.warning("list page lists no bulletins: %s", response.url)
        for url in links:
            if not self.is_portal_url(url):
                stats.inc_value("column/offsite_links_skipped")
                continue
            stats.inc_value("column/bulletin_links")
            yield scrapy.Request(
                url,
                callback=self.parse_bulletin,
                errback=self.bulletin_failed,
                cb_kwargs={"list_url": response.url},
            )

    def parse_bulletin(self, response: Response, list_url: str) -> Iterable[BulletinPage]:
        if not self.is_portal_url(response.url):
            self.crawler.stats.inc_value("column/offsite_redirects_skipped")
            return
        headers = {
            key.decode("latin-1"): b", ".join(values).decode("latin-1")
            for key, values in response.headers.items()
        }
        yield BulletinPage(
            url=canonical_url(response.url),
            source_url=response.url,
            status=response.status,
            headers=headers,
            body=response.body,
            fetched_at=utc_now(),
            list_url=list_url,
        )

    def _failed(self, failure: Failure, kind: str) -> None:
        request = failure.request
        if failure.check(IgnoreRequest) and "robots.txt" in failure.getErrorMessage():
            self.crawler.stats.inc_value(f"column/{kind}_forbidden_by_robots")
            return  # policy, not a fault
        self.crawler.stats.inc_value(f"column/{kind}_failed")
        self.logger.error("%s page failed: %s (%s)", kind, request.url, failure.getErrorMessage())

    def list_failed(self, failure: Failure) -> None:
        start_url = failure.request.meta.get("start_url")
        if start_url:
            self.start_outcomes[start_url] = failure.getErrorMessage() or "failed"
        self._failed(failure, "list")

    def bulletin_failed(self, failure: Failure) -> None:
        self._failed(failure, "bulletin")
