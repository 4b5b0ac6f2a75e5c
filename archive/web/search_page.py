"""``/-/search``: the CLI's search in the browser, and its downloads (``/-/search.csv|json``).

The page takes exactly the CLI's filters (``since``, ``until``, ``publisher``, ``site``, ``portal``, ``sort``)
and hands them to :mod:`archive.search` unchanged, so a page, its CSV and JSON, and
``python -m crawler search`` find the same bulletins in the same order. Facets (publisher,
category, year, portal, site) count the matches with every *other* filter applied; choosing a year
sets ``since``/``until`` to that year, choosing a publisher sets the CLI's ``publisher``
(contains), so a facet's count is what its link finds. ``category`` is the one filter the CLI
lacks (exact value, ``(blank)`` for none).

Without words the page lists every bulletin within the filters, newest first: the charts link
here for "the bulletins of this site in this month".
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field

import sqlite_utils
from datasette.utils.asgi import Response

from archive import search as archive_search
from archive.search import (
    Filters, QueryError, SearchHit, cut_snippet, index_status, matching_rowids, parse_query,
)
from archive.web.common import (
    BLANK, PAGE_HEADERS, SEARCH_PATH, Archive, bulletin_page, error_page, highlight, read, render,
    safe_href, served_archive, translator, url_with,
)

PAGE_SIZE = 20
#: The CLI's filters, passed to :mod:`archive.search` by these names.
CLI_FILTERS = ("since", "until", "publisher", "site", "portal")
FACETS = ("publisher", "category", "year", "portal", "site")
#: Columns of the downloads (CSV header, JSON keys), in order.
DOWNLOAD_COLUMNS = ("rank", "url", "title", "published", "publisher", "category", "site", "portal",
                    "index_no", "doc_no", "snippet", "score", "page", "attachment_name", "attachment_url")
_YEAR = re.compile(r"\d{4}")
_BATCH = 500


@dataclass(frozen=True)
class SearchRequest:
    """What a search page (or its download) asks for; validated like the CLI's arguments."""

    query: str = ""
    filters: dict[str, str] = field(default_factory=dict)  # CLI filters, non-empty values only
    category: str = ""
    sort: str = "relevance"
    page: int = 1

    @property
    def shown_query(self) -> str:
        """The query as a page shows it: control characters (a NUL in a crafted URL) as U+FFFD,
        which HTML cannot carry; searched as typed all the same."""
        return "".join(c if c.isprintable() or c == " " else "\ufffd" for c in self.query)

    @classmethod
    def from_args(cls, args) -> SearchRequest:
        """From a request's query string; raises :class:`QueryError` for what the CLI refuses."""
        query = (args.get("q") or "").strip()
        filters = {name: value for name in CLI_FILTERS if (value := (args.get(name) or "").strip())}
        sort = args.get("sort") or "relevance"
        written = (args.get("page") or "1").strip()
        if not (written.isascii() and written.isdigit() and int(written) >= 1):  # as since and sort: one line, 400
            raise QueryError(f"page must be a whole number from 1, not {written!r}")
        page = int(written)
        if query:
            parse_query(query)
        if sort not in archive_search.SORTS:
            raise QueryError(f"sort must be one of {', '.join(archive_search.SORTS)}, not {sort!r}")
        made = Filters.make(**filters)  # the CLI's checks: dates, inverted range, bad text
        filters = {name: value for name in CLI_FILTERS if (value := getattr(made, name))}
        return cls(query, filters, (args.get("category") or "").strip(), sort, page)

    def without(self, *names: str) -> dict[str, str]:
        return {name: value for name, value in self.filters.items() if name not in names}

    def params(self, **changes: object) -> dict[str, object]:
        """Query-string parameters of this request with ``changes`` (None or '' drops one)."""
        params: dict[str, object] = {"q": self.query, **self.filters, "category": self.category,
                                     "sort": "" if self.sort == "relevance" else self.sort}
        params.update(changes)
        return {key: value for key, value in params.items() if value not in ("", None)}

    def selected_year(self) -> str | None:
        since, until = self.filters.get("since", ""), self.filters.get("until", "")
        year = since[:4]
        return year if since == f"{year}-01-01" and until == f"{year}-12-31" else None


