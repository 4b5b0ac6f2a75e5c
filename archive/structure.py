"""Storing and querying the structure of bulletins: meetings, items and responsible units.

The rows of a bulletin are always replaced as a whole (delete, then insert, in one
transaction), so re-parsing a changed body never leaves stale or duplicated items behind.
The tables and views are declared in :mod:`archive.schema`; the parsing is the caller's
(:mod:`crawler.ingest` hands in :func:`pipelines.structure.parse_structure`'s result as plain
mappings).
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import sqlite_utils


def save_structure(
    db: sqlite_utils.Database,
    bulletin_url: str,
    meetings: Sequence[Mapping[str, Any]],
    items: Sequence[Mapping[str, Any]],
    *,
    new: bool = False,
    source: str | None = None,
) -> None:
    """Replace the meetings, items and item units one source of a bulletin gave.

    ``meetings``: ``date``, ``number``, ``kind``, ``heading``; ``items``: ``meeting_index``
    (into ``meetings``, or None), ``position``, ``section``, ``status``, ``subject``,
    ``documents`` and ``units`` (lists), ``progress``, ``group_heading``, optionally ``deadline``.
    ``source``: where they were read, the bulletin's page (its URL, the default) or one of its
    attachments (the attachment's URL); the rows of other sources stay.
    ``new``: the bulletin was just inserted, so it has no rows to replace yet.
    """
    source = source or bulletin_url
    if new and not meetings and not items:
        return
    with db.atomic():
        if not new:
            db.execute(
                "delete from item_units where item_id in"
                " (select id from items where bulletin_url = ? and source = ?)", [bulletin_url, source])
            db.execute("delete from items where bulletin_url = ? and source = ?", [bulletin_url, source])
            db.execute("delete from meetings where bulletin_url = ? and source = ?", [bulletin_url, source])
        execute = db.conn.execute  # sqlite-utils' own execute adds a step to each of a bulletin's many rows
        meeting_ids = [
            execute(
                "insert into meetings (bulletin_url, date, number, kind, heading, source) values (?, ?, ?, ?, ?, ?)",
                [bulletin_url, meeting["date"], meeting["number"], meeting["kind"], meeting["heading"], source],
            ).lastrowid
            for meeting in meetings
        ]
        units: list[tuple[int, str]] = []  # inserted at once, in the items' order
        for item in items:
            index = item["meeting_index"]
            item_id = execute(
                "insert into items (bulletin_url, meeting_id, position, section, status, subject,"
                " documents, progress, group_heading, source, deadline) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [bulletin_url, meeting_ids[index] if index is not None else None, item["position"],
                 item["section"], item["status"], item["subject"],
                 json.dumps(item["documents"], ensure_ascii=False), item["progress"], item["group_heading"],
                 source, item.get("deadline") or None],
            ).lastrowid
            units += [(item_id, unit) for unit in item["units"]]
        db.conn.executemany("insert or ignore into item_units (item_id, unit) values (?, ?)", units)

_ITEMS_SQL = """
select i.id, i.bulletin_url, b.published, b.portal, m.date as meeting_date, m.number as meeting_number,
       m.kind as meeting_kind, i.section, i.status, i.position, i.group_heading, i.subject,
       (select json_group_array(unit) from
          (select unit from item_units where item_id = i.id order by rowid)) as units,
       i.documents, i.progress, i.deadline, i.source
from items i
left join meetings m on m.id = i.meeting_id
left join bulletins b on b.url = i.bulletin_url
{where}
order by b.published, i.bulletin_url, i.source != i.bulletin_url, i.id
"""


def list_items(
    db: sqlite_utils.Database,
    *,
    unit: str | None = None,
    status: str | None = None,
    meeting_date: str | None = None,
    portal: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Items matching every given filter (unit name containing ``unit``, status, ISO meeting
    date, portal), oldest first.

    Each is a dict with ``units`` and ``documents`` as lists.
    """
    clauses: list[str] = []
    params: list[Any] = []
    if unit is not None:
        clauses.append("exists (select 1 from item_units u where u.item_id = i.id and instr(u.unit, ?) > 0)")
        params.append(unit)
    if status is not None:
        clauses.append("i.status = ?")
        params.append(status)
    if meeting_date is not None:
        clauses.append("m.date = ?")
        params.append(meeting_date)
    if portal is not None:
        clauses.append("b.portal = ?")
        params.append(portal)
    where = "where " + " and ".join(clauses) if clauses else ""
    for row in db.query(_ITEMS_SQL.format(where=where), params):
        row["units"] = json.loads(row["units"] or "[]")
        row["documents"] = json.loads(row["documents"] or "[]")
        yield row
