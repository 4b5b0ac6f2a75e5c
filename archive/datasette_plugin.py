"""Datasette plugin: the archive's Chinese search inside Datasette (``python -m crawler serve``).

Everything here has the semantics of ``python -m crawler search`` (:mod:`archive.search`): a word
matches when the title or body contains it verbatim, several words must all appear.

* SQL functions on every connection (``prepare_connection``), so plain Datasette SQL can search:

  - ``zwdc_match(q)``: the FTS5 expression for ``bulletins_fts MATCH`` (``''`` when the query has
    no letters or digits, NULL when it is empty or too long);
  - ``zwdc_exact(q)``: 1 when the MATCH expression alone selects exactly the matches (every word
    a plain run of letters/digits), 0 when its candidates must be checked (punctuation);
  - ``zwdc_contains(title, body, q)``: 1/0, the definition of a match checked on the text;
    ``(zwdc_exact(:q) or zwdc_contains(title, body, :q))`` keeps precision at 1.0 and costs
    nothing for plain words;
  - ``zwdc_snippet(body, q)``: the CLI's snippet, matches in 【…】.

* A canned query ``search`` (parameters ``q``, ``publisher``, ``category``, ``site``, ``portal``, ``year``;
  empty means any, ``(blank)`` means empty) ranked like the CLI: its page, ``.csv`` and ``.json``
  are Datasette's own.
* ``/-/search?q=…``: ranked results with highlighted snippets, links to the original bulletins,
  facets (publisher, category, year, site, portal) over the matching set, downloads of the same results.
* ``?_q=…`` on the ``bulletins`` table page filters it to the matches, so Datasette's own table
  facets, CSV and JSON work on search results too; a ``year`` facet type (``{"year": "published"}``)
  counts ISO dates by year.

The server answers only GET and HEAD (:func:`asgi_wrapper`). Archived text is never trusted:
templates autoescape, highlighted snippets are assembled from escaped pieces (:func:`highlight`),
and only http(s) URLs become links (:func:`safe_href`). Nothing here writes to the archive.
"""
from __future__ import annotations

import functools
import re
import urllib.parse
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils
from datasette import hookimpl
from datasette.facets import Facet
from datasette.filters import FilterArguments
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args, tilde_encode
from datasette.utils.asgi import Response
from jinja2 import ChoiceLoader, FileSystemLoader
from markupsafe import Markup, escape

from archive import search as archive_search
from archive.search import BULLETIN_ROWID, FTS_TABLE, TITLE_WEIGHT, QueryError, index_status, matching_rowids, parse_query

TEMPLATES = Path(__file__).resolve().parent / "templates"
SEARCH_PATH = "/-/search"
CANNED_QUERY = "search"
PAGE_SIZE = 20
#: Filter value meaning "this field is empty" (a facet row for bulletins without the field).
BLANK = "(blank)"
#: Facets of the search page: (parameter, label).
FACETS = (("publisher", "Publisher"), ("category", "Category"), ("year", "Year"), ("site", "Site"),
          ("portal", "Portal"))
_YEAR = re.compile(r"\d{4}")
_SAFE_SCHEMES = ("http://", "https://")


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


def sql_contains(title: str | None, body: str | None, query: str | None) -> int | None:
    parsed = _parsed(query)
    return None if parsed is None else int(parsed.matches(title, body))


def sql_snippet(body: str | None, query: str | None) -> str | None:
    parsed = _parsed(query)
    if parsed is None:
        return None
    snippet, marks = archive_search.cut_snippet(body or "", parsed.needles)
    return archive_search.mark(snippet, marks)


def register_functions(conn) -> None:
    """Add the ``zwdc_*`` functions to a sqlite3 connection (deterministic: SQLite may hoist them)."""
    conn.create_function("zwdc_match", 1, sql_match, deterministic=True)
    conn.create_function("zwdc_exact", 1, sql_exact, deterministic=True)
    conn.create_function("zwdc_contains", 3, sql_contains, deterministic=True)
    conn.create_function("zwdc_snippet", 2, sql_snippet, deterministic=True)


@hookimpl
def prepare_connection(conn):
    register_functions(conn)


def _filter_sql(column_sql: str, param: str) -> str:
    """``:param`` empty = any value; ``(blank)`` = NULL or ''; otherwise equal."""
    return (f"(:{param} = '' OR ifnull({column_sql}, '') = "
            f"(CASE :{param} WHEN '{BLANK}' THEN '' ELSE :{param} END))")


_FILTERS = " AND ".join([
    _filter_sql("b.publisher", "publisher"),
    _filter_sql("b.category", "category"),
    _filter_sql("b.site", "site"),
    _filter_sql("b.portal", "portal"),
    _filter_sql("substr(b.published, 1, 4)", "year"),
])
_COLUMNS = ("b.rowid AS rowid, b.url AS url, b.title AS title, b.published AS published, "
            "b.publisher AS publisher, b.category AS category, b.site AS site, b.portal AS portal, "
            "zwdc_snippet(b.body, :q) AS snippet")

