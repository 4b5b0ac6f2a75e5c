"""List pages whose list is built by JavaScript: when to render, how, and the JSON shortcut.

Some portals ship an empty list container and fill it from a JSON endpoint after load, or
write their pager with ``document.write``. A plain fetch of such a page shows no bulletin
of the column (at most a static sidebar of other columns' documents). ``RENDER_MODE``:

* ``never``: plain Scrapy only; such a column is reported (the run fails with "… needs
  JavaScript rendering (use --render auto)").
* ``auto`` (default): a list page is fetched plainly first (its bytes go to WARC); only when
  it shows no bulletin of its column but carries scripts is it fetched again through the
  browser, and the rest of that column's list pages go straight to the browser (this run).
* ``always``: every list page through the browser.
* ``api``: no browser; the endpoint the page's scripts call (``fetch``, ``$.ajax``,
  ``$.get``, ``XMLHttpRequest.open``, ``axios``…) is read with Scrapy, page after page,
  and items are taken from any list of objects in the JSON that carries a document URL.

Bulletin pages never go through the browser. The browser's pages are always closed (by
scrapy-playwright, and by :func:`closing_errback` should one be kept), load no images,
fonts, media or stylesheets, and talk to no host but the portal's own (``portal_hosts``)
and to nothing robots.txt forbids. Rendered responses carry ``meta["rendered"]`` so the
WARC never holds a DOM; what the browser fetched from the portal (the page, its JSON) is
recorded as captures with the server's bytes.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.http import Response
from twisted.python.failure import Failure

from spiders.browser import BROWSER_MODES, browser_path, first_line, missing_reason, render_mode
from pipelines.urls import netloc_of
from spiders.scripted import parse_json_text

if TYPE_CHECKING:
    from playwright.async_api import Page, Route
    from playwright.async_api import Request as BrowserRequest
    from playwright.async_api import Response as BrowserResponse
    from scrapy import Spider

#: Resource types the browser never loads for a list.
DEFAULT_BLOCKED_TYPES = ("image", "media", "font", "stylesheet")

#: Why a script-built list was not read (``render/needs_rendering`` stat values).
NEEDS_RENDERING_NEVER = "never"
NEEDS_RENDERING_NO_BROWSER = "no-browser"
NEEDS_RENDERING_NO_ENDPOINT = "no-endpoint"
NEEDS_RENDERING_EMPTY_ENDPOINT = "empty-endpoint"


def parse_json(response: Response) -> Any:
    """A response's body as JSON, or None."""
    try:
        text = response.text if hasattr(response, "text") else response.body.decode("utf-8", "replace")
    except (ValueError, AttributeError):
        return None
    return parse_json_text(text)


# --------------------------------------------------------------------------- the browser

class RenderFailed(Exception):
    """A page the browser could not render (Playwright's message, first line only)."""


def closing_errback(errback: Callable[[Failure], Any]) -> Callable[[Failure], Any]:
    """``errback`` that first closes the browser page a failed request may hold, and
    passes Playwright's errors on as one line (its call log stays out of reasons)."""
    def closing(failure: Failure) -> Any:
        request = getattr(failure, "request", None)
        page = request.meta.pop("playwright_page", None) if request is not None else None
        if page is not None:
            closed = asyncio.ensure_future(_close_page(page))
            closed.add_done_callback(lambda task: task.cancelled() or task.exception())
        if type(failure.value).__module__.startswith("playwright"):
            name = type(failure.value).__name__
            one_line = Failure(RenderFailed(f"{name}: {first_line(str(failure.value))}"))
            one_line.request = request  # type: ignore[attr-defined]
            failure = one_line
        return errback(failure)
    return closing


async def _close_page(page: "Page") -> None:
    if not page.is_closed():
        await page.close()


def _robots_parser(crawler: Any, netloc: str) -> Any:
    """The robots.txt parser Scrapy already fetched for ``netloc`` (or ``None``)."""
    try:
        for middleware in crawler.engine.downloader.middleware.middlewares:
            parsers = getattr(middleware, "_parsers", None)
            if isinstance(parsers, dict):
                parser = parsers.get(netloc)
                return parser if hasattr(parser, "allowed") else None
    except AttributeError:
        return None
    return None