def _rowids(db: sqlite_utils.Database, query: str, filters: dict[str, str]) -> list[int]:
    """Rowids matching ``query`` (every bulletin when empty) under the CLI's ``filters``."""
    if query:
        return list(matching_rowids(db, query, **filters))
    where, params = Filters.make(**filters).sql()
    return [rowid for (rowid,) in db.execute(f"select bulletins.rowid from bulletins where 1{where}", params)]


def _fields(db: sqlite_utils.Database, rowids: set[int]) -> dict[int, dict[str, str]]:
    """Each row's facet values: publisher, category, site, portal, year ('' when empty)."""
    fields: dict[int, dict[str, str]] = {}
    ordered = sorted(rowids)
    for start in range(0, len(ordered), _BATCH):
        batch = ordered[start:start + _BATCH]
        for rowid, publisher, category, site, portal, published in db.execute(
            "select rowid, publisher, category, site, portal, published from bulletins "
            f"where rowid in ({', '.join('?' * len(batch))})", batch,
        ):
            year = (published or "")[:4]
            fields[rowid] = {"publisher": publisher or "", "category": category or "", "site": site or "",
                             "portal": portal or "", "year": year if _YEAR.fullmatch(year) else ""}
    return fields


def _category_ok(request: SearchRequest, fields: dict[str, str]) -> bool:
    return not request.category or (fields["category"] or BLANK) == request.category


def _category_sql(request: SearchRequest) -> tuple[str, list[str]]:
    if not request.category:
        return "", []
    if request.category == BLANK:
        return " AND ifnull(bulletins.category, '') = ''", []
    return " AND bulletins.category = ?", [request.category]


def matching(db: sqlite_utils.Database, request: SearchRequest) -> dict:
    """The matches' rowids (``chosen``, in no order) and the facet counts."""
    sets = {(): _rowids(db, request.query, request.filters)}
    # A facet counts with every other filter: its own left out (only when it is set).
    leave_out = {"publisher": ("publisher",), "site": ("site",), "portal": ("portal",), "year": ("since", "until"),
                 "category": ()}
    for names in leave_out.values():
        if names not in sets and any(name in request.filters for name in names):
            sets[names] = _rowids(db, request.query, request.without(*names))
    fields = _fields(db, set().union(*sets.values()))
    chosen = [rowid for rowid in sets[()] if _category_ok(request, fields[rowid])]
    facets = {}
    for facet, names in leave_out.items():
        rows = sets.get(names, sets[()])
        if facet != "category":
            rows = [rowid for rowid in rows if _category_ok(request, fields[rowid])]
        values = [fields[rowid][facet] for rowid in rows]
        counts = Counter(values)
        if facet == "publisher":  # the CLI's publisher filter is "contains": count what a link finds
            counts = Counter({value: sum(n for other, n in counts.items() if value in other) if value else number
                              for value, number in counts.items()})
        facets[facet] = counts
    return {"chosen": chosen, "fields": fields, "facets": facets}


def hits(db: sqlite_utils.Database, request: SearchRequest, fields: dict[int, dict[str, str]],
         limit: int | None) -> list[SearchHit]:
    """The first ``limit`` matches (all with None) from the start of ``request.page``'s page,
    in the CLI's order (newest first without words)."""
    offset = (request.page - 1) * PAGE_SIZE if limit is not None else 0
    if request.query:
        wanted = None if request.category or limit is None else offset + limit
        found = archive_search.search(db, request.query, limit=wanted, sort=request.sort, **request.filters)
        found = [hit for hit in found if _category_ok(request, fields[hit.rowid])]
        return found[offset:] if limit is None else found[offset:offset + limit]
    where, params = Filters.make(**request.filters).sql()
    category_where, category_params = _category_sql(request)
    page = "" if limit is None else f" limit {int(limit)} offset {int(offset)}"
    rows = db.execute(
        "select rowid, url, title, published, site, publisher, substr(body, 1, 200) from bulletins "
        f"where 1{where}{category_where} order by published desc, rowid desc{page}",
        [*params, *category_params])
    return [SearchHit(rowid, url, title or "", published, site, publisher, cut_snippet(body or "", ())[0], None)
            for rowid, url, title, published, site, publisher, body in rows]


def run_search(db: sqlite_utils.Database, request: SearchRequest) -> dict:
    found = matching(db, request)
    found["hits"] = hits(db, request, found["fields"], PAGE_SIZE)
    found["index_status"] = index_status(db)
    return found


