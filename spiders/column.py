"""``column`` spider: a column's list pages, then the bulletins they list.

List pages stay inside the column folder; bulletin links are followed anywhere on the
portal's own hosts (the start URLs' hosts plus ``PORTAL_EXTRA_HOSTS``) and nowhere else.
Each bulletin is requested once, by its canonical URL (``_slhxq``/``_app`` views fold into
the plain page); after redirects the final URL is what gets stored.

Incremental (default): list pages are walked from the newest, one after another, and the
walk stops at the first page listing nothing new; only bulletins not yet archived are
fetched. With nothing new a run costs robots.txt plus one list page per column. A column
seen for the first time, or any column after a run that did not finish, is walked whole.

Full (``CRAWL_FULL``): every list page, and every archived bulletin of the column is
re-validated with a conditional request; 404/410 or absence from every list marks it missing.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from typing import Any

import scrapy
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.browser import configure as configure_rendering
from crawler.extensions import ArchiveRun
from crawler.ingest import utc_now
from crawler.items import BulletinPage
from crawler.profiles import DEFAULT_PROFILE
from pipelines.urls import canonical_url, column_of, in_column, netloc_of
from pipelines.text import parse_html
from pipelines.challenges import challenge_reason, status_challenge
from pipelines.records import PagePart
from spiders.listing import bulletin_links
from spiders.pagination import document_parts, read_pagination
from spiders.rendering import (
    MAX_API_PAGES, NEEDS_RENDERING_EMPTY_ENDPOINT, NEEDS_RENDERING_NO_ENDPOINT, Rendering, closing_errback,
    find_endpoint, items_from_json, json_page_count, looks_script_built, parse_json,
)

#: Answers to a conditional re-validation that the callback handles itself.
REVALIDATION_STATUSES = [304, 404, 410]


def _headers(response: Response) -> dict[str, str]:
    return {key.decode("latin-1"): b", ".join(values).decode("latin-1")
            for key, values in response.headers.items()}


def _content_type(response: Response) -> str | None:
    value = response.headers.get("Content-Type")
    return value.decode("latin-1") if value else None


class ColumnSpider(scrapy.Spider):
    name = "column"

    def __init__(self, start_urls: Iterable[str] | str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(start_urls, str):
            start_urls = [u for u in start_urls.split(",") if u]
        self.start_urls = list(start_urls or DEFAULT_PROFILE.start_urls)
        self.portal_hosts: set[str] = {netloc_of(url) for url in self.start_urls}
        #: start URL -> "ok" or why it failed (read by the health check).
        self.start_outcomes: dict[str, str] = {}
        #: column -> bulletin links found on its list pages this run.
        self.column_links: dict[str, int] = {}
        self.full = False
        self.walk_all = True
        #: canonical URL -> archived row (list_url, etag, last_modified).
        self.known: dict[str, dict[str, Any]] = {}
        #: listed URL -> the archived bulletin it redirected to.
        self.aliases: dict[str, str] = {}
        #: bulletins robots.txt forbids (this run), and as of the last healthy run: they
        #: are still requested (refused locally) but never count as news.
        self.robots_forbidden: set[str] = set()
        self.forbidden_before: set[str] = set()
        self.listed: set[str] = set()
        self.list_failures = 0
        self._visited_lists: dict[str, set[str]] = defaultdict(set)
        self._known_by_column: dict[str, list[str]] = {}
        #: ``--render api``: per column, its JSON endpoint, first page number and URLs seen.
        self._api_endpoints: dict[str, Any] = {}
        self._api_first: dict[str, int] = {}
        self._api_seen: dict[str, set[str]] = {}

    @classmethod
    def update_settings(cls, settings) -> None:
        super().update_settings(settings)
        configure_rendering(settings)  # scrapy-playwright only when RENDER_MODE may use it

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> "ColumnSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.portal_hosts.update(h.lower() for h in crawler.settings.getlist("PORTAL_EXTRA_HOSTS"))
        spider.full = crawler.settings.getbool("CRAWL_FULL")
        spider.rendering = Rendering(spider, crawler)
        crawler.signals.connect(spider.start_taken, signal=signals.request_dropped)
        return spider

    def start_taken(self, request: scrapy.Request) -> None:
        """A start page dropped as already queued: another process of a shared queue
        (``crawl --scheduler``) fetches it, and judges it."""
        start_url = request.meta.get("start_url")
        if start_url and self.start_outcomes.get(start_url) == "pending":
            del self.start_outcomes[start_url]
            if not self.column_links.get(column_of(start_url)):
                self.column_links.pop(column_of(start_url), None)

    def _load_archive_state(self) -> None:
        """What the archive already holds (extensions exist only once the crawl starts)."""
        run = self.crawler.get_extension(ArchiveRun)
        if run is None:
            return
        self.walk_all = self.full or not run.last_run_complete
        self.known = {
            row["url"]: row
            for row in run.db.query(
                "select url, list_url, etag, last_modified from bulletins where missing_since is null")
            if self.is_portal_url(row["url"])
        }
        self.aliases = {row["alias"]: row["url"] for row in run.db["url_aliases"].rows}
        for column in {column_of(url) for url in self.start_urls}:
            self._known_by_column[column] = [
                url for url, row in self.known.items() if (row["list_url"] or "").startswith(column)]
        self.forbidden_before = set((run.previous or {}).get("robots_forbidden", []))

    def is_portal_url(self, url: str) -> bool:
        return netloc_of(url) in self.portal_hosts

    def _known_in(self, column: str) -> list[str]:
        """Archived bulletins listed in ``column`` (indexed once per run: asked on every list page)."""
        return self._known_by_column.get(column, [])

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self._load_archive_state()
        for url in self.start_urls:
            self.start_outcomes[url] = "pending"
            column = column_of(url)
            self.column_links.setdefault(column, 0)
            yield self._list_request(url, column, url, start=True)
            if self.full:
                for known_url in self._known_in(column):
                    yield self._bulletin_request(known_url, self.known[known_url]["list_url"])

    # --- requests -------------------------------------------------------------------
    def _list_request(self, url: str, column: str, start_url: str, start: bool = False,
                      rendered: bool | None = None) -> scrapy.Request:
        """A list page request; through the browser when ``rendered`` (default: as the
        column's rendering says), then never filtered as a repeat of the plain fetch."""
        self._visited_lists[column].add(url)
        meta = {"page_kind": "list", **({"start_url": url} if start else {})}
        browser = self.rendering.browser_for(column) if rendered is None else rendered
        if browser:
            meta.update(self.rendering.browser_meta(column))
        return scrapy.Request(
            url, callback=self.parse_list, errback=closing_errback(self.list_failed) if browser else self.list_failed,
            priority=10, dont_filter=bool(rendered), cb_kwargs={"column": column, "start_url": start_url}, meta=meta,
        )

    def _api_request(self, url: str, column: str, start_url: str, list_url: str, page: int,
                     probe: bool = False) -> scrapy.Request:
        """One page of a list's JSON endpoint (``--render api``); a probe may answer 4xx."""
        meta: dict[str, Any] = {"page_kind": "list-data"}
        if probe:
            meta.update(api_probe=True, handle_httpstatus_list=[400, 404, 500])
        return scrapy.Request(
            url, callback=self.parse_api, errback=self.list_failed, priority=10, meta=meta,
            cb_kwargs={"column": column, "start_url": start_url, "list_url": list_url, "page": page},
        )

    def _bulletin_request(self, url: str, list_url: str) -> scrapy.Request:
        known = self.known.get(url)
        headers, meta = {}, {"page_kind": "bulletin"}
        if known is not None:  # re-validation (full mode)
            meta["handle_httpstatus_list"] = REVALIDATION_STATUSES
            if known.get("etag"):
                headers["If-None-Match"] = known["etag"]
            if known.get("last_modified"):
                headers["If-Modified-Since"] = known["last_modified"]
        return scrapy.Request(
            url, callback=self.parse_bulletin, errback=self.bulletin_failed,
            headers=headers, meta=meta, cb_kwargs={"list_url": list_url},
        )

    # --- list pages -----------------------------------------------------------------
    def _next_list_pages(self, response: Response, tree, column: str, walk_all: bool) -> list[str]:
        pages = [
            url for url in read_pagination(tree, response.url).page_urls(response.url)
            if in_column(url, column) and self.is_portal_url(url)
        ]
        if walk_all:
            return pages
        later = pages[pages.index(response.url) + 1:] if response.url in pages else pages
        return [url for url in later if url not in self._visited_lists[column]][:1]

    def parse_list(self, response: Response, column: str, start_url: str) -> Iterable[Any]:
        """Queue the column's further list pages and this page's bulletins."""
        stats = self.crawler.stats
        reason = challenge_reason(response)
        if reason:
            stats.inc_value("column/challenges")
            self._record_failure(response.url, "list", reason)
            if response.meta.get("start_url"):
                self.start_outcomes[start_url] = reason
            return
        if response.meta.get("start_url"):
            self.start_outcomes[start_url] = "ok"
        stats.inc_value("column/list_pages")
        tree = parse_html(response.text if isinstance(response, TextResponse) else "")
        links = [
            self.aliases.get(url, url)
            for url in bulletin_links(tree, response.url, column) if self._on_portal(url)
        ]
        if looks_script_built(tree, links, column):
            if not response.meta.get("rendered"):
                # the list is left to scripts: render it, read its JSON, or report it
                yield from self._script_built_list(response, tree, column, start_url)
                return
            self.logger.warning("rendering showed no bulletin of %s on %s", column, response.url)
            self.rendering.rendering_did_not_help(column)
        self.column_links[column] = self.column_links.get(column, 0) + len(links)
        stats.inc_value("column/bulletin_links", len(links))
        if not links:
            self.logger.warning("list page lists no bulletins: %s", response.url)
        new = [url for url in links if url not in self.known and url not in self.forbidden_before]
        walk_all = self.walk_all or not self._known_in(column)
        if walk_all or new:
            for url in self._next_list_pages(response, tree, column, walk_all):
                yield self._list_request(url, column, start_url)
        yield from self._bulletin_requests(links, response.url)

    def _bulletin_requests(self, links: list[str], list_url: str) -> Iterable[scrapy.Request]:
        stats = self.crawler.stats
        for url in links:
            self.listed.add(url)
            if url in self.known:
                stats.inc_value("column/known_links")
                if not self.full:
                    continue
            yield self._bulletin_request(url, list_url)

    # --- lists built by scripts ---------------------------------------------------------
    def _script_built_list(self, response: Response, tree, column: str, start_url: str) -> Iterable[Any]:
        """A list page whose list its scripts build: the browser, the JSON endpoint, or a report."""
        self.crawler.stats.inc_value("render/script_built_pages")
        plan = self.rendering.plan(column)
        if plan in ("browser", "api"):
            self.crawler.stats.inc_value("column/list_pages", -1)  # read again through the browser / its JSON
        if plan == "browser":
            self.logger.info("list built by scripts, rendering: %s", response.url)
            yield self._list_request(response.url, column, start_url, bool(response.meta.get("start_url")),
                                     rendered=True)
        elif plan == "api":
            endpoint = find_endpoint(tree, response.url, self.portal_hosts)
            if endpoint is None:
                self.rendering.not_read(column, NEEDS_RENDERING_NO_ENDPOINT)
                return
            self.rendering.columns[column] = "api"
            self.logger.info("list built by scripts, reading its JSON: %s", endpoint.template)
            self._api_endpoints[column] = endpoint
            first = 0 if endpoint.paged else 1
            yield self._api_request(endpoint.url(first), column, start_url, response.url, first, probe=endpoint.paged)
        else:
            self.logger.warning("list page left to scripts, not rendered (--render %s): %s",
                                self.rendering.mode, response.url)

    def parse_api(self, response: Response, column: str, start_url: str, list_url: str, page: int) -> Iterable[Any]:
        """A page of a list's JSON: its items are the list page's bulletins."""
        stats = self.crawler.stats
        endpoint = self._api_endpoints[column]
        data = parse_json(response) if 200 <= response.status < 300 else None
        items = items_from_json(data, list_url) if data is not None else []
        links: list[str] = []
        for item in items:
            url = self.aliases.get(canonical_url(item.url), canonical_url(item.url))
            if url not in links and self._on_portal(url):
                links.append(url)
        seen = self._api_seen.setdefault(column, set())
        fresh = [url for url in links if url not in seen]
        if not fresh:
            if response.meta.get("api_probe"):  # page 0 refused or empty: pages count from 1
                yield self._api_request(endpoint.url(page + 1), column, start_url, list_url, page + 1)
            elif links and page == 1 and self._api_first.get(column) == 0:  # page 0 was page 1 again
                self._api_first[column] = 1
                yield self._api_request(endpoint.url(2), column, start_url, list_url, 2)
            elif not seen:
                self.rendering.not_read(column, NEEDS_RENDERING_EMPTY_ENDPOINT)
            return
        seen.update(fresh)
        stats.inc_value("column/list_pages")
        stats.inc_value("render/api_pages")
        self.column_links[column] = self.column_links.get(column, 0) + len(fresh)
        stats.inc_value("column/bulletin_links", len(fresh))
        new = [url for url in fresh if url not in self.known and url not in self.forbidden_before]
        walk_all = self.walk_all or not self._known_in(column)
        count = json_page_count(data)
        first = self._api_first.setdefault(column, page)
        more = count is None or page - first + 1 < count
        if endpoint.paged and more and (walk_all or new) and page - first + 1 < MAX_API_PAGES:
            yield self._api_request(endpoint.url(page + 1), column, start_url, list_url, page + 1)
        yield from self._bulletin_requests(fresh, list_url)

    def _on_portal(self, url: str) -> bool:
        if self.is_portal_url(url):
            return True
        self.crawler.stats.inc_value("column/offsite_links_skipped")
        return False

    # --- bulletin pages -------------------------------------------------------------
    async def parse_bulletin(self, response: Response, list_url: str) -> AsyncIterator[BulletinPage]:
        """A bulletin page, captured already: yield it (with its further pages) for the pipelines.

        A 304 (still there) or 404/410 (gone) of a re-validation is ingested from its capture
        alone; a challenge is recorded; a split document whose further pages cannot all be
        fetched yields nothing (never archived half: the next run fetches it again).
        """
        if response.status in REVALIDATION_STATUSES:
            return
        reason = status_challenge(response.status)  # script-only pages: see crawler.ingest
        if reason:
            self.crawler.stats.inc_value("column/challenges")
            self._record_failure(response.url, "bulletin", reason)
            return
        url = canonical_url(response.url)
        parts: list[PagePart] = []
        part_urls = document_parts(response.body, _content_type(response), response.url)
        for number, part_url in enumerate(part_urls, 1):
            part = await self._document_part(url, part_url, f"page {number + 1} of {len(part_urls) + 1}")
            if part is None:
                return
            parts.append(part)
        yield BulletinPage(
            url=url,
            source_url=response.url,
            status=response.status,
            headers=_headers(response),
            body=response.body,
            fetched_at=utc_now(),
            list_url=list_url,
            parts=parts,
            capture_id=response.meta.get("capture_id"),
        )

    async def _document_part(self, url: str, part_url: str, which: str) -> PagePart | None:
        """A further page of document ``url``; None (failure recorded) when it cannot be had."""
        request = scrapy.Request(part_url, meta={"page_kind": "bulletin-part"}, dont_filter=True)
        self.crawler.stats.inc_value("column/document_parts")
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception as error:  # network faults, robots.txt, host rules: recorded
            reason = str(error) or type(error).__name__
        else:
            if response.status == 200:
                return PagePart(response.url, _headers(response), response.body)
            reason = status_challenge(response.status) or f"HTTP {response.status}"
        self.crawler.stats.inc_value("column/bulletin_failed")
        self._record_failure(url, "bulletin", f"{which} of the document failed: {reason}")
        return None

    # --- failures -------------------------------------------------------------------
    def _record_failure(self, url: str, kind: str, reason: str) -> None:
        self.logger.error("%s page failed: %s (%s)", kind, url, reason)
        run = self.crawler.get_extension(ArchiveRun)
        if run is not None:
            run.record_failure(url, kind, reason)

    def _failed(self, failure: Failure, kind: str) -> str:
        request = failure.request
        reason = failure.getErrorMessage() or failure.type.__name__
        if failure.check(IgnoreRequest) and "robots.txt" in reason:
            self.crawler.stats.inc_value(f"column/{kind}_forbidden_by_robots")
            self.robots_forbidden.add(canonical_url(request.url))
            return reason  # policy, not a fault
        if failure.check(HttpError):
            status = failure.value.response.status
            reason = status_challenge(status)
            if reason:
                self.crawler.stats.inc_value("column/challenges")
            else:
                reason = f"HTTP {status}"
        self.crawler.stats.inc_value(f"column/{kind}_failed")
        asked = request.meta.get("redirect_urls", [request.url])[0]  # the URL, not a redirect hop
        self._record_failure(canonical_url(asked) if kind == "bulletin" else asked, kind, reason)
        return reason

    def list_failed(self, failure: Failure) -> None:
        reason = self._failed(failure, "list")
        self.list_failures += 1
        start_url = failure.request.meta.get("start_url")
        if start_url:
            self.start_outcomes[start_url] = reason

    def bulletin_failed(self, failure: Failure) -> None:
        self._failed(failure, "bulletin")

    def unlisted_bulletins(self, reason: str) -> list[str]:
        """After a complete full pass: archived bulletins on no list (to be marked missing)."""
        if not (self.full and reason == "finished" and not self.list_failures):
            return []
        return sorted({
            url for column in self.column_links for url in self._known_in(column)
            if url not in self.listed
        })
