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

Sample (``-a sample=N``, ``crawl --sample N``, as Kingfisher Collect's spiders take it): at
most N bulletins per column, its list pages read one after another until N are requested.

Arguments as Scrapy's own commands pass them: ``-a start_url=URL``, ``-a start_urls=A,B``,
``-a sample=N``. A portal's site profile (setting ``PORTAL_PROFILES``, filled from the
registry) overrides the list container, the entry link pattern and the pager's page names.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from functools import cache, partial
from typing import Any

import scrapy
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from spiders.browser import configure as configure_rendering
from spiders.items import BulletinPage
from pipelines.bulletin import NOT_A_LIST
from pipelines.challenges import status_challenge
from pipelines.dates import utc_now
from pipelines.extraction import attachment_urls
from pipelines.records import PagePart
from pipelines.text import parse_page
from pipelines.urls import canonical_url, column_of, netloc_of
from spiders.archive import CrawlArchive
from spiders.list_page import ListPage, read_list_page
from spiders.listing import ListHint
from spiders.pagination import Pager, document_parts, templated_pager
from spiders.rendering import (
    NEEDS_RENDERING_EMPTY_ENDPOINT, NEEDS_RENDERING_NEVER, NEEDS_RENDERING_NO_ENDPOINT, Rendering, closing_errback,
)
from spiders.scripted import (
    MAX_API_PAGES, ApiEndpoint, Embedded, entries_in_answer, find_endpoint, is_document_page, looks_script_built,
)
from spiders.walk import LIST_PAGES_MAX, ColumnWalk, list_page_read, start_page_judged

#: Answers to a conditional re-validation that the callback handles itself.
REVALIDATION_STATUSES = [304, 404, 410]
#: The share of a column's archived bulletins a full pass may mark removed at once (see
#: :meth:`ColumnSpider.unlisted_bulletins`).
MOST_UNLISTED = 0.2


def _headers(response: Response) -> dict[str, str]:
    return {key.decode("latin-1"): b", ".join(values).decode("latin-1")
            for key, values in response.headers.items()}


def _content_type(response: Response) -> str | None:
    value = response.headers.get("Content-Type")
    return value.decode("latin-1") if value else None


def sample_size(value: int | str | None) -> int:
    """``-a sample=N`` as a number of bulletins per column (0: no sample)."""
    if value in (None, "", 0):
        return 0
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = 0
    if size < 1:
        raise ValueError(f"sample must be a whole number of bulletins (>= 1), not {value!r}")
    return size


