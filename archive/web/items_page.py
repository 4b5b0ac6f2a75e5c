"""``/-/items``: the supervision items parsed from the bulletins, filtered; the rows behind the
item charts.

Filters: ``unit`` (a unit's name matches that unit, as the charts and the items' unit links ask;
any other text the units containing it, as ``items --unit`` does), ``status``, ``month`` (``YYYY-MM`` of the
bulletin's publication) and ``open=1`` (open decisions as the view ``open_items_per_unit``
counts them: one row per decision still pending in the latest bulletin reporting it), so a
chart's bar and the page it links to give the same number.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from archive.web.common import (
    ITEMS_PATH, bulletin_page, error_page, read, render, served_archive, url_with,
)

PAGE_SIZE = 50
#: Item statuses (``items.status``), in the order they are shown.
STATUSES = ("pending", "mostly_done", "done", "other")
_MONTH = re.compile(r"\d{4}-\d{2}")

_SELECT = """
select i.id, i.bulletin_url, b.title as bulletin_title, b.published, m.date as meeting_date,
       m.number as meeting_number, m.kind as meeting_kind, i.section, i.status, i.subject,
       i.progress, i.documents, i.deadline, nullif(i.source, i.bulletin_url) as attachment_url,
       (select json_group_array(unit) from
          (select unit from item_units where item_id = i.id order by rowid)) as units
from items i
left join meetings m on m.id = i.meeting_id
left join bulletins b on b.url = i.bulletin_url
"""


@dataclass(frozen=True)
class ItemFilters:
    unit: str = ""
    status: str = ""
    month: str = ""
    open: bool = False

    @classmethod
    def from_args(cls, args) -> ItemFilters:
        """Raises ValueError (one line for the page) for a status or month that cannot match."""
        status = (args.get("status") or "").strip()
        month = (args.get("month") or "").strip()
        if status and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        if month and not _MONTH.fullmatch(month):
            raise ValueError(f"month must be YYYY-MM, not {month!r}")
        return cls((args.get("unit") or "").strip(), status, month, args.get("open") in ("1", "on", "true"))

    def where(self, known_unit: bool) -> tuple[str, list[Any]]:
        """SQL for the filters; ``known_unit``: ``unit`` names a unit (matched exactly, else contained)."""
        clauses, params = [], []
        unit = "unit = ?" if known_unit else "instr(unit, ?) > 0"
        if self.open:
            clauses.append(f"i.id in (select min(item_id) from open_items{' where ' + unit if self.unit else ''}"
                           " group by decision)")
            params += [self.unit] if self.unit else []
        if self.unit:
            clauses.append(f"exists (select 1 from item_units where item_id = i.id and {unit})")
            params.append(self.unit)
        if self.status:
            clauses.append("i.status = ?")
            params.append(self.status)
        if self.month:
            clauses.append("substr(b.published, 1, 7) = ?")
            params.append(self.month)
        return (" where " + " and ".join(clauses) if clauses else ""), params

    def params(self, **changes: object) -> dict[str, object]:
        params = {"unit": self.unit, "status": self.status, "month": self.month, "open": "1" if self.open else ""}
        params.update(changes)
        return params


def list_page(db: sqlite_utils.Database, filters: ItemFilters, page: int) -> dict[str, Any]:
    known_unit = bool(filters.unit) and db.execute(
        "select 1 from item_units where unit = ? limit 1", [filters.unit]).fetchone() is not None
    where, params = filters.where(known_unit)
    total = db.execute(
        "select count(*) from items i left join bulletins b on b.url = i.bulletin_url" + where, params
    ).fetchone()[0]
    rows = list(db.query(
        f"{_SELECT}{where} order by b.published desc, i.bulletin_url, i.position, i.id "
        f"limit {PAGE_SIZE} offset {(page - 1) * PAGE_SIZE}", params))
    for row in rows:
        row["units"] = [{"name": unit, "url": url_with(ITEMS_PATH, filters.params(unit=unit))}
                        for unit in json.loads(row["units"] or "[]")]
        row["documents"] = [d for d in json.loads(row["documents"] or "[]") if isinstance(d, str)]
        row["bulletin_page"] = bulletin_page(row["bulletin_url"])
    units = [unit for (unit,) in db.execute("select distinct unit from item_units order by unit")]
    return {"total": total, "rows": rows, "units": units}


async def items_view(datasette, request):
    archive = await served_archive(datasette)
    if archive is None:
        return await error_page(datasette, request, "no_archive", status=500)
    try:
        filters = ItemFilters.from_args(request.args)
    except ValueError as error:
        return await error_page(datasette, request, "error", status=400, detail=str(error))
    try:
        page = max(1, int(request.args.get("page") or 1))
    except ValueError:
        page = 1
    found = await read(datasette, archive, lambda db: list_page(db, filters, page))
    pages = max(1, -(-found["total"] // PAGE_SIZE))
    return await render(datasette, request, "zwdc_items.html", {
        **found, "filters": filters, "statuses": STATUSES, "page": page, "pages": pages,
        "first_number": (page - 1) * PAGE_SIZE + 1,
        "prev_url": url_with(ITEMS_PATH, filters.params(page=page - 1)) if page > 1 else None,
        "next_url": url_with(ITEMS_PATH, filters.params(page=page + 1)) if page < pages else None,
    })