#: Ranked like the CLI (negated bm25 with the title weighted, then newest archived); a query
#: without letters or digits (``zwdc_match`` = '') scans, newest published first. The guards on
#: ``zwdc_match(:q)`` are constant, so SQLite skips the branch that does not apply.
SEARCH_SQL = f"""select rowid, url, title, published, publisher, category, site, portal, snippet, score
from (
  select {_COLUMNS}, -bm25([{FTS_TABLE}], {float(TITLE_WEIGHT)!r}, 1.0) AS score
  from [{FTS_TABLE}] join bulletins b on b.rowid = {BULLETIN_ROWID}
  where zwdc_match(:q) <> '' and [{FTS_TABLE}] match zwdc_match(:q)
    and (zwdc_exact(:q) or zwdc_contains(b.title, b.body, :q))
    and {_FILTERS}
  union all
  select {_COLUMNS}, NULL AS score
  from bulletins b
  where zwdc_match(:q) = '' and zwdc_contains(b.title, b.body, :q)
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
                "Bulletins whose title or body contains every word of q, ranked like "
                "'python -m crawler search'. Filters: empty = any, (blank) = empty field; "
                "year is the year published. The snippet marks matches with 【】."),
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
                clauses.append(f"(instr(title, :_zwdc_w{number}) > 0 or instr(body, :_zwdc_w{number}) > 0)")
                params[f"_zwdc_w{number}"] = word
        clauses.append("zwdc_contains(title, body, :_zwdc_q)")
    return FilterArguments(clauses, params, [f'title or body contains "{parsed.text}"'])


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


# --- the search page ------------------------------------------------------------------------


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


@dataclass
class PageFilters:
    """The search page's facet filters: exact values, :data:`BLANK` for an empty field."""

    publisher: str = ""
    category: str = ""
    year: str = ""
    site: str = ""
    portal: str = ""

    def items(self) -> list[tuple[str, str]]:
        return [(name, value) for name, value in vars(self).items() if value]

    def accepts(self, fields: dict[str, str]) -> bool:
        return all((fields[name] or BLANK) == value for name, value in self.items())

    def without(self, name: str) -> PageFilters:
        return PageFilters(**{**vars(self), name: ""})


def _fields(publisher, category, site, portal, published) -> dict[str, str]:
    year = (published or "")[:4]
    return {"publisher": publisher or "", "category": category or "", "site": site or "", "portal": portal or "",
            "year": year if _YEAR.fullmatch(year) else ""}


def run_search(conn, query: str, filters: PageFilters, sort: str, page: int) -> dict:
    """Matches of ``query`` under ``filters`` (blocking; runs on a Datasette read connection)."""
    db = sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)
    # Results: archive.search narrows by what it filters exactly (site, year as a date range);
    # the exact facet values are applied here (its publisher filter is a substring).
    narrow = {}
    for name in ("site", "portal"):
        if getattr(filters, name) and getattr(filters, name) != BLANK:
            narrow[name] = getattr(filters, name)
    if _YEAR.fullmatch(filters.year):
        narrow.update(since=f"{filters.year}-01-01", until=f"{filters.year}-12-31")
    # Every match, unfiltered: each facet counts with the *other* filters applied.
    rowids = list(matching_rowids(db, query))
    fields: dict[int, dict[str, str]] = {}
    for start in range(0, len(rowids), 500):
        batch = rowids[start:start + 500]
        for rowid, *values in db.execute(
            "select rowid, publisher, category, site, portal, published from bulletins "
            f"where rowid in ({', '.join('?' * len(batch))})", batch,
        ):
            fields[rowid] = _fields(*values)
    chosen = {rowid for rowid, row in fields.items() if filters.accepts(row)}
    # Facet counts over the matching set with every other filter applied (Datasette's way).
    facets = {}
    for name, _ in FACETS:
        others = filters.without(name)
        facets[name] = Counter(row[name] for row in fields.values() if others.accepts(row))
    offset = (page - 1) * PAGE_SIZE
    needs_all = any(value for name, value in filters.items() if name in ("publisher", "category")) \
        or BLANK in (filters.site, filters.portal, filters.year)
    hits = archive_search.search(
        db, query, limit=None if needs_all else offset + PAGE_SIZE, sort=sort,
        publisher=filters.publisher if filters.publisher != BLANK else None, **narrow)
    hits = [hit for hit in hits if hit.rowid in chosen][offset:offset + PAGE_SIZE]
    status = index_status(db)
    return {"total": len(chosen), "hits": hits, "fields": fields, "facets": facets,
            "index_ok": status.in_sync, "index_status": status}


async def _archive_database(datasette) -> str | None:
    for name in datasette.databases:
        if name != "_internal" and await _is_archive(datasette, name):
            return name
    return None


def _url(path: str, params: dict[str, str | int]) -> str:
    kept = {key: value for key, value in params.items() if value not in ("", None)}
    return path + ("?" + urllib.parse.urlencode(kept) if kept else "")