class ColumnSpider(scrapy.Spider):
    name = "column"

    def __init__(self, start_urls: Iterable[str] | str | None = None, start_url: str | None = None,
                 sample: int | str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(start_urls, str):
            start_urls = start_urls.split(",")
        urls = [url.strip() for url in [start_url or "", *(start_urls or [])]]
        self.start_urls = list(dict.fromkeys(url for url in urls if url))
        if not self.start_urls:
            raise ValueError("no start URL: give -a start_url=URL (or -a start_urls=URL,URL)")
        #: bulletins per column in a sample run (0: every bulletin).
        self.sample = sample_size(sample)
        #: start URL -> bulletins requested in its column (counted in a sample run).
        self._sampled: dict[str, int] = {}
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
        #: start URL -> its column's walk over its list pages (and its report).
        self.walks: dict[str, ColumnWalk] = {}
        #: list page (or endpoint) URL -> the start URL whose column it belongs to.
        self._list_owner: dict[str, str] = {}
        self._known_by_column: dict[str, list[str]] = {}
        #: lists read from an endpoint: per start URL, the endpoint and its first page number.
        self._api_endpoints: dict[str, ApiEndpoint] = {}
        self._api_first: dict[str, int] = {}
        #: host -> its portal's profile (``PORTAL_PROFILES``): overrides of detection.
        self.profiles: dict[str, dict[str, Any]] = {}
        #: The archive crawled into, handed over when the spider opens (see :mod:`spiders.archive`).
        self.archive: CrawlArchive | None = None

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
        spider.profiles = crawler.settings.getdict("PORTAL_PROFILES")
        crawler.signals.connect(spider.idle, signal=signals.spider_idle)
        crawler.signals.connect(spider.start_taken, signal=signals.request_dropped)
        return spider

    def start_taken(self, request: scrapy.Request) -> None:
        """A start page dropped as already queued: another process of a shared queue fetches it."""
        start_url = request.meta.get("start_url")
        if start_url:
            self.leave_start(start_url)

    def leave_start(self, start_url: str) -> None:
        """A start page another process of a shared queue (``crawl --scheduler``) fetches, or
        fetched (it was taken from the queue this process put it in): that one judges it. The
        column's walk stays: its further list pages may still come this way, and its report is
        made crawl-wide."""
        if self.start_outcomes.get(start_url) == "pending":
            del self.start_outcomes[start_url]
            if not self.column_links.get(column_of(start_url)):
                self.column_links.pop(column_of(start_url), None)

    def _judge_start(self, start_url: str, outcome: str) -> None:
        self.start_outcomes[start_url] = outcome
        self.crawler.signals.send_catch_log(start_page_judged, start_url=start_url)

    def _load_archive_state(self) -> None:
        """What the archive already holds (handed over when the spider opened)."""
        archive = self.archive
        if archive is None:
            return
        self.walk_all = self.full or not archive.last_run_complete
        self.known = {row["url"]: row for row in archive.known_bulletins() if self.is_portal_url(row["url"])}
        self.aliases = archive.url_aliases()
        for column in {column_of(url) for url in self.start_urls}:
            self._known_by_column[column] = [
                url for url, row in self.known.items() if (row["list_url"] or "").startswith(column)]
        self.forbidden_before = set((archive.previous or {}).get("robots_forbidden", []))

    def is_portal_url(self, url: str) -> bool:
        return netloc_of(url) in self.portal_hosts

    def _profile(self, walk: ColumnWalk) -> dict[str, Any]:
        """The profile of the column's portal (empty: detection decides)."""
        return self.profiles.get(netloc_of(walk.start_url)) or {}

    def _known_in(self, column: str) -> list[str]:
        """Archived bulletins listed in ``column`` (indexed once per run: asked on every list page)."""
        return self._known_by_column.get(column, [])

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self._load_archive_state()
        cap = self.crawler.settings.getint("LIST_PAGES_MAX", LIST_PAGES_MAX)
        reports: dict[str, dict[str, Any]] = {}
        self.crawler.stats.set_value("columns", reports)  # the same dicts, kept up to date
        for url in self.start_urls:
            self.start_outcomes[url] = "pending"
            column = column_of(url)
            walk = self.walks[url] = ColumnWalk(url, column, cap)
            reports[url] = walk.report
            self.column_links.setdefault(column, 0)
            walk.may_request(url)
            yield self._list_request(url, walk, start=True)
            if self.full:
                for known_url in self._known_in(column):
                    yield self._bulletin_request(known_url, self.known[known_url]["list_url"])

    # --- requests -------------------------------------------------------------------
    def _list_request(self, url: str, walk: ColumnWalk, start: bool = False, rendered: bool | None = None,
                      probe: bool = False) -> scrapy.Request:
        """A list page request; through the browser when ``rendered`` (default: as the
        column's rendering says), then never filtered as a repeat of the plain fetch. A
        ``probe`` is a page computed from a pager script: a 404 is its answer, not a failure."""
        self._list_owner[url] = walk.start_url
        meta: dict[str, Any] = {"page_kind": "list", **({"start_url": url} if start else {})}
        if probe:
            # the guesses travel with the probe: in a shared crawl another worker may read it
            meta.update(probe=True, guesses=walk.guesses, handle_httpstatus_list=[404, 410])
        elif not start and self._profile(walk).get("pager") and not walk.report["announced"]:
            meta.update(template_end=True, handle_httpstatus_list=[404, 410])  # the end of the column
        browser = self.rendering.browser_for(walk.column) if rendered is None else rendered
        if browser:
            meta.update(self.rendering.browser_meta(walk.column))
        return scrapy.Request(
            url, callback=self.parse_list, errback=closing_errback(self.list_failed) if browser else self.list_failed,
            priority=10, dont_filter=bool(rendered), cb_kwargs={"start_url": walk.start_url}, meta=meta,
        )

    def _api_request(self, walk: ColumnWalk, list_url: str, page: int, probe: bool = False) -> scrapy.Request:
        """One page of a list's endpoint (GET or POST with its form); a probe may answer 4xx."""
        endpoint = self._api_endpoints[walk.start_url]
        # the endpoint and its first page travel with the request: in a shared crawl another
        # worker, which never read the page naming the endpoint, may read this one
        meta: dict[str, Any] = {"page_kind": "list-data", "endpoint": endpoint,
                                "api_first": self._api_first.get(walk.start_url)}
        if probe:
            meta.update(api_probe=True, handle_httpstatus_list=[400, 404, 500])
        kwargs = {"start_url": walk.start_url, "list_url": list_url, "page": page}
        if endpoint.method == "POST":
            return scrapy.FormRequest(
                endpoint.url(page), formdata=endpoint.formdata(page), callback=self.parse_api,
                errback=self.list_failed, priority=10, meta=meta, cb_kwargs=kwargs, dont_filter=True)
        return scrapy.Request(endpoint.url(page), callback=self.parse_api, errback=self.list_failed, priority=10,
                              meta=meta, cb_kwargs=kwargs)

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
    def _walks_all(self, walk: ColumnWalk) -> bool:
        """Every list page at once (a whole walk), or one after another (incremental, sample)."""
        return not self.sample and (self.walk_all or not self._known_in(walk.column))

    async def parse_list(self, response: Response, start_url: str) -> AsyncIterator[Any]:
        """Read a list page: its entries (by structure, or the data its scripts carry), its
        pager; queue the column's further list pages and the entries' bulletins. The page is
        read in a thread (:mod:`spiders.list_page`): a hostile one takes most of a second, which
        the event loop does not wait for."""
        walk = self.walks[start_url]
        profile = self._profile(walk)
        page = await maybe_deferred_to_future(deferToThread(
            read_list_page, response.text if isinstance(response, TextResponse) else "", response.status,
            response.url, walk.column, ListHint(profile.get("list_container"), profile.get("entry_link")),
            walk.list_place))
        for output in self._list_page_read(response, start_url, page):
            yield output

    def _list_page_read(self, response: Response, start_url: str, page: ListPage) -> Iterable[Any]:
        """What the crawl does with a list page read (:meth:`parse_list`)."""
        stats = self.crawler.stats
        walk = self.walks[start_url]
        reason = page.challenge
        if reason:
            stats.inc_value("column/challenges")
            self._record_failure(response.url, "list", reason)
            walk.page_failed(response.url, reason)
            if response.meta.get("start_url"):
                self._judge_start(start_url, reason)
            return
        if response.meta.get("probe"):
            walk.adopt(response.meta.get("guesses", ()))
            if response.status >= 400:
                yield from self._wrong_guess(walk, response.url, f"HTTP {response.status}")
                return
        if response.meta.get("template_end") and response.status >= 400:
            self.logger.info("the column ends before %s (HTTP %s)", response.url, response.status)
            return
        tree, reading, embedded = page.tree, page.reading, page.embedded
        if walk.list_place is None and reading.entries and not reading.in_chrome:
            walk.list_place = reading.place
        entries = reading.entries
        if embedded is not None and (reading.in_chrome or len(embedded.entries) >= len(entries)):
            entries = embedded.entries  # the data the page carries is its list
            walk.report["pagination"] = embedded.kind
        else:
            embedded = None
        if response.meta.get("start_url"):
            if is_document_page(tree, reading, embedded, bool(response.meta.get("rendered"))):
                reason = f"{NOT_A_LIST}; give its column's list page"
                self._record_failure(response.url, "list", reason)
                walk.page_failed(response.url, reason)
                self._judge_start(start_url, reason)
                return
            self._judge_start(start_url, "ok")
        if embedded is None and looks_script_built(tree, entries, reading.in_chrome):
            if not response.meta.get("rendered"):
                # the list is left to scripts: its endpoint, the browser, or a report
                yield from self._script_built_list(response, tree, walk)
                return
            self.logger.warning("rendering showed no list of %s on %s", walk.column, response.url)
            self.rendering.rendering_did_not_help(walk.column)
        links = [url for url in (self.aliases.get(e.url, e.url) for e in entries) if self._on_portal(url)]
        fresh = walk.fresh(links)
        if response.meta.get("probe"):
            if not fresh:
                yield from self._wrong_guess(walk, response.url, "a repeat of earlier pages")
                return
            yield from self._guess_confirmed(walk, response.url)
        elif links and not fresh and not response.meta.get("start_url"):
            stats.inc_value("column/list_loops" if walk.repeated(response.url, links) else "column/list_aliases")
            return
        self._page_read(walk, response.url, embedded.pages_covered if embedded is not None else 1, links,
                        response.request)
        stats.inc_value("column/list_pages")
        self.column_links[walk.column] = self.column_links.get(walk.column, 0) + len(fresh)
        stats.inc_value("column/bulletin_links", len(fresh))
        if not links:
            self.logger.warning("list page lists no bulletins: %s", response.url)
        pager = page.pager
        profile = self._profile(walk)
        if profile.get("pager"):
            pager = templated_pager(pager, walk.start_url, profile["pager"], response.url)
        walk.saw_pager(pager)
        new = [url for url in fresh if url not in self.known and url not in self.forbidden_before]
        bulletins = self._bulletins_to_request(fresh, response.url, walk)  # a sample may end the walk
        if (self._walks_all(walk) or new) and not walk.stopped:
            if embedded is not None:
                yield from self._embedded_further_pages(response, tree, walk, embedded)
            elif pager.kind == "none" and response.meta.get("start_url"):
                yield from self._endpoint_beside(response, tree, walk)
            yield from self._further_pages(response.url, pager, walk)
        yield from self._bulletin_requests(bulletins, response.url)

    def _further_pages(self, page_url: str, pager: Pager, walk: ColumnWalk) -> Iterable[scrapy.Request]:
        """The next list page (incremental) or every further one (a whole walk), each once."""
        walk_all = self._walks_all(walk)
        if walk.guess_state == "none" and walk.guesses:
            probe = walk.next_probe()
            if probe and walk.may_request(probe):
                yield self._list_request(probe, walk, probe=True)
            if not walk_all:
                return
        pages = walk.ordered_pages(page_url, pager)
        for url in pages if walk_all else pages[:1]:
            if walk.may_request(url):
                yield self._list_request(url, walk)

    def _wrong_guess(self, walk: ColumnWalk, url: str, why: str) -> Iterable[scrapy.Request]:
        """A computed page that is not there: try the other naming (never the end of the column)."""
        self.crawler.stats.inc_value("column/wrong_guesses")
        self.logger.info("guessed list page %s was wrong (%s)", url, why)
        probe = walk.guess_failed(url, why)
        if probe and walk.may_request(probe):
            yield self._list_request(probe, walk, probe=True)

    def _guess_confirmed(self, walk: ColumnWalk, url: str) -> Iterable[scrapy.Request]:
        """The naming is right: when the checked page was not the next one, go on from page 2."""
        guess = next((g for g in walk.guesses if g.probe == url), None)
        if guess is None:  # settled here already (a link showed the naming): a page like any other
            return
        walk.confirm(guess)
        if guess.urls and guess.urls[0] != url:
            pending = [page for page in guess.urls if page not in walk.requested]
            for page in pending if self._walks_all(walk) else pending[:1]:
                if walk.may_request(page):
                    yield self._list_request(page, walk)

    def _bulletin_requests(self, urls: list[str], list_url: str) -> Iterable[scrapy.Request]:
        """The requests of ``urls``, made one by one as Scrapy takes them, and no more once the
        crawl is told to stop (SIGINT, SIGTERM): a stop waits for the callbacks under way, and
        scheduling 100,000 requests of a hostile list page would outlast its grace. The next
        run walks the column whole again (this one ends ``interrupted``)."""
        engine = self.crawler.engine
        for url in urls:
            if engine is not None and not engine.running:
                return
            yield self._bulletin_request(url, list_url)

    def _bulletins_to_request(self, links: list[str], list_url: str, walk: ColumnWalk) -> list[str]:
        """The listed bulletins to request, decided at once (a sample may end the walk here). Their
        requests are made as Scrapy takes them (:meth:`_bulletin_requests`): a hostile list page
        carries 100,000 links, and making that many requests at once would hold the event loop
        for more than a second."""
        stats = self.crawler.stats
        wanted = []
        for url in links:
            self.listed.add(url)
            if url in self.known:
                stats.inc_value("column/known_links")
                walk.report["known"] += 1
                if not self.full:
                    continue
            if self.sample:
                taken = self._sampled.get(walk.start_url, 0)
                if taken >= self.sample:
                    break
                self._sampled[walk.start_url] = taken + 1
                if taken + 1 == self.sample:
                    walk.stop(f"sample of {self.sample} bulletins taken")
            self._list_owner.setdefault(list_url, walk.start_url)
            wanted.append(url)
        return wanted

    # --- lists built by scripts ---------------------------------------------------------
    def _script_built_list(self, response: Response, tree, walk: ColumnWalk) -> Iterable[Any]:
        """A list page whose list its scripts build: its endpoint (no browser), else the
        browser, else a report."""
        column = walk.column
        self.crawler.stats.inc_value("render/script_built_pages")
        endpoint = None
        if self.rendering.mode in ("auto", "api") and self.rendering.columns.get(column) != "plain":
            endpoint = find_endpoint(tree, response.url, self.portal_hosts)
        if endpoint is not None and (endpoint.paged or self.rendering.mode == "api"):  # auto: a visit counter is no list
            self.rendering.columns[column] = "api"
            self.logger.info("list built by scripts, reading its endpoint: %s", endpoint.describe())
            yield from self._start_endpoint(walk, endpoint, response.url)
            return
        plan = self.rendering.plan(column)
        if plan == "browser":
            self.logger.info("list built by scripts, rendering: %s", response.url)
            yield self._list_request(response.url, walk, bool(response.meta.get("start_url")), rendered=True)
        elif plan == "api":
            self.rendering.not_read(column, NEEDS_RENDERING_NO_ENDPOINT)
        else:
            self.logger.warning("list page left to scripts, not rendered (--render %s): %s",
                                self.rendering.mode, response.url)

    def _start_endpoint(self, walk: ColumnWalk, endpoint: ApiEndpoint, list_url: str,
                        first: int | None = None) -> Iterable[scrapy.Request]:
        self._api_endpoints[walk.start_url] = endpoint
        walk.report["endpoint"] = endpoint.describe()
        walk.report["pagination"] = "endpoint"
        if first is None:
            first = 0 if endpoint.paged and not endpoint.by_records else 1
        yield self._api_request(walk, list_url, first, probe=first == 0)

    def _embedded_further_pages(self, response: Response, tree, walk: ColumnWalk,
                                embedded: Embedded) -> Iterable[scrapy.Request]:
        """A list carried in the page whose further records an endpoint serves (JCMS)."""
        if walk.start_url in self._api_endpoints or response.meta.get("probe"):
            return
        endpoint = find_endpoint(tree, response.url, self.portal_hosts)
        if endpoint is None or not endpoint.paged:
            return
        if embedded.pages and embedded.pages > 1:
            walk.report["announced"] = max(walk.report["announced"] or 0, embedded.pages)
        per = endpoint.per_page or len(embedded.entries) or 1
        first = len(embedded.entries) // per + 1 if endpoint.by_records else 2
        if embedded.pages is not None and first > embedded.pages:
            return
        self._api_first[walk.start_url] = 1
        yield from self._start_endpoint(walk, endpoint, response.url, first)
        walk.report["pagination"] = embedded.kind + "+endpoint"

    def _endpoint_beside(self, response: Response, tree, walk: ColumnWalk) -> Iterable[scrapy.Request]:
        """A page showing a few entries (a pinned box) and no pager, whose scripts page the
        real list from an endpoint: that endpoint is read too (repeats are dropped)."""
        if walk.start_url in self._api_endpoints or self.rendering.mode not in ("auto", "api", "never"):
            return
        endpoint = find_endpoint(tree, response.url, self.portal_hosts)
        if endpoint is not None and endpoint.paged and self.rendering.mode == "never":
            # the box is not the list, which stays unread: said, not a run "ok" with two bulletins
            self.rendering.not_read(walk.column, NEEDS_RENDERING_NEVER)
        elif endpoint is not None and endpoint.paged:
            self.logger.info("list paged by its scripts' endpoint: %s", endpoint.describe())
            yield from self._start_endpoint(walk, endpoint, response.url)

    def parse_api(self, response: Response, start_url: str, list_url: str, page: int) -> Iterable[Any]:
        """A page of a list's endpoint (JSON or XML): its items are the list page's entries."""
        stats = self.crawler.stats
        walk = self.walks[start_url]
        endpoint = self._api_endpoints.setdefault(start_url, response.meta["endpoint"])
        if response.meta.get("api_first") is not None:
            self._api_first.setdefault(start_url, response.meta["api_first"])
        entries: list = []
        count = None
        if 200 <= response.status < 300:
            text = response.text if isinstance(response, TextResponse) else response.body.decode("utf-8", "replace")
            entries, count = entries_in_answer(text, _content_type(response) or "", list_url, walk.column)
        links = [url for url in dict.fromkeys(self.aliases.get(e.url, e.url) for e in entries) if self._on_portal(url)]
        fresh = walk.fresh(links)
        first = self._api_first.get(start_url)
        if not fresh:
            if response.meta.get("api_probe"):  # page 0 refused or empty: pages count from 1
                yield self._api_request(walk, list_url, page + 1)
            elif links and page == 1 and first == 0:  # page 0 was page 1 again
                self._api_first[start_url] = 1
                yield self._api_request(walk, list_url, 2)
            elif not walk.entries:
                if self.rendering.mode == "auto" and self.rendering.plan(walk.column) == "browser":
                    self.rendering.columns[walk.column] = "browser"  # the endpoint was not it: render
                    yield self._list_request(list_url, walk, list_url == start_url, rendered=True)
                else:
                    self.rendering.not_read(walk.column, NEEDS_RENDERING_EMPTY_ENDPOINT)
            return
        first = self._api_first.setdefault(start_url, page)
        self._page_read(walk, f"{endpoint.describe()}#{page}", 1, links, response.request)
        stats.inc_value("column/list_pages")
        stats.inc_value("render/api_pages")
        if count:
            walk.report["announced"] = max(walk.report["announced"] or 0, count)
        self.column_links[walk.column] = self.column_links.get(walk.column, 0) + len(fresh)
        stats.inc_value("column/bulletin_links", len(fresh))
        new = [url for url in fresh if url not in self.known and url not in self.forbidden_before]
        bulletins = self._bulletins_to_request(fresh, list_url, walk)  # a sample may end the walk
        more = count is None or page - first + 1 < count
        if endpoint.paged and more and (self._walks_all(walk) or new) and page - first + 1 < MAX_API_PAGES:
            if walk.may_request(f"{endpoint.describe()}#{page + 1}"):
                yield self._api_request(walk, list_url, page + 1)
        yield from self._bulletin_requests(bulletins, list_url)

    def _page_read(self, walk: ColumnWalk, url: str, pages: int, links: list[str],
                   request: scrapy.Request) -> None:
        walk.page_read(pages)
        self.crawler.signals.send_catch_log(
            list_page_read, start_url=walk.start_url, url=url, pages=pages, links=links, request=request)

    def _on_portal(self, url: str) -> bool:
        if self.is_portal_url(url):
            return True
        self.crawler.stats.inc_value("column/offsite_links_skipped")
        return False

    # --- outcomes per column ------------------------------------------------------------
    def _walk_of(self, list_url: str) -> ColumnWalk | None:
        owner = self._list_owner.get(list_url)
        return self.walks.get(owner) if owner else None

    def ingested(self, by_list: dict[str, dict[str, int]]) -> None:
        """What ingest made of the bulletins each list page linked (stored, not a bulletin,
        refused): only ingest reads the pages' content, so only it can tell."""
        for walk in self.walks.values():
            for key in ("bulletins", "not_bulletins"):
                walk.report[key] = 0
        for list_url, outcomes in by_list.items():
            walk = self._walk_of(list_url)
            if walk is not None:
                walk.report["bulletins"] += outcomes.get("stored", 0)
                walk.report["not_bulletins"] += outcomes.get("not_bulletin", 0)
                walk.report["bulletins_failed"] += outcomes.get("refused", 0)

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
        page = BulletinPage(
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
        # One parse of the page, if any, for its further pages and its files.
        content_type = _content_type(response)
        tree_of = cache(partial(parse_page, response.body, content_type))
        part_urls = document_parts(response.body, content_type, response.url, tree_of)
        if not part_urls:
            page.attachment_urls = attachment_urls(page, tree_of)
        del tree_of  # not held while further pages download
        for number, part_url in enumerate(part_urls, 1):
            part = await self._document_part(url, part_url, f"page {number + 1} of {len(part_urls) + 1}")
            if part is None:
                return
            parts.append(part)
        if parts:  # a split document's files are those of all its pages (its first parsed again)
            page.attachment_urls = attachment_urls(page)
        yield page

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
        if self.archive is not None:
            self.archive.record_failure(url, kind, reason)

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
        walk = self.walks.get(failure.request.cb_kwargs.get("start_url", ""))
        if walk is not None:
            walk.page_failed(failure.request.url, reason)
        start_url = failure.request.meta.get("start_url")
        if start_url:
            self._judge_start(start_url, reason)

    def bulletin_failed(self, failure: Failure) -> None:
        self._failed(failure, "bulletin")
        walk = self._walk_of(failure.request.cb_kwargs.get("list_url", ""))
        robots = failure.check(IgnoreRequest) and "robots.txt" in (failure.getErrorMessage() or "")
        if walk is not None and not robots:
            walk.report["bulletins_failed"] += 1

    def idle(self) -> None:
        """Before the run is judged: each column names the announced pages it did not read."""
        for walk in self.walks.values():
            walk.finish(self._walks_all(walk))

    def unlisted_bulletins(self, reason: str) -> list[str]:
        """After a complete full pass: archived bulletins on no list (to be marked missing).

        Only columns whose every list page was read count, and none of a sample (partial by
        design). A column that would lose more than :data:`MOST_UNLISTED` of its bulletins at once
        is reported instead: what was read is more likely not the whole column (a box beside the
        list taken for it) than the column emptied (a sample or an unrendered list once marked
        13 of 16 live bulletins removed).
        """
        if not (self.full and reason == "finished" and not self.list_failures) or self.sample:
            return []
        unlisted: set[str] = set()
        for walk in self.walks.values():
            if not walk.read_whole:
                continue
            known = self._known_in(walk.column)
            gone = [url for url in known if url not in self.listed]
            if len(gone) > max(MOST_UNLISTED * len(known), 5):
                walk.problem(f"{len(gone)} of its {len(known)} archived bulletins are on no list page read: "
                             "not marked removed (the lists read may not be the whole column)")
                continue
            unlisted.update(gone)
        return sorted(unlisted)
