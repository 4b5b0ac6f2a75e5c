"""``/``: the reading room's front page. It leads with the search form, then the portals and
their columns (what was archived from where, and when), a summary of the supervision items
and the latest crawl; Datasette's list of tables is one link away (``/<database>``)."""
from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from archive import search as archive_search
from archive.web.common import SEARCH_PATH, error_page, read, render, safe_href, served_archive, url_with
from archive.web.search_page import SearchRequest, filter_choices


def _folder(url: str) -> str | None:
    """``…/zwdc/index_2.shtml`` -> ``…/zwdc/``."""
    return url.rsplit("/", 1)[0] + "/" if "/" in url.split("://", 1)[-1] else None


def crawled_columns(db: sqlite_utils.Database) -> list[str]:
    """The columns crawls started from (the folders of their start URLs), longest first."""
    folders: set[str] = set()
    if "crawl_runs" in db.table_names():
        for (start_urls,) in db.execute("select start_urls from crawl_runs where start_urls is not null"):
            try:
                urls = json.loads(start_urls)
            except ValueError:
                continue
            folders.update(folder for url in urls if isinstance(url, str) and (folder := _folder(url)))
    return sorted(folders, key=len, reverse=True)


def column_of(list_url: str | None, columns: list[str] = ()) -> str | None:
    """The column a list page belongs to: the crawled column it lies under (a pager in a
    subfolder, a data endpoint beside the page), else its own folder."""
    if not list_url:
        return None
    return next((column for column in columns if list_url.startswith(column)), None) or _folder(list_url)


def portals(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Sites with their columns: bulletin counts and date ranges."""
    sites: dict[str, dict[str, Any]] = {}
    columns = crawled_columns(db)
    for site, list_url, count, first, last in db.execute(
        "select site, list_url, count(*), min(published), max(published) from bulletins "
        "group by site, list_url order by site"
    ):
        entry = sites.setdefault(site, {"site": site, "count": 0, "first": None, "last": None, "columns": {}})
        entry["count"] += count
        entry["first"] = min(filter(None, (entry["first"], first)), default=None)
        entry["last"] = max(filter(None, (entry["last"], last)), default=None)
        column = entry["columns"].setdefault(column_of(list_url, columns), {"count": 0, "first": None, "last": None})
        column["count"] += count
        column["first"] = min(filter(None, (column["first"], first)), default=None)
        column["last"] = max(filter(None, (column["last"], last)), default=None)
    shown = []
    for entry in sites.values():
        columns = [{"url": url, "href": safe_href(url), **numbers}
                   for url, numbers in sorted(entry["columns"].items(), key=lambda kv: (kv[0] is None, kv[0] or ""))]
        shown.append({**entry, "columns": columns, "browse_url": url_with(SEARCH_PATH, {"site": entry["site"]})})
    return shown


def summary(db: sqlite_utils.Database) -> dict[str, Any]:
    bulletins = db.execute("select count(*) from bulletins").fetchone()[0]
    items = db.execute("select count(*) from items").fetchone()[0]
    open_items = db.execute("select count(distinct decision) from open_items").fetchone()[0]
    last_run = next(db.query(
        "select id, started_at, finished_at, mode, outcome, new, changed from crawl_runs order by id desc limit 1"),
        None) if "crawl_runs" in db.table_names() else None
    return {"bulletins": bulletins, "items": items, "open": open_items, "last_run": last_run,
            "portals": portals(db),
            "choices": filter_choices(db)}


async def home_view(datasette, request):
    archive = await served_archive(datasette)
    if archive is None:
        return await error_page(datasette, request, "no_archive", status=500)
    found = await read(datasette, archive, summary)
    return await render(datasette, request, "zwdc_home.html", {
        **found, "search": SearchRequest(), "sorts": archive_search.SORTS,
        "tables": [(name, datasette.urls.table(archive.name, name)) for name in (
            "bulletins", "items", "meetings", "item_units", "open_items_per_unit", "items_per_meeting",
            "versions", "attachments", "captures", "crawl_runs", "run_failures")],
    })
