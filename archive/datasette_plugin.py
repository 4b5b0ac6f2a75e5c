"""Datasette plugin: the archive's Chinese search inside Datasette (``python -m crawler serve``).

Everything here has the semantics of ``python -m crawler search`` (:mod:`archive.search`): a word
matches when the title, the body or an attachment's text contains it verbatim, several words must
all appear.

* SQL functions on every connection (``prepare_connection``), so plain Datasette SQL can search:

  - ``zwdc_match(q)``: the FTS5 expression for ``bulletins_fts MATCH`` (``''`` when the query has
    no letters or digits, NULL when it is empty or too long);
  - ``zwdc_exact(q)``: 1 when the MATCH expression alone selects exactly the matches (every word
    a plain run of letters/digits), 0 when its candidates must be checked (punctuation);
  - ``zwdc_contains(title, body, [attachments,] q)``: 1/0, the definition of a match checked on
    the text (``attachments``: the text of the bulletin's files, :data:`ATTACHMENT_TEXT_SQL`);
    ``(zwdc_exact(:q) or zwdc_contains(…))`` keeps precision at 1.0 and costs nothing for plain
    words;
  - ``zwdc_snippet(body, [attachments,] q)``: the CLI's snippet, matches in 【…】 (cut from the
    attachments' text when given, i.e. when the page alone does not match).

* A canned query ``search`` (parameters ``q``, ``since``, ``until``, ``publisher`` (contains),
  ``site``, ``category``, ``year``; empty means any, ``(blank)`` means empty) ranked like the CLI:
  its page, ``.csv`` and ``.json`` are Datasette's own.
* ``?_q=…`` on the ``bulletins`` table page filters it to the matches, so Datasette's own table
  facets, CSV and JSON work on search results too; a ``year`` facet type (``{"year": "published"}``)
  counts ISO dates by year.
* The reading room (:mod:`archive.web`): the home page ``/``, ``/-/search`` (and its ``.csv`` and
  ``.json``), ``/-/bulletin?url=…``, ``/-/items``, ``/-/charts``, raw captures and archived files,
  in Chinese or English; its static files (ECharts) under ``/-/zwdc-static/``. Table cells holding
  a bulletin's URL link to its bulletin page.

The server answers only GET and HEAD (:func:`asgi_wrapper`). Archived text is never trusted:
templates autoescape, highlighted snippets are assembled from escaped pieces, and only http(s)
URLs become links (:mod:`archive.web.common`). Nothing here writes to the archive.
"""
from __future__ import annotations

import functools
from pathlib import Path

from datasette import hookimpl
from datasette.facets import Facet
from datasette.filters import FilterArguments
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args
from datasette.utils.asgi import Response, asgi_static
from jinja2 import ChoiceLoader, FileSystemLoader
from markupsafe import Markup

from archive import search as archive_search
from archive.search import BULLETIN_ROWID, FTS_TABLE, RANK_SQL, QueryError, contains_sql, parse_query
from archive.web import ROUTES
from archive.web.common import BLANK, STATIC_PATH, bulletin_page, page_lang, served_archive
from archive.web.i18n import Translator

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
CANNED_QUERY = "search"
#: Columns holding a bulletin's URL, by table: their cells link to the bulletin page.
BULLETIN_URL_COLUMNS = {"versions": "url", "meetings": "bulletin_url",
                        "items": "bulletin_url", "attachments": "bulletin_url",
                        "open_items": "bulletin_url", "items_per_meeting": "bulletin_url"}


# --- SQL functions --------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _parsed(query: str | None) -> archive_search.ParsedQuery | None:
    try:
        return parse_query(query or "")
    except QueryError:
        return None


def sql_match(query: str | None) -> str | None:
    parsed = _parsed(query)
    return None if parsed is None else parsed.match


def match_is_exact(parsed: archive_search.ParsedQuery) -> bool:
    """Whether ``parsed.match`` alone selects exactly the matches.

    ``QueryWord.check == ""`` marks a word whose phrase is exact; anything else (or a future
    :mod:`archive.search` without that field) means the candidates get checked: safe either way.
    """
    return bool(parsed.match) and all(getattr(w, "check", None) == "" for w in parsed.words)


def sql_exact(query: str | None) -> int | None:
    parsed = _parsed(query)
    return None if parsed is None else int(match_is_exact(parsed))


#: The text of bulletin ``b``'s attachments, for ``zwdc_contains`` and ``zwdc_snippet``.
ATTACHMENT_TEXT_SQL = "(select group_concat(a.text, char(10)) from attachments a where a.bulletin_url = {b}.url)"


