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
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from lxml.etree import _Element
from scrapy import Request
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.browser import BROWSER_MODES, browser_path, first_line, missing_reason, render_mode
from crawler.extensions import ArchiveRun
from pipelines.urls import is_detail_url, netloc_of

if TYPE_CHECKING:
    from playwright.async_api import Page, Route
    from playwright.async_api import Request as BrowserRequest
    from playwright.async_api import Response as BrowserResponse
    from scrapy import Spider

#: Scripts that build or fill a list (rather than, say, a font-size switch).
_BUILDS_LIST = re.compile(
    r"\bfetch\s*\(|\.\s*(?:ajax|getJSON|get|post|load)\s*\(|XMLHttpRequest|\baxios\b|document\.write"
    r"|\.innerHTML\s*[+]?=|appendChild\s*\(|insertAdjacentHTML|\.append\s*\(|\.html\s*\(|\$\s*\(\s*function",
)
#: Resource types the browser never loads for a list.
DEFAULT_BLOCKED_TYPES = ("image", "media", "font", "stylesheet")
#: Ceiling on JSON pages read from one endpoint.
MAX_API_PAGES = 5000

#: Why a script-built list was not read (``render/needs_rendering`` stat values).
NEEDS_RENDERING_NEVER = "never"
NEEDS_RENDERING_NO_BROWSER = "no-browser"
NEEDS_RENDERING_NO_ENDPOINT = "no-endpoint"
NEEDS_RENDERING_EMPTY_ENDPOINT = "empty-endpoint"


def inline_scripts(tree: _Element) -> str:
    return "\n".join(tree.xpath("//script[not(@src)]/text()"))


def has_scripts(tree: _Element) -> bool:
    return bool(tree.xpath("//script[@src or normalize-space(text())]"))


def looks_script_built(tree: _Element, links: list[str], column: str) -> bool:
    """Whether a plainly fetched list page leaves its list to scripts.

    True when the page shows no bulletin inside its column and either shows no bulletin at
    all but carries scripts, or its scripts look like they build a list (links outside the
    column are then a static sidebar, or bulletins filed elsewhere: the browser tells).
    """
    if any(url.startswith(column) for url in links):
        return False
    if not links:
        return has_scripts(tree)
    return bool(_BUILDS_LIST.search(inline_scripts(tree)))


# --------------------------------------------------------------------------- the JSON endpoint