def _facet_order(name: str):
    """Years newest first; other facets by count, then value; the empty value last."""
    if name == "year":
        return lambda item: (item[0] == "", -int(item[0] or 0))
    return lambda item: (item[0] == "", -item[1], item[0])


def _facet_links(t, request: SearchRequest, name: str, counts: Counter) -> list[dict]:
    """Each facet value: label, count, link (None when the CLI's filters cannot select it)."""
    options = []
    for value, count in sorted(counts.items(), key=_facet_order(name)):
        if name == "year":
            selected = value != "" and request.selected_year() == value
            changes = ({"since": None, "until": None} if selected else
                       {"since": f"{value}-01-01", "until": f"{value}-12-31"}) if value else None
            label = t("year_label", year=value) if value else t("no_date")
        elif name == "category":
            param = value or BLANK
            selected = request.category == param
            changes = {"category": None if selected else param}
            label = value or t("blank")
        else:
            selected = bool(value) and request.filters.get(name) == value
            changes = ({name: None if selected else value}) if value else None
            label = value or t("blank")
        url = url_with(SEARCH_PATH, request.params(page=None, **changes)) if changes is not None else None
        options.append({"label": label, "value": value, "count": count, "selected": selected, "url": url})
    return options


def _active_filters(t, request: SearchRequest) -> list[dict]:
    active = []
    year = request.selected_year()
    if year:
        active.append({"name": t("facet_year"), "value": t("year_label", year=year),
                       "clear_url": url_with(SEARCH_PATH, request.params(since=None, until=None, page=None))})
    for name in CLI_FILTERS:
        if name in request.filters and not (year and name in ("since", "until")):
            active.append({"name": t(name), "value": request.filters[name],
                           "clear_url": url_with(SEARCH_PATH, request.params(**{name: None}, page=None))})
    if request.category:
        active.append({"name": t("category"), "value": t("blank") if request.category == BLANK else request.category,
                       "clear_url": url_with(SEARCH_PATH, request.params(category=None, page=None))})
    return active


def table_url(datasette, archive: Archive, request: SearchRequest) -> str:
    """The same rows in Datasette's ``bulletins`` table (its facets, SQL, exports)."""
    filters = request.filters
    params = {"_q": request.query, "published__gte": filters.get("since"),
              "published__lte": filters.get("until"), "publisher__contains": filters.get("publisher"),
              "site__exact": filters.get("site"), "portal__exact": filters.get("portal")}
    if request.category == BLANK:
        params["category__isblank"] = "1"
    elif request.category:
        params["category__exact"] = request.category
    return url_with(datasette.urls.table(archive.name, "bulletins"), params)


def filter_choices(db: sqlite_utils.Database) -> dict[str, list[tuple[str, int]]]:
    """Each site and each portal with its number of bulletins (the choices of those filters)."""
    return {column: [tuple(row) for row in db.execute(
        f"select {column}, count(*) from bulletins where {column} is not null group by {column} order by {column}")]
        for column in ("site", "portal")}


async def search_page(datasette, request):
    archive = await served_archive(datasette)
    if archive is None:
        return await error_page(datasette, request, "no_archive", status=500)
    t = translator(request)
    context: dict = {"error": None, "sorts": archive_search.SORTS}
    status = 200
    try:
        search = SearchRequest.from_args(request.args)
    except QueryError as error:
        context["error"] = str(error)
        status = 400
        search = SearchRequest()
    context["search"] = search
    context["choices"] = await read(datasette, archive, filter_choices)
    searched = not context["error"] and (search.query or search.filters or search.category)
    if searched:
        found = await read(datasette, archive, lambda db: run_search(db, search))
        context.update(_results(datasette, archive, t, search, found))
    context["searched"] = searched
    return await render(datasette, request, "zwdc_search.html", context, status=status)