def sql_contains(title: str | None, body: str | None, *rest: str | None) -> int | None:
    """(title, body, q) or (title, body, attachments, q)."""
    parsed = _parsed(rest[-1])
    return None if parsed is None else int(parsed.matches(title, body, *rest[:-1]))


def sql_snippet(body: str | None, *rest: str | None) -> str | None:
    """(body, q) or (body, attachments, q): from the attachments' text when it is given."""
    parsed = _parsed(rest[-1])
    if parsed is None:
        return None
    text = rest[0] if len(rest) == 2 and rest[0] is not None else body
    snippet, marks = archive_search.cut_snippet(text or "", parsed.needles)
    return archive_search.mark(snippet, marks)


def register_functions(conn) -> None:
    """Add the ``zwdc_*`` functions to a sqlite3 connection (deterministic: SQLite may hoist them)."""
    conn.create_function("zwdc_match", 1, sql_match, deterministic=True)
    conn.create_function("zwdc_exact", 1, sql_exact, deterministic=True)
    for arguments in (3, 4):
        conn.create_function("zwdc_contains", arguments, sql_contains, deterministic=True)
    for arguments in (2, 3):
        conn.create_function("zwdc_snippet", arguments, sql_snippet, deterministic=True)


@hookimpl
def prepare_connection(conn):
    register_functions(conn)


def _filter_sql(column_sql: str, param: str) -> str:
    """``:param`` empty = any value; ``(blank)`` = NULL or ''; otherwise equal."""
    return (f"(:{param} = '' OR ifnull({column_sql}, '') = "
            f"(CASE :{param} WHEN '{BLANK}' THEN '' ELSE :{param} END))")


_FILTERS = " AND ".join([
    "(:since = '' OR b.published >= :since)",
    "(:until = '' OR b.published <= :until)",
    "(:publisher = '' OR instr(b.publisher, :publisher) > 0)",
    _filter_sql("b.category", "category"),
    _filter_sql("b.site", "site"),
    _filter_sql("b.portal", "portal"),
    _filter_sql("substr(b.published, 1, 4)", "year"),
])
_FILES = ATTACHMENT_TEXT_SQL.format(b="b")
_COLUMNS = ("b.rowid AS rowid, b.url AS url, b.title AS title, b.published AS published, "
            "b.publisher AS publisher, b.category AS category, b.site AS site, b.portal AS portal, "
            f"zwdc_snippet(b.body, CASE WHEN zwdc_contains(b.title, b.body, :q) THEN NULL ELSE {_FILES} END, :q)"
            " AS snippet")

#: Ranked like the CLI (negated bm25 with the title weighted, then newest archived); a query
#: without letters or digits (``zwdc_match`` = '') scans, newest published first. The guards on
#: ``zwdc_match(:q)`` are constant, so SQLite skips the branch that does not apply.
SEARCH_SQL = f"""select rowid, url, title, published, publisher, category, site, portal, snippet, score
from (
  select {_COLUMNS}, {RANK_SQL} AS score
  from [{FTS_TABLE}] join bulletins b on b.rowid = {BULLETIN_ROWID}
  where zwdc_match(:q) <> '' and [{FTS_TABLE}] match zwdc_match(:q)
    and (CASE WHEN zwdc_exact(:q) THEN 1 ELSE zwdc_contains(b.title, b.body, {_FILES}, :q) END)
    and {_FILTERS}
  union all
  select {_COLUMNS}, NULL AS score
  from bulletins b
  where zwdc_match(:q) = '' and zwdc_contains(b.title, b.body, {_FILES}, :q)
    and {_FILTERS}
)
order by score desc, case when score is null then published end desc, rowid desc"""


async def _is_archive(datasette, database: str) -> bool:
    db = datasette.get_database(database)
    return await db.table_exists("bulletins") and await db.table_exists(FTS_TABLE)


@hookimpl
def canned_queries(datasette, database, actor):
    async def inner():
        if not await _is_archive(datasette, database):
            return {}
        return {CANNED_QUERY: {
            "sql": SEARCH_SQL,
            "hide_sql": True,
            "title": "Search bulletins (exact Chinese substrings)",
            "description": (
                "Bulletins whose title, body or attachments contain every word of q, ranked like "
                "'python -m crawler search'. Filters as its options: since/until (published, "
                "YYYY-MM-DD), publisher (contains), site (exact); category and year are exact, "
                "(blank) = empty field; empty = any. The snippet marks matches with 【】."),
        }}

    return inner


# --- the table page: ?_q= and a year facet --------------------------------------------------


