"""What every page of the reading room shares: the served archive, links, escaping, rendering.

Archived text is never trusted: templates autoescape, highlighted text is assembled from escaped
pieces (:func:`highlight`), and only http(s) URLs become links (:func:`safe_href`).
"""
from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils
from datasette.utils import sqlite_timelimit
from datasette.utils.asgi import Response
from markupsafe import Markup, escape

from archive.search import FTS_TABLE
from archive.web.i18n import HTML_LANG, LANG_COOKIE, LANGS, Translator, choose_lang

STATIC_PATH = "/-/zwdc-static/"
SEARCH_PATH = "/-/search"
BULLETIN_PATH = "/-/bulletin"
CHARTS_PATH = "/-/charts"
ITEMS_PATH = "/-/items"
CAPTURE_PATH = "/-/capture/"
FILE_PATH = "/-/file/"
#: Filter value meaning "this field is empty" (a facet row for bulletins without the field).
BLANK = "(blank)"
_SAFE_SCHEMES = ("http://", "https://")
#: Headers of every page: no framing by other sites, no guessing of content types.
PAGE_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "SAMEORIGIN",
                "Referrer-Policy": "no-referrer"}

T = TypeVar("T")


@dataclass(frozen=True)
class Archive:
    """The archive database Datasette serves: its name there and its file."""

    name: str
    path: Path


async def served_archive(datasette) -> Archive | None:
    """The first served database with a ``bulletins`` table and its search index."""
    for name, db in datasette.databases.items():
        if name == "_internal" or not db.path:
            continue
        if await db.table_exists("bulletins") and await db.table_exists(FTS_TABLE):
            return Archive(name, Path(db.path))
    return None


class TimeLimitExceeded(Exception):
    """A page's queries ran past the server's SQL time limit (``sql_time_limit_ms``) and were stopped."""

    def __init__(self, limit_ms: int):
        super().__init__(f"{limit_ms} ms")
        self.limit_ms = limit_ms


async def read(datasette, archive: Archive, fn: Callable[[sqlite_utils.Database], T]) -> T:
    """Run ``fn`` on one of Datasette's read-only connections to the archive (off the event loop),
    in one read transaction: a crawl committing meanwhile never makes a page's counts disagree.

    Under the server's SQL time limit, as Datasette's own pages are: past it SQLite interrupts
    the work and :class:`TimeLimitExceeded` is raised (the page answers 400, saying so)."""
    limit_ms = datasette.setting("sql_time_limit_ms")

    def call(conn) -> T:
        db = sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)
        with sqlite_timelimit(conn, limit_ms):
            if conn.in_transaction:
                return fn(db)
            conn.execute("begin")
            try:
                return fn(db)
            finally:
                conn.execute("rollback")

    try:
        return await datasette.get_database(archive.name).execute_fn(call)
    except sqlite3.OperationalError as error:
        if "interrupted" not in str(error):
            raise
        raise TimeLimitExceeded(limit_ms) from None


def time_limited(view: Callable[..., Any]) -> Callable[..., Any]:
    """A page that answers 400, in one line of the page's language, when its reads ran too long."""
    async def wrapped(datasette, request) -> Response:  # Datasette passes arguments by name
        try:
            return await view(datasette, request)
        except TimeLimitExceeded as error:
            return await error_page(datasette, request, "time_limit", status=400, detail=str(error))

    return wrapped


def url_with(path: str, params: Mapping[str, Any]) -> str:
    """``path?…`` with the non-empty ``params``."""
    kept = {key: value for key, value in params.items() if value not in ("", None)}
    return path + ("?" + urllib.parse.urlencode(kept) if kept else "")


def bulletin_page(url: str) -> str:
    return url_with(BULLETIN_PATH, {"url": url})


def highlight(text: str, spans: Iterable[tuple[int, int]]) -> Markup:
    """``text`` HTML-escaped, with each (start, end) span wrapped in ``<mark>``."""
    out, at = [], 0
    for start, end in spans:
        out += [escape(text[at:start]), Markup("<mark>"), escape(text[start:end]), Markup("</mark>")]
        at = end
    out.append(escape(text[at:]))
    return Markup("").join(out)


def safe_href(url: str | None) -> str | None:
    """The URL when it is http(s), else None (a ``javascript:`` URL never becomes a link)."""
    return url if url and url.lower().startswith(_SAFE_SCHEMES) else None


def page_lang(request) -> str:
    return choose_lang(request.args.get("lang"), request.cookies.get(LANG_COOKIE))


def translator(request) -> Translator:
    return Translator(page_lang(request))


def lang_switch_url(request, lang: str) -> str:
    """The current page in the other language."""
    other = LANGS[1 - LANGS.index(lang)]
    params = [(key, value) for key, value in urllib.parse.parse_qsl(request.query_string, keep_blank_values=True)
              if key != "lang"]
    return request.path + "?" + urllib.parse.urlencode([*params, ("lang", other)])


async def render(datasette, request, template: str, context: dict[str, Any], *, status: int = 200) -> Response:
    """A page of the reading room in the request's language (kept in a cookie when asked for)."""
    lang = page_lang(request)
    archive = await served_archive(datasette)
    context = {
        **context, "t": Translator(lang), "lang": lang, "html_lang": HTML_LANG[lang],
        "lang_switch_url": lang_switch_url(request, lang), "static": STATIC_PATH,
        "paths": {"home": "/", "search": SEARCH_PATH, "charts": CHARTS_PATH, "items": ITEMS_PATH},
        "database_url": datasette.urls.database(archive.name) if archive else None,
    }
    html = await datasette.render_template(template, context, request=request,
                                           view_name=template.removesuffix(".html"))
    response = Response.html(html, status=status, headers=dict(PAGE_HEADERS))
    if request.args.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600)
    return response


async def error_page(datasette, request, message_key: str, *, status: int, detail: str = "") -> Response:
    return await render(datasette, request, "zwdc_error.html",
                        {"message_key": message_key, "detail": detail}, status=status)