_STRING = r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`"""
#: A URL expression: string literals and simple terms joined by ``+``.
_TERM = r"""(?:%s|[\w$.]+(?:\s*\(\s*[^()]*\))?|\(\s*[^()]*\))""" % _STRING
_EXPR = rf"(?P<expr>{_TERM}(?:\s*\+\s*{_TERM})*)"
_CALLS = [
    re.compile(rf"\bfetch\s*\(\s*{_EXPR}"),
    re.compile(rf"(?:\$|jQuery)\s*\.\s*(?:get|getJSON|ajax)\s*\(\s*{_EXPR}"),
    re.compile(rf"\baxios(?:\s*\.\s*get)?\s*\(\s*{_EXPR}"),
    re.compile(rf"\.open\s*\(\s*['\"]GET['\"]\s*,\s*{_EXPR}", re.IGNORECASE),
    re.compile(rf"(?<![\w$])url\s*:\s*{_EXPR}"),
]
_PIECE = re.compile(rf"\s*(?P<piece>{_TERM})\s*(?:\+|$)")
_PAGE_NAMES = re.compile(
    r"^(?:page|pageno|pagenum|pagenumber|pageindex|pageindx|curpage|currpage|currentpage|current|pn|p|index|start)$",
    re.IGNORECASE)
_DATA_PAGE = re.compile(r"data\s*:\s*\{(?P<body>[^{}]*)\}")
_DATA_PAIR = re.compile(r"""['"]?(?P<key>[\w$]+)['"]?\s*:\s*(?P<value>[^,}]+)""")
_POST = re.compile(r"""(?:type|method)\s*:\s*['"]post['"]""", re.IGNORECASE)
_STATIC = re.compile(r"\.(?:js|css|png|jpe?g|gif|svg|ico|woff2?|ttf)(?:$|\?)", re.IGNORECASE)
_TEMPLATE_HOLE = re.compile(r"\$\{[^}]*\}")
#: The literal before a term ends with a page parameter (``?page=``, ``&pageNo=``).
_PAGE_SLOT = re.compile(r"[?&;/](?:page|pageno|pagenum|pagenumber|pageindex|curpage|currpage|currentpage|pn|p)=$",
                        re.IGNORECASE)
PAGE = "{page}"


def _literal(piece: str) -> str | None:
    if piece[:1] in "'\"" and piece[-1:] == piece[:1]:
        return re.sub(r"\\(.)", r"\1", piece[1:-1])
    return None


def _variables(script: str) -> dict[str, str]:
    """``var name = 'text' | 123`` assignments of the page's scripts (last one wins)."""
    found = {}
    for match in re.finditer(r"""(?:var|let|const)?\s*\b([\w$]+)\s*=\s*(?:'([^'\n]*)'|"([^"\n]*)"|(\d+))\s*[;,\n]""",
                             script):
        found[match.group(1)] = next(g for g in match.groups()[1:] if g is not None)
    return found


def _template(expr: str, variables: dict[str, str]) -> str | None:
    """A URL template with ``{page}`` for the page term, or ``None`` if not understood."""
    text = expr.strip()
    if text.startswith("`") and text.endswith("`"):
        holes = _TEMPLATE_HOLE.findall(text)
        parts = _TEMPLATE_HOLE.split(text[1:-1])
        out = parts[0]
        for hole, part in zip(holes, parts[1:]):
            name = hole[2:-1].strip()
            if name in variables and not _PAGE_NAMES.match(name):
                out += variables[name]
            else:
                out += PAGE
            out += part
        return out if out.count(PAGE) <= 1 else None
    out, page_terms = "", 0
    for match in _PIECE.finditer(text):
        piece = match.group("piece").strip()
        literal = _literal(piece)
        if literal is not None:
            out += literal
            continue
        name = piece if re.fullmatch(r"[\w$]+", piece) else None
        slot = _PAGE_SLOT.search(out)
        if not slot and name in variables and not _PAGE_NAMES.match(name or ""):
            out += variables[name]  # a constant of the page (a column id, a site id)
        else:
            out += PAGE
            page_terms += 1
    if page_terms > 1 or not out or out == PAGE:
        return None
    return out


def _with_data_page(template: str, call_text: str) -> str:
    """``$.ajax({url: "/api/list", data: {page: n}})``: the page goes into the query."""
    data = _DATA_PAGE.search(call_text)
    if PAGE in template or not data:
        return template
    for pair in _DATA_PAIR.finditer(data.group("body")):
        if _PAGE_NAMES.match(pair.group("key")):
            parts = urlsplit(template)
            query = parse_qsl(parts.query, keep_blank_values=True) + [(pair.group("key"), "PAGE__")]
            return urlunsplit(parts._replace(query=urlencode(query))).replace("PAGE__", PAGE)
    return template


@dataclass(frozen=True)
class ApiEndpoint:
    """A JSON endpoint read off a list page's scripts: ``template`` has ``{page}`` or is fixed."""

    template: str

    @property
    def paged(self) -> bool:
        return PAGE in self.template

    def url(self, page: int) -> str:
        return self.template.replace(PAGE, str(page))


def find_endpoint(tree: _Element, page_url: str, hosts: set[str] | None = None) -> ApiEndpoint | None:
    """The JSON endpoint the list page's scripts call, if they show one (paged ones first)."""
    script = inline_scripts(tree)
    variables = _variables(script)
    found: list[ApiEndpoint] = []
    for call in _CALLS:
        for match in call.finditer(script):
            window = script[max(0, match.start() - 200):match.start() + 600]
            if _POST.search(window):
                continue
            template = _template(match.group("expr"), variables)
            if template is None:
                continue
            template = _with_data_page(template, window)
            url = urljoin(page_url, template.replace(PAGE, "PAGE__")).replace("PAGE__", PAGE)
            if not netloc_of(url.replace(PAGE, "1")) or _STATIC.search(urlsplit(url).path):
                continue
            if is_detail_url(url.replace(PAGE, "1")) or urlsplit(url).path.endswith((".html", ".shtml", ".htm")):
                continue
            if hosts is not None and netloc_of(url.replace(PAGE, "1")) not in hosts:
                continue
            endpoint = ApiEndpoint(url)
            if endpoint not in found:
                found.append(endpoint)
    found.sort(key=lambda endpoint: not endpoint.paged)
    return found[0] if found else None


@dataclass(frozen=True)
class ApiItem:
    url: str
    title: str = ""
    date: str = ""


def _norm(key: str) -> str:
    return re.sub(r"[^a-z]", "", key.lower())


#: Keys naming an item's document URL, title and date (compared without case, ``_`` or ``-``).
URL_KEYS = ("url", "docpuburl", "link", "href", "docurl", "puburl", "linkurl", "pageurl", "detailurl",
            "articleurl", "infourl", "contenturl", "doclink", "path", "src")
TITLE_KEYS = ("title", "doctitle", "name", "subject", "infotitle", "articletitle", "topic")
DATE_KEYS = ("date", "pubdate", "docreltime", "publishdate", "publishtime", "pubtime", "releasetime",
             "createtime", "time", "docpubtime", "infodate", "writetime")


def _lists_of_objects(node: Any) -> Iterator[list[dict]]:
    if isinstance(node, list):
        if any(isinstance(item, dict) for item in node):
            yield [item for item in node if isinstance(item, dict)]
        for item in node:
            yield from _lists_of_objects(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _lists_of_objects(value)


def _field(item: dict, keys: tuple[str, ...]) -> str:
    by_name = {_norm(k): v for k, v in item.items() if isinstance(v, (str, int, float))}
    for key in keys:
        if key in by_name and str(by_name[key]).strip():
            return str(by_name[key]).strip()
    return ""


def _item_url(item: dict, base_url: str) -> str | None:
    strings = {_norm(k): v.strip() for k, v in item.items() if isinstance(v, str) and v.strip()}
    ordered = [strings[key] for key in URL_KEYS if key in strings]
    ordered += [value for key, value in strings.items() if key not in URL_KEYS]
    for value in ordered:
        url = urljoin(base_url, value)
        if is_detail_url(url):
            return url
    return None


def items_from_json(data: Any, base_url: str) -> list[ApiItem]:
    """Items (document URL, title, date) of the JSON's list: the list of objects with most URLs."""
    best: list[ApiItem] = []
    for objects in _lists_of_objects(data):
        items = []
        for item in objects:
            url = _item_url(item, base_url)
            if url:
                items.append(ApiItem(url, _field(item, TITLE_KEYS), _field(item, DATE_KEYS)))
        if len(items) > len(best):
            best = items
    return best


def json_page_count(data: Any) -> int | None:
    """A page count the JSON announces (``pageCount``, ``totalPage``, ``pages``…), if any."""
    names = {"pagecount", "totalpage", "totalpages", "pages", "pagetotal", "totalpagecount", "pagenum"}
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if _norm(key) in names and isinstance(value, (int, str)) and str(value).isdigit():
                    return int(value)
                if isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(n for n in node if isinstance(n, (dict, list)))
    return None


def parse_json(response: Response) -> Any:
    try:
        text = response.text if hasattr(response, "text") else response.body.decode("utf-8", "replace")
        return json.loads(text.strip().lstrip("\ufeff"))
    except (ValueError, AttributeError):
        return None


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

        run = self.crawler.get_extension(ArchiveRun)
        if run is None or 300 <= response.status < 400:
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
        run.record_capture(
            Request(response.url, method=response.request.method, headers=request_headers),
            ScrapyResponse(response.url, status=response.status, headers=headers, body=body), kind)
        self.stats.inc_value(f"render/captures/{kind}")

    async def wait_for_list(self, page: "Page", column: str) -> None:
        """Until the column's bulletin links show up or the network goes quiet (bounded)."""
        script = """(column) => Array.from(document.querySelectorAll('a[href]')).some(a =>
            a.href.startsWith(column) && /\\/t\\d{8}_\\d+(?:_\\w+)?\\.s?html?$/i.test(a.pathname))"""
        waits = [asyncio.ensure_future(page.wait_for_function(script, arg=column, timeout=self.wait_ms, polling=100)),
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