@hookimpl
def filters_from_request(request, database, table, datasette):
    """``/db/bulletins?_q=督查``: only the bulletins matching the query (CLI semantics)."""
    query = request.args.get("_q")
    if table != "bulletins" or not query:
        return None
    try:
        parsed = parse_query(query)
    except QueryError as error:
        return FilterArguments(["0"], human_descriptions=[f"invalid search: {error}"])
    clauses, params = [], {"_zwdc_q": parsed.text}
    if parsed.match:
        clauses.append(f"rowid in (select {BULLETIN_ROWID} from [{FTS_TABLE}] where [{FTS_TABLE}] match :_zwdc_match)")
        params["_zwdc_match"] = parsed.match
    if not match_is_exact(parsed):
        # instr first (C, exact for a word without letter case), Python only for what is left.
        for number, word in enumerate(w.text for w in parsed.words):
            if word.isprintable() and word.lower() == word.upper():
                clauses.append(contains_sql("bulletins", f":_zwdc_w{number}"))
                params[f"_zwdc_w{number}"] = word
        clauses.append(f"zwdc_contains(title, body, {ATTACHMENT_TEXT_SQL.format(b='bulletins')}, :_zwdc_q)")
    return FilterArguments(clauses, params, [f'title, body or attachments contain "{parsed.text}"'])


class YearFacet(Facet):
    """Counts of an ISO date column by year; choosing one filters with ``column__startswith``."""

    type = "year"

    async def suggest(self):
        return []

    async def facet_results(self):
        results, timed_out = [], []
        args = dict(self.get_querystring_pairs())
        size = self.get_facet_size()
        for source_and_config in self.get_configs():
            config, source = source_and_config["config"], source_and_config["source"]
            column = config.get("column") or config["simple"]
            col = escape_sqlite(column)
            sql = (f"select substr({col}, 1, 4) as value, count(*) as count from ({self.sql}) "
                   f"where {col} glob '[0-9][0-9][0-9][0-9]*' group by value "
                   f"order by value desc limit {size + 1}")
            try:
                rows = await self.ds.execute(self.database, sql, self.params, truncate=False,
                                             custom_time_limit=self.ds.setting("facet_time_limit_ms"))
            except Exception:  # QueryInterrupted and friends: report as timed out, like Datasette
                timed_out.append(column)
                continue
            key = f"{column}__startswith"
            values = []
            for row in rows.rows[:size]:
                selected = args.get(key) == row["value"]
                path = (path_with_removed_args(self.request, {key: row["value"]}) if selected
                        else path_with_added_args(self.request, {key: row["value"]}))
                values.append({"value": row["value"], "label": row["value"], "count": row["count"],
                               "toggle_url": self.ds.absolute_url(self.request, path),
                               "selected": selected})
            results.append({"name": column, "type": self.type, "results": values,
                            "hideable": source != "metadata",
                            "toggle_url": path_with_removed_args(self.request, {"_facet_year": column}),
                            "truncated": len(rows) > size})
        return results, timed_out


@hookimpl
def register_facet_classes():
    return [YearFacet]


@hookimpl
def asgi_wrapper(datasette):
    """Only GET and HEAD: nothing served can change anything (no canned write, no POST form)."""

    def wrap(app):
        async def read_only(scope, receive, send):
            if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
                response = Response.text("read-only archive: only GET and HEAD\n", status=405,
                                         headers={"Allow": "GET, HEAD"})
                await response.asgi_send(send)
                return
            await app(scope, receive, send)

        return read_only

    return wrap


@hookimpl
def register_routes():
    return [*ROUTES, (rf"^{STATIC_PATH}(?P<path>.*)$", asgi_static(STATIC))]


@hookimpl
def menu_links(datasette, actor, request):
    t = Translator(page_lang(request)) if request else Translator("zh")
    return [{"href": datasette.urls.path(path), "label": t(key)}
            for path, key in (("/", "nav_home"), ("/-/search", "nav_search"), ("/-/charts", "nav_charts"),
                              ("/-/items", "nav_items"))]


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """A bulletin's URL in a table (and a bulletin's title) links to its bulletin page."""
    if table == "bulletins" and column == "title":
        url, label = row["url"], value
    elif BULLETIN_URL_COLUMNS.get(table) == column:
        url, label = (value.get("value"), value.get("label")) if isinstance(value, dict) else (value, value)
    else:
        return None
    if not isinstance(url, str) or not url:
        return None

    async def inner():
        archive = await served_archive(datasette)
        if archive is None or archive.name != database:
            return None
        return Markup('<a href="{}">{}</a>').format(datasette.urls.path(bulletin_page(url)), label or url)

    return inner


@hookimpl
def prepare_jinja2_environment(env, datasette):
    """Make ``archive/templates`` visible to Datasette's Jinja environment."""
    env.loader = ChoiceLoader([FileSystemLoader(str(TEMPLATES)), env.loader])
