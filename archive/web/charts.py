"""``/-/charts``: bulletins per month and year per portal, open items per unit, items by status
over time. Each bar links to the rows behind it (the search page listing that portal's bulletins
of that month, the items page of that unit or status and month), with the same count.

The numbers are computed here and embedded in the page as JSON; ``static/zwdc-charts.js``
draws them with Apache ECharts, served by this server (``static/echarts``), so the page
needs no other host. Every chart also has its numbers as a table with the same links.
"""
from __future__ import annotations

import calendar
from typing import Any

import sqlite_utils

from archive.web.common import (
    ITEMS_PATH, SEARCH_PATH, error_page, read, render, served_archive, translator, url_with,
)
from archive.web.items_page import STATUSES

#: Units shown in the open-items chart (the most first).
TOP_UNITS = 25
_ISO_MONTH = "[0-9][0-9][0-9][0-9]-[0-1][0-9]*"


def _months(first: str, last: str) -> list[str]:
    """Every ``YYYY-MM`` from ``first`` to ``last``: a gap is a month without bulletins."""
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def month_range(month: str) -> dict[str, str]:
    """The search filters selecting one ``YYYY-MM``: its first and last day."""
    year, number = int(month[:4]), int(month[5:7])
    return {"since": f"{month}-01", "until": f"{month}-{calendar.monthrange(year, number)[1]:02d}"}


def bulletins_per_period(db: sqlite_utils.Database) -> dict[str, Any]:
    """Per portal: counts by month (every month of the range) and by year, with search links."""
    counts: dict[str, dict[str, int]] = {}
    for portal, month, count in db.execute(
        "select portal, substr(published, 1, 7) as month, count(*) from bulletins "
        f"where published glob '{_ISO_MONTH}' group by portal, month order by portal, month"
    ):
        counts.setdefault(portal, {})[month] = count
    months = sorted({month for per_portal in counts.values() for month in per_portal})
    if not months:
        return {"month": {"x": [], "series": []}, "year": {"x": [], "series": []}}
    months = _months(months[0], months[-1])
    years = sorted({month[:4] for month in months})
    month_series, year_series = [], []
    for portal, per_month in counts.items():
        month_series.append({
            "name": portal,
            "data": [per_month.get(month, 0) for month in months],
            "links": [url_with(SEARCH_PATH, {"portal": portal, **month_range(month)}) for month in months],
        })
        per_year = {year: sum(n for month, n in per_month.items() if month.startswith(year)) for year in years}
        year_series.append({
            "name": portal,
            "data": [per_year[year] for year in years],
            "links": [url_with(SEARCH_PATH, {"portal": portal, "since": f"{year}-01-01", "until": f"{year}-12-31"})
                      for year in years],
        })
    return {"month": {"x": months, "series": month_series}, "year": {"x": years, "series": year_series}}


def open_items_per_unit(db: sqlite_utils.Database) -> dict[str, Any]:
    rows = db.execute(f"select unit, open_items from open_items_per_unit limit {TOP_UNITS}").fetchall()
    return {"y": [unit for unit, _ in rows], "data": [count for _, count in rows],
            "links": [url_with(ITEMS_PATH, {"unit": unit, "open": "1"}) for unit, _ in rows]}


def items_by_status(db: sqlite_utils.Database, t) -> dict[str, Any]:
    """Items per status per month of their bulletin's publication."""
    counts: dict[str, dict[str, int]] = {}
    for month, status, count in db.execute(
        "select substr(b.published, 1, 7) as month, i.status, count(*) from items i "
        f"join bulletins b on b.url = i.bulletin_url where b.published glob '{_ISO_MONTH}' "
        "group by month, i.status"
    ):
        counts.setdefault(status, {})[month] = count
    months = sorted({month for per_status in counts.values() for month in per_status})
    series = [{
        "name": t(f"status_{status}"), "status": status,
        "data": [counts[status].get(month, 0) for month in months],
        "links": [url_with(ITEMS_PATH, {"status": status, "month": month}) for month in months],
    } for status in STATUSES if status in counts]
    return {"x": months, "series": series}


def chart_data(db: sqlite_utils.Database, t) -> dict[str, Any]:
    return {"bulletins": bulletins_per_period(db), "units": open_items_per_unit(db),
            "status": items_by_status(db, t),
            "labels": {"count": t("count"), "open_items": t("open_items"), "by_month": t("by_month"),
                       "by_year": t("by_year")}}


async def charts_view(datasette, request):
    archive = await served_archive(datasette)
    if archive is None:
        return await error_page(datasette, request, "no_archive", status=500)
    t = translator(request)
    data = await read(datasette, archive, lambda db: chart_data(db, t))
    return await render(datasette, request, "zwdc_charts.html", {"charts": data, "top_units": TOP_UNITS})