async def search_page(datasette, request):
    args = request.args
    query = (args.get("q") or "").strip()
    sort = args.get("sort") or "relevance"
    filters = PageFilters(**{name: (args.get(name) or "").strip() for name, _ in FACETS})
    try:
        page = max(1, int(args.get("page") or 1))
    except ValueError:
        page = 1
    database = await _archive_database(datasette)
    context: dict = {"query": query, "sort": sort, "sorts": archive_search.SORTS, "error": None,
                     "database": database, "page_size": PAGE_SIZE, "blank": BLANK}
    status = 200
    if database is None:
        context["error"] = "no archive database (with a bulletins table and its search index) is served"
        status = 500
    elif query:
        try:
            parse_query(query)
            if sort not in archive_search.SORTS:
                raise QueryError(f"sort must be one of {', '.join(archive_search.SORTS)}")
            if filters.year not in ("", BLANK) and not _YEAR.fullmatch(filters.year):
                raise QueryError(f"year must be four digits, not {filters.year!r}")
        except QueryError as error:
            context["error"] = str(error)
            status = 400
        else:
            found = await datasette.get_database(database).execute_fn(
                lambda conn: run_search(conn, query, filters, sort, page))
            context.update(_render_results(datasette, database, query, sort, filters, page, found))
    html = await datasette.render_template(
        "zwdc_search.html", context, request=request, view_name="zwdc_search")
    return Response.html(html, status=status)


def table_filters(filters: PageFilters) -> dict[str, str]:
    """The search page's filters as Datasette table filters (``column__exact`` …)."""
    params = {}
    for name, value in filters.items():
        column = "published" if name == "year" else name
        if value == BLANK:
            params[f"{column}__isblank"] = "1"
        elif name == "year":
            params["published__startswith"] = value
        else:
            params[f"{column}__exact"] = value
    return params


def _facet_order(name: str):
    """Years newest first; other facets by count, then value; the empty value last."""
    if name == "year":
        return lambda item: (item[0] == "", -int(item[0] or 0))
    return lambda item: (item[0] == "", -item[1], item[0])


def _render_results(datasette, database, query, sort, filters, page, found) -> dict:
    here = datasette.urls.path(SEARCH_PATH)
    state = {"q": query, "sort": "" if sort == "relevance" else sort, **vars(filters)}
    hits = []
    for hit in found["hits"]:
        row = found["fields"].get(hit.rowid, {})
        hits.append({
            "title": highlight(hit.title or "(untitled)", hit.title_marks if hit.title else ()),
            "href": safe_href(hit.url),
            "url": hit.url,
            "published": hit.published,
            "publisher": hit.publisher,
            "category": row.get("category"),
            "site": hit.site,
            "snippet": highlight(hit.snippet, hit.snippet_marks),
            "row_url": datasette.urls.row(database, "bulletins", tilde_encode(hit.url)),
        })
    facets = []
    for name, label in FACETS:
        selected = getattr(filters, name)
        values = []
        for value, count in sorted(found["facets"][name].items(), key=_facet_order(name)):
            param = value or BLANK
            is_selected = selected == param
            values.append({
                "label": param, "count": count, "selected": is_selected,
                "url": _url(here, {**state, name: "" if is_selected else param}),
            })
        facets.append({"name": name, "label": label, "options": values,
                       "clear_url": _url(here, {**state, name: ""}) if selected else None})
    canned = {"q": query, **{key: value for key, value in vars(filters).items()}}
    total, pages = found["total"], max(1, -(-found["total"] // PAGE_SIZE))
    # Canned queries stop at max_returned_rows; the table view streams every row as CSV.
    max_rows = datasette.setting("max_returned_rows")
    table = {"_q": query, **table_filters(filters)}
    return {
        "total": total, "hits": hits, "facets": facets, "page": page, "pages": pages,
        "first_number": (page - 1) * PAGE_SIZE + 1,
        "prev_url": _url(here, {**state, "page": page - 1}) if page > 1 else None,
        "next_url": _url(here, {**state, "page": page + 1}) if page < pages else None,
        "active_filters": [{"name": name, "value": value, "clear_url": _url(here, {**state, name: ""})}
                           for name, value in filters.items()],
        "csv_url": _url(datasette.urls.query(database, CANNED_QUERY, format="csv"), canned),
        "json_url": _url(datasette.urls.query(database, CANNED_QUERY, format="json"),
                         {**canned, "_shape": "array"}),
        "query_url": _url(datasette.urls.query(database, CANNED_QUERY), canned),
        "table_url": _url(datasette.urls.table(database, "bulletins"), table),
        "table_csv_url": _url(datasette.urls.table(database, "bulletins", format="csv"),
                              {**table, "_stream": "on"}),
        "max_rows": max_rows, "truncated": total > max_rows,
        "index_ok": found["index_ok"], "index_status": found["index_status"],
    }


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
    return [(r"^/-/search$", search_page)]


@hookimpl
def menu_links(datasette, actor, request):
    return [{"href": datasette.urls.path(SEARCH_PATH), "label": "Search bulletins"}]


@hookimpl
def prepare_jinja2_environment(env, datasette):
    """Make ``archive/templates`` visible to Datasette's Jinja environment."""
    env.loader = ChoiceLoader([FileSystemLoader(str(TEMPLATES)), env.loader])