def _results(datasette, archive: Archive, t, search: SearchRequest, found: dict) -> dict:
    total = len(found["chosen"])
    pages = max(1, -(-total // PAGE_SIZE))
    shown = []
    for hit in found["hits"]:
        row = found["fields"][hit.rowid]
        shown.append({
            "title": highlight(hit.title or t("untitled"), hit.title_marks if hit.title else ()),
            "page_url": bulletin_page(hit.url),
            "href": safe_href(hit.url),
            "url": hit.url,
            "published": hit.published,
            "publisher": hit.publisher,
            "category": row["category"],
            "site": hit.site,
            "snippet": highlight(hit.snippet, hit.snippet_marks),
            "attachment": _found_in(hit),
        })
    facets = [{"name": name, "label": t(f"facet_{name}"),
               "options": _facet_links(t, search, name, found["facets"][name])} for name in FACETS]
    download = search.params(page=None)
    return {
        "total": total, "hits": shown, "facets": facets, "page": search.page, "pages": pages,
        "first_number": (search.page - 1) * PAGE_SIZE + 1,
        "prev_url": url_with(SEARCH_PATH, search.params(page=search.page - 1)) if search.page > 1 else None,
        "next_url": url_with(SEARCH_PATH, search.params(page=search.page + 1)) if search.page < pages else None,
        "active_filters": _active_filters(t, search),
        "clear_url": url_with(SEARCH_PATH, {"q": search.query}),
        "csv_url": url_with(SEARCH_PATH + ".csv", download),
        "json_url": url_with(SEARCH_PATH + ".json", download),
        "table_url": table_url(datasette, archive, search),
        "index_status": found["index_status"],
    }


def _found_in(hit: SearchHit) -> dict | None:
    """The attachment a hit was found in: its name, and where the bulletin page lists it."""
    if hit.attachment is None:
        return None
    return {"name": hit.attachment["name"] or hit.attachment["url"], "url": hit.attachment["url"],
            "page_url": bulletin_page(hit.url) + "#attachments"}


# --- downloads -----------------------------------------------------------------------------


def download_rows(db: sqlite_utils.Database, request: SearchRequest, base_url: str) -> list[dict]:
    """Every match in the page's order, as the download's rows."""
    found = matching(db, request)
    fields = found["fields"]
    everything = hits(db, request, fields, None)
    extra = {}
    urls = [hit.url for hit in everything]
    for start in range(0, len(urls), _BATCH):
        batch = urls[start:start + _BATCH]
        for url, index_no, doc_no in db.execute(
            f"select url, index_no, doc_no from bulletins where url in ({', '.join('?' * len(batch))})", batch,
        ):
            extra[url] = (index_no, doc_no)
    rows = []
    for rank, hit in enumerate(everything, 1):
        index_no, doc_no = extra.get(hit.url, (None, None))
        rows.append({
            "rank": rank, "url": hit.url, "title": hit.title, "published": hit.published,
            "publisher": hit.publisher, "category": fields[hit.rowid]["category"] or None, "site": hit.site,
            "portal": fields[hit.rowid]["portal"] or None,
            "index_no": index_no, "doc_no": doc_no,
            "snippet": archive_search.mark(hit.snippet, hit.snippet_marks), "score": hit.score,
            "page": base_url + bulletin_page(hit.url),
            "attachment_name": hit.attachment["name"] if hit.attachment else None,
            "attachment_url": hit.attachment["url"] if hit.attachment else None,
        })
    return rows


async def search_download(datasette, request):
    """``/-/search.csv`` (UTF-8 with BOM, for Excel) and ``/-/search.json``: every match."""
    fmt = request.url_vars["format"]
    archive = await served_archive(datasette)
    if archive is None:
        return Response.text("no archive database is served\n", status=500)
    try:
        search = SearchRequest.from_args(request.args)
    except QueryError as error:
        return Response.text(f"{error}\n", status=400)
    base_url = datasette.absolute_url(request, "/").rstrip("/")
    rows = await read(datasette, archive, lambda db: download_rows(db, search, base_url))
    headers = {**PAGE_HEADERS, "Content-Disposition": f'inline; filename="search.{fmt}"'}
    if fmt == "json":
        body = {"query": search.query, "filters": search.filters, "category": search.category or None,
                "sort": search.sort, "total": len(rows), "rows": rows}
        return Response(json.dumps(body, ensure_ascii=False, indent=1), headers=headers,
                        content_type="application/json; charset=utf-8")
    buffer = io.StringIO()
    buffer.write("\ufeff")  # Excel reads UTF-8 only with a BOM
    writer = csv.DictWriter(buffer, DOWNLOAD_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return Response(buffer.getvalue(), headers=headers, content_type="text/csv; charset=utf-8")