class Rendering:
    """One crawl's rendering: the mode, which columns go to the browser, the page hooks."""

    def __init__(self, spider: "Spider", crawler: Any) -> None:
        settings = crawler.settings
        self.spider = spider
        self.crawler = crawler
        self.mode = render_mode(settings)
        self.timeout_ms = settings.getfloat("RENDER_TIMEOUT", 20.0) * 1000
        self.wait_ms = settings.getfloat("RENDER_WAIT", 10.0) * 1000
        self.blocked_types = frozenset(settings.getlist("RENDER_BLOCKED_RESOURCES", list(DEFAULT_BLOCKED_TYPES)))
        self.configured_browser = settings.get("CHROMIUM_PATH") or None
        self.user_agent = settings.get("USER_AGENT")
        #: column -> "browser" (its list pages are rendered) | "api" | "plain" (rendering did not help).
        self.columns: dict[str, str] = {}
        #: column -> why its script-built list was not read (see NEEDS_RENDERING_*).
        self.unread: dict[str, str] = {}
        self._pending: dict[Any, list[asyncio.Future]] = {}

    @property
    def stats(self) -> Any:
        return self.crawler.stats  # set only once the crawl starts

    # --- decisions -----------------------------------------------------------------
    def browser_for(self, column: str) -> bool:
        """Whether the column's list pages go straight to the browser."""
        return self.mode == "always" or (self.mode == "auto" and self.columns.get(column) == "browser")

    def plan(self, column: str) -> str | None:
        """What to do with a script-built list page: ``"browser"``, ``"api"``, or ``None``."""
        state = self.columns.get(column)
        if state == "plain":
            return None
        if self.mode == "never":
            self.not_read(column, NEEDS_RENDERING_NEVER)
            return None
        if self.mode == "api":
            return None if state == "api" else "api"
        if self.mode in BROWSER_MODES:
            if browser_path(self.crawler.settings) is None:
                reason = missing_reason(self.configured_browser)
                self.stats.set_value("render/browser_missing", reason)
                self.not_read(column, NEEDS_RENDERING_NO_BROWSER)
                return None
            self.columns[column] = "browser"
            return "browser"
        return None

    def not_read(self, column: str, why: str) -> None:
        self.unread.setdefault(column, why)
        self.stats.set_value("render/needs_rendering", dict(self.unread))

    def rendering_did_not_help(self, column: str) -> None:
        self.columns[column] = "plain"
        self.stats.inc_value("render/no_help")

    # --- rendered requests -------------------------------------------------------------
    def browser_meta(self, column: str) -> dict[str, Any]:
        """``Request.meta`` sending a list page through scrapy-playwright."""
        from scrapy_playwright.page import PageMethod

        return {
            "playwright": True,
            "rendered": True,
            "playwright_context": "render",
            "playwright_context_kwargs": {"service_workers": "block", "user_agent": self.user_agent},
            "playwright_include_page": False,
            "playwright_page_init_callback": self.init_page,
            "playwright_page_goto_kwargs": {"wait_until": "load", "timeout": self.timeout_ms},
            "playwright_page_methods": [PageMethod(self.wait_for_list, column)],
        }

    async def init_page(self, page: "Page", request: Request) -> None:
        """Before navigation: block what a list never needs, record what the portal sends."""
        try:
            self.stats.inc_value("render/pages")
            await page.route("**/*", self._route)
            self._pending[page] = []
            page.on("response", lambda response: self._on_response(page, response))
            page.on("close", lambda closed: self._pending.pop(closed, None))
        except Exception as error:  # the page closed under us: the download fails on its own
            self.spider.logger.debug("could not prepare page for %s: %r", request.url, error)

    async def _route(self, route: "Route", request: "BrowserRequest") -> None:
        url = request.url
        try:
            if url.startswith(("data:", "blob:", "about:")):
                await route.fallback()
            elif request.resource_type in self.blocked_types:
                self.stats.inc_value("render/blocked/resource")
                await route.abort("blockedbyclient")
            elif netloc_of(url) not in self.spider.portal_hosts:
                self.stats.inc_value("render/blocked/offsite")
                await route.abort("blockedbyclient")
            elif not self._robots_allow(url):
                self.stats.inc_value("render/blocked/robots")
                await route.abort("blockedbyclient")
            else:
                await route.fallback()
        except Exception as error:  # page closed while routing
            self.spider.logger.debug("route %s: %r", url, error)

    def _robots_allow(self, url: str) -> bool:
        if not self.crawler.settings.getbool("ROBOTSTXT_OBEY"):
            return True
        parser = _robots_parser(self.crawler, netloc_of(url))
        if parser is None:
            return True
        try:
            return bool(parser.allowed(url, self.user_agent or "*"))
        except Exception:
            return True

    def _on_response(self, page: "Page", response: "BrowserResponse") -> None:
        request = response.request
        if request.resource_type not in ("document", "xhr", "fetch"):
            return
        if netloc_of(response.url) not in self.spider.portal_hosts:
            return
        pending = self._pending.get(page)
        task = asyncio.ensure_future(self._record(response))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        if pending is not None:
            pending.append(task)

    async def _record(self, response: "BrowserResponse") -> None:
        """The server's bytes the browser received, as a capture (never the DOM)."""
        from scrapy.http import Response as ScrapyResponse

        archive = getattr(self.spider, "archive", None)
        if archive is None or 300 <= response.status < 400:
            return
        try:
            body = await response.body()
            headers = await response.all_headers()
            request_headers = await response.request.all_headers()
        except Exception:  # page closed, body evicted: nothing to keep
            return
        headers = {k: v for k, v in headers.items() if not k.startswith(":") and k.lower() != "content-encoding"}
        request_headers = {k: v for k, v in request_headers.items() if not k.startswith(":")}
        kind = "list" if response.request.resource_type == "document" else "list-data"
        archive.record_capture(
            Request(response.url, method=response.request.method, headers=request_headers),
            ScrapyResponse(response.url, status=response.status, headers=headers, body=body), kind)
        self.stats.inc_value(f"render/captures/{kind}")

    async def wait_for_list(self, page: "Page", column: str) -> None:
        """Until the scripts added a list (a few more titled links than at load) or the network
        goes quiet (bounded)."""
        titled = """() => Array.from(document.querySelectorAll('a[href]'))
            .filter(a => (a.textContent || a.title || '').trim().length >= 5).length"""
        before = await page.evaluate(titled)
        script = f"() => ({titled})() >= {before + 3}"
        waits = [asyncio.ensure_future(page.wait_for_function(script, timeout=self.wait_ms, polling=100)),
                 asyncio.ensure_future(page.wait_for_load_state("networkidle", timeout=self.wait_ms))]
        try:
            waiting, settled = set(waits), False
            while waiting and not settled:
                done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                settled = any(task.exception() is None for task in done)
            if not settled:
                self.stats.inc_value("render/wait_timeouts")
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        pending = self._pending.get(page, [])
        if pending:
            await asyncio.wait(pending, timeout=self.wait_ms / 1000)
